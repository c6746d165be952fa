/**
 * `corral flow`: flags -> typed options -> plan (and print it) or create the flow sweep and drive
 * it with the head, attached or detached. Also the flow side of `corral resume`.
 */
import type { Command } from "commander";
import { cwdOf, projectLocation } from "../args.js";
import { exitCodeOf } from "../exit.js";
import { addTableOptions, type TableOpts } from "../options.js";
import type { CommandContext } from "./context.js";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createFlowSweep, flowJobs, planFlow, spawnDetachedHead } from "../../engine/flow.js";
import { submitAllocation, waitAllocation } from "../../launchers/registry.js";
import { resolveSettings } from "../../launchers/settings.js";
import { watchInterrupts } from "../interrupt.js";
import { runFlowHead, type FlowHead, type FlowOutcome } from "../../engine/flow-head.js";
import { openProject, type ProjectContext } from "../../project/open.js";
import { CorralError } from "../../errors.js";
import { renderDag } from "../../plan/dagrender.js";
import { formatSummary } from "../../plan/uptodate.js";
import { dim, makeTerminalReporter, printFailureSummary } from "../reporter.js";


type FlowFlags = Pick<
  TableOpts,
  "dryRun" | "dag" | "forcerun" | "forceall" | "cores" | "list" | "until" | "rerunIncomplete" | "keepGoing" | "profile" | "launcher" | "jobs" | "detach" | "name" | "json" | "head" | "retryFailed" | "singleAllocation"
>;

const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "main.js");


/** Add `corral flow` to the program. */
export function registerFlowCommand(program: Command, ctx: CommandContext): void {
  const setExit = (code: number): void => ctx.setExit(code);
  const cmd = program
    .command("flow")
    .description("build targets with the project's rules: only what is missing or out of date")
    .argument("[targets...]", "files or rule names to build (default: the project's targets), and wildcard=values for expand targets (model=a,b seed='range(3)')");
  addTableOptions(cmd, "flow")
    .action(async (args: string[], o: FlowFlags) => {
      // Snakemake's spelling of -j.
      if (o.cores !== undefined && o.jobs === undefined) o.jobs = o.cores;
      if (o.head) {
        setExit(await headMain(o.head, Boolean(o.retryFailed), o.jobs, false, Boolean(o.json)));
        return;
      }
      const g = ctx.globals();
      const cwd = cwdOf(g);
      // Profiles as for `corral run`: -P names exactly those; none: the automatic `when:` choice.
      const profiles = (o.profile ?? "").split(",").filter(Boolean);
      const project = await openProject({ ...projectLocation(g).open, allowMissing: false, ...(profiles.length ? { profiles } : {}) });
      if (o.list) {
        // Snakemake's --list: the rules, one a line, with what each makes.
        for (const [name, rule] of Object.entries(project.config.rules ?? {})) {
          const out = (rule as { output?: unknown }).output;
          const outs = Array.isArray(out) ? out.map(String) : out && typeof out === "object" ? Object.values(out).map(String) : [];
          process.stdout.write(`${name}${outs.length ? `  -> ${outs.join(" ")}` : ""}\n`);
        }
        return;
      }
      const forcerun = (o.forcerun ?? []).flatMap((r) => r.split(",")).filter(Boolean);
      const plan = await planFlow(
        {
          project,
          args,
          ...(forcerun.length ? { forcerun } : {}),
          ...(o.forceall ? { forceall: true } : {}),
          ...(o.until ? { until: o.until } : {}),
          rerunIncomplete: Boolean(o.rerunIncomplete),
          keepGoing: Boolean(o.keepGoing),
          ...(o.launcher ? { launcher: o.launcher } : {}),
          ...(o.jobs ? { jobs: o.jobs } : {}),
          ...(o.name ? { name: o.name } : {}),
          env: process.env,
          now: new Date(),
        },
        cwd,
      );
      if (o.dag) {
        const text = renderDag(plan.dag, plan.decisions, o.dag === "svg" ? "dot" : o.dag);
        process.stdout.write(o.dag === "svg" ? toSvg(text) : text + "\n");
        return;
      }
      if (o.dryRun) {
        // Every planned job's command is rendered, as the real run does: a misspelled
        // placeholder is exit 2 here, not when the flow starts.
        flowJobs(plan);
        process.stdout.write(dryRunText(plan.dag.jobs, plan.decisions) + formatSummary(plan.summary) + "\n");
        return;
      }
      if (plan.summary.run === 0) {
        process.stderr.write(`corral: nothing to do (${plan.summary.jobs} job${plan.summary.jobs === 1 ? "" : "s"} up to date)\n`);
        return;
      }
      if (o.singleAllocation) {
        setExit(await singleAllocation(project, args, o));
        return;
      }
      const created = await createFlowSweep(plan);
      for (const w of created.warnings) process.stderr.write(`corral: warning: ${w}\n`);
      const dir = created.manifest.dir;
      process.stderr.write(`corral: flow of ${created.flow.jobs.length} job${created.flow.jobs.length === 1 ? "" : "s"} in ${dir} (${plan.settings.type})\n`);
      if (o.detach) {
        detach(dir, false, o.jobs);
        return;
      }
      setExit(await headMain(dir, false, undefined, true, Boolean(o.json)));
    });
}

