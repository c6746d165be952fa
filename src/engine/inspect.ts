/**
 * Readers of the store: sweep status, results tables. One more reader like the dashboard; the
 * status files come first, the launcher only explains what they cannot.
 */
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import { ConfigFloat, pyFloatRepr } from "../plan/float.js";
import { configToJson } from "../plan/json.js";
import type { Launcher } from "../launchers/launcher.js";
import type { RunEntry, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { countStates, deriveStatus, factsMessage, type LivenessFacts } from "../store/status.js";
import { isHeadJob, readManifest, readRunStatus, runDirOf, workOf } from "../store/store.js";
import type { RunView } from "./events.js";
import { hostname } from "node:os";
import { pidAlive } from "../store/fsutil.js";
import { readRunMetrics } from "../store/metrics.js";
import { csvText, mdTable } from "./table-text.js";

export interface SweepStatus {
  manifest: SweepManifest;
  runs: RunView[];
  counts: Record<RunState, number>;
  total: number;
  /** Set when runs are unfinished but nothing (no worker, job or head) is alive to run them. */
  stalled?: string;
}

/** Status of every run: status files first; ONE launcher query for the runs they cannot explain. */
export async function readSweepStatus(sweepDir: string, launcher: Launcher | undefined, now = Date.now()): Promise<SweepStatus> {
  const manifest = readManifest(sweepDir);
  const records = manifest.runs.map((r) => readRunStatus(runDirOf(manifest, r)));
  const needsExplaining = records.some((rec) => !rec || rec.state === "running" || rec.state === "pending");
  const facts = needsExplaining && launcher ? await launcher.explain(manifest) : new Map<number, LivenessFacts>();
  const runs = manifest.runs.map((r, i) => runView(manifest, r, records[i], deriveStatus(records[i], now, facts.get(r.index) ?? {}), facts.get(r.index)));
  const counts = countStates(runs.map((r) => r.state));
  const stalled = launcher ? await stalledReason(manifest, counts, launcher) : undefined;
  return { manifest, runs, counts, total: runs.length, ...(stalled ? { stalled } : {}) };
}

/**
 * Why unfinished runs will not move: no worker or job of the sweep is alive, and no head that
 * drives it (a detached flow head) either. Undefined when something may still run them.
 */
export async function stalledReason(manifest: SweepManifest, counts: Record<RunState, number>, launcher: Launcher): Promise<string | undefined> {
  const unfinished = counts.pending + counts.running;
  if (unfinished === 0) return undefined;
  const heads = manifest.jobs.filter(isHeadJob);
  const here = hostname();
  // A head on another host cannot be checked from here: assume it drives the sweep.
  if (heads.some((h) => h.host !== here || (h.pid !== undefined && pidAlive(h.pid)))) return undefined;
  if (await launcher.active(workOf(manifest))) return undefined;
  const dead = heads.at(-1);
  const who = dead ? ` (its ${manifest.kind === "flow" ? "flow head" : "head"}, pid ${dead.pid}, is gone)` : " (no worker or job of it is alive)";
  return `nothing is running any more${who}: ${unfinished} run${unfinished === 1 ? "" : "s"} will not finish on ${unfinished === 1 ? "its" : "their"} own; continue with: corral resume ${manifest.dir}`;
}

/**
 * What readers show of one run: its manifest entry, its status record and its derived state;
 * the scheduler's facts, when given, say why a pending run waits (or why it never will start).
 */
export function runView(m: SweepManifest, e: RunEntry, rec: RunStatusRecord | undefined, state: RunState, facts?: LivenessFacts): RunView {
  const v: RunView = {
    index: e.index,
    id: e.id,
    dir: runDirOf(m, e),
    state,
    overrides: e.overrides,
    attempt: rec?.attempt ?? 0,
  };
  if (rec?.exitCode !== undefined) v.exitCode = rec.exitCode;
  if (rec?.host) v.host = rec.host;
  if (rec?.jobId) v.jobId = rec.jobId;
  if (rec?.gpus) v.gpus = rec.gpus;
  if (rec?.startedAt) v.startedAt = rec.startedAt;
  if (rec?.endedAt) v.endedAt = rec.endedAt;
  const note = factsMessage(state, facts);
  if (note) v.message = note;
  else if (rec?.message) v.message = rec.message;
  if (e.job) v.job = e.job;
  return v;
}

export interface ResultsTable {
  columns: string[];
  paramColumns: string[];
  metricColumns: string[];
  rows: Array<Record<string, ConfigValue>>;
}

/**
 * Parameters x last value of each metric, one row per run. `keepFloats`: parameters written as
 * floats (`lr=1.0`) are ConfigFloat, for printing (`corral results`); the library gets numbers.
 */
export function resultsTable(status: SweepStatus, best?: { metric: string; mode: "min" | "max" }, opts: { keepFloats?: boolean } = {}): ResultsTable {
  const paramCols = new Set<string>();
  const metricCols = new Set<string>();
  const rows: Array<Record<string, ConfigValue>> = [];
  // One lookup table, not a search per run: sweeps can hold 100k runs.
  const entries = new Map(status.manifest.runs.map((r) => [r.index, r]));
  for (const run of status.runs) {
    const entry = entries.get(run.index)!;
    const metrics: ConfigMap = readRunMetrics(run.dir);
    for (const k of Object.keys(entry.params)) paramCols.add(k);
    for (const k of Object.keys(metrics)) metricCols.add(k);
    rows.push({ run: run.index, ...(entry.job ? { job: entry.job } : {}), ...(opts.keepFloats ? paramsAsWritten(entry) : entry.params), state: run.state, ...metrics });
  }
  let sorted = rows;
  if (best) {
    const key = best.metric;
    const sign = best.mode === "min" ? 1 : -1;
    sorted = rows
      .filter((r) => (typeof r[key] === "number" || r[key] instanceof ConfigFloat) && Number.isFinite(Number(r[key])))
      .sort((a, b) => sign * (Number(a[key]) - Number(b[key])));
  }
  const hasJob = status.manifest.kind === "flow";
  const columns = ["run", ...(hasJob ? ["job"] : []), ...paramCols, "state", ...metricCols];
  return { columns, paramColumns: [...paramCols], metricColumns: [...metricCols], rows: sorted };
}

/**
 * A run's parameters with floats kept floats: the manifest stores plain numbers (`lr: 1`), its
 * spelled overrides say which were floats (`lr=1.0`), as the run's config.yaml does.
 */
function paramsAsWritten(entry: RunEntry): ConfigMap {
  const out: ConfigMap = { ...entry.params };
  for (const o of entry.overrides) {
    const m = /^[+~]{0,2}([^=@]+)(?:@[^=]*)?=(.*)$/s.exec(o);
    if (!m) continue;
    const v = out[m[1]!];
    // Only whole values need it: 0.1 prints as a float anyway.
    if (typeof v === "number" && Number.isInteger(v) && /^[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)$/.test(m[2]!)) out[m[1]!] = new ConfigFloat(v);
  }
  return out;
}

const cell = (v: ConfigValue | undefined): string => {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (v instanceof ConfigFloat) return pyFloatRepr(v.value);
  // Full precision: the shortest text that reads back as the same number (1796131535.22, 0.1).
  if (typeof v === "number") return String(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};

export function formatResults(t: ResultsTable, format: "csv" | "json" | "md" | "table"): string {
  // Floats stay floats (`1.0`), as in each run's config.yaml.
  if (format === "json") return configToJson(t.rows as ConfigValue) + "\n";
  const grid = t.rows.map((r) => t.columns.map((c) => cell(r[c])));
  if (format === "csv") return csvText([t.columns, ...grid]);
  if (format === "md") return mdTable(t.columns, grid, (i) => t.metricColumns.includes(t.columns[i]!) || t.columns[i] === "run").join("\n") + "\n";
  const widths = t.columns.map((c, i) => Math.max(c.length, ...grid.map((row) => row[i]!.length)));
  const line = (row: string[]): string => row.map((s, i) => s.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(t.columns), line(widths.map((w) => "-".repeat(w))), ...grid.map(line)].join("\n") + "\n";
}

/** Mean, sample standard deviation (n - 1), min and max of one metric over a group's runs. */
export interface MetricStats {
  /** Runs of the group with a finite number for the metric. */
  n: number;
  mean: number;
  /** Undefined for a single value. */
  std?: number;
  min: number;
  max: number;
}

/** `corral results --over seed`: one row per combination of the parameters not averaged over. */
export interface GroupedTable {
  /** The parameters that name a group (every parameter but the `over` ones). */
  keys: string[];
  over: string[];
  metrics: string[];
  rows: Array<{ params: ConfigMap; n: number; stats: Record<string, MetricStats> }>;
}

const groupKey = (v: ConfigValue | undefined): string => (v === undefined ? "\u0000" : v instanceof ConfigFloat ? pyFloatRepr(v.value) : JSON.stringify(v));

/**
 * Group a results table by every parameter but `over` and summarise each metric over the runs
 * of a group (the seeds): n, mean, std, min, max. Groups keep the order of their first run;
 * `best` sorts them by the metric's mean.
 */
export function groupResults(t: ResultsTable, over: string[], best?: { metric: string; mode: "min" | "max" }): GroupedTable {
  const keys = t.paramColumns.filter((k) => !over.includes(k));
  const metrics = t.metricColumns.filter((m) => m !== "step" && t.rows.some((r) => typeof r[m] === "number" || r[m] instanceof ConfigFloat));
  const groups = new Map<string, { params: ConfigMap; runs: Array<Record<string, ConfigValue>> }>();
  for (const r of t.rows) {
    const id = keys.map((k) => groupKey(r[k])).join("\u0001");
    let g = groups.get(id);
    if (!g) {
      const params: ConfigMap = {};
      for (const k of keys) if (r[k] !== undefined) params[k] = r[k]!;
      groups.set(id, (g = { params, runs: [] }));
    }
    g.runs.push(r);
  }
  let rows = [...groups.values()].map((g) => {
    const stats: Record<string, MetricStats> = {};
    for (const m of metrics) {
      const xs = g.runs.map((r) => Number(r[m])).filter((x, i) => (typeof g.runs[i]![m] === "number" || g.runs[i]![m] instanceof ConfigFloat) && Number.isFinite(x));
      if (!xs.length) continue;
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const s: MetricStats = { n: xs.length, mean, min: Math.min(...xs), max: Math.max(...xs) };
      if (xs.length > 1) s.std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
      stats[m] = s;
    }
    return { params: g.params, n: g.runs.length, stats };
  });
  if (best) {
    const sign = best.mode === "min" ? 1 : -1;
    rows = rows.filter((r) => r.stats[best.metric]).sort((a, b) => sign * (a.stats[best.metric]!.mean - b.stats[best.metric]!.mean));
  }
  return { keys, over, metrics, rows };
}

/** Four significant digits for the text table; csv and json keep full precision. */
const short = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));

