/**
 * The worker's core: run the runs of one batch with `parallel` slots, a refill queue, CPU/GPU
 * split and stagger, recording each run's state in its own status file. Used both inside SLURM
 * allocations and by the local launcher, so a run's outcome is on disk whatever happens to the
 * `corral` process that started it.
 */
import { countOf } from "../errors.js";
import { existsSync } from "node:fs";
import path from "node:path";
import type { BatchSpec, RunSpec, RunState, RunStatusRecord } from "../store/protocol.js";
import { Ballast, cmdlineOf, isDiskFull, pidAlive } from "../store/fsutil.js";
import { ClaimIdentity, sameWorker, type Claim, type ClaimVerdict } from "../store/claim.js";
import { readPruneRequest, readRunStatus, writeRunStatus } from "../store/store.js";
import { SpawnHelper } from "./spawn-helper.js";
import { cancelMarkerOf, runExitFile, STDERR, STDOUT, workerBallastFile } from "../store/layout.js";
import { fitsBeforeEnd, medianMs, ResourcePool, SlotScheduler, type Deadline, type Grant } from "./slots.js";
import { signalExitCode, startRun, type Supervised } from "./supervise.js";

/**
 * `<sweep>/.slurm/<CANCEL_MARKER>` (store/layout.ts): written by `corral cancel` before scancel,
 * removed by the next submission. While it exists no worker of the sweep starts a run: a queued
 * array task that SLURM starts in the instant between the marker and scancel records its runs
 * `cancelled` instead. `<batch file><BATCH_DONE_SUFFIX>`: written by a SLURM worker that ended its
 * batch (every run's record final) and was not preempted, so the launcher knows the job is over
 * without asking SLURM.
 */
export { BATCH_DONE_SUFFIX, CANCEL_MARKER } from "../store/layout.js";

export interface WorkerContext {
  env: NodeJS.ProcessEnv;
  host: string;
  pid: number;
  cpuIds: number[];
  gpuIds: string[];
  /** `<array job>_<task>` or job id inside SLURM. */
  jobId?: string;
  /** Times the scheduler started this job again (AllocationFacts.restartCount; SLURM_RESTART_COUNT): > 0 after a requeue. */
  restartCount: number;
  /** When the allocation ends (ms since epoch), if known: runs that cannot finish by then minus `batch.endGraceS` are not started. */
  allocEndMs?: number;
  log: (msg: string) => void;
  now?: () => number;
  /** True once the sweep's cancel was requested. @default the sweep's cancel marker exists */
  cancelRequested?: () => boolean;
  /**
   * Set when a setup line of the job failed (`corral: setup line N failed ...`): no run starts,
   * every run not yet succeeded is recorded failed with this message.
   */
  setupFailed?: string;
  /**
   * A study's batch: make the study's next trial (worker/trials.ts trialDrawer), undefined when
   * there is none to make. Called when a slot is free and no run of the batch waits.
   */
  draw?: () => RunSpec | undefined;
}

/** See start(): how long a run lives before its "running" record is written. */
const RUNNING_WRITE_DELAY_MS = 100;
/**
 * Runs handed to the spawn helper beyond the busy slots (at least `parallel`): enough that its
 * queue does not run dry while this worker waits for a CPU on a busy machine.
 */
const LOOKAHEAD = 16;
/** How long a run killed from outside waits for the worker's own stop signal before it counts as failed. */
const OUTSIDE_KILL_SETTLE_MS = 1000;
/** How often a worker looks for a study's prune requests of its prunable runs. */
const PRUNE_POLL_MS = 250;

/**
 * cancel: stop by request (runs `cancelled`); immediate: kill now; timeout: the allocation's limit
 * is near (runs `timeout`); preempt: the scheduler stops the job without our asking (preemption,
 * node failure, requeue): runs `preempted`, unstarted runs left pending for the requeued job.
 */
