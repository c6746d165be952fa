/**
 * The schema of a project file (`corral.yaml` or `corral.config.ts`). Strict: an unknown key is
 * an error, never silently ignored. Three types come out of it (STYLE.md #7): `UserConfig` (what
 * a user writes, everything optional), `ProjectConfig` (defaults applied, normalised: commands
 * split into argv, durations in seconds, sweeps as a list of grids).
 *
 * Messages set here read as the tail of a sentence whose subject is the dotted key:
 * `launcher.gpus` + ` must be a non-negative number`. `describeIssues` turns zod's issues into
 * such sentences; it never exposes a raw zod dump.
 */
import { z } from "zod";
import { countOf, didYouMean } from "../errors.js";
import type { DefaultsEntry } from "../plan/compose.js";
import { ConfigFloat } from "../plan/float.js";
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import type { PathSpec, RuleFn } from "../plan/dag.js";

// ---------------------------------------------------------------------------------------------
// Small pure helpers (exported: the CLI and launchers reuse them)

/**
 * Split a command line into argv the way a POSIX shell splits words, without running a shell:
 * whitespace separates words, `'...'` is literal, `"..."` allows `\"`, `\\`, `\$` and `` \` ``
 * escapes, and a backslash outside quotes escapes the next character. Unquoted shell operators
 * (`| & ; < >` and backticks) are rejected: no shell would interpret them, so they are a mistake.
 * @throws Error with a one-line reason (the caller turns it into a located config error).
 */
export function splitCommand(line: string): string[] {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      if (inWord) argv.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' quote at character ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated " quote`);
        const c = line[i]!;
        if (c === '"') break;
        if (c === "\\" && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) {
          // A backslash-newline inside double quotes is a line continuation in sh.
          if (line[i + 1] !== "\n") word += line[i + 1];
          i += 2;
        } else {
          word += c;
          i++;
        }
      }
      i++;
    } else if (ch === "\\") {
      if (i + 1 >= line.length) throw new Error("trailing backslash");
      if (line[i + 1] !== "\n") {
        word += line[i + 1];
        inWord = true;
      }
      i += 2;
    } else if ("|&;<>`".includes(ch)) {
      throw new Error(
        `contains the shell operator '${ch}'; commands run without a shell: quote it, or use a list such as ["sh", "-c", "..."]`,
      );
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  if (inWord) argv.push(word);
  return argv;
}

/**
 * A duration in seconds. A number is seconds. A string is `90s`, `10m`, `1h30m`, `1.5h`, `2d`,
 * `1d12h`, or one of SLURM's `--time` forms, read as SLURM reads them (so a bare `"60"` is
 * minutes, as in `sbatch --time=60`): `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
 * Returns undefined for anything else. Agrees with `timeToSeconds` in plan/sbatch.ts.
 */
export function parseDuration(v: number | string): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  const s = v.trim();
  const units = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/i.exec(s);
  if (units && /[a-z]$/i.test(s)) {
    const [, d, h, m, sec] = units;
    return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(sec ?? 0);
  }
  const clock = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s);
  if (!clock) return undefined;
  const [, d, a, b, c] = clock;
  if (d !== undefined) return Number(d) * 86400 + Number(a) * 3600 + Number(b ?? 0) * 60 + Number(c ?? 0); // D-H[:M[:S]]
  if (c !== undefined) return Number(a) * 3600 + Number(b) * 60 + Number(c); // H:M:S
  return Number(a) * 60 + Number(b ?? 0); // M or M:S
}

/**
 * True for values a YAML/JSON config can hold (no functions, class instances, undefined, NaN);
 * a whole-valued YAML float (ConfigFloat, plan/float.ts) is one.
 */
export function isConfigValue(v: unknown): v is ConfigValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || v instanceof ConfigFloat) return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isConfigValue);
  return isConfigMap(v);
}

/** True for a plain object whose values are all config values. */
export function isConfigMap(v: unknown): v is ConfigMap {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every(isConfigValue);
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/**
 * A schema-level message that leaves a missing value to the shared "is required" wording (and
 * an unknown key to the did-you-mean one): zod applies a schema's own error to all its issues.
 */
const te =
  (message: string) =>
  (iss: { code: string; input?: unknown }): string | undefined =>
    iss.input === undefined || iss.code === "unrecognized_keys" ? undefined : message;

const NON_NEG_NUMBER = "must be a non-negative number";
const NON_NEG_INT = "must be a non-negative integer";
const POS_INT = "must be a positive integer";
const DURATION = "must be a number of seconds or a duration such as '90s', '1h30m' or '01:30:00'";
const POS_DURATION = "must be a positive number of seconds or a duration such as '90s', '1h30m' or '01:30:00'";
const MEM = "must be a memory size such as '4G' or '500M' (a bare number means megabytes)";

const nonNegNumber = () => z.number({ error: te(NON_NEG_NUMBER) }).min(0, { error: te(NON_NEG_NUMBER) });
const nonNegInt = () => z.int({ error: te(NON_NEG_INT) }).min(0, { error: te(NON_NEG_INT) });
const posInt = () => z.int({ error: te(POS_INT) }).min(1, { error: te(POS_INT) });
const stringList = () => z.array(z.string({ error: te("must be a string") }), { error: te("must be a list of strings") });

/**
 * Seconds, from a number or a duration string; normalised to a number. `positive` for time
 * limits, where SLURM reads 0 as "no limit".
 */
const duration = (positive = false) => {
  const msg = positive ? POS_DURATION : DURATION;
  return z.union([z.number(), z.string()], { error: te(msg) }).transform((v, ctx) => {
    const s = parseDuration(v);
    if (s === undefined || (positive && s <= 0)) {
      ctx.issues.push({ code: "custom", message: msg, input: v });
      return z.NEVER;
    }
    return s;
  });
};

/** `4G`, `500M`, `1.5T`, `4GB`, `4GiB`; a bare number is megabytes (SLURM's default unit). */
const memSize = () =>
  z.union([z.number(), z.string()], { error: te(MEM) }).transform((v, ctx) => {
    if (typeof v === "number") {
      if (Number.isFinite(v) && v >= 0) return `${v}M`;
    } else if (/^\d+(\.\d+)?\s*([KMGTP](i?B)?)?$/i.test(v.trim())) {
      return v.trim().replace(/\s+/g, "");
    }
    ctx.issues.push({ code: "custom", message: MEM, input: v });
    return z.NEVER;
  });

/** Environment variables; YAML numbers and booleans are accepted and turned into strings. */
const envMap = () =>
  z.record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], { error: te("must be a string (environment variable value)") }).transform(String),
    { error: te("must be a map of variable names to values") },
  );

