/**
 * YAML with positions: parse a file once, keep the document and a line counter, and map a key
 * path (as zod reports it) back to the line and column a user should look at.
 */
import { isMap, isPair, isScalar, isSeq, isAlias, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import { CorralError } from "../errors.js";
import { findTooDeep, MAX_NESTING_DEPTH, shortPath } from "../plan/limits.js";
import { floatTags } from "../plan/serialize.js";
import { getPath, isConfigMap, splitPath } from "../plan/configpath.js";
import type { ConfigMap } from "../plan/types.js";
import { readFileSync } from "node:fs";

/** A parsed YAML file that remembers where everything came from. */
export interface YamlSource {
  /** File name as shown in messages. */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The plain JS value (`null` for an empty file). */
  value: unknown;
}

/** 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

/**
 * Parse YAML text. Syntax errors, duplicate keys, several documents and unresolved aliases
 * become one `E_CONFIG` error: `file:line:column: <parser message>`. Floats (`0.0`, `1e3`,
 * `.inf`) are read as ConfigFloat, so that a config keeps them floats; settings are read through
 * `withoutFloats` (plan/float.ts).
 */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    // merge: YAML 1.1 `<<:` merge keys are common in hand-written configs.
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true, customTags: floatTags });
  } catch (e) {
    // The yaml composer recurses once per level; it reports most overflows as errors, not all.
    if (e instanceof RangeError) throw tooDeep(file, undefined);
    throw e;
  }
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    let message = err.message.split("\n")[0]!;
    if (/call stack/i.test(message)) throw tooDeep(file, { line: pos.line, column: pos.col });
    if (err.code === "DUPLICATE_KEY") {
      // The error's range covers only the key's first character; read the key from the line.
      const m = /^(?:"([^"\n]*)"|'([^'\n]*)'|([^:\n]*?))\s*:(?:\s|$)/.exec(text.slice(err.pos[0]));
      const key = m ? (m[1] ?? m[2] ?? m[3]) : undefined;
      message = key ? `duplicate key '${key}'` : "duplicate key";
    } else if (err.code === "MULTIPLE_DOCS") {
      message = "the file holds more than one YAML document ('---'); use one";
    }
    throw new CorralError("E_CONFIG", `invalid YAML: ${message}`, {
      location: { file, line: pos.line, column: pos.col },
      hint: "check the indentation, brackets and quotes at that line (a value with ': ' or '#' needs quotes)",
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    if (e instanceof RangeError) throw tooDeep(file, undefined);
    // Unresolved aliases and alias bombs surface only here.
    throw new CorralError("E_CONFIG", `invalid YAML: ${(e as Error).message.split("\n")[0]}`, { location: { file }, hint: "define each &anchor before its *alias, and keep aliases few" });
  }
  const src = { file, text, doc, lineCounter, value };
  const deep = findTooDeep(value);
  if (deep) throw tooDeep(file, locate(src, deep), shortPath(deep));
  return src;
}

/** Deeper than MAX_NESTING_DEPTH: refused before a recursive reader or writer overflows. */
function tooDeep(file: string, pos: Position | undefined, key?: string): CorralError {
  return new CorralError("E_CONFIG", `the YAML nests more than ${MAX_NESTING_DEPTH} levels of maps and lists${key ? ` at '${key}'` : ""}`, {
    location: { file, ...(pos ? { line: pos.line, column: pos.column } : {}), ...(key ? { key } : {}) },
    hint: `keep configs under ${MAX_NESTING_DEPTH} levels deep; a generated config is better flattened or split into config groups`,
  });
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return undefined;
  return typeof key === "string" || typeof key === "number" ? String(key) : undefined;
}

/**
 * Where the node at `path` is written: the key of the last map entry on the path (or the item,
 * in a list). When the path leaves the document (a missing required key), the position of the
 * deepest part that exists. Undefined only for an empty document.
 */
export function locate(src: YamlSource, path: readonly PropertyKey[]): Position | undefined {
  const at = (node: { range?: [number, number, number] | null } | null | undefined): Position | undefined => {
    const off = node?.range?.[0];
    if (off === undefined) return undefined;
    const p = src.lineCounter.linePos(off);
    return { line: p.line, column: p.col };
  };
  let node: unknown = src.doc.contents;
  let best = at(node as Node | null);
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(src.doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) break;
      best = at(pair.key as Node | null) ?? at(pair.value as Node | null) ?? best;
      node = pair.value;
    } else if (isSeq(node)) {
      const idx = typeof seg === "number" ? seg : Number(seg);
      const item = Number.isInteger(idx) ? node.items[idx] : undefined;
      if (item === undefined) break;
      best = at(item as Node | null) ?? best;
      node = item;
    } else {
      break;
    }
  }
  return best;
}

/**
 * The `@package` directive of a config group file: a `# @package <pkg>` line in the comment
 * block at the top of the file (Hydra's header).
 */
export function packageHeader(text: string): string | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (!line.startsWith("#")) break;
    const m = /^#\s*@package\s+(\S+)\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The line where a config file writes a dotted key (`model.hidden` in conf/model/big.yaml, whose
 * content sits at the package `model`: its own `hidden`), for messages. Undefined when the file
 * cannot be read or does not write the key.
 */
export function configLineOf(): (file: string, key: string) => number | undefined {
  const cache = new Map<string, YamlSource | null>();
  return (file, key) => {
    if (file === "<command line>" || file === "command line") return undefined;
    let src = cache.get(file);
    if (src === undefined) {
      try {
        src = parseYamlSource(readFileSync(file, "utf8"), file);
      } catch {
        src = null;
      }
      cache.set(file, src);
    }
    if (!src) return undefined;
    const segs = splitPath(key);
    // The longest tail of the key that the file writes in full.
    for (let k = 0; k < segs.length; k++) {
      const tail = segs.slice(k);
      if (getPath(src.value as ConfigMap, tail) !== undefined) return locate(src, tail)?.line;
    }
    // A group of its defaults list (`- model: huge`, `- override hydra/job_logging: x`).
    const defaults = isConfigMap(src.value) ? src.value.defaults : undefined;
    if (Array.isArray(defaults)) {
      const group = (entry: string): string => entry.replace(/^(override|optional)\s+/, "").replace(/^\//, "").split("@")[0]!.trim();
      const i = defaults.findIndex((d) => (isConfigMap(d) ? Object.keys(d).some((k) => group(k) === key) : typeof d === "string" && group(d).split("/")[0] === key));
      if (i >= 0) return locate(src, ["defaults", i])?.line;
    }
    return undefined;
  };
}
