/**
 * Random search, as Optuna's RandomSampler draws (through its _SearchSpaceTransform): uniform in
 * the transformed space (log for `log`, widened by half a step each side for ints and steps),
 * then rounded to the grid and clipped. PURE: each trial's draws come from the seed, the trial
 * number and the parameter name only.
 */
import { rngFor, type Rng } from "./prng.js";
import type { Distribution, ParamValue, Params, Sampler, SearchSpace, TrialRecord } from "./types.js";

/** Options of the random sampler. */
export interface RandomOptions {
  /** @default 0 */
  seed?: number;
}

/** A sampler that ignores the history: independent uniform draws per trial and parameter. */
export function randomSampler(space: SearchSpace, opts: RandomOptions = {}): Sampler {
  const seed = opts.seed ?? 0;
  return {
    ask(_history: readonly TrialRecord[], trialNumber: number): Params {
      const params: Params = {};
      for (const { name, dist } of space.params) params[name] = sampleUniform(dist, rngFor(seed, trialNumber, name));
      return params;
    },
  };
}

/** numpy's round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The largest double below x (numpy.nextafter(x, -inf)). */
function below(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const buf = new Float64Array([x]);
  const bits = new BigInt64Array(buf.buffer);
  bits[0] = bits[0]! + (x > 0 ? -1n : 1n);
  return buf[0]!;
}

/** low + k*step without the float noise of the multiplication (0.30000000000000004 -> 0.3). */
export function onGrid(low: number, step: number, k: number): number {
  const v = low + k * step;
  const tidy = Number(v.toPrecision(14));
  return Math.abs(tidy - v) <= Math.abs(step) * 1e-9 ? tidy : v;
}

/** Bounds in the space a sampler works in (log, and widened by half a step where values are discrete). */
export function transformedBounds(dist: Exclude<Distribution, { type: "categorical" }>): [number, number] {
  if (dist.type === "float") {
    if (dist.log) return [Math.log(dist.low), Math.log(dist.high)];
    if (dist.step !== undefined) return [dist.low - 0.5 * dist.step, dist.high + 0.5 * dist.step];
    return [dist.low, dist.high];
  }
  if (dist.log) return [Math.log(dist.low - 0.5), Math.log(dist.high + 0.5)];
  return [dist.low - 0.5 * dist.step, dist.high + 0.5 * dist.step];
}

/** Maps a point of the transformed space back to a value of the distribution. */
export function untransform(dist: Exclude<Distribution, { type: "categorical" }>, x: number): number {
  const clip = (v: number): number => Math.min(Math.max(v, dist.low), dist.high);
  if (dist.type === "float") {
    if (dist.log) return Math.min(Math.exp(x), below(dist.high));
    if (dist.step !== undefined) return clip(onGrid(dist.low, dist.step, roundHalfEven((x - dist.low) / dist.step)));
    return Math.min(x, below(dist.high));
  }
  if (dist.log) return clip(roundHalfEven(Math.exp(x)));
  return clip(dist.low + roundHalfEven((x - dist.low) / dist.step) * dist.step);
}

/** One uniform draw from a distribution. */
export function sampleUniform(dist: Distribution, rng: Rng): ParamValue {
  if (dist.type === "categorical") return dist.choices[Math.min(dist.choices.length - 1, Math.floor(rng.next() * dist.choices.length))]!;
  const [lo, hi] = transformedBounds(dist);
  return untransform(dist, lo + (hi - lo) * rng.next());
}
