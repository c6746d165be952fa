/**
 * SLURM's environment, read for the worker: the facts of the allocation a process runs in
 * (`AllocationFacts`), from `SLURM_*` variables and, for the end time where SLURM does not export
 * it, one `squeue`. Undefined outside a SLURM job. Composed by launchers/registry.ts.
 */
import { execFileSync } from "node:child_process";
import type { AllocationFacts } from "../../worker/allocation.js";

/** The allocation this process runs in, when it runs inside a SLURM job (`SLURM_JOB_ID` is set). */
export function slurmAllocation(env: NodeJS.ProcessEnv): AllocationFacts | undefined {
  if (env.SLURM_JOB_ID === undefined) return undefined;
  const arrayJob = env.SLURM_ARRAY_JOB_ID;
  const jobId = arrayJob ? `${arrayJob}_${env.SLURM_ARRAY_TASK_ID ?? "0"}` : env.SLURM_JOB_ID;
  const cpus = Number(env.SLURM_CPUS_ON_NODE ?? 0);
  const sj = env.SLURM_JOB_GPUS ?? env.SLURM_STEP_GPUS;
  let end: { ms: number | undefined } | undefined;
  return {
    scheduler: "slurm",
    ...(jobId ? { jobId } : {}),
    restartCount: Number(env.SLURM_RESTART_COUNT ?? 0) || 0,
    ...(cpus > 0 ? { cpusOnNode: cpus } : {}),
    ...(sj ? { gpus: { ids: sj.split(",").map((s) => s.trim()).filter(Boolean), source: "SLURM_JOB_GPUS" } } : {}),
    endMs: () => (end ??= { ms: allocationEnd(env) }).ms,
  };
}

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
