/**
 * One reader of a run's metrics, whatever logged them: the run's own `metrics.jsonl` plus the
 * files TensorBoard, Lightning's CSVLogger and W&B (offline) write in the run folder. Read
 * incrementally: each file's byte offset is remembered, so a second `update()` reads only what
 * was appended, in bounded chunks (a 200 MB file never sits in memory whole). What it keeps:
 * the last value of every key, and (when asked for) a min/max-per-bucket downsampled series of
 * every numeric key for charts. `corral results`, `corral plot` and the dashboard all read
 * through here.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, type Dirent } from "node:fs";
import path from "node:path";
import type { ConfigMap } from "../plan/types.js";
import { openWithin, readRange, realPathOf, type ContainedOpen } from "./contain.js";
import { FOREIGN_METRICS, METRICS } from "./layout.js";
import { decodeCsv, decodeTfRecords, decodeWandbLog, isWandbHeader, type Decoded } from "./metric-formats.js";
import type { MetricsLine } from "./protocol.js";

export type MetricSourceKind = "jsonl" | "tensorboard" | "lightning" | "wandb" | "wandb-jsonl";
/** Sources whose decoder adds the logger's own clock as `wall_time` (metric-formats.ts): a chart axis, not a result. */
const CLOCKED: ReadonlySet<MetricSourceKind> = new Set(["tensorboard", "wandb", "wandb-jsonl"]);

export interface MetricSource {
  kind: MetricSourceKind;
  file: string;
}

/** How deep below the run folder foreign logger files are looked for, and how many entries at most. */
const MAX_DEPTH = 5;
const MAX_ENTRIES = 5000;
const SKIP_DIRS = new Set(["node_modules", "__pycache__", "checkpoints", "media", "artifacts"]);

/**
 * The metric files of a run folder: foreign loggers' files (in path order) and then the run's
 * own metrics.jsonl, so that on a key both write, the run's own value wins. Links are not
 * followed; hidden folders are not entered.
 */
export function findMetricSources(runDir: string, top?: Dirent[]): MetricSource[] {
  const found: MetricSource[] = [];
  let budget = MAX_ENTRIES;
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = depth === 0 && top ? top : readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const parent = path.basename(dir);
    for (const e of entries) {
      if (--budget < 0) return;
      const p = (): string => path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH && !e.name.startsWith(".") && !SKIP_DIRS.has(e.name)) walk(p(), depth + 1);
      } else if (e.isFile()) {
        if (depth === 0 && e.name === METRICS) continue;
        if (FOREIGN_METRICS.tensorboard(e.name)) found.push({ kind: "tensorboard", file: p() });
        else if (depth > 0 && FOREIGN_METRICS.lightning(e.name)) found.push({ kind: "lightning", file: p() });
        else if (FOREIGN_METRICS.wandb(e.name, parent)) found.push({ kind: "wandb", file: p() });
        else if (FOREIGN_METRICS.wandbHistory(e.name)) found.push({ kind: "wandb-jsonl", file: p() });
      }
    }
  };
  walk(runDir, 0);
  // version_10 after version_9.
  found.sort((a, b) => a.file.localeCompare(b.file, undefined, { numeric: true }));
  found.push({ kind: "jsonl", file: path.join(runDir, METRICS) });
  return found;
}

/** Bytes read at a time; a record longer than this doubles it for that read. */
export const CHUNK_BYTES = 4 << 20;

interface SourceState {
  source: MetricSource;
  offset: number;
  /** Rows read so far (the x of rows without a step). */
  count: number;
  last: ConfigMap;
  /** metrics.csv: the header record the rows were read under (a new key rewrites the file). */
  header?: string;
  columns?: string[];
}

/** Chart points kept per metric: at most 2 x BUCKETS buckets of first/min/max/last. */
export const BUCKETS = 500;

/**
 * A streaming min/max-per-bucket downsampler: points arrive in order; each bucket keeps its
 * first, last, smallest and largest point, so spikes survive. When the buckets reach twice the
 * target, neighbours merge (the bucket width doubles): memory stays O(target) however many
 * points arrive, and appended points extend it without re-reading.
 */
export class MinMaxSeries {
  /** Per bucket: n, first x/y, last x/y, min x/y, max x/y. */
  private b: number[][] = [];
  private width = 1;
  count = 0;
  constructor(private readonly target = BUCKETS) {}

