/**
 * A study: the search settings (`--search`, `--budget`, `--objective`, `--seed`, the project
 * file's `search:` block), the trial records a sampler sees, derived from what the runs left
 * (status and metrics), and ASHA's decision for a running trial from its metrics. PURE.
 */
import { CorralError, didYouMean } from "../../errors.js";
import type { RunState } from "../states.js";
import { ashaFromYaml, ashaRungs, decide, type AshaConfig } from "./asha.js";
import { onGrid, randomSampler } from "./random.js";
import { spellParam } from "./space.js";
import { tpeSampler } from "./tpe.js";
import type { Direction, Params, Sampler, SearchSpace, TrialRecord } from "./types.js";

export type SamplerName = "random" | "tpe" | "grid";
export const SAMPLERS: readonly SamplerName[] = ["random", "tpe", "grid"];

/** The settings of a study, resolved (command line over the project file). */
export interface StudySettings {
  sampler: Exclude<SamplerName, "grid">;
  budget: number;
  objective: { metric: string; mode: Direction };
  seed: number;
  earlyStop?: AshaConfig;
  /** Trials at once (`search.n_jobs`, as the Hydra Optuna sweeper's `n_jobs`). */
  nJobs?: number;
  /** TPE's options (`search.tpe`); absent: the defaults (multivariate). */
  tpe?: TpeSettings;
}

/** The project file's `search.tpe`. */
export interface TpeSettings {
  /** One joint estimator over all parameters (default), or one per parameter (Optuna's default TPE). */
  multivariate: boolean;
}

/** The command line's spelling. */
export interface SearchFlags {
  search?: string;
  budget?: number;
  objective?: string;
  seed?: number;
}

const CLI = "<command line>";
const FIELDS = ["sampler", "budget", "objective", "seed", "early_stop", "n_jobs", "tpe"];
const TPE_FIELDS = ["multivariate"];

/**
 * The study asked for, or undefined for a grid (no `--search`, no `search:`, or `grid`). Errors
 * name the file and key: an unknown sampler, a budget below 1, no objective.
 */