/** GPU ids such as `0`, `1` or `GPU-3b2c...` (UUIDs); numbers become strings. */
const idList = () =>
  z.array(z.union([z.string(), z.int()], { error: te("must be a GPU id (number or string)") }).transform(String), {
    error: te("must be a list of GPU ids"),
  });

/** Shell lines: a list, or one string (split into lines). */
const lines = () =>
  z
    .union([z.string(), z.array(z.string())], { error: te("must be a list of shell lines") })
    .transform((v) => (typeof v === "string" ? v.split("\n").filter((l) => l.trim() !== "") : v));

const COMMAND = "must be a command line string or a list of arguments";
/** A command: a string split shell-like into argv (never run through a shell), or argv. */
const command = () =>
  z.union([z.string(), z.array(z.string())], { error: te(COMMAND) }).transform((v, ctx) => {
    let argv: string[];
    if (typeof v === "string") {
      try {
        argv = splitCommand(v);
      } catch (e) {
        ctx.issues.push({ code: "custom", message: `is not a valid command: ${(e as Error).message}`, input: v });
        return z.NEVER;
      }
    } else {
      argv = v;
    }
    if (argv.length === 0 || argv[0] === "") {
      ctx.issues.push({ code: "custom", message: "must not be empty", input: v });
      return z.NEVER;
    }
    return argv;
  });

const configMap = () =>
  z.custom<ConfigMap>(isConfigMap, {
    error: te("must be a map of plain values (strings, numbers, booleans, null, lists and maps)"),
  });

const configValue = () =>
  z.custom<ConfigValue>(isConfigValue, {
    error: te("must be a plain value (string, number, boolean, null, list or map)"),
  });

// ---------------------------------------------------------------------------------------------
// Sections

/** Per-run resources: what one run needs from its share of the machine or allocation. */
export const resourcesSchema = z.strictObject(
  {
    /** CPU cores per run (also sets `OMP_NUM_THREADS`). @default undefined (no limit / launcher default) */
    cpus: nonNegNumber().optional(),
    /** GPUs per run; fractions pack several runs onto one GPU (`0.25` = four per GPU). @default 0 */
    gpus: nonNegNumber().optional(),
    /** Memory per run such as `"4G"`; a bare number is megabytes. @default undefined */
    mem: memSize().optional(),
    /** Wall-clock limit per run: seconds or `"1h30m"`, `"90s"`, `"HH:MM:SS"`; normalised to seconds. @default undefined (none) */
    timeout: duration(true).optional(),
    /**
     * Expected run time (seconds or a duration): a worker does not start a run that cannot finish
     * before its allocation ends (minus `launcher.signal_grace`), leaving it for the next job.
     * @default undefined (the median duration of the batch's finished runs, once there is one)
     */
    estimate: duration(true).optional(),
  },
  { error: te("must be a map such as {cpus: 2, gpus: 1, mem: 8G}") },
);

/**
 * Snakemake's `slurm_extra` as users write it (`"'--gres=gpu:1 --qos=high'"`, quoted for
 * Snakemake's Python evaluation): one level of surrounding quotes is stripped, then the text is
 * split into words as a shell would (without running one). A list gives the words as they are.
 * @throws Error with a one-line reason.
 */
export function slurmExtraWords(v: string | readonly string[]): string[] {
  if (typeof v !== "string") return [...v];
  let s = v.trim();
  const q = s[0];
  if (s.length >= 2 && (q === "'" || q === '"') && s.endsWith(q) && !s.slice(1, -1).includes(q)) s = s.slice(1, -1);
  return splitCommand(s);
}

/**
 * A pipeline rule's resources: the run resources plus the scheduler settings of its jobs
 * (SLURM's request; the local launcher ignores them), and whether its jobs run on the head's
 * machine.
 */
export const ruleResourcesSchema = resourcesSchema.extend({
  /** SLURM `--partition` of this rule's jobs (overrides `launcher.partition`). @default the launcher's */
  partition: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** SLURM `--account`. @default the launcher's */
  account: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** SLURM `--qos`. @default the launcher's */
  qos: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** SLURM `--constraint`, e.g. `"a100|h100"`. @default the launcher's */
  constraint: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** SLURM `--gres` of each job, e.g. `gpu:a100:1`; the job's GPU count when `gpus` is unset. @default the launcher's */
  gres: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** SLURM `--nodes`; a pipeline job runs on one node, so only 1. @default the launcher's */
  nodes: posInt().optional(),
  /**
   * More sbatch flags for this rule's jobs, as Snakemake's `slurm_extra`: a string split like a
   * shell would (one level of surrounding quotes stripped, so `"'--gres=gpu:1'"` works), or a list
   * of flags. @default []
   */
  slurm_extra: z
    .union([z.string(), z.array(z.string())], { error: te("must be a string of sbatch flags or a list of flags") })
    .transform((v, ctx) => {
      try {
        return slurmExtraWords(v);
      } catch (e) {
        ctx.issues.push({ code: "custom", message: (e as Error).message, input: v });
        return z.NEVER;
      }
    })
    .optional(),
  /** Snakemake's name for `partition` (as its SLURM profiles write it). */
  slurm_partition: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** Snakemake's name for `account`. */
  slurm_account: z.string().min(1, { error: te("must not be empty") }).optional(),
}).transform(({ slurm_partition, slurm_account, ...r }, ctx) => {
  // Snakemake's names are the same keys, so precedence (set_resources over the rule) holds.
  for (const [alias, key, v] of [["slurm_partition", "partition", slurm_partition], ["slurm_account", "account", slurm_account]] as const) {
    if (v === undefined) continue;
    if (r[key] !== undefined) ctx.issues.push({ code: "custom", message: `sets both ${key} and ${alias} (Snakemake's name for it); give one`, input: v, path: [alias] });
    else r[key] = v;
  }
  return r;
});

