/**
 * The one option table of the commands that start or resume work (run, flow, resume) and of the
 * commands that explain what those would do (env, doctor). Each option is declared once: its
 * flags, which commands take it, its value parser, its `--help` line and its docs text. Commander,
 * `--help` and the "Options" block of each command's page in docs/ are all fed from here
 * (`node scripts/gen-options.mjs` rewrites the blocks; a unit test fails when they disagree).
 */
import { Option, type Command } from "commander";
import { intArg } from "./args.js";

/** The commands whose options come from the table. */
export type TableCommand = "run" | "flow" | "resume" | "env" | "doctor" | "config";
export const TABLE_COMMANDS: readonly TableCommand[] = ["run", "flow", "resume", "env", "doctor", "config"];

/** A value that is the same for every command, or given per command (`default` for the rest). */
type PerCommand<T> = T | (Partial<Record<TableCommand, T>> & { default?: T });

/** One option, as every command that takes it sees it. */
export interface OptionSpec {
  /** The property commander sets on the options object (`--dry-run` -> `dryRun`). */
  key: keyof TableOpts;
  /** Commander flags: `-j, --jobs <n>`. */
  flags: PerCommand<string>;
  /** The commands that take it, in no particular order (help lists options in table order). */
  commands: readonly TableCommand[];
  /** The one-line `--help` text. */
  help: PerCommand<string>;
  /** The docs text (Markdown, one table cell); default: the help text. */
  doc?: PerCommand<string>;
  /** Parses and checks the value (a usage error, exit 2, when it does not fit). */
  parse?: (v: string) => unknown;
  choices?: readonly string[];
  /** Commands that take it without listing it in help or docs (internal options). */
  hiddenIn?: readonly TableCommand[];
}

/** The typed values of the table's options, as commander hands them to an action. */
export interface TableOpts {
  multirun?: boolean;
  dryRun?: boolean;
  dag?: "dot" | "mermaid" | "json" | "svg";
  forcerun?: string[];
  forceall?: boolean;
  cores?: number;
  list?: boolean;
  printshellcmds?: boolean;
  rulegraph?: "dot" | "mermaid" | "json";
  unlock?: boolean;
  summary?: boolean;
  until?: string;
  rerunIncomplete?: boolean;
  keepGoing?: boolean;
  retryFailed?: boolean;
  retryUnknown?: boolean;
  useCurrentProject?: boolean;
  asRecorded?: boolean;
  profile?: string;
  launcher?: "local" | "slurm";
  /** `corral doctor --probe [seconds]`: true without a value. */
  probe?: true | number;
  jobs?: number;
  detach?: boolean;
  name?: string;
  search?: "tpe" | "random" | "grid";
  budget?: number;
  objective?: string;
  seed?: number;
  json?: boolean;
  verbose?: boolean;
  singleAllocation?: boolean;
  head?: string;
  cfg?: "job" | "hydra" | "all";
  package?: string;
}

