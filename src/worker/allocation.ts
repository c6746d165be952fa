/**
 * What a worker needs to know about the allocation it runs in, in words no scheduler owns. The
 * worker never reads a scheduler's variables: each launcher interprets its own scheduler's
 * environment into these facts (SLURM: launchers/slurm/env.ts), and the worker's entry,
 * worker-main.ts, has them read through launchers/registry.ts and hands them in.
 */
export interface AllocationFacts {
  /** The scheduler whose allocation this process runs in (`slurm`). */
  scheduler: string;
  /** The scheduler's id for this job (`<array job>_<task>` for an array element). */
  jobId?: string;
  /** Times the scheduler started this job again (requeue after preemption or node loss); 0 for the first start. */
  restartCount: number;
  /** CPUs the scheduler allocated on this node (without task binding the affinity mask may be the whole node). */
  cpusOnNode?: number;
  /** GPU ids the scheduler allocated, and the variable they come from (after `CUDA_VISIBLE_DEVICES`). */
  gpus?: { ids: string[]; source: string };
  /** When the allocation ends (ms since epoch), undefined when unknown or unlimited; may ask the scheduler once. */
  endMs(): number | undefined;
}
