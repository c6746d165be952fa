/**
 * Analysis of a sweep's results, PURE (plain data in, plain data out): which parameters a metric
 * depends on (`parameterImportance`, shown by the dashboard and `corral results --importance`),
 * and two sweeps side by side (`compareSweeps`, the dashboard's "two sweeps" view and
 * `corral results A --vs B`).
 */

/** One run as the analysis sees it: its parameters and the metric's value (finite numbers only). */
export interface AnalysisRun {
  params: Record<string, unknown>;
  value: number;
}

export interface ParamImportance {
  param: string;
  /** Distinct values (or bins) the runs fall into. */
  levels: number;
  /** A numeric parameter with more than `MAX_LEVELS` distinct values, cut into quantile bins. */
  binned: boolean;
  /** Fraction of the metric's variance its marginal means explain: between-level / total sum of squares (eta²). */
  explained: number;
  /** `explained`, normalised so that the parameters' importances sum to 1. */
  importance: number;
}

export interface ImportanceResult {
  /** Runs used (those with a finite value). */
  runs: number;
  /** Population variance of the metric over those runs. */
  variance: number;
  /** Parameters with more than one level, most important first (ties by name). */
  params: ParamImportance[];
}

/** More distinct values than this and a numeric parameter is cut into quantile bins. */
export const MAX_LEVELS = 10;

const levelKey = (v: unknown): string => (v === undefined ? "\u0000" : typeof v === "number" ? String(v) : JSON.stringify(v));

/**
 * The level (a value, or a quantile bin) of each run for one parameter. Bins: as many as
 * sqrt(runs), between 2 and MAX_LEVELS, by rank, equal values always in the same bin.
 */
function levelsOf(runs: readonly AnalysisRun[], param: string): { level: string[]; binned: boolean } {
  const raw = runs.map((r) => r.params[param]);
  const distinct = new Set(raw.map(levelKey));
  const numeric = raw.every((v) => typeof v === "number" && Number.isFinite(v));
  if (!numeric || distinct.size <= MAX_LEVELS) return { level: raw.map(levelKey), binned: false };
  const bins = Math.max(2, Math.min(MAX_LEVELS, Math.floor(Math.sqrt(runs.length))));
  const sorted = (raw as number[]).map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i);
  const firstRank = new Map<number, number>();
  sorted.forEach((s, rank) => {
    if (!firstRank.has(s.v)) firstRank.set(s.v, rank);
  });
  return { level: (raw as number[]).map((v) => `bin${Math.floor((firstRank.get(v)! * bins) / runs.length)}`), binned: true };
}

/**
 * Per-parameter importance of a metric, a first-order variance decomposition: for each parameter,
 * the share of the metric's variance explained by the parameter's marginal means (the mean of
 * the metric over the runs at each of its values), i.e. between-group over total sum of squares
 * (eta²); numeric parameters with many values are binned into quantiles first. The shares are
 * then normalised to sum to 1. On a full grid with independent additive effects this recovers
 * each effect's share of the variance exactly; it does not see interactions (a parameter that
 * matters only together with another one) and, with few runs per level, noise adds to every share.
 * Deterministic: no sampling, no model.
 */
export function parameterImportance(runs: readonly AnalysisRun[], params: readonly string[]): ImportanceResult {
  const ok = runs.filter((r) => Number.isFinite(r.value));
  const n = ok.length;
  const mean = n ? ok.reduce((a, r) => a + r.value, 0) / n : 0;
  const total = ok.reduce((a, r) => a + (r.value - mean) ** 2, 0);
  const rows: ParamImportance[] = [];
  for (const p of params) {
    const { level, binned } = levelsOf(ok, p);
    const groups = new Map<string, { sum: number; n: number }>();
    level.forEach((l, i) => {
      const g = groups.get(l) ?? { sum: 0, n: 0 };
      g.sum += ok[i]!.value;
      g.n++;
      groups.set(l, g);
    });
    if (groups.size < 2) continue;
    let between = 0;
    for (const g of groups.values()) between += g.n * (g.sum / g.n - mean) ** 2;
    // Rounding can push a share a hair past 1 when one parameter explains everything, and leave
    // one of ~1e-17 where a parameter's means are all equal: both are rounded to what they are.
    const share = total > 0 ? between / total : 0;
    rows.push({ param: p, levels: groups.size, binned, explained: share < 1e-12 ? 0 : Math.min(1, share), importance: 0 });
  }
  const sum = rows.reduce((a, r) => a + r.explained, 0);
  for (const r of rows) r.importance = sum > 0 ? r.explained / sum : 0;
  rows.sort((a, b) => b.importance - a.importance || (a.param < b.param ? -1 : a.param > b.param ? 1 : 0));
  return { runs: n, variance: n ? total / n : 0, params: rows };
}

/** One side of a two-sweep comparison. */
export interface SweepSide {
  /** Runs with their state and the metric's last value (undefined: not logged). */
  runs: Array<{ index: number; state: string; params: Record<string, unknown>; value?: number }>;
  /** Flattened config (`model.width`: 64) of one run, for the config keys that differ. */
  config: Record<string, unknown>;
}

