/**
 * ASHA, asynchronous successive halving (Li et al. 2020), deciding as Optuna's
 * SuccessiveHalvingPruner does (optuna/pruners/_successive_halving.py): rungs at resources
 * min * rf^k; a trial reaching a rung records its value there and is compared with every value
 * recorded at that rung so far (asynchronous: no waiting for a full rung). It continues when it
 * is in the top 1/rf of them; while fewer than rf trials have reached the rung, only when it is
 * the best so far. PURE.
 */
import { CorralError, didYouMean } from "../../errors.js";
import type { Direction } from "./types.js";

/** `early_stop: {asha: {resource: step, min: 1, max: 27, reduction_factor: 3}}`, resolved. */
export interface AshaConfig {
  /** The metric field that counts the resource spent (e.g. `step`, `epoch`). */
  resource: string;
  /** Resource of the first rung. */
  min: number;
  /** Resource at which a trial is complete; no decision there. */
  max: number;
  /** Keep the top 1/reductionFactor at each rung. */
  reductionFactor: number;
}

/** What to do with a trial that reported. */
export type AshaDecision = "continue" | "stop";

/** The resources of the rungs: min * rf^k <= max (1, 3, 9, 27 for min 1, max 27, rf 3). */
export function ashaRungs(cfg: AshaConfig): number[] {
  const out: number[] = [];
  for (let r = cfg.min; r <= cfg.max * (1 + 1e-12); r *= cfg.reductionFactor) out.push(r);
  return out;
}

/**
 * Whether a trial with `value` at a rung goes on, given the values other trials recorded at the
 * same rung (`valuesAtRung`, not counting this one). Optuna's _is_trial_promotable_to_next_rung:
 * with the trial's value among them, promotable index = floor(count / rf) - 1 (0 when that is -1),
 * and the trial continues when it is at least as good as the value at that index. NaN stops.
 */
export function decide(valuesAtRung: readonly number[], value: number, direction: Direction, rf: number): AshaDecision {
  if (Number.isNaN(value)) return "stop";
  const competing = [...valuesAtRung.filter((v) => !Number.isNaN(v)), value].sort((a, b) => a - b);
  const idx = Math.max(0, Math.floor(competing.length / rf) - 1);
  const ok = direction === "min" ? value <= competing[idx]! : value >= competing[competing.length - 1 - idx]!;
  return ok ? "continue" : "stop";
}

/** The outcome of one report: the decision, and the rungs to record for this trial. */
export interface AshaOutcome {
  decision: AshaDecision;
  /** Rungs this report reached (indices, in order), each to be recorded with `value`. */
  reached: number[];
  /** The highest rung reached so far (the one a stopped trial stopped at); undefined before the first. */
  rung: number | undefined;
}

/**
 * Handles one intermediate report of a trial: at `step` (resource spent) with `value`, having
 * already passed `passed` rungs. Like Optuna's prune(), a report that jumps several rungs is
 * checked at each in turn, with the same value. `valuesAtRung(k)` gives the values the other
 * trials recorded at rung k.
 */
export function ashaReport(input: {
  config: AshaConfig;
  direction: Direction;
  step: number;
  value: number;
  passed: number;
  valuesAtRung: (rung: number) => readonly number[];
}): AshaOutcome {
  const { config, direction, step, value } = input;
  const rungs = ashaRungs(config);
  const reached: number[] = [];
  let rung = input.passed;
  // At `max` the trial is complete: the last rung below it is the last decision.
  while (rung < rungs.length && rungs[rung]! < config.max && step >= rungs[rung]!) {
    reached.push(rung);
    if (decide(input.valuesAtRung(rung), value, direction, config.reductionFactor) === "stop") return { decision: "stop", reached, rung };
    rung++;
  }
  return { decision: "continue", reached, rung: rung > 0 ? rung - 1 : undefined };
}

const FIELDS = ["resource", "min", "max", "reduction_factor"];

/** Reads `early_stop: {asha: {...}}` from the project file, with errors naming the key. */
export function ashaFromYaml(v: unknown, source: { file: string; key?: string } = { file: "corral.yaml" }): AshaConfig {
  const base = source.key ?? "search.early_stop.asha";
  const fail = (key: string, msg: string, hint?: string): never => {
    throw new CorralError("E_CONFIG", `${key}: ${msg}`, { location: { file: source.file, key }, ...(hint ? { hint } : {}) });
  };
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(base, "must be a map", "e.g. asha: {resource: step, min: 1, max: 27, reduction_factor: 3}");
  const m = v as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (!FIELDS.includes(k)) {
      const dym = didYouMean(k, FIELDS);
      fail(`${base}.${k}`, `unknown field${dym ? ` (did you mean '${dym}'?)` : ""}`, `asha takes ${FIELDS.join(", ")}.`);
    }
  }
  const resource = m.resource ?? "step";
  if (typeof resource !== "string" || resource === "") fail(`${base}.resource`, "must be the name of a metric field, e.g. step or epoch");
  const num = (k: string, def: number | undefined): number => {
    const x = m[k] ?? def;
    if (x === undefined) return fail(`${base}.${k}`, "is required");
    if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) return fail(`${base}.${k}`, `must be a positive number (got ${String(x)})`);
    return x;
  };
  const min = num("min", 1);
  const max = num("max", undefined);
  const rf = num("reduction_factor", 3);
  if (max <= min) fail(`${base}.max`, `must be above min (${min})`);
  if (!Number.isInteger(rf) || rf < 2) fail(`${base}.reduction_factor`, `must be an integer of at least 2 (got ${rf})`);
  return { resource: resource as string, min, max, reductionFactor: rf };
}
