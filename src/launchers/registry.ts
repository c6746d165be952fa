import type { Launcher, LaunchSettings } from "./launcher.js";
import { LocalLauncher } from "./local/local-launcher.js";
import { SlurmLauncher } from "./slurm/slurm-launcher.js";
import type { SweepManifest } from "../store/protocol.js";

/** Single-allocation pipelines (`corral flow --single-allocation`) are a SLURM-only feature. */
export { submitAllocation, waitAllocation } from "./slurm/alloc.js";

/** The launcher for a sweep's settings (the manifest records them, so any later command agrees). */
export function makeLauncher(settings: Pick<LaunchSettings, "type" | "debug"> | undefined): Launcher {
  if (settings?.type === "slurm") return settings.debug ? new SlurmDebugAware() : new SlurmLauncher();
  return new LocalLauncher();
}

/**
 * SLURM debug mode submits through the SLURM launcher's packing but runs local workers; the
 * jobs it records are local ones, so liveness questions go to the local launcher.
 */
class SlurmDebugAware extends SlurmLauncher {
  private readonly local = new LocalLauncher();
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