  add(x: number, y: number): void {
    this.count++;
    const cur = this.b[this.b.length - 1];
    if (cur && cur[0]! < this.width) {
      cur[0]!++;
      cur[3] = x;
      cur[4] = y;
      if (y < cur[6]!) [cur[5], cur[6]] = [x, y];
      if (y > cur[8]!) [cur[7], cur[8]] = [x, y];
      return;
    }
    this.b.push([1, x, y, x, y, x, y, x, y]);
    if (this.b.length >= 2 * this.target) {
      const merged: number[][] = [];
      for (let i = 0; i < this.b.length; i += 2) {
        const a = this.b[i]!;
        const c = this.b[i + 1];
        if (!c) {
          merged.push(a);
          continue;
        }
        const min = c[6]! < a[6]! ? [c[5]!, c[6]!] : [a[5]!, a[6]!];
        const max = c[8]! > a[8]! ? [c[7]!, c[8]!] : [a[7]!, a[8]!];
        merged.push([a[0]! + c[0]!, a[1]!, a[2]!, c[3]!, c[4]!, min[0]!, min[1]!, max[0]!, max[1]!]);
      }
      this.b = merged;
      this.width *= 2;
    }
  }

  /** The kept points in arrival order (each bucket's first, min, max, last; no point twice). */
  points(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const k of this.b) {
      const cand: Array<[number, number, number]> = [
        [0, k[1]!, k[2]!],
        [1, k[5]!, k[6]!],
        [1, k[7]!, k[8]!],
        [2, k[3]!, k[4]!],
      ];
      // Min and max in the order they came (by x within the bucket).
      if (cand[1]![1] > cand[2]![1]) [cand[1], cand[2]] = [cand[2]!, cand[1]!];
      let prev: [number, number] | undefined;
      for (const [, x, y] of cand) {
        if (prev && prev[0] === x && Object.is(prev[1], y)) continue;
        prev = [x, y];
        out.push(prev);
      }
    }
    return out;
  }
}

/** A downsampled chart series per numeric key, and whether every point's x was a step. */
export interface SeriesSet {
  x: "step" | "line";
  series: Record<string, Array<[number, number]>>;
}

export interface RunMetricsOptions {
  /** Read only files whose real path lies inside this folder (the dashboard: the sweep folder). */
  root?: string;
  /** Keep downsampled series for charts (off: last values only). */
  series?: boolean;
  /** Turn series on, before the first read, when the metric files hold more than this many bytes (a later chart request then reads nothing again). */
  seriesAbove?: number;
  /** Track each numeric key's min and max (`extremes()`). */
  extremes?: boolean;
  chunkBytes?: number;
}

/**
 * What a caller already knows of a run folder this round (the dashboard lists it once for the
 * status file and the metrics): {@link RunMetrics.update} then lists nothing and resolves no path.
 */
export interface RunFolderView {
  /** The folder's entries; undefined when it does not exist (yet). */
  entries: Dirent[] | undefined;
  /** Real path of the folder the reads are confined to (options' `root`). */
  realRoot: string;
  /** The run folder lies inside that root by a path without links (see openWithin's `listed`). */
  plain: boolean;
}

/** The metrics of one run folder, read incrementally. */
export class RunMetrics {
  private states = new Map<string, SourceState>();
  private seriesOn: boolean;
  private ser = new Map<string, MinMaxSeries>();
  private allStep = true;
  private ext = new Map<string, { min: number; max: number }>();
  /** Bytes read in all (tests and benches see that an update reads only what was appended). */
  bytesRead = 0;

  constructor(
    readonly runDir: string,
    private readonly opts: RunMetricsOptions = {},
  ) {
    this.seriesOn = opts.series ?? false;
  }

  get hasSeries(): boolean {
    return this.seriesOn;
  }

  /** Turn chart series on; what was read before without them is read again. */
  enableSeries(): void {
    if (this.seriesOn) return;
    this.seriesOn = true;
    this.reset();
  }

  /** Drop chart series (to free memory); last values stay. */
  disableSeries(): void {
    this.seriesOn = false;
    this.ser.clear();
  }

  private reset(): void {
    this.states.clear();
    this.ser.clear();
    this.ext.clear();
    this.allStep = true;
  }