/** The table. Its order is the order of `--help` and of the docs. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: "multirun",
    flags: "-m, --multirun",
    commands: ["run"],
    help: "run every combination of the sweep overrides and the project's sweep",
    doc: "Run every combination of the sweep overrides and the project's `sweep:` grids. Without it a sweep override is an error (exit 2), as in Hydra.",
  },
  {
    key: "dryRun",
    flags: { run: "--dry-run", flow: "-n, --dry-run" },
    commands: ["run", "flow"],
    help: { run: "print the planned runs; start nothing", flow: "print what would run and why; start nothing" },
    doc: {
      run: "Print the planned runs (index, id, overrides) and start nothing. Every run's config is composed, so bad overrides still fail with exit 2.",
      flow: "print the jobs that would run with their reason (first 50), then the per-rule table (`rule jobs run reasons`); start and write nothing; exit 0",
    },
  },
  {
    key: "dag",
    flags: "--dag <format>",
    commands: ["flow"],
    choices: ["dot", "mermaid", "json", "svg"],
    help: "print the DAG instead of running it",
    doc: "print the DAG as `dot`, `mermaid` or `json` (one node per job, solid = will run, dashed = up to date; rule-level above 500 jobs); `svg` pipes the dot text through Graphviz's `dot -Tsvg` and is an error naming Graphviz when `dot` is not on `PATH`. Starts nothing",
  },
  {
    key: "forcerun",
    flags: "-R, --forcerun <rules...>",
    commands: ["flow"],
    help: "run these rules' jobs (and what depends on them) even when up to date",
    doc: "run these rules' jobs even if up to date (and so everything downstream); also `--forcerun a,b`. Put it after the targets: it takes the words that follow",
  },
  {
    key: "forceall",
    flags: "-F, --forceall",
    commands: ["flow"],
    help: "run every job of the targets, up to date or not",
    doc: "run every job the targets need, up to date or not (Snakemake's `-F`)",
  },
  {
    key: "until",
    flags: "--until <rule>",
    commands: ["flow"],
    help: "run only this rule's jobs and what they need",
  },
  {
    key: "rerunIncomplete",
    flags: "--rerun-incomplete",
    commands: ["flow"],
    help: "rebuild outputs left by jobs that died mid-way",
    doc: "rebuild outputs whose job died mid-way (see below); without it such outputs stop the flow with exit 2",
  },
  {
    key: "keepGoing",
    flags: "-k, --keep-going",
    commands: ["flow"],
    help: "after a failure, keep running jobs that do not depend on it",
  },
  {
    key: "retryFailed",
    flags: "--retry-failed",
    commands: ["resume", "flow"],
    hiddenIn: ["flow"],
    help: { resume: "also rerun runs that failed", flow: "with --head: rerun failed jobs too (internal)" },
    doc: "Also rerun runs that failed.",
  },
  {
    key: "retryUnknown",
    flags: "--retry-unknown",
    commands: ["resume"],
    help: "also rerun runs whose status record cannot be read (they may have succeeded)",
    doc: "Also rerun runs whose `status.json` cannot be read (empty, garbage, wrong types). Without it such runs are shown `unknown` and left alone: they may have succeeded.",
  },
  {
    key: "useCurrentProject",
    flags: "--use-current-project",
    commands: ["resume"],
    help: "rerun with the project as it is now (command, config, env, container, resources), same overrides, new attempts",
    doc: "Rerun the runs this resume starts with the project as it is now: its `command`, each run's config composed again from the current files with the run's own overrides, `env`, `container` and `resources`. Each is a new attempt of the same run (same index, folder and overrides); runs that succeeded are left as they are. The sweep records the recipe it replaced (`sweep.json` `replaced`). Launcher settings stay as recorded. See [when the project changed](#when-the-project-changed).",
  },
  {
    key: "asRecorded",
    flags: "--as-recorded",
    commands: ["resume"],
    help: "rerun as the sweep recorded them, even though the project changed since",
    doc: "Rerun the runs as the sweep recorded them (command, configs, settings), even though the project changed since it was created.",
  },
  {
    key: "profile",
    flags: "-P, --profile <names>",
    commands: ["run", "flow", "env", "doctor", "config"],
    help: { default: "profiles to apply, comma-separated, in order", env: "profiles to apply, comma-separated (default: detected)", doctor: "profiles to apply, comma-separated (default: detected)" },
    doc: {
      run: "Apply profiles in order (later wins). `+profile=name` among the overrides does the same. See [profiles.md](profiles.md).",
      config: "Apply profiles in order (later wins), as `corral run -P` does: their `overrides` change the config shown, their launcher settings the `corral:` section of `--cfg all`. `+profile=name` among the overrides does the same.",
      flow: "apply exactly these profiles (comma-separated, in order), as `corral run` does; without `-P` the first profile whose `when:` holds applies. The applied names are recorded as `profile` in `sweep.json`. Profiles patch `launcher`, `resources`, `env`, `paths` and `container`, and give rules `default_resources` / `set_resources` ([profiles](profiles.md))",
      default: "Apply these profiles (comma-separated, in order) instead of the detected one. See [profiles.md](profiles.md).",
    },
  },
  {
    key: "launcher",
    flags: "--launcher <type>",
    commands: ["run", "flow", "env", "doctor"],
    choices: ["local", "slurm"],
    help: { run: "where runs execute", flow: "where jobs execute", env: "where runs would execute", doctor: "check for this launcher" },
    doc: {
      run: "Override `launcher.type`.",
      flow: "where jobs run (default: the project's `launcher.type`)",
      env: "Show the settings for this launcher instead of the project's `launcher.type`.",
      doctor: "Check for this launcher instead of the project's `launcher.type`.",
    },
  },
  {
    key: "probe",
    flags: "--probe [seconds]",
    commands: ["doctor"],
    parse: intArg("--probe"),
    help: "SLURM: submit one tiny job and report what its compute node sees (waits up to SECONDS, default 300)",
    doc: "SLURM: also submit one tiny job with the launcher's settings (partition, account, setup lines, GPUs) and report, from its compute node, the worker's Node.js and its version, whether the project folder is visible, the container runtimes and GPUs seen, and how long the job waited in the queue. Waits up to SECONDS (default 300) for it to start and end; see [the probe](#the-probe).",
  },
  {
    key: "list",
    flags: "--list",
    commands: ["flow"],
    help: "list the rules (and what each makes); start nothing",
    doc: "list the project's rules, one a line, each with its outputs (Snakemake's `--list`); starts nothing",
  },
  {
    key: "rulegraph",
    flags: "--rulegraph <format>",
    commands: ["flow"],
    choices: ["dot", "mermaid", "json"],
    help: "print the rule graph (one node per rule) instead of running",
    doc: "print the rule graph as `dot`, `mermaid` or `json`: one node per rule of the DAG (with its job count and how many will run), an edge per rule dependency (Snakemake's `--rulegraph`). Starts nothing",
  },
  {
    key: "summary",
    flags: "--summary",
    commands: ["flow"],
    help: "one line per output file: file, date, rule, status, why; start nothing",
    doc: "print one line per output file of the planned DAG: `file date rule status why` (see [--summary](#what-is-built-and-why---summary)); tab-separated when piped, aligned on a terminal; starts nothing, exit 0",
  },
  {
    key: "unlock",
    flags: "--unlock",
    commands: ["flow"],
    help: "remove the project's flow lock left by a head that is gone",
    doc: "remove the project's flow lock when the head holding it is gone (Snakemake's `--unlock`; see [One flow at a time](#one-flow-at-a-time-per-project)); a head alive on this host is exit 2 naming it; starts nothing",
  },
  {
    key: "printshellcmds",
    flags: "-p, --printshellcmds",
    commands: ["flow"],
    help: "print each job's command when it starts (with -n: each planned job's)",
    doc: "print each job's command (the rendered shell, or the argv quoted) when it starts; with `-n`, under each planned job, all of them (Snakemake's `-p`)",
  },
  {
    key: "cores",
    flags: "--cores <n>",
    commands: ["flow"],
    parse: intArg("--cores"),
    help: "the same as -j (Snakemake's spelling)",
    doc: "the same as `-j` (Snakemake's spelling)",
  },
  {
    key: "jobs",
    flags: "-j, --jobs <n>",
    commands: ["run", "flow", "resume"],
    parse: intArg("-j"),
    help: { run: "runs at once", flow: "jobs at once (local: also the CPU budget)", resume: "runs at once for this round" },
    doc: {
      run: "Local: runs at once (default: the number of CPUs). SLURM: runs at once inside one array element (`launcher.parallel`).",
      flow: "jobs at once. Locally this is also the CPU budget (as Snakemake's `--cores`); on SLURM it sets `launcher.parallel` (jobs at once inside one array element), as for `corral run`, and does not cap submissions",
      resume: "Runs at once for this round.",
    },
  },
  {
    key: "detach",
    flags: "--detach",
    commands: ["run", "flow", "resume"],
    help: { run: "return after submission; follow with `corral status`", flow: "return once the flow is started; a detached head process finishes it", resume: "return after submission" },
    doc: {
      run: "Return once the runs are submitted; prints the sweep folder. Follow with `corral status`. The runs go on: locally a detached worker process supervises them, on SLURM the jobs are queued.",
      flow: "create the flow, start a detached head process, print the sweep folder and return; the head finishes the flow after the shell exits (log: `<sweep>/.corral/head.log`)",
      resume: "Return after submission.",
    },
  },
  {
    key: "search",
    flags: "--search <sampler>",
    commands: ["run"],
    help: "search instead of a grid: tpe, random or grid (with -m, --budget, --objective)",
    doc: "Search the space of the sweep overrides instead of running the grid: `tpe` (Optuna's TPE), `random`, or `grid` (today's behaviour). Trials start as slots free; see [search](search.md). Over the project file's `search.sampler`.",
    choices: ["tpe", "random", "grid"],
  },
  {
    key: "budget",
    flags: "--budget <n>",
    commands: ["run"],
    help: "trials of a search in all",
    doc: "How many trials the search runs in all (`search.budget`). With only discrete parameters and a budget that covers them, the grid runs instead, each point once.",
    parse: intArg("--budget"),
  },
  {
    key: "objective",
    flags: "--objective <metric:mode>",
    commands: ["run"],
    help: "the metric a search minimises or maximises, e.g. val_loss:min",
    doc: "The metric the search optimises and its direction, `METRIC:min` or `METRIC:max` (`search.objective`): the last value the run logged in its `metrics.jsonl`.",
  },
  {
    key: "seed",
    flags: "--seed <n>",
    commands: ["run"],
    help: "seed of the search's sampler",
    doc: "Seed of the sampler (`search.seed`, default 0): the same seed and the same order of results give the same trials.",
    parse: (v: string): number => (v.trim() === "0" ? 0 : intArg("--seed")(v)),
  },
  {
    key: "name",
    flags: "--name <name>",
    commands: ["run", "flow"],
    help: "suffix of the sweep folder",
    doc: { run: "Suffix of the sweep folder (`multirun/<date>/<time>-NAME`), also a handle for `status NAME`. One folder name: letters, digits and `. _ - + = , @`, at most 100 characters, not starting with `.` or `-`; anything else (a `/`, `..`) is exit 2 before anything is created.", flow: "suffix of the sweep folder (one folder name, as for `corral run --name`)" },
  },
  {
    key: "json",
    flags: "--json",
    commands: ["run", "flow", "resume", "env", "doctor", "config"],
    help: { run: "machine-readable output (with --dry-run: the planned runs)", default: "JSON event lines", env: "machine-readable", doctor: "machine-readable", config: "JSON instead of YAML" },
    doc: {
      run: "With `--dry-run`: a JSON array of `{index, id, overrides, config}`; `overrides` is one `key=value` string per key spelled as Hydra spells per-job overrides (`b=10.0`, `flag=True`). Otherwise: JSON event lines on stdout.",
      flow: "JSON event lines instead of the progress view",
      resume: "JSON event lines.",
      env: "The report as one JSON object.",
      doctor: "The checks as a JSON array of `{ok, title, detail, hint}`.",
      config: "JSON instead of YAML.",
    },
  },
  {
    key: "verbose",
    flags: "-v, --verbose",
    commands: ["run"],
    help: "log scheduling and resource decisions to the worker log",
    doc: "The worker logs its scheduling and resource decisions (slots, CPU and GPU ids per run) to its log (`<sweep>/.corral/*.log`, or `<sweep>/.slurm/%A_%a.out`).",
  },
  {
    key: "singleAllocation",
    flags: "--single-allocation",
    commands: ["flow"],
    help: "submit ONE SLURM job (launcher settings) that runs the whole flow inside it with the local launcher",
    doc: "submit ONE SLURM job, with the `launcher:` settings (partition, time, cpus_per_task, mem, gpus, setup), that runs the whole flow inside it with the local launcher; waits for it (or returns its job id with `--detach`) and exits with the inner flow's exit code. Bad input still fails here, before anything is queued",
  },
  {
    key: "cfg",
    flags: "--cfg <what>",
    commands: ["config"],
    choices: ["job", "hydra", "all"],
    help: "job: the run's config (default); hydra: Hydra's settings; all: both, with the corral settings in force",
    doc: "`job` (default): the run's config, exactly what `CORRAL_CONFIG` will hold (profiles' `overrides` included), without the `hydra` node, as Hydra's `--cfg job`. `hydra`: Hydra's settings as the configs and the `hydra.*` overrides write them, with `runtime.choices` (Hydra's own groups included); what Hydra itself provides is composed by the app. `all`: the job config, `hydra:`, and a `corral:` section with the settings in force: command, launcher settings (spelled as in corral.yaml, defaults filled in), resources, sweep folder template, paths, applied and available profiles.",
  },
  {
    key: "package",
    flags: "-p, --package <key>",
    commands: ["config"],
    help: "only this dotted key",
    doc: "Only this dotted key (`-p model.hidden`; with `--cfg all`, `-p launcher` finds `corral.launcher`).",
  },
  {
    key: "head",
    flags: "--head <sweep>",
    commands: ["flow"],
    hiddenIn: ["flow"],
    help: "run the head of a created flow sweep (internal)",
  },
];

function pick<T>(v: PerCommand<T> | undefined, cmd: TableCommand): T | undefined {
  if (v === undefined || typeof v !== "object" || v === null) return v;
  const per = v as Partial<Record<TableCommand | "default", T>>;
  return per[cmd] ?? per.default;
}

/** The table's options of one command, in table order. */
export const optionsOf = (cmd: TableCommand): OptionSpec[] => OPTIONS.filter((o) => o.commands.includes(cmd));

