/**
 * Rendering of the sbatch script of one array chunk, plus SLURM time helpers.
 * PURE: strings in, a string out. Every value that reaches a shell word is quoted by
 * `shellQuote`; values in `#SBATCH` lines are validated or quoted for sbatch's own parser.
 */
import { CorralError } from "../errors.js";

/**
 * Quotes `s` as one POSIX shell word (single-quote style): the shell gives back exactly `s`,
 * whatever it holds (newlines, `$()`, backticks, quotes, `;`, non-ASCII). Always quotes, even
 * when not needed. Throws for NUL, which no shell word or environment value can hold.
 */
export function shellQuote(s: string): string {
  if (s.includes("\0")) throw new CorralError("E_CONFIG", "a value passed to the shell contains a NUL byte");
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Seconds of a time limit. Numbers are seconds. Strings are SLURM's `--time` formats, where a
 * bare number means minutes: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`; also `90s`, `10m`,
 * `2h`, `1d`. Returns `Infinity` for `UNLIMITED`/`INFINITE`. Throws CorralError E_CONFIG otherwise.
 */
export function timeToSeconds(t: string | number): number {
  if (typeof t === "number") {
    if (!Number.isFinite(t) || t <= 0) throw new CorralError("E_CONFIG", `time limit must be a positive number of seconds, got ${String(t)}`);
    return Math.ceil(t);
  }
  const s = t.trim();
  if (/^(UNLIMITED|INFINITE)$/i.test(s)) return Infinity;
  const unit = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(s);
  if (unit) {
    const secs = Math.ceil(Number(unit[1]) * UNITS[unit[2]!.toLowerCase()]!);
    if (secs <= 0) throw new CorralError("E_CONFIG", `time limit must be positive, got '${t}'`);
    return secs;
  }
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s);
  if (!m) {
    throw new CorralError("E_CONFIG", `invalid time limit '${t}'`, {
      hint: "use seconds (a number), 90s / 10m / 2h / 1d, or SLURM's M, M:S, H:M:S, D-H, D-H:M, D-H:M:S",
    });
  }
  const [, d, a, b, c] = m;
  const n = (x: string | undefined): number => (x === undefined ? 0 : Number(x));
  let secs: number;
  if (d !== undefined) {
    // D-H, D-H:M, D-H:M:S
    secs = n(d) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
  } else if (c !== undefined) {
    secs = n(a) * 3600 + n(b) * 60 + n(c);
  } else {
    // M or M:S
    secs = n(a) * 60 + n(b);
  }
  // SLURM reads --time=0 as "no limit": refuse it rather than silently lift the limit.
  if (secs <= 0) throw new CorralError("E_CONFIG", `time limit must be positive, got '${t}'`);
  return secs;
}

/** `HH:MM:SS`, or `D-HH:MM:SS` from one day on; whole seconds, rounded up. `UNLIMITED` for Infinity. */
export function secondsToSlurmTime(seconds: number): string {
  if (seconds === Infinity) return "UNLIMITED";
  if (!Number.isFinite(seconds) || seconds < 0) throw new CorralError("E_CONFIG", `invalid number of seconds: ${String(seconds)}`);
  const total = Math.ceil(seconds);
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const p = (x: number): string => String(x).padStart(2, "0");
  return `${days > 0 ? `${days}-` : ""}${p(h)}:${p(m)}:${p(s)}`;
}

/** Everything one chunk's batch script needs; absolute paths throughout. */
export interface SbatchOptions {
  /** Job name; characters other than `A-Za-z0-9._-` become `_`. */
  jobName: string;
  /** Absolute `<sweep>/.slurm` folder: scheduler logs and batch files live here. */
  slurmDir: string;
  /** Chunk number (from `packBatches`), used in the batch file names. */
  chunk: number;
  /** Array tasks in this chunk: renders `--array=0-(tasks-1)`. */
  tasks: number;
  /** At most this many tasks run at once (`%throttle`). */
  throttle?: number;
  partition?: string;
  /** Seconds (number) or a SLURM time string; rendered as `HH:MM:SS` / `D-HH:MM:SS`. */
  time?: number | string;
  /** Memory per node, SLURM syntax (`4G`, `500M`) or a number of MB. Exclusive with `memPerCpu`. */
  mem?: string | number;
  /** Memory per CPU, as `mem`. */
  memPerCpu?: string | number;
  cpusPerTask?: number;
  /** Whole GPUs per task: renders `--gres=gpu:N` (`gpu:<gpuType>:N` with a type). Exclusive with `gres`. */
  gpus?: number;
  gpuType?: string;
  /** Raw `--gres` value, e.g. `gpu:a100:2,shard:1`. */
  gres?: string;
  nodes?: number;
  constraint?: string;
  account?: string;
  qos?: string;
  /** Working directory of the batch script (`--chdir`). */
  chdir?: string;
  /** Seconds before the time limit at which the batch shell gets SIGUSR1 (`--signal=B:USR1@N`). */
  signalGraceS?: number;
  /** true: `--requeue`, false: `--no-requeue`, undefined: the cluster's default. */
  requeue?: boolean;
  /** Extra sbatch options, one `#SBATCH` line each; each must start with `-` and hold no newline. */
  sbatchArgs?: string[];
  /** The user's own shell lines, verbatim (module load, conda activate, ...). */
  setup?: string[];
  /** Exported before the worker starts; values are shell-quoted. */
  env?: Record<string, string>;
  /**
   * The Node.js that runs the worker (`launcher.nodejs`): an absolute path, or a command name
   * looked up on PATH in the job after the setup lines. The script checks it (present, Node 20 or
   * newer) before starting the worker.
   */
  nodePath: string;
  /** How messages name the runtime setting, e.g. `node (the default: ...)`. @default nodePath */
  nodejsNote?: string;
  /**
   * Where a worker that cannot start (runtime missing or too old) leaves its reason: the task's
   * batch file name plus this suffix. Array scripts only; without it the reason goes to stderr.
   */
  noStartSuffix?: string;
  /**
   * Renders a doctor probe instead of a worker: one task that runs the setup lines, then writes
   * `key=value` lines to `report` (host, runtime and version, `marker`'s content, container
   * runtimes and GPUs seen).
   */
  probe?: { report: string; marker: string };
  /** Put before the worker's command line (`CORRAL_WORKER_PREFIX`: strace, valgrind); each word quoted. */
  workerPrefix?: readonly string[];
  /** Absolute path of the worker entry script. */
  workerScript: string;
  /**
   * Replaces the worker line: the script ends with `exec` of this argv (each word shell-quoted)
   * and is not an array (`tasks` must be 1). Used by the single-allocation pipeline mode, where
   * one job runs a whole `corral flow` with the local launcher.
   */
  exec?: string[];
}