  /**
   * Read what was appended to every metric file since the last call; true if anything new came.
   * Each file is opened once a call (its size from the open descriptor).
   */
  update(view?: RunFolderView): boolean {
    let sources = findMetricSources(this.runDir, view ? (view.entries ?? []) : undefined);
    const jsonl = view?.entries?.find((e) => e.name === METRICS);
    // Listed and not there: no open that can only fail.
    if (view && !jsonl) sources = sources.filter((s) => s.kind !== "jsonl");
    const realRoot = view?.realRoot ?? (this.opts.root !== undefined ? realPathOf(this.opts.root) : undefined);
    if (this.opts.root !== undefined && realRoot === undefined) return false;
    const open: Array<{ source: MetricSource; fd: number; size: number }> = [];
    try {
      for (const source of sources) {
        // Foreign files were found as plain files in plain folders; metrics.jsonl may be a link.
        const listed = view !== undefined && view.plain && (source.kind !== "jsonl" || jsonl?.isFile() === true);
        const o: ContainedOpen = realRoot !== undefined ? openWithin(realRoot, source.file, { listed }) : openPlain(source.file);
        if (o.kind === "ok") open.push({ source, fd: o.fd, size: o.size });
      }
      if (!this.seriesOn && this.opts.seriesAbove !== undefined && this.states.size === 0) {
        if (open.reduce((n, f) => n + f.size, 0) > this.opts.seriesAbove) this.seriesOn = true;
      }
      let changed = false;
      for (let again = true; again; ) {
        again = false;
        for (const { source, fd, size } of open) {
          let st = this.states.get(source.file);
          if (st && (size < st.offset || (source.kind === "lightning" && this.headerOf(fd) !== st.header))) {
            // Truncated (a new attempt) or rewritten (Lightning adds a column by rewriting the file).
            if (this.seriesOn) {
              this.reset();
              again = true;
              break;
            }
            st = undefined;
          }
          if (!st) {
            st = { source, offset: 0, count: 0, last: {} };
            this.states.set(source.file, st);
            changed = true;
          }
          if (size > st.offset && this.readFrom(st, fd, size)) changed = true;
        }
      }
      return changed;
    } finally {
      for (const f of open) closeSync(f.fd);
    }
  }

  /** Last value of every key, over all sources (the run's own metrics.jsonl last, so it wins). */
  last(): ConfigMap {
    const out: ConfigMap = {};
    const states = [...this.states.values()].sort((a, b) => (a.source.kind === "jsonl" ? 1 : 0) - (b.source.kind === "jsonl" ? 1 : 0));
    for (const st of states) {
      if (!CLOCKED.has(st.source.kind)) Object.assign(out, st.last);
      else {
        // A foreign logger's `wall_time` is the event's clock (seconds since the epoch), read as
        // the time axis of charts (series), not a result: the app did not log it as one.
        const { wall_time: _clock, ...logged } = st.last;
        Object.assign(out, logged);
      }
    }
    return out;
  }

  /** The downsampled series read so far (enableSeries first). */
  series(): SeriesSet {
    const series: Record<string, Array<[number, number]>> = {};
    for (const [k, s] of this.ser) series[k] = s.points();
    return { x: this.allStep ? "step" : "line", series };
  }

  /** Smallest and largest finite value of every numeric key (every source). */
  extremes(): Map<string, { min: number; max: number }> {
    return this.ext;
  }

  /** Which kinds of metric files were found. */
  sources(): MetricSource[] {
    return [...this.states.values()].map((s) => s.source);
  }

  private headerOf(fd: number): string | undefined {
    const buf = this.readAt(fd, 0, 65536);
    return buf ? decodeCsv(buf, undefined, { headerOnly: true }).header?.text : undefined;
  }

  private readAt(fd: number, start: number, len: number): Buffer | undefined {
    try {
      const buf = readRange(fd, start, start + len);
      this.bytesRead += buf.length;
      return buf;
    } catch {
      return undefined;
    }
  }

