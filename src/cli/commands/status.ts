/** `corral status`: the state of a sweep's runs, from the store; `--watch` follows it live. */
import { countOf } from "../../errors.js";
import type { Command } from "commander";
import { readSweepStatus, stalledReason } from "../../engine/inspect.js";
import { waitForSweep } from "../../engine/watch.js";
import { makeLauncher } from "../../launchers/registry.js";
import { TERMINAL_STATES } from "../../store/protocol.js";
import { readManifest, resolveSweep } from "../../store/store.js";
import { projectDirOf } from "../args.js";
import { exitCodeOf } from "../exit.js";
import { each, writeLines } from "../output.js";
import { dim, formatCounts, green, red } from "../reporter.js";
import { makeWatchReporter } from "../watch-view.js";
import type { CommandContext } from "./context.js";

const stateWord = (s: string): string => (s === "succeeded" ? green(s) : s === "pruned" ? dim(s) : TERMINAL_STATES.has(s as never) ? red(s) : s);

export function registerStatus(program: Command, ctx: CommandContext): void {
  program
    .command("status")
    .description("state of a sweep's runs, from the store")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .option("--json", "machine-readable")
    .option("--watch", "follow live until every run has ended")
    .option("-a, --all", "list every run, not only the unfinished and failed ones")
    .action(async (sweep: string | undefined, o: { json?: boolean; watch?: boolean; all?: boolean }) => {
      const dir = resolveSweep(projectDirOf(ctx.globals()), sweep);
      const m = readManifest(dir);
      const launcher = makeLauncher(m.settings);
      if (o.watch) {
        const reporter = makeWatchReporter({ json: Boolean(o.json), clearOnClose: false });
        const res = await waitForSweep(dir, launcher, reporter);
        reporter.close();
        process.stdout.write(`${formatCounts(res.counts)}\n`);
        // The watch ends with runs unfinished only when nothing may run them any more: say so.
        const why = await stalledReason(readManifest(dir), res.counts, launcher);
        if (why) process.stderr.write(`corral: stopped watching: ${why}\n`);
        ctx.setExit(exitCodeOf({ runs: res.runs }));
        return;
      }
      const st = await readSweepStatus(dir, launcher);
      // A study's summary needs the samplers: loaded only for a study.
      const study = st.manifest.search ? (await import("../../engine/study.js")).studySummary(st.manifest) : undefined;
      if (o.json) {
        process.stdout.write(JSON.stringify({ sweep: st.manifest.dir, kind: st.manifest.kind, launcher: st.manifest.launcher, counts: st.counts, total: st.total, ...(study ? { study } : {}), ...(st.stalled ? { stalled: st.stalled } : {}), runs: st.runs }, null, 2) + "\n");
        return;
      }
      process.stdout.write(`${st.manifest.dir}  (${st.manifest.kind}, ${st.manifest.launcher}, ${countOf(st.total, "run")})\n${formatCounts(st.counts) || "no runs"}\n`);
      if (study) {
        const done = `${study.complete} complete${study.pruned ? `, ${study.pruned} pruned` : ""}`;
        process.stdout.write(`study: ${study.sampler}, ${study.trials}/${study.budget} trials (${done}); objective ${study.objective.metric} (${study.objective.mode})\n`);
        process.stdout.write(study.best ? `best: trial ${study.best.index}, ${study.objective.metric} ${study.best.value}  [${study.best.overrides.join(" ")}]\n` : "best: none yet (no trial has completed with the objective)\n");
      }
      if (st.stalled) process.stdout.write(`${red("!")} ${st.stalled}\n`);
      const show = o.all ? st.runs : st.runs.filter((r) => r.state !== "succeeded");
      await writeLines(
        each(show, (r) => `  ${String(r.index).padStart(4)}  ${stateWord(r.state).padEnd(18)} ${r.overrides.join(" ")}${r.job ? ` ${r.job}` : ""}${r.jobId ? dim(` job ${r.jobId}`) : ""}${r.host ? dim(` on ${r.host}`) : ""}${r.message ? dim(`  ${r.message}`) : ""}`),
      );
    });
}
