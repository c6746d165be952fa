/**
 * The SLURM launcher: one `sbatch --array` per chunk of packed batches, the same worker inside
 * every array task, and ONE `squeue` per poll round for the whole sweep. Run state comes from the
 * runs' status files first; the scheduler only explains pending, cancelled, timed-out or lost runs.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { CorralError } from "../../errors.js";
import { multinodeSbatchArgs } from "../../plan/multinode.js";
import { packBatches } from "../../plan/pack.js";
import { batchFilePath, renderSbatch, shellQuote } from "../../plan/sbatch.js";
import { writeJsonAtomicSync } from "../../store/fsutil.js";
import type { BatchSpec, JobEntry, RunState, SweepManifest } from "../../store/protocol.js";
import type { LivenessFacts } from "../../store/status.js";
import type { Launcher, LaunchPreview, LaunchSettings, MultinodeSettings, SubmitRequest, ValidateRequest } from "../launcher.js";
import { spawnWorker, WORKER_MAIN } from "../worker-host.js";
import { CANCEL_MARKER } from "../../worker/batch.js";
import { maxArraySize, maxJobCount, parseSacct, parseSbatchParsable, parseScontrolConfig, parseSqueue, SACCT_FORMAT, SQUEUE_FORMAT } from "./parse.js";
import { slurmCmd } from "./commands.js";

/** Scheduler view of one array task (or plain job). */
interface TaskView {
  state: RunState | undefined;
  slurmState: string;
  reason: string;
  nodes: string;
}

