/**
 * Plain data shared by the planning modules. PURE layer: nothing here touches fs, env or clock.
 */

import type { ConfigFloat } from "./float.js";

/**
 * A resolved config value, as YAML/JSON can hold it. A plain number is a Python int; a float is a
 * {@link ConfigFloat}, so that `1.0` stays `1.0` in config.yaml and for the app.
 */
export type ConfigValue = null | boolean | number | ConfigFloat | string | ConfigValue[] | ConfigMap;
export interface ConfigMap {
  [key: string]: ConfigValue;
}

/**
 * A string that was quoted in the override (`a='1'`). Kept distinct from an unquoted string so
 * it stays a string and is re-quoted when the override is spelled back for a Hydra app.
 */
export interface QuotedString {
  kind: "quoted";
  text: string;
  quote: "'" | '"';
}

/**
 * A float literal (`1.0`, `10e0`, `inf`). JS numbers cannot tell 1 from 1.0, so a plain `number`
 * in an ElementValue is always a Python int and floats carry this tag; that keeps `lr=1.0`
 * spelled `1.0` when it is handed back to a Hydra app. `toConfigValue` (plan/overrides.ts)
 * turns it into a ConfigFloat.
 */
export interface FloatValue {
  kind: "float";
  value: number;
}

/** A parsed, typed override value element (before sweep expansion). Plain numbers are ints. */
export type ElementValue =
  | null
  | boolean
  | number
  | string
  | QuotedString
  | FloatValue
  | ElementValue[]
  | { kind: "dict"; entries: Array<[string, ElementValue]> };

/**
 * A sweep over values: `a=1,2`, `choice(...)`, `range(...)`, `glob(...)`, wrapped by sort/shuffle;
 * or a continuous `interval(a,b)` (optionally `tag(log, ...)`), which only a search sampler takes.
 */
export type SweepValue =
  | { kind: "choice"; values: ElementValue[]; simpleForm: boolean; sort?: { reverse: boolean }; shuffle?: { seed: number | undefined } }
  | { kind: "range"; start: number; stop: number; step: number; /** values are floats (any bound was a float) */ float?: boolean; sort?: { reverse: boolean }; shuffle?: { seed: number | undefined } }
  | { kind: "glob"; include: string[]; exclude: string[]; sort?: { reverse: boolean }; shuffle?: { seed: number | undefined } }
  | {
      kind: "interval";
      start: number;
      end: number;
      /** Bounds are ints: `int(interval(1,10))`. Hydra's interval() makes both bounds floats. */
      int?: boolean;
      /** Tags from `tag(log, interval(...))`; `log` samples on a log scale. */
      tags?: string[];
    };

/** Hydra's override types: `a=1` change, `+a=1` add, `++a=1` force add, `~a` delete. */
export type OverrideType = "change" | "add" | "force_add" | "delete";

/** One parsed override term. */
export interface Override {
  type: OverrideType;
  /** Dotted key, or config group path such as `db` or `server/db`. */
  key: string;
  /** `group@pkg=option` package, when given. */
  pkg?: string;
  /** Undefined only for `~key` without a value. */
  value?: ElementValue | SweepValue;
  /** True when `value` is a SweepValue. */
  isSweep: boolean;
  /** The original text, for messages. */
  input: string;
  /** Where it was written when not on the command line (a `sweep:` grid of the project file). */
  source?: { file: string; key: string };
}
