/**
 * docs/messages.md, tested: each entry with a reproduction below is run (a small project and one
 * command, in a fresh folder, several at once) and must print the entry's message (words in
 * angle brackets match anything), its hint when the entry gives one, and exit with the entry's
 * code. An entry without a reproduction here names the test that covers it ("Covered by:"),
 * and that test must exist. The reverse direction (every message in src/ is catalogued) is
 * test/unit/messages-catalogue.test.ts.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT } from "../helpers.js";

interface Entry {
  message: string;
  exit?: number;
  hint?: string;
  covered: Array<{ file: string; name: string }>;
}

/** The entries of the page: `### \`message\`` headings, "Exit N.", "Hint: `...`", "Covered by: `file` "name"". */
export function catalogue(text: string): Entry[] {
  const out: Entry[] = [];
  const parts = text.split(/^### /m).slice(1);
  for (const part of parts) {
    const [head = "", ...rest] = part.split("\n");
    const body = rest.join("\n");
    const m = /^(`+) ?(.*?) ?\1$/.exec(head.trim());
    if (!m) throw new Error(`docs/messages.md: heading is not one code span: ${head}`);
    const exit = /^Exit (\d+)/m.exec(body);
    const hint = /^Hint: (`+) ?(.*?) ?\1$/m.exec(body);
    out.push({
      message: m[2]!,
      ...(exit ? { exit: Number(exit[1]) } : {}),
      ...(hint ? { hint: hint[2]! } : {}),
      covered: [...body.matchAll(/^Covered by: `([^`]+)` "([^"]+)"$/gm)].map((c) => ({ file: c[1]!, name: c[2]! })),
    });
  }
  return out;
}

/** A message of the page as a regex: `<placeholder>` matches any text on the line. */
export function pattern(message: string): RegExp {
  const parts = message.split(/<[^<>\s][^<>]*>/);
  return new RegExp(parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*?"));
}

interface Repro {
  /** The entry's heading, exactly. */
  message: string;
  /** Project files; a file under bin/ is made executable. */
  files?: Record<string, string>;
  /** Commands run first; their outcome is not checked. */
  before?: string[][];
  /** Run in the one shared project that holds a finished 2-run sweep logging `loss` (read-only commands). */
  inSweep?: true;
  args: string[];
  /** Extra environment; `$DIR` is the project folder. */
  env?: Record<string, string>;
}

const Y = (yaml: string): Record<string, string> => ({ "corral.yaml": yaml });
const BASE = "command: echo\nconfig:\n  a: 1\n";
const RULE = "rules:\n  a:\n    output: x.txt\n    shell: touch {output}\n";
const WILD = "rules:\n  a:\n    output: 'out/{n}.txt'\n    shell: touch {output}\n";
/** A run that logs the metric `loss`. */
const METRIC = { "corral.yaml": "command: sh log.sh\nconfig:\n  a: 1\n", "log.sh": "echo '{\"loss\": 1}' >> \"$CORRAL_RUN_DIR/metrics.jsonl\"\n" };
const CONF = (files: Record<string, string>, project = "command: echo\nconfig_dir: conf\n"): Record<string, string> => ({ "corral.yaml": project, ...files });
/** A SLURM whose sbatch refuses every job (and whose other tools answer nothing). */
const FAKE_SLURM = {
  "bin/sbatch": "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n",
  "bin/squeue": "#!/bin/sh\nexit 0\n",
  "bin/sacct": "#!/bin/sh\nexit 0\n",
  "bin/scontrol": "#!/bin/sh\necho 'MaxArraySize = 1001'\necho 'MaxJobCount = 10000'\n",
  "bin/scancel": "#!/bin/sh\nexit 0\n",
};

const REPROS: Repro[] = [
  // --- project file and config ---------------------------------------------------------------
  { message: "no corral.yaml (or corral.config.ts/.js) in <dir>", files: {}, args: ["run"] },
  { message: "file not found", files: Y(BASE), args: ["--project", "missing.yaml", "run"] },
  { message: "unsupported project file type '<type>'", files: { "corral.toml": "" }, args: ["--project", "corral.toml", "run"] },
  { message: "invalid YAML: <what the parser found>", files: Y("command: echo\nconfig:\n  a: 1\n b: 2\n"), args: ["run"] },
  { message: "the project must be a map of settings such as {command: python train.py} (got <what>)", files: Y("- a\n- b\n"), args: ["run"] },
  { message: "unknown key '<key>' (did you mean '<near>'?)", files: Y("command: echo\nconfg:\n  a: 1\n"), args: ["run"] },
  { message: "<key> must be <what it takes> (got <value>)", files: Y("command: echo\nlauncher:\n  jobs: -1\n"), args: ["run"] },
  { message: "<key> must be one of <choices> (got '<value>')", files: Y("command: echo\nlauncher:\n  type: pbs\n"), args: ["run"] },
  { message: "command is not a valid command: <why> (got '<command>')", files: Y("command: python 'train.py\n"), args: ["run"] },
  { message: "no command to run", files: Y("config:\n  a: 1\n"), args: ["run"] },
  { message: "command: no key '<key>' in the run's config", files: Y("command: echo ${nope}\nconfig:\n  a: 1\n"), args: ["run"] },
  { message: "Interpolation key '<key>' not found (in '<expression>')", files: Y("command: echo\nconfig:\n  a: ${nope}\n"), args: ["run"] },
  { message: "Interpolation cycle: <key> -> <key> -> <key>", files: Y("command: echo\nconfig:\n  a: ${b}\n  b: ${a}\n"), args: ["run"] },
  { message: "unknown path '${paths.<name>}' (did you mean 'paths.<near>'?)", files: Y("command: echo ${paths.data}\npaths:\n  dat: /tmp\n"), args: ["run", "--dry-run"] },
  { message: "config_dir '<dir>' is not a folder (looked for <path>)", files: Y("command: echo\nconfig_dir: conf\n"), args: ["run"] },
  { message: "config group '<group>' has two files for option '<option>' (<file> and <file>)", files: CONF({ "conf/config.yaml": "a: 1\n", "conf/db/mysql.yaml": "x: 1\n", "conf/db/mysql.yml": "x: 2\n" }), args: ["run", "db=mysql"] },
  { message: "a config file must hold a map of keys to values", files: CONF({ "conf/config.yaml": "a: 1\n", "conf/db/mysql.yaml": "- 1\n" }), args: ["run", "db=mysql"] },
  { message: "defaults is set both here and in <file>; keep one", files: CONF({ "conf/config.yaml": "defaults:\n  - db: mysql\n", "conf/db/mysql.yaml": "x: 1\n" }, "command: echo\nconfig_dir: conf\ndefaults:\n  - db: mysql\n"), args: ["run"] },
  { message: "Could not find '<group>/<option>': no option '<option>' in config group '<group>'. Available options: <options>", files: CONF({ "conf/config.yaml": "defaults:\n  - db: mysql\n", "conf/db/mysql.yaml": "x: 1\n" }), args: ["run", "db=oracle"] },
  { message: "You must specify '<group>', e.g. <group>=<OPTION>", files: CONF({ "conf/config.yaml": "defaults:\n  - db: ???\n", "conf/db/mysql.yaml": "x: 1\n" }), args: ["run"] },
  { message: "Could not append '+<group>=<option>': '<group>' is already in the defaults list", files: CONF({ "conf/config.yaml": "defaults:\n  - db: mysql\n", "conf/db/mysql.yaml": "x: 1\n" }), args: ["run", "+db=mysql"] },
  { message: "Override '<override>' looks like a config group override, but config group '<key>' does not exist", files: Y(BASE), args: ["run", "a@pkg=1"] },
  { message: "Unknown config group '<group>'", files: Y(BASE), args: ["run", "-m", "a=glob(*)"] },
  { message: "the exported config nests more than <n> levels deep (or refers to itself) at '<key>'", files: { "corral.config.js": "const c = { command: 'echo', config: {} };\nc.config.self = c.config;\nexport default c;\n" }, args: ["run"] },
  { message: "cannot load the project file: <error>", files: { "corral.config.js": "export default {;\n" }, args: ["run"] },
  { message: "the config <function|promise> passed to defineConfig failed: <error>", files: { "corral.config.js": "export default () => { throw new Error('boom'); };\n" }, args: ["run"] },
  { message: "the project file has no default export", files: { "corral.config.js": "export const x = 1;\n" }, args: ["run"] },
  { message: "unknown profile '<name>'", files: Y(BASE), args: ["run", "-P", "nope"] },
  { message: "profile '<name>' is defined both in the project file and in profiles/<name>.yaml; keep one", files: { "corral.yaml": `${BASE}profiles:\n  gpu:\n    resources: {cpus: 1}\n`, "profiles/gpu.yaml": "resources: {cpus: 1}\n" }, args: ["run", "-P", "gpu"] },
  { message: "profiles.<name>.container.runtime is required: the project has no container for it to patch", files: Y(`${BASE}profiles:\n  c:\n    container: {image: x}\n`), args: ["run", "-P", "c"] },
  { message: "cannot create the sweep folder <dir>: <why>", files: Y(`${BASE}sweep_dir: corral.yaml/sweeps\n`), args: ["run"] },
  { message: "<key>: '<expression>' is not known before the runs start (Corral fills in <what it fills in>)", files: CONF({ "conf/config.yaml": "a: 1\nhydra:\n  sweep:\n    dir: out/${hydra.job.num}\n" }), args: ["run", "-m", "a=1,2", "--dry-run"] },
  { message: "hydra.launcher.<key> <why>", files: CONF({ "conf/config.yaml": "a: 1\nhydra:\n  launcher:\n    n_jobs: x\n" }), args: ["run", "--dry-run"] },
  // --- overrides ------------------------------------------------------------------------------
  { message: "<override>: <what is wrong> at column <n>", files: Y(BASE), args: ["run", "a=="] },
  { message: "<override>: character '<c>' is not allowed in an unquoted value at column <n>", files: Y(BASE), args: ["run", "a=x;y"] },
  { message: "<override>: unknown function '<name>' at column <n>", files: Y(BASE), args: ["run", "-m", "a=frob(1)"] },
  { message: "'<override>' is a sweep, but this is a single run", files: Y(BASE), args: ["run", "a=1,2"] },
  { message: "Could not override '<key>': key not in config. To append to your config use +<key>=<value>", files: Y(BASE), args: ["run", "b.c=1"] },
  { message: "Could not append to config: '<key>' is already in the config (value <value>); use ++<key>=<value> to force, or <key>=<value> to change it", files: Y(BASE), args: ["run", "+a=2"] },
  { message: "Could not delete from config: '<key>' does not exist", files: Y(BASE), args: ["run", "~nope"] },
  { message: "'<override>': only corral.launcher.<key>=<value> sets Corral's settings from the command line", files: Y(BASE), args: ["run", "corral.foo=1"] },
  // --- sweeps ---------------------------------------------------------------------------------
  { message: "<key>: range(<start>,<stop>,<step>) has <n> values (at most 10000000)", files: Y(BASE), args: ["run", "-m", "a=range(0,100000000)"] },
  { message: "<key>: the sweep has <n> runs (at most 10000000): <axes>", files: Y(BASE), args: ["run", "-m", "a=range(0,100000)", "b=range(0,100000)"] },
  { message: "<override>: range() produced no values", files: Y(BASE), args: ["run", "-m", "a=range(5,1)"] },
  { message: "<override>: interval() is for continuous samplers such as Optuna; use range() or a list", files: Y(BASE), args: ["run", "-m", "a=interval(0,1)"] },
  { message: "sweep.zip.<key> has <count> but zip.<key> has <m>; zipped lists must have the same length", files: Y(`${BASE}sweep:\n  zip:\n    a: [1, 2]\n    b: [1]\n`), args: ["run", "-m", "--dry-run"] },
  { message: "no metric '<metric>' in this sweep: <what it has>", inSweep: true, args: ["results", "--best", "acc"] },
  { message: "--best takes metric[:min|max], got '<value>'", inSweep: true, args: ["results", "--best", "loss:median"] },
  { message: "--best needs a metric: metric[:min|max] (only a study has an objective of its own)", inSweep: true, args: ["results", "--best"] },
  { message: "--importance <metric>: no metric '<metric>' in this sweep: <what it has>", inSweep: true, args: ["results", "--importance", "acc"] },
  { message: "--vs compares on one metric: add --best metric[:min|max]", inSweep: true, args: ["results", "--vs", "other"] },
  { message: "--vs prints several tables, which one CSV cannot hold: use --format table, md or json", inSweep: true, args: ["results", "--vs", "other", "--best", "loss", "--format", "csv"] },
  // --- search ------------------------------------------------------------------------------------
  { message: "<key>: a distribution ({type: ...}) is for a search, and this is a grid", files: Y("command: echo\nconfig:\n  lr: 0.1\nsweep:\n  lr: {type: float, low: 0.001, high: 0.1}\n"), args: ["run", "-m"] },
  { message: "--search runs many trials: add -m (--multirun)", files: Y(BASE), args: ["run", "--search", "tpe", "--budget", "3", "--objective", "loss", "a=interval(0,1)"] },
  { message: "sweep: a search takes one space, not a list of grids", files: Y("command: echo\nconfig:\n  a: 1\nsweep:\n  - a: [1, 2]\n  - a: [3]\nsearch: {sampler: tpe, budget: 3, objective: loss}\n"), args: ["run", "-m"] },
  { message: "a search needs a space: no parameter to search", files: Y("command: echo\nconfig:\n  a: 1\nsearch: {sampler: tpe, budget: 3, objective: loss}\n"), args: ["run", "-m"] },
  // --- finding sweeps and runs ----------------------------------------------------------------
  { message: "no sweeps recorded in <dir>", files: Y(BASE), args: ["status"] },
  { message: "no sweep '<ref>'", files: Y(BASE), args: ["status", "nosuchsweep"] },
  { message: "no run <n> in sweep <dir>: it has <count> (0-<last>)", inSweep: true, args: ["logs", "5"] },
  { message: "--use-current-project and --as-recorded exclude each other", inSweep: true, args: ["resume", "--use-current-project", "--as-recorded"] },
  { message: "--use-current-project is for sweeps; <dir> is a pipeline", files: Y(RULE), before: [["flow", "x.txt"]], args: ["resume", "--use-current-project"] },
  // --- pipelines ------------------------------------------------------------------------------
  { message: "no targets: name files or rules on the command line, or list them under `targets:` in the project file", files: Y(RULE), args: ["flow", "-n"] },
  { message: "Missing input: no rule makes '<path>' and it does not exist (needed by <who>)", files: Y(RULE), args: ["flow", "-n", "nothing.txt"] },
  { message: "Cycle in the workflow: <job> -> <job> -> <job>", files: Y("rules:\n  a:\n    input: b.txt\n    output: a.txt\n    shell: touch {output}\n  b:\n    input: a.txt\n    output: b.txt\n    shell: touch {output}\n"), args: ["flow", "-n", "a.txt"] },
  { message: "Ambiguous rules for '<path>' (needed by <who>): rule '<rule>' (output '<pattern>') and rule '<rule>' (output '<pattern>') both make it", files: Y("rules:\n  a:\n    output: '{n}.txt'\n    shell: touch {output}\n  b:\n    output: '{m}.txt'\n    shell: touch {output}\n"), args: ["flow", "-n", "y.txt"] },
  { message: "Wildcard constraint: rule '<rule>' output '<pattern>' would make '<path>' (needed by <who>), but wildcard '<wildcard>' = '<value>' does not match regex '<regex>'", files: Y("rules:\n  a:\n    output: 'out/{n}.txt'\n    wildcard_constraints: {n: '\\d+'}\n    shell: touch {output}\n"), args: ["flow", "-n", "out/x.txt"] },
  { message: "Unsafe wildcard value: rule '<rule>' wildcard '<wildcard>' = \"<value>\" <why>", files: Y(WILD), args: ["flow", "-n", "out/../../x.txt"] },
  { message: "Rule '<rule>': <input or log> '<pattern>' uses wildcard '{<wildcard>}' that is not in its output (output wildcards: <names>)", files: Y("rules:\n  a:\n    input: 'in/{m}.txt'\n    output: 'out/{n}.txt'\n    shell: touch {output}\n"), args: ["flow", "-n", "out/1.txt"] },
  { message: "Rule '<rule>': outputs '<pattern>' and '<pattern>' have different wildcards; every output of a rule must have the same ones", files: Y("rules:\n  a:\n    output: ['{n}.txt', '{m}.log']\n    shell: touch {output}\n"), args: ["flow", "-n", "1.txt"] },
  { message: "Rule '<rule>' output: unclosed '{' in pattern '<pattern>'", files: Y("rules:\n  a:\n    output: 'out/{n.txt'\n    shell: touch {output}\n"), args: ["flow", "-n", "out/x.txt"] },
  { message: "Target rule '<rule>' has wildcards in its output ('<pattern>'): name the files, or use an expand target", files: Y(WILD), args: ["flow", "-n", "a"] },
  { message: "Target expand '<pattern>' has no wildcard '{<key>}'", files: Y(`targets:\n  - {expand: 'out/{n}.txt', m: [1, 2]}\n${WILD}`), args: ["flow", "-n"] },
  { message: "Rule '<rule>' input expand '<pattern>': value '<value>' of '<key>' holds a brace", files: Y(`${WILD}  all:\n    input: {expand: 'out/{n}.txt', n: ['x{y']}\n    output: all.txt\n    shell: touch {output}\n`), args: ["flow", "-n", "all.txt"] },
  { message: "Rule '<rule>' shell: unknown placeholder '{<name>}'", files: Y("rules:\n  a:\n    output: x.txt\n    shell: touch {outptu}\n"), args: ["flow", "-n", "x.txt"] },
  { message: "rules.<rule>.output.<mark> '<mark>' marks inputs only; in output write a pattern or {temp: pattern} or {protected: pattern}", files: Y("rules:\n  a:\n    output: {ancient: x.txt}\n    shell: touch {output}\n"), args: ["flow", "-n", "x.txt"] },
  { message: "--forcerun: no rule named '<name>'", files: Y(RULE), args: ["flow", "-n", "x.txt", "-R", "nope"] },
  { message: "override '<key>=...' names no wildcard of an expand target", files: Y(`config:\n  a: 1\ntargets:\n  - {expand: 'out/{n}.txt', n: [1, 2]}\n${WILD}`), args: ["flow", "-n", "a=1,2"] },
  { message: "localrules names rule '<rule>', which the project does not have (did you mean '<near>'?)", files: Y(`localrules: [b]\n${RULE}`), args: ["flow", "-n", "x.txt"] },
  { message: "rules.<rule>.input: '<expression>' must give a path, got <value>", files: Y("config:\n  m: {x: 1}\nrules:\n  a:\n    input: '${m}'\n    output: x.txt\n    shell: touch {output}\n"), args: ["flow", "-n", "x.txt"] },
  { message: "--dag svg needs Graphviz's `dot`, which is not on PATH", files: Y(RULE), args: ["flow", "--dag", "svg", "x.txt"], env: { PATH: "$DIR/bin" } },
  { message: "warning: rule '<rule>' asks for <n> CPUs; this machine offers <m>: its jobs run with <m>", files: Y("rules:\n  a:\n    output: x.txt\n    resources: {cpus: 4096}\n    shell: touch {output}\n"), args: ["flow", "x.txt"] },
  // --- launchers and SLURM --------------------------------------------------------------------
  { message: "<who> asks for <n> CPUs but this machine offers <m> (<where the limit comes from>)", files: Y("command: echo\nresources:\n  cpus: 4096\n"), args: ["run"] },
  { message: "<who> asks for <n> GPUs but this machine offers <m> (<devices>, from <source>)", files: Y("command: echo\nresources:\n  gpus: 2\n"), args: ["run"], env: { CUDA_VISIBLE_DEVICES: "0" } },
  { message: "launcher.nodes is <n>, but the local launcher runs on this machine only", files: Y("command: echo\nlauncher:\n  nodes: 2\n"), args: ["run"] },
  { message: "launcher.multinode is '<mode>' but launcher.nodes is <n>; a multi-node run needs nodes > 1", files: Y("command: echo\nlauncher:\n  multinode: torchrun\n"), args: ["run", "--dry-run"] },
  { message: "<tool> not found on PATH", files: Y(BASE), args: ["run", "--launcher", "slurm"], env: { PATH: "$DIR/bin" } },
  { message: "invalid <setting> \"<value>\"", files: Y("command: echo\nlauncher:\n  type: slurm\n  partition: 'a b'\n"), args: ["run", "--dry-run"] },
  { message: "mem and mem_per_cpu cannot both be set (SLURM refuses the pair)", files: Y("command: echo\nlauncher:\n  type: slurm\n  mem: 4G\n  mem_per_cpu: 1G\n"), args: ["run", "--dry-run"] },
  { message: "failed: submission failed: sbatch failed for <script>: <sbatch's message>", files: { ...Y(BASE), ...FAKE_SLURM }, args: ["run", "--launcher", "slurm"], env: { PATH: `$DIR/bin:${process.env.PATH ?? ""}` } },
  // --- runs -----------------------------------------------------------------------------------
  { message: "failed: exited with code <n>", files: Y("command: sh -c 'exit 3'\n"), args: ["run"] },
  { message: "failed: killed by <signal>", files: Y("command: sh -c 'kill -9 $$'\n"), args: ["run"] },
  { message: "failed: cannot start '<command>': command not found on PATH", files: Y("command: nosuchcmd-xyz\n"), args: ["run"] },
  { message: "failed: cannot start '<path>': no such file", files: Y("command: ./nosuch.sh\n"), args: ["run"] },
  { message: "failed: cannot start '<path>': permission denied (is it executable? chmod +x, or run it through its interpreter)", files: { "corral.yaml": "command: ./t.txt\n", "t.txt": "hi\n" }, args: ["run"] },
  { message: "<count> not started because of the failures", files: Y("rules:\n  a:\n    output: x.txt\n    shell: exit 3\n  b:\n    input: x.txt\n    output: y.txt\n    shell: touch {output}\n"), args: ["flow", "y.txt"] },
  { message: "hydra.sweep.subdir gives run <n> the folder '<dir>', which is not inside the sweep folder", files: CONF({ "conf/config.yaml": "a: 1\nhydra:\n  sweep:\n    subdir: ../x\n" }), args: ["run", "-m", "a=1,2"] },
  // --- command line ---------------------------------------------------------------------------
  { message: "unknown command '<name>'", files: Y(BASE), args: ["frobnicate"] },
  { message: "unknown option '<option>'", files: Y(BASE), args: ["run", "--frob"] },
  { message: "option '<option>' argument '<value>' is invalid. Allowed choices are <choices>.", files: Y(BASE), args: ["run", "--launcher", "pbs"] },
  { message: "required option '<option>' not specified", files: Y(BASE), args: ["plot"] },
  { message: "<option> must be a positive integer, got '<value>'", files: Y(BASE), args: ["run", "-j", "0"] },
  { message: "--name must be one folder name: '<name>' <why>", files: Y(BASE), args: ["run", "--name", "a/b"] },
  { message: "corral.yaml already exists in <dir>", files: Y(BASE), args: ["init"] },
  { message: "no key '<key>' in the run's config", files: Y(BASE), args: ["config", "-p", "zz"] },
  // --- dashboard and plots --------------------------------------------------------------------
  { message: "--port must be an integer 0..65535, got '<value>'", files: Y(BASE), args: ["ui", "--port", "70000"] },
  { message: "cannot listen on <host>:<port>: <code>", files: Y(BASE), args: ["ui", "--host", "203.0.113.7", "--no-open"] },
  { message: "no run has both parameter '<param>' and a numeric metric '<metric>'", inSweep: true, args: ["plot", "--metric", "acc", "--param", "a"] },
  { message: "--out must end in .svg or .png, got '<file>'", inSweep: true, args: ["plot", "--metric", "loss", "--param", "a", "--out", "x.gif"] },
  { message: "--width must be an integer 100..10000 (pixels), got '<value>'", inSweep: true, args: ["plot", "--metric", "loss", "--param", "a", "--width", "5"] },
];

interface Outcome {
  code: number | null;
  out: string;
}

/** A project with files (those under bin/ executable); its folder. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-msg-"));
  mkdirSync(path.join(dir, "bin"));
  for (const [f, text] of Object.entries(files)) {
    const p = path.join(dir, f);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    if (f.startsWith("bin/")) chmodSync(p, 0o755);
  }
  return dir;
}

function runCli(args: string[], cwd: string, env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function reproduce(r: Repro, sweepProject: string): Promise<Outcome> {
  if (r.inSweep) return runCli(r.args, sweepProject, {});
  const dir = project(r.files ?? {});
  const env = Object.fromEntries(Object.entries(r.env ?? {}).map(([k, v]) => [k, v.replace(/\$DIR/g, dir)]));
  for (const b of r.before ?? []) await runCli(b, dir, env);
  return runCli(r.args, dir, env);
}

const entries = catalogue(readFileSync(path.join(ROOT, "docs/messages.md"), "utf8"));
const byMessage = new Map(entries.map((e) => [e.message, e]));
const results = new Map<string, Outcome>();

beforeAll(async () => {
  const sweepProject = project(METRIC);
  await runCli(["run", "-m", "a=1,2"], sweepProject, {});
  const queue = [...REPROS];
  const worker = async (): Promise<void> => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      const t0 = Date.now();
      results.set(r.message, await reproduce(r, sweepProject));
      if (process.env.MSG_TIMES) console.log(Date.now() - t0, r.message);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}, 120_000);

describe("docs/messages.md", () => {
  it("has entries with unique messages, each reproduced here or covered by a named test", () => {
    expect(entries.length).toBeGreaterThan(80);
    expect(new Set(entries.map((e) => e.message)).size).toBe(entries.length);
    const reproduced = new Set(REPROS.map((r) => r.message));
    const neither = entries.filter((e) => !reproduced.has(e.message) && e.covered.length === 0).map((e) => e.message);
    expect(neither, "entries with no reproduction in test/e2e/messages.test.ts and no 'Covered by:' line").toEqual([]);
  });

  it("every reproduction belongs to an entry that states its exit code", () => {
    const orphans = REPROS.filter((r) => !byMessage.has(r.message)).map((r) => r.message);
    expect(orphans, "reproductions whose message is no heading of docs/messages.md").toEqual([]);
    expect(REPROS.filter((r) => byMessage.get(r.message)?.exit === undefined).map((r) => r.message)).toEqual([]);
  });

  it("each covering test exists", () => {
    const missing = entries.flatMap((e) => e.covered).filter((c) => !existsSync(path.join(ROOT, c.file)) || !readFileSync(path.join(ROOT, c.file), "utf8").includes(c.name));
    expect(missing).toEqual([]);
  });

  it.each(REPROS.map((r) => [r.message, r] as const))("%s", (message) => {
    const e = byMessage.get(message);
    const r = results.get(message)!;
    expect(e, "an entry of docs/messages.md").toBeDefined();
    const ctx = `exit ${r.code}; output:\n${r.out.slice(0, 3000)}`;
    expect(r.out, ctx).toMatch(pattern(message));
    expect(r.code, ctx).toBe(e!.exit);
    if (e!.hint !== undefined) expect(r.out.split("\n").filter((l) => l.startsWith("  hint: ")).map((l) => l.slice(8)), ctx).toContainEqual(expect.stringMatching(new RegExp(`^${pattern(e!.hint).source}$`)));
    expect(r.out, ctx).not.toMatch(/internal error|\n\s+at /);
  });
});
