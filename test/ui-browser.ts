/**
 * What the dashboard's browser tests share: Debian's Chromium, headless, with the flags that keep
 * it quiet in a container; where screenshots go; and `corral ui` started on a project, resolved
 * with the URL (token included) it prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { CLI, ROOT } from "./helpers.js";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
/** Screenshots kept as test artifacts. */
export const SHOTS = path.join(ROOT, "test-results");

export interface StartedUi {
  proc: ChildProcess;
  /** The URL `corral ui` printed; rejects (with its stderr) when it exits first. */
  url: Promise<string>;
  /** The URL, its origin and its token. */
  ready: Promise<{ url: string; origin: string; token: string }>;
  stderr(): string;
}

/** `corral ui --no-open --port 0` in `cwd`. */
export function startUi(cwd: string): StartedUi {
  const proc = spawn(process.execPath, [CLI, "ui", "--no-open", "--port", "0"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const url = new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const line = out.split("\n").find((l) => l.startsWith("http"));
      if (line) resolve(line.trim());
    });
    proc.on("exit", (code) => reject(new Error(`corral ui exited ${code}: ${err}`)));
  });
  const ready = url.then((u) => ({ url: u, origin: new URL(u).origin, token: new URL(u).searchParams.get("token") ?? "" }));
  return { proc, url, ready, stderr: () => err };
}

/** Headless Chromium as every dashboard test starts it. */
export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

/** A dashboard page at `hash`, with the uncaught page errors it raises (a test expects none). */
export async function openPage(browser: Browser, origin: string, token: string, hash = "", viewport = { width: 1300, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport, acceptDownloads: true });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${origin}/?token=${token}${hash}`);
  return { page, errors };
}
