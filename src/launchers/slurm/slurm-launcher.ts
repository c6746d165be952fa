/**
 * The SLURM launcher: one `sbatch --array` per chunk of packed batches, the same worker inside
 * every array task, and ONE `squeue` per poll round for the whole sweep. Run state comes from the
 * runs' status files first; the scheduler only explains pending, cancelled, timed-out or lost runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { CorralError } from "../../errors.js";
import { multinodeSbatchArgs } from "../../plan/multinode.js";
import { packBatches } from "../../plan/pack.js";
import { batchFilePath, directiveValue, renderSbatch, shellQuote } from "../../plan/sbatch.js";
import { writeJsonAtomicSync } from "../../store/fsutil.js";
import { tasksDrawTrials, type BatchSpec, type JobEntry, type RunState, type SweepManifest } from "../../store/protocol.js";
import type { LivenessFacts } from "../../store/status.js";
import type { DoctorCheck, DoctorContext, Launcher, LaunchPreview, LaunchSettings, MultinodeSettings, RunNeed, SlurmLaunchSettings, SlurmSettings, SubmitRequest, ValidateRequest } from "../launcher.js";
import { readManifest } from "../../store/store.js";
import { spawnWorker, WORKER_MAIN, workerPrefix } from "../worker-host.js";
import { BATCH_DONE_SUFFIX, BATCH_NOSTART_SUFFIX, CANCEL_MARKER, cancelMarkerOf, slurmDirOf } from "../../store/layout.js";
import { isPermanentReason, maxArraySize, maxJobCount, parseSacct, parseSbatchParsable, parseScontrolConfig, parseSqueue, SACCT_FORMAT, SQUEUE_FORMAT } from "./parse.js";
import { slurmCmd, type RetryOptions } from "./commands.js";
import { slurmDoctor } from "./doctor.js";
import { checkScheduling, schedulingGpus, withScheduling } from "./scheduling.js";
import { describeNodejs, workerNodejs } from "./runtime.js";

/** Scheduler view of one array task (or plain job). */
interface TaskView {
  state: RunState | undefined;
  slurmState: string;
  reason: string;
  nodes: string;
  /** Pending for a reason that never clears (or cancelled by us for it). */
  blocked?: boolean;
}

/**
 * The SLURM variant of launch settings. The registry hands this launcher only settings of type
 * `slurm` (it chooses the launcher by that type), so anything else is a programming error.
 */
export function slurmSettings(s: LaunchSettings): SlurmLaunchSettings {
  if (s.type !== "slurm") throw new Error(`the SLURM launcher was handed settings of type '${s.type}'`);
  return s;
}

export class SlurmLauncher implements Launcher {
  /** `--cpus-per-task`, `--gpus`, `--mem` and `--time` of one submission, from what its runs need. */
  size(settings: LaunchSettings, need: RunNeed, groupSize: number): SlurmLaunchSettings {
    // A pipeline rule's own settings first: its `gres` then stands for the GPUs.
    const s = need.scheduling ? withScheduling(slurmSettings(settings), need.scheduling) : slurmSettings(settings);
    // A rule's gres is per job: an element running several jobs at once asks for that many times it.
    const perJobGres = need.scheduling !== undefined && schedulingGpus(need.scheduling) !== undefined;
    return { ...s, slurm: slurmRequest(need, s, groupSize, perJobGres) };
  }