/** Resources as a rule function may return them (before normalisation). */
export type RuleResourcesInput = z.input<typeof ruleResourcesSchema>;

/** A rule's resources with some values computed per job: checked when the DAG is built. */
const resourcesWithFunctions = () =>
  z.custom<{ [K in keyof RuleResourcesInput]?: RuleResourcesInput[K] | RuleFn<RuleResourcesInput[K]> }>(
    (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).some((x) => typeof x === "function"),
    { error: NOT_A_FUNCTION },
  );

/** A YAML rule's resources with `${key}` values of the flow's config: checked once interpolated. */
const resourcesInterpolated = () =>
  z.custom<Record<string, string | number>>(
    (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).some((x) => typeof x === "string" && x.includes("${")),
    { error: NOT_A_FUNCTION },
  );

const RUNTIMES = ["charliecloud", "apptainer", "singularity", "podman", "docker"] as const;

const containerShape = {
  /** Container runtime: `charliecloud` (`ch-run`), `apptainer`, `singularity`, `podman` or `docker`. */
  runtime: z.enum(RUNTIMES),
  /** Image: a path (Charliecloud folder, `.sif`) or a registry reference, per runtime. */
  image: z.string().min(1, { error: te("must not be empty") }).optional(),
  /** Bind mounts, `"src:dst"` or `"path"` (same path inside). @default [] */
  binds: stringList().optional(),
  /** Environment variables set inside the container. @default {} */
  env: envMap().optional(),
  /** Pass the run's GPUs into the container. @default false */
  gpu: z.boolean().optional(),
  /** Working directory inside the container. @default the run's working directory */
  workdir: z.string().optional(),
  /** Extra runtime options, placed before the image. @default [] */
  options: stringList().optional(),
  /**
   * Full wrapper template instead of the built-in per-runtime one; `{command}` is replaced by the
   * run's (quoted) command. @default undefined
   */
  wrap: z
    .string()
    .refine((s) => s.includes("{command}"), { error: te("must contain the placeholder {command}") })
    .optional(),
};

/** A container a run (or rule) executes in. Needs `image` unless `wrap` is given. */
export const containerSchema = z
  .strictObject(containerShape, { error: te("must be a map such as {runtime: apptainer, image: img.sif}") })
  .superRefine((c, ctx) => {
    if (c.image === undefined && c.wrap === undefined) {
      ctx.issues.push({ code: "custom", message: "needs an 'image' (or a 'wrap' template)", input: c, path: [] });
    }
  });

/** In a profile every container key is optional: it patches the project's container. */
const containerPatchSchema = z.strictObject(
  { ...containerShape, runtime: containerShape.runtime.optional() },
  { error: te("must be a map of container settings") },
);

const LAUNCHER_TYPES = ["local", "slurm"] as const;

/** Launcher keys without defaults (shared by the project launcher and profile patches). */
const launcherCommonShape = {
  /** Local launcher: runs at once (the `-j` flag). @default the number of GPUs, else of CPU cores */
  jobs: posInt().optional(),
  /** Local launcher: the GPU ids it may hand out, instead of detecting them. @default detected */
  gpus_available: idList().optional(),
  /** Seconds between starting two runs in one batch (eases file system load). @default 0 */
  stagger: duration().optional(),
  /** SLURM `--partition`. @default the cluster's default partition */
  partition: z.string().optional(),
  /** SLURM `--time` per job, as a duration; normalised to seconds. @default from `resources.timeout` x runs */
  time: duration(true).optional(),
  /** SLURM `--mem` per node, e.g. `"32G"`. @default derived from `resources.mem` */
  mem: memSize().optional(),
  /** SLURM `--mem-per-cpu`. @default undefined */
  mem_per_cpu: memSize().optional(),
  /** SLURM `--cpus-per-task`. @default derived from `resources.cpus` x `parallel` */
  cpus_per_task: posInt().optional(),
  /** SLURM `--gpus`: a count or `"type:count"`. @default derived from `resources.gpus` x `parallel` */
  gpus: z.union([nonNegInt(), z.string()], { error: te("must be a GPU count or 'type:count'") }).optional(),
  /** SLURM `--gres`, e.g. `"gpu:a100:2"`. @default undefined */
  gres: z.string().optional(),
  /** SLURM `--nodes`. @default 1 */
  nodes: posInt().optional(),
  /**
   * SLURM, with `nodes` > 1: start each run on every node of its job, torchrun style
   * (`MASTER_ADDR`, `MASTER_PORT`, `NODE_RANK`, `WORLD_SIZE`): `srun` (one process per node),
   * `torchrun` (one torchrun per node), or `ray` (a Ray head and workers, then the command once).
   * One run per job at a time. See docs/multinode.md. @default undefined (the command runs once, on the first node)
   */
  multinode: z.enum(["srun", "torchrun", "ray"], { error: te("must be one of srun, torchrun, ray") }).optional(),
  /** `multinode: torchrun`: processes per node (`--nproc-per-node`, usually the GPUs per node). @default 1 */
  procs_per_node: posInt().optional(),
  /** SLURM `--constraint`. @default undefined */
  constraint: z.string().optional(),
  /** SLURM `--account`. @default undefined */
  account: z.string().optional(),
  /** SLURM `--qos`. @default undefined */
  qos: z.string().optional(),
  /** SLURM `--job-name`. @default the project name */
  job_name: z.string().optional(),
  /** Extra `sbatch` arguments, verbatim. @default [] */
  sbatch_args: stringList().optional(),
  /** Shell lines run in the job before the worker starts (module load, venv activation). @default [] */
  setup: lines().optional(),
  /**
   * SLURM: the Node.js that runs Corral's worker in each job: an absolute path on the compute
   * nodes, or a command name (`node`) looked up on PATH in the job after `setup`. The job checks
   * it (present, Node 20 or newer) before starting the worker; a job without it fails its runs
   * with the reason. @default this Node when it lies on the project folder's (or another shared) file system, else `node` from PATH
   */
  nodejs: z
    .string()
    .refine((v) => !/[\n\r\0]/.test(v) && (v.startsWith("/") || /^[A-Za-z0-9._+][A-Za-z0-9._+-]*$/.test(v)), { error: te("must be an absolute path or a command name on PATH, such as node") })
    .optional(),
  /** Environment variables for the job and its runs. @default {} */
  env: envMap().optional(),
  /** SLURM: runs per job (or array element) in all; the rest of a sweep goes to further elements. @default parallel */
  per_job: posInt().optional(),
  /** SLURM: runs at once inside one job (packing). @default 1 */
  parallel: posInt().optional(),
  /** SLURM: at most this many array elements at once (`--array=...%N`). @default unlimited */
  array_throttle: posInt().optional(),
  /** SLURM: run the batches locally through the worker instead of submitting (debugging). @default false */
  debug: z.boolean().optional(),
  /** Worker: the CPU ids it may pin runs to. @default the allocation's (affinity mask) */
  cpu_ids: z.array(nonNegInt(), { error: te("must be a list of CPU ids") }).optional(),
  /** Worker: the GPU ids it may hand out. @default from `CUDA_VISIBLE_DEVICES` / SLURM */
  gpu_ids: idList().optional(),
  /** Print each run's start and end. @default false */
  verbose: z.boolean().optional(),
  /** SLURM: seconds before the time limit at which SLURM signals the job (`--signal=B:USR1@N`). @default 120 */
  signal_grace: duration().optional(),
  /**
   * SLURM: ask the scheduler (`squeue`, `sacct`) at most once per this many seconds per sweep;
   * progress comes from the runs' status files in between. @default 15
   */
  poll_interval: duration().optional(),
  /** Attempts in all for a run stopped from outside (time limit, preemption, node loss); resubmitted automatically. @default 3 */
  max_attempts: posInt().optional(),
  /** Extra attempts for runs that fail (non-zero exit), resubmitted automatically. @default 0 */
  retries: z.int({ error: te("must be a non-negative integer") }).min(0, { error: te("must be a non-negative integer") }).optional(),
  /** SLURM: resource factors per attempt, e.g. `{mem: 2}` doubles `--mem` at each attempt. @default {} */
  retry_scaling: z
    .strictObject({ mem: z.number({ error: te("must be a number >= 1") }).min(1, { error: te("must be a number >= 1") }).optional() }, { error: te("must be a map such as {mem: 2}") })
    .optional(),
};

