/**
 * Python floats in config values. A JS number cannot tell `1` from `1.0`, but Hydra and OmegaConf
 * can, and an app reads `lr: 1.0` back as a float. In a ConfigValue:
 *
 * - a plain number that is whole is a Python int (`1`);
 * - a plain number that is not whole is a float (`0.1`, `inf`, `nan`): no other reading exists;
 * - a float whose value is whole (`1.0`, `1000.0`, `-0.0`) is a {@link ConfigFloat}. Build floats
 *   with {@link pyFloat}, which boxes exactly those.
 *
 * Every writer (config.yaml, `corral config`, the app's argv) spells a float the Python way
 * (`1.0`, `1000.0`, `1e-05`, `inf`; `.inf`, `.nan`, `1.0e-05` in YAML). PURE.
 */

/** A whole-valued float of a config tree (see the module comment). Immutable. */
export class ConfigFloat {
  constructor(readonly value: number) {}
  /** Arithmetic and comparisons see the number. */
  valueOf(): number {
    return this.value;
  }
  /** Python's `str()` of the float: `1.0`, `1e-05`, `inf`. */
  toString(): string {
    return pyFloatRepr(this.value);
  }
  /** JSON.stringify (manifests, params) writes the plain number. */
  toJSON(): number {
    return this.value;
  }
}

/** A Python float as a config value: a ConfigFloat when its value is whole, else the number. */
export function pyFloat(x: number): ConfigFloat | number {
  return Number.isInteger(x) ? new ConfigFloat(x) : x;
}

/** True for a float config value: a ConfigFloat, or a plain number that is not whole. */
export const isFloatValue = (v: unknown): boolean => v instanceof ConfigFloat || (typeof v === "number" && !Number.isInteger(v));

/** True for a {@link ConfigFloat}. */
export const isConfigFloat = (v: unknown): v is ConfigFloat => v instanceof ConfigFloat;

/** The number of a config scalar: an int (plain number) or a float. */
export const numberOf = (v: unknown): number | undefined => (typeof v === "number" ? v : v instanceof ConfigFloat ? v.value : undefined);

/** `v` with every ConfigFloat replaced by its number: for settings, which are plain numbers. */
export function withoutFloats(v: unknown): unknown {
  if (v instanceof ConfigFloat) return v.value;
  if (Array.isArray(v)) return v.map(withoutFloats);
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutFloats(x)]));
  }
  return v;
}

/** Python's repr() of a float: `10.0`, `0.001`, `1e-05`, `1e+16`, `inf`, `-inf`, `nan`. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without an argument gives the shortest round-tripping digits, as repr does.
  const [mant, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const sign = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1);
    return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
}

/**
 * A float as PyYAML (and so OmegaConf.to_yaml) writes it: repr, with `.0` put before an exponent
 * that has no point (`1.0e-05`, which YAML 1.1 readers need to see a float), `.inf`, `-.inf`, `.nan`.
 */
export function yamlFloat(x: number): string {
  if (Number.isNaN(x)) return ".nan";
  if (x === Infinity) return ".inf";
  if (x === -Infinity) return "-.inf";
  const r = pyFloatRepr(x);
  return !r.includes(".") && r.includes("e") ? r.replace("e", ".0e") : r;
}
