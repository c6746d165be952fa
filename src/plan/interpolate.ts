/**
 * OmegaConf-style interpolation: `${a.b}`, `${.sibling}`, `"run_${seed}"`, `${oc.env:VAR,default}`,
 * `${oc.select:key,default}`, `${oc.decode:text}`, `${now:%Y-%m-%d}`, and `\${` escapes.
 *
 * PURE: the environment and the clock come in through {@link InterpolationContext}.
 *
 * Deliberate differences from OmegaConf, for a JS/YAML tool:
 * - values spliced into a longer string are written the YAML/JSON way (`null`, `true`, `[1,2]`),
 *   not Python's `None`/`True`;
 * - `oc.env` always yields a string (or null for a `null` default): an unquoted default such as
 *   `8080` is taken as the text `8080` instead of being a type error; wrap in `oc.decode` for a number;
 * - `${now:...}` formats `ctx.now` in the local time zone of the process that resolves the config;
 * - `${hydra:...}` is kept as written: only the Hydra app knows its runtime values.
 */
import { parse as parseYaml } from "yaml";
import { CorralError } from "../errors.js";
import { deepClone, isConfigMap, splitPath } from "./configpath.js";
import { ConfigFloat, pyFloat, pyFloatRepr } from "./float.js";
import { MAX_INTERPOLATION_DEPTH, MAX_NESTING_DEPTH } from "./limits.js";
import type { ConfigMap, ConfigValue } from "./types.js";

/** What interpolations may read besides the config itself. */
export interface InterpolationContext {
  /** Environment for `${oc.env:VAR}` (inject `process.env` at the edge). */
  env: Record<string, string | undefined>;
  /** The instant `${now:FORMAT}` formats, in local time. */
  now: Date;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** A parsed template: literal text and interpolations in order. */
type Piece = string | Interp;
type Interp =
  | { kind: "ref"; key: Piece[]; text: string }
  | { kind: "resolver"; name: string; args: Arg[]; text: string };
interface Arg {
  pieces: Piece[];
  quoted: boolean;
}

class ParseError extends Error {}

/** Parsed templates by source text: the same strings recur across thousands of composed runs. */
const parseCache = new Map<string, Piece[]>();
const PARSE_CACHE_MAX = 20_000;

function parseTemplate(s: string): Piece[] {
  const hit = parseCache.get(s);
  if (hit) return hit;
  const p = new Parser(s);
  const pieces = p.pieces(() => false);
  if (p.pos < s.length) throw new ParseError(`unexpected '${s[p.pos]}' at position ${p.pos}`);
  if (parseCache.size >= PARSE_CACHE_MAX) parseCache.clear();
  parseCache.set(s, pieces);
  return pieces;
}

const RESOLVER_NAME = /[A-Za-z_][\w.]*:/y;

class Parser {
  pos = 0;
  /** `${` opened and not yet closed: the parser recurses once per level. */
  depth = 0;
  constructor(readonly s: string) {}

  /** Literal text and interpolations up to (not including) the point where `stop` says so. */
  pieces(stop: (ch: string) => boolean): Piece[] {
    const out: Piece[] = [];
    let lit = "";
    const s = this.s;
    while (this.pos < s.length) {
      const ch = s[this.pos]!;
      if (ch === "\\" && s.startsWith("${", this.pos + 1)) {
        lit += "${";
        this.pos += 3;
      } else if (ch === "\\" && s.startsWith("\\${", this.pos + 1)) {
        // `\\${x}`: an escaped backslash followed by a real interpolation.
        lit += "\\";
        this.pos += 2;
      } else if (ch === "$" && s[this.pos + 1] === "{") {
        if (lit) out.push(lit);
        lit = "";
        out.push(this.interp());
      } else if (stop(ch)) {
        break;
      } else {
        lit += ch;
        this.pos++;
      }
    }
    if (lit) out.push(lit);
    return out;
  }

  /** One `${...}`, with `pos` at the `$`. */
  interp(): Interp {
    if (++this.depth > MAX_NESTING_DEPTH) throw new ParseError(`interpolations nest more than ${MAX_NESTING_DEPTH} levels deep`);
    const ip = this.interpBody();
    this.depth--;
    return ip;
  }