/** Where and how runs execute. */
export const launcherSchema = z.strictObject(
  {
    /** Where runs execute. @default "local" */
    type: z.enum(LAUNCHER_TYPES).default("local"),
    /** Seconds between SIGTERM and SIGKILL when a run is stopped. @default 10 */
    kill_grace: duration().default(10),
    ...launcherCommonShape,
  },
  { error: te("must be a map such as {type: slurm, partition: gpu}") },
);
const launcherPatchSchema = z.strictObject(
  {
    /** Where runs execute. */
    type: z.enum(LAUNCHER_TYPES).optional(),
    /** Seconds between SIGTERM and SIGKILL when a run is stopped. */
    kill_grace: duration().optional(),
    ...launcherCommonShape,
  },
  { error: te("must be a map of launcher settings") },
);

const DEFAULTS_KEY = /^(?:(?:override|optional)\s+)?[A-Za-z0-9_.\-/]+(?:@[A-Za-z0-9_.-]*)?$/;

/**
 * One entry of a Hydra defaults list: `_self_`, a config path string, or a single-key map
 * `{group: option}`, `{"override group": option}`, `{"optional group": option}`,
 * `{"group@pkg": option}`; the option may be a list (multi-select) or null.
 */
export const defaultsEntrySchema = z.union(
  [
    z.string(),
    z
      .record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.null()], {
          error: te("must be an option name, a list of option names, or null"),
        }),
      )
      .superRefine((m, ctx) => {
        // Hydra 1.0 allowed `optional: true` beside the key; compose.ts accepts it too.
        const keys = Object.keys(m).filter((k) => k !== "optional");
        if (m.optional !== undefined && typeof m.optional !== "boolean") {
          ctx.issues.push({ code: "custom", message: "must be true or false", input: m.optional, path: ["optional"] });
        }
        if (keys.length !== 1) {
          ctx.issues.push({ code: "custom", message: "must be a map with exactly one key, such as {db: mysql}", input: m, path: [] });
        } else if (!DEFAULTS_KEY.test(keys[0]!)) {
          ctx.issues.push({
            code: "custom",
            message: `has an invalid group '${keys[0]}' (expected 'group', 'group@pkg', 'override group' or 'optional group')`,
            input: keys[0],
            path: [],
          });
        } else if (typeof m[keys[0]!] === "boolean") {
          ctx.issues.push({ code: "custom", message: "must be an option name, a list of option names, or null", input: m[keys[0]!], path: [keys[0]!] });
        }
      }),
  ],
  { error: te("must be a config name or a single-key map such as {db: mysql}") },
);
const defaultsListSchema = z.array(defaultsEntrySchema, { error: te("must be a list such as [_self_, {db: mysql}]") });

const SWEEP_VALUE = "must be a list of values, a sweep string such as '1,2,3' or 'range(3)', a single value, or (for a search) a distribution such as {type: float, low: 0, high: 1}";
/** A search's distribution (Hydra's DistributionConfig), checked field by field by plan/search/space.ts. */
const distributionMap = () => z.looseObject({ type: z.string() });
const sweepValue = () =>
  z.union([z.array(configValue()).min(1, { error: te("must not be an empty list (it would sweep over nothing)") }), z.string(), z.number(), z.instanceof(ConfigFloat), z.boolean(), z.null(), distributionMap()], {
    error: te(SWEEP_VALUE),
  });

/**
 * One grid: every key takes each of its values (product over keys). A value is a list, a string
 * in the override sweep grammar (`"1,2,3"`, `"range(3)"`, `"choice(a,b)"`), or one fixed value.
 * `zip` pairs lists element-wise (all the same length) and the pairs join the product as one axis.
 */
