/**
 * The fenced code blocks of a Markdown page, with the `<!-- test: ... -->` annotations written
 * right before them, for test/e2e/docs.test.ts (which documents the annotation vocabulary).
 * Pure: text in, blocks out.
 */

export type Annotation =
  | { kind: "skip"; reason: string }
  | { kind: "output" }
  | { kind: "file"; path: string }
  | { kind: "fragment" }
  | { kind: "given"; paths: string[] }
  | { kind: "project"; dir: string }
  | { kind: "slurm" }
  | { kind: "omit"; prefix: string; reason: string };

export interface DocBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string, first word, lower-cased ("" when none). */
  lang: string;
  text: string;
  annotations: Annotation[];
}

/** One command line of a shell block. */
export interface ShellLine {
  line: number;
  /** The command as bash runs it (a trailing comment removed). */
  cmd: string;
  /** The exit status the page promises: `# exit N` at the end of the line, else 0. */
  exit: number;
}

const ANNOTATION = /^<!--\s*test:\s*(.*?)\s*-->$/;

/** `(reason)` at the end of an annotation's argument, and what comes before it. */
function withReason(rest: string): { head: string; reason: string } {
  const m = /^(.*?)\s*\((.+)\)$/.exec(rest);
  return m ? { head: m[1]!, reason: m[2]! } : { head: rest, reason: "" };
}

export function parseAnnotation(body: string): Annotation {
  const [word = "", ...restWords] = body.split(/\s+/);
  const rest = restWords.join(" ");
  switch (word) {
    case "skip": {
      const reason = rest.replace(/^\((.*)\)$/, "$1").trim();
      if (!reason) throw new Error("`test: skip` needs a reason");
      return { kind: "skip", reason };
    }
    case "output":
      return { kind: "output" };
    case "fragment":
      return { kind: "fragment" };
    case "slurm":
      return { kind: "slurm" };
    case "file":
      if (!rest) throw new Error("`test: file` needs a path");
      return { kind: "file", path: rest };
    case "project":
      if (!rest) throw new Error("`test: project` needs a folder");
      return { kind: "project", dir: rest };
    case "given":
      if (!rest) throw new Error("`test: given` needs paths");
      return { kind: "given", paths: rest.split(/\s+/) };
    case "omit": {
      const { head, reason } = withReason(rest);
      if (!head || !reason) throw new Error("`test: omit` needs a line prefix and a (reason)");
      return { kind: "omit", prefix: head, reason };
    }
    default:
      throw new Error(`unknown annotation 'test: ${body}'`);
  }
}

/** Every fenced block of `markdown`, with the annotations on the lines just before it. */
export function parseBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split("\n");
  const blocks: DocBlock[] = [];
  let pending: Annotation[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    const ann = ANNOTATION.exec(trimmed);
    if (ann) {
      try {
        pending.push(parseAnnotation(ann[1]!));
      } catch (e) {
        throw new Error(`line ${i + 1}: ${(e as Error).message}`);
      }
      continue;
    }
    const fence = /^(\s*)(```+|~~~+)\s*([^\s`]*)/.exec(raw);
    if (!fence) {
      if (trimmed !== "") pending = [];
      continue;
    }
    const [, indent, marker, info] = fence;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(marker!) && l.trim().replace(/[`~]/g, "") === "") break;
      body.push(indent && l.startsWith(indent!) ? l.slice(indent!.length) : l);
    }
    if (j >= lines.length) throw new Error(`line ${i + 1}: code block never closed`);
    blocks.push({ line: i + 1, lang: (info ?? "").toLowerCase(), text: body.join("\n") + "\n", annotations: pending });
    pending = [];
    i = j;
  }
  if (pending.length > 0) throw new Error("an annotation at the end of the page annotates no block");
  return blocks;
}

/** The command lines of a shell block: `$ ` prompts (console) or every line (bash/sh). */
export function shellLines(block: DocBlock): ShellLine[] {
  const out: ShellLine[] = [];
  const console = block.lang === "console" || block.text.split("\n").some((l) => l.startsWith("$ "));
  const lines = block.text.split("\n");
  for (let k = 0; k < lines.length; k++) {
    let l = lines[k]!;
    if (console) {
      if (!l.startsWith("$ ")) continue;
      l = l.slice(2);
    }
    const { cmd, comment } = splitComment(l);
    if (cmd.trim() === "") continue;
    const exit = /^exit (\d+)\b/.exec(comment.trim());
    out.push({ line: block.line + 1 + k, cmd: cmd.trim(), exit: exit ? Number(exit[1]) : 0 });
  }
  return out;
}

/** A shell line and its trailing `# comment` (a `#` outside quotes, after a space). */
export function splitComment(l: string): { cmd: string; comment: string } {
  let quote: string | undefined;
  for (let i = 0; i < l.length; i++) {
    const c = l[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "#" && (i === 0 || /\s/.test(l[i - 1]!))) return { cmd: l.slice(0, i), comment: l.slice(i + 1) };
  }
  return { cmd: l, comment: "" };
}
