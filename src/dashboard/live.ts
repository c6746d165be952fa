/**
 * The dashboard's live model of the store: one more reader of the files every other command
 * reads. A poll round re-reads only what can still change (status files of unfinished runs,
 * metrics files that grew, manifests whose mtime moved) and reports the differences as events.
 */
import { lstatSync, readdirSync, statSync, type Dirent } from "node:fs";
import path from "node:path";
import type { ConfigMap } from "../plan/types.js";
import type { RunEntry, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus } from "../store/status.js";
import { locateWithin, readWithin, realPathOf } from "../store/contain.js";
import { listSweeps, MANIFEST, parseRunStatus, readManifest, STATUS, type SweepRef } from "../store/store.js";
import { RunMetrics, type RunFolderView } from "../store/metrics.js";

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
  /** A run of a loading sweep whose records are not read yet (its state says `unknown` meanwhile). */
  unread?: true;
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
  /**
   * Runs whose records the dashboard has not read yet (it reads a large sweep a slice at a time
   * after start; they count as `unknown` until then). Absent once every run was read.
   */
  unread?: number;
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
  /** Runs read at least once (a row of one that is not is a placeholder). */
  read: boolean[];
  unread: number;
  /** When its summary was last made (performance.now()). */
  summaryAt: number;
  /** Runs before this index were all read at least once. */
  cursor: number;
  /** The sweep folder's plain sub-folders, listed once for all slices of a load. */
  plainDirs?: Set<string>;
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

/**
 * Runs never read that one round reads at most: `start()` reads this many before it returns (a
 * sweep this size is whole at once, and a larger one's first pages are there), and the rest a
 * slice of SLICE_MS at a time between requests, so the server answers while a 100,000-run sweep
 * loads.
 */
export const READ_SLICE = 2000;
/** How long one loading slice reads before the event loop turns (requests are answered between). */
export const SLICE_MS = 40;
/** While a sweep loads, how often its summary (counts by state, runs unread) is published. */
const SUMMARY_MS = 500;

export interface StoreWatcherOptions {
  /** Sweep folders to show even when the project index does not list them. */
  extraSweepDirs?: string[];
  now?: () => number;
  /** Runs never read that start() and each timed round read at most. @default READ_SLICE */
  readSlice?: number;
  /** How the runs not read at start are read (tests slow a load down to watch a sweep loading). */
  load?: LoadPace;
}

/** The pace of a load: the runs not read at start, read a slice at a time. */
export interface LoadPace {
  /** Runs one slice reads at most. @default as many as SLICE_MS allows */
  sliceRuns?: number;
  /**
   * Awaited before each slice after the first round (tests hold a sweep in the loading state
   * with it and let it go a slice at a time). A load that waits publishes its progress (each
   * loading sweep's summary) before each wait, so a page shows where it stands.
   */
  beforeSlice?: () => Promise<void>;
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
  /** Reading the runs not read yet, a slice at a time (regular rounds wait meanwhile). */
  private loading = false;
  private loadedWaiters: Array<() => void> = [];

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

