/**
 * The dashboard's live model of the store: one more reader of the files every other command
 * reads. A poll round re-reads only what can still change (status files of unfinished runs,
 * metrics files that grew, manifests whose mtime moved) and reports the differences as events.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { ConfigMap } from "../plan/types.js";
import type { RunEntry, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus } from "../store/status.js";
import { locateWithin, readJsonWithin } from "../store/contain.js";
import { listSweeps, MANIFEST, readManifest, STATUS, type SweepRef } from "../store/store.js";
import { RunMetrics } from "../store/metrics.js";

/** One run as the dashboard shows it: manifest facts, derived state, latest metrics. */
export interface RunRow {
  index: number;
  id: string;
  state: RunState;
  attempt: number;
  params: ConfigMap;
  overrides: string[];
  job?: string;
  rule?: string;
  host?: string;
  jobId?: string;
  gpus?: string[];
  startedAt?: number;
  endedAt?: number;
  updatedAt?: number;
  exitCode?: number | null;
  message?: string;
  /** Last value of each key of metrics.jsonl. */
  metrics: ConfigMap;
}

/** A sweep or pipeline in the list: counts by state and progress. */
export interface SweepSummary {
  id: string;
  name?: string;
  kind: "sweep" | "flow";
  dir: string;
  createdAt: number;
  command: string[];
  overrides: string[];
  launcher: string;
  total: number;
  /** Runs in a final state. */
  done: number;
  counts: Record<RunState, number>;
  /** A study: its sampler, budget and objective (the dashboard's study view). */
  study?: { sampler: string; budget: number; objective: { metric: string; mode: "min" | "max" } };
}

/** What changed in one poll round. */
export type DashboardEvent =
  | { type: "sweep"; sweep: SweepSummary }
  | { type: "runs"; sweep: string; runs: RunRow[] }
  | { type: "removed"; sweep: string };

interface Tracked {
  ref: SweepRef;
  manifest: SweepManifest;
  manifestMtime: number;
  rows: RunRow[];
  /** Each run's metrics reader: byte offsets of its metric files, so a round reads what was appended. */
  readers: Array<RunMetrics | undefined>;
  /** The status file said final (derived states like "lost" are re-checked every round). */
  settled: boolean[];
  summarySig: string;
}

const mtimeOf = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
};


/** Runs whose downsampled chart series stay in memory between chart requests (more than a curves chart's 50 runs). */
export const SERIES_KEPT = 64;
/** Metric files larger than this get their chart series in the watcher's first read of them. */
export const SERIES_ABOVE = 8 << 20;

export interface StoreWatcherOptions {
  /** Sweep folders to show even when the project index does not list them. */
  extraSweepDirs?: string[];
  now?: () => number;
}

/** Live model of a project's sweeps; `poll()` is one synchronous round, `start()` repeats it. */
export class StoreWatcher {
  private readonly tracked = new Map<string, Tracked>();
  /** Readers keeping chart series, least recently charted first. */
  private readonly charted = new Set<RunMetrics>();
  private readonly listeners = new Set<(events: DashboardEvent[]) => void>();
  private readonly closers = new Set<() => void>();
  private isClosed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    readonly projectDir: string,
    private readonly opts: StoreWatcherOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Sweeps newest first. */
  sweeps(): SweepSummary[] {
    return [...this.tracked.values()].sort((a, b) => b.ref.createdAt - a.ref.createdAt).map((t) => this.summary(t));
  }

  /** A sweep by id or name; only sweeps the watcher knows are ever returned. */
  get(idOrName: string): { summary: SweepSummary; manifest: SweepManifest; rows: RunRow[] } | undefined {
    const t = this.tracked.get(idOrName) ?? [...this.tracked.values()].find((x) => x.ref.name === idOrName);
    return t ? { summary: this.summary(t), manifest: t.manifest, rows: t.rows } : undefined;
  }