  private feed(st: SourceState, row: MetricsLine): void {
    if (!this.seriesOn && !this.opts.extremes) {
      // The common case, kept cheap: a 200 MB file is millions of rows.
      Object.assign(st.last, row);
      st.count++;
      return;
    }
    const x = typeof row.step === "number" && Number.isFinite(row.step) ? row.step : undefined;
    for (const [k, v] of Object.entries(row)) {
      if (v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v))) continue;
      st.last[k] = v as ConfigMap[string];
      if (this.opts.extremes && typeof v === "number" && Number.isFinite(v)) {
        const e = this.ext.get(k);
        if (!e) this.ext.set(k, { min: v, max: v });
        else if (v < e.min) e.min = v;
        else if (v > e.max) e.max = v;
      }
      if (!this.seriesOn || typeof v !== "number" || k === "step") continue;
      let s = this.ser.get(k);
      if (!s) this.ser.set(k, (s = new MinMaxSeries()));
      if (x === undefined) this.allStep = false;
      s.add(x ?? st.count, v);
    }
    st.count++;
  }

  /** Read [offset, size) of one source in chunks; false when no complete record was there. */
  private readFrom(st: SourceState, fd: number, size: number): boolean {
    let chunk = this.opts.chunkBytes ?? CHUNK_BYTES;
    let any = false;
    const kind = st.source.kind;
    if (kind === "wandb" && st.offset === 0) {
      const head = this.readAt(fd, 0, 7);
      if (!head || !isWandbHeader(head)) return false;
      st.offset = 7;
    }
    while (st.offset < size) {
      const len = Math.min(chunk, size - st.offset);
      const buf = this.readAt(fd, st.offset, len);
      if (!buf?.length) break;
      const atEnd = st.offset + buf.length >= size;
      const got = this.decode(st, buf, atEnd);
      for (const row of got.rows) this.feed(st, row);
      if (got.rows.length) any = true;
      if (got.used === 0) {
        // One record longer than the chunk: read more at once, unless the file ends here.
        if (atEnd) break;
        chunk *= 2;
        continue;
      }
      st.offset += got.used;
    }
    return any;
  }

  private decode(st: SourceState, buf: Buffer, atEnd: boolean): Decoded {
    switch (st.source.kind) {
      case "tensorboard":
        return decodeTfRecords(buf);
      case "wandb":
        return decodeWandbLog(buf, st.offset);
      case "lightning": {
        const got = decodeCsv(buf, st.columns);
        if (got.header) {
          st.header = got.header.text;
          st.columns = got.header.columns;
        }
        return got;
      }
      case "wandb-jsonl":
        return decodeLines(buf, atEnd, (line) => {
          const o = jsonObject(line);
          if (!o) return undefined;
          const row: MetricsLine = typeof o._step === "number" ? { step: o._step } : {};
          for (const [k, v] of Object.entries(o)) if (!k.startsWith("_")) row[k] = v;
          if (typeof o._timestamp === "number") row.wall_time = o._timestamp;
          return row;
        });
      default:
        return decodeLines(buf, atEnd, jsonObject);
    }
  }
}

function jsonObject(line: string): MetricsLine | undefined {
  if (!line.trim()) return undefined;
  try {
    const o = JSON.parse(line) as unknown;
    return o && typeof o === "object" && !Array.isArray(o) ? (o as MetricsLine) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Complete lines of a chunk through `parse`. A last line without its newline is taken only at
 * the end of the file and only when it parses (a JSON object cannot be extended): a line
 * being written waits for the next read.
 */
function decodeLines(buf: Buffer, atEnd: boolean, parse: (line: string) => MetricsLine | undefined): Decoded {
  const lastNl = buf.lastIndexOf(10);
  const text = buf.toString("utf8", 0, lastNl + 1);
  const rows: MetricsLine[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    const line = text.slice(pos, nl);
    pos = nl + 1;
    const row = parse(line);
    if (row) rows.push(row);
  }
  let used = Buffer.byteLength(text);
  if (atEnd && lastNl + 1 < buf.length) {
    const tail = buf.toString("utf8", lastNl + 1);
    const row = tail.trim().endsWith("}") ? parse(tail) : undefined;
    if (row) {
      rows.push(row);
      used = buf.length;
    }
  }
  return { rows, used: lastNl + 1 === 0 && !rows.length ? 0 : used };
}

/** Last value of every metric of a run folder, every source, read in bounded chunks. */
export function readRunMetrics(runDir: string, opts: RunMetricsOptions = {}): ConfigMap {
  const m = new RunMetrics(runDir, opts);
  m.update();
  return m.last();
}

/** Open a file with no confinement (`corral results`, `corral plot`: the user's own folders). */
function openPlain(file: string): ContainedOpen {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO of that name must not hang the read.
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return { kind: "missing" };
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile()) return { kind: "ok", fd, size: st.size };
  } catch {
    /* gone */
  }
  closeSync(fd);
  return { kind: "missing" };
}
