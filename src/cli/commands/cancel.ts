/** `corral cancel`: stop a sweep's runs; `corral resume` can run them again. */
import type { Command } from "commander";
import { makeLauncher } from "../../launchers/registry.js";
import { readManifest, resolveSweep } from "../../store/store.js";
import { countOf } from "../../errors.js";
import { projectDirOf } from "../args.js";
import type { CommandContext } from "./context.js";

export function registerCancel(program: Command, ctx: CommandContext): void {
  program
    .command("cancel")
    .description("stop a sweep's runs; they are recorded as cancelled and `corral resume` can run them again")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .option("--force", "kill at once instead of SIGTERM and a grace period")
    .action(async (sweep: string | undefined, o: { force?: boolean }) => {
      const dir = resolveSweep(projectDirOf(ctx.globals()), sweep);
      const m = readManifest(dir);
      const launcher = makeLauncher(m.settings);
      await launcher.cancel(m, Boolean(o.force));
      process.stderr.write(`corral: cancel sent to ${countOf(m.jobs.length, "job")} of ${m.dir}\n`);
    });
}
