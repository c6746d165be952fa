/**
 * The flow head: the loop that drives a flow sweep. It submits each job through the launcher as
 * soon as every job it needs has succeeded (batching jobs that become ready together with the
 * same resources into one submit), reads the runs' own status files, checks outputs, writes build
 * records, retries, and stops dependents of failures. It runs inside `corral flow`, or detached
 * (`corral flow --head DIR`), and again for `corral resume`: the first start and a resume are the
 * same code, since it begins by reading what the status files already say.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import type { LaunchSettings } from "../launchers/launcher.js";
import type { BuildRecord } from "../plan/uptodate.js";
import { clearIncomplete, compactBuildRecords, markIncomplete, writeBuildRecords } from "../store/buildrecords.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { JobEntry, RunSpec, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus, type LivenessFacts } from "../store/status.js";
import { readManifest, readRunStatus, writeManifest, writeRunStatus } from "../store/store.js";
import { detectCpus } from "../worker/resources.js";
import type { Reporter, RunView } from "./events.js";
import { acquireFlowLock, FLOW_FILE, localBudget, recordOf, removeOutputs, thisHost, type FlowFile, type FlowJobSpec } from "./flow.js";
import { FlowScheduler, type Budget, type Cancelled, type SchedJob } from "../plan/flow-sched.js";
import { makeLauncher } from "../launchers/registry.js";

/** Options of one head. */
export interface HeadOptions {
  /** Run jobs that failed before again (resume --retry-failed). */
  retryFailed?: boolean;
  /** `-j` for this head (resume); default: the sweep's settings. */
  jobs?: number;
  /** @default 100 */
  pollMs?: number;
  /** @default 200 locally, 2000 otherwise */
  maxPollMs?: number;
  env: NodeJS.ProcessEnv;
}

/** How the flow ended. */
export interface FlowOutcome {
  manifest: SweepManifest;
  runs: RunView[];
  counts: Record<RunState, number>;
  /** Stopped by `stop()` (Ctrl+C, SIGTERM, `corral cancel`). */
  interrupted: boolean;
}

/** A running head. */
export interface FlowHead {
  done: Promise<FlowOutcome>;
  /** Start nothing more and stop running jobs (gracefully; `force` kills at once). Safe to repeat. */
  stop(force: boolean): void;
}

