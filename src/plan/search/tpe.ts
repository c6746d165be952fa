/**
 * TPE (Bergstra et al. 2011) as Optuna's TPESampler does it, multivariate by default:
 *
 * 1. Until `nStartupTrials` trials are complete or pruned, sample at random (the random sampler
 *    with the same seed: the startup trials are exactly random search's).
 * 2. Rank the trials: complete ones by value, then pruned ones (deeper step first, then by their
 *    last reported value), then running ones (constant liar: a running trial counts as the worst,
 *    so two workers asking at once are steered apart). Failed trials are left out.
 * 3. The best gamma(n) = min(ceil(0.1 n), 25) are "below" (good), the rest "above".
 * 4. Fit a Parzen estimator l(x) to the good trials and g(x) to the rest: a mixture of truncated
 *    normals in the transformed space (log for `log`, widened half a step for ints and steps)
 *    with a prior component (weight 1) at the middle, bandwidths clipped by the "magic clip";
 *    categorical weights smoothed by the prior. Older observations weigh less past 25 (Optuna's
 *    default_weights).
 *    - multivariate (default; Optuna's `multivariate=True`, Falkner et al. 2018): one kernel per
 *      trial over all parameters at once, so the good region's shape across parameters is kept.
 *      Every kernel of a dimension has the bandwidth of Scott's rule, n^(-1/(d+4)) times a scale:
 *      Corral's scale is 0.3 times the standard deviation of the group's values ("spread"), so the
 *      kernels narrow as the good trials gather; Optuna's is 0.2 times the parameter's range
 *      ("range"), as wide in trial 60 as in trial 11 whatever the spread.
 *    - univariate (Optuna's default, `multivariate: false`): one estimator per parameter, each
 *      observation's bandwidth its larger gap to its sorted neighbours.
 * 5. Draw 24 candidates from l(x), keep the one maximising log l(x) - log g(x).
 *
 * Optuna 3.1's truncated-normal log density lacks the -log(sigma) term (its copy of SciPy's code
 * dropped it; fixed in Optuna 3.5, optuna#5109), which favours the wide components and makes
 * l(x)/g(x) sharper near good points. That is the default here; `normalizedDensity: true` gives
 * the corrected mixture of Optuna >= 3.5. With `multivariate: false` the estimators are Optuna
 * 3.1's default TPE's, with `bandwidth: "range"` its multivariate TPE's (the unit tests compare).
 * PURE: each draw comes from the seed, the trial number and the parameter name (multivariate:
 * the trial number only).
 */
import { rngFor, type Rng } from "./prng.js";
import { randomSampler, transformedBounds, untransform } from "./random.js";
import { logGaussMass, normalLogPdf, ppf } from "./truncnorm.js";
import type { Direction, Distribution, ParamValue, Params, Sampler, SearchSpace, TrialRecord } from "./types.js";

/** Options of the TPE sampler; defaults are Optuna 3.1's but for `multivariate` and `bandwidth`. */
export interface TpeOptions {
  /** @default 0 */
  seed?: number;
  /** Whether a lower or a higher objective is better. @default "min" */
  direction?: Direction;
  /** Trials sampled at random before TPE starts. @default 10 */
  nStartupTrials?: number;
  /** Candidates drawn from l(x) (per parameter when univariate). @default 24 */
  nEiCandidates?: number;
  /** Count the running trials among the bad ones (Optuna's constant_liar). @default true */
  constantLiar?: boolean;
  /** Weight of the prior component. @default 1 */
  priorWeight?: number;
  /** Size of the good group for n finished trials. @default min(ceil(0.1 n), 25) */
  gamma?: (n: number) => number;
  /** Include -log(sigma) in each component's density, as Optuna >= 3.5 does. @default false (Optuna 3.1) */
  normalizedDensity?: boolean;
  /** One joint Parzen estimator over all parameters (Optuna's multivariate=True), else one per parameter. @default true */
  multivariate?: boolean;
  /**
   * The multivariate kernels' scale: `spread`, 0.3 x the standard deviation of the group's values;
   * `range`, Optuna's 0.2 x the parameter's range. Both times n^(-1/(d+4)). @default "spread"
   */
  bandwidth?: JointBandwidthKind;
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
  const multivariate = opts.multivariate ?? true;
  const bandwidth = opts.bandwidth ?? "spread";
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