export interface SweepsCompared {
  metric: string;
  mode: "min" | "max";
  sides: Array<{ runs: number; succeeded: number; withMetric: number; mean?: number; std?: number; best: Array<{ index: number; value: number; params: Record<string, unknown> }> }>;
  /** Parameters swept (more than one value) in both, with the metric's mean at each value on each side. */
  shared: Array<{ param: string; values: Array<{ value: unknown; a?: { mean: number; n: number }; b?: { mean: number; n: number } }> }>;
  /** Config keys whose value differs between the two sweeps, swept parameters left out. */
  configDiff: Array<{ key: string; a?: unknown; b?: unknown }>;
}

/** Flatten a config to dotted keys (`optim.lr`); lists are values. */
export function flattenConfig(v: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flattenConfig(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = v;
  return out;
}

const swept = (runs: SweepSide["runs"]): Set<string> => {
  const seen = new Map<string, Set<string>>();
  for (const r of runs) for (const [k, v] of Object.entries(r.params)) (seen.get(k) ?? seen.set(k, new Set()).get(k)!).add(levelKey(v));
  return new Set([...seen].filter(([, s]) => s.size > 1).map(([k]) => k));
};

/**
 * Two sweeps side by side on one metric: each one's run counts, mean ± std and best `top` runs
 * (succeeded runs only), the metric's mean at each value of every parameter both sweep, and the
 * config keys that differ (apart from the swept parameters).
 */
export function compareSweeps(a: SweepSide, b: SweepSide, metric: string, mode: "min" | "max", top = 3): SweepsCompared {
  const good = (s: SweepSide): Array<SweepSide["runs"][number] & { value: number }> =>
    s.runs.filter((r): r is SweepSide["runs"][number] & { value: number } => r.state === "succeeded" && typeof r.value === "number" && Number.isFinite(r.value));
  const sides = [a, b].map((s) => {
    const g = good(s);
    const mean = g.length ? g.reduce((x, r) => x + r.value, 0) / g.length : undefined;
    const std = g.length > 1 ? Math.sqrt(g.reduce((x, r) => x + (r.value - mean!) ** 2, 0) / (g.length - 1)) : undefined;
    const best = [...g].sort((x, y) => (mode === "min" ? x.value - y.value : y.value - x.value) || x.index - y.index).slice(0, top).map((r) => ({ index: r.index, value: r.value, params: r.params }));
    return { runs: s.runs.length, succeeded: s.runs.filter((r) => r.state === "succeeded").length, withMetric: g.length, ...(mean !== undefined ? { mean } : {}), ...(std !== undefined ? { std } : {}), best };
  });
  const sa = swept(a.runs);
  const sb = swept(b.runs);
  const shared: SweepsCompared["shared"] = [];
  const ga = good(a);
  const gb = good(b);
  for (const p of [...sa].filter((k) => sb.has(k))) {
    const values = new Map<string, { value: unknown; a?: { sum: number; n: number }; b?: { sum: number; n: number } }>();
    for (const [side, rs] of [["a", ga], ["b", gb]] as const) {
      for (const r of rs) {
        const v = r.params[p];
        const k = levelKey(v);
        const e = values.get(k) ?? values.set(k, { value: v }).get(k)!;
        const acc = (e[side] ??= { sum: 0, n: 0 });
        acc.sum += r.value;
        acc.n++;
      }
    }
    const sorted = [...values.values()].sort((x, y) => (typeof x.value === "number" && typeof y.value === "number" ? x.value - y.value : levelKey(x.value) < levelKey(y.value) ? -1 : 1));
    const m = (s?: { sum: number; n: number }): { mean: number; n: number } | undefined => (s ? { mean: s.sum / s.n, n: s.n } : undefined);
    shared.push({ param: p, values: sorted.map((e) => ({ value: e.value, ...(e.a ? { a: m(e.a) } : {}), ...(e.b ? { b: m(e.b) } : {}) })) });
  }
  const configDiff: SweepsCompared["configDiff"] = [];
  const keys = [...new Set([...Object.keys(a.config), ...Object.keys(b.config)])].sort();
  for (const k of keys) {
    if (sa.has(k) || sb.has(k)) continue;
    const x = a.config[k];
    const y = b.config[k];
    if (JSON.stringify(x) !== JSON.stringify(y)) configDiff.push({ key: k, ...(x !== undefined ? { a: x } : {}), ...(y !== undefined ? { b: y } : {}) });
  }
  return { metric, mode, sides, shared, configDiff };
}

/** One trial of a study as the dashboard charts it. */
export interface StudyTrialPoint {
  number: number;
  /** complete (has its objective), pruned (its last reported value, if any), failed, running. */
  state: "complete" | "pruned" | "failed" | "running";
  value?: number;
}

/**
 * Best-so-far of a study's objective after each trial number (by trial number, not by end time):
 * the best value of the complete trials numbered up to it; undefined before the first. Pruned,
 * failed and running trials do not count (a pruned trial's value is from before it finished).
 */
export function bestSoFar(trials: readonly StudyTrialPoint[], mode: "min" | "max"): Array<number | undefined> {
  let best: number | undefined;
  return [...trials]
    .sort((a, b) => a.number - b.number)
    .map((t) => {
      if (t.state === "complete" && t.value !== undefined && Number.isFinite(t.value) && (best === undefined || (mode === "min" ? t.value < best : t.value > best))) best = t.value;
      return best;
    });
}