export type StopMode = "cancel" | "immediate" | "timeout" | "preempt";

export interface BatchHandle {
  done: Promise<BatchResult>;
  stop(mode: StopMode): void;
}

export interface BatchResult {
  exitCode: number;
  counts: Partial<Record<RunState, number>>;
}

interface Active {
  spec: RunSpec;
  grant: Grant;
  proc: Supervised;
  record: RunStatusRecord;
  /** Why we signalled this run, if we did: decides its final state whatever its exit code. */
  stopReason?: "run-timeout" | "alloc-timeout" | "cancel" | "preempt" | "prune";
  /** The head's prune request (a study's ASHA), once seen. */
  prune?: { rung: number; resource: number; value: number };
  timer?: NodeJS.Timeout;
}

export function runBatch(batch: BatchSpec, ctx: WorkerContext): BatchHandle {
  const now = ctx.now ?? Date.now;
  const verbose = batch.verbose;
  const vlog = (m: string): void => {
    if (verbose) ctx.log(m);
  };
  const pool = new ResourcePool({ cpuIds: ctx.cpuIds, gpuIds: ctx.gpuIds, parallel: batch.parallel, pinByDefault: batch.pinCpus ?? true });
  vlog(`worker ${ctx.pid}@${ctx.host}: batch ${batch.batchId}, ${countOf(batch.runs.length, "run")}, parallel ${batch.parallel}, stagger ${batch.stagger}s, CPUs [${ctx.cpuIds.join(",")}], GPUs [${ctx.gpuIds.join(",")}]`);
  const counts: Partial<Record<RunState, number>> = {};
  const bump = (s: RunState): void => {
    counts[s] = (counts[s] ?? 0) + 1;
  };

  // A run that already succeeded is never run again (a batch-mate's failure or a requeue of the
  // whole job must not repeat finished work).
  const todo: RunSpec[] = [];
  const prev = new Map<number, RunStatusRecord | undefined>();
  for (const r of batch.runs) {
    const rec = readRunStatus(r.dir);
    if (rec?.state === "succeeded") {
      vlog(`run ${r.index}: already succeeded (attempt ${rec.attempt}), skipped`);
      bump("succeeded");
      continue;
    }
    prev.set(r.index, rec);
    todo.push(r);
  }
  // Claims and fencing (docs/reliability.md): each run's attempt is claimed before it can start
  // (store/claim.ts), so of two workers handed the same run (a crash between spawn and record,
  // two commands at once, a requeued job) exactly one starts it. A run whose claim another
  // worker may still be using is held, not started: dropped if that copy succeeds, started once
  // that claim is over or its owner dead. A record saying another worker runs it with a fresh
  // heartbeat (from another host, or a live process here) holds it too: after a node failure
  // SLURM may requeue a job whose old steps are still finishing on the lost node.
  const fenceMs = 3 * Math.max(1, batch.heartbeatS) * 1000 + 5000;
  const elsewhere = (rec: RunStatusRecord | undefined): boolean =>
    rec?.state === "running" &&
    rec.worker !== undefined &&
    !(rec.worker.host === ctx.host && rec.worker.pid === ctx.pid) &&
    now() - rec.updatedAt < fenceMs &&
    (rec.worker.host !== ctx.host || pidAlive(rec.worker.pid));
  const ident = new ClaimIdentity(
    { type: "worker", version: 1, pid: ctx.pid, host: ctx.host, startedAt: now(), batchId: batch.batchId, ...(ctx.jobId ? { jobId: ctx.jobId } : {}), restartCount: ctx.restartCount },
    batch.sweepDir,
  );
  // Room in reserve: on a full disk the outcomes of runs that finished can still be recorded.
  const ballast = new Ballast(workerBallastFile(ident.file));
  const claims = new Map<number, Claim>();
  /** May another worker's claim `c` of this run still be running it? */
  const judge =
    (rec: RunStatusRecord | undefined) =>
    (c: Claim): ClaimVerdict => {
      const o = c.owner;
      if (!o) return "over";
      // Its owner recorded how that attempt ended (or that it never started it).
      if (rec && sameWorker(rec.worker, o) && rec.attempt === c.attempt && rec.state !== "running" && rec.state !== "pending") return "over";
      if (o.host === ctx.host) {
        // Our own pid, an earlier start (a requeue in a fresh pid namespace): that process is gone.
        if (o.pid !== ctx.pid && workerAlive(o.pid)) return "live";
        // Its owner died; the run's process group may still be ending (its helper stops it).
        return rec?.pid !== undefined && sameWorker(rec.worker, o) && pidAlive(-rec.pid) ? "live" : "over";
      }
      return now() - c.mtimeMs < fenceMs ? "live" : "over";
    };
  /** Claim run `spec` (again): go, hold, or drop (succeeded elsewhere / a later attempt exists). */
  const gate = (spec: RunSpec, rec: RunStatusRecord | undefined): "go" | "hold" | "succeeded" | "superseded" => {
    if (rec?.state === "succeeded") return "succeeded";
    const mine = claims.get(spec.index);
    const r = mine ? ident.verify(spec.dir, mine, judge(rec)) : ident.claim(spec.dir, spec.attempt, judge(rec));
    if (r.kind === "superseded") {
      claims.delete(spec.index);
      vlog(`run ${spec.index}: attempt ${spec.attempt} superseded by attempt ${r.by.attempt} (${ownerName(r.by)}); not run here`);
      return "superseded";
    }
    if (r.claim) claims.set(spec.index, r.claim);
    if (r.kind === "held") {
      vlog(`run ${spec.index}: held: ${ownerName(r.by)} may still be running attempt ${r.by.attempt}`);
      return "hold";
    }
    if (elsewhere(rec)) {
      vlog(`run ${spec.index}: held: ${rec!.worker!.host} may still be running it (heartbeat ${Math.round((now() - rec!.updatedAt) / 1000)}s ago)`);
      return "hold";
    }
    return "go";
  };
  /** Give back the claims of runs this worker will not start (drained, deferred, held). */
  const releaseClaim = (i: number): void => {
    const c = claims.get(i);
    if (c) ident.release(c);
    claims.delete(i);
  };
  if (ctx.setupFailed !== undefined) {
    // Only runs this worker holds get its failure recorded: another worker's runs are theirs.
    const mine = todo.filter((r) => gate(r, prev.get(r.index)) === "go");
    ident.close();
    ballast.release();
    return failAll(batch, ctx, mine, prev, ctx.setupFailed, counts);
  }
  const specs = new Map(todo.map((r) => [r.index, r]));
  // Copy the environment once: every read of process.env goes through a slow native interceptor.
  const baseEnv: NodeJS.ProcessEnv = { ...ctx.env };
  // Durations of this batch's succeeded runs: their median estimates runs that give none.
  const durations: number[] = [];
  const deadline: Deadline | undefined =
    ctx.allocEndMs !== undefined && batch.endGraceS !== undefined
      ? {
          endMs: ctx.allocEndMs,
          graceMs: batch.endGraceS * 1000,
          estimateMs: (i) => {
            const e = specs.get(i)?.estimateS;
            return e !== undefined ? e * 1000 : medianMs(durations);
          },
        }
      : undefined;
  if (deadline) vlog(`allocation ends ${new Date(deadline.endMs).toISOString()}; runs must finish ${batch.endGraceS}s before`);
  const sched = new SlotScheduler(
    pool,
    todo.map((r) => ({ index: r.index, cpus: r.cpus, gpus: Number.isFinite(r.gpus) && r.gpus >= 0 ? r.gpus : undefined })),
    batch.stagger * 1000,
    deadline,
  );
  const fenced = new Set<number>();
  for (const r of todo) {
    const g = gate(r, prev.get(r.index));
    if (g === "go") continue;
    if (g === "hold") {
      fenced.add(r.index);
      sched.hold(r.index);
    } else {
      sched.drop(r.index);
      if (g === "succeeded") bump("succeeded");
    }
  }
  const fenceTimer = fenced.size
    ? setInterval(() => {
        for (const i of fenced) {
          const rec = readRunStatus(specs.get(i)!.dir);
          const g = gate(specs.get(i)!, rec);
          if (g === "hold") continue;
          fenced.delete(i);
          if (g === "go") {
            prev.set(i, rec);
            sched.release(i);
            vlog(`run ${i}: released (${rec?.state ?? "no record"})`);
          } else {
            sched.drop(i);
            if (g === "succeeded") {
              bump("succeeded");
              vlog(`run ${i}: succeeded elsewhere; not run again`);
            }
          }
        }
        if (fenced.size === 0) clearInterval(fenceTimer);
        pump();
      }, 1000)
    : undefined;
  const active = new Map<number, Active>();
  // One small process starts every run of the batch (see spawn-helper.ts); none for an empty batch.
  // Also for one run: the helper records exits and stops the runs if this worker dies.
  // It keeps `parallel` slots: runs handed over while all are busy start the moment one frees.
  const helper = todo.length > 0 || ctx.draw ? SpawnHelper.start(baseEnv, undefined, { slots: batch.parallel, marker: ctx.cancelRequested ? undefined : cancelMarkerOf(batch.sweepDir) }) : undefined;
  sched.lookahead = () => (helper?.queues ? Math.max(batch.parallel, LOOKAHEAD) : 0);
  let stopping: StopMode | undefined;
  let cancelReason = "not started: the batch was stopped";
  let wakeTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (r: BatchResult) => void;
  const done = new Promise<BatchResult>((r) => (resolveDone = r));
  let finished = false;

  /**
   * Write a run's record. On a full disk (or quota): free the ballast and write it again, then
   * start no further run (they stay pending for `corral resume`), let the running ones end and
   * record them, and say so once in the worker log. Never throws: a record that cannot be written
   * leaves the run to the engine (its exit file, or a rerun).
   */
  let diskFull = false;
  const record = (dir: string, rec: RunStatusRecord): boolean => {
    try {
      writeRunStatus(dir, rec);
      return true;
    } catch (e) {
      if (!isDiskFull(e)) {
        ctx.log(`cannot record run ${rec.index} (${rec.state}): ${(e as Error).message}`);
        return false;
      }
      let ok = false;
      if (ballast.release()) {
        try {
          writeRunStatus(dir, rec);
          ok = true;
        } catch {
          /* said below */
        }
      }
      if (!diskFull) {
        diskFull = true;
        ctx.log(`the disk is full (${(e as Error).message}): no further run starts; runs that finished are recorded while room lasts; free space, then \`corral resume\``);
        sched.stop();
        for (const req of sched.drain()) releaseClaim(req.index);
        queueMicrotask(pump);
      }
      if (!ok) ctx.log(`run ${rec.index}: its ${rec.state} record could not be written (disk full)`);
      return ok;
    }
  };

  const baseRecord = (spec: RunSpec, state: RunState): RunStatusRecord => workerRecord(batch, ctx, spec, state, prev.get(spec.index), now());

  const start = (grant: Grant, queued = false): void => {
    const spec = specs.get(grant.index)!;
    const env: NodeJS.ProcessEnv = { ...baseEnv, ...spec.env };
    env.CORRAL_ATTEMPT = String(spec.attempt);
    // 1 after a requeue by SLURM or a resubmission of a run that hit its time limit.
    env.CORRAL_RESUMED = ctx.restartCount > 0 || spec.env.CORRAL_RESUMED === "1" ? "1" : "0";
    env.OMP_NUM_THREADS = String(grant.threads);
    if (pool.gpuIds.length > 0) env.CUDA_VISIBLE_DEVICES = grant.gpuIds.join(",");
    if (grant.gpuShare > 0 && grant.gpuShare < 1) env.CORRAL_GPU_FRACTION = String(grant.gpuShare);
    const argv = [...(spec.wrap ?? []), ...spec.argv];
    const runningRecord = baseRecord(spec, "running");
    runningRecord.startedAt = runningRecord.updatedAt;
    runningRecord.cpus = grant.cpuIds;
    runningRecord.gpus = grant.gpuIds;
    const proc = startRun({
      argv,
      cwd: spec.cwd,
      env,
      stdoutFile: path.join(spec.dir, STDOUT),
      stderrFile: path.join(spec.dir, STDERR),
      ...(grant.pinned && grant.cpuIds.length ? { cpus: grant.cpuIds } : {}),
      helper,
      exitFile: runExitFile(spec.dir, spec.attempt),
      queued,
    });
    const a: Active = { spec, grant, proc, record: runningRecord };
    active.set(spec.index, a);
    // The "running" record is written once the run has lived RUNNING_WRITE_DELAY_MS since its
    // process started (its pid known: it names the process group a later command checks): a run
    // that ends sooner gets only its final record, which halves the writes of sweeps of tiny runs.
    let runningTimer: NodeJS.Timeout | undefined;
    void proc.started.then((pid) => {
      if (pid === undefined) return;
      runningRecord.pid = pid;
      // A queued run starts when a slot frees: its clock starts then.
      if (queued) runningRecord.startedAt = runningRecord.updatedAt = runningRecord.history[runningRecord.history.length - 1]!.at = now();
      runningTimer = setTimeout(() => {
        if (active.has(spec.index)) record(spec.dir, runningRecord);
      }, RUNNING_WRITE_DELAY_MS);
      // Its own time limit counts from its start.
      if (spec.timeoutS !== undefined && spec.timeoutS > 0) {
        a.timer = setTimeout(() => {
          a.stopReason = "run-timeout";
          vlog(`run ${spec.index}: timeout ${spec.timeoutS}s reached, stopping`);
          void proc.stop(batch.killGraceS * 1000);
        }, spec.timeoutS * 1000);
      }
    });
    vlog(`run ${spec.index}: ${queued ? "queued for the next free slot" : "start"}${proc.pid !== undefined ? ` pid ${proc.pid}` : ""} cpus [${grant.cpuIds.join(",")}]${grant.pinned ? " pinned" : " shared"} gpus [${grant.gpuIds.join(",")}]${grant.gpuShare > 0 && grant.gpuShare < 1 ? ` share ${grant.gpuShare}` : ""}`);
    void proc.exited.then(async (exit) => {
      if (exit.notStarted) {
        // A queued start withdrawn before it began: the batch is stopping, or the helper found the
        // cancel marker first. Recorded as stop() records the runs it never started.
        active.delete(spec.index);
        sched.finished(grant);
        if (stopping === undefined) cancelReason = "not started: the sweep was cancelled";
        if (stopping === undefined || stopping === "cancel") {
          record(spec.dir, { ...baseRecord(spec, "cancelled"), message: cancelReason });
          bump("cancelled");
        }
        // Never started here: its claim goes (a cancelled record ends it anyway).
        releaseClaim(spec.index);
        if (stopping === undefined) stop("cancel");
        else pump();
        return;
      }
      // Killed by a signal we did not send: a scheduler signals the job's processes one by one,
      // so the run may die of it an instant before this worker gets its own SIGTERM. Wait a
      // moment (the run stays active meanwhile) so a preemption or cancel is recorded as such.
      const killedFromOutside = exit.signal === "SIGTERM" || exit.signal === "SIGKILL" || exit.signal === "SIGINT" || exit.code === 143 || exit.code === 137;
      if (killedFromOutside && a.stopReason === undefined && stopping === undefined) await new Promise((r) => setTimeout(r, OUTSIDE_KILL_SETTLE_MS));
      clearTimeout(a.timer);
      clearTimeout(runningTimer);
      active.delete(spec.index);
      sched.finished(grant);
      const rec = a.record;
      const t = now();
      let state: RunState;
      let message: string | undefined;
      // Reaped before any stop signal was sent: it ended on its own (its work done), whatever was
      // asked since; recorded cancelled it would run again on resume.
      const endedFirst = exit.at !== undefined && a.proc.signalledAt !== undefined && exit.at < a.proc.signalledAt;
      if (exit.spawnError) {
        state = "failed";
        message = exit.spawnError;
      } else if (endedFirst && exit.code === 0) {
        state = "succeeded";
        if (rec.startedAt !== undefined) durations.push(t - rec.startedAt);
      } else if (a.stopReason === "run-timeout") {
        state = "timeout";
        message = `exceeded its timeout of ${spec.timeoutS}s`;
      } else if (a.stopReason === "alloc-timeout") {
        // Even a clean exit after the signal is a checkpoint, not a finish: resubmit it.
        state = "timeout";
        message = "stopped before the allocation's time limit";
      } else if (a.stopReason === "prune") {
        // Stopped by the study's early stopping: a finished trial, never run again.
        state = "pruned";
        message = `stopped early by ASHA at rung ${a.prune!.rung} (${a.prune!.resource}: value ${a.prune!.value} not in the top of its rung)`;
        rec.rung = a.prune!.rung;
        rec.rungResource = a.prune!.resource;
      } else if (a.stopReason === "cancel") {
        state = "cancelled";
        message = "stopped by request";
      } else if (a.stopReason === "preempt" && exit.code !== 0) {
        state = "preempted";
        message = "stopped by the scheduler (preemption, node failure or requeue)";
      } else if (exit.code === 0) {
        // Also after the scheduler's own SIGTERM: a run that exits 0 says it is done (its work
        // may already be written), so it is not run again. A run that checkpoints on SIGTERM and
        // wants to go on must exit non-zero (docs/reliability.md).
        state = "succeeded";
        if (rec.startedAt !== undefined) durations.push(t - rec.startedAt);
      } else {
        state = "failed";
        message = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
      }
      if (state === "timeout") rec.stopCause = a.stopReason === "run-timeout" ? "run-timeout" : "alloc-timeout";
      if (a.proc.forced) message = `${message ?? ""}; did not exit within ${batch.killGraceS}s after SIGTERM, force-killed`.replace(/^; /, "");
      rec.state = state;
      rec.updatedAt = t;
      rec.endedAt = t;
      rec.exitCode = exit.code ?? signalExitCode(exit.signal);
      rec.signal = exit.signal;
      if (message) rec.message = message;
      rec.history.push({ state, at: t, attempt: spec.attempt });
      bump(state);
      // Refill first: the outcome is on disk already (the helper's exit file), and nothing the
      // next run does depends on this record, so its write no longer delays the next start.
      pump();
      record(spec.dir, rec);
      vlog(`run ${spec.index}: ${state}${message ? ` (${message})` : ""}`);
    });
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    // Deferred runs stay pending with a reason; the head resubmits them in a later job.
    for (const req of sched.deferred) {
      const spec = specs.get(req.index)!;
      const rec = baseRecord(spec, "pending");
      const est = deadline?.estimateMs(req.index);
      rec.message = `not started: expected to take ${Math.round((est ?? 0) / 1000)}s, more than the allocation had left`;
      record(spec.dir, rec);
      releaseClaim(req.index);
      vlog(`run ${spec.index}: deferred to the next job (${rec.message})`);
    }
    helper?.close();
    ident.close();
    ballast.release();
    clearInterval(heartbeat);
    clearInterval(fenceTimer);
    clearInterval(pruneTimer);
    clearTimeout(wakeTimer);
    const bad = (counts.failed ?? 0) + (counts.timeout ?? 0) + (counts.lost ?? 0) + (counts.preempted ?? 0);
    const exitCode = stopping === "cancel" || stopping === "immediate" || stopping === "preempt" ? 130 : bad > 0 || (counts.cancelled ?? 0) > 0 || diskFull ? 1 : 0;
    vlog(`worker done: ${JSON.stringify(counts)}`);
    resolveDone({ exitCode, counts });
  };

  const markerFile = cancelMarkerOf(batch.sweepDir);
  const cancelRequested = ctx.cancelRequested ?? ((): boolean => existsSync(markerFile));
  /**
   * A study's batch: each free slot no run of the batch waits for draws the study's next trial,
   * unless the allocation ends before a trial (as long as this batch's took) could finish.
   * Drawn trials are this worker's runs from then on: claimed, run, recorded like the others.
   */
  let draw = ctx.draw;
  const drawTrials = (): void => {
    while (draw && stopping === undefined && !diskFull && sched.pending < sched.free) {
      if (deadline && !fitsBeforeEnd(now(), medianMs(durations), deadline.endMs, deadline.graceMs)) {
        vlog("no further trial drawn: the allocation ends before one could finish");
        draw = undefined;
        return;
      }
      let spec: RunSpec | undefined;
      try {
        spec = draw();
      } catch (e) {
        ctx.log(`cannot draw the study's next trial: ${(e as Error).message}`);
        spec = undefined;
      }
      if (spec === undefined) {
        draw = undefined;
        return;
      }
      specs.set(spec.index, spec);
      prev.set(spec.index, undefined);
      vlog(`run ${spec.index}: drawn from the study`);
      if (gate(spec, undefined) !== "go") continue;
      sched.add({ index: spec.index, cpus: spec.cpus, gpus: Number.isFinite(spec.gpus) && spec.gpus >= 0 ? spec.gpus : undefined });
    }
  };
  const pump = (): void => {
    clearTimeout(wakeTimer);
    // Checked before any run starts (one stat): after `corral cancel` returns, nothing starts.
    if (!stopping && !finished && cancelRequested()) {
      vlog("the sweep's cancel was requested: no further run starts");
      cancelReason = "not started: the sweep was cancelled";
      stop("cancel");
      return;
    }
    drawTrials();
    for (;;) {
      const d = sched.next(now());
      if (d.kind === "start") {
        start(d.grant, d.queued);
        continue;
      }
      if (d.kind === "done") return finish();
      if (d.untilMs !== undefined) wakeTimer = setTimeout(pump, Math.max(0, d.untilMs - now()));
      return;
    }
  };

  // Heartbeats: a running run's status file is rewritten so readers can tell a live run from
  // one whose worker died with its node.
  const heartbeat = setInterval(() => {
    ident.heartbeat(now());
    for (const a of active.values()) {
      // Not yet started (queued for a slot): nothing runs, nothing to record.
      if (a.record.pid === undefined) continue;
      a.record.updatedAt = now();
      // A missed heartbeat on a full disk makes the record look older, never wrong.
      if (!diskFull) record(a.spec.dir, a.record);
    }
  }, Math.max(1, batch.heartbeatS) * 1000);
  heartbeat.unref();

  // A study's early stopping: the head asks through a file in the run folder; the run gets
  // SIGTERM and the kill grace, as any stop, and is recorded `pruned`.
  const pruneTimer = setInterval(() => {
    for (const a of active.values()) {
      if (!a.spec.prunable || a.stopReason !== undefined || a.record.pid === undefined) continue;
      const req = readPruneRequest(a.spec.dir);
      if (req === undefined) continue;
      a.stopReason = "prune";
      a.prune = req;
      vlog(`run ${a.spec.index}: pruned by the study at rung ${req.rung}, stopping`);
      void a.proc.stop(batch.killGraceS * 1000);
    }
  }, PRUNE_POLL_MS);
  pruneTimer.unref();

  const stop = (mode: StopMode): void => {
    // Queued starts that have not begun never will; each comes back `notStarted`.
    helper?.dropQueued();
    if (mode === "immediate") {
      stopping = stopping === "timeout" ? "timeout" : "cancel";
      for (const a of active.values()) {
        a.stopReason ??= "cancel";
        a.proc.kill();
      }
      markUnstarted("cancelled");
      return;
    }
    if (stopping) return;
    stopping = mode;
    sched.stop();
    if (mode === "cancel" || mode === "preempt") {
      if (mode === "cancel") markUnstarted("cancelled");
      else for (const req of sched.drain()) releaseClaim(req.index);
      for (const a of active.values()) {
        a.stopReason ??= mode;
        void a.proc.stop(batch.killGraceS * 1000);
      }
    } else {
      // Allocation time limit ahead: tell each run (it may checkpoint), then stop it before
      // SLURM's own SIGKILL. Runs not yet started stay pending for the next job.
      const sig = (batch.timeoutSignal ?? "SIGUSR1") as NodeJS.Signals;
      for (const a of active.values()) {
        a.stopReason ??= "alloc-timeout";
        void a.proc.stop(batch.killGraceS * 1000, sig);
      }
      for (const req of sched.drain()) releaseClaim(req.index);
    }
    pump();
  };

  const markUnstarted = (state: RunState): void => {
    for (const req of sched.drain()) {
      // A held run belongs to the other worker that may be running it: leave its record alone.
      if (fenced.has(req.index)) {
        releaseClaim(req.index);
        continue;
      }
      const spec = specs.get(req.index)!;
      const rec = baseRecord(spec, state);
      rec.message = cancelReason;
      record(spec.dir, rec);
      bump(state);
    }
  };

  queueMicrotask(pump);
  return { done, stop };
}