  interpBody(): Interp {
    const start = this.pos;
    this.pos += 2;
    RESOLVER_NAME.lastIndex = this.pos;
    const m = RESOLVER_NAME.exec(this.s);
    if (m) {
      const name = m[0].slice(0, -1);
      this.pos += m[0].length;
      const args: Arg[] = [];
      this.skipSpace();
      if (this.s[this.pos] !== "}") {
        for (;;) {
          args.push(this.arg());
          const ch = this.s[this.pos];
          if (ch === ",") this.pos++;
          else if (ch === "}") break;
          else throw new ParseError(`unterminated interpolation '${this.s.slice(start)}'`);
        }
      }
      this.pos++; // the closing brace
      return { kind: "resolver", name, args, text: this.s.slice(start, this.pos) };
    }
    const key = this.pieces((ch) => ch === "}");
    if (this.s[this.pos] !== "}") throw new ParseError(`unterminated interpolation '${this.s.slice(start)}'`);
    this.pos++;
    return { kind: "ref", key, text: this.s.slice(start, this.pos) };
  }

  /** One resolver argument: quoted (may hold `${...}`) or bare text up to `,` or `}`. */
  arg(): Arg {
    this.skipSpace();
    const q = this.s[this.pos];
    if (q === "'" || q === '"') {
      this.pos++;
      const pieces: Piece[] = [];
      let lit = "";
      while (this.pos < this.s.length && this.s[this.pos] !== q) {
        const ch = this.s[this.pos]!;
        if (ch === "\\" && (this.s[this.pos + 1] === q || this.s[this.pos + 1] === "\\")) {
          lit += this.s[this.pos + 1];
          this.pos += 2;
        } else if (ch === "$" && this.s[this.pos + 1] === "{") {
          if (lit) pieces.push(lit);
          lit = "";
          pieces.push(this.interp());
        } else {
          lit += ch;
          this.pos++;
        }
      }
      if (this.s[this.pos] !== q) throw new ParseError(`unterminated quoted argument in '${this.s}'`);
      this.pos++;
      if (lit) pieces.push(lit);
      this.skipSpace();
      return { pieces, quoted: true };
    }
    const pieces = this.pieces((ch) => ch === "," || ch === "}");
    // Bare arguments are trimmed, as OmegaConf ignores whitespace around them.
    const first = pieces[0];
    if (typeof first === "string") pieces[0] = first.trimStart();
    const last = pieces[pieces.length - 1];
    if (typeof last === "string") pieces[pieces.length - 1] = last.trimEnd();
    return { pieces: pieces.filter((p) => p !== ""), quoted: false };
  }

