/**
 * One function per command: parse flags into typed options, call the core, print, set the exit
 * code (0 all good, 1 some run failed, 2 bad input, 130 interrupted).
 */
import { Option, type Command } from "commander";
import { intArg, type GlobalOpts } from "./args.js";
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import { formatResults, readSweepStatus, resultsTable } from "../engine/inspect.js";
import { planAll, prepareSweep, previewSweep, resumeSweep, retryRound, startSweep, type StartedSweep } from "../engine/launch.js";
import { makeLauncher } from "../launchers/registry.js";
import { openProject } from "../project/open.js";
import { composeForDisplay } from "../engine/config-view.js";
import { waitForSweep } from "../engine/watch.js";
import { CorralError } from "../errors.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { readManifest, readRunStatus, resolveRun, resolveSweep } from "../store/store.js";
import { INIT_FILES } from "./init-template.js";
import { dim, formatCounts, green, makeTerminalReporter, printFailureSummary, red } from "./reporter.js";
import { makeWatchReporter } from "./watch-view.js";

export interface CommandContext {
  /** Words after `--`. */
  command: string[] | undefined;
  /** The subcommand named on the command line, if any (decides which modules load). */
  subcommand: string | undefined;
  setExit(code: number): void;
}



const cwdOf = (g: GlobalOpts): string => path.resolve(g.cwd ?? process.cwd());

