#!/usr/bin/env node
/**
 * The process inside an allocation (or on the local machine): `node worker-main.js <batch.json>`.
 * Self-contained: it needs only the batch file, never the project file. Signals:
 *   SIGTERM / SIGINT  stop every run gracefully (SIGTERM, grace, SIGKILL); a second one kills at once
 *   SIGUSR2           kill every run at once
 *   SIGUSR1           the allocation nears its time limit (sbatch --signal=B:USR1@grace):
 *                     forward the timeout signal to the runs, record them as `timeout`
 *
 * The worker's composition root: the one worker/ module that imports from a higher layer
 * (launchers/registry.ts, as scripts/check-layers.mjs allows it alone), to have the scheduler's
 * environment read into neutral {@link AllocationFacts} by the launcher that knows the scheduler.
 * Everything below it (batch.ts, slots.ts, resources.ts) receives those facts and reads no
 * scheduler variable.
 */
import { countOf } from "../errors.js";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { writeFileAtomicSync } from "../store/fsutil.js";
import { WORKER_PID_SUFFIX, type BatchSpec } from "../store/protocol.js";
import { BATCH_DONE_SUFFIX, runBatch } from "./batch.js";
import { cancelMarkerOf } from "../store/layout.js";
import { detectCpus, detectGpus } from "./resources.js";
import { SETUP_FAILED_ENV } from "../plan/sbatch.js";
import type { AllocationFacts } from "./allocation.js";
import { allocationOf } from "../launchers/registry.js";
import { trialDrawer } from "./trials.js";

function main(): void {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: worker-main.js <batch.json>");
    process.exit(2);
  }
  let batch: BatchSpec;
  try {
    batch = JSON.parse(readFileSync(file, "utf8")) as BatchSpec;
  } catch (e) {
    console.error(`corral worker: cannot read batch file ${file}: ${(e as Error).message}`);
    process.exit(2);
  }
  // Register before anything else: a later command finds this worker from its batch file even
  // when the process that started it died before recording it (local launcher's recover()).
  try {
    writeFileAtomicSync(file + WORKER_PID_SUFFIX, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: Date.now() }) + "\n");
  } catch {
    /* registration is a help for recovery, not a condition to run */
  }
  const env = process.env;
  // The scheduler's allocation this worker runs in (undefined: none, e.g. the local launcher).
  const alloc: AllocationFacts | undefined = allocationOf(env);
  // Inside an allocation, a job that asked for no GPUs has none, whatever nvidia-smi would list.
  const gpus = batch.resources.gpuIds
    ? { ids: batch.resources.gpuIds, source: "batch settings" }
    : detectGpus(env, { allocation: alloc, nvidiaSmi: !alloc });
  let cpuIds = batch.resources.cpuIds ?? detectCpus();
  // Without task binding (SLURM's TaskPlugin=task/none) the affinity mask is the whole node: use
  // only as many CPUs as the scheduler allocated to this job.
  const allocCpus = alloc?.cpusOnNode;
  if (!batch.resources.cpuIds && allocCpus !== undefined && allocCpus < cpuIds.length) cpuIds = cpuIds.slice(0, allocCpus);
  const jobId = alloc?.jobId;
  const log = (m: string): void => {
    console.log(`[corral ${new Date().toISOString()}] ${m}`);
  };
  if (batch.verbose) log(`GPUs from ${gpus.source}; CPUs from ${batch.resources.cpuIds ? "batch settings" : "affinity mask"}`);
  // A setup line of the job failed (the batch script or the local launcher's shell said which):
  // record the runs failed with it rather than run them in a half-prepared environment.
  const setupFailed = env[SETUP_FAILED_ENV];
  if (setupFailed !== undefined) {
    delete env[SETUP_FAILED_ENV];
    console.error(`corral worker: not starting the ${countOf(batch.runs.length, "run")} of batch ${batch.batchId}: ${setupFailed}`);
  }
  let handle;
  try {
    handle = runBatch(batch, {
      env,
      host: hostname(),
      pid: process.pid,
      cpuIds,
      gpuIds: gpus.ids,
      ...(jobId ? { jobId } : {}),
      restartCount: alloc?.restartCount ?? 0,
      ...(batch.endGraceS !== undefined ? optional("allocEndMs", alloc?.endMs()) : {}),
      log,
      ...(setupFailed !== undefined ? { setupFailed } : {}),
      // A study's batch draws further trials as its slots free (none after a failed setup).
      ...(batch.study && setupFailed === undefined ? { draw: trialDrawer(batch.sweepDir, { batchId: batch.batchId, ...(jobId ? { jobId } : {}), host: hostname(), pid: process.pid }, env) } : {}),
    });
  } catch (e) {
    // A split that cannot work is said once, clearly, in the job log.
    console.error(`corral worker: ${(e as Error).message}`);
    process.exit(1);
  }
  let stops = 0;
  // A preempted job may be requeued and run this batch again: only then is it not done.
  let preempted = false;
  const onStop = (sig: string): void => {
    stops++;
    log(stops === 1 ? `${sig}: stopping runs (grace ${batch.killGraceS}s)` : `${sig} again: killing runs now`);
    // Inside an allocation a SIGTERM we did not ask for (no cancel marker from `corral cancel`) is
    // the scheduler's: preemption, a node going down, a requeue. Those runs go again.
    const ours = !alloc || existsSync(cancelMarkerOf(batch.sweepDir));
    if (!ours) preempted = true;
    handle.stop(stops === 1 ? (ours ? "cancel" : "preempt") : "immediate");
  };
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  process.on("SIGHUP", () => {
    /* the launching terminal went away: keep running */
  });
  process.on("SIGUSR2", () => handle.stop("immediate"));
  process.on("SIGUSR1", () => {
    log("SIGUSR1: allocation time limit ahead; forwarding to runs");
    handle.stop("timeout");
  });
  void handle.done.then((r) => {
    process.exitCode = r.exitCode;
    // Tell the launcher this job is over, so it need not ask the scheduler (polite polling).
    if (alloc && !preempted) {
      try {
        writeFileSync(file + BATCH_DONE_SUFFIX, `${new Date().toISOString()} exit ${r.exitCode}\n`);
      } catch {
        /* the launcher falls back to asking the scheduler */
      }
    }
  });
}

function optional<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

main();
