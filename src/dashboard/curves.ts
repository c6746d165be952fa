/**
 * Curves of several runs on one chart: one metric's downsampled series for each of up to
 * CURVES_MAX runs in one answer, and the "most informative" metric a chart or the compare view
 * opens on. The series come from the same incremental readers as /api/metrics (min/max per
 * bucket), so a chart of 50 runs costs 50 downsampled series, never the files.
 */
import { MinMaxSeries } from "../store/metrics.js";
import type { SweepManifest } from "../store/protocol.js";
import type { RunRow } from "./live.js";

/** Most runs one curves answer carries; the page says when the selection was cut. */
export const CURVES_MAX = 50;

/** Most points of one run's curve in a curves answer (50 runs x 1,000 points; a chart is ~1,000 px wide). */
export const CURVE_POINTS = 1000;

/** A downsampled series thinned again to at most CURVE_POINTS (min/max per bucket: spikes stay). */
export function thin(points: ReadonlyArray<[number, number]>, max = CURVE_POINTS): Array<[number, number]> {
  if (points.length <= max) return [...points];
  const m = new MinMaxSeries(Math.floor(max / 8));
  for (const [x, y] of points) m.add(x, y);
  return m.points();
}

/** Keys that count steps or time: never the metric a chart opens on. */
const COUNTER = /^(_.*|step|global_step|steps|epoch|epochs|iter|iters|iteration|iterations|batch|batch_idx|sample|samples|time|timestamp|wall_time|walltime|elapsed|runtime|duration|lr|learning_rate)$|(_step|_epoch|_time|_timestamp|_seconds|_secs)$/i;

/** Keys read as a run's wall clock, in this order (the first one a run logs is used). */
export const TIME_KEYS = ["time", "wall_time", "walltime", "timestamp", "elapsed", "runtime", "time_s"];

export interface Informative {
  metric: string | undefined;
  /** Why this one: `objective` (the study's), `spread`, `only`, or `none`. */
  why: "objective" | "spread" | "only" | "none";
  /** spread: (max − min) / (|max| + |min|) of the runs' final values. */
  score?: number;
}

/**
 * The metric a chart of this sweep opens on. A study's objective when its runs log it; else,
 * among the numeric metrics at least half the runs logged (step-, epoch- and time-like keys left
 * out), the one whose final values differ most across runs relative to their size:
 * (max − min) / (|max| + |min|), which is 0 when every run ends equal and 1 when values span
 * from 0 (or change sign); ties go to the metric more runs logged, then to name order.
 */
export function mostInformative(rows: readonly RunRow[], metricColumns: readonly string[], manifest?: Pick<SweepManifest, "search">): Informative {
  const objective = manifest?.search?.objective.metric;
  if (objective && rows.some((r) => typeof r.metrics[objective] === "number")) return { metric: objective, why: "objective" };
  const candidates = metricColumns.filter((m) => !COUNTER.test(m));
  let best: { metric: string; score: number; n: number } | undefined;
  for (const m of candidates) {
    const vs = rows.map((r) => r.metrics[m]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (vs.length * 2 < rows.length || !vs.length) continue;
    const lo = Math.min(...vs);
    const hi = Math.max(...vs);
    const denom = Math.abs(hi) + Math.abs(lo);
    const score = denom === 0 ? 0 : (hi - lo) / denom;
    if (!best || score > best.score || (score === best.score && vs.length > best.n)) best = { metric: m, score, n: vs.length };
  }
  if (best) return { metric: best.metric, why: candidates.length === 1 ? "only" : "spread", score: best.score };
  const fallback = metricColumns.find((m) => !COUNTER.test(m)) ?? metricColumns.find((m) => m !== "step");
  return fallback ? { metric: fallback, why: "only" } : { metric: undefined, why: "none" };
}

/** Names of metrics lower is better for (losses, errors, perplexities, regrets, costs). */
const LOWER_BETTER = /(^|[-_/.])(loss|nll|err|error|mse|mae|rmse|perplexity|ppl|regret|cost|wer|cer)([-_/.]|$)|loss$/i;

/** The direction a metric is better in, by its name when nothing says otherwise: `min` for loss- and error-like names, else `max`. */
export const likelyMode = (metric: string): "min" | "max" => (LOWER_BETTER.test(metric) ? "min" : "max");

/**
 * A series' value at each x (x ascending), by linear interpolation between its points, clamped
 * at the ends; undefined when the series is empty.
 */
export function valueAt(xs: readonly number[], series: ReadonlyArray<[number, number]>): number[] | undefined {
  if (!series.length) return undefined;
  const pts = [...series].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let j = 0;
  for (const x of xs) {
    while (j + 1 < pts.length && pts[j + 1]![0] <= x) j++;
    const a = pts[j]!;
    const b = pts[j + 1];
    if (x <= pts[0]![0]) out.push(pts[0]![1]);
    else if (!b) out.push(a[1]);
    else out.push(b[0] === a[0] ? a[1] : a[1] + ((x - a[0]) * (b[1] - a[1])) / (b[0] - a[0]));
  }
  return out;
}

/**
 * Wall-clock seconds at each x, from a run's time series (x, time) by linear interpolation
 * (clamped at the ends), counted from the run's first logged time.
 */
export function timeAt(xs: readonly number[], time: ReadonlyArray<[number, number]>): number[] | undefined {
  const t = valueAt(xs, time);
  if (!t) return undefined;
  const t0 = Math.min(...time.map((p) => p[1]));
  return t.map((v) => v - t0);
}

/**
 * Keys a run that logs no `step` may count its progress with, in this order (Lightning's and
 * Keras' `epoch`, TensorBoard's `global_step`, hand-written loops' `iter`).
 */
export const STEP_KEYS = ["global_step", "trainer/global_step", "epoch", "iteration", "iter", "batch"];

/**
 * For a run whose rows carry no `step` (its series are against the line number): the first of
 * STEP_KEYS it logs on more than one line, never decreasing, as `{key, series}`; undefined when none.
 */
export function stepKeyOf(series: Readonly<Record<string, ReadonlyArray<[number, number]>>>): { key: string; series: ReadonlyArray<[number, number]> } | undefined {
  for (const key of STEP_KEYS) {
    const s = series[key];
    if (!s || s.length < 2) continue;
    const pts = [...s].sort((a, b) => a[0] - b[0]);
    if (pts.every((p, i) => i === 0 || p[1] >= pts[i - 1]![1])) return { key, series: pts };
  }
  return undefined;
}

/** A run list from the query (`runs=3,5,8`): decimal indices, at most 9 digits each, no repeats. */
export function parseRunList(text: string): number[] | undefined {
  if (!/^\d{1,9}(,\d{1,9})*$/.test(text)) return undefined;
  return [...new Set(text.split(",").map(Number))];
}
