/**
 * The local launcher: one detached worker process per submission runs every run with `-j`
 * slots. The worker records each run's state itself, so a killed `corral` loses nothing, and
 * `--detach` is simply not waiting.
 */
import { hostname } from "node:os";
import path from "node:path";
import { pidAlive } from "../../store/fsutil.js";
import type { BatchSpec, JobEntry, SweepManifest } from "../../store/protocol.js";
import type { LivenessFacts } from "../../store/status.js";
import { CorralError } from "../../errors.js";
import { detectGpus } from "../../worker/resources.js";
import type { Launcher, SubmitRequest, ValidateRequest } from "../launcher.js";
import { liveWorkerOf, spawnWorker } from "../worker-host.js";
import { readdirSync, readFileSync } from "node:fs";
import { sweepWorkDir } from "../../store/layout.js";

export class LocalLauncher implements Launcher {
  readonly type = "local";
  private readonly jobEnded: Array<() => void> = [];

  onJobEnd(cb: () => void): void {
    this.jobEnded.push(cb);
  }

  /** GPUs this machine cannot give are refused up front (a run waiting for them would wait for ever). */
  validate(req: ValidateRequest): Promise<void> {
    const most = Math.max(0, ...req.asks.map((a) => (a.gpus !== undefined && Number.isFinite(a.gpus) ? a.gpus : 0)));
    if (most === 0) return Promise.resolve();
    const det = req.settings.gpuIds ? { ids: req.settings.gpuIds, source: "launcher.gpus_available" } : detectGpus(req.env as NodeJS.ProcessEnv);
    if (most > det.ids.length) {
      const a = req.asks.find((x) => x.gpus === most)!;
      return Promise.reject(
        new CorralError("E_RESOURCES", `${a.who} asks for ${most} GPU(s) but this machine offers ${det.ids.length}${det.ids.length ? ` (${det.ids.join(",")}, from ${det.source})` : " (no GPU found: no CUDA_VISIBLE_DEVICES, nvidia-smi lists none)"}`, {
          hint: "lower resources.gpus, list the devices in launcher.gpus_available, or use --launcher slurm",
          ...(a.location ? { location: a.location } : {}),
        }),
      );
    }
    return Promise.resolve();
  }

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
    const w = spawnWorker(batch, sweepWorkDir(sweep.dir), `batch-${batchId}`, { setup: settings.slurm.setup, cwd: sweep.projectDir });
    // The last records are on disk when the worker exits: a waiting loop need not sleep out its poll.
    void w.exited.then(() => {
      for (const cb of this.jobEnded) cb();
    });
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

  /**
   * Workers of the sweep that no job entry records (the process that started them died before
   * writing the manifest): found from their batch files and registrations, alive on this host.
   */
  recover(sweep: SweepManifest): Promise<JobEntry[]> {
    const dir = sweepWorkDir(sweep.dir);
    const known = new Set(sweep.jobs.flatMap((j) => j.batches.map((b) => b.batchId)));
    const out: JobEntry[] = [];
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => /^batch-.+\.json$/.test(f));
    } catch {
      return Promise.resolve(out);
    }
    for (const f of files) {
      const file = path.join(dir, f);
      const w = liveWorkerOf(file);
      if (!w) continue;
      let batch: BatchSpec;
      try {
        batch = JSON.parse(readFileSync(file, "utf8")) as BatchSpec;
      } catch {
        continue;
      }
      if (known.has(batch.batchId)) continue;
      out.push({ jobId: `local-${w.pid}`, launcher: "local", submittedAt: w.startedAt, batches: [{ batchId: batch.batchId, runs: batch.runs.map((r) => r.index) }], pid: w.pid, host: w.host });
    }
    return Promise.resolve(out);
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
