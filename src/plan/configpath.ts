/**
 * Dotted-path access to config trees (`a.b.0` indexes a list), OmegaConf-style merge, and a
 * deterministic serialization for content hashes. PURE: plain data in, plain data out.
 */
import { ConfigFloat, pyFloatRepr } from "./float.js";
import type { ConfigMap, ConfigValue } from "./types.js";

/** True for a plain mapping node (not a list, not null, not a float). */
export function isConfigMap(value: unknown): value is ConfigMap {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof ConfigFloat);
}

/**
 * Split a dotted key into segments. `a.b.0` -> `["a","b","0"]`; `a[0].b` is accepted too and
 * means the same as `a.0.b`. The empty key means the root and gives no segments.
 */
export function splitPath(dotted: string): string[] {
  if (dotted === "") return [];
  const src = dotted.includes("[") ? dotted.replace(/\[(\d+)\]/g, ".$1") : dotted;
  return src.split(".");
}

function childOf(node: ConfigValue | undefined, seg: string): ConfigValue | undefined {
  if (Array.isArray(node)) {
    const i = listIndex(seg, node.length);
    return i === undefined ? undefined : node[i];
  }
  if (isConfigMap(node)) return Object.prototype.hasOwnProperty.call(node, seg) ? node[seg] : undefined;
  return undefined;
}

/** A list index for `seg`, or undefined when `seg` is not a non-negative integer below `length`. */
function listIndex(seg: string, length: number): number | undefined {
  if (!/^\d+$/.test(seg)) return undefined;
  const i = Number(seg);
  return i < length ? i : undefined;
}

/** The value at `dotted`, or undefined when any segment is missing. `""` is the root. */
export function getPath(map: ConfigValue, dotted: string | string[]): ConfigValue | undefined {
  const segs = typeof dotted === "string" ? splitPath(dotted) : dotted;
  let node: ConfigValue | undefined = map;
  for (const seg of segs) {
    node = childOf(node, seg);
    if (node === undefined) return undefined;
  }
  return node;
}

/** True when `dotted` names an existing node (a `null` value exists). */
export function hasPath(map: ConfigValue, dotted: string | string[]): boolean {
  return getPath(map, dotted) !== undefined;
}

/**
 * Set `value` at `dotted`, creating missing intermediate mappings. Mutates `map`. Throws a plain
 * Error when an intermediate node is a scalar or a list index is out of range (callers turn it
 * into a CorralError with their own context).
 */
export function setPath(map: ConfigMap, dotted: string | string[], value: ConfigValue): void {
  const segs = typeof dotted === "string" ? splitPath(dotted) : dotted;
  if (segs.length === 0) throw new Error("cannot set the root of a config");
  let node: ConfigValue = map;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    const last = k === segs.length - 1;
    if (Array.isArray(node)) {
      const i = listIndex(seg, node.length);
      if (i === undefined) throw new Error(`list index '${seg}' out of range in '${segs.slice(0, k).join(".")}'`);
      if (last) node[i] = value;
      else node = node[i]!;
    } else if (isConfigMap(node)) {
      if (last) {
        node[seg] = value;
      } else {
        let next: ConfigValue | undefined = Object.prototype.hasOwnProperty.call(node, seg) ? node[seg] : undefined;
        if (next === undefined || next === null) {
          next = {};
          node[seg] = next;
        }
        node = next;
      }
    } else {
      throw new Error(`'${segs.slice(0, k).join(".")}' is not a mapping or list`);
    }
  }
}

/** Remove the node at `dotted` (list elements are spliced out). Returns false when it was missing. */
export function deletePath(map: ConfigMap, dotted: string | string[]): boolean {
  const segs = typeof dotted === "string" ? splitPath(dotted) : dotted;
  if (segs.length === 0) return false;
  const parent = getPath(map, segs.slice(0, -1));
  const seg = segs[segs.length - 1]!;
  if (Array.isArray(parent)) {
    const i = listIndex(seg, parent.length);
    if (i === undefined) return false;
    parent.splice(i, 1);
    return true;
  }
  if (isConfigMap(parent) && Object.prototype.hasOwnProperty.call(parent, seg)) {
    delete parent[seg];
    return true;
  }
  return false;
}

/** A deep copy that shares no mutable node with `value`. */
export function deepClone<T extends ConfigValue>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => deepClone(v)) as T;
  if (isConfigMap(value)) {
    const out: ConfigMap = {};
    for (const k of Object.keys(value)) out[k] = deepClone(value[k]!);
    return out as T;
  }
  return value;
}

/**
 * Merge `over` into `target` in place, OmegaConf-style: mappings merge key by key, anything else
 * (lists included) replaces. Values taken from `over` are cloned, so `target` owns its nodes.
 */
export function mergeInto(target: ConfigMap, over: ConfigMap): ConfigMap {
  for (const k of Object.keys(over)) {
    const ov = over[k]!;
    const cur = target[k];
    if (isConfigMap(ov) && isConfigMap(cur)) mergeInto(cur, ov);
    else target[k] = deepClone(ov);
  }
  return target;
}

/** A new tree: `base` with `over` merged onto it (see {@link mergeInto}). Inputs are not mutated. */
export function deepMerge(base: ConfigMap, over: ConfigMap): ConfigMap;
export function deepMerge(base: ConfigValue, over: ConfigValue): ConfigValue;
export function deepMerge(base: ConfigValue, over: ConfigValue): ConfigValue {
  if (isConfigMap(base) && isConfigMap(over)) return mergeInto(deepClone(base), over);
  return deepClone(over);
}

/** Deep structural equality of two config values (key order ignored; `1 == 1.0`, as in Python). */
export function configEquals(a: ConfigValue | undefined, b: ConfigValue | undefined): boolean {
  if (a === b) return true;
  const na = a instanceof ConfigFloat ? a.value : a;
  const nb = b instanceof ConfigFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na === nb || (Number.isNaN(na) && Number.isNaN(nb));
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => configEquals(v, b[i]));
  }
  if (isConfigMap(a) && isConfigMap(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && configEquals(a[k], b[k]));
  }
  return false;
}

/**
 * JSON with mapping keys sorted, for content hashes: the same tree gives the same text in every
 * process regardless of key insertion order. Non-finite numbers, which JSON cannot hold, are
 * written as the bare tokens `NaN`, `Infinity`, `-Infinity` so that they stay distinct from null.
 * A float with a whole value is written as Python writes it (`1.0`, `-0.0`), apart from the int
 * `1`; other floats are written as the same number always was, so their hashes do not change.
 */
export function stableStringify(value: ConfigValue): string {
  if (value === null) return "null";
  if (value instanceof ConfigFloat) {
    const x = value.value;
    return Number.isInteger(x) ? pyFloatRepr(x) : stableStringify(x);
  }
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : String(value);
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
  }
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v)).join(",")}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = value[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${stableStringify(v)}`);
  }
  return `{${parts.join(",")}}`;
}