/**
 * `--single-allocation`: the plan above was only a check (bad input fails here, before anything
 * is queued); the flow itself runs inside one SLURM job, planned again there against the files
 * the job sees.
 */
async function singleAllocation(project: ProjectContext, args: string[], o: FlowFlags): Promise<number> {
  const inner = [
    process.execPath,
    CLI_MAIN,
    "flow",
    ...args,
    "--launcher",
    "local",
    ...(o.forcerun?.length ? ["--forcerun", ...o.forcerun] : []),
    ...(o.until ? ["--until", o.until] : []),
    ...(o.rerunIncomplete ? ["--rerun-incomplete"] : []),
    ...(o.keepGoing ? ["-k"] : []),
    ...(o.profile ? ["-P", o.profile] : []),
    ...(o.jobs ? ["-j", String(o.jobs)] : []),
    ...(o.name ? ["--name", o.name] : []),
  ];
  // The job is a SLURM job whatever `launcher.type` says: its request comes from the `launcher:` keys.
  const settings = resolveSettings(project.config, { launcher: "slurm" });
  const job = await submitAllocation({ projectDir: project.dir, settings, argv: inner, now: new Date() });
  process.stderr.write(`corral: the whole flow runs in SLURM job ${job.jobId}; its log: ${path.relative(process.cwd(), job.log)}\n`);
  if (o.detach) {
    process.stdout.write(`${job.jobId}\n`);
    return 0;
  }
  const code = await waitAllocation(job.jobId, (st) => process.stderr.write(`corral: job ${job.jobId} ${st.toLowerCase()}\n`));
  const log = readTail(job.log);
  if (log) process.stderr.write(log);
  return code;
}

function readTail(file: string, bytes = 8192): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.length > bytes ? text.slice(text.length - bytes) : text;
  } catch {
    return "";
  }
}

/** `corral resume` of a flow sweep: the head again, which skips what succeeded and adopts what runs. */
export async function resumeFlow(dir: string, o: { retryFailed?: boolean; jobs?: number; detach?: boolean; json?: boolean }): Promise<number> {
  if (o.detach) {
    detach(dir, Boolean(o.retryFailed), o.jobs);
    return 0;
  }
  return headMain(dir, Boolean(o.retryFailed), o.jobs, true, Boolean(o.json));
}

function detach(dir: string, retryFailed: boolean, jobs: number | undefined): void {
  const argv = [process.execPath, CLI_MAIN, "flow", "--head", dir, ...(retryFailed ? ["--retry-failed"] : []), ...(jobs ? ["-j", String(jobs)] : [])];
  const h = spawnDetachedHead(dir, argv);
  process.stdout.write(`${dir}\n`);
  process.stderr.write(`corral: detached (head pid ${h.pid}, log ${path.relative(process.cwd(), h.log)}); follow with: corral status ${path.relative(process.cwd(), dir) || "."}\n`);
}

/** Run a head here until the flow ends; the exit code of `corral flow`. */
async function headMain(dir: string, retryFailed: boolean, jobs: number | undefined, attached: boolean, json: boolean): Promise<number> {
  const reporter = makeTerminalReporter({ json, quiet: false });
  const head: FlowHead = runFlowHead(dir, reporter, { retryFailed, ...(jobs ? { jobs } : {}), env: process.env });
  const signals = watchInterrupts((force) => head.stop(force), { attached, what: "jobs" });
  let out: FlowOutcome;
  try {
    out = await head.done;
  } finally {
    reporter.close();
    signals.dispose();
  }
  printFailureSummary(out.runs, out.manifest.dir, { dependents: true });
  return exitCodeOf({ interrupted: out.interrupted, runs: out.runs });
}

function dryRunText(jobs: ReadonlyArray<{ id: number; key: string }>, decisions: ReadonlyArray<{ run: boolean; reason: string; detail: string }>, max = 50): string {
  const lines: string[] = [];
  let shown = 0;
  let more = 0;
  for (const j of jobs) {
    const d = decisions[j.id]!;
    if (!d.run) continue;
    if (shown++ < max) lines.push(`  ${j.key}  ${dim(d.detail ? `${d.reason}: ${d.detail}` : d.reason)}`);
    else more++;
  }
  if (more > 0) lines.push(`  ... and ${more} more`);
  // Jobs that stay as they are although an output is missing (Snakemake does not rebuild them either).
  const kept = jobs.filter((j) => !decisions[j.id]!.run && decisions[j.id]!.reason === "up to date" && decisions[j.id]!.detail !== "");
  const keptText = kept.length
    ? `not rebuilt:\n${kept.slice(0, max).map((j) => `  ${j.key}  ${dim(decisions[j.id]!.detail)}`).join("\n")}${kept.length > max ? `\n  ... and ${kept.length - max} more` : ""}\n\n`
    : "";
  return (lines.length ? `would run:\n${lines.join("\n")}\n\n` : "") + keptText;
}

function toSvg(dot: string): string {
  const r = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error) {
    throw new CorralError("E_USAGE", "--dag svg needs Graphviz's `dot`, which is not on PATH", {
      hint: "install graphviz (apt-get install graphviz), or print the graph with --dag dot / mermaid / json",
    });
  }
  if (r.status !== 0) throw new CorralError("E_USAGE", `dot -Tsvg failed: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  return r.stdout;
}

