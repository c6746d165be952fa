/**
 * Config values as JSON, without the YAML library (so `corral status` and friends start fast).
 * PURE.
 */
import { ConfigFloat, pyFloatRepr } from "./float.js";
import type { ConfigValue } from "./types.js";

/**
 * A config tree as JSON (JSON.stringify's layout), floats spelled as Python's json.dumps spells
 * them, so that `1.0` is read back as a float; non-finite floats as Python writes them too.
 */
export function configToJson(value: ConfigValue, indent = 2): string {
  const pad = (n: number): string => " ".repeat(indent * n);
  const nl = indent > 0 ? "\n" : "";
  const sep = indent > 0 ? ": " : ":";
  const write = (v: ConfigValue, depth: number): string => {
    if (v === null) return "null";
    if (v instanceof ConfigFloat) return jsonFloat(v.value);
    if (typeof v === "number") return Number.isInteger(v) ? JSON.stringify(v) : jsonFloat(v);
    if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      return `[${nl}${v.map((x) => pad(depth + 1) + write(x, depth + 1)).join(`,${nl}`)}${nl}${pad(depth)}]`;
    }
    const keys = Object.keys(v);
    if (keys.length === 0) return "{}";
    return `{${nl}${keys.map((k) => `${pad(depth + 1)}${JSON.stringify(k)}${sep}${write(v[k]!, depth + 1)}`).join(`,${nl}`)}${nl}${pad(depth)}}`;
  };
  return write(value, 0);
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  return pyFloatRepr(x);
}
