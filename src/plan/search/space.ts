/**
 * Search spaces, spelled as the Hydra Optuna sweeper spells them (hydra_optuna_sweeper 1.3.2,
 * `create_optuna_distribution_from_override` and `..._from_config`):
 *
 * | override                         | distribution                                   |
 * | -------------------------------- | ---------------------------------------------- |
 * | `a=1,2,3`, `choice(...)`         | categorical                                    |
 * | `range(2,6)`, `range(0,10,2)`    | int uniform, high INCLUSIVE (2..6), step       |
 * | `range(0,1,0.1)` (a float bound) | float with step (discrete uniform)             |
 * | `shuffle(range(...))`            | categorical over the shuffled values           |
 * | `interval(0,1)`                  | float uniform (Hydra makes both bounds floats) |
 * | `int(interval(1,10))`            | int uniform                                    |
 * | `tag(log, interval(1e-5,1e-1))`  | float (or int) on a log scale                  |
 * | `seed=1`                         | fixed: every trial gets it                     |
 *
 * and the project file's map form, Hydra's DistributionConfig: `{type: float|int|categorical,
 * low, high, step, log, choices}`. PURE.
 */
import { CorralError, didYouMean } from "../../errors.js";
import { ConfigFloat } from "../float.js";
import { parseOverride, pyFloatRepr, toConfigValue } from "../overrides.js";
import { formatValue, keyElement } from "../pyformat.js";
import { fromYaml, sweepValues } from "../sweep.js";
import type { ElementValue, Override, SweepValue } from "../types.js";
import type { Distribution, ParamValue, Params, SearchSpace } from "./types.js";

const CLI = "<command line>";
const CONFIG_KEYS = ["type", "low", "high", "step", "log", "choices"];

/** Where a dimension was written, for messages. */
interface Where {
  file: string;
  key: string;
  /** What to call it in the message: the override text, or the dotted key. */
  what: string;
}

function fail(at: Where, msg: string, hint?: string): never {
  throw new CorralError("E_SWEEP", `${at.what}: ${msg}`, { location: { file: at.file, key: at.key }, ...(hint ? { hint } : {}) });
}

/**
 * Builds a space from command-line overrides, parsed or as text (sweeps become dimensions, plain
 * ones stay fixed): `spaceFromOverrides(["lr=tag(log, interval(1e-5, 1e-1))", "width=64,128"])`.
 */
export function spaceFromOverrides(overrides: ReadonlyArray<Override | string>, opts: { random?: () => number } = {}): SearchSpace {
  const space: SearchSpace = { params: [], fixed: [] };
  const seen = new Set<string>();
  for (const item of overrides) {
    const o = typeof item === "string" ? parseOverride(item, opts.random ? { random: opts.random } : {}) : item;
    const name = keyElement(o);
    const at: Where = { file: CLI, key: name, what: o.input };
    addOverride(space, seen, o, at, opts);
  }
  return space;
}

/**
 * Builds a space from the project file's `sweep:` map. Each value is a DistributionConfig map
 * (`{type: float, low: 1e-5, high: 0.1, log: true}`), an override spelling (`interval(0,1)`,
 * `choice(a,b)`), a list (categorical) or a plain value (fixed).
 */
export function spaceFromYaml(map: unknown, source: { file: string; key?: string } = { file: "corral.yaml" }): SearchSpace {
  const base = source.key ?? "sweep";
  const top: Where = { file: source.file, key: base, what: base };
  if (typeof map !== "object" || map === null || Array.isArray(map)) fail(top, "the search space must be a map of key -> distribution", "e.g. sweep: {lr: {type: float, low: 1e-5, high: 0.1, log: true}}");
  const space: SearchSpace = { params: [], fixed: [] };
  const seen = new Set<string>();
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    const at: Where = { file: source.file, key: `${base}.${k}`, what: `${base}.${k}` };
    let o: Override;
    try {
      o = parseOverride(typeof v === "string" ? `${k}=${v}` : `${k}=`);
    } catch (e) {
      if (e instanceof CorralError) fail(at, e.message, e.hint);
      throw e;
    }
    const name = keyElement(o);
    if (typeof v === "string") {
      addOverride(space, seen, o, at);
    } else if (Array.isArray(v)) {
      if (v.length === 0) fail(at, "an empty list has nothing to choose from");
      addParam(space, seen, name, categorical(v.map(fromYaml), at), at);
    } else if (typeof v === "object" && v !== null && !(v instanceof ConfigFloat)) {
      addParam(space, seen, name, fromConfig(v as Record<string, unknown>, at), at);
    } else {
      space.fixed.push(`${name}=${formatValue(fromYaml(v))}`);
    }
  }
  return space;
}

function addOverride(space: SearchSpace, seen: Set<string>, o: Override, at: Where, opts: { random?: () => number } = {}): void {
  const name = keyElement(o);
  if (!o.isSweep) {
    space.fixed.push(o.value === undefined ? name : `${name}=${formatValue(o.value as ElementValue)}`);
    return;
  }
  addParam(space, seen, name, fromSweep(o.value as SweepValue, at, opts), at);
}

function addParam(space: SearchSpace, seen: Set<string>, name: string, dist: Distribution, at: Where): void {
  if (seen.has(name)) fail(at, `'${name}' is searched twice`, "Give each key one distribution.");
  seen.add(name);
  space.params.push({ name, dist });
}