/** Read `<sweep>/flow.json`. */
export function readFlowFile(sweepDir: string): FlowFile {
  let f: FlowFile | undefined;
  try {
    f = JSON.parse(readFileSync(path.join(sweepDir, FLOW_FILE), "utf8")) as FlowFile;
  } catch {
    f = undefined;
  }
  if (!f || f.type !== "flow") throw new CorralError("E_NOT_FOUND", `${sweepDir} is not a flow sweep (no readable ${FLOW_FILE})`);
  return f;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start the head on a flow sweep. Takes the sweep's lock (throws E_LOCKED when another head holds it). */
export function runFlowHead(sweepDir: string, reporter: Reporter, opts: HeadOptions): FlowHead {
  const manifest = readManifest(sweepDir);
  const flow = readFlowFile(manifest.dir);
  const lock = acquireSweepLock(manifest.dir, "corral flow (head)");
  let flowLock: SweepLock;
  try {
    flowLock = acquireFlowLock(manifest.projectDir, `corral flow head of ${path.relative(manifest.projectDir, manifest.dir) || manifest.dir}`);
  } catch (e) {
    lock.release();
    throw e;
  }
  let stopRequested: boolean | undefined;
  let forceRequested = false;
  let wake: (() => void) | undefined;
  const head = {
    stop(force: boolean) {
      stopRequested = true;
      forceRequested ||= force;
      wake?.();
    },
  };
  const done = (async () => {
    try {
      return await drive();
    } finally {
      flowLock.release();
      lock.release();
    }
  })();

  async function drive(): Promise<FlowOutcome> {
    const settings: LaunchSettings = { ...(manifest.settings as LaunchSettings) };
    if (opts.jobs !== undefined) settings.parallel = opts.jobs;
    const launcher = makeLauncher(settings);
    const local = settings.type === "local";
    const projectDir = manifest.projectDir;
    const jobs = flow.jobs;
    const n = jobs.length;
    // The launcher must not see the head's own entry (cancel would signal the head itself).
    const view = (): SweepManifest => ({ ...manifest, jobs: manifest.jobs.filter((j) => !j.jobId.startsWith("head-")) });
    manifest.jobs.push({ jobId: `head-${process.pid}`, launcher: "local", submittedAt: Date.now(), batches: [], pid: process.pid, host: thisHost() });
    writeManifest(manifest);

    // What earlier heads left: succeeded runs stay done, live ones are adopted.
    const runDir = (i: number): string => path.join(manifest.dir, manifest.runs[i]!.dir);
    const attempt = new Int32Array(n).fill(1);
    const succeeded: number[] = [];
    const failed: number[] = [];
    const adopted: number[] = [];
    const pendingRecords: Array<[string, BuildRecord]> = [];
    const stat = (p: string): boolean => existsSync(path.resolve(projectDir, p));
    const hadRecord = new Uint8Array(n);
    if (manifest.jobs.length > 1) {
      const facts = await launcher.explain(view());
      for (let i = 0; i < n; i++) {
        const rec = readRunStatus(runDir(i));
        if (rec === undefined) {
          if (facts.get(i)?.workerAlive === true) adopted.push(i);
          continue;
        }
        hadRecord[i] = 1;
        attempt[i] = rec.attempt;
        const f = facts.get(i) ?? {};
        if (rec.state === "succeeded" && jobs[i]!.outputs.every(stat)) {
          succeeded.push(i);
          for (const o of jobs[i]!.outputs) pendingRecords.push([o, recordOf(jobs[i]!)]);
          clearIncomplete(projectDir, jobs[i]!.key);
        } else if (!TERMINAL_STATES.has(rec.state) && (f.workerAlive === true || f.scheduler === "running" || f.scheduler === "pending")) {
          adopted.push(i);
        } else if (rec.state === "failed" && !opts.retryFailed) {
          failed.push(i);
        } else {
          attempt[i] = rec.attempt + 1;
        }
      }
    }

    const schedJobs: SchedJob[] = jobs.map((j) => ({
      deps: j.deps,
      need: { cpus: local ? Math.max(1, Math.ceil(j.cpus)) : j.cpus, gpus: j.gpus, memMB: j.memMB },
      priority: j.priority,
      // Same resources, any rule: one submit (one SLURM array chunk), so one resource request fits all.
      batchKey: `${j.cpus}|${j.gpus}|${j.memMB}|${j.timeoutS ?? ""}`,
    }));
    const budget: Budget = local
      ? { ...localBudget(settings, opts.env), trackGpus: true }
      : { jobs: opts.jobs ?? Infinity, cpus: Infinity, gpuIds: [], trackGpus: false, memMB: Infinity };
    const sched = new FlowScheduler(schedJobs, budget, flow.keepGoing, { succeeded, failed, running: adopted });
    const open = new Set<number>(adopted);
    const finalState = new Map<number, RunState>();
    for (const i of succeeded) finalState.set(i, "succeeded");
    for (const i of failed) finalState.set(i, "failed");

    // Local CPU pinning: hand each batch the CPU ids of its jobs when -j fits the machine.
    const physical = settings.cpuIds ?? detectCpus();
    const pinCpus = local && budget.cpus <= physical.length;
    const freeCpus = new Set(physical);
    const cpuOf = new Map<number, number[]>();

    const writeStatus = (i: number, state: RunState, message: string, att = attempt[i]!): void => {
      const old = hadRecord[i] ? readRunStatus(runDir(i)) : undefined;
      const t = Date.now();
      mkdirSync(runDir(i), { recursive: true });
      const rec: RunStatusRecord = {
        type: "run-status",
        version: 1,
        runId: manifest.runs[i]!.id,
        index: i,
        state,
        attempt: att,
        updatedAt: t,
        ...(TERMINAL_STATES.has(state) ? { endedAt: t } : {}),
        ...(old?.startedAt !== undefined && state === "failed" ? { startedAt: old.startedAt, exitCode: old.exitCode ?? null } : {}),
        message,
        history: [...(old?.history ?? []), { state, at: t, attempt: att }],
      };
      writeRunStatus(runDir(i), rec);
      hadRecord[i] = 1;
    };

    const cancelAll = (list: Cancelled[]): void => {
      for (const c of list) {
        const why = c.because !== undefined ? `not started: ${jobs[c.because]!.key} failed` : "not started: the flow stopped";
        writeStatus(c.index, "cancelled", why);
        finalState.set(c.index, "cancelled");
      }
    };
    cancelAll(sched.initialCancels());

    const specOf = (i: number, gpuIds: readonly string[]): RunSpec => {
      const j = jobs[i]!;
      const e = manifest.runs[i]!;
      const dir = runDir(i);
      return {
        index: i,
        id: e.id,
        dir,
        argv: j.argv,
        ...(j.wrap ? { wrap: j.wrap } : {}),
        cwd: projectDir,
        env: {
          ...(manifest.baseEnv ?? {}),
          CORRAL_RUN_ID: e.id,
          CORRAL_RUN_DIR: dir,
          CORRAL_SWEEP_DIR: manifest.dir,
          CORRAL_JOB: j.key,
          CORRAL_RULE: j.rule,
        },
        cpus: local && !pinCpus ? 0 : local ? Math.max(1, Math.ceil(j.cpus)) : j.cpus,
        gpus: local && gpuIds.length === 0 ? 0 : j.gpus,
        ...(j.timeoutS !== undefined ? { timeoutS: j.timeoutS } : {}),
        attempt: attempt[i]!,
      };
    };

    const prepare = (i: number): void => {
      const j = jobs[i]!;
      mkdirSync(runDir(i), { recursive: true });
      for (const f of [...j.outputs, ...j.log]) mkdirSync(path.dirname(path.resolve(projectDir, f)), { recursive: true });
      removeOutputs(projectDir, j.outputs);
      if (j.outputs.length > 0) markIncomplete(projectDir, { jobKey: j.key, outputs: j.outputs, sweep: manifest.dir, since: Date.now() });
      // A previous attempt's final state must not be read as this attempt's outcome.
      if (hadRecord[i]) writeStatus(i, "pending", `attempt ${attempt[i]} queued`);
    };

    let submitCount = 0;
    const submitGroup = async (group: Array<{ index: number; gpuIds: string[] }>): Promise<void> => {
      for (const g of group) prepare(g.index);
      // Locally the group is one worker running all at once; on SLURM the launcher packs it with
      // the project's `per_job` / `parallel` (one sbatch array for the group).
      const s: LaunchSettings = local ? { ...settings, parallel: group.length } : { ...settings };
      if (local) {
        const gpu = group.flatMap((g) => g.gpuIds);
        s.gpuIds = gpu.length > 0 ? [...new Set(gpu)] : budget.gpuIds;
        if (pinCpus) {
          const ids: number[] = [];
          for (const g of group) {
            const want = schedJobs[g.index]!.need.cpus;
            const mine = [...freeCpus].sort((a, b) => a - b).slice(0, want);
            for (const c of mine) freeCpus.delete(c);
            cpuOf.set(g.index, mine);
            ids.push(...mine);
          }
          s.cpuIds = ids;
        } else s.cpuIds = physical;
      } else s.slurm = slurmRequest(jobs[group[0]!.index]!, settings, group.length);
      const specs = group.map((g) => specOf(g.index, g.gpuIds));
      let entries: JobEntry[];
      try {
        entries = await launcher.submit({ sweep: view(), runs: specs, settings: s, round: manifest.jobs.length + submitCount++ });
      } catch (e) {
        const msg = `submission failed: ${(e as Error).message}`;
        reporter.emit({ type: "warning", message: msg });
        for (const g of group) endJob(g.index, "failed", msg);
        return;
      }
      manifest.jobs.push(...entries);
      manifestDirty = true;
      for (const g of group) open.add(g.index);
      reporter.emit({ type: "submitted", jobs: entries.map((x) => x.jobId), runs: specs.length });
    };

    const releaseCpus = (i: number): void => {
      for (const c of cpuOf.get(i) ?? []) freeCpus.add(c);
      cpuOf.delete(i);
    };

    let stopping = false;
    const endJob = (i: number, state: RunState, message?: string): void => {
      const j = jobs[i]!;
      releaseCpus(i);
      if (state === "succeeded") {
        const missing = j.outputs.filter((o) => !stat(o));
        if (missing.length > 0) {
          state = "failed";
          message = `finished but did not make its output '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ""}`;
        }
      }
      if (state === "succeeded") {
        for (const o of j.outputs) pendingRecords.push([o, recordOf(j)]);
        clearIncomplete(projectDir, j.key);
        sched.succeeded(i);
        finalState.set(i, "succeeded");
        return;
      }
      removeOutputs(projectDir, j.outputs);
      clearIncomplete(projectDir, j.key);
      if (!stopping && state !== "cancelled" && attempt[i]! <= j.retries) {
        attempt[i]!++;
        reporter.emit({ type: "info", message: `${j.key} ${state}${message ? ` (${message})` : ""}; retrying (attempt ${attempt[i]} of ${j.retries + 1})` });
        sched.retry(i);
        return;
      }
      // The worker wrote its own final record; the head writes one only for what it decided.
      if (message !== undefined) writeStatus(i, state, message);
      finalState.set(i, state);
      reporter.emit({ type: "run-ended", run: runView(i, state, message) });
      cancelAll(sched.failed(i));
    };

    const runView = (i: number, state: RunState, message?: string): RunView => {
      const rec = readRunStatus(runDir(i));
      return {
        index: i,
        id: manifest.runs[i]!.id,
        dir: runDir(i),
        state,
        overrides: [],
        attempt: rec?.attempt ?? attempt[i]!,
        job: jobs[i]!.key,
        ...(rec?.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
        ...(message ?? rec?.message ? { message: (message ?? rec?.message)! } : {}),
      };
    };

    let manifestDirty = false;
    let lastManifestWrite = 0;
    const flush = (final: boolean): void => {
      if (pendingRecords.length > 0) writeBuildRecords(projectDir, pendingRecords.splice(0));
      const t = Date.now();
      // Big manifests are rewritten at most once a second; the status files carry run state.
      if (manifestDirty && (final || n < 2000 || t - lastManifestWrite > 1000)) {
        writeManifest(manifest);
        manifestDirty = false;
        lastManifestWrite = t;
      }
    };

    const progress = (): void => {
      const states: RunState[] = [];
      for (let i = 0; i < n; i++) states.push(finalState.get(i) ?? (open.has(i) ? "running" : "pending"));
      reporter.emit({ type: "progress", counts: countStates(states), total: n, running: [] });
    };

    const pollMin = opts.pollMs ?? 100;
    // Local status files are cheap to read, and a finished job should free its slot at once.
    const pollMax = opts.maxPollMs ?? (local ? 200 : 2000);
    let interval = pollMin;
    let forced = false;
    let lastSig = "";
    let idleRounds = 0;
    for (;;) {
      if (stopRequested && !stopping) {
        stopping = true;
        cancelAll(sched.stop());
        await launcher.cancel(view(), forceRequested);
        forced = forceRequested;
      } else if (stopping && forceRequested && !forced) {
        forced = true;
        await launcher.cancel(view(), true);
      }
      if (!stopping) for (const b of sched.next()) {
        // Local GPU jobs go one per worker, so each worker owns exactly the devices it was given.
        const split = local && b.jobs.some((x) => x.gpuIds.length > 0) ? b.jobs.map((x) => [x]) : [b.jobs];
        for (const g of split) await submitGroup(g);
      }
      flush(false);
      if (open.size === 0) {
        if (sched.done) break;
        // Only a failed submission (now retried or failed) gets here; go round at once.
        if (++idleRounds > 1000) throw new Error("flow head: ready jobs that never start (internal error)");
        continue;
      }
      idleRounds = 0;
      await new Promise<void>((r) => {
        wake = r;
        void sleep(interval).then(r);
      });
      wake = undefined;
      const facts: Map<number, LivenessFacts> = open.size > 0 ? await launcher.explain(view()) : new Map();
      let changed = false;
      const now = Date.now();
      for (const i of [...open]) {
        const rec = readRunStatus(runDir(i));
        const f = facts.get(i) ?? {};
        let state = deriveStatus(rec, now, f);
        let message = rec?.message;
        // Before the run could start: a dead worker (or job) wrote nothing.
        if (rec === undefined && f.workerAlive === false) {
          state = "lost";
          message = `the worker exited before starting it (see ${path.join(manifest.dir, ".corral")})`;
        }
        if (!TERMINAL_STATES.has(state)) continue;
        if (rec !== undefined && rec.state !== state) message ??= `${state}: its worker or job ended without recording an outcome`;
        if (rec !== undefined) hadRecord[i] = 1;
        open.delete(i);
        changed = true;
        endJob(i, state, rec === undefined || rec.state !== state ? message : undefined);
      }
      if (changed) interval = pollMin;
      else interval = Math.min(pollMax, Math.round(interval * 1.5));
      const sig = `${finalState.size}/${open.size}`;
      if (sig !== lastSig) progress();
      lastSig = sig;
    }
    flush(true);
    writeManifest(manifest);
    compactBuildRecords(projectDir);
    progress();
    const runs: RunView[] = [];
    for (let i = 0; i < n; i++) runs.push(runView(i, finalState.get(i) ?? "cancelled"));
    const counts = countStates(runs.map((r) => r.state));
    return { manifest, runs, counts, interrupted: stopRequested === true };
  }

  return { done, stop: head.stop };
}

/**
 * The SLURM request of one array element of a group of jobs with equal resources: the job's
 * resources times the runs that share the element at once, and its timeout times the waves of
 * runs it holds (plus the signal grace). What `launcher:` sets explicitly is kept, except `mem`,
 * where the rule's `mem` wins.
 */
export function slurmRequest(j: Pick<FlowJobSpec, "cpus" | "gpus" | "memMB" | "timeoutS">, settings: LaunchSettings, groupSize: number): LaunchSettings["slurm"] {
  const perElement = Math.max(1, Math.min(settings.perJob, groupSize));
  const atOnce = Math.max(1, Math.min(settings.parallel, perElement));
  const waves = Math.ceil(perElement / atOnce);
  const out = { ...settings.slurm };
  if (j.memMB > 0) out.mem = `${j.memMB * atOnce}M`;
  if (out.cpusPerTask === undefined && j.cpus > 0) out.cpusPerTask = Math.ceil(j.cpus * atOnce);
  if (out.gpus === undefined && out.gres === undefined && j.gpus > 0) out.gpus = Math.ceil(j.gpus * atOnce);
  // A minute of margin for the worker to start and the runs to be handed out.
  if (out.time === undefined && j.timeoutS !== undefined) out.time = waves * j.timeoutS + out.signalGraceS + 60;
  return out;
}
