/**
 * Packing: runs -> batches (one SLURM array task each) -> array chunks (one `sbatch` each).
 * PURE: plain data in, plain data out.
 */
import { CorralError } from "../errors.js";

/** One array task: the runs one worker executes inside one allocation. */
export interface PackedTask {
  /** Array task id inside its chunk, 0..n-1 (`$SLURM_ARRAY_TASK_ID`). */
  task: number;
  /** Run indexes, in the order given to `packBatches`. */
  runs: number[];
}

/** One `sbatch --array=0-(tasks.length-1)` submission. */
export interface ArrayChunk {
  /** Chunk number, 0..k-1, used in file names (`batch-<chunk>-<task>.json`). */
  chunk: number;
  tasks: PackedTask[];
}

/** Packing options; the SLURM limits come from `scontrol show config` (see launchers/slurm/parse.ts). */
export interface PackOptions {
  /** Runs per array task in all (>= 1). */
  perJob: number;
  /** Runs at once inside one task (1 <= parallel <= perJob). Only validated here; the worker uses it. */
  parallel: number;
  /** SLURM `MaxArraySize`: task ids must stay below it, so at most this many tasks per chunk. */
  maxArraySize: number;
  /** SLURM `MaxJobCount`: slurmctld rejects an array whose tasks would not fit under it. */
  maxJobCount: number;
  /** `%throttle` of the array (>= 1), validated here and rendered by `renderSbatch`. */
  throttle?: number;
  /**
   * Fraction of `MaxJobCount` one chunk may take (0 < f <= 1).
   * @default 0.5 — leaves half of the job table to other users and to finished tasks that stay
   * in it for `MinJobAge`.
   */
  jobCountShare?: number;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new CorralError("E_CONFIG", `${name} must be a positive integer, got ${String(v)}`);
  }
}

/** The most tasks one chunk may hold under the given SLURM limits (>= 1). */
export function maxTasksPerChunk(opts: Pick<PackOptions, "maxArraySize" | "maxJobCount" | "jobCountShare">): number {
  const share = opts.jobCountShare ?? 0.5;
  // slurmctld checks job_count + array size against MaxJobCount at submit time.
  const byJobCount = Math.max(1, Math.floor(opts.maxJobCount * share) - 1);
  return Math.max(1, Math.min(opts.maxArraySize, byJobCount));
}

/**
 * Groups runs `perJob` at a time into array tasks, and tasks into chunks small enough for the
 * cluster's `MaxArraySize` and `MaxJobCount`. Chunks are filled in order and all but the last
 * are full, so the same inputs always give the same layout.
 *
 * Validation (CorralError E_CONFIG, exit 2): `perJob`, `parallel`, `maxArraySize`, `maxJobCount`
 * and `throttle` positive integers; `parallel <= perJob` (more slots than runs in a task would
 * only idle; set per_job to at least parallel); run indexes non-negative integers without
 * duplicates (a duplicate would run the same run twice at once).
 */
export function packBatches(runIndexes: readonly number[], opts: PackOptions): ArrayChunk[] {
  positiveInt("per_job", opts.perJob);
  positiveInt("parallel", opts.parallel);
  positiveInt("MaxArraySize", opts.maxArraySize);
  positiveInt("MaxJobCount", opts.maxJobCount);
  if (opts.throttle !== undefined) positiveInt("throttle", opts.throttle);
  if (opts.jobCountShare !== undefined && !(opts.jobCountShare > 0 && opts.jobCountShare <= 1)) {
    throw new CorralError("E_CONFIG", `jobCountShare must be in (0, 1], got ${String(opts.jobCountShare)}`);
  }
  if (opts.parallel > opts.perJob) {
    throw new CorralError("E_CONFIG", `parallel (${opts.parallel}) is larger than per_job (${opts.perJob})`, {
      hint: "per_job is the number of runs in one job in all, parallel how many of them run at once; set per_job >= parallel",
    });
  }
  const seen = new Set<number>();
  for (const r of runIndexes) {
    if (!Number.isSafeInteger(r) || r < 0) throw new CorralError("E_CONFIG", `run index must be a non-negative integer, got ${String(r)}`);
    if (seen.has(r)) throw new CorralError("E_CONFIG", `run index ${r} appears twice`);
    seen.add(r);
  }

  const perChunk = maxTasksPerChunk(opts);
  const chunks: ArrayChunk[] = [];
  let current: ArrayChunk | undefined;
  for (let i = 0; i < runIndexes.length; i += opts.perJob) {
    if (current === undefined || current.tasks.length >= perChunk) {
      current = { chunk: chunks.length, tasks: [] };
      chunks.push(current);
    }
    current.tasks.push({ task: current.tasks.length, runs: runIndexes.slice(i, i + opts.perJob) });
  }
  return chunks;
}