export const sweepGridSchema = z
  .object(
    {
      /** Lists taken together, element by element (not a product). All must have the same length. */
      zip: z
        .record(z.string(), z.array(configValue(), { error: te("must be a list (zip pairs lists element by element)") }), {
          error: te("must be a map of keys to equal-length lists"),
        })
        .optional(),
    },
    { error: te("must be a map of keys to values, such as {lr: [0.1, 0.01]}") },
  )
  .catchall(sweepValue())
  .superRefine((g, ctx) => {
    if (!g.zip) return;
    const entries = Object.entries(g.zip);
    const first = entries[0];
    for (const [k, list] of entries.slice(1)) {
      if (first && list.length !== first[1].length) {
        ctx.issues.push({
          code: "custom",
          message: `has ${countOf(list.length, "value")} but zip.${first[0]} has ${first[1].length}; zipped lists must have the same length`,
          input: list,
          path: ["zip", k],
        });
      }
    }
    for (const [k] of entries) {
      if (Object.prototype.hasOwnProperty.call(g, k) && k !== "zip") {
        ctx.issues.push({ code: "custom", message: `is swept both in the grid and in zip`, input: k, path: ["zip", k] });
      }
    }
  });

/** A sweep: one grid, or a list of grids whose runs are concatenated. Normalised to a list. */
export const sweepSchema = z
  .union([sweepGridSchema, z.array(sweepGridSchema)], { error: te("must be a map of keys to values, or a list of such maps") })
  .transform((v) => (Array.isArray(v) ? v : [v]));

/** The message of {@link ruleFn}: a union branch failing with it only says "not a function". */
const NOT_A_FUNCTION = "is not a function";

/**
 * A value computed per job in a TS rule: `({ wildcards, config, attempt }) => value`. Checked to be
 * a function here; what it returns is checked when the DAG is built.
 */
const ruleFn = <T>() => z.custom<RuleFn<T>>((v) => typeof v === "function", { error: NOT_A_FUNCTION });

/** An `expand:` entry of a rule's input: a pattern and the values of some of its placeholders. */
const inputExpand = () =>
  z
    .object({
      /** Pattern; the listed keys are filled in from their values, the others are the job's wildcards. */
      expand: z.string({ error: te("must be a path pattern with {wildcards}") }),
    })
    .catchall(
      z.union([z.array(z.union([z.string(), z.number(), z.boolean()])), z.string(), z.number(), z.boolean()], {
        error: te("must be a list of values (or one value) for this placeholder"),
      }),
    );

const FILES = "must be a path pattern, a list of them, or a map of names to them";
const MARKER_KEYS = ["temp", "protected", "ancient"] as const;
/**
 * Files of a rule: a pattern, a list, or a map of names to pattern(s). An item may be marked as
 * `{temp: pattern}` / `{protected: pattern}` (outputs) or `{ancient: pattern}` (inputs).
 */
const markedPath = () => z.string({ error: te("must be a path pattern") });
const OUTPUT_MARKERS = [z.strictObject({ temp: markedPath() }), z.strictObject({ protected: markedPath() })] as const;
const INPUT_MARKERS = [z.strictObject({ ancient: markedPath() })] as const;
const fileSpec = <T extends readonly [z.ZodType, ...z.ZodType[]]>(kind: "input" | "output", markers: T) => {
  const keys = kind === "output" ? ["temp", "protected"] : ["ancient"];
  const forms = keys.map((k) => `{${k}: pattern}`).join(" or ");
  const marker = z.union(markers, { error: te(`must be a pattern or ${forms}`) });
  const item = z.union([z.string(), marker], { error: te(`must be a pattern or ${forms}`) });
  const named = z.record(z.string(), z.union([item, z.array(item)], { error: te(FILES) }));
  return z.union([z.string(), marker, z.array(item), named], { error: te(FILES) }).superRefine((v, ctx) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return;
    const ks = Object.keys(v as object);
    if (ks.length === 1 && keys.includes(ks[0]!)) return; // a marked file
    for (const k of ks) {
      if (!(MARKER_KEYS as readonly string[]).includes(k)) continue;
      const why = keys.includes(k) ? `name the file otherwise: '${k}' is a file marker` : `'${k}' marks ${k === "ancient" ? "inputs" : "outputs"} only; in ${kind} write a pattern or ${forms}`;
      ctx.issues.push({ code: "custom", message: why, input: v, path: [k] });
    }
  });
};

const INPUTS = "must be a path pattern (or {expand: ...}, {ancient: pattern}), a list of them, a map of names to them, or a function of { wildcards, config, attempt }";
const inputItem = () =>
  z.union([z.string(), ...INPUT_MARKERS, inputExpand(), ruleFn<string | string[]>()], {
    error: te("must be a path pattern, {ancient: pattern}, an {expand: pattern, key: values} map, or a function of the job"),
  });
/** A rule's inputs: as {@link fileSpec}'s, and an item may also be an `expand:` or (TS) a function of the job. */
const inputSpec = () =>
  z
    .union([ruleFn<PathSpec>(), inputItem(), z.array(inputItem()), z.record(z.string(), z.union([inputItem(), z.array(inputItem())], { error: te("must be a path pattern (or {expand: ...}, {ancient: ...}, or a function), or a list of them") }))], {
      error: te(INPUTS),
    })
    .superRefine((v, ctx) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return;
      const ks = Object.keys(v as object);
      if (ks.length === 1 && ks[0] === "ancient") return; // a marked file
      for (const k of ks) {
        if (!(MARKER_KEYS as readonly string[]).includes(k)) continue;
        const why = k === "ancient" ? "name the file otherwise: 'ancient' is a file marker" : `'${k}' marks outputs only; in input write a pattern or {ancient: pattern}`;
        ctx.issues.push({ code: "custom", message: why, input: v, path: [k] });
      }
    });

const regexString = () =>
  z.string({ error: te("must be a regular expression string") }).superRefine((s, ctx) => {
    try {
      new RegExp(s);
    } catch (e) {
      ctx.issues.push({
        code: "custom",
        message: `is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}`,
        input: s,
      });
    }
  });