/** The batch file of one task: `<slurmDir>/batch-<chunk>-<task>.json`. */
export function batchFilePath(slurmDir: string, chunk: number, task: number): string {
  return `${slurmDir.replace(/\/+$/, "")}/batch-${chunk}-${task}.json`;
}

const SAFE_DIRECTIVE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * A value for an `#SBATCH` line. sbatch splits these lines at blanks and honours double quotes
 * and backslash escapes, so anything outside a safe set is double-quoted with `\` and `"` escaped.
 */
export function directiveValue(name: string, v: string): string {
  if (v === "" || /[\n\r\0]/.test(v)) throw new CorralError("E_CONFIG", `${name} must be a non-empty single line, got ${JSON.stringify(v)}`);
  return SAFE_DIRECTIVE.test(v) ? v : `"${v.replace(/[\\"]/g, "\\$&")}"`;
}

/** A word value (partition, account, ...): no blanks, quotes or shell characters. */
function word(name: string, v: string, extra = ""): string {
  const re = new RegExp(`^[A-Za-z0-9_.:+@${extra}-]+$`);
  if (!re.test(v)) throw new CorralError("E_CONFIG", `invalid ${name} ${JSON.stringify(v)}`, { hint: `${name} may only hold letters, digits and _.:+@-${extra.replace(/\\/g, "")}` });
  return v;
}

