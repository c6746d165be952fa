import type { Launcher, LaunchSettings } from "../launchers/launcher.js";
import { LocalLauncher } from "../launchers/local/local-launcher.js";

/** The launcher for a sweep's settings. */
export function makeLauncher(settings: Pick<LaunchSettings, "type" | "debug"> | undefined): Launcher {
  // SLURM launcher registered here once it lands; until then local.
  void settings;
  return new LocalLauncher();
}
