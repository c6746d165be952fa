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
import { createFlowSweep, FLOW_FILE, flowJobs, makeStatter, planFlow, previewFlow, spawnDetachedHead, unlockFlow, waitForHead, type FlowFile } from "../../engine/flow.js";
import type { RunView } from "../../engine/events.js";
import { shellQuote } from "../../plan/dag.js";
import { readIncompleteMarks } from "../../store/buildrecords.js";
import { readJsonSync } from "../../store/fsutil.js";
import { writeLines } from "../output.js";
import { submitAllocation, waitAllocation } from "../../launchers/registry.js";
import { resolveSettings } from "../../launchers/settings.js";
import { watchInterrupts } from "../interrupt.js";
import { runFlowHead, type FlowHead, type FlowOutcome } from "../../engine/flow-head.js";
import { openProject, type ProjectContext } from "../../project/open.js";
import { CorralError } from "../../errors.js";
import { renderDag } from "../../plan/dagrender.js";
import { formatSummary } from "../../plan/uptodate.js";
import { dim, makeTerminalReporter, printFailureSummary, say } from "../reporter.js";


type FlowFlags = Pick<
  TableOpts,
  "dryRun" | "dag" | "forcerun" | "forceall" | "cores" | "list" | "printshellcmds" | "rulegraph" | "unlock" | "summary" | "until" | "rerunIncomplete" | "keepGoing" | "profile" | "launcher" | "jobs" | "detach" | "name" | "json" | "head" | "retryFailed" | "singleAllocation"
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
        setExit(await headMain(o.head, { retryFailed: Boolean(o.retryFailed), jobs: o.jobs, attached: false, json: Boolean(o.json), printCmds: Boolean(o.printshellcmds) }));
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
      if (o.unlock) {
        unlock(project.dir);
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
          // --summary reports incomplete outputs instead of refusing them.
          rerunIncomplete: Boolean(o.rerunIncomplete || o.summary),
          keepGoing: Boolean(o.keepGoing),
          ...(o.launcher ? { launcher: o.launcher } : {}),
          ...(o.jobs ? { jobs: o.jobs } : {}),
          ...(o.name ? { name: o.name } : {}),
          env: process.env,
          now: new Date(),
        },
        cwd,
      );
      if (o.rulegraph) {
        // The DAG's rule-level picture, whatever its size: one node per rule, an edge per rule dependency.
        process.stdout.write(renderDag(plan.dag, plan.decisions, o.rulegraph, { maxJobs: 0 }) + "\n");
        return;
      }
      if (o.summary) {
        await writeLines(summaryLines(plan, Boolean(process.stdout.isTTY)));
        return;
      }
      if (o.dag) {
        const text = renderDag(plan.dag, plan.decisions, o.dag === "svg" ? "dot" : o.dag);
        process.stdout.write(o.dag === "svg" ? toSvg(text) : text + "\n");
        return;
      }
      if (o.dryRun) {
        // Every planned job's command is rendered, as the real run does: a misspelled
        // placeholder is exit 2 here, not when the flow starts.
        const specs = flowJobs(plan);
        const cmds = o.printshellcmds ? specs.map((j) => commandText(j.argv)) : undefined;
        await writeLines(dryRunLines(plan.dag.jobs, plan.decisions, cmds));
        process.stdout.write(formatSummary(plan.summary) + "\n");
        // What the launcher would submit (SLURM: the sbatch script of each group of jobs).
        for (const f of await previewFlow(plan)) process.stdout.write(`\n# ---- ${f.name} (not submitted)\n${f.text}`);
        return;
      }
      if (plan.summary.run === 0) {
        say(`corral: nothing to do (${plan.summary.jobs} job${plan.summary.jobs === 1 ? "" : "s"} up to date)`);
        return;
      }
      if (o.singleAllocation) {
        setExit(await singleAllocation(project, args, o));
        return;
      }
      const created = await createFlowSweep(plan);
      for (const w of created.warnings) say(`corral: warning: ${w}`);
      const dir = created.manifest.dir;
      say(`corral: flow of ${created.flow.jobs.length} job${created.flow.jobs.length === 1 ? "" : "s"} in ${dir} (${plan.settings.type})`);
      if (o.detach) {
        await detach(dir, false, o.jobs, Boolean(o.printshellcmds));
        return;
      }
      setExit(await headMain(dir, { retryFailed: false, attached: true, json: Boolean(o.json), printCmds: Boolean(o.printshellcmds) }));
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
    ...(o.forceall ? ["-F"] : []),
    ...(o.printshellcmds ? ["-p"] : []),
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
    await detach(dir, Boolean(o.retryFailed), o.jobs);
    return 0;
  }
  return headMain(dir, { retryFailed: Boolean(o.retryFailed), jobs: o.jobs, attached: true, json: Boolean(o.json), printCmds: false });
}

async function detach(dir: string, retryFailed: boolean, jobs: number | undefined, printCmds = false): Promise<void> {
  const argv = [process.execPath, CLI_MAIN, "flow", "--head", dir, ...(retryFailed ? ["--retry-failed"] : []), ...(jobs ? ["-j", String(jobs)] : []), ...(printCmds ? ["-p"] : [])];
  const h = spawnDetachedHead(dir, argv);
  await waitForHead(dir, h.pid);
  process.stdout.write(`${dir}\n`);
  process.stderr.write(`corral: detached (head pid ${h.pid}, log ${path.relative(process.cwd(), h.log)}); follow with: corral status ${path.relative(process.cwd(), dir) || "."}\n`);
}

