/**
 * The local launcher: one detached worker process per submission runs every run with `-j`
 * slots. The worker records each run's state itself, so a killed `corral` loses nothing, and
 * `--detach` is simply not waiting.
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pidAlive, writeJsonAtomicSync } from "../../store/fsutil.js";
import type { BatchSpec, JobEntry, SweepManifest } from "../../store/protocol.js";
import type { LivenessFacts } from "../../store/status.js";
import type { Launcher, SubmitRequest } from "../launcher.js";

/** Absolute path of the worker entry in the installed package. */
export const WORKER_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../worker/worker-main.js");

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

export class LocalLauncher implements Launcher {
  readonly type = "local";

  async submit(req: SubmitRequest): Promise<JobEntry[]> {
    const { sweep, runs, settings } = req;
    const batchId = `local-${req.round}`;
    const batch: BatchSpec = {
      type: "batch",
      version: 1,
      batchId,
      sweepDir: sweep.dir,
      runs,
      parallel: settings.parallel,
      stagger: settings.stagger,
      killGraceS: settings.killGraceS,
      resources: {
        ...(settings.cpuIds ? { cpuIds: settings.cpuIds } : {}),
        ...(settings.gpuIds ? { gpuIds: settings.gpuIds } : {}),
      },
      verbose: settings.verbose,
      heartbeatS: settings.heartbeatS,
      // On a workstation runs share the CPUs unless they ask for some (resources.cpus).
      pinCpus: false,
    };
    const w = spawnWorker(batch, path.join(sweep.dir, ".corral"), `batch-${batchId}`);
    return [
      {
        jobId: `local-${w.pid}`,
        launcher: "local",
        submittedAt: Date.now(),
        batches: [{ batchId, runs: runs.map((r) => r.index) }],
        pid: w.pid,
        host: hostname(),
      },
    ];
  }

  async explain(sweep: SweepManifest): Promise<Map<number, LivenessFacts>> {
    const facts = new Map<number, LivenessFacts>();
    const host = hostname();
    // Later submissions (resume) supersede earlier ones for the runs they carry.
    for (const job of sweep.jobs.filter((j) => j.launcher === "local")) {
      const alive = job.host === host && job.pid !== undefined ? pidAlive(job.pid) : undefined;
      for (const b of job.batches) {
        for (const i of b.runs) {
          facts.set(i, alive === undefined ? {} : { workerAlive: alive, scheduler: alive ? "pending" : "unknown" });
        }
      }
    }
    return facts;
  }

  async active(sweep: SweepManifest): Promise<boolean> {
    const host = hostname();
    return sweep.jobs.some((j) => j.launcher === "local" && j.host === host && j.pid !== undefined && pidAlive(j.pid));
  }

  async cancel(sweep: SweepManifest, force: boolean): Promise<void> {
    const host = hostname();
    for (const j of sweep.jobs) {
      if (j.launcher !== "local" || j.host !== host || j.pid === undefined || !pidAlive(j.pid)) continue;
      try {
        process.kill(j.pid, force ? "SIGUSR2" : "SIGTERM");
      } catch {
        /* gone */
      }
    }
  }
}
