#!/usr/bin/env node
/**
 * The process inside an allocation (or on the local machine): `node worker-main.js <batch.json>`.
 * Self-contained: it needs only the batch file, never the project file. Signals:
 *   SIGTERM / SIGINT  stop every run gracefully (SIGTERM, grace, SIGKILL); a second one kills at once
 *   SIGUSR2           kill every run at once
 *   SIGUSR1           the allocation nears its time limit (sbatch --signal=B:USR1@grace):
 *                     forward the timeout signal to the runs, record them as `timeout`
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { writeFileAtomicSync } from "../store/fsutil.js";
import { WORKER_PID_SUFFIX, type BatchSpec } from "../store/protocol.js";
import { BATCH_DONE_SUFFIX, runBatch } from "./batch.js";
import { cancelMarkerOf } from "../store/layout.js";
import { detectCpus, detectGpus } from "./resources.js";
import { SETUP_FAILED_ENV } from "../plan/sbatch.js";

/**
 * When this allocation ends (ms since epoch): SLURM_JOB_END_TIME where SLURM exports it, else one
 * `squeue -o %e` at start (local time, "YYYY-MM-DDTHH:MM:SS"). Undefined when unknown or unlimited.
 */
export function allocationEnd(env: NodeJS.ProcessEnv): number | undefined {
  const fromEnv = Number(env.SLURM_JOB_END_TIME);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv * 1000;
  if (!env.SLURM_JOB_ID) return undefined;
  try {
    const out = execFileSync("squeue", ["-h", "-j", env.SLURM_JOB_ID, "-o", "%e"], { encoding: "utf8", timeout: 20_000 }).trim();
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(out)) return undefined;
    const t = new Date(out).getTime();
    return Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

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
  const inSlurm = env.SLURM_JOB_ID !== undefined;
  // Inside SLURM, a job that asked for no GPUs has none, whatever nvidia-smi would list.
  const gpus = batch.resources.gpuIds
    ? { ids: batch.resources.gpuIds, source: "batch settings" }
    : detectGpus(env, !inSlurm);
  let cpuIds = batch.resources.cpuIds ?? detectCpus();
  // Without task binding (TaskPlugin=task/none) the affinity mask is the whole node: use only
  // as many CPUs as SLURM allocated to this job.
  const slurmCpus = Number(env.SLURM_CPUS_ON_NODE ?? 0);
  if (!batch.resources.cpuIds && inSlurm && slurmCpus > 0 && slurmCpus < cpuIds.length) cpuIds = cpuIds.slice(0, slurmCpus);
  const arrayJob = env.SLURM_ARRAY_JOB_ID;
  const jobId = arrayJob ? `${arrayJob}_${env.SLURM_ARRAY_TASK_ID ?? "0"}` : env.SLURM_JOB_ID;
  const log = (m: string): void => {
    console.log(`[corral ${new Date().toISOString()}] ${m}`);
  };
  if (batch.verbose) log(`GPUs from ${gpus.source}; CPUs from ${batch.resources.cpuIds ? "batch settings" : "affinity mask"}`);
  // A setup line of the job failed (the batch script or the local launcher's shell said which):
  // record the runs failed with it rather than run them in a half-prepared environment.
  const setupFailed = env[SETUP_FAILED_ENV];
  if (setupFailed !== undefined) {
    delete env[SETUP_FAILED_ENV];
    console.error(`corral worker: not starting the ${batch.runs.length} run(s) of batch ${batch.batchId}: ${setupFailed}`);
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
      restartCount: Number(env.SLURM_RESTART_COUNT ?? 0) || 0,
      ...(batch.endGraceS !== undefined ? optional("allocEndMs", allocationEnd(env)) : {}),
      log,
      ...(setupFailed !== undefined ? { setupFailed } : {}),
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
    // Inside SLURM a SIGTERM we did not ask for (no cancel marker from `corral cancel`) is the
    // scheduler's: preemption, a node going down, a requeue. Those runs go again.
    const ours = !inSlurm || existsSync(cancelMarkerOf(batch.sweepDir));
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
    // Tell the launcher this job is over, so it need not ask SLURM (polite polling).
    if (inSlurm && !preempted) {
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
