/**
 * The launcher side of the worker pair (worker-main.ts runs inside the allocation): write a
 * batch file and start a detached worker on it. Used by the local launcher and SLURM's debug mode.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cmdlineOf, pidAlive, readJsonSync, writeJsonAtomicSync } from "../store/fsutil.js";
import { WORKER_PID_SUFFIX, type BatchSpec, type WorkerRegistration } from "../store/protocol.js";
import { hostname } from "node:os";
import { renderSetup, shellQuote } from "../plan/sbatch.js";

/** Absolute path of the worker entry in the installed package. */
export const WORKER_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../worker/worker-main.js");

/**
 * `CORRAL_WORKER_PREFIX`: a command line put before every worker's own (split on whitespace,
 * never through a shell), to debug or fault-inject the worker itself, for example
 * `strace -f -o /tmp/worker.trace` (docs/reliability.md). Read where the worker is started.
 */
export const WORKER_PREFIX_ENV = "CORRAL_WORKER_PREFIX";
export function workerPrefix(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[WORKER_PREFIX_ENV] ?? "").split(/\s+/).filter((w) => w !== "");
}

export interface SpawnedWorker {
  pid: number;
  log: string;
  /** Settles when the worker process exits (while this process lives to see it). */
  exited: Promise<void>;
}

/**
 * A worker registered for `batchFile` that is alive on this host and really runs that batch
 * (its command line names the file: a recycled pid is not mistaken for it). Undefined otherwise.
 */
export function liveWorkerOf(batchFile: string): WorkerRegistration | undefined {
  const reg = readJsonSync<WorkerRegistration>(batchFile + WORKER_PID_SUFFIX);
  if (!reg || typeof reg.pid !== "number" || reg.host !== hostname() || !pidAlive(reg.pid)) return undefined;
  // (While setup lines run, the worker is still the bash that will exec it, named in its script.)
  // No /proc (not Linux): trust the live pid.
  const args = cmdlineOf(reg.pid);
  if (args && !args.some((arg) => arg === batchFile || arg.includes(` ${batchFile}`) || arg.includes(`'${batchFile}'`))) return undefined;
  return reg;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** The launcher's setup lines, run before the worker starts. */
  setup?: readonly string[];
  /** Working directory of the setup lines and the worker (the project folder, as a batch script's --chdir). */
  cwd?: string;
}

/**
 * Write a batch file and start a detached worker on it. Shared with SLURM's debug mode. With
 * `setup` lines the worker starts from a bash that runs them first (as a batch script does):
 * their `source`/`export` reach the worker and its runs, and the first that fails has the
 * worker record every run failed with it, instead of running them in the wrong environment.
 */
export function spawnWorker(batch: BatchSpec, dir: string, name: string, opts: SpawnOptions = {}): SpawnedWorker {
  const { env: extraEnv = {}, setup = [] } = opts;
  mkdirSync(dir, { recursive: true });
  const batchFile = path.join(dir, `${name}.json`);
  writeJsonAtomicSync(batchFile, batch);
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, "a");
  // detached: the worker gets its own session, so Ctrl+C in the terminal reaches only `corral`,
  // which then asks the worker to stop (graceful first, immediate on a second Ctrl+C).
  const workerArgv = [...workerPrefix(), process.execPath, WORKER_MAIN, batchFile];
  const workerLine = `exec ${workerArgv.map(shellQuote).join(" ")}`;
  const setupLines = renderSetup(setup, workerLine);
  // bash execs the worker, so the recorded pid is the worker's.
  const [cmd, ...args] = setupLines.length ? ["/bin/bash", "--norc", "--noprofile", "-c", [...setupLines, workerLine].join("\n")] : workerArgv;
  const child = spawn(cmd!, args, {
    detached: true,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...extraEnv },
  });
  closeSync(fd);
  child.unref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.pid === undefined) throw new Error(`could not start the corral worker (${workerArgv.join(" ")})`);
  // Registered at once (the worker writes the same as it starts): recover() finds it even if
  // this process dies before the manifest records the job.
  const reg: WorkerRegistration = { pid: child.pid, host: hostname(), startedAt: Date.now() };
  try {
    writeJsonAtomicSync(batchFile + WORKER_PID_SUFFIX, reg);
  } catch {
    /* the worker registers itself too */
  }
  return { pid: child.pid, log, exited };
}

