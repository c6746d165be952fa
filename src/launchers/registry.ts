import type { Launcher, LaunchSettings } from "./launcher.js";
import { LocalLauncher } from "./local/local-launcher.js";
import { SlurmLauncher } from "./slurm/slurm-launcher.js";
import { slurmAllocation } from "./slurm/env.js";
import type { JobEntry, SweepManifest } from "../store/protocol.js";
import type { AllocationFacts } from "../worker/allocation.js";
import { detectGpus, type GpuDetection } from "../worker/resources.js";

/** Single-allocation pipelines (`corral flow --single-allocation`) are a SLURM-only feature. */
export { submitAllocation, waitAllocation } from "./slurm/alloc.js";

/** A pipeline rule's own scheduler settings: the GPUs its `gres` gives each job, and their check. */
export { checkScheduling, schedulingGpus } from "./slurm/scheduling.js";

/**
 * The launcher for a sweep's settings (the manifest records them, so any later command agrees).
 * A scheduler's launcher also takes the jobs that run on the head's machine (a pipeline's
 * `localrules`): each submission goes to the launcher its settings name, and each job entry
 * (`JobEntry.launcher`) to the one that made it.
 */
export function makeLauncher(settings: LaunchSettings | undefined): Launcher {
  if (settings?.type === "slurm") return settings.debug ? new SlurmDebugAware() : new WithLocalJobs(new SlurmLauncher(), new LocalLauncher(allocationOf));
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
  override submit(req: Parameters<Launcher["submit"]>[0]): ReturnType<Launcher["submit"]> {
    return req.settings.type === "local" ? this.local.submit(req) : super.submit(req);
  }
  onJobEnd(cb: () => void): void {
    this.local.onJobEnd(cb);
  }
}

/**
 * A scheduler's launcher with the local one beside it: submissions with local settings (jobs of
 * a pipeline's `localrules`) start a worker on this machine; explain, active, recover and cancel
 * ask both, each about the job entries it made (each filters by `JobEntry.launcher`).
 */
class WithLocalJobs implements Launcher {
  readonly type: string;
  readonly size: Launcher["size"];
  readonly preview: Launcher["preview"];
  readonly doctor: Launcher["doctor"];
  constructor(
    private readonly main: Launcher,
    private readonly local: Launcher,
  ) {
    this.type = main.type;
    this.size = main.size?.bind(main);
    this.preview = main.preview?.bind(main);
    this.doctor = main.doctor?.bind(main);
  }
  private hasLocal(s: SweepManifest): boolean {
    return s.jobs.some((j) => j.launcher === this.local.type);
  }
  validate(req: Parameters<Launcher["validate"]>[0]): Promise<void> {
    return (req.settings.type === this.local.type ? this.local : this.main).validate(req);
  }
  submit(req: Parameters<Launcher["submit"]>[0]): ReturnType<Launcher["submit"]> {
    return (req.settings.type === this.local.type ? this.local : this.main).submit(req);
  }
  async explain(s: SweepManifest): ReturnType<Launcher["explain"]> {
    const facts = await this.main.explain(s);
    if (this.hasLocal(s)) for (const [i, f] of await this.local.explain(s)) facts.set(i, f);
    return facts;
  }
  async active(s: SweepManifest): Promise<boolean> {
    return (this.hasLocal(s) && (await this.local.active(s))) || (await this.main.active(s));
  }
  async recover(s: SweepManifest): Promise<JobEntry[]> {
    return [...((await this.main.recover?.(s)) ?? []), ...((await this.local.recover?.(s)) ?? [])];
  }
  async cancel(s: SweepManifest, force: boolean): Promise<void> {
    if (this.hasLocal(s)) await this.local.cancel(s, force);
    await this.main.cancel(s, force);
  }
  onJobEnd(cb: () => void): void {
    this.local.onJobEnd?.(cb);
    this.main.onJobEnd?.(cb);
  }
}
