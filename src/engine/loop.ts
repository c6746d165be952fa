/**
 * The one orchestration loop. Everything is a DAG of runs: a grid sweep is the DAG without
 * edges, a pipeline adds edges. `corral run`, `corral flow`, `corral resume`, a detached flow
 * head and the library's `launch()` all drive their sweep through `driveSweep`:
 *
 *   find ready runs -> pack (locally by the head's budget, or by the launcher) -> submit through
 *   the launcher -> read the runs' own status files (the scheduler only explains what the files
 *   cannot) -> release dependents -> resubmit what the retry policy (plan/retry.ts) allows.
 *
 * What differs between a sweep and a pipeline (outputs to check, build records) comes in as
 * hooks; the loop itself knows nothing of files a run makes. The first start and a resume are
 * the same code: the loop begins by reading what the status files already say.
 */
import { mkdirSync } from "node:fs";
import { CorralError, countOf } from "../errors.js";
import { hostname, totalmem } from "node:os";
import path from "node:path";
import type { Launcher, LaunchSettings } from "../launchers/launcher.js";
import { makeLauncher, visibleGpus } from "../launchers/registry.js";
import { localSettingsOf, policyOf, settingsForAttempt } from "../launchers/settings.js";
import { FlowScheduler, type Budget, type Cancelled, type JobNeed, type SchedJob } from "../plan/flow-sched.js";
import { planResubmissions, type RetryPolicy } from "../plan/retry.js";
import type { JobEntry, JobScheduling, RunSpec, RunState, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus, factsMessage, type LivenessFacts } from "../store/status.js";
import { headJobId, MANIFEST, readRunExit, readRunStatus, workOf, writeManifest, writeRunStatus } from "../store/store.js";
import { pidAlive } from "../store/fsutil.js";
import { detectCpus } from "../worker/resources.js";
import type { Reporter, RunView } from "./events.js";
import { runView } from "./inspect.js";
import { sweepWorkDir } from "../store/layout.js";

/** How long a run with a dead worker, no record and no process waits for its helper's exit file. */
const EXIT_FILE_GRACE_MS = 1500;

/** One node of the DAG as the loop schedules it. */
export interface EngineNode {
  /** Indexes of the nodes it needs (nodes that do not run are not listed). */
  deps: number[];
  need: JobNeed;
  priority: number;
  /** Nodes with equal keys that are ready together go into one submission (one SLURM array). */
  batchKey: string;
  /** Extra attempts after a failure of its own (the rule's or the launcher's `retries`). */
  retries: number;
  /** Its own wall-clock limit (sizes a scheduler job's `--time`). */
  timeoutS?: number | undefined;
  /** Its own scheduler settings (a pipeline rule's `partition`, `gres`, `slurm_extra`...), over the launcher's. */
  scheduling?: JobScheduling | undefined;
  /** It runs on this machine through the local launcher, whatever the sweep's launcher (a pipeline's `localrules`). */
  local?: boolean | undefined;
}

/** Where a node runs, as the head placed it (local head packing only). */
export interface Placement {
  gpuIds: string[];
  /** CPUs it was given: 0 when the worker is not told to pin. */
  cpus: number;
}

/** What differs between a grid sweep and a pipeline. */
export interface LoopHooks {
  /** The run spec of one attempt of node `i`. */
  spec(i: number, attempt: number, resumed: boolean, place: Placement | undefined): RunSpec;
  /** Right before node `i` is submitted (pipelines: remove old outputs, mark them incomplete). */
  prepare?(i: number): void;
  /** A run that succeeded: a message when it still has to count as failed (a missing output). */
  check?(i: number): string | undefined;
  /** A run counted succeeded (also one found succeeded on resume). */
  succeeded?(i: number): void;
  /** A run that ended otherwise, before any retry (pipelines: remove what it half wrote). */
  unsucceeded?(i: number): void;
  /** On resume: whether a run recorded succeeded really stays done (pipelines: its outputs exist). */
  stillDone?(i: number): boolean;
  /** Periodic and final flush of what the hooks buffer (build records). */
  flush?(final: boolean): void;
  /** The job key shown for node `i` (pipelines). */
  label?(i: number): string | undefined;
  /** Whether run `i` was asked to stop early (a study's prune request): a kill is then its pruning. */
  pruneRequested?(i: number): boolean;
  /** Each round, for each run read running (a study's early stopping reads its metrics here). */
  watch?(i: number, rec: RunStatusRecord): void;
}

/**
 * Runs made while the drive goes (a study's trials): the loop asks for one more whenever fewer
 * than `capacity` runs are open or ready, so a trial starts as soon as a slot frees.
 */