function posInt(name: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) throw new CorralError("E_CONFIG", `${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function memory(name: string, v: string | number): string {
  if (typeof v === "number") return `${posInt(name, v)}M`;
  if (!/^\d+[KMGT]?$/i.test(v.trim())) throw new CorralError("E_CONFIG", `invalid ${name} '${v}'`, { hint: "use a number of MB or SLURM's syntax: 500M, 4G" });
  return v.trim().toUpperCase();
}

function absPath(name: string, p: string): string {
  if (!p.startsWith("/")) throw new CorralError("E_CONFIG", `${name} must be an absolute path, got ${JSON.stringify(p)}`);
  return p;
}

/**
 * Renders the batch script of one array chunk: `#SBATCH` directives, the setup lines, the
 * exported environment, then `exec <node> <worker> <slurmDir>/batch-<chunk>-$SLURM_ARRAY_TASK_ID.json`.
 * Output is deterministic (env in the order given). Throws CorralError E_CONFIG on invalid values.
 */
export function renderSbatch(opts: SbatchOptions): string {
  const slurmDir = absPath("slurmDir", opts.slurmDir).replace(/\/+$/, "");
  const d: string[] = [];
  const add = (opt: string, value?: string): void => {
    d.push(value === undefined ? `#SBATCH ${opt}` : `#SBATCH ${opt}=${value}`);
  };

  const name = opts.jobName.replace(/[^A-Za-z0-9._-]/g, "_") || "corral";
  add("--job-name", name);
  if (opts.partition !== undefined) add("--partition", word("partition", opts.partition, ","));
  if (opts.time !== undefined) {
    const secs = timeToSeconds(opts.time);
    add("--time", secondsToSlurmTime(secs));
  }
  if (opts.mem !== undefined && opts.memPerCpu !== undefined) throw new CorralError("E_CONFIG", "mem and mem_per_cpu cannot both be set (SLURM refuses the pair)");
  if (opts.mem !== undefined) add("--mem", memory("mem", opts.mem));
  if (opts.memPerCpu !== undefined) add("--mem-per-cpu", memory("mem_per_cpu", opts.memPerCpu));
  if (opts.cpusPerTask !== undefined) add("--cpus-per-task", String(posInt("cpus_per_task", opts.cpusPerTask)));
  if (opts.gpus !== undefined && opts.gres !== undefined) throw new CorralError("E_CONFIG", "gpus and gres cannot both be set; put the GPUs into gres");
  if (opts.gpus !== undefined && opts.gpus > 0) {
    const n = posInt("gpus", opts.gpus);
    add("--gres", opts.gpuType === undefined ? `gpu:${n}` : `gpu:${word("gpu type", opts.gpuType)}:${n}`);
  }
  if (opts.gres !== undefined) add("--gres", word("gres", opts.gres, ","));
  if (opts.nodes !== undefined) add("--nodes", String(posInt("nodes", opts.nodes)));
  if (opts.constraint !== undefined) add("--constraint", directiveValue("constraint", opts.constraint));
  if (opts.account !== undefined) add("--account", word("account", opts.account));
  if (opts.qos !== undefined) add("--qos", word("qos", opts.qos));
  if (opts.chdir !== undefined) add("--chdir", directiveValue("chdir", absPath("chdir", opts.chdir)));

  const tasks = posInt("tasks", opts.tasks);
  const chunk = posInt("chunk", opts.chunk, 0);
  const throttle = opts.throttle === undefined ? "" : `%${posInt("throttle", opts.throttle)}`;
  if (opts.exec || opts.probe) {
    if (tasks !== 1) throw new CorralError("E_CONFIG", "a single-command batch script has exactly one task");
    add("--output", directiveValue("output", `${slurmDir}/%j.out`));
    add("--error", directiveValue("error", `${slurmDir}/%j.err`));
  } else {
    add("--array", `0-${tasks - 1}${throttle}`);
    // %A = array job id, %a = task id; append so a requeued task keeps its first attempt's output.
    add("--output", directiveValue("output", `${slurmDir}/%A_%a.out`));
    add("--error", directiveValue("error", `${slurmDir}/%A_%a.err`));
  }
  add("--open-mode", "append");
  // B: sends the signal to the batch shell (and so to the worker); without it only srun steps get it.
  if (opts.signalGraceS !== undefined) add("--signal", `B:USR1@${posInt("signal grace", opts.signalGraceS)}`);
  if (opts.requeue === true) add("--requeue");
  if (opts.requeue === false) add("--no-requeue");
  for (const a of opts.sbatchArgs ?? []) {
    if (!a.startsWith("-") || /[\n\r\0]/.test(a)) {
      throw new CorralError("E_CONFIG", `invalid sbatch argument ${JSON.stringify(a)}`, { hint: "each sbatch_args entry is one option such as --exclusive or --mail-type=END, on one line" });
    }
    d.push(`#SBATCH ${a}`);
  }

  if (opts.exec && opts.exec.length === 0) throw new CorralError("E_CONFIG", "exec needs a command");
  const body: string[] = [];
  const batchPrefix = shellQuote(`${slurmDir}/batch-${chunk}-`);
  const nodePath = nodejsValue(opts.nodePath);
  const setupCount = (opts.setup ?? []).length;
  if (opts.probe) {
    if (opts.exec) throw new CorralError("E_CONFIG", "a probe script runs no command");
    body.push(...renderFindNode(nodePath, opts.nodejsNote ?? nodePath));
    body.push(...renderProbe(opts));
    return ["#!/bin/bash", ...d, "", "# Generated by corral doctor --probe: reports what a job sees on its compute node.", ...body, ""].join("\n");
  }
  body.push(...renderFindNode(nodePath, opts.nodejsNote ?? nodePath));
  const record = opts.exec || opts.noStartSuffix === undefined ? undefined : `${batchPrefix}"\${SLURM_ARRAY_TASK_ID}"${shellQuote(`.json${opts.noStartSuffix}`)}`;
  body.push(
    // The reason goes where the head reads it (array tasks), else to the job's output log too.
    `__corral_no_worker() { __corral_why="corral: the worker could not start on \${SLURMD_NODENAME:-$HOSTNAME}: $__corral_why (launcher.nodejs: $__corral_nodejs_note; PATH=$PATH; ${setupCount === 0 ? "no launcher.setup lines" : `after ${setupCount} launcher.setup line${setupCount === 1 ? "" : "s"}`})\${${SETUP_FAILED_ENV}:+; $${SETUP_FAILED_ENV}}"; printf '%s\\n' "$__corral_why" >&2; printf '%s\\n' "$__corral_why"${record ? ` > ${record}` : ""}; exit 127; }`,
  );
  const rest = opts.exec && opts.exec[0] === opts.nodePath ? opts.exec.slice(1) : opts.exec;
  const workerLine = opts.exec
    ? `exec ${rest === opts.exec ? "" : '"$__corral_node" '}${rest!.map(shellQuote).join(" ")}`
    : `exec ${(opts.workerPrefix ?? []).map((w) => `${shellQuote(w)} `).join("")}"$__corral_node" ${shellQuote(absPath("workerScript", opts.workerScript))} ${batchPrefix}"\${SLURM_ARRAY_TASK_ID}"'.json'`;
  // A single command that is not the Node.js runtime (a test's stand-in) starts unchecked.
  const checked = !opts.exec || rest !== opts.exec;
  body.push(`__corral_worker() { ${checked ? "__corral_find_node || __corral_no_worker; " : ""}${workerLine}; }`);
  // A failed setup line ends a single-command job with its exit code; an array task still
  // starts the worker, which records every run of the batch failed with the line.
  body.push(...renderSetup(opts.setup ?? [], opts.exec ? 'exit "$2"' : "__corral_worker"));
  const env = Object.entries(opts.env ?? {});
  if (env.length > 0) {
    body.push("# environment");
    for (const [k, v] of env) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new CorralError("E_CONFIG", `invalid environment variable name ${JSON.stringify(k)}`);
      body.push(`export ${k}=${shellQuote(v)}`);
    }
  }
  if (opts.exec) {
    body.push("__corral_worker");
    return ["#!/bin/bash", ...d, "", "# Generated by corral; one job runs the whole command.", ...body, ""].join("\n");
  }
  body.push("__corral_worker");

  return ["#!/bin/bash", ...d, "", "# Generated by corral; one array task = one batch of runs.", ...body, ""].join("\n");
}