/** Run a head here until the flow ends; the exit code of `corral flow`. */
async function headMain(dir: string, o: { retryFailed: boolean; jobs?: number | undefined; attached: boolean; json: boolean; printCmds: boolean }): Promise<number> {
  // -p: each job's command, printed when the view first sees it start.
  let startLine: ((r: RunView) => string | undefined) | undefined;
  if (o.printCmds) {
    const jobs = readJsonSync<FlowFile>(path.join(dir, FLOW_FILE))?.jobs ?? [];
    startLine = (r) => {
      const j = jobs[r.index];
      return j ? `corral: ${j.key}: ${commandText(j.argv)}` : undefined;
    };
  }
  const reporter = makeTerminalReporter({ json: o.json, quiet: false, ...(startLine ? { startLine } : {}) });
  const head: FlowHead = runFlowHead(dir, reporter, { retryFailed: o.retryFailed, ...(o.jobs ? { jobs: o.jobs } : {}), env: process.env });
  const signals = watchInterrupts((force) => head.stop(force), { attached: o.attached, what: "jobs" });
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

/** A job's command as `-p` prints it: the rendered shell of `shell:`, else the argv quoted. */
export function commandText(argv: readonly string[]): string {
  return argv.length === 3 && argv[0] === "/bin/sh" && argv[1] === "-c" ? argv[2]! : argv.map(shellQuote).join(" ");
}

/**
 * `-n`'s list of the jobs that would run, with their reason: the first `max`, or with `-p` every
 * one, each followed by its command (`cmds`, one per job that runs, in DAG order).
 */
function* dryRunLines(jobs: ReadonlyArray<{ id: number; key: string }>, decisions: ReadonlyArray<{ run: boolean; reason: string; detail: string }>, cmds?: readonly string[], max = 50): Generator<string> {
  let shown = 0;
  let more = 0;
  for (const j of jobs) {
    const d = decisions[j.id]!;
    if (!d.run) continue;
    if (shown === 0) yield "would run:";
    if (cmds || shown < max) {
      yield `  ${j.key}  ${dim(d.detail ? `${d.reason}: ${d.detail}` : d.reason)}`;
      if (cmds) for (const l of (cmds[shown] ?? "").split("\n")) yield `      ${l}`;
    } else more++;
    shown++;
  }
  if (more > 0) yield `  ... and ${more} more`;
  if (shown > 0) yield "";
  // Jobs that stay as they are although an output is missing (Snakemake does not rebuild them either).
  const kept = jobs.filter((j) => !decisions[j.id]!.run && decisions[j.id]!.reason === "up to date" && decisions[j.id]!.detail !== "");
  if (kept.length === 0) return;
  yield "not rebuilt:";
  for (const j of kept.slice(0, max)) yield `  ${j.key}  ${dim(decisions[j.id]!.detail)}`;
  if (kept.length > max) yield `  ... and ${kept.length - max} more`;
  yield "";
}

/** `--unlock`: remove the flow lock of a head that is gone, and say whose it was. */
function unlock(projectDir: string): void {
  const r = unlockFlow(projectDir);
  if (!r.removed) {
    process.stderr.write("corral: no lock\n");
    return;
  }
  const rel = path.relative(process.cwd(), r.file) || r.file;
  const who = r.held ? `pid ${r.held.pid} on ${r.held.host}: ${r.held.what}` : "unreadable";
  process.stderr.write(`corral: removed the flow lock ${rel} (${who})${r.otherHost ? `; it was held from ${r.held!.host}, which this host cannot check: make sure that head is gone` : ""}\n`);
}

/** A file's modification time as `--summary` shows it: local `YYYY-MM-DD HH:MM:SS`. */
function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * `--summary` (Snakemake's): a header, then one line per output file of the planned DAG:
 * file, date (mtime, or `-`), rule, status (`ok`, `missing`, `incomplete`, `update pending`),
 * why (the decision's reason). Tab-separated when piped; columns aligned on a terminal.
 */
function* summaryLines(plan: Awaited<ReturnType<typeof planFlow>>, aligned: boolean): Generator<string> {
  const projectDir = plan.request.project.dir;
  const stat = makeStatter(projectDir);
  const incomplete = new Set(readIncompleteMarks(projectDir).flatMap((m) => m.outputs));
  const rows: string[][] = [["file", "date", "rule", "status", "why"]];
  for (const job of plan.dag.jobs) {
    const d = plan.decisions[job.id]!;
    const why = d.detail ? `${d.reason}: ${d.detail}` : d.reason;
    for (const f of job.outputs) {
      const st = stat(f);
      const status = st === undefined ? "missing" : incomplete.has(f) ? "incomplete" : d.run ? "update pending" : "ok";
      rows.push([f, st ? localTime(st.mtimeMs) : "-", job.rule, status, why]);
    }
  }
  if (!aligned) {
    for (const r of rows) yield r.join("\t");
    return;
  }
  const widths = [0, 1, 2, 3].map((i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))));
  for (const r of rows) yield r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join("  ");
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

