/**
 * TPE (Bergstra et al. 2011) as Optuna 3.1's TPESampler does it by default (univariate):
 *
 * 1. Until `nStartupTrials` trials are complete or pruned, sample at random (the random sampler
 *    with the same seed: the startup trials are exactly random search's).
 * 2. Rank the trials: complete ones by value, then pruned ones (deeper step first, then by their
 *    last reported value), then running ones (constant liar: a running trial counts as the worst,
 *    so two workers asking at once are steered apart). Failed trials are left out.
 * 3. The best gamma(n) = min(ceil(0.1 n), 25) are "below" (good), the rest "above".
 * 4. Per parameter, fit a Parzen estimator l(x) to the good values and g(x) to the rest: a
 *    mixture of truncated normals in the transformed space (log for `log`, widened half a step
 *    for ints and steps) with a prior component (weight 1) at the middle, bandwidths from the gaps
 *    between sorted neighbours, clipped by the "magic clip"; categorical weights smoothed by the
 *    prior. Older observations weigh less past 25 (Optuna's default_weights).
 * 5. Draw 24 candidates from l(x), keep the one maximising log l(x) - log g(x).
 *
 * Optuna 3.1's truncated-normal log density lacks the -log(sigma) term (its copy of SciPy's code
 * dropped it; fixed in Optuna 3.5, optuna#5109), which favours the wide components and makes
 * l(x)/g(x) sharper near good points. That is the default here, as the reference the bench
 * compares with; `normalizedDensity: true` gives the corrected mixture of Optuna >= 3.5.
 * PURE: each draw comes from the seed, the trial number and the parameter name.
 */
import { rngFor, type Rng } from "./prng.js";
import { randomSampler, transformedBounds, untransform } from "./random.js";
import { logGaussMass, normalLogPdf, ppf } from "./truncnorm.js";
import type { Direction, Distribution, ParamValue, Params, Sampler, SearchSpace, TrialRecord } from "./types.js";

/** Options of the TPE sampler; defaults are Optuna 3.1's. */
export interface TpeOptions {
  /** @default 0 */
  seed?: number;
  /** Whether a lower or a higher objective is better. @default "min" */
  direction?: Direction;
  /** Trials sampled at random before TPE starts. @default 10 */
  nStartupTrials?: number;
  /** Candidates drawn from l(x) per parameter. @default 24 */
  nEiCandidates?: number;
  /** Count the running trials among the bad ones (Optuna's constant_liar). @default true */
  constantLiar?: boolean;
  /** Weight of the prior component. @default 1 */
  priorWeight?: number;
  /** Size of the good group for n finished trials. @default min(ceil(0.1 n), 25) */
  gamma?: (n: number) => number;
  /** Include -log(sigma) in each component's density, as Optuna >= 3.5 does. @default false (Optuna 3.1) */
  normalizedDensity?: boolean;
}

/** Optuna's default_gamma. */
export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/** Optuna's default_weights: flat, with a ramp down for all but the newest 25 observations. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  // numpy.linspace(1/n, 1, n - 25), then 25 ones.
  const m = n - 25;
  const ramp = Array.from({ length: m }, (_, i) => (m === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (m - 1)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/** A TPE sampler over `space`. */