export function studySettings(yaml: unknown, flags: SearchFlags, file: string): StudySettings | undefined {
  const fail = (where: { file: string; key: string }, msg: string, hint?: string): never => {
    throw new CorralError("E_CONFIG", `${where.key}: ${msg}`, { location: where, ...(hint ? { hint } : {}), exitCode: 2 });
  };
  let y: Record<string, unknown> = {};
  if (yaml !== undefined && yaml !== null) {
    if (typeof yaml !== "object" || Array.isArray(yaml)) fail({ file, key: "search" }, "must be a map", "e.g. search: {sampler: tpe, budget: 60, objective: {metric: val_loss, mode: min}}");
    y = yaml as Record<string, unknown>;
    for (const k of Object.keys(y)) {
      if (!FIELDS.includes(k)) {
        const dym = didYouMean(k, FIELDS);
        fail({ file, key: `search.${k}` }, `unknown field${dym ? ` (did you mean '${dym}'?)` : ""}`, `search takes ${FIELDS.join(", ")}`);
      }
    }
  }
  const samplerAt = flags.search !== undefined ? { file: CLI, key: "--search" } : { file, key: "search.sampler" };
  const sampler = flags.search ?? y.sampler;
  const budgetAt = flags.budget !== undefined || (y.budget === undefined && flags.search !== undefined) ? { file: CLI, key: "--budget" } : { file, key: "search.budget" };
  const budget = flags.budget ?? y.budget;
  if (sampler === undefined) {
    if (budget !== undefined || flags.objective !== undefined) fail(budgetAt, "is for a search: add --search tpe (or random), or search.sampler in the project file");
    if (yaml === undefined) return undefined;
    fail({ file, key: "search.sampler" }, "is required", `one of ${SAMPLERS.join(", ")}`);
  }
  if (typeof sampler !== "string" || !SAMPLERS.includes(sampler as SamplerName)) {
    const dym = typeof sampler === "string" ? didYouMean(sampler, SAMPLERS) : undefined;
    fail(samplerAt, `unknown sampler '${String(sampler)}'${dym ? ` (did you mean '${dym}'?)` : ""}`, `one of ${SAMPLERS.join(", ")}`);
  }
  if (sampler === "grid") return undefined;
  if (budget === undefined) fail(budgetAt, "is required: how many trials the search runs in all", "e.g. --budget 60");
  if (typeof budget !== "number" || !Number.isInteger(budget) || budget < 1) fail(budgetAt, `must be a whole number of trials of at least 1 (got ${String(budget)})`);
  const objective = objectiveOf(flags.objective, y.objective, file, fail);
  const seedAt = flags.seed !== undefined ? { file: CLI, key: "--seed" } : { file, key: "search.seed" };
  const seed = flags.seed ?? y.seed ?? 0;
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0) fail(seedAt, `must be a whole number of at least 0 (got ${String(seed)})`);
  let earlyStop: AshaConfig | undefined;
  if (y.early_stop !== undefined && y.early_stop !== null) {
    const es = y.early_stop;
    if (typeof es !== "object" || Array.isArray(es)) fail({ file, key: "search.early_stop" }, "must be a map", "e.g. early_stop: {asha: {resource: step, min: 1, max: 27, reduction_factor: 3}}");
    const keys = Object.keys(es as object);
    const bad = keys.find((k) => k !== "asha");
    if (bad !== undefined) fail({ file, key: `search.early_stop.${bad}` }, "unknown early stopping", "the one early stopping is asha: {resource, min, max, reduction_factor}");
    if ("asha" in (es as object)) earlyStop = ashaFromYaml((es as Record<string, unknown>).asha, { file, key: "search.early_stop.asha" });
  }
  let tpe: TpeSettings | undefined;
  if (y.tpe !== undefined && y.tpe !== null && sampler === "tpe") {
    const t = y.tpe;
    const HINT = "e.g. tpe: {multivariate: false} for Optuna's default (univariate) TPE";
    if (typeof t !== "object" || Array.isArray(t)) fail({ file, key: "search.tpe" }, "must be a map", HINT);
    for (const k of Object.keys(t as object)) {
      if (!TPE_FIELDS.includes(k)) {
        const dym = didYouMean(k, TPE_FIELDS);
        fail({ file, key: `search.tpe.${k}` }, `unknown field${dym ? ` (did you mean '${dym}'?)` : ""}`, `tpe takes ${TPE_FIELDS.join(", ")}`);
      }
    }
    const mv = (t as Record<string, unknown>).multivariate ?? true;
    if (typeof mv !== "boolean") fail({ file, key: "search.tpe.multivariate" }, `must be true or false (got ${String(mv)})`, HINT);
    tpe = { multivariate: mv as boolean };
  } else if (y.tpe !== undefined && flags.search === undefined) {
    fail({ file, key: "search.tpe" }, `is for sampler tpe, and this search's sampler is ${String(sampler)}`, "drop search.tpe, or set sampler: tpe");
  }
  const nJobs = y.n_jobs;
  if (nJobs !== undefined && (typeof nJobs !== "number" || !Number.isInteger(nJobs) || nJobs < 1)) fail({ file, key: "search.n_jobs" }, `must be a whole number of trials at once of at least 1 (got ${String(nJobs)})`, "e.g. n_jobs: 6 (on SLURM, 3 array tasks of launcher.parallel 2)");
  return { sampler: sampler as "random" | "tpe", budget: budget as number, objective, seed: seed as number, ...(earlyStop ? { earlyStop } : {}), ...(tpe ? { tpe } : {}), ...(nJobs !== undefined ? { nJobs: nJobs as number } : {}) };
}

function objectiveOf(flag: string | undefined, y: unknown, file: string, fail: (w: { file: string; key: string }, m: string, h?: string) => never): StudySettings["objective"] {
  const HINT = "e.g. --objective val_loss:min, or search.objective: {metric: val_loss, mode: min}";
  if (flag !== undefined) {
    const m = /^([^:]+?)(?::(min|max))?$/.exec(flag.trim());
    if (!m) return fail({ file: CLI, key: "--objective" }, `'${flag}' is not METRIC:min or METRIC:max`, HINT);
    return { metric: m[1]!, mode: (m[2] ?? "min") as Direction };
  }
  if (y === undefined) return fail({ file, key: "search.objective" }, "is required: the metric the search minimises or maximises", HINT);
  if (typeof y === "string") return objectiveOf(y, undefined, file, (w, msg, h) => fail({ file, key: "search.objective" }, msg.replace(w.key, "search.objective"), h));
  if (typeof y !== "object" || y === null || Array.isArray(y)) return fail({ file, key: "search.objective" }, "must be a map {metric, mode} or 'METRIC:min'", HINT);
  const o = y as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "metric" && k !== "mode") fail({ file, key: `search.objective.${k}` }, "unknown field", "objective takes metric and mode");
  if (typeof o.metric !== "string" || o.metric === "") fail({ file, key: "search.objective.metric" }, "is required: the name of a metric the runs log in metrics.jsonl", HINT);
  const mode = o.mode ?? "min";
  if (mode !== "min" && mode !== "max") fail({ file, key: "search.objective.mode" }, `must be min or max (got ${String(mode)})`);
  return { metric: o.metric as string, mode: mode as Direction };
}

