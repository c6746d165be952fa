/**
 * Wildcard file patterns in Snakemake's syntax: `results/{model}/{seed,\d+}.pt`.
 *
 * Semantics follow Snakemake's `io.regex`: a wildcard matches `.+` unless constrained (inline
 * `{name,regex}` beats the rule's `wildcard_constraints`), literal text matches itself, a wildcard
 * repeated in one pattern must take the same value (a regex back-reference), and a path matches
 * only when the whole of it matches. PURE: no fs.
 */
import { CorralError } from "../errors.js";

/** Default regex of an unconstrained wildcard (Snakemake's). */
export const DEFAULT_WILDCARD_REGEX = ".+";

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Escape every regex metacharacter so literal path text matches only itself. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** One `{...}` occurrence found in a pattern string. */
interface RawWildcard {
  name: string;
  constraint: string | undefined;
  start: number;
  end: number;
}

/**
 * Split a pattern into wildcard occurrences. A constraint may nest one level of braces, as in
 * Snakemake (`{w,a{3,5}}`); any other stray brace is an error, since it would silently turn
 * into a literal and never match what the author meant.
 */
function scanWildcards(source: string, where: string): RawWildcard[] {
  const out: RawWildcard[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === "}") {
      throw new CorralError("E_WORKFLOW", `${where}: unmatched '}' in pattern '${source}'`);
    }
    if (ch !== "{") {
      i++;
      continue;
    }
    let depth = 0;
    let j = i;
    for (; j < source.length; j++) {
      const c = source[j];
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (depth === 0) break;
      }
    }
    if (j >= source.length) {
      throw new CorralError("E_WORKFLOW", `${where}: unclosed '{' in pattern '${source}'`);
    }
    const body = source.slice(i + 1, j);
    const comma = body.indexOf(",");
    const name = (comma < 0 ? body : body.slice(0, comma)).trim();
    const constraint = comma < 0 ? undefined : body.slice(comma + 1).trim();
    if (!NAME_RE.test(name) || name === "__proto__") {
      throw new CorralError(
        "E_WORKFLOW",
        `${where}: bad wildcard '{${body}}' in pattern '${source}' (a name is letters, digits and _)`,
      );
    }
    if (constraint !== undefined) checkRegex(constraint, `${where}: wildcard '${name}' in '${source}'`);
    out.push({ name, constraint, start: i, end: j + 1 });
    i = j + 1;
  }
  return out;
}

function checkRegex(re: string, where: string): void {
  try {
    new RegExp(re);
  } catch (e) {
    throw new CorralError("E_WORKFLOW", `${where}: invalid regex '${re}': ${(e as Error).message}`);
  }
}

/**
 * A compiled pattern. Methods live on the prototype (no per-instance closures) because a
 * 100k-job DAG formats hundreds of thousands of paths.
 */
export class Pattern {
  /** The pattern text as written. */
  readonly source: string;
  /** Distinct wildcard names, in order of first occurrence. */
  readonly names: readonly string[];
  /** The regex each name is held to (inline, else rule constraint, else `.+`). */
  readonly constraints: readonly string[];
  /** Literal text before the first wildcard (the whole pattern when there is none). */
  readonly prefix: string;
  /** Literal text after the last wildcard ("" when there is none). */
  readonly suffix: string;
  /** Anchored matcher. */
  readonly regex: RegExp;
  /** Same pattern with every wildcard relaxed to `.+`, to explain constraint failures. */
  readonly relaxed: RegExp | undefined;
  /** literals[k] precedes occurrence k; literals has one more element than slots. */
  private readonly literals: string[];
  /** For each occurrence, its index into `names`. */
  private readonly slots: number[];

  constructor(source: string, ruleConstraints: Readonly<Record<string, string>> = {}, where = "pattern") {
    this.source = source;
    const raw = scanWildcards(source, where);
    const names: string[] = [];
    const constraints: string[] = [];
    const literals: string[] = [];
    const slots: number[] = [];
    let re = "^";
    let relaxed = "^";
    let constrained = false;
    let last = 0;
    for (const w of raw) {
      const lit = source.slice(last, w.start);
      literals.push(lit);
      re += escapeRegex(lit);
      relaxed += escapeRegex(lit);
      let idx = names.indexOf(w.name);
      if (idx >= 0) {
        // Repeated wildcard: must equal its first value (Snakemake emits (?P=name)).
        re += `\\k<${w.name}>`;
        relaxed += `\\k<${w.name}>`;
      } else {
        idx = names.length;
        const c = w.constraint ?? ruleConstraints[w.name] ?? DEFAULT_WILDCARD_REGEX;
        if (c !== DEFAULT_WILDCARD_REGEX) constrained = true;
        names.push(w.name);
        constraints.push(c);
        re += `(?<${w.name}>${c})`;
        relaxed += `(?<${w.name}>.+)`;
      }
      slots.push(idx);
      last = w.end;
    }
    literals.push(source.slice(last));
    re += escapeRegex(source.slice(last)) + "$";
    relaxed += escapeRegex(source.slice(last)) + "$";
    this.names = names;
    this.constraints = constraints;
    this.literals = literals;
    this.slots = slots;
    this.prefix = literals[0]!;
    this.suffix = slots.length === 0 ? "" : literals[literals.length - 1]!;
    // Flag "s" so `.+` also spans newlines: the DAG then rejects such values with a clear
    // message instead of reporting a confusing "no rule makes it".
    this.regex = new RegExp(re, "s");
    this.relaxed = constrained ? new RegExp(relaxed, "s") : undefined;
  }

