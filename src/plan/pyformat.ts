/**
 * Spells values and overrides back the way Hydra spells per-job overrides
 * (`Override._get_value_element_as_str`): `null`, `True`/`False`, floats as Python's repr,
 * `[a,b]`, `{a:1}`, quoted strings with their quotes. Plain strings are escaped (or quoted when
 * escaping is not enough) so that the spelling re-parses to the same value. PURE.
 */
import { ESCAPABLE, isSweepValue, pyFloatRepr, tryParseValue } from "./overrides.js";
import type { ElementValue, Override, QuotedString, SweepValue } from "./types.js";

export { pyFloatRepr };

/** Spells a Python int held in a JS number (no exponent form for large values). */
function formatInt(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}

/** `'text'` with Hydra's quoting rule: backslashes before a quote (or the closing one) are doubled. */
export function withQuotes(q: QuotedString): string {
  const { text, quote } = q;
  let out = quote;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === "\\") {
      let n = 0;
      while (text[i + n] === "\\") n++;
      const next = text[i + n];
      out += "\\".repeat(next === undefined || next === quote ? 2 * n : n);
      i += n;
      continue;
    }
    out += c === quote ? `\\${c}` : c;
    i++;
  }
  return out + quote;
}

/** Backslash-escapes Hydra's special characters, leaving `${...}` interpolations intact. */
export function escapeString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; ) {
    if (s[i] === "$" && s[i + 1] === "{") {
      const close = s.indexOf("}", i + 2);
      if (close > i + 2) {
        out += s.slice(i, close + 1);
        i = close + 1;
        continue;
      }
    }
    const c = s[i]!;
    out += ESCAPABLE.includes(c) ? `\\${c}` : c;
    i++;
  }
  return out;
}

const SAFE_RE = /^[A-Za-z_][A-Za-z0-9_\-./]*$/;

/** Spells a plain (unquoted) string so that it re-parses to the same string. */
export function formatString(s: string): string {
  // Fast path for identifiers and paths that cannot be read as anything but a string.
  if (SAFE_RE.test(s) && !/^(?:true|false|null|inf|nan)$/i.test(s)) return s;
  const escaped = escapeString(s);
  if (escaped !== "" && tryParseValue(escaped) === s) return escaped;
  // Numbers-as-text, the empty string, non-ASCII and other characters the grammar rejects unquoted.
  return withQuotes({ kind: "quoted", text: s, quote: s.includes("'") && !s.includes('"') ? '"' : "'" });
}

/** Spells one value as Hydra spells it on a job's command line. */
export function formatValue(v: ElementValue): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return formatInt(v);
  if (typeof v === "string") return formatString(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(",")}]`;
  switch (v.kind) {
    case "float":
      return pyFloatRepr(v.value);
    case "quoted":
      return withQuotes(v);
    case "dict":
      return `{${v.entries.map(([k, x]) => `${escapeString(k)}:${formatValue(x)}`).join(",")}}`;
  }
}

/** The key part of an override as Hydra prints it: `+key`, `++key`, `~key`, `group@pkg`. */
export function keyElement(o: Pick<Override, "type" | "key" | "pkg">): string {
  const prefix = o.type === "add" ? "+" : o.type === "force_add" ? "++" : o.type === "delete" ? "~" : "";
  return prefix + o.key + (o.pkg !== undefined ? `@${o.pkg}` : "");
}

/** `key=value`, with the value spelled by formatValue. */
export function formatOverride(key: string, value: ElementValue): string {
  return `${key}=${formatValue(value)}`;
}

/** Spells a sweep back in the grammar: `a,b`, `choice(a,b)`, `range(0,10,2)`, `glob([a*],exclude=[b])`. */
export function formatSweep(s: SweepValue): string {
  let body: string;
  if (s.kind === "interval") {
    const n = (x: number): string => (s.int ? formatInt(x) : pyFloatRepr(x));
    body = `interval(${n(s.start)},${n(s.end)})`;
    if (s.int) body = `int(${body})`;
    if (s.tags?.length) body = `tag(${s.tags.map(formatString).join(",")},${body})`;
    return body;
  }
  if (s.kind === "choice") body = s.simpleForm && !s.sort && !s.shuffle ? s.values.map(formatValue).join(",") : `choice(${s.values.map(formatValue).join(",")})`;
  else if (s.kind === "range") {
    const n = (x: number): string => (s.float ? pyFloatRepr(x) : formatInt(x));
    body = `range(${n(s.start)},${n(s.stop)},${n(s.step)})`;
  } else {
    const list = (xs: string[]): string => `[${xs.map(formatString).join(",")}]`;
    body = `glob(${list(s.include)}${s.exclude.length ? `,exclude=${list(s.exclude)}` : ""})`;
  }
  if (s.sort) body = `sort(${body}${s.sort.reverse ? ",reverse=true" : ""})`;
  if (s.shuffle) body = `shuffle(${body}${s.shuffle.seed !== undefined ? `,seed=${s.shuffle.seed}` : ""})`;
  return body;
}

/** Spells a whole override term: `~key`, `key=value` or `key=<sweep>`. */
export function formatOverrideTerm(o: Override): string {
  const k = keyElement(o);
  if (o.value === undefined) return k;
  return `${k}=${isSweepValue(o.value) ? formatSweep(o.value) : formatValue(o.value)}`;
}