/** The sampler of a study. */
export function samplerOf(s: { sampler: StudySettings["sampler"] | "custom"; seed: number; objective: StudySettings["objective"]; tpe?: TpeSettings }, space: SearchSpace): Sampler {
  if (s.sampler === "custom") throw new CorralError("E_USAGE", "this study's sampler was the library caller's own: its further trials can only be asked through launch({ search: { sampler } })", { exitCode: 2 });
  return s.sampler === "tpe" ? tpeSampler(space, { seed: s.seed, direction: s.objective.mode, multivariate: s.tpe?.multivariate ?? true }) : randomSampler(space, { seed: s.seed });
}

/**
 * The grid a space of discrete parameters only spans, as overrides (`width=64,128,256`), with its
 * size; undefined when a parameter is continuous. Values are the search's (`range(2,6)` is 2..6).
 */
export function discreteGrid(space: SearchSpace): { overrides: string[]; size: number } | undefined {
  const overrides: string[] = [];
  let size = 1;
  for (const { name, dist } of space.params) {
    let values: string[];
    if (dist.type === "categorical") values = dist.spelled;
    else if (dist.type === "int") {
      values = [];
      for (let v = dist.low; v <= dist.high; v += dist.step) values.push(String(v));
    } else if (dist.step !== undefined) {
      values = [];
      const k = Math.floor((dist.high - dist.low) / dist.step + 1e-9);
      for (let i = 0; i <= k; i++) values.push(spellParam(dist, onGrid(dist.low, dist.step, i)));
    } else return undefined;
    size *= values.length;
    overrides.push(`${name}=${values.join(",")}`);
  }
  return { overrides: [...overrides, ...space.fixed], size };
}

/** One metrics.jsonl line. */
export type MetricRow = Record<string, unknown>;

/** The last value of `metric` a run logged. */
export function lastValue(rows: readonly MetricRow[], metric: string): number | undefined {
  for (let k = rows.length - 1; k >= 0; k--) {
    const v = rows[k]![metric];
    if (typeof v === "number") return v;
  }
  return undefined;
}

/**
 * What the sampler knows of one trial, from its run's state and metrics: succeeded with the
 * objective logged -> complete (without it: failed, as Optuna fails a trial that returns no
 * value); pruned -> pruned with its last report; failed, cancelled, unknown -> failed; anything
 * else (not started, running, going again) -> running.
 */
export function trialRecord(number: number, params: Params, state: RunState | undefined, rows: readonly MetricRow[], objective: StudySettings["objective"], resource = "step"): TrialRecord {
  if (state === "succeeded") {
    const value = lastValue(rows, objective.metric);
    return value === undefined || Number.isNaN(value) ? { number, state: "failed", params } : { number, state: "complete", params, value };
  }
  if (state === "pruned") {
    for (let k = rows.length - 1; k >= 0; k--) {
      const v = rows[k]![objective.metric];
      const s = rows[k]![resource];
      if (typeof v === "number") return { number, state: "pruned", params, intermediate: { step: typeof s === "number" ? s : k, value: v } };
    }
    return { number, state: "pruned", params };
  }
  if (state === "failed" || state === "cancelled" || state === "unknown") return { number, state: "failed", params };
  return { number, state: "running", params };
}

/** The value a trial reported when it reached each rung (undefined: not reached). */
export function rungValues(cfg: AshaConfig, rows: readonly MetricRow[], metric: string): Array<number | undefined> {
  const rungs = ashaRungs(cfg);
  const out: Array<number | undefined> = rungs.map(() => undefined);
  let k = 0;
  for (const row of rows) {
    const s = row[cfg.resource];
    const v = row[metric];
    if (typeof s !== "number" || typeof v !== "number") continue;
    while (k < rungs.length && s >= rungs[k]!) out[k++] = v;
  }
  return out;
}

/**
 * ASHA for a running trial: the rungs it reached beyond the `passed` first, each checked against
 * the values other trials reported at that rung (Optuna's SuccessiveHalvingPruner). The
 * outcome: `stop` at `rung`, or `continue` having passed `passed` rungs in all. The last rung
 * (`max`) is the end of training: no decision there.
 */
export function ashaCheck(cfg: AshaConfig, direction: Direction, mine: readonly MetricRow[], others: ReadonlyArray<ReadonlyArray<number | undefined>>, metric: string, passed: number): { decision: "continue" | "stop"; passed: number; rung?: number; resource?: number; value?: number } {
  const rungs = ashaRungs(cfg);
  const own = rungValues(cfg, mine, metric);
  let k = passed;
  while (k < rungs.length && rungs[k]! < cfg.max && own[k] !== undefined) {
    const at = others.map((o) => o[k]).filter((v): v is number => v !== undefined);
    if (decide(at, own[k]!, direction, cfg.reductionFactor) === "stop") return { decision: "stop", passed: k, rung: k, resource: rungs[k]!, value: own[k]! };
    k++;
  }
  return { decision: "continue", passed: k };
}
