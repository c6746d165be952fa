/**
 * The scheduler's environment, read by the launchers into neutral facts for the worker: SLURM's
 * variables (launchers/slurm/env.ts) and the GPUs the worker sees through them.
 */
import { describe, expect, it } from "vitest";
import { allocationOf } from "../../src/launchers/registry.js";
import { slurmAllocation } from "../../src/launchers/slurm/env.js";
import { detectGpus } from "../../src/worker/resources.js";

describe("SLURM's environment as allocation facts", () => {
  it("none outside a SLURM job (debug mode sets only SLURM_ARRAY_TASK_ID)", () => {
    expect(slurmAllocation({})).toBeUndefined();
    expect(slurmAllocation({ SLURM_ARRAY_TASK_ID: "3" })).toBeUndefined();
    expect(allocationOf({ PATH: "/bin" })).toBeUndefined();
  });

  it("an array element: <array job>_<task>, restart count, CPUs on the node, GPUs, end time from SLURM_JOB_END_TIME", () => {
    const a = slurmAllocation({
      SLURM_JOB_ID: "812",
      SLURM_ARRAY_JOB_ID: "810",
      SLURM_ARRAY_TASK_ID: "2",
      SLURM_RESTART_COUNT: "1",
      SLURM_CPUS_ON_NODE: "4",
      SLURM_JOB_GPUS: "2,3",
      SLURM_JOB_END_TIME: "1800000000",
    });
    expect(a).toMatchObject({ scheduler: "slurm", jobId: "810_2", restartCount: 1, cpusOnNode: 4, gpus: { ids: ["2", "3"], source: "SLURM_JOB_GPUS" } });
    expect(a?.endMs()).toBe(1_800_000_000_000);
  });

  it("a plain job: its id, no restart, no CPU or GPU facts when SLURM says none", () => {
    const a = slurmAllocation({ SLURM_JOB_ID: "7", SLURM_RESTART_COUNT: "x", SLURM_JOB_END_TIME: "1800000000" });
    expect(a).toMatchObject({ jobId: "7", restartCount: 0 });
    expect(a).not.toHaveProperty("cpusOnNode");
    expect(a).not.toHaveProperty("gpus");
  });

  it("GPUs: CUDA_VISIBLE_DEVICES first, then the allocation's, never nvidia-smi when told not to", () => {
    const alloc = slurmAllocation({ SLURM_JOB_ID: "7", SLURM_STEP_GPUS: "1" });
    expect(detectGpus({ CUDA_VISIBLE_DEVICES: "0" }, { allocation: alloc })).toEqual({ ids: ["0"], source: "CUDA_VISIBLE_DEVICES" });
    expect(detectGpus({}, { allocation: alloc, nvidiaSmi: false })).toEqual({ ids: ["1"], source: "SLURM_JOB_GPUS" });
    expect(detectGpus({ SLURM_JOB_GPUS: "5" }, { nvidiaSmi: false })).toEqual({ ids: [], source: "none found" });
  });
});