/** A workflow rule: files in, files out, and how to make the outputs. */
export const ruleSchema = z
  .strictObject(
    {
      /** Input files: pattern(s) with `{wildcards}`, or a map name -> pattern(s). @default [] */
      input: inputSpec().optional(),
      /** Output files: pattern(s) with `{wildcards}`, or a map name -> pattern(s). Required. */
      output: fileSpec("output", OUTPUT_MARKERS),
      params: z
        .union([ruleFn<Record<string, ConfigValue>>(), z.record(z.string(), z.union([configValue(), ruleFn<ConfigValue>()], { error: te("must be a plain value (string, number, boolean, null, list or map) or a function") }))], {
          error: te("must be a map of names to values, or a function of { wildcards, config, attempt }"),
        })
        .optional(),
      /** A shell command line (run by `sh -c`), with `{input}`, `{output}`, `{wildcards.x}`, `{params.x}`; or a function returning one. */
      shell: z.union([z.string(), ruleFn<string>()], { error: te("must be a command line (a string) or a function returning one") }).optional(),
      /** A command run without a shell, as argv (or a string split like `command`); placeholders as in `shell`; or a function returning argv. */
      run: z.union([command(), ruleFn<string[]>()], { error: te("must be a command (argv list or string) or a function returning argv") }).optional(),
      /**
       * Resources of each job of this rule; values (or the whole map) may be functions of
       * `{ wildcards, config, attempt }` (e.g. more memory on a retry), with its scheduler settings
       * (`partition`, `gres`, `slurm_extra`, ...). @default the project's `resources`
       */
      resources: z.union([ruleFn<RuleResourcesInput>(), ruleResourcesSchema, resourcesWithFunctions(), resourcesInterpolated()], { error: te("must be a map such as {cpus: 2, gpus: 1, mem: 8G}, or a function returning one") }).optional(),
      /** Container for this rule's jobs. @default the project's `container` */
      container: containerSchema.optional(),
      /** Attempts after a failure. @default 0 */
      retries: nonNegInt().optional(),
      /** Its jobs run on the head's machine (local launcher) even when the flow runs on SLURM, as `localrules`. @default false */
      local: z.boolean({ error: te("must be true or false") }).optional(),
      /** Regular expression each wildcard value must match (whole value). @default `[^/]+` style: any text */
      wildcard_constraints: z.record(z.string(), regexString(), { error: te("must be a map of wildcard names to regular expressions") }).optional(),
      /** Log file(s) of a job, patterns with the same wildcards as the output. @default the run's stdout.log */
      log: z.union([z.string(), z.record(z.string(), z.string())], { error: te("must be a path pattern or a map of names to patterns") }).optional(),
      /** Higher runs first when several jobs are ready. @default 0 */
      priority: z.int({ error: te("must be an integer") }).optional(),
    },
    { error: te("must be a map such as {input: ..., output: ..., shell: ...}") },
  )
  .superRefine((r, ctx) => {
    if (r.shell !== undefined && r.run !== undefined) {
      ctx.issues.push({ code: "custom", message: "has both 'shell' and 'run'; give one", input: r, path: [] });
    }
  });

/** A workflow target: a file path, or `{expand: pattern, wildcard: values...}` (product of values). */
export const targetSchema = z.union(
  [
    z.string(),
    z
      .object({
        /** Pattern with `{wildcards}`, expanded over the product of the other keys' values. */
        expand: z.string({ error: te("must be a path pattern with {wildcards}") }),
      })
      .catchall(
        z.union([z.array(z.union([z.string(), z.number(), z.boolean()])), z.string(), z.number(), z.boolean()], {
          error: te("must be a list of values (or one value) for this wildcard"),
        }),
      ),
  ],
  { error: te("must be a file path or a map such as {expand: 'results/{model}.csv', model: [a, b]}") },
);

/** When a profile applies by itself (all given conditions must hold). */
export const profileWhenSchema = z.strictObject(
  {
    /** Host name globs; any match counts (e.g. `["login*.cluster.org"]`). */
    hostname: z
      .union([z.string(), z.array(z.string())], { error: te("must be a list of host name globs") })
      .transform((v) => (typeof v === "string" ? [v] : v))
      .optional(),
    /** Environment conditions: `NAME` (must be set) or `NAME=value` (must equal); all must hold. */
    env: z
      .union([z.string(), z.array(z.string())], { error: te("must be a list such as [SLURM_CLUSTER_NAME]") })
      .transform((v) => (typeof v === "string" ? [v] : v))
      .optional(),
    /** A program that must be on `PATH` (e.g. `sbatch`). */
    command: z.string().optional(),
  },
  { error: te("must be a map such as {hostname: ['login*']}") },
);

/** A named bundle of settings chosen by `-P NAME` or detected through `when`. */
export const profileSchema = z.strictObject(
  {
    /** One line shown by `corral env`. */
    description: z.string().optional(),
    /** Launcher settings, merged over the project's. */
    launcher: launcherPatchSchema.optional(),
    /** Per-run resources, merged over the project's. */
    resources: resourcesSchema.optional(),
    /**
     * `corral flow`: resources for every rule, key by key where the rule sets none (Snakemake's
     * `default-resources`); merged over the project's `default_resources`. @default {}
     */
    default_resources: ruleResourcesSchema.optional(),
    /**
     * `corral flow`: resources per rule name that override the rule's own, key by key
     * (Snakemake's `set-resources`), e.g. `{train: {gpus: 1, timeout: 2h}}`. @default {}
     */
    set_resources: z.record(z.string(), ruleResourcesSchema, { error: te("must be a map of rule names to resources such as {train: {cpus: 4}}") }).optional(),
    /** Container settings, merged over the project's. */
    container: containerPatchSchema.optional(),
    /** Setup lines appended to the launcher's `setup`. */
    setup: lines().optional(),
    /** Environment variables, merged over the project's `env`. */
    env: envMap().optional(),
    /** Named paths, merged over the project's `paths`. */
    paths: z.record(z.string(), z.string(), { error: te("must be a map of names to paths") }).optional(),
    /** Config overrides (Hydra grammar) applied to every run, before the command-line ones. */
    overrides: stringList().optional(),
    /** Pick this profile automatically when these conditions hold. */
    when: profileWhenSchema.optional(),
  },
  { error: te("must be a map of profile settings such as {launcher: {type: slurm}}") },
);

