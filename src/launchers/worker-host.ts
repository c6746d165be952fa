/**
 * The launcher side of the worker pair (worker-main.ts runs inside the allocation): write a
 * batch file and start a detached worker on it. Used by the local launcher and SLURM's debug mode.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pidAlive, readJsonSync, writeJsonAtomicSync } from "../store/fsutil.js";
import { WORKER_PID_SUFFIX, type BatchSpec, type WorkerRegistration } from "../store/protocol.js";
import { hostname } from "node:os";

/** Absolute path of the worker entry in the installed package. */
export const WORKER_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../worker/worker-main.js");

export interface SpawnedWorker {
  pid: number;
  log: string;
}

/**
 * A worker registered for `batchFile` that is alive on this host and really runs that batch
 * (its command line names the file: a recycled pid is not mistaken for it). Undefined otherwise.
 */
export function liveWorkerOf(batchFile: string): WorkerRegistration | undefined {
  const reg = readJsonSync<WorkerRegistration>(batchFile + WORKER_PID_SUFFIX);
  if (!reg || typeof reg.pid !== "number" || reg.host !== hostname() || !pidAlive(reg.pid)) return undefined;
  try {
    if (!readFileSync(`/proc/${reg.pid}/cmdline`, "utf8").split("\0").includes(batchFile)) return undefined;
  } catch {
    /* no /proc (not Linux): trust the live pid */
  }
  return reg;
}

/** Write a batch file and start a detached worker on it. Shared with SLURM's debug mode. */
export function spawnWorker(batch: BatchSpec, dir: string, name: string, extraEnv: Record<string, string> = {}): SpawnedWorker {
  mkdirSync(dir, { recursive: true });
  const batchFile = path.join(dir, `${name}.json`);
  writeJsonAtomicSync(batchFile, batch);
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  // detached: the worker gets its own session, so Ctrl+C in the terminal reaches only `corral`,
  // which then asks the worker to stop (graceful first, immediate on a second Ctrl+C).
  const child = spawn(process.execPath, [WORKER_MAIN, batchFile], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...extraEnv },
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start the corral worker (${process.execPath} ${WORKER_MAIN})`);
  // Registered at once (the worker writes the same as it starts): recover() finds it even if
  // this process dies before the manifest records the job.
  const reg: WorkerRegistration = { pid: child.pid, host: hostname(), startedAt: Date.now() };
  try {
    writeJsonAtomicSync(batchFile + WORKER_PID_SUFFIX, reg);
  } catch {
    /* the worker registers itself too */
  }
  return { pid: child.pid, log };
}