  /**
   * One poll round: returns (and publishes) what changed since the last. `newRuns`: how many
   * runs never read it reads at most (the others stay placeholders, counted in `unread`).
   */
  poll(newRuns = Infinity): DashboardEvent[] {
    const budget: ReadBudget = { left: newRuns, onlyNew: false, count: 0 };
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
      const ev = this.refreshSweep(ref, budget);
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

  /**
   * Poll every `intervalMs` until close(). The first round reads at most READ_SLICE runs before
   * this returns; runs not read yet are read a slice at a time right after (see whenLoaded).
   */
  start(intervalMs = 500): void {
    if (this.timer) return;
    this.poll(this.opts.readSlice ?? READ_SLICE);
    this.loadRest();
    this.timer = setInterval(() => {
      if (this.loading) return;
      try {
        this.poll(this.opts.readSlice ?? READ_SLICE);
      } catch {
        // a half-written or vanished file: the next round sees it whole
      }
      this.loadRest();
    }, intervalMs);
  }

  /** Runs of known sweeps not read yet. */
  unread(): number {
    let n = 0;
    for (const t of this.tracked.values()) n += t.unread;
    return n;
  }

  /** Resolves once every run of every known sweep has been read (at once when so already). */
  whenLoaded(): Promise<void> {
    if (!this.loading && this.unread() === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.loadedWaiters.push(resolve));
    // After a poll with a budget and no start(): the rest is read now.
    this.loadRest();
    return done;
  }

  /** Read the runs not read yet, a slice per turn of the event loop, and publish them. */
  private loadRest(): void {
    if (this.loading) return;
    if (this.unread() === 0 || this.isClosed) {
      for (const fn of this.loadedWaiters.splice(0)) fn();
      return;
    }
    this.loading = true;
    const pace = this.opts.load ?? {};
    const step = (): void => {
      if (this.isClosed) {
        this.loading = false;
        return;
      }
      const events: DashboardEvent[] = [];
      const budget: ReadBudget = { left: pace.sliceRuns ?? Infinity, onlyNew: true, until: performance.now() + SLICE_MS, count: 0, summary: pace.beforeSlice !== undefined };
      try {
        for (const t of [...this.tracked.values()].sort((a, b) => b.ref.createdAt - a.ref.createdAt)) {
          if (t.unread > 0 && budget.left > 0) events.push(...this.readRuns(t, budget));
        }
      } catch {
        // as a regular round: the next one sees it whole
      }
      if (events.length) for (const fn of this.listeners) fn(events);
      if (this.unread() > 0) {
        next();
        return;
      }
      this.loading = false;
      for (const fn of this.loadedWaiters.splice(0)) fn();
    };
    const next = (): void => {
      if (pace.beforeSlice) void pace.beforeSlice().then(step, step);
      else setImmediate(step);
    };
    next();
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
    for (const fn of this.loadedWaiters.splice(0)) fn();
    for (const fn of this.closers) fn();
    this.closers.clear();
  }

  private refreshSweep(ref: SweepRef, budget: ReadBudget): DashboardEvent[] {
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
      const oldRows = new Map((old?.rows ?? []).flatMap((r, k) => (old!.read[k] ? [[r.index, r] as const] : [])));
      const oldReaders = new Map((old?.manifest.runs ?? []).map((r, k) => [r.index, old!.readers[k]]));
      const read = manifest.runs.map((e) => oldRows.has(e.index));
      t = {
        ref,
        manifest,
        manifestMtime: mtime,
        rows: manifest.runs.map((e) => oldRows.get(e.index) ?? unreadRow(e)),
        readers: manifest.runs.map((e) => oldReaders.get(e.index)),
        // A changed manifest (a resume) may reopen finished runs: read every status again.
        settled: manifest.runs.map(() => false),
        read,
        unread: read.filter((x) => !x).length,
        cursor: 0,
        summaryAt: 0,
        summarySig: old?.summarySig ?? "",
      };
      this.tracked.set(ref.id, t);
    }
    return this.readRuns(t, budget);
  }