export function tpeSampler(space: SearchSpace, opts: TpeOptions = {}): Sampler {
  const seed = opts.seed ?? 0;
  const sign = (opts.direction ?? "min") === "min" ? 1 : -1;
  const nStartup = opts.nStartupTrials ?? 10;
  const nCandidates = opts.nEiCandidates ?? 24;
  const liar = opts.constantLiar ?? true;
  const priorWeight = opts.priorWeight ?? 1;
  const gamma = opts.gamma ?? defaultGamma;
  const normalized = opts.normalizedDensity ?? false;
  const startup = randomSampler(space, { seed });

  return {
    ask(history: readonly TrialRecord[], trialNumber: number): Params {
      const scored = scoreTrials(history, trialNumber, sign, liar);
      const n = scored.filter((t) => t.key[0] !== Infinity).length;
      if (n < nStartup) return startup.ask(history, trialNumber);

      // Stable sort by (step key, value); `below` and `above` keep chronological order.
      const order = scored.map((_, i) => i).sort((i, j) => cmpKey(scored[i]!.key, scored[j]!.key) || i - j);
      const nBelow = gamma(n);
      const isBelow = new Set(order.slice(0, nBelow));
      const below = scored.filter((_, i) => isBelow.has(i));
      const above = scored.filter((_, i) => !isBelow.has(i));

      const params: Params = {};
      for (const { name, dist } of space.params) {
        const obs = (ts: Scored[]): ParamValue[] => ts.filter((t) => name in t.params).map((t) => t.params[name]!);
        const l = parzen(dist, obs(below), priorWeight, normalized);
        const g = parzen(dist, obs(above), priorWeight, normalized);
        const rng = rngFor(seed, trialNumber, name, "tpe");
        let best: { x: number; score: number } | undefined;
        for (let c = 0; c < nCandidates; c++) {
          const x = l.sample(rng);
          const score = l.logPdf(x) - g.logPdf(x);
          // First maximum wins, as numpy.argmax.
          if (best === undefined || score > best.score) best = { x, score };
        }
        params[name] = l.toValue(best!.x);
      }
      return params;
    },
  };
}

interface Scored {
  params: Params;
  /** Optuna's (step, signed value): complete (-inf, v), pruned (-step, v), running (inf, inf). */
  key: [number, number];
}

function scoreTrials(history: readonly TrialRecord[], trialNumber: number, sign: number, liar: boolean): Scored[] {
  const out: Scored[] = [];
  const trials = [...history].filter((t) => t.number !== trialNumber).sort((a, b) => a.number - b.number);
  for (const t of trials) {
    switch (t.state) {
      case "complete":
        // Optuna fails a trial whose objective is NaN.
        if (Number.isNaN(t.value)) break;
        out.push({ params: t.params, key: [-Infinity, sign * t.value] });
        break;
      case "pruned":
        if (t.intermediate === undefined) out.push({ params: t.params, key: [1, 0] });
        else out.push({ params: t.params, key: [-t.intermediate.step, Number.isNaN(t.intermediate.value) ? Infinity : sign * t.intermediate.value] });
        break;
      case "running":
        if (liar) out.push({ params: t.params, key: [Infinity, Infinity] });
        break;
      case "failed":
        break;
    }
  }
  return out;
}

function cmpKey(a: [number, number], b: [number, number]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** A one-dimensional Parzen estimator over a distribution's transformed space. */
export interface Parzen {
  /** A draw, in the transformed space (a category index for categorical). */
  sample(rng: Rng): number;
  logPdf(x: number): number;
  /** A transformed point as the parameter's value. */
  toValue(x: number): ParamValue;
}

function mixtureWeights(n: number, priorWeight: number): number[] {
  const w = [...defaultWeights(n), priorWeight];
  const sum = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / sum);
}

function pick(weights: readonly number[], u: number): number {
  // numpy's choice(p=...): the first index whose cumulative weight exceeds u.
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (u < acc) return i;
  }
  return weights.length - 1;
}