/** The commander option of one table entry for one command. */
export function commanderOption(spec: OptionSpec, cmd: TableCommand): Option {
  const flags = pick(spec.flags, cmd);
  const help = pick(spec.help, cmd);
  if (flags === undefined || help === undefined) throw new Error(`option ${spec.key}: no flags or help for '${cmd}'`);
  const opt = new Option(flags, help);
  if (spec.choices) opt.choices(spec.choices);
  if (spec.parse) opt.argParser(spec.parse);
  if (spec.hiddenIn?.includes(cmd)) opt.hideHelp();
  return opt;
}

/** Add the table's options of `name` to a commander command. */
export function addTableOptions(command: Command, name: TableCommand): Command {
  for (const spec of optionsOf(name)) command.addOption(commanderOption(spec, name));
  return command;
}

/** How the docs spell an option's flags: `` `-j`, `--jobs N` ``, `` `--launcher local\|slurm` ``. */
function docFlags(spec: OptionSpec, cmd: TableCommand): string {
  const flags = pick(spec.flags, cmd) ?? "";
  const m = /^(.*?)(?:\s+[<[]([\w-]+)(\.\.\.)?[>\]])?$/.exec(flags);
  const names = (m?.[1] ?? flags).split(/,\s*/);
  const value = spec.choices ? spec.choices.join("\\|") : m?.[2] ? `${m[2].toUpperCase()}${m[3] ?? ""}` : "";
  return names.map((n, i) => `\`${n}${value && i === names.length - 1 ? ` ${value}` : ""}\``).join(", ");
}

