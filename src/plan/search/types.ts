/**
 * Search: the search space, trial records and the sampler interface (the pure ask/tell pair).
 * PURE: plain data in, plain data out.
 */

/** Whether the objective is minimised or maximised. */
export type Direction = "min" | "max";

/** One sampled parameter value. */
export type ParamValue = number | string | boolean | null;

/** The parameters of one trial, by parameter name (the override's key, e.g. `lr`, `+extra`, `db@pkg`). */
export type Params = Record<string, ParamValue>;

/**
 * One dimension of a search space, as Optuna's distributions (3.x): FloatDistribution,
 * IntDistribution and CategoricalDistribution.
 */
export type Distribution =
  | {
      type: "float";
      low: number;
      high: number;
      /** Sample on a log scale (low > 0). */
      log: boolean;
      /** Discrete steps of `step` from `low` (not with `log`): Optuna's DiscreteUniformDistribution. */
      step?: number;
    }
  | {
      type: "int";
      /** Inclusive bounds. */
      low: number;
      high: number;
      log: boolean;
      step: number;
    }
  | {
      type: "categorical";
      choices: ParamValue[];
      /** Each choice as an override spells it (`1.0` stays a float: `lr=1.0`). */
      spelled: string[];
    };

/** A search space: the sampled dimensions, and the plain overrides every trial gets. */
export interface SearchSpace {
  /** Dimensions in the order they were written. */
  params: Array<{ name: string; dist: Distribution }>;
  /** Plain values (`seed=1`), spelled as override terms, passed to every trial unchanged. */
  fixed: string[];
}

/**
 * What a sampler knows of one trial. `number` orders trials (Optuna's trial number); the state
 * is the trial's now: a complete trial has its objective `value`, a pruned one the last value it
 * reported (`intermediate`), a running one only its params.
 */
export type TrialRecord =
  | { number: number; state: "complete"; params: Params; value: number }
  | { number: number; state: "running"; params: Params }
  | { number: number; state: "pruned"; params: Params; intermediate?: { step: number; value: number } }
  | { number: number; state: "failed"; params: Params };

/**
 * A sampler: asked for the params of trial `trialNumber` given every trial so far. It must be
 * pure: the same history and trial number give the same params (derive randomness from a seed
 * and the trial number, never from call order), so a study resumed from its records, or asked
 * from several workers at once, proposes the same trials.
 */
export interface Sampler {
  ask(history: readonly TrialRecord[], trialNumber: number): Params;
}