/** The oldest Node.js major version the worker runs on. */
export const MIN_NODE_MAJOR = 20;

/**
 * A `launcher.nodejs` value: an absolute path, or a command name (letters, digits, `._+-`, not
 * starting with `-`) looked up on PATH in the job. Throws CorralError E_CONFIG otherwise.
 */
export function nodejsValue(v: string): string {
  if (/[\n\r\0]/.test(v) || !(v.startsWith("/") || /^[A-Za-z0-9._+][A-Za-z0-9._+-]*$/.test(v))) {
    throw new CorralError("E_CONFIG", `launcher.nodejs must be an absolute path or a command name on PATH (such as node), got ${JSON.stringify(v)}`, {
      hint: "give the full path of the node binary on the compute nodes, or `node` to use the one on PATH after launcher.setup",
    });
  }
  return v;
}

/**
 * `__corral_find_node`: resolves the runtime (an absolute path as it is, a name through PATH),
 * asks it its version, and returns 0 with `__corral_node` and `__corral_nodev` set, or 1 with
 * `__corral_why` saying what is wrong (missing, not running, older than Node 20). The value is
 * only ever a quoted word: it is never run as code, only as the program it names.
 */
function renderFindNode(nodePath: string, note: string): string[] {
  return [
    `# worker runtime (launcher.nodejs): checked before the worker starts; Node ${MIN_NODE_MAJOR} or newer`,
    `__corral_nodejs=${shellQuote(nodePath)}`,
    `__corral_nodejs_note=${shellQuote(note)}`,
    "__corral_find_node() {",
    '  case $__corral_nodejs in',
    '    /*) __corral_node=$__corral_nodejs; if [ ! -f "$__corral_node" ] || [ ! -x "$__corral_node" ]; then __corral_why="$__corral_node not found (or not executable)"; return 1; fi ;;',
    '    *) __corral_node=$(type -P -- "$__corral_nodejs") || { __corral_why="$__corral_nodejs not found on PATH"; return 1; } ;;',
    "  esac",
    `  __corral_nodev=$("$__corral_node" -e 'process.stdout.write(process.versions.node)' 2>&1) || { __corral_why="$__corral_node does not run: \${__corral_nodev%%$'\\n'*}"; return 1; }`,
    `  case $__corral_nodev in ''|*[!0-9.]*) __corral_why="$__corral_node did not say its version: \${__corral_nodev%%$'\\n'*}"; return 1 ;; esac`,
    `  if [ "\${__corral_nodev%%.*}" -lt ${MIN_NODE_MAJOR} ]; then __corral_why="$__corral_node is Node $__corral_nodev; the worker needs Node ${MIN_NODE_MAJOR} or newer"; return 1; fi`,
    "}",
  ];
}

