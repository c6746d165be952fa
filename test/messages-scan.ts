/** Finding the message templates of `new CorralError(...)` in src/ (test/unit/messages-catalogue.test.ts). */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./helpers.js";

export interface Template {
  file: string;
  line: number;
  text: string;
  /** Top-level literal stretches (between `${...}`), with flags for whether they touch a placeholder. */
  segments: string[];
}

/** Every `new CorralError("E_...", <literal>` in src/, with its message literal split at `${...}`. */
export function corralErrorTemplates(dir = path.join(ROOT, "src")): Template[] {
  const out: Template[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|cts|mts)$/.test(e.name)) scan(p);
    }
  };
  const scan = (file: string): void => {
    const src = readFileSync(file, "utf8");
    const re = /new CorralError\(\s*(?:"E_[A-Z_]+"|[^,()]+\?\s*"E_[A-Z_]+"\s*:\s*"E_[A-Z_]+"|[a-z.]+)\s*,\s*([`"])/g;
    for (let m = re.exec(src); m; m = re.exec(src)) {
      const quote = m[1]!;
      const start = m.index + m[0].length;
      const line = src.slice(0, m.index).split("\n").length;
      const rel = path.relative(ROOT, file);
      if (quote === '"') {
        const end = src.indexOf('"', start);
        const text = src.slice(start, end);
        out.push({ file: rel, line, text, segments: [text] });
        continue;
      }
      // A template literal: walk it, skipping ${...} (which may nest templates and braces).
      const segments: string[] = [];
      let cur = "";
      let i = start;
      for (; i < src.length && src[i] !== "`"; i++) {
        if (src[i] === "\\") {
          cur += src[i + 1];
          i++;
        } else if (src[i] === "$" && src[i + 1] === "{") {
          segments.push(cur);
          cur = "";
          i = skipExpr(src, i + 2) - 1;
        } else cur += src[i];
      }
      segments.push(cur);
      out.push({ file: rel, line, text: src.slice(start, i), segments: segments.map((s, k) => (k === 0 ? s : `\u0000${s}`) + (k < segments.length - 1 ? "\u0000" : "")) });
    }
  };
  walk(dir);
  return out;
}

/** The index just after the `}` closing an expression that starts at `i` (inside `${`). */
function skipExpr(src: string, i: number): number {
  let depth = 1;
  while (i < src.length && depth > 0) {
    const c = src[i]!;
    if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (c === "`") {
      // A nested template: skip to its end, recursing into its own ${...}.
      i++;
      while (i < src.length && src[i] !== "`") {
        if (src[i] === "\\") i++;
        else if (src[i] === "$" && src[i + 1] === "{") i = skipExpr(src, i + 2) - 1;
        i++;
      }
    } else if (c === '"' || c === "'") {
      const q = c;
      i++;
      while (i < src.length && src[i] !== q) i += src[i] === "\\" ? 2 : 1;
    }
    i++;
  }
  return i;
}

/** Whole words of a literal stretch: a word cut by a neighbouring placeholder (marked \0) is dropped. */
function wholeWords(seg: string): string[] {
  const words = seg.split(/\s+/);
  if (words[0]?.startsWith("\u0000")) words.shift();
  if (words.at(-1)?.endsWith("\u0000")) words.pop();
  return words.filter((w) => w !== "");
}

/** The words a catalogue entry must contain for this template (empty: nothing literal to match). */
export function leadingWords(t: Template): string {
  const stretches = t.segments.map(wholeWords);
  const pick = stretches.find((w) => w.length >= 3) ?? stretches.reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
  return pick.slice(0, 4).join(" ");
}