/** The Markdown table of one command's options, as the docs show it. */
export function optionsMarkdown(cmd: TableCommand): string {
  const rows = optionsOf(cmd)
    .filter((o) => !o.hiddenIn?.includes(cmd))
    .map((o) => `| ${docFlags(o, cmd)} | ${(pick(o.doc, cmd) ?? pick(o.help, cmd) ?? "").replace(/\|/g, "\\|")} |`);
  return ["| option | meaning |", "| --- | --- |", ...rows].join("\n");
}

/** The docs page that holds each command's generated options block. */
export const OPTIONS_DOC: Record<TableCommand, string> = { run: "docs/run.md", flow: "docs/flow.md", resume: "docs/resume.md", env: "docs/env.md", doctor: "docs/doctor.md", config: "docs/config.md" };

export const BLOCK_START = "<!-- options:start (generated from src/cli/options.ts by `node scripts/gen-options.mjs`; edit the table there) -->";
export const BLOCK_END = "<!-- options:end -->";

/** `page` with its options block regenerated for `cmd`; throws when the page has no block. */
export function withOptionsBlock(page: string, cmd: TableCommand): string {
  const a = page.indexOf(BLOCK_START);
  const b = page.indexOf(BLOCK_END);
  if (a < 0 || b < a) throw new Error(`${OPTIONS_DOC[cmd]} has no options block (${BLOCK_START} ... ${BLOCK_END})`);
  return `${page.slice(0, a)}${BLOCK_START}\n${optionsMarkdown(cmd)}\n${page.slice(b)}`;
}
