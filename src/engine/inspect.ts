/**
 * Readers of the store: sweep status, results tables. One more reader like the dashboard; the
 * status files come first, the launcher only explains what they cannot.
 */
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import { ConfigFloat, pyFloatRepr } from "../plan/float.js";
import { configToJson } from "../plan/serialize.js";
import type { Launcher } from "../launchers/launcher.js";
import type { RunEntry, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { countStates, deriveStatus, factsMessage, type LivenessFacts } from "../store/status.js";
import { isHeadJob, readManifest, readRunStatus, runDirOf, workOf } from "../store/store.js";
import type { RunView } from "./events.js";
import { hostname } from "node:os";
import { pidAlive } from "../store/fsutil.js";
import { readRunMetrics } from "../store/metrics.js";

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

const csvCell = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function formatResults(t: ResultsTable, format: "csv" | "json" | "md" | "table"): string {
  // Floats stay floats (`1.0`), as in each run's config.yaml.
  if (format === "json") return configToJson(t.rows as ConfigValue) + "\n";
  const grid = t.rows.map((r) => t.columns.map((c) => cell(r[c])));
  if (format === "csv") return [t.columns, ...grid].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
  if (format === "md") {
    const esc = (s: string): string => s.replace(/\|/g, "\\|");
    return [
      `| ${t.columns.map(esc).join(" | ")} |`,
      `| ${t.columns.map((c) => (t.metricColumns.includes(c) || c === "run" ? "---:" : "---")).join(" | ")} |`,
      ...grid.map((row) => `| ${row.map(esc).join(" | ")} |`),
    ].join("\n") + "\n";
  }
  const widths = t.columns.map((c, i) => Math.max(c.length, ...grid.map((row) => row[i]!.length)));
  const line = (row: string[]): string => row.map((s, i) => s.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(t.columns), line(widths.map((w) => "-".repeat(w))), ...grid.map(line)].join("\n") + "\n";
}
