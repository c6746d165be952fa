/**
 * Writers of config values that keep their types for a Python reader: config.yaml (what
 * CORRAL_CONFIG points at) and `corral config`, and the YAML tags that read floats as floats.
 *
 * - A float is written as PyYAML writes it (OmegaConf.to_yaml uses PyYAML): `1.0`, `1000.0`,
 *   `1.0e-05`, `.inf`, `-.inf`, `.nan`; an int as itself. In JSON, as Python's json.dumps:
 *   `1.0`, `1e-05`, `Infinity`, `-Infinity`, `NaN`.
 * - A string that a YAML 1.1 reader (PyYAML) or a YAML 1.2 reader would take for something else
 *   (a date `2024-01-01`, a bool `yes`/`on`, a number `1e3`/`0o17`/`1:20`, null `~`) is quoted.
 *
 * PURE: text in, text out.
 */
import { Scalar, stringify } from "yaml";
import type { ScalarTag, Tags } from "yaml";
import { ConfigFloat, pyFloat, yamlFloat } from "./float.js";
import type { ConfigValue } from "./types.js";

const FLOAT_TAG = "tag:yaml.org,2002:float";

const numberOf = (v: unknown): number => (v instanceof ConfigFloat ? v.value : Number(v));

/** Writes ConfigFloat (and any number that is not whole) as a float, the PyYAML way. */
const floatOut: ScalarTag = {
  tag: FLOAT_TAG,
  default: true,
  // The writer prefers a tag with a test when several identify a value; this one matches no text.
  test: /(?!)/,
  identify: (v) => v instanceof ConfigFloat || (typeof v === "number" && !Number.isInteger(v)),
  resolve: (s) => pyFloat(Number(s)),
  stringify: (item) => yamlFloat(numberOf((item as Scalar).value)),
};

/**
 * YAML 1.2's `0o17` (an int to a 1.2 reader, a string to PyYAML). Writing uses the YAML 1.1
 * schema, which covers every other plain scalar that is not a string to either reader; this tag
 * is there only so that such a string is quoted.
 */
const octal12: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  default: true,
  identify: () => false,
  test: /^0o[0-7]+$/,
  resolve: (s) => parseInt(s.slice(2), 8),
};

/** A config tree as YAML, types kept for PyYAML and for YAML 1.2 readers (see the module comment). */
export function configToYaml(value: ConfigValue): string {
  return stringify(value, { version: "1.1", customTags: (tags: Tags) => [floatOut, octal12, ...tags] });
}

/**
 * The `customTags` option for reading config YAML: a float with a whole value (`0.0`, `1e3`)
 * becomes a ConfigFloat, so `lr: 0.0` in conf/ stays a float; ints and other floats stay numbers.
 */
export function floatTags(tags: Tags): Tags {
  return tags.map((t) => {
    if (typeof t !== "object" || t.tag !== FLOAT_TAG || !("resolve" in t)) return t;
    const st = t as ScalarTag;
    return {
      ...st,
      resolve: (str, onError, options) => {
        const r = st.resolve(str, onError, options);
        return pyFloat(Number(r instanceof Scalar ? r.value : r));
      },
    } as ScalarTag;
  });
}