/** Default sweep folder template; `%f` gives milliseconds so two sweeps in one second differ. */
export const DEFAULT_SWEEP_DIR = "multirun/${now:%Y-%m-%d}/${now:%H-%M-%S-%f}";

const RULE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The whole project file. */
export const projectSchema = z.strictObject(
  {
    /** Project name (sbatch job names, dashboard title). @default the project folder's name */
    name: z.string().min(1, { error: te("must not be empty") }).optional(),
    /**
     * The command each run executes: a string, split like a shell would (quotes honoured) but
     * never run through one, or a list of arguments. Overrides are appended as `key=value`.
     * @default undefined (required by `corral run`, not by `corral flow`)
     */
    command: command().optional(),
    /**
     * What kind of program `command` runs. `hydra`: a Hydra app; each run also gets
     * `hydra.run.dir` (its own run folder, so Hydra's outputs, `.hydra/` and the job log land
     * there), `hydra.job.num` (the run's index) and `hydra.job.id` (its id), as a Hydra multirun
     * sets them. `plain`: only the overrides. `auto`: `hydra` when the command runs a Python file
     * that uses Hydra (`@hydra.main`, `hydra.main(` or `from hydra`), else `plain`. @default auto
     */
    app: z.enum(["auto", "hydra", "plain"], { error: te("must be auto, hydra or plain") }).optional(),
    /** Inline base config (the primary config). @default {} or `<config_dir>/config.yaml` */
    config: configMap().optional(),
    /** Folder of config groups, relative to the project file. @default undefined (no groups) */
    config_dir: z.string().min(1, { error: te("must not be empty") }).optional(),
    /** Hydra defaults list: which option of each config group to compose. @default [] */
    defaults: defaultsListSchema.default(() => []),
    /** Sweep run by `corral run -m`: a grid or a list of grids. @default [] (normalised to a list) */
    sweep: sweepSchema.default(() => []),
    /**
     * A search instead of a grid (`corral run -m`): `{sampler: random|tpe|grid, budget,
     * objective: {metric, mode}, seed, early_stop: {asha: {...}}}`, the space under `sweep:`
     * (docs/search.md). Checked where the sweep is planned. @default undefined (a grid)
     */
    search: z.unknown().optional(),
    /** Sweep folder template; `${now:...}` uses strftime codes, `%f` is milliseconds. @default "multirun/${now:%Y-%m-%d}/${now:%H-%M-%S-%f}" */
    sweep_dir: z.string().min(1, { error: te("must not be empty") }).default(DEFAULT_SWEEP_DIR),
    /** Per-run resources. @default {} */
    resources: resourcesSchema.prefault({}),
    /**
     * `corral flow`: resources for every rule, key by key where the rule sets none (Snakemake's
     * `default-resources`); they win over `resources`. @default undefined (none)
     */
    default_resources: ruleResourcesSchema.optional(),
    /** Where runs execute. @default {type: "local", kill_grace: 10} */
    launcher: launcherSchema.prefault({}),
    /** Named bundles of settings, chosen by `-P NAME` or detected by `when`. @default {} */
    profiles: z.record(z.string(), profileSchema, { error: te("must be a map of profile names to settings") }).default(() => ({})),
    /** Named paths (data, checkpoints) for `${paths.name}` in configs; relative to the project folder. @default {} */
    paths: z.record(z.string(), z.string({ error: te("must be a path string") }), { error: te("must be a map of names to paths") }).default(() => ({})),
    /** Container every run executes in. @default undefined (none) */
    container: containerSchema.optional(),
    /** Workflow rules by name. @default {} */
    rules: z
      .record(
        z.string().regex(RULE_NAME, { error: te("is not a valid rule name (letters, digits, _ . -; not starting with a digit)") }),
        ruleSchema,
        { error: te("must be a map of rule names to rules") },
      )
      .default(() => ({})),
    /**
     * `corral flow`: regular expressions for wildcards of every rule (Snakemake's global
     * `wildcard_constraints:`); a rule's own `wildcard_constraints` and inline `{w,regex}` win. @default {}
     */
    wildcard_constraints: z.record(z.string(), regexString(), { error: te("must be a map of wildcard names to regular expressions") }).optional(),
    /**
     * `corral flow`: rules whose jobs run on the head's machine through the local launcher even
     * when the flow runs on SLURM (Snakemake's `localrules`), e.g. `[all, plot]`. @default []
     */
    localrules: z.array(z.string(), { error: te("must be a list of rule names") }).optional(),
    /** Files `corral flow` builds when no target is given on the command line. @default [] */
    targets: z.array(targetSchema, { error: te("must be a list of file paths or {expand: ...} maps") }).default(() => []),
    /** Extra environment variables for every run. @default {} */
    env: envMap().default(() => ({})),
  },
  { error: te("must be a map of settings such as {command: python train.py}") },
);

/** What a user writes (`defineConfig({...})` / `corral.yaml`): every key optional. */
export type UserConfig = z.input<typeof projectSchema>;
type ParsedConfig = z.output<typeof projectSchema>;
/**
 * The resolved project config: defaults applied, commands as argv, durations in seconds, the
 * defaults list parsed for composition, `name` filled in from the folder when not given.
 */