function logSumExp(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** One Parzen estimator (exported for the comparison with Optuna in the unit tests). */
export function parzen(dist: Distribution, observed: ParamValue[], priorWeight: number, normalized: boolean): Parzen {
  const weights = mixtureWeights(observed.length, priorWeight);
  if (dist.type === "categorical") return categoricalParzen(dist, observed, weights, priorWeight);
  const log = dist.log;
  const xs = observed.map((v) => (log ? Math.log(v as number) : (v as number)));
  const [low, high] = transformedBounds(dist);
  // A step (ints not on a log scale, floats with step) makes the density a mass over [x-q/2, x+q/2].
  const q = dist.type === "int" ? (dist.log ? undefined : dist.step) : dist.step;
  const mus = [...xs, 0.5 * (low + high)];
  const sigmas = bandwidths(mus, low, high);
  sigmas[sigmas.length - 1] = high - low;
  const a = mus.map((mu, i) => (low - mu) / sigmas[i]!);
  const b = mus.map((mu, i) => (high - mu) / sigmas[i]!);
  // Each component's mass inside the bounds, computed once (the density divides by it).
  const logAccept = mus.map((_, i) => logGaussMass(a[i]!, b[i]!));
  const toTransformed = (value: number): number => (log ? Math.log(value) : value);
  return {
    sample(rng) {
      const k = pick(weights, rng.next());
      const x = ppf(rng.next(), a[k]!, b[k]!) * sigmas[k]! + mus[k]!;
      // Candidates live on the distribution's grid, as Optuna rounds them before scoring.
      return toTransformed(untransform(dist, x));
    },
    logPdf(x) {
      const terms = mus.map((mu, i) => {
        const s = sigmas[i]!;
        let lp: number;
        if (q === undefined) lp = normalLogPdf(x, mu, s) + (normalized ? 0 : Math.log(s)) - logAccept[i]!;
        else {
          const hi = Math.min(x + q / 2, high);
          const lo = Math.max(x - q / 2, low);
          lp = logGaussMass((lo - mu) / s, (hi - mu) / s) - logAccept[i]!;
        }
        return lp + Math.log(weights[i]!);
      });
      return logSumExp(terms);
    },
    toValue(x) {
      const v = log ? Math.exp(x) : x;
      if (dist.type === "int") return Math.round(v);
      return log ? Math.min(Math.max(v, dist.low), dist.high) : v;
    },
  };
}

/**
 * Optuna's univariate bandwidths: each point's larger gap to its sorted neighbours (the bounds
 * count as neighbours), the outermost ones their inner gap only (consider_endpoints=false), then
 * the magic clip to [(high-low)/min(100, 1+n), high-low].
 */
function bandwidths(mus: readonly number[], low: number, high: number): number[] {
  const idx = mus.map((_, i) => i).sort((i, j) => mus[i]! - mus[j]! || i - j);
  const sorted = [low, ...idx.map((i) => mus[i]!), high];
  const n = mus.length;
  const s = new Array<number>(n);
  for (let k = 0; k < n; k++) s[k] = Math.max(sorted[k + 1]! - sorted[k]!, sorted[k + 2]! - sorted[k + 1]!);
  if (sorted.length >= 4) {
    s[0] = sorted[2]! - sorted[1]!;
    s[n - 1] = sorted[n]! - sorted[n - 1]!;
  }
  const maxS = high - low;
  const minS = (high - low) / Math.min(100, 1 + n);
  const out = new Array<number>(n);
  idx.forEach((orig, k) => (out[orig] = Math.min(Math.max(s[k]!, minS), maxS)));
  return out;
}

function categoricalParzen(dist: Extract<Distribution, { type: "categorical" }>, observed: ParamValue[], weights: number[], priorWeight: number): Parzen {
  const k = dist.choices.length;
  const n = observed.length;
  // One row per observation plus the prior: prior_weight / (n+1) everywhere, +1 at the observed choice.
  const rows = Array.from({ length: n + 1 }, (_, i) => {
    const row = new Array<number>(k).fill(priorWeight / (n + 1));
    if (i < n) {
      const c = dist.choices.indexOf(observed[i]!);
      if (c >= 0) row[c]! += 1;
    }
    const sum = row.reduce((s, x) => s + x, 0);
    return row.map((x) => x / sum);
  });
  const mix = new Array<number>(k).fill(0);
  rows.forEach((row, i) => row.forEach((x, c) => (mix[c]! += weights[i]! * x)));
  return {
    sample(rng) {
      const row = rows[pick(weights, rng.next())]!;
      return pick(row, rng.next());
    },
    logPdf: (x) => Math.log(mix[x]!),
    toValue: (x) => dist.choices[x]!,
  };
}
