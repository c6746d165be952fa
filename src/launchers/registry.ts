import type { Launcher, LaunchSettings } from "./launcher.js";
import { LocalLauncher } from "./local/local-launcher.js";
import { SlurmLauncher } from "./slurm/slurm-launcher.js";
import { slurmAllocation } from "./slurm/env.js";
import type { SweepManifest } from "../store/protocol.js";
import type { AllocationFacts } from "../worker/allocation.js";
import { detectGpus, type GpuDetection } from "../worker/resources.js";

/** Single-allocation pipelines (`corral flow --single-allocation`) are a SLURM-only feature. */
export { submitAllocation, waitAllocation } from "./slurm/alloc.js";

/** The launcher for a sweep's settings (the manifest records them, so any later command agrees). */
export function makeLauncher(settings: LaunchSettings | undefined): Launcher {
  if (settings?.type === "slurm") return settings.debug ? new SlurmDebugAware() : new SlurmLauncher();
  return new LocalLauncher(allocationOf);
}

/**
 * The scheduler allocation this process runs in, as its scheduler's environment says (SLURM:
 * `SLURM_JOB_ID` and friends); undefined outside any. The worker's entry (worker-main.ts) asks
 * this for the facts it hands the worker; a local sweep started inside an allocation (a
 * single-allocation flow) sees the allocation's GPUs through it.
 */
export function allocationOf(env: NodeJS.ProcessEnv): AllocationFacts | undefined {
  return slurmAllocation(env);
}

/** The GPUs this process may use: `CUDA_VISIBLE_DEVICES`, the allocation's, else `nvidia-smi -L`. */
export function visibleGpus(env: NodeJS.ProcessEnv): GpuDetection {
  return detectGpus(env, { allocation: allocationOf(env) });
}

/**
 * SLURM debug mode submits through the SLURM launcher's packing but runs local workers; the
 * jobs it records are local ones, so liveness questions go to the local launcher.
 */
class SlurmDebugAware extends SlurmLauncher {
  private readonly local = new LocalLauncher(allocationOf);
  override explain(s: SweepManifest): ReturnType<Launcher["explain"]> {
    return this.local.explain(s);
  }
  override active(s: SweepManifest): Promise<boolean> {
    return this.local.active(s);
  }
  override validate(req: Parameters<Launcher["validate"]>[0]): Promise<void> {
    return this.local.validate(req);
  }
  override cancel(s: SweepManifest, force: boolean): Promise<void> {
    return this.local.cancel(s, force);
  }
}
