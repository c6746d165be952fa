/** `corral run`: one run, or a sweep with -m; plan (and print it with --dry-run) or start and follow. */
import type { Command } from "commander";
import { configToJson } from "../../plan/json.js";
import type { ConfigValue } from "../../plan/types.js";
import path from "node:path";
import { planAll, prepareSweep, previewSweep, startSweep } from "../../engine/launch.js";
import { shellQuote } from "../../plan/dag.js";
import { openProject } from "../../project/open.js";
import { projectLocation } from "../args.js";
import { attach } from "../attach.js";
import { addTableOptions, type TableOpts } from "../options.js";
import { each, writeJsonArray, writeLines } from "../output.js";
import { makeTerminalReporter } from "../reporter.js";
import { streamRunOutput } from "../stream-output.js";
import { runDirOf } from "../../store/store.js";
import type { CommandContext } from "./context.js";

type RunOpts = Pick<TableOpts, "search" | "budget" | "objective" | "seed" | "multirun" | "profile" | "launcher" | "jobs" | "dryRun" | "json" | "detach" | "name" | "verbose">;

export function registerRun(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("run")
    .description("run the command once, or a sweep with -m")
    .argument("[overrides...]", "Hydra-style overrides: key=value, +key=value, ~key, group=option, lr=0.1,0.01");
  addTableOptions(cmd, "run").action(async (overrides: string[], o: RunOpts) => {
    const g = ctx.globals();
    const plusProfile = overrides.filter((x) => x.startsWith("+profile="));
    const profileNames = [...(o.profile ? o.profile.split(",") : []), ...plusProfile.map((x) => x.slice("+profile=".length))].filter(Boolean);
    const project = await openProject({ ...projectLocation(g).open, allowMissing: Boolean(ctx.command?.length), profiles: profileNames, overrides });
    const prepared = prepareSweep({
      project,
      overrides: overrides.filter((x) => !x.startsWith("+profile=")),
      multirun: Boolean(o.multirun),
      ...(ctx.command?.length ? { command: ctx.command } : {}),
      ...(o.name ? { name: o.name } : {}),
      ...(o.launcher ? { launcher: o.launcher } : {}),
      ...(o.jobs ? { jobs: o.jobs } : {}),
      ...(o.verbose ? { verbose: true } : {}),
      search: { ...(o.search ? { search: o.search } : {}), ...(o.budget !== undefined ? { budget: o.budget } : {}), ...(o.objective ? { objective: o.objective } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
      ...(profileNames.length ? { profile: profileNames.join(",") } : {}),
      env: process.env,
      now: new Date(),
    });
    const runs = planAll(prepared);
    if (o.dryRun && prepared.study) {
      // A study's trials are asked as slots free: say what it would search.
      const s = prepared.study.record;
      const dims = s.space.params.map((p) => `${p.name}: ${p.dist.type === "categorical" ? `choice(${p.dist.spelled.join(", ")})` : `${p.dist.type}${p.dist.log ? " log" : ""} [${p.dist.low}, ${p.dist.high}]${p.dist.step !== undefined ? ` step ${p.dist.step}` : ""}`}`);
      const lines = [`a study of ${s.budget} trial${s.budget === 1 ? "" : "s"} of: ${prepared.command.join(" ")} (${s.sampler}, seed ${s.seed}, ${s.objective.metric} ${s.objective.mode}, launcher ${prepared.settings.type}, ${prepared.settings.parallel} at once)`, ...dims.map((d) => `  ${d}`)];
      if (s.base.length || s.space.fixed.length) lines.push(`  every trial: ${[...s.base, ...s.space.fixed].join(" ")}`);
      if (s.early_stop) lines.push(`  early stop: asha on ${s.early_stop.asha.resource}, min ${s.early_stop.asha.min}, max ${s.early_stop.asha.max}, reduction factor ${s.early_stop.asha.reduction_factor}`);
      process.stdout.write(o.json ? JSON.stringify({ study: s }, null, 2) + "\n" : lines.join("\n") + "\n");
      return;
    }
    if (o.dryRun) {
      // Written run by run: a million-run plan is never one string.
      if (o.json) {
        // Floats stay floats (`1.0`), as in each run's config.yaml.
        await writeJsonArray(each(runs, (r) => ({ index: r.index, id: r.id, overrides: r.overrides, ...(r.argv ? { argv: r.argv } : {}), config: r.config })), undefined, (it) => configToJson(it as ConfigValue));
      } else {
        process.stdout.write(`${runs.length} run${runs.length === 1 ? "" : "s"} of: ${prepared.command.join(" ")} (launcher ${prepared.settings.type}, ${prepared.settings.parallel} at once)\n`);
        await writeLines(each(runs, (r) => `  ${String(r.index).padStart(4)}  ${r.id}  ${r.argv ? r.argv.map(shellQuote).join(" ") : r.overrides.join(" ")}`));
        // What the launcher would submit (SLURM: each chunk's sbatch script and any multi-node wrapper).
        for (const f of await previewSweep(prepared, runs)) process.stdout.write(`\n# ---- ${f.name} (not submitted)\n${f.text}`);
      }
      return;
    }
    // A launcher preset's `wait_for_completion: false` (clusterduck) detaches as --detach does.
    const detach = Boolean(o.detach) || prepared.request.project.detach === true;
    // A single local run streams its own output here, as Hydra's single run: no progress view.
    const single = !o.multirun && !o.json && !detach && runs.length === 1 && prepared.settings.type === "local";
    const view = makeTerminalReporter({ json: Boolean(o.json), quiet: single });
    let stream: { stop(): void } | undefined;
    const reporter = {
      emit: view.emit,
      close: (): void => {
        stream?.stop();
        view.close();
      },
    };
    const started = await startSweep(prepared, runs, reporter, { ...(detach ? { detach: true } : {}) });
    if (single) stream = streamRunOutput(runDirOf(started.manifest, started.manifest.runs[0]!));
    if (detach) {
      await started.done;
      reporter.close();
      process.stdout.write(`${started.manifest.dir}\n`);
      process.stderr.write(`corral: detached; follow with: corral status ${path.relative(process.cwd(), started.manifest.dir) || "."}\n`);
      return;
    }
    ctx.setExit(await attach(started, reporter));
  });
}