export async function runCommands(program: Command, ctx: CommandContext): Promise<void> {
  const globals = (): GlobalOpts => program.opts<GlobalOpts>();

  program
    .command("run")
    .description("run the command once, or a sweep with -m")
    .argument("[overrides...]", "Hydra-style overrides: key=value, +key=value, ~key, group=option, lr=0.1,0.01")
    .option("-m, --multirun", "run every combination of the sweep overrides and the project's sweep")
    .option("-P, --profile <names>", "profiles to apply, comma-separated, in order")
    .addOption(new Option("--launcher <type>", "where runs execute").choices(["local", "slurm"]))
    .option("-j, --jobs <n>", "runs at once", intArg("-j"))
    .option("--dry-run", "print the planned runs; start nothing")
    .option("--json", "machine-readable output (with --dry-run: the planned runs)")
    .option("--detach", "return after submission; follow with `corral status`")
    .option("--name <name>", "suffix of the sweep folder")
    .option("-v, --verbose", "log scheduling and resource decisions to the worker log")
    .action(async (overrides: string[], o: { multirun?: boolean; profile?: string; launcher?: "local" | "slurm"; jobs?: number; dryRun?: boolean; json?: boolean; detach?: boolean; name?: string; verbose?: boolean }) => {
      const g = globals();
      const plusProfile = overrides.filter((x) => x.startsWith("+profile="));
      const profileNames = [...(o.profile ? o.profile.split(",") : []), ...plusProfile.map((x) => x.slice("+profile=".length))].filter(Boolean);
      const project = await openProject({ cwd: cwdOf(g), ...(g.project ? { file: g.project } : {}), allowMissing: Boolean(ctx.command?.length), profiles: profileNames, overrides });
      const prepared = prepareSweep({
        project,
        overrides: overrides.filter((x) => !x.startsWith("+profile=")),
        multirun: Boolean(o.multirun),
        ...(ctx.command?.length ? { command: ctx.command } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.launcher ? { launcher: o.launcher } : {}),
        ...(o.jobs ? { jobs: o.jobs } : {}),
        ...(o.verbose ? { verbose: true } : {}),
        ...(profileNames.length ? { profile: profileNames.join(",") } : {}),
        env: process.env,
        now: new Date(),
      });
      const runs = planAll(prepared);
      if (o.dryRun) {
        if (o.json) {
          process.stdout.write(JSON.stringify(runs.map((r) => ({ index: r.index, id: r.id, overrides: r.overrides, config: r.config })), null, 2) + "\n");
        } else {
          process.stdout.write(`${runs.length} run${runs.length === 1 ? "" : "s"} of: ${prepared.command.join(" ")} (launcher ${prepared.settings.type}, ${prepared.settings.parallel} at once)\n`);
          for (const r of runs) process.stdout.write(`  ${String(r.index).padStart(4)}  ${r.id}  ${r.overrides.join(" ")}\n`);
          for (const f of await previewSweep(prepared, runs)) process.stdout.write(`\n# ---- ${f.name} (not submitted)\n${f.text}`);
        }
        return;
      }
      const reporter = makeTerminalReporter({ json: Boolean(o.json), quiet: false });
      const started = await startSweep(prepared, runs, reporter);
      if (o.detach) {
        started.lock.release();
        reporter.close();
        process.stdout.write(`${started.manifest.dir}\n`);
        process.stderr.write(`corral: detached; follow with: corral status ${path.relative(process.cwd(), started.manifest.dir) || "."}\n`);
        return;
      }
      ctx.setExit(await attach(started, reporter));
    });

  program
    .command("resume")
    .description("rerun what did not finish (adopting runs still queued or running); never reruns a succeeded run")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .option("--retry-failed", "also rerun runs that failed")
    .option("-j, --jobs <n>", "runs at once for this round", intArg("-j"))
    .option("--detach", "return after submission")
    .option("--json", "JSON event lines")
    .action(async (sweep: string | undefined, o: { retryFailed?: boolean; jobs?: number; detach?: boolean; json?: boolean }) => {
      const dir = resolveSweep(cwdOf(globals()), sweep);
      if (readManifest(dir).kind === "flow") return ctx.setExit(await (await import("./flow.js")).resumeFlow(dir, o));
      const reporter = makeTerminalReporter({ json: Boolean(o.json), quiet: false });
      const r = await resumeSweep({ sweepDir: dir, retryFailed: Boolean(o.retryFailed), ...(o.jobs ? { jobs: o.jobs } : {}) }, reporter);
      process.stderr.write(
        `corral: ${r.alreadyDone} already succeeded, ${r.stillRunning.length} still queued or running (adopted), ${r.resubmitted.length} resubmitted\n`,
      );
      if (o.detach) {
        r.lock.release();
        return;
      }
      ctx.setExit(await attach({ manifest: r.manifest, launcher: r.launcher, lock: r.lock }, reporter));
    });

  program
    .command("status")
    .description("state of a sweep's runs, from the store")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .option("--json", "machine-readable")
    .option("--watch", "follow live until every run has ended")
    .option("-a, --all", "list every run, not only the unfinished and failed ones")
    .action(async (sweep: string | undefined, o: { json?: boolean; watch?: boolean; all?: boolean }) => {
      const dir = resolveSweep(cwdOf(globals()), sweep);
      const m = readManifest(dir);
      const launcher = makeLauncher(m.settings as never);
      if (o.watch) {
        const reporter = makeWatchReporter({ json: Boolean(o.json) });
        const res = await waitForSweep(dir, launcher, reporter);
        reporter.close();
        process.stdout.write(`${formatCounts(res.counts)}\n`);
        ctx.setExit(res.runs.every((r) => r.state === "succeeded") ? 0 : 1);
        return;
      }
      const st = await readSweepStatus(dir, launcher);
      if (o.json) {
        process.stdout.write(JSON.stringify({ sweep: st.manifest.dir, kind: st.manifest.kind, launcher: st.manifest.launcher, counts: st.counts, total: st.total, runs: st.runs }, null, 2) + "\n");
        return;
      }
      process.stdout.write(`${st.manifest.dir}  (${st.manifest.kind}, ${st.manifest.launcher}, ${st.total} runs)\n${formatCounts(st.counts) || "no runs"}\n`);
      const show = o.all ? st.runs : st.runs.filter((r) => r.state !== "succeeded");
      for (const r of show) process.stdout.write(`  ${String(r.index).padStart(4)}  ${stateWord(r.state).padEnd(18)} ${r.overrides.join(" ")}${r.job ? ` ${r.job}` : ""}${r.jobId ? dim(` job ${r.jobId}`) : ""}${r.host ? dim(` on ${r.host}`) : ""}${r.message ? dim(`  ${r.message}`) : ""}\n`);
    });

  program
    .command("logs")
    .description("print a run's stdout (or stderr)")
    .argument("<run>", "run index, id or folder")
    .option("--sweep <sweep>", "sweep folder, id or name (default: the latest)")
    .option("--stderr", "stderr instead of stdout")
    .option("-f, --follow", "keep printing as the run writes, until it ends")
    .action(async (run: string, o: { sweep?: string; stderr?: boolean; follow?: boolean }) => {
      const dir = resolveSweep(cwdOf(globals()), o.sweep);
      const m = readManifest(dir);
      const entry = resolveRun(m, run);
      const file = path.join(m.dir, entry.dir, o.stderr ? "stderr.log" : "stdout.log");
      await followFile(file, Boolean(o.follow), path.join(m.dir, entry.dir));
    });

  program
    .command("results")
    .description("one table: parameters x the last value of each metric")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .addOption(new Option("--format <fmt>", "output format").choices(["table", "csv", "json", "md"]).default("table"))
    .option("--best <metric>", "sort by a metric and show the best first: metric[:min|max] (default max)")
    .action(async (sweep: string | undefined, o: { format: "table" | "csv" | "json" | "md"; best?: string }) => {
      const dir = resolveSweep(cwdOf(globals()), sweep);
      const m = readManifest(dir);
      const st = await readSweepStatus(dir, makeLauncher(m.settings as never));
      let best: { metric: string; mode: "min" | "max" } | undefined;
      if (o.best) {
        const [metric, mode = "max"] = o.best.split(":");
        if (!metric || (mode !== "min" && mode !== "max")) throw new CorralError("E_USAGE", `--best takes metric[:min|max], got '${o.best}'`);
        best = { metric, mode };
      }
      process.stdout.write(formatResults(resultsTable(st, best), o.format));
    });

  program
    .command("cancel")
    .description("stop a sweep's runs; they are recorded as cancelled and `corral resume` can run them again")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .option("--force", "kill at once instead of SIGTERM and a grace period")
    .action(async (sweep: string | undefined, o: { force?: boolean }) => {
      const dir = resolveSweep(cwdOf(globals()), sweep);
      const m = readManifest(dir);
      const launcher = makeLauncher(m.settings as never);
      await launcher.cancel(m, Boolean(o.force));
      process.stderr.write(`corral: cancel sent to ${m.jobs.length} job(s) of ${m.dir}\n`);
    });

  program
    .command("config")
    .description("show the composed config of one run (Hydra's --cfg)")
    .argument("[overrides...]", "overrides as for `corral run`")
    .addOption(new Option("--cfg <what>", "job: the run's config; all: with the corral settings in force").choices(["job", "all"]).default("job"))
    .option("-p, --package <key>", "only this dotted key")
    .option("--json", "JSON instead of YAML")
    .action(async (overrides: string[], o: { cfg: "job" | "all"; package?: string; json?: boolean }) => {
      const g = globals();
      const project = await openProject({ cwd: cwdOf(g), ...(g.project ? { file: g.project } : {}), allowMissing: false, overrides });
      const value = composeForDisplay(project, overrides, { cfg: o.cfg, ...(o.package ? { key: o.package } : {}), env: process.env, now: new Date() });
      process.stdout.write(o.json ? JSON.stringify(value, null, 2) + "\n" : typeof value === "object" && value !== null ? toYaml(value) : `${String(value)}\n`);
    });

  program
    .command("init")
    .description("create a starter project (corral.yaml, a config group, a train script, a debug profile)")
    .argument("[dir]", "folder", ".")
    .option("--force", "overwrite existing files")
    .action((dir: string, o: { force?: boolean }) => {
      const root = path.resolve(cwdOf(globals()), dir);
      const clash = Object.keys(INIT_FILES).filter((f) => existsSync(path.join(root, f)));
      if (clash.length && !o.force) throw new CorralError("E_USAGE", `${clash.join(", ")} already exist in ${root}`, { hint: "use --force to overwrite" });
      for (const [f, text] of Object.entries(INIT_FILES)) {
        mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        writeFileSync(path.join(root, f), text);
      }
      process.stdout.write(`created ${Object.keys(INIT_FILES).join(", ")} in ${root}\nnext: cd ${dir} && corral run -m\n`);
    });
  // Commands with heavy dependencies (HTTP server, browser, DAG engine) are loaded only when
  // asked for (or for --help): every other command starts faster.
  const want = (...names: string[]): boolean => ctx.subcommand === undefined || !CORE_COMMANDS.has(ctx.subcommand) || names.includes(ctx.subcommand);
  if (want("ui", "plot")) (await import("./ui.js")).registerUiCommands(program, () => cwdOf(globals()), (c) => ctx.setExit(c));
  if (want("flow")) (await import("./flow.js")).registerFlowCommand(program, globals, (c) => ctx.setExit(c));
  if (want("env", "doctor")) (await import("./env-doctor.js")).registerEnvDoctorCommands(program, globals, ctx);
}