/** The probe's body: setup lines (a failure is reported, not fatal), then one `key=value` line per finding. */
function renderProbe(opts: SbatchOptions): string[] {
  const report = shellQuote(absPath("probe report", opts.probe!.report));
  const out = [
    `__corral_report=${report}`,
    `__corral_say() { printf '%s=%s\n' "$1" "$2" >> "$__corral_report"; }`,
    '__corral_say started "$(date +%s)"',
    ...renderSetup(opts.setup ?? [], ":"),
  ];
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new CorralError("E_CONFIG", `invalid environment variable name ${JSON.stringify(k)}`);
    out.push(`export ${k}=${shellQuote(v)}`);
  }
  out.push(
    '__corral_say host "${SLURMD_NODENAME:-$HOSTNAME}"',
    `__corral_say setup_failed "\${${SETUP_FAILED_ENV}:-}"`,
    'if __corral_find_node; then __corral_say node "$__corral_node"; __corral_say node_version "$__corral_nodev"; else __corral_say node_error "$__corral_why"; fi',
    '__corral_say path "$PATH"',
    `__corral_say marker "$(head -c 200 ${shellQuote(absPath("probe marker", opts.probe!.marker))} 2>/dev/null)"`,
    'for __c in ch-run apptainer singularity docker podman; do __p=$(type -P -- "$__c") && __corral_say container "$__c $__p"; done',
    '__corral_say cuda_visible_devices "${CUDA_VISIBLE_DEVICES-unset}"',
    'if type -P nvidia-smi >/dev/null; then nvidia-smi -L 2>&1 | head -n 16 | while IFS= read -r __l; do __corral_say nvidia_smi "$__l"; done; fi',
    "__corral_say done 1",
  );
  return out;
}

/** Set in the worker's environment when a setup line failed: the message, for every run's record. */
export const SETUP_FAILED_ENV = "CORRAL_SETUP_FAILED";

/**
 * The shell lines that run the user's setup lines in the job's own shell (so `source`, `export`
 * and `module load` still reach the worker and its runs), each through `eval` so that its exit
 * status is its own whatever it holds (`;`, `#` comments). The first line that fails prints
 * `corral: setup line N failed (exit X): <line>` on stderr, exports it as `CORRAL_SETUP_FAILED`
 * and runs `onFailure` (which sees the line number as $1 and the exit status as $2); no later
 * line runs. A line ending with `\` continues on the next. Empty list: no lines.
 */
export function renderSetup(setup: readonly string[], onFailure: string): string[] {
  // [line number (1-based, of its first physical line), text]
  const joined: Array<[number, string]> = [];
  let cont: [number, string] | undefined;
  setup.forEach((l, i) => {
    const cur: [number, string] = cont ? [cont[0], `${cont[1]}\n${l}`] : [i + 1, l];
    cont = /(^|[^\\])(\\\\)*\\$/.test(cur[1]) ? cur : undefined;
    if (!cont) joined.push(cur);
  });
  if (cont) joined.push(cont);
  if (joined.length === 0) return [];
  const out = [
    "# setup (from the profile): each line runs in this shell; the first that fails stops the job",
    `__corral_setup_failed() { ${SETUP_FAILED_ENV}="corral: setup line $1 failed (exit $2): $3"; export ${SETUP_FAILED_ENV}; printf '%s\\n' "$${SETUP_FAILED_ENV}" >&2; ${onFailure}; }`,
  ];
  for (const [n, line] of joined) {
    const q = shellQuote(line);
    out.push(`eval ${q} || __corral_setup_failed ${n} "$?" ${q}`);
  }
  return out;
}
