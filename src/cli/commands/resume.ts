/** `corral resume`: rerun what did not finish, adopting what still runs; flows go to their head. */
import type { Command } from "commander";
import { resumeSweep } from "../../engine/launch.js";
import { readManifest, resolveSweep } from "../../store/store.js";
import { projectDirOf } from "../args.js";
import { attach } from "../attach.js";
import { addTableOptions, type TableOpts } from "../options.js";
import { makeTerminalReporter } from "../reporter.js";
import type { CommandContext } from "./context.js";

type ResumeOpts = Pick<TableOpts, "retryFailed" | "retryUnknown" | "jobs" | "detach" | "json">;

export function registerResume(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("resume")
    .description("rerun what did not finish (adopting runs still queued or running); never reruns a succeeded run")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)");
  addTableOptions(cmd, "resume").action(async (sweep: string | undefined, o: ResumeOpts) => {
    const dir = resolveSweep(projectDirOf(ctx.globals()), sweep);
    if (readManifest(dir).kind === "flow") return ctx.setExit(await (await import("./flow.js")).resumeFlow(dir, o));
    const reporter = makeTerminalReporter({ json: Boolean(o.json), quiet: false });
    const r = await resumeSweep({ sweepDir: dir, retryFailed: Boolean(o.retryFailed), ...(o.retryUnknown ? { retryUnknown: true } : {}), ...(o.jobs ? { jobs: o.jobs } : {}) }, reporter, { ...(o.detach ? { detach: true } : {}) });
    const { found, resubmitted } = await r.submitted;
    process.stderr.write(`corral: ${found.succeeded} already succeeded, ${found.adopted} still queued or running (adopted), ${resubmitted} resubmitted\n`);
    if (o.detach) {
      await r.done;
      reporter.close();
      return;
    }
    ctx.setExit(await attach(r, reporter));
  });
}