export interface GrowHook {
  capacity: number;
  /** The runs there will be in all (the progress view's total). */
  total: number;
  /**
   * Make the next run: append it to `manifest.runs` (its folder and files recorded first) and
   * return its node; undefined when there are no more; `taken` when another maker (a study's
   * worker) made that run first: the loop adopts it, then asks again.
   */
  next(): EngineNode | undefined | "taken";
  /**
   * Runs others appended since the last look (trials a study's workers drew), in index order:
   * `running` ones are in a job the manifest names (followed like adopted runs, never
   * submitted); the others are submitted.
   */
  adopt?(): Array<{ node: EngineNode; running: boolean }>;
  /**
   * The jobs make further runs themselves (a study's SLURM array tasks draw trials as their slots
   * free): while one of the sweep's jobs lives the loop makes none, and waits for them even with
   * no run open.
   */
  drawing?: boolean;
}

export interface LoopOptions {
  manifest: SweepManifest;
  nodes: readonly EngineNode[];
  hooks: LoopHooks;
  reporter: Reporter;
  /** Dependents of a failure still run what they can (`-k`). */
  keepGoing: boolean;
  /**
   * Who packs runs into workers: `launcher` hands every ready run to the launcher in one
   * submission (a local worker with `-j` slots and a refill queue; SLURM arrays), `head` places
   * each run within the local budget (CPUs, GPUs, memory of nodes that differ).
   */
  packing: "launcher" | "head";
  /** Ask for new runs as slots free (a study); without it the runs are `nodes`, fixed. */
  grow?: GrowHook;
  /** Rerun runs recorded failed (resume --retry-failed). */
  retryFailed?: boolean;
  /** Rerun runs whose status record cannot be read (resume --retry-unknown); never by default. */
  retryUnknown?: boolean;
  /** `-j` for this drive (resume). */
  jobs?: number;
  /** Submit what is ready, then return without waiting (`--detach` of a sweep without edges). */
  detach?: boolean;
  /** Record this process in the manifest as the sweep's head (detached pipeline heads). */
  recordHead?: boolean;
  env: Record<string, string | undefined>;
  /** @default 100 */
  pollMs?: number;
  /** @default 200 locally, 2000 otherwise */
  maxPollMs?: number;
}

/** How a drive ended. */
export interface LoopOutcome {
  manifest: SweepManifest;
  runs: RunView[];
  counts: Record<RunState, number>;
  /** Stopped by `stop()` (Ctrl+C, SIGTERM). */
  interrupted: boolean;
  /** Returned after submission (`detach`). */
  detached: boolean;
  /** What the first look at the status files found (resume reports it). */
  found: { succeeded: number; adopted: number; failed: number; unknown: number };
}

/** What the first round did: what the status files showed, and how many runs were submitted. */
export interface FirstRound {
  found: LoopOutcome["found"];
  submitted: number;
}