/** One sweep override as the Optuna sweeper maps it. */
function fromSweep(s: SweepValue, at: Where, opts: { random?: () => number }): Distribution {
  switch (s.kind) {
    case "choice":
      return categorical(sweepValues(s, at.key, opts), at);
    case "range": {
      // A shuffled range is a list of values in an order: categorical, as in the sweeper.
      if (s.shuffle) return categorical(sweepValues(s, at.key, opts), at);
      if (s.step <= 0) fail(at, `range() needs a positive step to search (got ${s.step})`, "e.g. range(2,6) searches 2, 3, 4, 5 and 6.");
      if (s.float) return numeric("float", s.start, s.stop, s.step, false, at);
      return numeric("int", s.start, s.stop, s.step, false, at);
    }
    case "interval": {
      const log = s.tags?.includes("log") ?? false;
      return numeric(s.int ? "int" : "float", s.start, s.end, s.int ? 1 : undefined, log, at);
    }
    case "glob":
      return fail(at, "glob() cannot be searched", "List the options: key=choice(a,b,c).");
  }
}

/** Hydra's DistributionConfig map. */
function fromConfig(c: Record<string, unknown>, at: Where): Distribution {
  for (const k of Object.keys(c)) {
    if (!CONFIG_KEYS.includes(k)) {
      const dym = didYouMean(k, CONFIG_KEYS);
      fail(at, `unknown field '${k}'${dym ? ` (did you mean '${dym}'?)` : ""}`, `A distribution has ${CONFIG_KEYS.join(", ")}.`);
    }
  }
  const type = c.type;
  if (type !== "float" && type !== "int" && type !== "categorical") {
    fail(at, type === undefined ? "a distribution needs a type" : `unknown type '${String(type)}'`, "type is float, int or categorical.");
  }
  if (type === "categorical") {
    for (const k of ["low", "high", "step", "log"]) if (c[k] !== undefined) fail(at, `a categorical distribution takes choices, not ${k}`);
    if (!Array.isArray(c.choices) || c.choices.length === 0) fail(at, "a categorical distribution needs a non-empty list of choices", "e.g. {type: categorical, choices: [64, 128, 256]}");
    return categorical(c.choices.map(fromYaml), at);
  }
  if (c.choices !== undefined) fail(at, `a ${type} distribution takes low and high, not choices`);
  const num = (k: string): number | undefined => {
    const v = c[k];
    if (v === undefined || v === null) return undefined;
    if (v instanceof ConfigFloat) return v.value;
    if (typeof v !== "number") return fail(at, `${k} must be a number`);
    return v;
  };
  const low = num("low");
  const high = num("high");
  if (low === undefined || high === undefined) fail(at, `a ${type} distribution needs low and high`);
  if (c.log !== undefined && typeof c.log !== "boolean") fail(at, "log must be true or false");
  const log = c.log === true;
  const step = num("step");
  if (log && step !== undefined) fail(at, "log and step do not go together", "Drop step to sample on a log scale.");
  if (type === "int") {
    for (const [k, v] of [["low", low], ["high", high], ["step", step]] as const) {
      if (v !== undefined && !Number.isInteger(v)) fail(at, `${k} of an int distribution must be an integer (got ${v})`);
    }
  }
  return numeric(type, low, high, type === "int" ? (step ?? 1) : step, log, at);
}

function numeric(type: "float" | "int", low: number, high: number, step: number | undefined, log: boolean, at: Where): Distribution {
  if (!Number.isFinite(low) || !Number.isFinite(high)) fail(at, "bounds must be finite");
  if (low >= high) fail(at, `low (${low}) must be below high (${high})`);
  if (log && low <= 0) fail(at, `a log scale needs low > 0 (got ${low})`);
  if (step !== undefined && !(step > 0 && Number.isFinite(step))) fail(at, `step must be positive (got ${step})`);
  if (type === "int") {
    const s = step ?? 1;
    // Optuna's IntDistribution moves high down onto the grid low + k*step.
    return { type: "int", low, high: low + Math.floor((high - low) / s) * s, log, step: s };
  }
  if (step === undefined) return { type: "float", low, high, log };
  // Optuna's FloatDistribution(step=) does the same with floats (its _adjust_discrete_uniform_high).
  const n = Math.floor((high - low) / step + 1e-9);
  return { type: "float", low, high: low + n * step, log, step };
}

function categorical(values: ElementValue[], at: Where): Distribution {
  if (values.length === 0) fail(at, "no values to choose from");
  const choices: ParamValue[] = values.map((v) => {
    const c = toConfigValue(v);
    if (c instanceof ConfigFloat) return c.value;
    if (c === null || typeof c === "string" || typeof c === "number" || typeof c === "boolean") return c;
    return fail(at, `a choice must be a string, number, bool or null, not ${Array.isArray(c) ? "a list" : "a map"}`, "Optuna's categorical distribution takes plain values only.");
  });
  return { type: "categorical", choices, spelled: values.map(formatValue) };
}

/** A sampled value as an override spells it (`lr=0.001`, `width=128`, `opt=adam`). */
export function spellParam(dist: Distribution, value: ParamValue): string {
  if (dist.type === "categorical") {
    const i = dist.choices.findIndex((c) => c === value);
    if (i >= 0) return dist.spelled[i]!;
    return formatValue(value);
  }
  if (typeof value !== "number") return formatValue(value);
  return dist.type === "int" ? String(value) : pyFloatRepr(value);
}

/** The override terms of one trial: its sampled params, then the fixed ones. */
export function trialOverrides(space: SearchSpace, params: Params): string[] {
  const out: string[] = [];
  for (const { name, dist } of space.params) {
    if (name in params) out.push(`${name}=${spellParam(dist, params[name]!)}`);
  }
  return [...out, ...space.fixed];
}