  /**
   * Read the runs of a sweep that can still change (and, within the budget, those never read),
   * and report what changed: its summary and the rows.
   */
  private readRuns(t: Tracked, budget: ReadBudget): DashboardEvent[] {
    const now = this.now();
    const changed: RunRow[] = [];
    // Every file a row shows is read only if it really lies inside the sweep folder.
    const root = t.manifest.dir;
    const realRoot = realPathOf(root);
    const open = budget.onlyNew ? Math.min(t.unread, budget.left) : t.manifest.runs.filter((_, i) => !t.settled[i]).length;
    // Run folders that are plain folders of the sweep folder (not links): their files are read
    // without resolving a path (see openWithin's `listed`). Many runs to read (a first poll): one
    // listing of the sweep folder says so for all; a few (later polls): one lstat each.
    // Loading slices share one listing (a folder made since is checked the slow way).
    if (!budget.onlyNew) t.plainDirs = undefined;
    const plainDirs = realRoot && open > PLAIN_LISTING_ABOVE ? (budget.onlyNew ? (t.plainDirs ??= listPlainDirs(root)) : listPlainDirs(root)) : undefined;
    const runs = t.manifest.runs;
    // Runs before the cursor were all read: a loading slice starts there.
    for (let i = budget.onlyNew ? t.cursor : 0; i < runs.length; i++) {
      const e = runs[i]!;
      if (t.settled[i]) continue;
      const fresh = !t.read[i];
      if (fresh) {
        // A loading slice stops after SLICE_MS (looked at every 32 runs): requests wait no longer.
        if (budget.until !== undefined && ++budget.count % 32 === 0 && performance.now() > budget.until) budget.left = 0;
        if (budget.left <= 0) break;
        budget.left--;
        t.read[i] = true;
        t.unread--;
      } else if (budget.onlyNew) continue;
      const plain = realRoot !== undefined && isPlainName(e.dir) && (plainDirs ? plainDirs.has(e.dir) : isPlainDir(path.join(root, e.dir)));
      const runDir = !realRoot ? undefined : plain ? path.join(path.resolve(root), e.dir) : runDirWithin(t.manifest, e);
      if (!runDir || !realRoot) {
        // A run folder that leads out of the sweep (or a sweep folder gone): nothing of it is read.
        if (t.rows[i]!.state === "unknown") changed.push((t.rows[i] = baseRow(e)));
        continue;
      }
      const view: RunFolderView = { entries: listFolder(runDir), realRoot, plain };
      const rec = readStatusWithin(view, runDir);
      const row = applyStatus(baseRow(e), rec, deriveStatus(rec, now));
      const reader = (t.readers[i] ??= new RunMetrics(runDir, { root, seriesAbove: SERIES_ABOVE }));
      reader.update(view);
      // A large file's chart series are made in the same pass (counted among those kept).
      if (reader.hasSeries) this.keepSeries(reader);
      row.metrics = reader.last();
      // A run read for the first time replaces a placeholder: changed, no need to compare.
      if (fresh || JSON.stringify(row) !== JSON.stringify(t.rows[i])) {
        t.rows[i] = row;
        changed.push(row);
      }
      // Final per its own file: its metrics were read after it ended, nothing more can change.
      if (rec && TERMINAL_STATES.has(rec.state)) {
        t.settled[i] = true;
        // Nothing more will be appended: a 100,000-run sweep keeps last values, not readers.
        if (!reader.hasSeries) t.readers[i] = undefined;
      }
    }
    while (t.cursor < runs.length && t.read[t.cursor]) t.cursor++;
    if (t.unread === 0) t.plainDirs = undefined;
    const events: DashboardEvent[] = [];
    // Counting a 100,000-run sweep's states after each slice of a load would cost more than the
    // load: its summary goes out every SUMMARY_MS then, and once it is whole.
    if (!budget.onlyNew || budget.summary || t.unread === 0 || performance.now() - t.summaryAt >= SUMMARY_MS) {
      t.summaryAt = performance.now();
      const summary = this.summary(t);
      const sig = JSON.stringify(summary);
      if (sig !== t.summarySig) {
        t.summarySig = sig;
        events.push({ type: "sweep", sweep: summary });
      }
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
      ...(t.unread ? { unread: t.unread } : {}),
    };
  }
}

/** What a round may read: how many runs never read yet, and whether only those. */
interface ReadBudget {
  left: number;
  onlyNew: boolean;
  /** performance.now() after which no more runs never read are read this round. */
  until?: number;
  /** Runs never read that were looked at this round. */
  count: number;
  /** Publish each sweep's summary after this slice (a paced load: the next slice may be far off). */
  summary?: boolean;
}

/** The row of a run not read yet: its manifest facts, state unknown. */
function unreadRow(e: RunEntry): RunRow {
  const row = baseRow(e);
  row.state = "unknown";
  row.message = NOT_READ;
  row.unread = true;
  return row;
}
const NOT_READ = "not read yet: the dashboard is reading this sweep";

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

/** Runs to read in one round above which the sweep folder is listed once instead of an lstat per run folder. */
const PLAIN_LISTING_ABOVE = 64;

/** A run folder named by one plain component (no separator, not `.` or `..`). */
const isPlainName = (dir: string): boolean => dir !== "" && dir !== "." && dir !== ".." && !dir.includes("/") && !dir.includes(path.sep);

/** Names of the sub-folders of `dir` that are folders, not links to one. */
function listPlainDirs(dir: string): Set<string> {
  try {
    return new Set(
      readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name),
    );
  } catch {
    return new Set();
  }
}

function isPlainDir(dir: string): boolean {
  return lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
}

/** A folder's entries; undefined when it is not there (a run not started). */
function listFolder(dir: string): Dirent[] | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
}

/**
 * A run's status record as `corral status` reads it (one that cannot be parsed is `unknown`,
 * with the reason); undefined when it has none, or when its status.json leads out of the sweep.
 */
function readStatusWithin(view: RunFolderView, runDir: string): RunStatusRecord | undefined {
  const entry = view.entries?.find((d) => d.name === STATUS);
  if (!entry) return undefined;
  const file = path.join(runDir, STATUS);
  const r = readWithin(view.realRoot, file, undefined, { realRoot: view.realRoot, listed: view.plain && entry.isFile() });
  return r.kind === "ok" ? parseRunStatus(r.data.toString("utf8"), file) : undefined;
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