/**
 * A grouped table as text. csv/json: `<metric>_mean`, `_std`, `_min`, `_max` (and `_n` when some
 * run of a group lacks the metric); table/md: `<metric>` as `mean ± std` and `<metric> min..max`,
 * with `(k/n)` when only k of the group's n runs logged it.
 */
export function formatGrouped(g: GroupedTable, format: "csv" | "json" | "md" | "table"): string {
  if (format === "json" || format === "csv") {
    const partial = new Set(g.metrics.filter((m) => g.rows.some((r) => r.stats[m] && r.stats[m]!.n < r.n)));
    const columns = [...g.keys, "n", ...g.metrics.flatMap((m) => [`${m}_mean`, `${m}_std`, `${m}_min`, `${m}_max`, ...(partial.has(m) ? [`${m}_n`] : [])])];
    const rows = g.rows.map((r) => {
      const o: Record<string, ConfigValue> = { ...r.params, n: r.n };
      for (const m of g.metrics) {
        const s = r.stats[m];
        o[`${m}_mean`] = s ? s.mean : null;
        o[`${m}_std`] = s?.std ?? null;
        o[`${m}_min`] = s ? s.min : null;
        o[`${m}_max`] = s ? s.max : null;
        if (partial.has(m)) o[`${m}_n`] = s?.n ?? 0;
      }
      return o;
    });
    if (format === "json") return configToJson(rows as ConfigValue) + "\n";
    return csvText([columns, ...rows.map((r) => columns.map((c) => (r[c] === null ? "" : cell(r[c]))))]);
  }
  const columns = [...g.keys, "n", ...g.metrics.flatMap((m) => [`${m} (mean ± std)`, `${m} min..max`])];
  const grid = g.rows.map((r) => [
    ...g.keys.map((k) => cell(r.params[k])),
    String(r.n),
    ...g.metrics.flatMap((m) => {
      const s = r.stats[m];
      if (!s) return ["", ""];
      const of = s.n < r.n ? ` (${s.n}/${r.n})` : "";
      return [`${short(s.mean)}${s.std === undefined ? "" : ` ± ${short(s.std)}`}${of}`, `${short(s.min)}..${short(s.max)}`];
    }),
  ]);
  const right = (c: string): boolean => c === "n" || g.metrics.some((m) => c.startsWith(`${m} `));
  if (format === "md") return mdTable(columns, grid, (i) => right(columns[i]!)).join("\n") + "\n";
  const widths = columns.map((c, i) => Math.max(c.length, ...grid.map((row) => row[i]!.length)));
  const line = (row: string[]): string => row.map((s, i) => (right(columns[i]!) ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...grid.map(line)].join("\n") + "\n";
}