      if (multivariate) {
        // Trials without every parameter are left out, as Optuna's relative search space does.
        const full = (ts: Scored[]): Params[] => ts.filter((t) => space.params.every(({ name }) => name in t.params)).map((t) => t.params);
        const l = jointParzen(space.params, full(below), priorWeight, normalized, bandwidth);
        const g = jointParzen(space.params, full(above), priorWeight, normalized, bandwidth);
        const rng = rngFor(seed, trialNumber, "tpe-joint");
        let best: { x: number[]; score: number } | undefined;
        for (let c = 0; c < nCandidates; c++) {
          const x = l.sample(rng);
          const score = l.logPdf(x) - g.logPdf(x);
          if (best === undefined || score > best.score) best = { x, score };
        }
        return l.toParams(best!.x);
      }
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

/**
 * One dimension of a Parzen estimator: its components (one per observation, then the prior) in the
 * distribution's transformed space, without their mixture weights.
 */
interface Components {
  /** A draw from component k, on the distribution's grid (a category index for categorical). */
  draw(k: number, rng: Rng): number;
  /** log density (or mass, for steps and categories) of component k at x. */
  logPdf(x: number, k: number): number;
  toValue(x: number): ParamValue;
}

/**
 * The components of one dimension. `bw`: undefined for the univariate bandwidths (gaps to the
 * sorted neighbours); else the multivariate ones, one bandwidth for every observation. Both then
 * go through the magic clip.
 */
function components(dist: Distribution, observed: readonly ParamValue[], priorWeight: number, normalized: boolean, bw?: JointBandwidth): Components {
  if (dist.type === "categorical") return categoricalComponents(dist, observed, priorWeight);
  const log = dist.log;
  const xs = observed.map((v) => (log ? Math.log(v as number) : (v as number)));
  const [low, high] = transformedBounds(dist);
  // A step (ints not on a log scale, floats with step) makes the density a mass over [x-q/2, x+q/2].
  const q = dist.type === "int" ? (dist.log ? undefined : dist.step) : dist.step;
  const mus = [...xs, 0.5 * (low + high)];
  let sigmas: number[];
  if (bw === undefined) sigmas = bandwidths(mus, low, high);
  else {
    // "spread": the sample standard deviation of the observations; "range": Optuna's 0.2 (high - low).
    const spread = bw.kind === "spread" && xs.length > 1 ? SPREAD_FACTOR * sampleSd(xs) : 0.2 * (high - low);
    sigmas = magicClip(mus.map(() => spread * bw.shrink), low, high);
  }
  sigmas[sigmas.length - 1] = high - low;
  const a = mus.map((mu, i) => (low - mu) / sigmas[i]!);
  const b = mus.map((mu, i) => (high - mu) / sigmas[i]!);
  // Each component's mass inside the bounds, computed once (the density divides by it).
  const logAccept = mus.map((_, i) => logGaussMass(a[i]!, b[i]!));
  return {
    draw(k, rng) {
      const x = ppf(rng.next(), a[k]!, b[k]!) * sigmas[k]! + mus[k]!;
      // Candidates live on the distribution's grid, as Optuna rounds them before scoring.
      const v = untransform(dist, x);
      return log ? Math.log(v) : v;
    },
    logPdf(x, k) {
      const mu = mus[k]!;
      const s = sigmas[k]!;
      if (q === undefined) return normalLogPdf(x, mu, s) + (normalized ? 0 : Math.log(s)) - logAccept[k]!;
      const hi = Math.min(x + q / 2, high);
      const lo = Math.max(x - q / 2, low);
      return logGaussMass((lo - mu) / s, (hi - mu) / s) - logAccept[k]!;
    },
    toValue(x) {
      const v = log ? Math.exp(x) : x;
      if (dist.type === "int") return Math.round(v);
      return log ? Math.min(Math.max(v, dist.low), dist.high) : v;
    },
  };
}

/** One Parzen estimator, univariate (exported for the comparison with Optuna in the unit tests). */
export function parzen(dist: Distribution, observed: ParamValue[], priorWeight: number, normalized: boolean): Parzen {
  const weights = mixtureWeights(observed.length, priorWeight);
  const c = components(dist, observed, priorWeight, normalized);
  const logW = weights.map(Math.log);
  return {
    sample: (rng) => c.draw(pick(weights, rng.next()), rng),
    logPdf: (x) => logSumExp(logW.map((lw, k) => lw + c.logPdf(x, k))),
    toValue: (x) => c.toValue(x),
  };
}

/** A Parzen estimator over all parameters at once: each component a product over dimensions. */
export interface JointParzen {
  /** A draw: one point per parameter, in the transformed space, all from the same component. */
  sample(rng: Rng): number[];
  logPdf(x: readonly number[]): number;
  /** A transformed point as the parameters' values. */
  toParams(x: readonly number[]): Params;
}

/** The multivariate bandwidth: Scott's rule n^(-1/(d+4)) times a scale, `kind` saying which. */
interface JointBandwidth {
  kind: JointBandwidthKind;
  /** n^(-1/(d+4)): n observations, d parameters. */
  shrink: number;
}

/**
 * How the multivariate estimator scales its kernels: `spread` (Corral's default), 0.3 times the
 * sample standard deviation of the observations in each dimension (in the transformed space);
 * `range`, Optuna's 0.2 times the parameter's range, whatever the observations' spread.
 */
export type JointBandwidthKind = "spread" | "range";

/** The factor on the observations' standard deviation of the `spread` bandwidth. */
export const SPREAD_FACTOR = 0.3;

function sampleSd(xs: readonly number[]): number {
  const m = xs.reduce((t, x) => t + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((t, x) => t + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * A multivariate Parzen estimator (Optuna's TPESampler(multivariate=True); Falkner et al. 2018,
 * BOHB): one kernel per observation over all parameters, the same bandwidth for every kernel of a
 * numeric dimension, Scott's rule n^(-1/(d+4)) (d parameters, n observations) times a scale, then
 * the magic clip; the prior and categorical dimensions as in the univariate estimator. With
 * `bandwidth: "range"` it is Optuna 3.1's estimator (the unit tests compare the two). Exported for
 * the tests.
 */
export function jointParzen(params: SearchSpace["params"], observed: readonly Params[], priorWeight: number, normalized: boolean, bandwidth: JointBandwidthKind = "spread"): JointParzen {
  const weights = mixtureWeights(observed.length, priorWeight);
  const logW = weights.map(Math.log);
  const bw: JointBandwidth = { kind: bandwidth, shrink: Math.max(observed.length, 1) ** (-1 / (params.length + 4)) };
  const dims = params.map(({ name, dist }) => components(dist, observed.map((p) => p[name]!), priorWeight, normalized, bw));
  return {
    sample(rng) {
      const k = pick(weights, rng.next());
      return dims.map((d) => d.draw(k, rng));
    },
    logPdf: (x) => logSumExp(logW.map((lw, k) => dims.reduce((s, d, i) => s + d.logPdf(x[i]!, k), lw))),
    toParams: (x) => Object.fromEntries(params.map(({ name }, i) => [name, dims[i]!.toValue(x[i]!)])),
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
  const out = new Array<number>(n);
  idx.forEach((orig, k) => (out[orig] = s[k]!));
  return magicClip(out, low, high);
}

/** Optuna's magic clip: bandwidths into [(high-low)/min(100, 1+n), high-low], n the components. */
function magicClip(sigmas: number[], low: number, high: number): number[] {
  const maxS = high - low;
  const minS = (high - low) / Math.min(100, 1 + sigmas.length);
  return sigmas.map((x) => Math.min(Math.max(x, minS), maxS));
}

function categoricalComponents(dist: Extract<Distribution, { type: "categorical" }>, observed: readonly ParamValue[], priorWeight: number): Components {
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
  return {
    draw: (c, rng) => pick(rows[c]!, rng.next()),
    logPdf: (x, c) => Math.log(rows[c]![x]!),
    toValue: (x) => dist.choices[x]!,
  };
}