  /** True when the pattern has no wildcard (a plain path). */
  get isLiteral(): boolean {
    return this.slots.length === 0;
  }

  /** Wildcard values when `path` matches the whole pattern, else null. */
  match(path: string): Record<string, string> | null {
    if (this.slots.length === 0) return path === this.prefix ? {} : null;
    if (!path.startsWith(this.prefix) || !path.endsWith(this.suffix)) return null;
    const m = this.regex.exec(path);
    if (m === null) return null;
    const out: Record<string, string> = {};
    const groups = m.groups!;
    for (const n of this.names) out[n] = groups[n]!;
    return out;
  }

  /**
   * The constraint this path breaks, if it matches the pattern only once every wildcard is
   * relaxed to `.+`. Used to turn "no rule makes X" into a message naming the wildcard.
   */
  violation(path: string): { wildcard: string; value: string; regex: string } | undefined {
    if (this.relaxed === undefined) return undefined;
    const m = this.relaxed.exec(path);
    if (m === null) return undefined;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i]!;
      const value = m.groups![name]!;
      const c = this.constraints[i]!;
      if (!new RegExp(`^(?:${c})$`, "s").test(value)) return { wildcard: name, value, regex: c };
    }
    return undefined;
  }

  /** The path for these wildcard values; every wildcard of the pattern must be given. */
  format(wildcards: Readonly<Record<string, string>>, where = "pattern"): string {
    let out = this.literals[0]!;
    for (let k = 0; k < this.slots.length; k++) {
      const name = this.names[this.slots[k]!]!;
      const v = wildcards[name];
      if (v === undefined) {
        throw new CorralError(
          "E_WORKFLOW",
          `${where}: no value for wildcard '${name}' in pattern '${this.source}'`,
        );
      }
      out += v + this.literals[k + 1]!;
    }
    return out;
  }
}

/** Compile a pattern (see {@link Pattern}); `where` prefixes error messages. */
export function compilePattern(
  source: string,
  ruleConstraints: Readonly<Record<string, string>> = {},
  where?: string,
): Pattern {
  return new Pattern(source, ruleConstraints, where);
}

/** The distinct wildcard names of a pattern string, without compiling a regex. */
export function wildcardNames(source: string, where = "pattern"): string[] {
  const names: string[] = [];
  for (const w of scanWildcards(source, where)) if (!names.includes(w.name)) names.push(w.name);
  return names;
}

/** One output pattern registered in a {@link PatternIndex}, with the owner's payload. */
export interface IndexEntry<T> {
  pattern: Pattern;
  value: T;
}

/** A match found by {@link PatternIndex.lookup}. */
export interface IndexMatch<T> {
  entry: IndexEntry<T>;
  wildcards: Record<string, string>;
}

/**
 * Finds the patterns that match a path without running every pattern's regex.
 *
 * Literal patterns sit in a hash map. Wildcard patterns are bucketed by their literal prefix
 * (text before the first wildcard): a lookup probes one map per distinct prefix length, which is
 * a handful in real workflows. Inside a bucket the literal suffix (usually the extension) is
 * checked with `endsWith` before any regex runs.
 */
export class PatternIndex<T> {
  private readonly literal = new Map<string, IndexEntry<T>[]>();
  private readonly byPrefix = new Map<number, Map<string, IndexEntry<T>[]>>();
  private prefixLengths: number[] = [];
  private readonly all: IndexEntry<T>[] = [];

  /** Register a pattern with its payload (for rules: rule index and output slot). */
  add(pattern: Pattern, value: T): void {
    const entry: IndexEntry<T> = { pattern, value };
    this.all.push(entry);
    if (pattern.isLiteral) {
      push(this.literal, pattern.prefix, entry);
      return;
    }
    const len = pattern.prefix.length;
    let m = this.byPrefix.get(len);
    if (m === undefined) {
      m = new Map();
      this.byPrefix.set(len, m);
      this.prefixLengths = [...this.byPrefix.keys()].sort((a, b) => a - b);
    }
    push(m, pattern.prefix, entry);
  }

  /** Every registered pattern that matches the whole path, in registration order. */
  lookup(path: string): IndexMatch<T>[] {
    const out: IndexMatch<T>[] = [];
    const lit = this.literal.get(path);
    if (lit !== undefined) for (const entry of lit) out.push({ entry, wildcards: {} });
    for (const len of this.prefixLengths) {
      if (len > path.length) break;
      const bucket = this.byPrefix.get(len)!.get(path.slice(0, len));
      if (bucket === undefined) continue;
      for (const entry of bucket) {
        const p = entry.pattern;
        if (path.length < len + p.suffix.length || !path.endsWith(p.suffix)) continue;
        const wc = p.match(path);
        if (wc !== null) out.push({ entry, wildcards: wc });
      }
    }
    if (out.length > 1) out.sort((a, b) => this.all.indexOf(a.entry) - this.all.indexOf(b.entry));
    return out;
  }

  /** Patterns that would match the path if their wildcard constraints were dropped. */
  violations(path: string): Array<{ entry: IndexEntry<T>; wildcard: string; value: string; regex: string }> {
    const out: Array<{ entry: IndexEntry<T>; wildcard: string; value: string; regex: string }> = [];
    for (const entry of this.all) {
      const v = entry.pattern.violation(path);
      if (v !== undefined) out.push({ entry, ...v });
    }
    return out;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}
