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
import { CorralError, countOf } from "../../errors.js";
import { detectCpus, detectGpus } from "../../worker/resources.js";
import type { AllocationFacts } from "../../worker/allocation.js";
import type { DoctorCheck, DoctorContext, Launcher, LaunchSettings, SubmitRequest, ValidateRequest } from "../launcher.js";
import { refusalCheck, validateChecks } from "../doctor.js";
import { checkMultinode, nodesOf } from "../settings.js";
import { liveWorkerOf, spawnWorker } from "../worker-host.js";
import { readdirSync, readFileSync } from "node:fs";
import { sweepWorkDir } from "../../store/layout.js";

export class LocalLauncher implements Launcher {
  readonly type = "local";
  private readonly jobEnded: Array<() => void> = [];

  onJobEnd(cb: () => void): void {
    this.jobEnded.push(cb);
  }

  /**
   * @param allocationOf the scheduler allocation this machine's runs would share, if any (a local
   *   sweep inside a SLURM job): its GPUs count as this machine's. The registry passes it in.
   */
  constructor(private readonly allocationOf: (env: NodeJS.ProcessEnv) => AllocationFacts | undefined = () => undefined) {}

  /**
   * CPUs and GPUs this machine cannot give are refused up front (a run waiting for them would
   * wait for ever; its worker would refuse it at each attempt).
   */
  validate(req: ValidateRequest): Promise<void> {
    const cpus = req.settings.cpuIds ?? detectCpus();
    const mostCpus = Math.max(0, ...req.asks.map((a) => (a.cpus !== undefined && Number.isFinite(a.cpus) ? a.cpus : 0)));
    if (mostCpus > cpus.length) {
      const a = req.asks.find((x) => x.cpus === mostCpus)!;
      return Promise.reject(
        new CorralError("E_RESOURCES", `${a.who} asks for ${mostCpus} CPUs but this machine offers ${cpus.length} (${req.settings.cpuIds ? "launcher.cpu_ids" : "its CPU affinity"})`, {
          hint: `lower resources.cpus to ${cpus.length} or less (for example in a local profile), or use --launcher slurm`,
          ...(a.location ? { location: a.location } : {}),
        }),
      );
    }
    const most = Math.max(0, ...req.asks.map((a) => (a.gpus !== undefined && Number.isFinite(a.gpus) ? a.gpus : 0)));
    if (most === 0) return Promise.resolve();
    const env = req.env as NodeJS.ProcessEnv;
    const det = req.settings.gpuIds ? { ids: req.settings.gpuIds, source: "launcher.gpus_available" } : detectGpus(env, { allocation: this.allocationOf(env) });
    if (most > det.ids.length) {
      const a = req.asks.find((x) => x.gpus === most)!;
      return Promise.reject(
        new CorralError("E_RESOURCES", `${a.who} asks for ${countOf(most, "GPU")} but this machine offers ${det.ids.length}${det.ids.length ? ` (${det.ids.join(",")}, from ${det.source})` : " (no GPU found: no CUDA_VISIBLE_DEVICES, nvidia-smi lists none)"}`, {
          hint: "lower resources.gpus, list the devices in launcher.gpus_available, or use --launcher slurm",
          ...(a.location ? { location: a.location } : {}),
        }),
      );
    }
    return Promise.resolve();
  }

  /** What it will do, and what `corral run` would refuse: more nodes than this one, GPUs it lacks. */
  async doctor(settings: LaunchSettings, ctx: DoctorContext): Promise<DoctorCheck[]> {
    const checks: DoctorCheck[] = [{ ok: true, title: "launcher local", detail: `${countOf(settings.parallel, "run")} at once` }];
    // A cluster profile's `nodes`/`multinode` under `--launcher local`: refused as `corral run` refuses it.
    if (settings.multinode || (nodesOf(settings) ?? 1) > 1) {
      try {
        checkMultinode(settings, ctx.file);
      } catch (e) {
        if (!(e instanceof CorralError)) throw e;
        checks.push(refusalCheck(e));
      }
    }
    checks.push(...(await validateChecks(this, settings, ctx)));
    return checks;
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
    const w = spawnWorker(batch, sweepWorkDir(sweep.dir), `batch-${batchId}`, { setup: settings.setup, cwd: sweep.projectDir, env: settings.env ?? {} });
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