export type ProjectConfig = Omit<ParsedConfig, "name" | "defaults" | "config"> & {
  name: string;
  /** The primary config: inline `config`, else `<config_dir>/config.yaml`, else `{}`. */
  config: ConfigMap;
  defaults: DefaultsEntry[];
};
/** Resolved per-run resources (durations in seconds, memory as a string such as `"4G"`). */
export type ResourcesConfig = z.output<typeof resourcesSchema>;
/** Resolved resources of a pipeline rule (run resources and scheduler settings). */
export type RuleResourcesConfig = z.output<typeof ruleResourcesSchema>;
/** Resolved launcher settings. */
export type LauncherConfig = z.output<typeof launcherSchema>;
/** Launcher settings of a profile (all optional, no defaults). */
export type LauncherPatch = z.output<typeof launcherPatchSchema>;
/** Resolved container settings. */
export type ContainerConfig = z.output<typeof containerSchema>;
/** Container settings of a profile (all optional). */
export type ContainerPatch = z.output<typeof containerPatchSchema>;
/** A resolved workflow rule. */
export type RuleConfig = z.output<typeof ruleSchema>;
/** A resolved profile. */
export type ProfileConfig = z.output<typeof profileSchema>;
/** One sweep grid. */
export type SweepGrid = z.output<typeof sweepGridSchema>;
/** One workflow target. */
export type TargetConfig = z.output<typeof targetSchema>;
/** One defaults-list entry as written (`_self_`, `"db/mysql"`, `{db: mysql}`, `{"override db": x}`). */
export type RawDefaultsEntry = z.output<typeof defaultsEntrySchema>;

/** Validates a group file's `defaults:` list (same grammar as the project's). */
export const groupDefaultsSchema = defaultsListSchema;

// ---------------------------------------------------------------------------------------------
// Issues -> one-line sentences

/** One validation problem: where (zod path) and what, as the tail of a sentence about the key. */
export interface ConfigProblem {
  path: PropertyKey[];
  /** Dotted key such as `rules.train.resources.gpus` or `targets[2]`. */
  key: string;
  /** The full sentence, e.g. `launcher.gpus must be a non-negative number (got -1)`. */
  message: string;
}

/** Dotted key for a zod path: `rules.train.input[0]`. */
export function dottedKey(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return `'${v.length > 40 ? `${v.slice(0, 37)}...` : v}'`;
  if (typeof v === "object") return "a map";
  if (typeof v === "function") return "a function";
  return String(v);
}

const NOUNS: Record<string, string> = {
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a map",
  record: "a map",
  map: "a map",
  int: "an integer",
  null: "null",
};

type Issue = z.core.$ZodIssue;

/**
 * Zod's default wording replaced by sentences about the key. Used as the per-parse error map;
 * schema-level messages (set above) take precedence.
 */
export const issueMessages: z.core.$ZodErrorMap = (iss) => {
  if (iss.input === undefined && (iss.code === "invalid_type" || iss.code === "invalid_union")) return "is required";
  switch (iss.code) {
    case "invalid_type":
      return `must be ${NOUNS[iss.expected] ?? iss.expected}`;
    case "unrecognized_keys": {
      const inst = iss.inst as { shape?: Record<string, unknown> } | undefined;
      const known = Object.keys(inst?.shape ?? {});
      const key = iss.keys[0] ?? "";
      const guess = didYouMean(key, known);
      return `unknown key '${key}'${guess ? ` (did you mean '${guess}'?)` : ""}`;
    }
    case "invalid_value": {
      const values = iss.values.map((v) => `'${String(v)}'`).join(", ");
      const guess = typeof iss.input === "string" ? didYouMean(iss.input, iss.values.map(String)) : undefined;
      return `must be one of ${values}${guess ? ` (did you mean '${guess}'?)` : ""}`;
    }
    case "too_small":
      if (iss.origin === "string" && Number(iss.minimum) === 1) return "must not be empty";
      if (iss.origin === "array") return `must have at least ${iss.minimum} item(s)`;
      return `must be ${iss.inclusive ? "at least" : "greater than"} ${iss.minimum}`;
    case "too_big":
      if (iss.origin === "array") return `must have at most ${iss.maximum} item(s)`;
      return `must be ${iss.inclusive ? "at most" : "less than"} ${iss.maximum}`;
    case "invalid_format":
      return iss.format === "regex" ? `must match ${String(iss.pattern)}` : `must be a valid ${iss.format}`;
    default:
      return undefined;
  }
};

/**
 * Flatten zod issues into problems. A union whose input matched the shape of exactly one
 * branch (a map given where map-or-list is allowed) reports that branch's own, deeper issues,
 * so the user hears about `rules.x.input[1]` instead of "invalid input" at `rules.x`.
 */
/** A union branch that failed only because the value has another type (its shape is not this branch's). */
function unshaped(branch: readonly Issue[]): boolean {
  if (branch.length !== 1 || branch[0]!.path.length !== 0) return false;
  const b = branch[0]!;
  if (b.code === "invalid_type") return true;
  if (b.code === "custom") return b.message === NOT_A_FUNCTION;
  return b.code === "invalid_union" && b.errors.every(unshaped);
}

export function describeIssues(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    if (iss.code === "invalid_union") {
      const shaped = iss.errors.filter((branch) => !unshaped(branch));
      if (shaped.length === 1) {
        out.push(...describeIssues(shaped[0]!, path));
        continue;
      }
    }
    if (iss.code === "invalid_key") {
      // A record key that fails its own schema: report the key's problem at the key.
      const inner = iss.issues[0];
      const why = inner ? inner.message : "is not a valid key";
      out.push({ path, key: dottedKey(path), message: `${dottedKey(path)} ${why}` });
      continue;
    }
    if (iss.code === "unrecognized_keys") {
      // One problem per unknown key, each pointing at the key itself and named in full.
      const guess = /\(did you mean '([^']*)'\?\)$/.exec(iss.message)?.[1];
      for (const k of iss.keys) {
        const kpath = [...path, k];
        const hint = k === iss.keys[0] && guess !== undefined ? ` (did you mean '${dottedKey([...path, guess])}'?)` : "";
        out.push({ path: kpath, key: dottedKey(kpath), message: `unknown key '${dottedKey(kpath)}'${hint}` });
      }
      continue;
    }
    const key = dottedKey(path);
    let message = iss.message;
    const input = (iss as { input?: unknown }).input;
    const showInput =
      input !== undefined &&
      !(iss.code === "custom" && typeof input === "object" && input !== null) &&
      !message.includes("(got ");
    if (showInput) message += ` (got ${describeValue(input)})`;
    out.push({ path, key, message: key ? `${key} ${message}` : `the project ${message}` });
  }
  return out;
}
