/**
 * The launcher side of the worker pair (worker-main.ts runs inside the allocation): write a
 * batch file and start a detached worker on it. Used by the local launcher and SLURM's debug mode.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonAtomicSync } from "../store/fsutil.js";
import type { BatchSpec } from "../store/protocol.js";

/** Absolute path of the worker entry in the installed package. */
export const WORKER_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../worker/worker-main.js");

export interface SpawnedWorker {
  pid: number;
  log: string;
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
  return { pid: child.pid, log };
}