/** A claim's owner, for log lines. */
const ownerName = (c: Claim): string => (c.owner ? `worker ${c.owner.pid}@${c.owner.host}` : "a worker");

/** Is `pid` on this host a live corral worker (not a recycled pid)? */
function workerAlive(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  // No /proc: trust the live pid.
  return cmdlineOf(pid)?.some((arg) => arg.includes("worker-main")) ?? true;
}

/** The record this worker writes for one run: its identity, the state, the history so far. */
function workerRecord(batch: BatchSpec, ctx: WorkerContext, spec: RunSpec, state: RunState, old: RunStatusRecord | undefined, t: number): RunStatusRecord {
  return {
    type: "run-status",
    version: 1,
    runId: spec.id,
    index: spec.index,
    state,
    attempt: spec.attempt,
    updatedAt: t,
    host: ctx.host,
    worker: { pid: ctx.pid, host: ctx.host, batchId: batch.batchId },
    ...(ctx.jobId ? { jobId: ctx.jobId } : {}),
    history: [...(old?.history ?? []), { state, at: t, attempt: spec.attempt }],
  };
}

/** Record every run of `todo` failed with `message` without starting any (a setup line failed). */
function failAll(batch: BatchSpec, ctx: WorkerContext, todo: RunSpec[], prev: Map<number, RunStatusRecord | undefined>, message: string, counts: Partial<Record<RunState, number>>): BatchHandle {
  const t = (ctx.now ?? Date.now)();
  for (const spec of todo) {
    try {
      writeRunStatus(spec.dir, { ...workerRecord(batch, ctx, spec, "failed", prev.get(spec.index), t), endedAt: t, message });
    } catch (e) {
      ctx.log(`cannot record run ${spec.index} failed: ${(e as Error).message}`);
    }
    counts.failed = (counts.failed ?? 0) + 1;
  }
  return { done: Promise.resolve({ exitCode: todo.length ? 1 : 0, counts }), stop: () => undefined };
}