  /**
   * A run's metrics reader with chart series on, brought up to date (only what was appended is
   * read). At most SERIES_KEPT runs keep their series; the least recently charted drops its own.
   */
  seriesOf(idOrName: string, index: number): RunMetrics | undefined {
    const t = this.tracked.get(idOrName) ?? [...this.tracked.values()].find((x) => x.ref.name === idOrName);
    if (!t) return undefined;
    const i = t.manifest.runs.findIndex((r) => r.index === index);
    const e = t.manifest.runs[i];
    const runDir = e ? runDirWithin(t.manifest, e) : undefined;
    if (!e || !runDir) return undefined;
    const reader = (t.readers[i] ??= new RunMetrics(runDir, { root: t.manifest.dir, seriesAbove: SERIES_ABOVE }));
    this.keepSeries(reader);
    reader.enableSeries();
    reader.update();
    return reader;
  }

  /** Mark a reader's series most recently used; the least recently used beyond SERIES_KEPT drop theirs. */
  private keepSeries(reader: RunMetrics): void {
    this.charted.delete(reader);
    this.charted.add(reader);
    for (const old of this.charted) {
      if (this.charted.size <= SERIES_KEPT) break;
      old.disableSeries();
      this.charted.delete(old);
    }
  }

  subscribe(fn: (events: DashboardEvent[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** One poll round: returns (and publishes) what changed since the last. */
  poll(): DashboardEvent[] {
    const events: DashboardEvent[] = [];
    const refs = listSweeps(this.projectDir);
    for (const dir of this.opts.extraSweepDirs ?? []) {
      if (refs.some((r) => path.resolve(r.dir) === path.resolve(dir))) continue;
      try {
        const m = readManifest(dir);
        refs.push({ id: m.id, dir: m.dir, kind: m.kind, createdAt: m.createdAt, ...(m.name ? { name: m.name } : {}) });
      } catch {
        // not (or no longer) a sweep folder
      }
    }
    const seen = new Set<string>();
    for (const ref of refs) {
      seen.add(ref.id);
      const ev = this.refreshSweep(ref);
      events.push(...ev);
    }
    for (const id of [...this.tracked.keys()]) {
      if (!seen.has(id)) {
        this.tracked.delete(id);
        events.push({ type: "removed", sweep: id });
      }
    }
    if (events.length) for (const fn of this.listeners) fn(events);
    return events;
  }

  /** Poll every `intervalMs` until close(). */
  start(intervalMs = 500): void {
    if (this.timer) return;
    this.poll();
    this.timer = setInterval(() => {
      try {
        this.poll();
      } catch {
        // a half-written or vanished file: the next round sees it whole
      }
    }, intervalMs);
  }

  /** Run `fn` once when the watcher closes (at once if it already has): event streams end then. */
  onClose(fn: () => void): () => void {
    if (this.isClosed) {
      fn();
      return () => undefined;
    }
    this.closers.add(fn);
    return () => this.closers.delete(fn);
  }

  /** Stop polling, end subscribers' streams and drop listeners; safe to call twice. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.isClosed = true;
    this.listeners.clear();
    for (const fn of this.closers) fn();
    this.closers.clear();
  }

  private refreshSweep(ref: SweepRef): DashboardEvent[] {
    const mfile = path.join(ref.dir, MANIFEST);
    const mtime = mtimeOf(mfile);
    let t = this.tracked.get(ref.id);
    if (!t || t.manifestMtime !== mtime) {
      // A sweep.json that is a symlink out of its folder is not this sweep's record.
      if (locateWithin(ref.dir, mfile) === "outside") return [];
      let manifest: SweepManifest;
      try {
        manifest = readManifest(ref.dir);
      } catch {
        return [];
      }
      const old = t;
      const oldRows = new Map((old?.rows ?? []).map((r) => [r.index, r]));
      const oldReaders = new Map((old?.manifest.runs ?? []).map((r, k) => [r.index, old!.readers[k]]));
      t = {
        ref,
        manifest,
        manifestMtime: mtime,
        rows: manifest.runs.map((e) => oldRows.get(e.index) ?? baseRow(e)),
        readers: manifest.runs.map((e) => oldReaders.get(e.index)),
        // A changed manifest (a resume) may reopen finished runs: read every status again.
        settled: manifest.runs.map(() => false),
        summarySig: old?.summarySig ?? "",
      };
      this.tracked.set(ref.id, t);
    }
    const now = this.now();
    const changed: RunRow[] = [];
    t.manifest.runs.forEach((e, i) => {
      if (t.settled[i]) return;
      const runDir = runDirWithin(t.manifest, e);
      if (!runDir) return;
      // Every file a row shows is read only if it really lies inside the sweep folder.
      const root = t.manifest.dir;
      const rec = readJsonWithin<RunStatusRecord>(root, path.join(runDir, STATUS));
      const row = applyStatus(baseRow(e), rec, deriveStatus(rec, now));
      const reader = (t.readers[i] ??= new RunMetrics(runDir, { root, seriesAbove: SERIES_ABOVE }));
      reader.update();
      // A large file's chart series are made in the same pass (counted among those kept).
      if (reader.hasSeries) this.keepSeries(reader);
      row.metrics = reader.last();
      if (JSON.stringify(row) !== JSON.stringify(t.rows[i])) {
        t.rows[i] = row;
        changed.push(row);
      }
      // Final per its own file: its metrics were read after it ended, nothing more can change.
      if (rec && TERMINAL_STATES.has(rec.state)) {
        t.settled[i] = true;
        // Nothing more will be appended: a 100,000-run sweep keeps last values, not readers.
        if (!reader.hasSeries) t.readers[i] = undefined;
      }
    });
    const events: DashboardEvent[] = [];
    const summary = this.summary(t);
    const sig = JSON.stringify(summary);
    if (sig !== t.summarySig) {
      t.summarySig = sig;
      events.push({ type: "sweep", sweep: summary });
    }
    if (changed.length) events.push({ type: "runs", sweep: t.ref.id, runs: changed });
    return events;
  }

  private summary(t: Tracked): SweepSummary {
    const counts = countStates(t.rows.map((r) => r.state));
    const done = t.rows.filter((r) => TERMINAL_STATES.has(r.state)).length;
    const m = t.manifest;
    return {
      id: t.ref.id,
      ...(m.name ? { name: m.name } : {}),
      kind: m.kind,
      dir: m.dir,
      createdAt: m.createdAt,
      command: m.command,
      overrides: m.overrides,
      launcher: m.launcher,
      total: t.rows.length,
      done,
      counts,
      ...(m.search ? { study: { sampler: m.search.sampler, budget: m.search.budget, objective: m.search.objective } } : {}),
    };
  }
}

function baseRow(e: RunEntry): RunRow {
  return {
    index: e.index,
    id: e.id,
    state: "pending",
    attempt: 0,
    params: e.params,
    overrides: e.overrides,
    ...(e.job ? { job: e.job } : {}),
    ...(e.rule ? { rule: e.rule } : {}),
    metrics: {},
  };
}

function applyStatus(row: RunRow, rec: RunStatusRecord | undefined, state: RunState): RunRow {
  row.state = state;
  if (!rec) return row;
  row.attempt = rec.attempt;
  if (rec.host) row.host = rec.host;
  if (rec.jobId) row.jobId = rec.jobId;
  if (rec.gpus?.length) row.gpus = rec.gpus;
  if (rec.startedAt) row.startedAt = rec.startedAt;
  if (rec.endedAt) row.endedAt = rec.endedAt;
  if (rec.exitCode !== undefined) row.exitCode = rec.exitCode;
  if (rec.message) row.message = rec.message;
  return row;
}

/**
 * A run's folder, only if it lies inside its sweep folder, by name and (once it exists) by real
 * path. Manifests are written by corral, but a hand-edited `dir: ../../etc` or a run folder
 * replaced by a symlink to /etc must not turn the dashboard into a file server.
 */
export function runDirWithin(m: SweepManifest, e: RunEntry): string | undefined {
  const root = path.resolve(m.dir);
  const dir = path.resolve(root, e.dir);
  if (!dir.startsWith(root + path.sep)) return undefined;
  return locateWithin(root, dir) === "outside" ? undefined : dir;
}