  skipSpace(): void {
    while (this.s[this.pos] === " " || this.s[this.pos] === "\t") this.pos++;
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution

/**
 * Resolve every interpolation in `config` and return a new tree (the input is not mutated).
 * Throws `CorralError("E_INTERPOLATION")` with `location.key` set to the dotted path of the value
 * whose interpolation failed: on a missing key, a cycle (the message names the chain), a missing
 * environment variable without default, an unknown resolver or a malformed `${...}`.
 *
 * Only strings that contain `${` are parsed; parsed templates are cached across calls.
 */
export function resolveInterpolations(config: ConfigMap, ctx: InterpolationContext, file = "config"): ConfigMap {
  return new Resolver(config, ctx, file).all();
}

/**
 * Resolve the interpolations of `value` against `config` (already resolved), as if `value` lived
 * at the dotted key `at` of `file`: `${lr}` reads `config.lr`, and a whole-string `${models}`
 * gives the list itself. Errors name `at`. For values outside the config (a rule's params).
 */
export function resolveAgainst(value: ConfigValue, config: ConfigMap, ctx: InterpolationContext, file: string, at: string): ConfigValue {
  return new Resolver(config, ctx, file).value(value, at.split("."));
}

class Resolver {
  /** Resolved values of interpolated strings, by dotted path. */
  private readonly memo = new Map<string, ConfigValue>();
  /** Paths being resolved right now, in order, for cycle messages. */
  private readonly stack: string[] = [];
  private readonly active = new Set<string>();
  /**
   * Per entry of `stack`: the longest chain of interpolations met below it so far. With `links`
   * (the same, for finished memoized values) it makes the chain limit independent of key order:
   * `a2: ${a1}` after `a1: ${a0}` counts two links whether or not a1 was resolved first.
   */
  private readonly below: number[] = [];
  private readonly links = new Map<string, number>();

  constructor(
    private readonly root: ConfigMap,
    private readonly ctx: InterpolationContext,
    private readonly file: string,
  ) {}

  all(): ConfigMap {
    return this.node(this.root, []) as ConfigMap;
  }

  value(v: ConfigValue, segs: string[]): ConfigValue {
    return this.node(v, segs);
  }

  /** A resolved copy of `value`, which lives at `segs`. */
  private node(value: ConfigValue, segs: string[]): ConfigValue {
    if (typeof value === "string") return value.includes("${") ? this.str(value, segs) : value;
    if (Array.isArray(value)) return value.map((v, i) => this.node(v, [...segs, String(i)]));
    if (isConfigMap(value)) {
      const out: ConfigMap = {};
      for (const k of Object.keys(value)) out[k] = this.node(value[k]!, [...segs, k]);
      return out;
    }
    return value;
  }

  /** The resolved value of the interpolated string `s` at `segs` (memoized, cycle-checked). */
  private str(s: string, segs: string[]): ConfigValue {
    const path = segs.join(".");
    if (this.memo.has(path)) {
      this.reached(this.links.get(path) ?? 1, path);
      return deepClone(this.memo.get(path)!);
    }
    this.enter(path);
    let pieces: Piece[];
    try {
      pieces = parseTemplate(s);
    } catch (e) {
      if (e instanceof ParseError) throw this.error(path, `Invalid interpolation '${s.length > 200 ? `${s.slice(0, 200)}...` : s}': ${e.message}`);
      throw e;
    }
    const result = this.evalPieces(pieces, segs, path);
    this.links.set(path, this.leave(path));
    this.memo.set(path, result);
    return deepClone(result);
  }

  private enter(path: string): void {
    if (this.active.has(path)) {
      const from = this.stack.indexOf(path);
      const chain = [...this.stack.slice(from), path].map((p) => p || "<root>").join(" -> ");
      throw this.error(this.stack[this.stack.length - 1] ?? path, `Interpolation cycle: ${chain}`);
    }
    this.reached(1, path);
    this.active.add(path);
    this.stack.push(path);
    this.below.push(0);
  }

  /**
   * A value `n` links deep was met under the current stack: refuse a chain longer than the limit
   * (resolution recurses once per link and would overflow the stack; `a: ${b}`, `b: ${c}`, ...).
   */
  private reached(n: number, path: string): void {
    if (this.stack.length + n > MAX_INTERPOLATION_DEPTH) {
      const links = [...this.stack, path].map((p) => p || "<root>");
      const chain = links.length > 4 ? [...links.slice(0, 2), "...", ...links.slice(-2)] : links;
      const more = n > 1 ? ` (which leads through ${n - 1} more)` : "";
      throw this.error(
        this.stack[0] ?? path,
        `Interpolation chain longer than ${MAX_INTERPOLATION_DEPTH} links: ${chain.join(" -> ")}${more}`,
        `an interpolation may lead through at most ${MAX_INTERPOLATION_DEPTH - 1} others in a row; refer to the final value directly`,
      );
    }
    const top = this.below.length - 1;
    if (top >= 0) this.below[top] = Math.max(this.below[top]!, n);
  }

  /** Leaves `path`; returns the length of the longest chain from it (itself included). */
  private leave(path: string): number {
    this.active.delete(path);
    this.stack.pop();
    const n = this.below.pop()! + 1;
    const top = this.below.length - 1;
    if (top >= 0) this.below[top] = Math.max(this.below[top]!, n);
    return n;
  }

  /** A whole-string single interpolation keeps its type; anything else concatenates to a string. */
  private evalPieces(pieces: Piece[], segs: string[], path: string): ConfigValue {
    if (pieces.length === 1 && typeof pieces[0] !== "string") return this.evalInterp(pieces[0]!, segs, path);
    let out = "";
    for (const p of pieces) out += typeof p === "string" ? p : toText(this.evalInterp(p, segs, path));
    return out;
  }

  private evalInterp(ip: Interp, segs: string[], path: string): ConfigValue {
    if (ip.kind === "ref") {
      const key = toText(this.evalPieces(ip.key, segs, path)).trim();
      if (key === "") throw this.error(path, `Empty interpolation key in '${ip.text}'`);
      return this.lookup(key, segs, path, ip.text, false).value;
    }
    switch (ip.name) {
      case "oc.env":
        return this.env(ip, segs, path);
      case "oc.select": {
        if (ip.args.length < 1 || ip.args.length > 2) throw this.error(path, `${ip.text}: oc.select takes a key and an optional default`);
        const key = toText(this.evalArg(ip.args[0]!, segs, path));
        const found = this.lookup(key, segs, path, ip.text, true);
        if (found.found) return found.value;
        return ip.args[1] ? this.evalArg(ip.args[1], segs, path) : null;
      }
      case "oc.decode": {
        if (ip.args.length !== 1) throw this.error(path, `${ip.text}: oc.decode takes one argument`);
        const v = this.evalArg(ip.args[0]!, segs, path);
        return typeof v === "string" ? this.decode(v, segs, path, ip.text) : v;
      }
      case "now": {
        const fmt = ip.args.map((a) => toText(this.evalArg(a, segs, path))).join(",");
        return strftime(fmt || "%Y-%m-%d_%H-%M-%S", this.ctx.now);
      }
      case "hydra":
        // Hydra's runtime values (`${hydra:runtime.cwd}`, `${hydra:job.num}`) exist only inside the
        // app: kept as written, as Hydra keeps them in .hydra/config.yaml, for the app to resolve.
        return ip.text;
      default:
        throw this.error(path, `Unsupported interpolation resolver '${ip.name}' in '${ip.text}'`, "known resolvers: oc.env, oc.select, oc.decode, now, hydra (kept for the Hydra app)");
    }
  }

  private env(ip: Interp & { kind: "resolver" }, segs: string[], path: string): ConfigValue {
    if (ip.args.length < 1 || ip.args.length > 2) throw this.error(path, `${ip.text}: oc.env takes a variable name and an optional default`);
    const name = toText(this.evalArg(ip.args[0]!, segs, path));
    const v = this.ctx.env[name];
    if (v !== undefined) return v;
    const def = ip.args[1];
    if (!def) {
      throw this.error(path, `Environment variable '${name}' not found (in '${ip.text}')`, `set ${name} or give a default: \${oc.env:${name},default}`);
    }
    if (!def.quoted && def.pieces.length === 1 && def.pieces[0] === "null") return null;
    const d = this.evalArg(def, segs, path);
    if (d === null) return null;
    // Bare literals keep their spelling (`007` stays "007"), not their parsed value.
    if (!def.quoted && def.pieces.every((p) => typeof p === "string")) return def.pieces.join("");
    return toText(d);
  }

  /** An argument's value: quoted -> string; bare literal -> typed primitive; a lone `${}` keeps its type. */
  private evalArg(arg: Arg, segs: string[], path: string): ConfigValue {
    if (arg.quoted) {
      let out = "";
      for (const p of arg.pieces) out += typeof p === "string" ? p : toText(this.evalInterp(p, segs, path));
      return out;
    }
    if (arg.pieces.length === 1 && typeof arg.pieces[0] === "string") return parsePrimitive(arg.pieces[0]);
    return this.evalPieces(arg.pieces, segs, path);
  }

  /** `oc.decode`: a YAML flow value (number, bool, null, list, dict); interpolations inside resolve. */
  private decode(text: string, segs: string[], path: string, where: string): ConfigValue {
    let v: unknown;
    try {
      v = parseYaml(text);
    } catch (e) {
      throw this.error(path, `${where}: cannot decode '${text}': ${(e as Error).message.split("\n")[0]}`);
    }
    if (v === undefined) return null;
    return this.node(v as ConfigValue, segs);
  }

  /**
   * Find `key` (absolute `a.b`, or relative `.x` / `..x` from the node at `segs`) and return its
   * resolved value. Interpolations met on the way are resolved first, so `${a.b}` works when `a`
   * is itself `${other}`.
   */
  private lookup(key: string, segs: string[], path: string, text: string, soft: boolean): { found: boolean; value: ConfigValue } {
    let target: string[];
    if (key.startsWith(".")) {
      let dots = 0;
      while (key[dots] === ".") dots++;
      // `.x` is a sibling: one dot leaves the value itself, each further dot climbs one level.
      const up = segs.length - dots;
      if (up < 0) {
        if (soft) return { found: false, value: null };
        throw this.error(path, `Interpolation key '${key}' climbs above the config root (in '${text}')`);
      }
      target = [...segs.slice(0, up), ...splitPath(key.slice(dots))];
    } else {
      target = splitPath(key);
    }
    let node: ConfigValue = this.root;
    let resolved = false;
    for (let k = 0; k < target.length; k++) {
      if (!resolved && typeof node === "string" && node.includes("${")) {
        node = this.str(node, target.slice(0, k));
        resolved = true;
      }
      const seg = target[k]!;
      let next: ConfigValue | undefined;
      if (Array.isArray(node)) next = /^\d+$/.test(seg) ? node[Number(seg)] : undefined;
      else if (isConfigMap(node)) next = Object.prototype.hasOwnProperty.call(node, seg) ? node[seg] : undefined;
      if (next === undefined) {
        if (soft) return { found: false, value: null };
        throw this.error(path, `Interpolation key '${key}' not found (in '${text}')`, missingHint(node, target, k));
      }
      node = next;
    }
    if (resolved) return { found: true, value: node };
    if (node === "???") {
      if (soft) return { found: false, value: null };
      throw this.error(path, `Interpolation '${text}' refers to '${target.join(".")}', which is missing a mandatory value (???)`);
    }
    const tpath = target.join(".");
    if (typeof node === "string" || Array.isArray(node) || isConfigMap(node)) {
      if (typeof node === "string" && !node.includes("${")) return { found: true, value: node };
      // Containers are resolved under their own path so relative keys inside them stay correct;
      // entering the path makes a container that refers to itself a reported cycle.
      if (typeof node === "string") return { found: true, value: this.str(node, target) };
      this.enter(tpath);
      const v = this.node(node, target);
      this.leave(tpath);
      return { found: true, value: v };
    }
    return { found: true, value: node };
  }

  private error(path: string, message: string, hint?: string): CorralError {
    return new CorralError("E_INTERPOLATION", message, { hint, location: { file: this.file, key: path || undefined } });
  }
}

function missingHint(node: ConfigValue, target: string[], k: number): string | undefined {
  if (!isConfigMap(node)) return undefined;
  const keys = Object.keys(node);
  if (keys.length === 0) return undefined;
  const at = target.slice(0, k).join(".") || "the root";
  return `keys at ${at}: ${keys.slice(0, 12).join(", ")}${keys.length > 12 ? ", ..." : ""}`;
}

/** A bare resolver argument as a typed value: int, float, bool, null, or the text itself. */
function parsePrimitive(text: string): ConfigValue {
  if (text === "null") return null;
  const lower = text.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (/^[-+]?(\d[\d_]*)$/.test(text)) return Number(text.replace(/_/g, ""));
  if (/^[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?$/.test(text) && /\d/.test(text)) {
    const n = Number(text.replace(/_/g, ""));
    if (!Number.isNaN(n)) return pyFloat(n);
  }
  if (lower === "inf" || lower === "+inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan") return NaN;
  return text;
}

/**
 * How a value reads when spliced into a longer string: a float as Python's str() (`1.0`, `1e-05`,
 * as OmegaConf splices it), an int as itself, null and booleans the YAML way, lists and maps as JSON.
 */
export function toText(v: ConfigValue): string {
  if (typeof v === "string") return v;
  if (v === null) return "null";
  if (v instanceof ConfigFloat) return pyFloatRepr(v.value);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/**
 * A subset of C strftime over the local time of `d`: %Y %m %d %H %M %S %f (microseconds, from
 * the millisecond clock) %j %y %b %a %%. Unknown directives are kept as written.
 */
export function strftime(fmt: string, d: Date): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  return fmt.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case "Y":
        return String(d.getFullYear());
      case "y":
        return pad(d.getFullYear() % 100);
      case "m":
        return pad(d.getMonth() + 1);
      case "d":
        return pad(d.getDate());
      case "H":
        return pad(d.getHours());
      case "M":
        return pad(d.getMinutes());
      case "S":
        return pad(d.getSeconds());
      case "f":
        return pad(d.getMilliseconds() * 1000, 6);
      case "j": {
        const start = new Date(d.getFullYear(), 0, 1);
        const day = Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - start.getTime()) / 86_400_000) + 1;
        return pad(day, 3);
      }
      case "b":
        return MONTHS[d.getMonth()]!;
      case "a":
        return DAYS[d.getDay()]!;
      case "%":
        return "%";
      default:
        return all;
    }
  });
}