  /** A split of the job's resources between packed runs that can never work. */
  validate(req: ValidateRequest): Promise<void> {
    try {
      const settings = slurmSettings(req.settings);
      for (const a of req.asks) {
        if (a.scheduling) checkScheduling(a.scheduling, a.who, a.location?.file, a.schedulingAt);
        if (!settings.debug) checkSlurmSplit({ cpus: a.cpus, gpus: a.gpus }, a.scheduling ? withScheduling(settings, a.scheduling) : settings);
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  readonly type = "slurm";

  /** What it will do, what `corral run` would refuse, and whether the cluster answers and can hold one job. */
  doctor(settings: LaunchSettings, ctx: DoctorContext): Promise<DoctorCheck[]> {
    return slurmDoctor(this, slurmSettings(settings), ctx);
  }

  private limits: { maxArraySize: number; maxJobCount: number } | undefined;

  /** What a preview chunks with: asked of slurmctld once, SLURM's defaults when it does not answer. */
  private previewLimits: Promise<{ maxArraySize: number; maxJobCount: number }> | undefined;

  /** The cluster's MaxArraySize and MaxJobCount; `retry`: a submission rides out a slurmctld restart, a preview does not wait for one. */
  private async clusterLimits(retry?: RetryOptions): Promise<{ maxArraySize: number; maxJobCount: number }> {
    if (this.limits) return this.limits;
    const r = await slurmCmd("scontrol", ["show", "config"], retry);
    if (r.code !== 0) throw new CorralError("E_SCHEDULER", `scontrol show config failed: ${r.stderr.trim()}`, { hint: "is slurmctld up? try `sinfo` or `corral doctor`", exitCode: 1 });
    const cfg = parseScontrolConfig(r.stdout);
    this.limits = { maxArraySize: maxArraySize(cfg), maxJobCount: maxJobCount(cfg) };
    return this.limits;
  }

  async submit(req: SubmitRequest): Promise<JobEntry[]> {
    const { sweep, runs } = req;
    const settings = slurmSettings(req.settings);
    const slurmDir = slurmDirOf(sweep.dir);
    mkdirSync(slurmDir, { recursive: true });
    // A new submission means the runs are wanted again: a later SIGTERM is the scheduler's.
    rmSync(path.join(slurmDir, CANCEL_MARKER), { force: true });
    const byIndex = new Map(runs.map((r) => [r.index, r]));
    for (const r of runs) checkSlurmSplit({ cpus: r.cpus, gpus: r.gpus }, settings, r.index);
    const limits = settings.debug ? DEFAULT_LIMITS : await this.clusterLimits();
    const { multinode, parallel, chunks, chunkBase } = planChunks(req, settings, limits);
    // A study's tasks draw its further trials themselves (worker/trials.ts).
    const study = tasksDrawTrials(sweep);
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
          // A study's task keeps its slots full by drawing further trials (worker/trials.ts).
          parallel: study ? Math.min(parallel, settings.perJob) : Math.min(parallel, t.runs.length),
          ...(study ? { study: true as const } : {}),
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
        jobs.push(...this.debugRun(sweep, slurmDir, chunk, ch.tasks.length, batches, settings.setup));
        continue;
      }
      const script = chunkScript(sweep, settings, slurmDir, chunk, ch.tasks.length, multinode);
      const scriptFile = path.join(slurmDir, `chunk-${chunk}.sbatch`);
      writeFileSync(scriptFile, script, { mode: 0o755 });
      const r = await slurmCmd("sbatch", ["--parsable", scriptFile], {
        beforeRetry: async () => {
          // The first sbatch may have reached slurmctld before its answer was lost.
          const q = await slurmCmd("squeue", ["-h", "-u", process.env.USER ?? "root", "-o", "%F|%k"], { attempts: 3 });
          const hit = q.stdout.split("\n").find((l) => chunkOfTag(l.split("|")[1], `corral:${sweep.id}:`) === chunk);
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
    const { sweep, runs } = req;
    const settings = slurmSettings(req.settings);
    // Debug mode submits nothing: its batches run here through the worker.
    if (settings.debug) return [];
    // A dry run shows the plan at once: one question (a down slurmctld takes ~10 s to say so), no
    // retries (eight of them took minutes).
    const limits = await (this.previewLimits ??= this.clusterLimits({ attempts: 1 }).catch(() => DEFAULT_LIMITS));
    const slurmDir = slurmDirOf(sweep.dir);
    const { multinode, chunks, chunkBase } = planChunks(req, settings, limits);
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
    const slurmDir = slurmDirOf(sweep.dir);
    let files: string[] = [];
    try {
      files = readdirSync(slurmDir);
    } catch {
      return [];
    }
    const out: JobEntry[] = [];
    for (const line of r.stdout.split("\n")) {
      const [jobId, comment] = line.trim().split("|");
      if (!jobId || chunkOfTag(comment, prefix) === undefined || known.has(jobId)) continue;
      known.add(jobId);
      const chunk = chunkOfTag(comment, prefix)!;
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

  /** Scheduler answers per sweep folder, reused for `launcher.poll_interval` (polite polling). */
  private readonly cache = new Map<string, { at: number; key: string; view: Map<string, TaskView> | undefined }>();
  /** Batches whose worker said it is done (`<batch file>.done`), per sweep folder and batch id. */
  private readonly done = new Set<string>();

  /**
   * The scheduler's view of the sweep's jobs: ONE squeue (plus one sacct for purged jobs), and at
   * most one such round per `poll_interval` seconds per sweep, whoever asks (explain, active,
   * status). A cancel request newer than the cached answer asks again at once.
   */
  private async query(sweep: SweepManifest): Promise<Map<string, TaskView> | undefined> {
    const ids = [...new Set(sweep.jobs.filter((j) => j.launcher === "slurm").map((j) => j.jobId))];
    if (ids.length === 0) return new Map();
    const key = ids.join(",");
    const ttlMs = 1000 * ((sweep.settings?.type === "slurm" ? sweep.settings.pollIntervalS : undefined) ?? DEFAULT_POLL_INTERVAL_S);
    const hit = this.cache.get(sweep.dir);
    const t0 = Date.now();
    if (hit && hit.key === key && t0 - hit.at < ttlMs && cancelRequestedAt(sweep) <= hit.at) return hit.view;
    const view = await queryScheduler(ids);
    this.cache.set(sweep.dir, { at: t0, key, view });
    if (view && !cancelRequestedAt(sweep)) await this.dropBlocked(view);
    return view;
  }

  /**
   * Jobs that wait for a reason that never clears can never run: scancel them so they do not
   * linger in the queue (they stay marked blocked; explain reports their runs failed).
   */
  private async dropBlocked(view: Map<string, TaskView>): Promise<void> {
    const ids = [...view].filter(([, v]) => v.state === "pending" && v.blocked).map(([id]) => id);
    if (ids.length === 0) return;
    await slurmCmd("scancel", ids, { attempts: 2 });
  }

  private batchDone(sweep: SweepManifest, batchId: string): boolean {
    const k = `${sweep.dir}\0${batchId}`;
    if (this.done.has(k)) return true;
    const [chunk, task] = batchId.split("-").map(Number);
    if (!existsSync(batchFilePath(slurmDirOf(sweep.dir), chunk!, task!) + BATCH_DONE_SUFFIX)) return false;
    this.done.add(k);
    return true;
  }

  /** The reason a task's job left when it could not start the worker (`<batch file>.nostart`), if it did. */
  private noStart(sweep: SweepManifest, batchId: string): string | undefined {
    const [chunk, task] = batchId.split("-").map(Number);
    if (chunk === undefined || task === undefined || !Number.isInteger(chunk) || !Number.isInteger(task)) return undefined;
    try {
      const text = readFileSync(batchFilePath(slurmDirOf(sweep.dir), chunk, task) + BATCH_NOSTART_SUFFIX, "utf8").trim();
      return (text.split("\n")[0] ?? "").replace(/^corral: /, "") || "the worker could not start";
    } catch {
      return undefined;
    }
  }

  async explain(sweep: SweepManifest): Promise<Map<number, LivenessFacts>> {
    const facts = new Map<number, LivenessFacts>();
    const view = await this.query(sweep);
    if (!view) return facts;
    // After `corral cancel` nothing of the sweep starts or goes on: its jobs are not "queued or
    // running" (a resume resubmits their runs; the worker fences a run still being stopped).
    const cancelled = cancelRequestedAt(sweep) > 0;
    for (const job of sweep.jobs) {
      if (job.launcher !== "slurm") continue;
      for (const b of job.batches) {
        const v = view.get(`${job.jobId}_${b.task ?? 0}`) ?? view.get(job.jobId);
        let scheduler: RunState | "unknown" = v?.state ?? "unknown";
        if (cancelled && (scheduler === "pending" || scheduler === "running")) scheduler = "cancelled";
        const f: LivenessFacts = { scheduler };
        const noStart = scheduler === "pending" ? undefined : this.noStart(sweep, b.batchId);
        // The job ran but could not start its worker (its Node.js missing or too old): the
        // script left the reason; the runs fail with it rather than being lost and resubmitted.
        if (noStart !== undefined) {
          f.workerAlive = false;
          f.workerFailed = noStart;
          if (scheduler === "running") f.scheduler = "unknown";
        } else if (this.batchDone(sweep, b.batchId)) {
          // The worker wrote every record of its batch before it said done: a "running" one is lost.
          f.workerAlive = false;
          // A cached answer older than the worker's word says nothing of a job that is over.
          if (scheduler === "pending" || scheduler === "running") f.scheduler = "unknown";
        } else if (scheduler === "running") f.workerAlive = true;
        else if (scheduler !== "pending" && scheduler !== "unknown") f.workerAlive = false;
        if (v && v.state === "pending" && v.reason && v.reason !== "None") f.reason = v.reason;
        if (v?.blocked && !cancelled) {
          f.reason = v.reason;
          f.blocked = true;
        }
        for (const i of b.runs) facts.set(i, { ...f });
      }
    }
    return facts;
  }

  async active(sweep: SweepManifest): Promise<boolean> {
    const jobs = sweep.jobs.filter((j) => j.launcher === "slurm");
    // Every worker said it is done: nothing to ask the scheduler.
    if (jobs.every((j) => j.batches.every((b) => this.batchDone(sweep, b.batchId)))) return false;
    const view = await this.query(sweep);
    if (!view) return true; // cannot tell: keep waiting rather than declare runs lost
    const cancelled = cancelRequestedAt(sweep) > 0;
    for (const job of jobs) {
      for (const b of job.batches) {
        const v = view.get(`${job.jobId}_${b.task ?? 0}`) ?? view.get(job.jobId);
        if (!v || this.batchDone(sweep, b.batchId)) continue;
        // A queued task of a cancelled sweep never starts a run; a blocked one never starts.
        if (v.state === "pending" && !cancelled && !v.blocked) return true;
        if (v.state === "running") return true;
      }
    }
    return false;
  }

  async cancel(sweep: SweepManifest, force: boolean): Promise<void> {
    // The marker first: from now on no worker of the sweep starts a run, whatever scancel does,
    // and a SIGTERM the workers get is ours (runs `cancelled`), not the scheduler's (`preempted`).
    const slurmDir = slurmDirOf(sweep.dir);
    mkdirSync(slurmDir, { recursive: true });
    writeFileSync(path.join(slurmDir, CANCEL_MARKER), `${Date.now()}\n`);
    this.cache.delete(sweep.dir);
    const ids = await sweepJobIds(sweep);
    if (ids.length === 0) return;
    // Queued work in one call: pending array tasks are removed outright. (`--signal` on a job
    // with pending tasks takes ~11 s and exits 229 with nothing on stderr on slurm 22.05.)
    const queued = await slurmCmd("scancel", ["--state=PENDING", ...ids], { attempts: 2 });
    // Running work: the batch shell (the worker) gets SIGTERM and stops its runs gracefully;
    // --full also reaches steps. A forced cancel sends SIGKILL.
    const running = await slurmCmd("scancel", ["--state=RUNNING", "--full", `--signal=${force ? "KILL" : "TERM"}`, ...ids], { attempts: 2 });
    for (const r of [queued, running]) {
      if (r.code === 0 || alreadyGone(r.stderr)) continue;
      throw new CorralError("E_SCHEDULER", `scancel failed: ${r.stderr.trim() || `exit ${r.code}`}`, {
        hint: `no run of this sweep starts any more (cancel marker written); see what is left with: squeue -j ${ids.join(",")}`,
        exitCode: 1,
      });
    }
  }
}

/** The chunk a job's `--comment` tags (`corral:<sweep id>:<chunk>`, maybe followed by a rule's own comment); undefined for another's. */
export function chunkOfTag(comment: string | undefined, prefix: string): number | undefined {
  if (!comment?.startsWith(prefix)) return undefined;
  const m = /^(\d+)(?: |$)/.exec(comment.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

/** Default of `launcher.poll_interval` (seconds) for manifests written before it existed. */
const DEFAULT_POLL_INTERVAL_S = 15;

/** When `corral cancel` asked to stop the sweep (ms since epoch; 0 when it did not). */
function cancelRequestedAt(sweep: SweepManifest): number {
  try {
    return statSync(cancelMarkerOf(sweep.dir)).mtimeMs;
  } catch {
    return 0;
  }
}

/** scancel's answers for jobs that already ended: nothing left to cancel, which is success. */
function alreadyGone(stderr: string): boolean {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  return lines.length > 0 && lines.every((l) => /Invalid job id specified|already completing or completed|Job has already finished/i.test(l));
}

/**
 * Every SLURM job of the sweep: those the caller's manifest and the one on disk record, plus any
 * tagged `corral:<sweep id>:` that neither has yet (submitted in the instant before the record).
 */
async function sweepJobIds(sweep: SweepManifest): Promise<string[]> {
  const ids = new Set(sweep.jobs.filter((j) => j.launcher === "slurm").map((j) => j.jobId));
  try {
    for (const j of readManifest(sweep.dir).jobs) if (j.launcher === "slurm") ids.add(j.jobId);
  } catch {
    /* the caller's copy is all there is */
  }
  const q = await slurmCmd("squeue", ["-h", "-u", process.env.USER ?? "root", "-o", "%F|%k"], { attempts: 2 });
  if (q.code === 0) {
    for (const line of q.stdout.split("\n")) {
      const [id, comment] = line.trim().split("|");
      if (id && comment?.startsWith(`corral:${sweep.id}:`)) ids.add(id);
    }
  }
  return [...ids];
}

/** One squeue for the given jobs (plus one sacct for jobs squeue no longer knows): state per array task. */
async function queryScheduler(ids: string[]): Promise<Map<string, TaskView> | undefined> {
  const r = await slurmCmd("squeue", ["-h", "-t", "all", "-r", "-o", SQUEUE_FORMAT, "-j", ids.join(",")], { attempts: 3 });
  const view = new Map<string, TaskView>();
  if (r.code === 0) {
    for (const row of parseSqueue(r.stdout)) {
      // A job that waits for a reason that never clears; after our scancel it shows CANCELLED
      // with the same reason, and stays blocked.
      const blocked = (row.state === "pending" || row.state === "cancelled") && isPermanentReason(row.reason);
      const v: TaskView = { state: row.state, slurmState: row.slurmState, reason: row.reason, nodes: row.nodes, ...(blocked ? { blocked } : {}) };
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

/** SLURM's defaults (MaxArraySize, MaxJobCount): debug mode, and previews where no cluster answers. */
const DEFAULT_LIMITS = { maxArraySize: 1001, maxJobCount: 10000 };

/** The array chunks of one submission (pure): which runs go to which task of which chunk. */
function planChunks(req: SubmitRequest, settings: SlurmLaunchSettings, limits: { maxArraySize: number; maxJobCount: number }) {
  const { sweep, runs } = req;
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
  // (Batches of local workers beside them, a pipeline's localrules, are `local-<n>`: not chunks.)
  const chunkBase = sweep.jobs.reduce((n, j) => Math.max(n, ...j.batches.map((b) => (/^\d+-\d+$/.test(b.batchId) ? Number(b.batchId.split("-")[0]) + 1 : 0))), 0);
  return { multinode, parallel, chunks, chunkBase };
}

/** The sbatch script of one chunk (the worker runtime's default looks at the file systems). */
function chunkScript(sweep: SweepManifest, settings: SlurmLaunchSettings, slurmDir: string, chunk: number, tasks: number, multinode: MultinodeSettings | undefined): string {
  const nodejs = workerNodejs(settings.nodejs, sweep.projectDir);
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
      // A rule's own comment (slurm_extra) follows the tag.
      `--comment=${directiveValue("comment", `corral:${sweep.id}:${chunk}${settings.slurm.comment ? ` ${settings.slurm.comment}` : ""}`)}`,
      // --nodes is rendered from launcher.nodes already; the user's own arguments come last and win.
      ...(multinode ? multinodeSbatchArgs(multinode).filter((a) => !a.startsWith("--nodes=")) : []),
      ...settings.slurm.sbatchArgs,
    ],
    setup: settings.setup,
    env: settings.env ?? {},
    nodePath: nodejs.command,
    nodejsNote: describeNodejs(nodejs),
    noStartSuffix: BATCH_NOSTART_SUFFIX,
    workerScript: WORKER_MAIN,
    workerPrefix: workerPrefix(),
  });
}

/**
 * Catch splits that can never work before anything is queued: a run asking for more GPUs or
 * CPUs than one array element is given. (The worker checks again against what it really gets.)
 */
export function checkSlurmSplit(run: { cpus?: number | undefined; gpus?: number | undefined }, settings: SlurmLaunchSettings, index?: number): void {
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

/**
 * The SLURM request of one array element of a group of jobs with equal resources: the job's
 * resources times the runs that share the element at once, and its timeout times the waves of
 * runs it holds (plus the signal grace). What `launcher:` sets explicitly is kept, except `mem`,
 * where the rule's `mem` wins.
 */
export function slurmRequest(j: RunNeed, settings: SlurmLaunchSettings, groupSize: number, perJobGres = false): SlurmSettings {
  const perElement = Math.max(1, Math.min(settings.perJob, groupSize));
  const atOnce = Math.max(1, Math.min(settings.parallel, perElement));
  const waves = Math.ceil(perElement / atOnce);
  const out = { ...settings.slurm };
  if (j.memMB > 0) out.mem = `${j.memMB * atOnce}M`;
  if (out.cpusPerTask === undefined && j.cpus > 0) out.cpusPerTask = Math.ceil(j.cpus * atOnce);
  if (out.gpus === undefined && out.gres === undefined && j.gpus > 0) out.gpus = Math.ceil(j.gpus * atOnce);
  if (perJobGres && out.gres !== undefined && atOnce > 1) out.gres = out.gres.replace(/(^|,)(gpu(?::[^:,]+)?:)(\d+)/, (_, sep: string, head: string, n: string) => `${sep}${head}${Number(n) * atOnce}`);
  // A minute of margin for the worker to start and the runs to be handed out.
  if (out.time === undefined && j.timeoutS !== undefined) out.time = waves * j.timeoutS + out.signalGraceS + 60;
  return out;
}