export class SlurmLauncher implements Launcher {
  /** A split of the job's resources between packed runs that can never work. */
  validate(req: ValidateRequest): Promise<void> {
    try {
      if (!req.settings.debug) for (const a of req.asks) checkSlurmSplit({ cpus: a.cpus, gpus: a.gpus }, req.settings);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  readonly type = "slurm";
  private limits: { maxArraySize: number; maxJobCount: number } | undefined;

  private async clusterLimits(): Promise<{ maxArraySize: number; maxJobCount: number }> {
    if (this.limits) return this.limits;
    const r = await slurmCmd("scontrol", ["show", "config"]);
    if (r.code !== 0) throw new CorralError("E_SCHEDULER", `scontrol show config failed: ${r.stderr.trim()}`, { hint: "is slurmctld up? try `sinfo` or `corral doctor`", exitCode: 1 });
    const cfg = parseScontrolConfig(r.stdout);
    this.limits = { maxArraySize: maxArraySize(cfg), maxJobCount: maxJobCount(cfg) };
    return this.limits;
  }

  async submit(req: SubmitRequest): Promise<JobEntry[]> {
    const { sweep, runs, settings } = req;
    const slurmDir = path.join(sweep.dir, ".slurm");
    mkdirSync(slurmDir, { recursive: true });
    // A new submission means the runs are wanted again: a later SIGTERM is the scheduler's.
    rmSync(path.join(slurmDir, CANCEL_MARKER), { force: true });
    const byIndex = new Map(runs.map((r) => [r.index, r]));
    for (const r of runs) checkSlurmSplit({ cpus: r.cpus, gpus: r.gpus }, settings, r.index);
    const limits = settings.debug ? DEFAULT_LIMITS : await this.clusterLimits();
    const { multinode, parallel, chunks, chunkBase } = planChunks(req, limits);
    const jobs: JobEntry[] = [];
    for (const ch of chunks) {
      const chunk = chunkBase + ch.chunk;
      const batches: JobEntry["batches"] = [];
      for (const t of ch.tasks) {
        const batchId = `${chunk}-${t.task}`;
        const batch: BatchSpec = {
          type: "batch",
          version: 1,
          batchId,
          sweepDir: sweep.dir,
          runs: t.runs.map((i) => byIndex.get(i)!),
          parallel: Math.min(parallel, t.runs.length),
          stagger: settings.stagger,
          killGraceS: settings.killGraceS,
          resources: settings.debug ? { ...(settings.cpuIds ? { cpuIds: settings.cpuIds } : {}), ...(settings.gpuIds ? { gpuIds: settings.gpuIds } : {}) } : {},
          verbose: settings.verbose,
          heartbeatS: settings.heartbeatS,
          ...(settings.timeoutSignal ? { timeoutSignal: settings.timeoutSignal } : {}),
          // With a time limit the worker also learns the allocation's end: no run starts that cannot finish.
          ...(settings.slurm.time !== undefined && !settings.debug ? { endGraceS: settings.slurm.signalGraceS } : {}),
        };
        writeJsonAtomicSync(batchFilePath(slurmDir, chunk, t.task), batch);
        batches.push({ batchId, task: t.task, runs: t.runs });
      }
      if (settings.debug) {
        jobs.push(...this.debugRun(sweep, slurmDir, chunk, ch.tasks.length, batches, settings.slurm.setup));
        continue;
      }
      const script = chunkScript(sweep, settings, slurmDir, chunk, ch.tasks.length, multinode);
      const scriptFile = path.join(slurmDir, `chunk-${chunk}.sbatch`);
      writeFileSync(scriptFile, script, { mode: 0o755 });
      const tag = `corral:${sweep.id}:${chunk}`;
      const r = await slurmCmd("sbatch", ["--parsable", scriptFile], {
        beforeRetry: async () => {
          // The first sbatch may have reached slurmctld before its answer was lost.
          const q = await slurmCmd("squeue", ["-h", "-u", process.env.USER ?? "root", "-o", "%F|%k"], { attempts: 3 });
          const hit = q.stdout.split("\n").find((l) => l.split("|")[1] === tag);
          return hit ? { code: 0, stdout: hit.split("|")[0]!, stderr: "" } : undefined;
        },
      });
      if (r.code !== 0) {
        throw new CorralError("E_SCHEDULER", `sbatch failed for ${scriptFile}: ${r.stderr.trim() || `exit ${r.code}`}`, {
          hint: "check the partition, time and GPU settings with `corral doctor`",
          exitCode: jobs.length ? 1 : 2,
        });
      }
      const sub = parseSbatchParsable(r.stdout);
      jobs.push({ jobId: sub.jobId, launcher: "slurm", submittedAt: Date.now(), batches, host: hostname() });
    }
    return jobs;
  }

  /**
   * The sbatch script of each chunk `submit` would queue (chunked with the cluster's limits where
   * slurmctld answers, else SLURM's defaults) and the multi-node wrapper each run starts under.
   */
  async preview(req: SubmitRequest): Promise<LaunchPreview[]> {
    const { sweep, runs, settings } = req;
    // Debug mode submits nothing: its batches run here through the worker.
    if (settings.debug) return [];
    const limits = await this.clusterLimits().catch(() => DEFAULT_LIMITS);
    const slurmDir = path.join(sweep.dir, ".slurm");
    const { multinode, chunks, chunkBase } = planChunks(req, limits);
    const out: LaunchPreview[] = [];
    for (const ch of chunks) {
      const chunk = chunkBase + ch.chunk;
      out.push({ name: path.join(slurmDir, `chunk-${chunk}.sbatch`), text: chunkScript(sweep, settings, slurmDir, chunk, ch.tasks.length, multinode) });
    }
    const wrap = runs[0]?.wrap;
    if (multinode && wrap) out.push({ name: `multi-node wrapper (${multinode.mode}); each run's command follows it`, text: `${wrap.map(shellQuote).join(" ")}\n` });
    return out;
  }

  /**
   * Jobs tagged `corral:<sweep id>:<chunk>` that the manifest lacks (the submitter died after
   * sbatch, before recording the job): rebuilt from the chunk's batch files. One squeue.
   */
  async recover(sweep: SweepManifest): Promise<JobEntry[]> {
    const known = new Set(sweep.jobs.map((j) => j.jobId));
    const r = await slurmCmd("squeue", ["-h", "-t", "all", "-u", process.env.USER ?? "root", "-o", "%F|%k"], { attempts: 3 });
    if (r.code !== 0) return [];
    const prefix = `corral:${sweep.id}:`;
    const slurmDir = path.join(sweep.dir, ".slurm");
    let files: string[] = [];
    try {
      files = readdirSync(slurmDir);
    } catch {
      return [];
    }
    const out: JobEntry[] = [];
    for (const line of r.stdout.split("\n")) {
      const [jobId, comment] = line.trim().split("|");
      if (!jobId || !comment?.startsWith(prefix) || known.has(jobId)) continue;
      known.add(jobId);
      const chunk = Number(comment.slice(prefix.length));
      const batches: JobEntry["batches"] = [];
      for (const f of files) {
        const m = /^batch-(\d+)-(\d+)\.json$/.exec(f);
        if (!m || Number(m[1]) !== chunk) continue;
        const b = readBatch(path.join(slurmDir, f)) as BatchSpec;
        batches.push({ batchId: b.batchId, task: Number(m[2]), runs: b.runs.map((x) => x.index) });
      }
      batches.sort((a, b) => (a.task ?? 0) - (b.task ?? 0));
      if (batches.length) out.push({ jobId, launcher: "slurm", submittedAt: Date.now(), batches, host: hostname() });
    }
    return out;
  }

  /** Debug mode: the very same batch files, run by the same worker on this machine. */
  private debugRun(sweep: SweepManifest, slurmDir: string, chunk: number, tasks: number, batches: JobEntry["batches"], setup: readonly string[]): JobEntry[] {
    const out: JobEntry[] = [];
    for (let t = 0; t < tasks; t++) {
      const file = batchFilePath(slurmDir, chunk, t);
      const batch = JSON.parse(JSON.stringify(readBatch(file))) as BatchSpec;
      const w = spawnWorker(batch, slurmDir, `debug-${chunk}-${t}`, { env: { SLURM_ARRAY_TASK_ID: String(t) }, setup, cwd: sweep.projectDir });
      out.push({ jobId: `debug-${w.pid}`, launcher: "local", submittedAt: Date.now(), batches: [batches[t]!], pid: w.pid, host: hostname() });
    }
    return out;
  }

  /** One squeue for every SLURM job of the sweep: state per array task. */
  private async query(sweep: SweepManifest): Promise<Map<string, TaskView> | undefined> {
    const ids = [...new Set(sweep.jobs.filter((j) => j.launcher === "slurm").map((j) => j.jobId))];
    if (ids.length === 0) return new Map();
    const r = await slurmCmd("squeue", ["-h", "-t", "all", "-r", "-o", SQUEUE_FORMAT, "-j", ids.join(",")], { attempts: 3 });
    const view = new Map<string, TaskView>();
    if (r.code === 0) {
      for (const row of parseSqueue(r.stdout)) {
        const v = { state: row.state, slurmState: row.slurmState, reason: row.reason, nodes: row.nodes };
        if (row.tasks) for (const t of row.tasks) view.set(`${row.jobId}_${t}`, v);
        else view.set(row.jobId, v);
      }
    }
    // Jobs already purged from slurmctld's memory (MinJobAge): ask accounting, where it exists.
    const missing = ids.filter((id) => ![...view.keys()].some((k) => k === id || k.startsWith(`${id}_`)));
    if (missing.length) {
      const s = await slurmCmd("sacct", ["-P", "-n", "-X", `--format=${SACCT_FORMAT}`, "-j", missing.join(",")], { attempts: 2 });
      if (s.code === 0) {
        for (const row of parseSacct(s.stdout)) {
          const v = { state: row.state, slurmState: row.slurmState, reason: "", nodes: row.nodes ?? "" };
          if (row.tasks) for (const t of row.tasks) view.set(`${row.jobId}_${t}`, v);
          else view.set(row.jobId, v);
        }
      }
    }
    if (r.code !== 0 && view.size === 0) return undefined;
    return view;
  }

  async explain(sweep: SweepManifest): Promise<Map<number, LivenessFacts>> {
    const facts = new Map<number, LivenessFacts>();
    const view = await this.query(sweep);
    if (!view) return facts;
    for (const job of sweep.jobs) {
      if (job.launcher !== "slurm") continue;
      for (const b of job.batches) {
        const v = view.get(`${job.jobId}_${b.task ?? 0}`) ?? view.get(job.jobId);
        const scheduler: RunState | "unknown" = v?.state ?? "unknown";
        for (const i of b.runs) facts.set(i, { scheduler, ...(scheduler === "running" ? { workerAlive: true } : scheduler !== "pending" && scheduler !== "unknown" ? { workerAlive: false } : {}) });
      }
    }
    return facts;
  }

  async active(sweep: SweepManifest): Promise<boolean> {
    const view = await this.query(sweep);
    if (!view) return true; // cannot tell: keep waiting rather than declare runs lost
    for (const v of view.values()) if (v.state === "pending" || v.state === "running") return true;
    return false;
  }

  async cancel(sweep: SweepManifest, force: boolean): Promise<void> {
    const ids = [...new Set(sweep.jobs.filter((j) => j.launcher === "slurm").map((j) => j.jobId))];
    if (ids.length === 0) return;
    // Tell the workers this SIGTERM is ours (runs `cancelled`), not the scheduler's (`preempted`).
    mkdirSync(path.join(sweep.dir, ".slurm"), { recursive: true });
    writeFileSync(path.join(sweep.dir, ".slurm", CANCEL_MARKER), `${Date.now()}\n`);
    // The batch shell (the worker) gets SIGTERM and stops its runs gracefully; --full also
    // reaches steps. A forced cancel sends SIGKILL.
    const args = force ? ["--signal=KILL", "--full", ...ids] : ["--full", "--signal=TERM", ...ids];
    const r = await slurmCmd("scancel", args, { attempts: 3 });
    // Pending tasks never start, so --signal does not remove them: cancel those outright.
    await slurmCmd("scancel", ["--state=PENDING", ...ids], { attempts: 3 });
    if (r.code !== 0 && !/Invalid job id|already completing or completed/i.test(r.stderr)) {
      throw new CorralError("E_SCHEDULER", `scancel failed: ${r.stderr.trim()}`, { exitCode: 1 });
    }
  }
}

/** SLURM's defaults (MaxArraySize, MaxJobCount): debug mode, and previews where no cluster answers. */
const DEFAULT_LIMITS = { maxArraySize: 1001, maxJobCount: 10000 };

/** The array chunks of one submission (pure): which runs go to which task of which chunk. */
function planChunks(req: SubmitRequest, limits: { maxArraySize: number; maxJobCount: number }) {
  const { sweep, runs, settings } = req;
  // A multi-node run takes every node of its array task: one run at a time there.
  const multinode = settings.multinode && settings.multinode.nodes > 1 ? settings.multinode : undefined;
  const parallel = multinode ? 1 : settings.parallel;
  const chunks = packBatches(
    runs.map((r) => r.index),
    {
      perJob: settings.perJob,
      parallel: Math.min(parallel, settings.perJob),
      ...limits,
      ...(settings.slurm.arrayThrottle ? { throttle: settings.slurm.arrayThrottle } : {}),
    },
  );
  // Chunk numbers are unique within the sweep across submissions (first launch, resumes).
  const chunkBase = sweep.jobs.reduce((n, j) => Math.max(n, ...j.batches.map((b) => Number(b.batchId.split("-")[0]) + 1)), 0);
  return { multinode, parallel, chunks, chunkBase };
}

/** The sbatch script of one chunk (pure). */
function chunkScript(sweep: SweepManifest, settings: LaunchSettings, slurmDir: string, chunk: number, tasks: number, multinode: MultinodeSettings | undefined): string {
  return renderSbatch({
    jobName: settings.slurm.jobName ?? "corral",
    slurmDir,
    chunk,
    tasks,
    ...(settings.slurm.arrayThrottle ? { throttle: settings.slurm.arrayThrottle } : {}),
    ...(settings.slurm.partition ? { partition: settings.slurm.partition } : {}),
    ...(settings.slurm.time !== undefined ? { time: settings.slurm.time } : {}),
    ...(settings.slurm.mem ? { mem: settings.slurm.mem } : {}),
    ...(settings.slurm.memPerCpu ? { memPerCpu: settings.slurm.memPerCpu } : {}),
    ...(settings.slurm.cpusPerTask ? { cpusPerTask: settings.slurm.cpusPerTask } : {}),
    ...(settings.slurm.gpus ? { gpus: settings.slurm.gpus } : {}),
    ...(settings.slurm.gres ? { gres: settings.slurm.gres } : {}),
    ...(settings.slurm.nodes ? { nodes: settings.slurm.nodes } : {}),
    ...(settings.slurm.constraint ? { constraint: settings.slurm.constraint } : {}),
    ...(settings.slurm.account ? { account: settings.slurm.account } : {}),
    ...(settings.slurm.qos ? { qos: settings.slurm.qos } : {}),
    chdir: sweep.projectDir,
    ...(settings.slurm.time !== undefined ? { signalGraceS: settings.slurm.signalGraceS } : {}),
    // Tag the job so a retried submission after a timeout can be recognised, never doubled.
    sbatchArgs: [
      `--comment=corral:${sweep.id}:${chunk}`,
      // --nodes is rendered from launcher.nodes already; the user's own arguments come last and win.
      ...(multinode ? multinodeSbatchArgs(multinode).filter((a) => !a.startsWith("--nodes=")) : []),
      ...settings.slurm.sbatchArgs,
    ],
    setup: settings.slurm.setup,
    env: settings.slurm.env,
    nodePath: process.execPath,
    workerScript: WORKER_MAIN,
  });
}

/**
 * Catch splits that can never work before anything is queued: a run asking for more GPUs or
 * CPUs than one array element is given. (The worker checks again against what it really gets.)
 */
export function checkSlurmSplit(run: { cpus?: number | undefined; gpus?: number | undefined }, settings: SubmitRequest["settings"], index?: number): void {
  const jobGpus = settings.slurm.gpus ?? (settings.slurm.gres ? Number(/gpu(?::[^:,]+)?:(\d+)/.exec(settings.slurm.gres)?.[1] ?? NaN) : 0);
  const jobCpus = settings.slurm.cpusPerTask;
  const who = index === undefined ? "each run" : `run ${index}`;
  if (run.gpus !== undefined && Number.isFinite(run.gpus) && run.gpus > 0 && Number.isFinite(jobGpus) && run.gpus > jobGpus) {
    throw new CorralError("E_RESOURCES", `${who} asks for ${run.gpus} GPU(s) (resources.gpus) but each SLURM job gets ${jobGpus} (launcher.gpus${settings.slurm.gres ? "/gres" : ""})`, {
      hint: "raise launcher.gpus or lower resources.gpus",
    });
  }
  if (jobCpus !== undefined && run.cpus !== undefined && run.cpus > jobCpus) {
    throw new CorralError("E_RESOURCES", `${who} asks for ${run.cpus} CPUs (resources.cpus) but each SLURM job gets ${jobCpus} (launcher.cpus_per_task)`, {
      hint: "raise launcher.cpus_per_task or lower resources.cpus",
    });
  }
}

function readBatch(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}
