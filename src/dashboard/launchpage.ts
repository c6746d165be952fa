/**
 * How `corral ui` opens a browser without putting its token in a process argument (where any
 * user of the machine reads it with `ps`): it writes a small private HTML page that redirects to
 * the tokenized URL and hands the browser that page's file:// URL instead. Jupyter does the same
 * (its `jpserver-<pid>-open.html`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface LaunchPage {
  /** The page on disk (mode 0600, in a folder of mode 0700). */
  file: string;
  /** Its file:// URL: what the opener gets in argv. Carries no token. */
  url: string;
  /** Delete the page and its folder; safe to call twice. */
  remove(): void;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page's HTML: a script redirect, a meta refresh for no-script browsers, and a link. */
export function launchPageHtml(target: string): string {
  const attr = escapeHtml(target);
  // JSON.stringify alone would let `</script>` end the script: escape `<` as well.
  const js = JSON.stringify(target).replace(/</g, "\\u003c");
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="1;url=${attr}">
<title>Corral dashboard</title>
</head>
<body>
<p>Opening the Corral dashboard. If nothing happens, <a href="${attr}">open it here</a>.</p>
<script>window.location.replace(${js});</script>
</body>
</html>
`;
}

/** Write the redirect page to `target` in a fresh private folder under `tmpRoot`. */
export function writeLaunchPage(target: string, tmpRoot: string): LaunchPage {
  // mkdtemp makes the folder 0700; the page itself is 0600 and must not exist before (wx).
  const dir = mkdtempSync(path.join(tmpRoot, "corral-ui-"));
  const file = path.join(dir, "open.html");
  writeFileSync(file, launchPageHtml(target), { mode: 0o600, flag: "wx" });
  let removed = false;
  return {
    file,
    url: pathToFileURL(file).href,
    remove() {
      if (removed) return;
      removed = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
