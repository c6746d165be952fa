/**
 * Hydra 1.3 override grammar: a hand-written recursive-descent parser for command-line terms such
 * as `a.b=1`, `+a=[1,2]`, `~db`, `db@pkg=mysql`, `lr=0.1,0.01`, `seed=range(3)`.
 *
 * It follows Hydra's OverrideLexer.g4/OverrideParser.g4 (typed primitives, quoted strings,
 * escapes, interpolations kept as text, lists, dicts, functions) and evaluates the functions at
 * parse time as Hydra does (casts, sort, shuffle, choice, range, glob). PURE: no fs, env or clock.
 *
 * Value representation: a plain JS number is a Python int; floats are `{kind: "float", value}`
 * (see FloatValue in types.ts). `toConfigValue` converts an element to a ConfigValue, where a
 * whole float is a ConfigFloat (plan/float.ts).
 */
import { CorralError, didYouMean } from "../errors.js";
import { pyFloat, pyFloatRepr } from "./float.js";
import { MAX_NESTING_DEPTH } from "./limits.js";

export { pyFloatRepr };
import type {
  ConfigMap,
  ConfigValue,
  ElementValue,
  FloatValue,
  Override,
  OverrideType,
  QuotedString,
  SweepValue,
} from "./types.js";

/** Options for parsing. */
export interface ParseOptions {
  /**
   * Random source for `shuffle([list])` without a seed (evaluated at parse time).
   * @default Math.random
   */
  random?: () => number;
}

type Value = ElementValue | SweepValue;
type ChoiceSweep = Extract<SweepValue, { kind: "choice" }>;
type OrderedSweep = Exclude<SweepValue, { kind: "interval" }>;

const FILE = "<command line>";
const DEFAULT_HINT =
  "Quote a value with special characters (key='a b' or key=\"[x\"), or escape \\ ( ) [ ] { } : = , and spaces with a backslash; see Hydra's override grammar.";
const KEY_HINT = "Keys look like a.b, +a.b, ++a.b, ~a.b, group=option, server/db=option or group@pkg=option.";
const FUNCTIONS = ["choice", "range", "glob", "sort", "shuffle", "tag", "int", "float", "str", "bool", "interval"];

/** True for a SweepValue (choice/range/glob/interval), false for any ElementValue. */
export function isSweepValue(v: unknown): v is SweepValue {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const k = (v as { kind?: unknown }).kind;
  return k === "choice" || k === "range" || k === "glob" || k === "interval";
}

/** The message for an interval() where a grid needs a list of values (the basic sweep refuses it, as Hydra's does). */
export const INTERVAL_IN_GRID = "interval() is for continuous samplers such as Optuna; use range() or a list";

/** Builds a float element. */
export const float = (value: number): FloatValue => ({ kind: "float", value });

/** Parses one override term such as `a.b=1`, `+db=mysql` or `lr=0.1,0.01`. Throws CorralError E_OVERRIDE. */
export function parseOverride(text: string, opts: ParseOptions = {}): Override {
  return new Parser(text, opts).override();
}

/** Parses several override terms, in order. */
export function parseOverrides(texts: readonly string[], opts: ParseOptions = {}): Override[] {
  return texts.map((t) => parseOverride(t, opts));
}

/**
 * Parses the text of a value alone (what follows `key=`), or returns undefined when it does not
 * parse. Used to check that a spelled value round-trips.
 */
export function tryParseValue(text: string): Value | undefined {
  const p = new Parser(text, {});
  try {
    p.skipWs();
    return p.eof() ? "" : p.value();
  } catch {
    return undefined;
  }
}