/** Commands registered above without a lazy import. */
const CORE_COMMANDS = new Set(["run", "resume", "status", "logs", "results", "cancel", "config", "init"]);

const stateWord = (s: string): string => (s === "succeeded" ? green(s) : TERMINAL_STATES.has(s as never) ? red(s) : s);

/** Wait for a started sweep with Ctrl+C handling; prints the summary; returns the exit code. */
async function attach(started: StartedSweep, reporter: ReturnType<typeof makeTerminalReporter>): Promise<number> {
  const { manifest, launcher, lock } = started;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\ncorral: stopping runs (SIGTERM, then SIGKILL after the grace period); Ctrl+C again to kill at once\n`);
      void launcher.cancel(manifest, false);
    } else {
      process.stderr.write(`\ncorral: killing runs now\n`);
      void launcher.cancel(manifest, true);
    }
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    let res = await waitForSweep(manifest.dir, launcher, reporter);
    // Runs stopped from outside (time limit, preemption, lost node), and failed ones when
    // `retries` is set, go again automatically until the policy says stop.
    while (interrupts === 0) {
      const again = await retryRound(manifest.dir, launcher, res.runs.map((r) => ({ index: r.index, state: r.state, attempt: r.attempt })), reporter);
      if (again.length === 0 || interrupts > 0) break;
      res = await waitForSweep(manifest.dir, launcher, reporter);
    }
    reporter.close();
    printFailureSummary(res.runs, manifest.dir);
    if (interrupts > 0) return 130;
    return res.runs.every((r) => r.state === "succeeded") ? 0 : 1;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    lock.release();
  }
}

async function followFile(file: string, follow: boolean, runDir: string): Promise<void> {
  let pos = 0;
  const flush = (): void => {
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < pos) pos = 0;
    if (size === pos) return;
    const fd = openSync(file, "r");
    const buf = Buffer.alloc(size - pos);
    readSync(fd, buf, 0, buf.length, pos);
    closeSync(fd);
    pos = size;
    process.stdout.write(buf);
  };
  flush();
  if (!follow) return;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    flush();
    const st = readRunStatus(runDir);
    if (st && TERMINAL_STATES.has(st.state)) {
      flush();
      return;
    }
  }
}