/** A running drive. */
export interface SweepDrive {
  /** Resolves after the first round of submissions (a detached sweep is then fully submitted). */
  started: Promise<FirstRound>;
  done: Promise<LoopOutcome>;
  /** Start nothing more and stop running runs (gracefully; `force` kills at once). Safe to repeat. */
  stop(force: boolean): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Status files read per round beyond those seen running: workers start runs in index order. */
const FRONTIER = 64;
const FULL_SCAN_EVERY = 10;

/** Drive a sweep (see the module comment). The caller holds the sweep's lock. */
export function driveSweep(opts: LoopOptions): SweepDrive {
  let stopRequested = false;
  let forceRequested = false;
  let wake: (() => void) | undefined;
  const stop = (force: boolean): void => {
    stopRequested = true;
    forceRequested ||= force;
    wake?.();
  };
  let saidStarted: (r: FirstRound) => void = () => undefined;
  const started = new Promise<FirstRound>((r) => (saidStarted = r));
  const done = drive();
  // A drive that fails before its first round still settles `started`.
  done.catch(() => saidStarted({ found: { succeeded: 0, adopted: 0, failed: 0, unknown: 0 }, submitted: 0 }));
  return { started, done, stop };

  async function drive(): Promise<LoopOutcome> {
    const { manifest, hooks, reporter } = opts;
    // Grows when the drive makes runs as it goes (`grow`).
    const nodes: EngineNode[] = [...opts.nodes];
    if (!manifest.settings) throw new CorralError("E_STORAGE", `${path.join(manifest.dir, MANIFEST)} records no launcher settings`, { hint: "start the sweep again", exitCode: 1 });
    const settings: LaunchSettings = { ...manifest.settings };
    if (opts.jobs !== undefined) settings.parallel = opts.jobs;
    const launcher: Launcher = makeLauncher(settings);
    // A job that ends (a local worker exits) wakes the wait below: its last records are on disk.
    launcher.onJobEnd?.(() => wake?.());
    const local = settings.type === "local";
    const headPacks = opts.packing === "head" && local;
    const policy: RetryPolicy = policyOf(settings);
    let n = nodes.length;
    // The launcher never sees a head's entry (a cancel would signal the head itself).
    const view = (): SweepManifest => workOf(manifest);
    // Jobs started by a process that died before recording them: adopt, never submit twice.
    const recovered = launcher.recover ? await launcher.recover(view()) : [];
    if (recovered.length) {
      manifest.jobs.push(...recovered);
      writeManifest(manifest);
      reporter.emit({ type: "info", message: `adopted ${countOf(recovered.length, "job")} missing from the manifest: ${recovered.map((j) => j.jobId).join(", ")}` });
    }
    if (opts.recordHead) {
      manifest.jobs.push({ jobId: headJobId(process.pid), launcher: "local", submittedAt: Date.now(), batches: [], pid: process.pid, host: hostname() });
      writeManifest(manifest);
    }

    const runDir = (i: number): string => path.join(manifest.dir, manifest.runs[i]!.dir);
    const attempt: number[] = new Array<number>(n).fill(1);
    const resumedFlag: number[] = new Array<number>(n).fill(0);
    const hadRecord: number[] = new Array<number>(n).fill(0);
    const succeeded: number[] = [];
    const failed: number[] = [];
    const adopted: number[] = [];
    const unknown: number[] = [];
    const pruned: number[] = [];

    /**
     * The head's own record of run `i` (what it decided, or an outcome read from an exit file),
     * appended to the run's history. `extra` carries what only the caller knows.
     */
    const writeStatus = (i: number, state: RunState, message: string, att = attempt[i]!, extra: Partial<RunStatusRecord> = {}): RunStatusRecord => {
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
        ...(state === "pending" && old?.message ? { message: `previous attempt: ${old.state}: ${old.message}` } : { message }),
        ...extra,
        history: [...(old?.history ?? []), { state, at: t, attempt: att }],
      };
      writeRunStatus(runDir(i), rec);
      hadRecord[i] = 1;
      return rec;
    };

    /**
     * A run whose worker is dead without a final record: its spawn helper wrote the exit before
     * the worker could record it, and the head records the outcome (the attempt's writer is
     * gone). "running" while its process group still lives here (its helper is stopping it); the
     * record written from the exit file; undefined when nothing is known.
     */
    const settleFromExit = (i: number, att: number, rec: RunStatusRecord | undefined): "running" | RunStatusRecord | undefined => {
      const ex = readRunExit(runDir(i), att);
      if (ex === undefined) return rec?.pid !== undefined && rec.host === hostname() && pidAlive(-rec.pid) ? "running" : undefined;
      // Killed by a signal its worker did not send (the scheduler's, or its helper's after the
      // worker died): stopped from outside, so `lost` (resubmitted by the policy). A non-zero exit
      // of its own is `failed`; 0 is `succeeded`, also when its helper was stopping it (it
      // finished its work, as after a scheduler's SIGTERM: docs/reliability.md).
      const killed = ex.signal !== null || (ex.code !== null && [130, 137, 143].includes(ex.code)) || (ex.orphaned && ex.code !== 0);
      const pruned = ex.code !== 0 && hooks.pruneRequested?.(i) === true;
      const state: RunState = pruned ? "pruned" : killed ? "lost" : ex.code === 0 ? "succeeded" : "failed";
      const why = pruned
        ? "stopped early by the study (a prune request); recorded from its exit file (its worker died before recording it)"
        : ex.orphaned && killed
        ? "stopped when its worker died"
        : `${ex.code === 0 ? "finished" : ex.signal ? `killed by ${ex.signal}` : `exited with code ${ex.code}`}; recorded from its exit file (its worker died before recording it)`;
      if (rec !== undefined) hadRecord[i] = 1;
      return writeStatus(i, state, why, att, { endedAt: ex.at, exitCode: ex.code, ...(rec?.startedAt !== undefined ? { startedAt: rec.startedAt } : {}) });
    };

    // What earlier commands left: succeeded runs stay done, live ones are adopted, the rest go again.
    // Read even when the manifest records no job: a command killed between starting a worker and
    // recording it leaves runs whose worker has ended since (recover() adopts only live ones).
    /** Some job of the sweep is queued or running (a study's drawing tasks: see GrowHook.drawing). */
    let jobsAlive = false;
    const liveJobs = (facts: Map<number, LivenessFacts>): boolean => [...facts.values()].some((f) => f.workerAlive === true || f.scheduler === "pending" || f.scheduler === "running");
    {
      const facts = await launcher.explain(view());
      jobsAlive = liveJobs(facts);
      for (let i = 0; i < n; i++) {
        let rec = readRunStatus(runDir(i));
        const f = facts.get(i) ?? {};
        let alive = f.workerAlive === true || f.scheduler === "running" || f.scheduler === "pending";
        // Its worker died without recording the end: the exit file (or the live process) says.
        if (!alive && (rec === undefined || !TERMINAL_STATES.has(rec.state))) {
          const settled = settleFromExit(i, rec?.attempt ?? 1, rec);
          if (settled === "running") alive = true;
          else if (settled) rec = settled;
        }
        if (rec === undefined) {
          if (alive) adopted.push(i);
          continue;
        }
        hadRecord[i] = 1;
        attempt[i] = rec.attempt;
        if (rec.state === "unknown") {
          // Unreadable: it may have succeeded. Rerun only when asked.
          if (opts.retryUnknown) attempt[i] = 1;
          else unknown.push(i);
        } else if (rec.state === "succeeded" && (hooks.stillDone?.(i) ?? true)) {
          succeeded.push(i);
          hooks.succeeded?.(i);
        } else if (rec.state === "pruned") {
          // A study's early stopping ended it: a finished trial, never run again.
          pruned.push(i);
        } else if (!TERMINAL_STATES.has(rec.state) && alive) {
          adopted.push(i);
        } else if (rec.state === "failed" && !opts.retryFailed) {
          failed.push(i);
        } else {
          attempt[i] = rec.attempt + 1;
          // Stopped from outside: it may carry on from a checkpoint.
          if (rec.state === "timeout" || rec.state === "preempted") resumedFlag[i] = 1;
        }
      }
    }
    const found = { succeeded: succeeded.length, adopted: adopted.length, failed: failed.length, unknown: unknown.length };
    if (unknown.length > 0) {
      reporter.emit({
        type: "warning",
        message: `${unknown.length} run${unknown.length === 1 ? " has" : "s have"} an unreadable status record and ${unknown.length === 1 ? "is" : "are"} not rerun (${unknown.slice(0, 5).map((i) => hooks.label?.(i) ?? `run ${i}`).join(", ")}${unknown.length > 5 ? ", ..." : ""}): check ${unknown.length === 1 ? "it" : "them"} with corral status, then rerun with corral resume --retry-unknown`,
      });
    }

    const budget: Budget = headPacks
      ? { ...localBudget(settings, opts.env), trackGpus: true }
      : { jobs: Infinity, cpus: Infinity, gpuIds: [], trackGpus: false, memMB: Infinity };
    const schedJob = (x: EngineNode): SchedJob => ({ deps: x.deps, need: headPacks ? { ...x.need, cpus: Math.max(1, Math.ceil(x.need.cpus)) } : x.need, priority: x.priority, batchKey: x.batchKey });
    const sched = new FlowScheduler(
      nodes.map(schedJob),
      budget,
      opts.keepGoing,
      { succeeded, failed: [...failed, ...unknown, ...pruned], running: adopted },
    );
    const open = new Set<number>(adopted);
    const finalState = new Map<number, RunState>();
    for (const i of succeeded) finalState.set(i, "succeeded");
    for (const i of failed) finalState.set(i, "failed");
    for (const i of unknown) finalState.set(i, "unknown");
    for (const i of pruned) finalState.set(i, "pruned");
    // Last view of each open run that was read running (for the live view and the frontier).
    const seenRunning = new Map<number, RunView>();
    /**
     * When each run was first found with a dead worker, no final record, no exit file and no live
     * process: its spawn helper may be writing the exit file that very moment (the worker died an
     * instant before the run ended, and its exit wakes this loop at once). Lost only once that
     * lasts EXIT_FILE_GRACE_MS.
     */
    const unsettledSince = new Map<number, number>();
    // The view of each run that succeeded, as it was reported: the outcome's list reuses it
    // instead of reading every final record again at the end.
    const succeededView: Array<RunView | undefined> = [];

    // Local CPU pinning by the head: each submission gets the CPU ids of its runs when -j fits the machine.
    const physical = settings.cpuIds ?? detectCpus();
    const pinCpus = headPacks && budget.cpus <= physical.length;
    const freeCpus = new Set(physical);
    const cpuOf = new Map<number, number[]>();

    const viewOf = (i: number, state: RunState, message?: string, known?: RunStatusRecord): RunView => {
      const rec = known ?? (hadRecord[i] ? readRunStatus(runDir(i)) : undefined);
      const v = runView(manifest, manifest.runs[i]!, rec, state);
      const label = hooks.label?.(i);
      return { ...v, attempt: rec?.attempt ?? attempt[i]!, ...(label !== undefined ? { job: label } : {}), ...(message !== undefined ? { message } : {}) };
    };

    const cancelAll = (list: Cancelled[]): void => {
      for (const c of list) {
        const why = c.because !== undefined ? `not started: ${hooks.label?.(c.because) ?? `run ${c.because}`} failed` : "not started: the sweep stopped";
        writeStatus(c.index, "cancelled", why);
        finalState.set(c.index, "cancelled");
      }
    };
    cancelAll(sched.initialCancels());

    const prepare = (i: number): void => {
      mkdirSync(runDir(i), { recursive: true });
      hooks.prepare?.(i);
      // A previous attempt's final state must not be read as this attempt's outcome.
      if (hadRecord[i]) writeStatus(i, "pending", `attempt ${attempt[i]} queued`);
    };

    let manifestDirty = false;
    let submitCount = 0;
    let submittedRuns = 0;
    const submitGroup = async (group: Array<{ index: number; gpuIds: string[] }>): Promise<void> => {
      for (const g of group) prepare(g.index);
      // One submission per attempt number: each attempt has its own resources (`retry_scaling`).
      const byAttempt = new Map<number, typeof group>();
      for (const g of group) byAttempt.set(attempt[g.index]!, [...(byAttempt.get(attempt[g.index]!) ?? []), g]);
      for (const [att, part] of [...byAttempt].sort((a, b) => a[0] - b[0])) {
        const first = nodes[part[0]!.index]!;
        // Jobs that run on this machine under a scheduler's sweep (localrules) go to the local
        // launcher (the launcher routes a submission by its settings' type), as many at once as there are cores.
        const here = first.local === true && !local;
        // The scheduler sizes its job from what the runs need (explicit launcher settings win,
        // a job's own scheduler settings over them), then the attempt's retry scaling applies.
        const sized: LaunchSettings = here
          ? { ...localSettingsOf(settings), parallel: Math.max(1, Math.min(part.length, localSettingsOf(settings).parallel)) }
          : !headPacks && launcher.size
            ? // A drawing task is sized for all its slots, however few trials it starts with.
              launcher.size(settings, { ...first.need, timeoutS: first.timeoutS, ...(first.scheduling ? { scheduling: first.scheduling } : {}) }, opts.grow?.drawing ? Math.max(part.length, settings.parallel) : part.length)
            : settings;
        const s: LaunchSettings = settingsForAttempt(headPacks ? { ...sized, parallel: part.length } : { ...sized }, att, policy);
        if (headPacks) {
          const gpu = part.flatMap((g) => g.gpuIds);
          s.gpuIds = gpu.length > 0 ? [...new Set(gpu)] : budget.gpuIds;
          if (pinCpus) {
            const ids: number[] = [];
            for (const g of part) {
              const want = Math.max(1, Math.ceil(nodes[g.index]!.need.cpus));
              const mine = [...freeCpus].sort((a, b) => a - b).slice(0, want);
              for (const c of mine) freeCpus.delete(c);
              cpuOf.set(g.index, mine);
              ids.push(...mine);
            }
            s.cpuIds = ids;
          } else s.cpuIds = physical;
        }
        const specs = part.map((g) => {
          const place = headPacks ? { gpuIds: g.gpuIds, cpus: pinCpus ? Math.max(1, Math.ceil(nodes[g.index]!.need.cpus)) : 0 } : undefined;
          return hooks.spec(g.index, attempt[g.index]!, resumedFlag[g.index] === 1, place);
        });
        let entries: JobEntry[];
        try {
          entries = await launcher.submit({ sweep: view(), runs: specs, settings: s, round: manifest.jobs.length + submitCount++ });
        } catch (e) {
          const msg = `submission failed: ${(e as Error).message}`;
          reporter.emit({ type: "warning", message: msg });
          for (const g of part) endRun(g.index, "failed", msg, false);
          continue;
        }
        manifest.jobs.push(...entries);
        manifestDirty = true;
        for (const g of part) open.add(g.index);
        submittedRuns += specs.length;
        reporter.emit({ type: "submitted", jobs: entries.map((x) => x.jobId), runs: specs.length });
      }
    };

    const releaseCpus = (i: number): void => {
      for (const c of cpuOf.get(i) ?? []) freeCpus.add(c);
      cpuOf.delete(i);
    };

    let stopping = false;
    const saidEnded = new Set<string>();
    const retryNotes: Array<{ label: string; state: RunState; attempt: number; of: number }> = [];
    /** One line per round for the runs that go again. */
    const reportRetries = (): void => {
      if (retryNotes.length === 0) return;
      const notes = retryNotes.splice(0);
      const why = [...new Set(notes.map((x) => x.state))].join("/");
      const lo = Math.min(...notes.map((x) => x.attempt));
      const hi = Math.max(...notes.map((x) => x.attempt));
      const of = Math.max(...notes.map((x) => x.of));
      const who = notes.length <= 3 ? `: ${notes.map((x) => x.label).join(", ")}` : "";
      reporter.emit({ type: "info", message: `resubmitting ${countOf(notes.length, "run")} after ${why}${who}; retrying (attempt ${lo}${hi > lo ? `-${hi}` : ""} of ${of})` });
    };
    /**
     * A run ended. `jobAlive`: its worker or job still runs (SLURM may have requeued it): then a
     * resubmission waits until it is gone, so no run ever runs beside an earlier copy of itself.
     * Returns false when the run stays open for now.
     */
    const endRun = (i: number, state: RunState, message: string | undefined, jobAlive: boolean, runTimeout = false, rec?: RunStatusRecord): boolean => {
      if (state === "succeeded") {
        const why = hooks.check?.(i);
        if (why !== undefined) {
          state = "failed";
          message = why;
        }
      }
      if (state === "succeeded") {
        // Stopped from outside and finished by its requeued job between two looks: say so.
        const hist = (rec ?? readRunStatus(runDir(i)))?.history ?? [];
        const outside = [...new Set(hist.filter((h) => h.attempt === attempt[i] && (h.state === "preempted" || h.state === "lost")).map((h) => h.state))].filter((st) => !saidEnded.has(`${i}:${attempt[i]}:${st}`));
        if (outside.length > 0) reporter.emit({ type: "info", message: `${hooks.label?.(i) ?? `run ${i}`} was ${outside.join(", then ")} and finished in its requeued job` });
        releaseCpus(i);
        hooks.succeeded?.(i);
        sched.succeeded(i);
        finalState.set(i, "succeeded");
        const v = viewOf(i, state, undefined, rec);
        succeededView[i] = v;
        reporter.emit({ type: "run-ended", run: v });
        return true;
      }
      const again = stopping || state === "cancelled" ? [] : planResubmissions([{ index: i, state, attempt: attempt[i]!, runTimeout }], { ...policy, retries: nodes[i]!.retries });
      if (again.length > 0 && jobAlive) {
        // Its job lives on (SLURM requeued it): say what happened once, then wait for the job.
        const key = `${i}:${attempt[i]}:${state}`;
        if (!saidEnded.has(key)) {
          saidEnded.add(key);
          reporter.emit({ type: "run-ended", run: viewOf(i, state, message) });
          reporter.emit({ type: "info", message: `${hooks.label?.(i) ?? `run ${i}`} ${state}; its job is still queued or running (requeued by the scheduler): waiting for it` });
        }
        return false;
      }
      releaseCpus(i);
      hooks.unsucceeded?.(i);
      const r = again[0];
      if (r !== undefined) {
        // Said as it ended, then that it goes again.
        reporter.emit({ type: "run-ended", run: viewOf(i, state, message) });
        retryNotes.push({ label: `${hooks.label?.(i) ?? `run ${i}`}${message ? ` (${message})` : ""}`, state, attempt: r.attempt, of: state === "failed" || runTimeout ? nodes[i]!.retries + 1 : policy.maxAttempts });
        // The head's note of a run its worker never recorded, so the next attempt's history shows it.
        if (message !== undefined) writeStatus(i, state, message);
        attempt[i] = r.attempt;
        resumedFlag[i] = r.resumed ? 1 : 0;
        sched.retry(i);
        return true;
      }
      // The worker wrote its own final record; the head writes one only for what it decided.
      if (message !== undefined) writeStatus(i, state, message);
      finalState.set(i, state);
      reporter.emit({ type: "run-ended", run: viewOf(i, state, message) });
      cancelAll(sched.failed(i));
      return true;
    };

    let lastManifestWrite = 0;
    const flush = (final: boolean): void => {
      hooks.flush?.(final);
      const t = Date.now();
      // Big manifests are rewritten at most once a second; the status files carry run state.
      if (manifestDirty && (final || n < 2000 || t - lastManifestWrite > 1000)) {
        writeManifest(manifest);
        manifestDirty = false;
        lastManifestWrite = t;
      }
    };

    /** A cancel that fails is said in one line; the loop goes on and reports what happened. */
    const cancelJobs = async (force: boolean): Promise<void> => {
      try {
        await launcher.cancel(view(), force);
      } catch (e) {
        reporter.emit({ type: "warning", message: `cancel failed: ${(e as Error).message}` });
      }
    };

    let lastSig = "";
    const progress = (force = false): void => {
      const running = [...seenRunning.values()];
      const counts = countStates(finalState.values());
      counts.running += running.length;
      const total = Math.max(n, opts.grow?.total ?? 0);
      counts.pending += total - finalState.size - running.length;
      const sig = JSON.stringify(counts);
      if (!force && sig === lastSig) return;
      lastSig = sig;
      reporter.emit({ type: "progress", counts, total, running });
    };

    const pollMin = opts.pollMs ?? 100;
    // Local status files are cheap to read, and a finished run should free its slot at once.
    const pollMax = opts.maxPollMs ?? (local ? 200 : 2000);
    let interval = pollMin;
    let forced = false;
    let idleRounds = 0;
    let round = 0;
    let lastWaiting = "";
    let explainFailures = 0;
    for (;;) {
      if (stopRequested && !stopping) {
        stopping = true;
        cancelAll(sched.stop());
        await cancelJobs(forceRequested);
        forced = forceRequested;
      } else if (stopping && forceRequested && !forced) {
        forced = true;
        await cancelJobs(true);
      }
      if (!stopping && opts.grow) {
        const grow = opts.grow;
        const append = (node: EngineNode): void => {
          nodes.push(node);
          attempt.push(1);
          resumedFlag.push(0);
          hadRecord.push(0);
          n++;
          manifestDirty = true;
        };
        const adoptGrown = (): void => {
          for (const a of grow.adopt?.() ?? []) {
            append(a.node);
            if (a.running) open.add(sched.addRunning(schedJob(a.node)));
            else sched.add(schedJob(a.node));
          }
        };
        adoptGrown();
        // A study: its next trials, as many as there are free slots (its drawing tasks fill their own).
        const paused = grow.drawing === true && jobsAlive;
        while (!paused && open.size + sched.readyCount < grow.capacity) {
          const node = grow.next();
          if (node === "taken") {
            adoptGrown();
            continue;
          }
          if (node === undefined) break;
          append(node);
          sched.add(schedJob(node));
        }
      }
      if (!stopping) {
        for (const b of sched.next()) {
          // Local GPU runs placed by the head go one per worker, so each worker owns exactly its devices.
          const split = headPacks && b.jobs.some((x) => x.gpuIds.length > 0) ? b.jobs.map((x) => [x]) : [b.jobs];
          for (const g of split) await submitGroup(g);
        }
      }
      flush(false);
      if (round === 0) saidStarted({ found, submitted: submittedRuns });
      if (opts.detach && !stopping) {
        flush(true);
        const runs = manifest.runs.map((_, i) => viewOf(i, finalState.get(i) ?? "pending"));
        return { manifest, runs, counts: countStates(runs.map((r) => r.state)), interrupted: false, detached: true, found };
      }
      // A study's drawing tasks still live: they may make further trials; wait for them.
      const drawersLive = opts.grow?.drawing === true && jobsAlive && !stopping;
      if (open.size === 0 && !drawersLive) {
        if (sched.done) break;
        // Only a failed submission (now retried or failed) gets here; go round at once.
        if (++idleRounds > 1000) throw new Error("corral: ready runs that never start (internal error)");
        continue;
      }
      idleRounds = 0;
      await new Promise<void>((r) => {
        wake = r;
        void sleep(interval).then(r);
      });
      wake = undefined;
      // The scheduler not answering this round (busy slurmctld) is no reason to stop: the status
      // files still give progress, and nothing is called lost without the scheduler's word.
      let facts: Map<number, LivenessFacts>;
      try {
        facts = await launcher.explain(view());
        explainFailures = 0;
        jobsAlive = liveJobs(facts);
      } catch (e) {
        facts = new Map();
        if (explainFailures++ === 0) reporter.emit({ type: "warning", message: `the scheduler did not answer (${(e as Error).message}); going on with the status files` });
      }
      const anyAlive = [...open].some((i) => facts.get(i)?.workerAlive !== false);
      // Which status files to read: all of them every FULL_SCAN_EVERY rounds and when nothing may
      // still run (the final truth); otherwise those seen running plus the first FRONTIER others,
      // since workers start runs in index order. A 100k-run sweep costs a few hundred reads a round.
      const full = open.size <= FRONTIER * 2 || !anyAlive || round % FULL_SCAN_EVERY === 0;
      round++;
      let frontier = 0;
      let changed = false;
      const closeRun = (i: number): void => {
        open.delete(i);
        seenRunning.delete(i);
        changed = true;
      };
      // Why runs wait in the queue, said again only when it changes.
      const waiting = new Map<string, number>();
      const now = Date.now();
      for (const i of [...open].sort((a, b) => a - b)) {
        if (!full && !seenRunning.has(i) && frontier++ >= FRONTIER) continue;
        const rec = readRunStatus(runDir(i));
        const f = facts.get(i) ?? {};
        // A record of an earlier attempt (a retry not yet started by its worker) says nothing of this one.
        const current = rec !== undefined && rec.attempt === attempt[i] ? rec : undefined;
        // Queued but not started: the scheduler explains it (the head's own `pending` note says nothing).
        const started = current !== undefined && current.state !== "pending" ? current : undefined;
        let state = deriveStatus(started, now, f);
        let message = started?.message;
        if (state === "pending" && f.reason) waiting.set(f.reason, (waiting.get(f.reason) ?? 0) + 1);
        // The scheduler can never start it (a reason that cannot clear): say which.
        if (started === undefined) message = factsMessage(state, f) ?? message;
        // A dead worker that did not record the end: its exit file (or the live process) says.
        if (f.workerAlive === false && (state === "lost" || (started === undefined && !TERMINAL_STATES.has(state)))) {
          const settled = settleFromExit(i, attempt[i]!, current);
          if (settled === "running") continue;
          if (settled) {
            unsettledSince.delete(i);
            if (endRun(i, settled.state, undefined, false, false, settled)) closeRun(i);
            continue;
          }
          const since = unsettledSince.get(i) ?? now;
          unsettledSince.set(i, since);
          if (now - since < EXIT_FILE_GRACE_MS) {
            changed = true; // look again soon
            continue;
          }
        }
        // Before the run could start: a dead worker (or job) wrote nothing.
        if (started === undefined && f.workerAlive === false && !TERMINAL_STATES.has(state)) {
          state = "lost";
          message = `the worker exited before starting it (see ${sweepWorkDir(manifest.dir)})`;
        } else if (started === undefined && state === "lost" && message === undefined) {
          message = `its job ended (${f.scheduler}) before starting it: see the job log in ${manifest.dir}`;
        }
        const jobAlive = f.workerAlive === true || f.scheduler === "pending" || f.scheduler === "running";
        if (rec?.state === "unknown" && !jobAlive) {
          // Its record became unreadable and nothing runs it: never guess, never rerun.
          hadRecord[i] = 1;
          finalState.set(i, "unknown");
          cancelAll(sched.failed(i));
          reporter.emit({ type: "run-ended", run: viewOf(i, "unknown", rec.message, rec) });
          closeRun(i);
          continue;
        }
        if (!TERMINAL_STATES.has(state)) {
          if (state === "running" && current) {
            hooks.watch?.(i, current);
            hadRecord[i] = 1;
            if (!seenRunning.has(i)) changed = true;
            seenRunning.set(i, runView(manifest, manifest.runs[i]!, current, "running"));
          }
          continue;
        }
        if (started !== undefined && started.state !== state) message ??= `${state}: its worker or job ended without recording an outcome`;
        if (current !== undefined) hadRecord[i] = 1;
        if (endRun(i, state, started === undefined || started.state !== state ? message : undefined, jobAlive, started?.stopCause === "run-timeout", started)) closeRun(i);
      }
      reportRetries();
      const why = [...waiting].map(([r, k]) => `${k} pending (${r})`).join(", ");
      if (why !== lastWaiting && why) reporter.emit({ type: "info", message: `queue: ${why}` });
      lastWaiting = why;
      if (changed) interval = pollMin;
      else interval = Math.min(pollMax, Math.round(interval * 1.5));
      progress();
    }
    flush(true);
    progress(true);
    const runs: RunView[] = [];
    for (let i = 0; i < n; i++) runs.push(succeededView[i] ?? viewOf(i, finalState.get(i) ?? "cancelled"));
    return { manifest, runs, counts: countStates(runs.map((r) => r.state)), interrupted: stopRequested, detached: false, found };
  }
}

/** Budget of the local machine when the head packs: `-j` cores and runs, its GPUs and memory. */
export function localBudget(settings: LaunchSettings, env: Record<string, string | undefined>): { jobs: number; cpus: number; gpuIds: string[]; memMB: number } {
  return {
    jobs: settings.parallel,
    cpus: settings.parallel,
    gpuIds: settings.gpuIds ?? visibleGpus(env as NodeJS.ProcessEnv).ids,
    memMB: Math.floor(totalMemMB()),
  };
}

const totalMemMB = (): number => totalmem() / 1024 / 1024;