/** Converts a parsed element to a config value (float -> pyFloat, quoted -> string, dict -> object). */
export function toConfigValue(el: ElementValue): ConfigValue {
  if (el === null || typeof el !== "object") return el;
  if (Array.isArray(el)) return el.map(toConfigValue);
  switch (el.kind) {
    case "float":
      return pyFloat(el.value);
    case "quoted":
      return el.text;
    case "dict": {
      // fromEntries defines own properties, so a `__proto__` key stays a plain key.
      return Object.fromEntries(el.entries.map(([k, v]) => [k, toConfigValue(v)])) as ConfigMap;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Character classes (Hydra's lexer, VALUE_MODE and DEFAULT_MODE)

const isAlpha = (c: string): boolean => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isDigit = (c: string): boolean => c >= "0" && c <= "9";
const isWs = (c: string | undefined): boolean => c === " " || c === "\t";
const isIdStart = (c: string | undefined): boolean => c !== undefined && (isAlpha(c) || c === "_");
/** Value-mode ID: letters, digits, `_` and `-` (`foo-bar_10`). */
const isIdChar = (c: string | undefined): boolean => c !== undefined && (isAlpha(c) || isDigit(c) || c === "_" || c === "-");
const UNQUOTED_CHARS = "/-\\+.$%*@?|";
/** Characters that `\` escapes in unquoted values. */
export const ESCAPABLE = "\\()[]{}:=, \t";
const isKeyChar = (c: string | undefined): boolean =>
  c !== undefined && (isAlpha(c) || isDigit(c) || c === "_" || c === "$" || c === "-" || c === "." || c === "/");

const INT_RE = /^[+-]?(?:0|[1-9](?:_?[0-9])*)$/;
const UINT = "(?:0|[1-9](?:_?[0-9])*)";
const POINT = `(?:${UINT}\\.|${UINT}?\\.[0-9](?:_?[0-9])*)`;
const FLOAT_RE = new RegExp(`^[+-]?(?:${POINT}|(?:${UINT}|${POINT})[eE][+-]?[0-9](?:_?[0-9])*|[Ii][Nn][Ff]|[Nn][Aa][Nn])$`);
const KEY_SPECIAL_RE = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
const ID_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const KEY_INT_RE = /^(?:0|[1-9](?:_?[0-9])*)$/;

/** Types an unquoted, unescaped primitive the way Hydra's lexer would (one INT/FLOAT/BOOL/NULL token). */
function typePrimitive(text: string): ElementValue {
  const lower = text.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "null") return null;
  if (INT_RE.test(text)) return Number(text.replace(/_/g, ""));
  if (FLOAT_RE.test(text)) {
    const t = text.replace(/_/g, "").toLowerCase();
    const body = t.replace(/^[+-]/, "");
    if (body === "inf") return float(t.startsWith("-") ? -Infinity : Infinity);
    if (body === "nan") return float(NaN);
    return float(Number(t));
  }
  return text;
}

// ---------------------------------------------------------------------------------------------

class Parser {
  pos = 0;
  /** Open lists, dicts and calls around `pos`: the parser recurses once per level. */
  depth = 0;
  /** The override's key, once parsed, for messages. */
  key_: string | undefined;
  constructor(
    readonly s: string,
    readonly opts: ParseOptions,
  ) {}

  fail(msg: string, at: number = this.pos, hint: string = DEFAULT_HINT): never {
    const column = at + 1;
    throw new CorralError("E_OVERRIDE", `${this.s}: ${msg} at column ${column}`, {
      location: { file: FILE, column },
      hint,
    });
  }

  peek(): string | undefined {
    return this.s[this.pos];
  }

  eof(): boolean {
    return this.pos >= this.s.length;
  }

  skipWs(): void {
    while (isWs(this.s[this.pos])) this.pos++;
  }

  describe(c: string | undefined): string {
    return c === undefined ? "end of input" : `'${c}'`;
  }

  override(): Override {
    let type: OverrideType = "change";
    if (this.s.startsWith("~")) {
      type = "delete";
      this.pos = 1;
    } else if (this.s.startsWith("++")) {
      type = "force_add";
      this.pos = 2;
    } else if (this.s.startsWith("+")) {
      type = "add";
      this.pos = 1;
    }
    const { key, pkg } = this.key();
    this.key_ = key;
    const base = { type, key, ...(pkg !== undefined ? { pkg } : {}), input: this.s };
    if (this.eof()) {
      if (type === "delete") return { ...base, isSweep: false };
      this.fail(`expected '=' after '${key}'`, this.pos, "Write key=value; only ~key may stand alone.");
    }
    if (this.peek() !== "=") this.fail(`unexpected ${this.describe(this.peek())} in key; expected '='`, this.pos, KEY_HINT);
    this.pos++;
    this.skipWs();
    // `key=` is the empty string, as in Hydra.
    const value: Value = this.eof() ? "" : this.value();
    return { ...base, value, isSweep: isSweepValue(value) };
  }

  key(): { key: string; pkg?: string } {
    const start = this.pos;
    while (isKeyChar(this.peek())) this.pos++;
    const key = this.s.slice(start, this.pos);
    if (key === "") {
      this.fail(this.eof() ? "missing key" : `unexpected ${this.describe(this.peek())} where a key was expected`, this.pos, KEY_HINT);
    }
    this.checkKey(key, start);
    if (this.peek() !== "@") return { key };
    this.pos++;
    const ps = this.pos;
    while (isKeyChar(this.peek()) && this.peek() !== "/") this.pos++;
    const pkg = this.s.slice(ps, this.pos);
    // An empty package (`group@=x`) is Hydra's spelling of the global package.
    if (pkg !== "") this.checkDotted(pkg, ps, "package");
    if (this.peek() === ":") this.fail("package renames (group@pkg1:pkg2) were removed in Hydra 1.1", this.pos, "Use group@pkg=option.");
    return { key, pkg };
  }

  checkKey(key: string, start: number): void {
    if (!key.includes("/")) return this.checkDotted(key, start, "key");
    let off = start;
    for (const seg of key.split("/")) {
      if (!ID_RE.test(seg)) {
        this.fail(seg === "" ? "empty config group name in key" : `invalid config group name '${seg}' in key`, off, KEY_HINT);
      }
      off += seg.length + 1;
    }
  }

  checkDotted(path: string, start: number, what: string): void {
    const segs = path.split(".");
    if (segs.length > MAX_NESTING_DEPTH) {
      this.fail(`the ${what} has ${segs.length} segments, more than ${MAX_NESTING_DEPTH}`, start, `keep keys under ${MAX_NESTING_DEPTH} levels deep`);
    }
    let off = start;
    for (const seg of segs) {
      const ok = KEY_SPECIAL_RE.test(seg) || (segs.length > 1 && KEY_INT_RE.test(seg));
      if (!ok) this.fail(seg === "" ? `empty segment in ${what}` : `invalid ${what} segment '${seg}'`, off, KEY_HINT);
      off += seg.length + 1;
    }
  }

  /** value: element | simpleChoiceSweep, up to the end of input. */
  value(): Value {
    const first = this.element(true);
    this.skipWs();
    let value: Value = first;
    if (this.peek() === ",") {
      const values: ElementValue[] = [this.noSweep(first, this.pos, "a comma-separated sweep")];
      while (this.peek() === ",") {
        this.pos++;
        this.skipWs();
        const at = this.pos;
        values.push(this.noSweep(this.element(true), at, "a comma-separated sweep"));
        this.skipWs();
      }
      value = { kind: "choice", values, simpleForm: true };
    }
    if (!this.eof()) this.unexpected();
    return value;
  }

  unexpected(): never {
    const c = this.peek();
    if (c === "]" || c === "}" || c === ")") this.fail(`unmatched '${c}'`);
    this.fail(`unexpected ${this.describe(c)}`);
  }

  noSweep(v: Value, at: number, where: string): ElementValue {
    if (isSweepValue(v)) this.fail(`a ${v.kind}() sweep cannot appear inside ${where}`, at);
    return v;
  }

  element(allowSweep: boolean): Value {
    this.skipWs();
    const c = this.peek();
    const at = this.pos;
    if (c === undefined) this.fail("expected a value");
    if (c === "[") return this.list();
    if (c === "{") return this.dict();
    if (c === "'" || c === '"') return this.quoted();
    if (isIdStart(c)) {
      const save = this.pos;
      while (isIdChar(this.peek())) this.pos++;
      const name = this.s.slice(save, this.pos);
      this.skipWs();
      if (this.peek() === "(") {
        const v = this.call(name, save);
        return allowSweep ? v : this.noSweep(v, at, "a list or dict");
      }
      this.pos = save;
    }
    return this.primitive(false);
  }

  quoted(): QuotedString {
    const start = this.pos;
    const q = this.s[this.pos] as "'" | '"';
    this.pos++;
    let out = "";
    for (;;) {
      if (this.eof()) this.fail(`unterminated ${q === "'" ? "single" : "double"}-quoted string`, start, `Close the string with ${q}.`);
      const ch = this.s[this.pos]!;
      if (ch === "\\") {
        // Backslashes only escape when they precede a quote: a run of n of them before the
        // quote character is halved, and an odd run escapes the quote itself (Hydra 1.1+).
        let n = 0;
        while (this.s[this.pos + n] === "\\") n++;
        if (this.s[this.pos + n] === q) {
          out += "\\".repeat(n >> 1);
          this.pos += n;
          if (n % 2 === 1) {
            out += q;
            this.pos++;
            continue;
          }
          this.pos++;
          break;
        }
        out += "\\".repeat(n);
        this.pos += n;
        continue;
      }
      this.pos++;
      if (ch === q) break;
      out += ch;
    }
    const after = this.pos;
    this.skipWs();
    const next = this.peek();
    if (next !== undefined && !",])}:".includes(next)) {
      this.fail(`unexpected ${this.describe(next)} after a quoted string`, next === undefined ? after : this.pos, "Quote the whole value, e.g. key='a b c'.");
    }
    return { kind: "quoted", text: out, quote: q };
  }

  /** An unquoted primitive (or a dict key): text up to a delimiter, escapes applied, outer whitespace trimmed. */
  primitive(dictKey: boolean): ElementValue {
    const start = this.pos;
    let out = "";
    let keepEnd = 0; // length of `out` up to the last character that is not strippable whitespace
    let plain = true; // no escapes or interpolations: may be typed as int/float/bool/null
    for (;;) {
      const c = this.peek();
      if (c === undefined) break;
      if (c === "\\") {
        const n = this.s[this.pos + 1];
        if (n !== undefined && ESCAPABLE.includes(n)) {
          out += n;
          keepEnd = out.length;
          plain = false;
          this.pos += 2;
          continue;
        }
        out += c; // a lone backslash is an ordinary character (`c:\foo`)
        keepEnd = out.length;
        this.pos++;
        continue;
      }
      if (c === "$" && this.s[this.pos + 1] === "{" && !dictKey) {
        const close = this.s.indexOf("}", this.pos + 2);
        if (close < 0 || close === this.pos + 2) {
          this.fail("unterminated interpolation '${'", this.pos, "Interpolations look like ${a.b} or ${oc.env:VAR,default}; quote nested ones.");
        }
        out += this.s.slice(this.pos, close + 1);
        keepEnd = out.length;
        plain = false;
        this.pos = close + 1;
        continue;
      }
      if (isWs(c)) {
        if (out.length === 0) {
          this.pos++;
          continue;
        }
        out += c;
        this.pos++;
        continue;
      }
      if (isAlpha(c) || isDigit(c) || c === "_" || UNQUOTED_CHARS.includes(c) || (c === ":" && !dictKey)) {
        out += c;
        keepEnd = out.length;
        this.pos++;
        continue;
      }
      if (",])}".includes(c) || (c === ":" && dictKey)) break;
      if ("([{".includes(c)) this.fail(`unexpected '${c}'`, this.pos, `Escape it as \\${c} or quote the value.`);
      if (c === "=") this.fail("unexpected '='", this.pos, "Escape it as \\= or quote the value.");
      if (c === "'" || c === '"') this.fail(`unexpected quote ${c} inside an unquoted value`, this.pos, "Quote the whole value, e.g. key='a b c'.");
      this.fail(`character '${c}' is not allowed in an unquoted value`, this.pos, "Quote the value, e.g. key='...'.");
    }
    const text = out.slice(0, keepEnd);
    if (text === "") this.fail(dictKey ? "expected a dict key" : "expected a value", start);
    if (dictKey || !plain) return text;
    return typePrimitive(text);
  }

  /** Enters one more level of brackets: past MAX_NESTING_DEPTH the input is refused, not overflowed. */
  nest(): void {
    if (++this.depth <= MAX_NESTING_DEPTH) return;
    throw new CorralError("E_OVERRIDE", `${this.key_ ?? "value"}: the value nests more than ${MAX_NESTING_DEPTH} levels of [ ], { } or ( ) (at column ${this.pos + 1})`, {
      location: { file: FILE, column: this.pos + 1, ...(this.key_ !== undefined ? { key: this.key_ } : {}) },
      hint: `keep values under ${MAX_NESTING_DEPTH} levels deep; put large structured values in a config file (config_dir or corral.yaml config:) instead of an override`,
    });
  }

  list(): ElementValue[] {
    this.nest();
    const items = this.listItems();
    this.depth--;
    return items;
  }

  listItems(): ElementValue[] {
    this.pos++;
    this.skipWs();
    const items: ElementValue[] = [];
    if (this.peek() === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.element(false) as ElementValue);
      this.skipWs();
      const c = this.peek();
      this.pos++;
      if (c === ",") continue;
      if (c === "]") return items;
      this.pos--;
      this.fail("expected ']' or ','");
    }
  }

  dict(): ElementValue {
    this.nest();
    const d = this.dictEntries();
    this.depth--;
    return d;
  }

  dictEntries(): ElementValue {
    this.pos++;
    this.skipWs();
    const entries: Array<[string, ElementValue]> = [];
    if (this.peek() === "}") {
      this.pos++;
      return { kind: "dict", entries };
    }
    for (;;) {
      this.skipWs();
      const key = this.primitive(true) as string;
      if (this.peek() !== ":") this.fail("expected ':' after a dict key");
      this.pos++;
      entries.push([key, this.element(false) as ElementValue]);
      this.skipWs();
      const c = this.peek();
      this.pos++;
      if (c === ",") continue;
      if (c === "}") return { kind: "dict", entries };
      this.pos--;
      this.fail("expected '}' or ','");
    }
  }

  /** function: ID '(' (argName? element (',' argName? element)*)? ')', evaluated at once. */
  call(name: string, at: number): Value {
    this.nest();
    const v = this.callArgs(name, at);
    this.depth--;
    return v;
  }

  callArgs(name: string, at: number): Value {
    this.pos++; // '('
    this.skipWs();
    const args: Value[] = [];
    const kwargs = new Map<string, Value>();
    if (this.peek() === ")") {
      this.pos++;
    } else {
      for (;;) {
        this.skipWs();
        const argStart = this.pos;
        let argName: string | undefined;
        if (isIdStart(this.peek())) {
          while (isIdChar(this.peek())) this.pos++;
          const id = this.s.slice(argStart, this.pos);
          this.skipWs();
          if (this.peek() === "=") {
            argName = id;
            this.pos++;
          } else {
            this.pos = argStart;
          }
        }
        const v = this.element(true);
        if (argName !== undefined) {
          if (kwargs.has(argName)) this.fail(`${name}() got argument '${argName}' twice`, argStart);
          kwargs.set(argName, v);
        } else {
          if (kwargs.size > 0) this.fail(`${name}(): positional argument follows keyword argument`, argStart);
          args.push(v);
        }
        this.skipWs();
        const c = this.peek();
        this.pos++;
        if (c === ",") continue;
        if (c === ")") break;
        this.pos--;
        this.fail("expected ')' or ','");
      }
    }
    return new FnCall(this, name, at, args, kwargs).evaluate();
  }
}

/** Evaluates one function call of the grammar (Hydra's grammar_functions). */
class FnCall {
  constructor(
    readonly p: Parser,
    readonly name: string,
    readonly at: number,
    readonly args: Value[],
    readonly kwargs: Map<string, Value>,
  ) {}

  fail(msg: string, hint?: string): never {
    return this.p.fail(`${this.name}(): ${msg}`, this.at, hint);
  }

  /** Binds positional and keyword arguments to parameter names, Python style. */
  bind(params: string[], varargs = false): { named: Map<string, Value>; rest: Value[] } {
    const named = new Map<string, Value>();
    const rest: Value[] = [];
    if (varargs) rest.push(...this.args);
    else {
      if (this.args.length > params.length) this.fail(`takes at most ${params.length} positional arguments, got ${this.args.length}`);
      this.args.forEach((a, i) => named.set(params[i]!, a));
    }
    for (const [k, v] of this.kwargs) {
      if (!params.includes(k)) {
        const dym = didYouMean(k, params);
        this.fail(`unexpected keyword argument '${k}'${dym ? ` (did you mean '${dym}'?)` : ""}`);
      }
      if (named.has(k)) this.fail(`got multiple values for argument '${k}'`);
      named.set(k, v);
    }
    return { named, rest };
  }

  element(v: Value, what: string): ElementValue {
    if (isSweepValue(v)) this.fail(`${what} cannot be a ${v.kind}() sweep`);
    return v;
  }

  evaluate(): Value {
    switch (this.name) {
      case "choice":
        return this.choice();
      case "range":
        return this.range();
      case "glob":
        return this.glob();
      case "sort":
        return this.sort();
      case "shuffle":
        return this.shuffle();
      case "tag":
        return this.tag();
      case "int":
      case "float":
      case "str":
      case "bool":
        return this.cast(this.name);
      case "interval":
        return this.interval();
      default: {
        const dym = didYouMean(this.name, FUNCTIONS);
        return this.p.fail(`unknown function '${this.name}'`, this.at, dym ? `Did you mean ${dym}()? To pass the text literally, escape the parenthesis: ${this.name}\\(...\\)` : `Known functions: ${FUNCTIONS.join(", ")}.`);
      }
    }
  }

  choice(): ChoiceSweep {
    this.bind([], true);
    if (this.args.length === 0) this.fail("needs at least one value");
    return { kind: "choice", values: this.args.map((a) => this.element(a, "a choice value")), simpleForm: false };
  }

  number(v: Value | undefined, what: string): { n: number; isFloat: boolean } | undefined {
    if (v === undefined) return undefined;
    if (typeof v === "number") return { n: v, isFloat: false };
    if (typeof v === "object" && v !== null && !Array.isArray(v) && v.kind === "float") return { n: v.value, isFloat: true };
    return this.fail(`${what} must be an int or a float`);
  }

  range(): SweepValue {
    const { named } = this.bind(["start", "stop", "step"]);
    let start = this.number(named.get("start"), "start");
    let stop = this.number(named.get("stop"), "stop");
    const step = this.number(named.get("step"), "step") ?? { n: 1, isFloat: false };
    if (start === undefined) return this.fail("missing argument 'start'");
    if (stop === undefined) {
      stop = start;
      start = { n: 0, isFloat: false };
    }
    if (step.n === 0) this.fail("step must not be zero");
    for (const v of [start, stop, step]) if (!Number.isFinite(v.n)) this.fail("bounds and step must be finite");
    const isFloat = start.isFloat || stop.isFloat || step.isFloat;
    return { kind: "range", start: start.n, stop: stop.n, step: step.n, ...(isFloat ? { float: true } : {}) };
  }

  /** Hydra's interval(start, end): both bounds become floats (int(interval(...)) makes them ints). */
  interval(): SweepValue {
    const { named } = this.bind(["start", "end"]);
    const start = this.number(named.get("start"), "start");
    const end = this.number(named.get("end"), "end");
    if (start === undefined) return this.fail("missing argument 'start'");
    if (end === undefined) return this.fail("missing argument 'end'");
    return { kind: "interval", start: start.n, end: end.n };
  }

  strings(v: Value, what: string): string[] {
    const one = (x: ElementValue): string => {
      if (typeof x === "string") return x;
      if (typeof x === "object" && x !== null && !Array.isArray(x) && x.kind === "quoted") return x.text;
      return this.fail(`${what} must be a string or a list of strings`);
    };
    const el = this.element(v, what);
    return Array.isArray(el) ? el.map(one) : [one(el)];
  }

  glob(): SweepValue {
    const { named } = this.bind(["include", "exclude"]);
    const inc = named.get("include");
    if (inc === undefined) return this.fail("missing argument 'include'");
    const exc = named.get("exclude");
    return { kind: "glob", include: this.strings(inc, "include"), exclude: exc === undefined ? [] : this.strings(exc, "exclude") };
  }

  /** Shared shape of sort() and shuffle(): *args, sweep=, list=. */
  target(extra: string[]): { kind: "list"; list: ElementValue[] } | { kind: "sweep"; sweep: OrderedSweep } | { kind: "value"; value: ElementValue } {
    const { named, rest } = this.bind(["sweep", "list", ...extra], true);
    const sweep = named.get("sweep");
    const list = named.get("list");
    const given = (sweep !== undefined ? 1 : 0) + (list !== undefined ? 1 : 0) + (rest.length > 0 ? 1 : 0);
    if (given === 0) this.fail("needs a list, a sweep or values");
    if (given > 1) this.fail("takes either values, sweep= or list=, not several");
    if (sweep !== undefined) {
      if (!isSweepValue(sweep)) this.fail("sweep= must be a sweep such as choice(...) or range(...)");
      return { kind: "sweep", sweep: this.ordered(sweep) };
    }
    if (list !== undefined) {
      if (!Array.isArray(list)) this.fail("list= must be a list");
      return { kind: "list", list: [...list] };
    }
    if (rest.length > 1) return { kind: "sweep", sweep: { kind: "choice", values: rest.map((a) => this.element(a, "a value")), simpleForm: true } };
    const only = rest[0]!;
    if (isSweepValue(only)) return { kind: "sweep", sweep: this.ordered(only) };
    if (Array.isArray(only)) return { kind: "list", list: [...only] };
    return { kind: "value", value: only };
  }

  /** A copy of a sweep that sort()/shuffle() may order: an interval has no order (Hydra refuses it too). */
  ordered(s: SweepValue): OrderedSweep {
    if (s.kind === "interval") return this.fail("an interval() has no values to order");
    return { ...s };
  }

  bool(v: Value | undefined, what: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") this.fail(`${what} must be true or false`);
    return v;
  }

  sort(): Value {
    const t = this.target(["reverse"]);
    const reverse = this.bool(this.kwargs.get("reverse"), "reverse") ?? false;
    const cmp = (a: ElementValue, b: ElementValue): number => {
      const r = compareValues(a, b);
      if (r === undefined) this.fail(`cannot compare ${typeName(a)} with ${typeName(b)}`);
      return reverse ? -r : r;
    };
    if (t.kind === "value") return t.value;
    if (t.kind === "list") return t.list.sort(cmp);
    const s = t.sweep;
    // A sort outside a shuffle wins: the values end up sorted.
    delete s.shuffle;
    if (s.kind === "choice") s.values = [...s.values].sort(cmp);
    s.sort = { reverse };
    return s;
  }

  shuffle(): Value {
    const t = this.target(["seed"]);
    const seedV = this.kwargs.get("seed");
    if (seedV !== undefined && (typeof seedV !== "number" || !Number.isInteger(seedV))) this.fail("seed must be an integer");
    const seed = seedV as number | undefined;
    if (t.kind === "value") return t.value;
    if (t.kind === "list") {
      const rnd = seed !== undefined ? mulberry32(seed) : (this.p.opts.random ?? Math.random);
      return shuffleInPlace(t.list, rnd);
    }
    t.sweep.shuffle = { seed };
    return t.sweep;
  }

  tag(): Value {
    // Tags are metadata for optimizing sweepers; the basic sweep ignores them. Only an
    // interval keeps them: `log` is the one tag the Optuna sweeper reads, and only there.
    const { named, rest } = this.bind(["sweep"], true);
    const sweep = named.get("sweep") ?? rest[rest.length - 1];
    if (!isSweepValue(sweep)) return this.fail("needs a sweep as its last argument (or sweep=)");
    const tagArgs = named.has("sweep") ? rest : rest.slice(0, -1);
    const tags = tagArgs.map((t) => {
      if (typeof t === "string") return t;
      if (typeof t === "object" && t !== null && !Array.isArray(t) && t.kind === "quoted") return t.text;
      return this.fail("tags must be strings, e.g. tag(log, interval(1e-5, 1e-1))");
    });
    if (sweep.kind !== "interval") return sweep;
    return { ...sweep, tags: [...new Set(tags)] };
  }

  cast(to: "int" | "float" | "str" | "bool"): Value {
    const { named, rest } = this.bind(["value"], true);
    const value = named.get("value");
    if (value !== undefined && rest.length > 0) this.fail("takes either values or value=, not both");
    let v: Value;
    if (value !== undefined) v = value;
    else if (rest.length === 1) v = rest[0]!;
    else if (rest.length > 1) v = { kind: "choice", values: rest.map((a) => this.element(a, "a value")), simpleForm: true };
    else return this.fail("needs a value");
    const c = (x: ElementValue): ElementValue => castElement(x, to, (m) => this.fail(m));
    if (!isSweepValue(v)) return c(v);
    if (v.kind === "choice") return { ...v, values: v.values.map(c) };
    if (v.kind === "range") {
      if (to === "str" || to === "bool") this.fail("a range can only be cast to int or float");
      if (to === "float") return { ...v, float: true };
      const r = { ...v, start: Math.trunc(v.start), stop: Math.trunc(v.stop), step: Math.trunc(v.step) };
      delete r.float;
      if (r.step === 0) this.fail("step is zero after the cast to int");
      return r;
    }
    if (v.kind === "interval") {
      // Hydra's cast_interval: int() truncates both bounds (the Optuna sweeper then samples ints).
      if (to === "str" || to === "bool") this.fail(`an interval cannot be cast to ${to}`);
      if (to === "float") {
        const r = { ...v };
        delete r.int;
        return r;
      }
      return { ...v, start: Math.trunc(v.start), end: Math.trunc(v.end), int: true };
    }
    return this.fail("a glob cannot be cast");
  }
}

function typeName(v: ElementValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return v.kind === "float" ? "a float" : v.kind === "quoted" ? "a string" : "a dict";
  return typeof v === "number" ? "an int" : typeof v === "boolean" ? "a bool" : "a string";
}

/** Python-style ordering of two values, or undefined when Python would raise TypeError. */
function compareValues(a: ElementValue, b: ElementValue): number | undefined {
  const num = (v: ElementValue): number | undefined =>
    typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : typeof v === "object" && v !== null && !Array.isArray(v) && v.kind === "float" ? v.value : undefined;
  const str = (v: ElementValue): string | undefined =>
    typeof v === "string" ? v : typeof v === "object" && v !== null && !Array.isArray(v) && v.kind === "quoted" ? v.text : undefined;
  const na = num(a);
  const nb = num(b);
  if (na !== undefined && nb !== undefined) return na < nb ? -1 : na > nb ? 1 : 0;
  const sa = str(a);
  const sb = str(b);
  if (sa !== undefined && sb !== undefined) return sa < sb ? -1 : sa > sb ? 1 : 0;
  return undefined;
}

const PY_INT_RE = /^[+-]?[0-9](?:_?[0-9])*$/;
const PY_FLOAT_RE = /^[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$/;

/** Hydra's cast functions: recursive over lists and dict values. */
function castElement(x: ElementValue, to: "int" | "float" | "str" | "bool", fail: (m: string) => never): ElementValue {
  if (Array.isArray(x)) return x.map((e) => castElement(e, to, fail));
  if (x !== null && typeof x === "object" && x.kind === "dict") return { kind: "dict", entries: x.entries.map(([k, v]) => [k, castElement(v, to, fail)]) };
  const text = typeof x === "string" ? x : x !== null && typeof x === "object" && x.kind === "quoted" ? x.text : undefined;
  const f = x !== null && typeof x === "object" && x.kind === "float" ? x.value : undefined;
  switch (to) {
    case "int":
      if (x === null) return fail("cannot cast null to int");
      if (typeof x === "boolean") return x ? 1 : 0;
      if (typeof x === "number") return x;
      if (f !== undefined) {
        if (!Number.isFinite(f)) return fail(`cannot convert ${pyFloatRepr(f)} to an int`);
        return Math.trunc(f);
      }
      if (text !== undefined && PY_INT_RE.test(text.trim())) return Number(text.trim().replace(/_/g, ""));
      return fail(`invalid literal for int(): '${text}'`);
    case "float": {
      if (x === null) return fail("cannot cast null to float");
      if (typeof x === "boolean") return float(x ? 1 : 0);
      if (typeof x === "number") return float(x);
      if (f !== undefined) return float(f);
      const t = (text ?? "").trim();
      const lower = t.toLowerCase().replace(/^[+-]/, "");
      if (lower === "inf" || lower === "infinity") return float(t.startsWith("-") ? -Infinity : Infinity);
      if (lower === "nan") return float(NaN);
      if (PY_FLOAT_RE.test(t)) return float(Number(t.replace(/_/g, "")));
      return fail(`could not convert string to float: '${text}'`);
    }
    case "str":
      if (x === null) return "None";
      if (typeof x === "boolean") return x ? "true" : "false";
      if (typeof x === "number") return String(x);
      if (f !== undefined) return pyFloatRepr(f);
      return text!;
    case "bool":
      if (x === null) return fail("cannot cast null to bool");
      if (typeof x === "boolean") return x;
      if (typeof x === "number") return x !== 0;
      if (f !== undefined) return f !== 0;
      if (text!.toLowerCase() === "true") return true;
      if (text!.toLowerCase() === "false") return false;
      return fail(`cannot cast '${text}' to bool`);
  }
}

/** mulberry32: a tiny seeded PRNG, so `shuffle(..., seed=N)` gives the same order every time. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle with the given random source. */
export function shuffleInPlace<T>(arr: T[], random: () => number): T[] {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = arr[i]!;
    arr[i] = arr[j]!;
    arr[j] = t;
  }
  return arr;
}
