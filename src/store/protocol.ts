/**
 * Every record that crosses a process boundary or the disk, as a `type`-tagged union.
 * The worker (inside an allocation or on the local machine), the CLI, the launchers and the
 * dashboard all read and write exactly these shapes. Bump `version` on incompatible changes.
 */
import type { ContainerSpec } from "../plan/container.js";
import type { MultinodeMode } from "../plan/multinode.js";
import type { ConfigMap } from "../plan/types.js";
import type { DefaultsEntry, GroupOption } from "../plan/compose.js";
import type { JobHashes } from "../plan/uptodate.js";
import type { Params, SearchSpace } from "../plan/search/types.js";

export { RUN_STATES, TERMINAL_STATES, type RunState } from "../plan/states.js";
import type { RunState } from "../plan/states.js";

/** `<run dir>/status.json`, written whole by the worker process that ran the run. */
export interface RunStatusRecord {
  type: "run-status";
  version: 1;
  runId: string;
  index: number;
  state: RunState;
  /** 1 for the first attempt. */
  attempt: number;
  /** ms since epoch of the last write (also the heartbeat while running). */
  updatedAt: number;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** Process id of the run's process-group leader. */
  pid?: number;
  host?: string;
  /** The worker process supervising the run. */
  worker?: { pid: number; host: string; batchId: string };
  /** Scheduler job id (`<array job>_<task>` for arrays). */
  jobId?: string;
  gpus?: string[];
  cpus?: number[];
  /** Why a `timeout` run was stopped: its own `resources.timeout`, or the allocation's time limit ahead. */
  stopCause?: "run-timeout" | "alloc-timeout";
  /** A `pruned` trial: the ASHA rung (0-based) it stopped at, and the resource there (e.g. step 3). */
  rung?: number;
  rungResource?: number;
  /** Human-readable cause, e.g. "exceeded timeout 5s; force-killed after 2s grace". */
  message?: string;
  history: Array<{ state: RunState; at: number; attempt: number }>;
}

/**
 * `<batch file>.pid`: the worker that runs a batch, written by the worker as it starts (and by
 * the launcher right after spawning it), so a command that never saw it recorded finds it.
 */
export const WORKER_PID_SUFFIX = ".pid";

/** The content of a worker's `.pid` registration. */
export interface WorkerRegistration {
  pid: number;
  host: string;
  startedAt: number;
}

/**
 * `<sweep>/.corral/workers/<batch>@<host>.<pid>.json`: one worker process, written whole before
 * it claims anything. Each of its claims (`<run>/claim-<attempt>.<seq>`) is a hard link to this
 * file, so a claim names its owner from the moment it exists, and the worker's heartbeat (the
 * file's mtime, touched every heartbeat) is every claim's heartbeat.
 */
export interface WorkerIdentity extends WorkerRegistration {
  type: "worker";
  version: 1;
  batchId: string;
  /** The scheduler's job (`<array>_<task>` or job id) inside SLURM. */
  jobId?: string;
  /** SLURM_RESTART_COUNT of this incarnation. */
  restartCount: number;
}

/** One run as the worker receives it: everything resolved, nothing to re-read from the project. */
export interface RunSpec {
  index: number;
  id: string;
  /** Absolute run folder. */
  dir: string;
  /** argv[0] is the program; never passed through a shell. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** CPUs this run asks for (0 = share whatever the slot gives). */
  cpus: number;
  /** GPUs this run asks for; fractional (0.5) lets two runs share one device. */
  gpus: number;
  /** Seconds before the run is stopped and recorded as `timeout`. */
  timeoutS?: number;
  /** A study trial with early stopping: the worker stops it (SIGTERM, kill grace) when its run folder gets a prune request. */
  prunable?: boolean;
  attempt: number;
  /** Expected run time in seconds (`resources.estimate`): the worker does not start it when it cannot finish before the allocation ends. */
  estimateS?: number;
  /** Optional wrapper argv (containers) placed before `argv`; built by plan/container.ts. */
  wrap?: string[];
}

/** The unit a worker executes: the runs packed into one scheduler job or local session. */
export interface BatchSpec {
  type: "batch";
  version: 1;
  batchId: string;
  sweepDir: string;
  runs: RunSpec[];
  /** Runs at once. */
  parallel: number;
  /** Seconds between consecutive starts. */
  stagger: number;
  /** Seconds between SIGTERM and SIGKILL when stopping a run. */
  killGraceS: number;
  /** Explicit resources; when absent the worker detects them. */
  resources: { cpuIds?: number[]; gpuIds?: string[] };
  /** Log scheduling and resource decisions to the worker log. */
  verbose: boolean;
  heartbeatS: number;
  /** Pin runs without an explicit `cpus` to an even share of the CPUs (taskset). @default true */
  pinCpus?: boolean;
  /** Signal forwarded to running runs when the allocation nears its time limit. @default "SIGUSR1" */
  timeoutSignal?: string;
  /** Seconds before the allocation's end by which runs must be done (SLURM `--signal` grace); enables walltime-aware starts. */
  endGraceS?: number;
  /** A study's batch: when a slot frees and no run of the batch waits, the worker draws the study's next trial (worker/trials.ts). */
  study?: true;
}

/** `<sweep>/sweep.json`: the manifest of a sweep or pipeline. */
export interface SweepManifest {
  type: "sweep";
  version: 1;
  id: string;
  kind: "sweep" | "flow";
  name?: string;
  createdAt: number;
  /** Absolute sweep folder. */
  dir: string;
  projectDir: string;
  command: string[];
  /** `command line`: the command came after `--`, not from the project (resume keeps it then). */
  commandFrom?: "command line";
  /** `hydra`: the command is a Hydra app; each run also gets its Hydra output folder, job num and id (project `app`). */
  app?: "hydra";
  overrides: string[];
  launcher: string;
  profile?: string;
  /**
   * What `corral resume --use-current-project` replaced, oldest first: the sweep's recipe before
   * that resume, and the runs it then started again with the project as it was.
   */
  replaced?: Array<{ at: number; command: string[]; baseEnv?: Record<string, string>; container?: ContainerSpec; resources?: SweepManifest["resources"]; runs: number[] }>;
  git?: { commit: string; dirty: boolean; diff?: string };
  runs: RunEntry[];
  /** Scheduler submissions (local worker sessions or SLURM jobs). */
  jobs: JobEntry[];
  /**
   * Resolved launcher settings, so `resume` resubmits exactly what was launched. Read through
   * {@link readLaunchSettings} (store.ts's `readManifest` does), which also accepts older versions.
   */
  settings?: LaunchSettingsRecord;
  /** Per-run resources at launch (cpus, gpus, timeout seconds). */
  resources?: { cpus?: number; gpus?: number; timeout?: number; estimate?: number };
  /** Extra environment of every run (project `env`). */
  baseEnv?: Record<string, string>;
  /** Container every run executes in (each run's `wrap` is built from it, on launch and resume). */
  container?: ContainerSpec;
  /** Pipelines: DAG edges as [upstream run index, downstream run index] (drawn by the dashboard). */
  edges?: Array<[number, number]>;
  /** A study (`corral run -m --search`): its trials are runs made as slots free, up to `budget`. */
  search?: StudyRecord;
}

/** What a study needs to make its next trial without the command line that started it. */
export interface StudyRecord {
  /** `custom`: a sampler the library's caller passed (only that caller can make further trials). */
  sampler: "random" | "tpe" | "custom";
  budget: number;
  objective: { metric: string; mode: "min" | "max" };
  seed: number;
  early_stop?: { asha: { resource: string; min: number; max: number; reduction_factor: number } };
  /** TPE's options (`search.tpe`); absent: the defaults (multivariate). */
  tpe?: { multivariate: boolean };
  /** The search space (plain data: plan/search/types.ts SearchSpace). */
  space: SearchSpace;
  /** Overrides every trial gets before its own (the command line's other overrides). */
  base: string[];
  /** Trials at once (`search.n_jobs`); SLURM packs them `parallel` to an array task. @default the launcher's parallel */
  n_jobs?: number;
}

/**
 * Whether a study's SLURM array tasks draw its further trials themselves: not when its sampler
 * is a library caller's own (only that caller can ask it), nor when its runs span nodes (one run
 * per task). The head's loop and the SLURM launcher both ask this.
 */
export function tasksDrawTrials(m: Pick<SweepManifest, "search" | "settings">): boolean {
  const s = m.settings;
  return s?.type === "slurm" && m.search !== undefined && m.search.sampler !== "custom" && !(s.multinode !== undefined && s.multinode.nodes > 1);
}

/**
 * `<sweep>/.corral/study-recipe.json`: how a trial's run is composed, as the project was when the
 * study started (its command and every config file of its config folder). Whoever makes a trial
 * (the head, or a worker drawing trials inside a packed allocation) composes it from this, never
 * from the project file.
 */
export interface StudyRecipe {
  type: "study-recipe";
  version: 1;
  command: string[];
  /** The config folder's configs: [group, [[option, config]]] (plan/compose.ts ConfigRepo). */
  repo: Array<[string, Array<[string, GroupOption]>]>;
  primary: ConfigMap | null;
  defaults: DefaultsEntry[];
  /** Profile overrides, before every trial's own. */
  baseOverrides: string[];
  freeForm: boolean;
  /** The study's start (`${now:...}` of every trial). */
  now: number;
  sourceFile: string;
  primaryFile?: string;
}

/** `<run>/trial.json`: a trial's record, claimed (a hard link: atomic, once) before it is submitted. */
export interface TrialFile {
  type: "trial";
  version: 1;
  number: number;
  params: Params;
  entry: RunEntry;
  /** Drawn by a worker in a packed allocation (SLURM array task): the batch that runs it. */
  drawnBy?: { batchId: string; jobId?: string; host: string; pid: number };
}

export interface RunEntry {
  index: number;
  id: string;
  /** Folder relative to the sweep folder. */
  dir: string;
  /** Hydra-spelled per-run overrides (`b=10.0`, `flag=True`). */
  overrides: string[];
  /**
   * The run's argv when the command interpolates the run's config (`--lr ${lr}`); absent: argv
   * is the sweep's command followed by `overrides`.
   */
  argv?: string[];
  /** Swept parameters for tables: key -> value. */
  params: ConfigMap;
  /** A study's trial: the params its sampler chose (typed values, as the sampler sees them). */
  trial?: Params;
  /** Pipeline job name (rule + wildcards) when kind = flow. */
  job?: string;
  rule?: string;
}

export interface JobEntry {
  /** Local: `local-<pid>`; SLURM: array job id. */
  jobId: string;
  launcher: string;
  submittedAt: number;
  /** Run indexes by array task / batch id. */
  batches: Array<{ batchId: string; task?: number; runs: number[] }>;
  pid?: number;
  host?: string;
}

/** A line of `metrics.jsonl`: any JSON object; numbers are what tables and charts use. */
export type MetricsLine = Record<string, unknown>;

/** One job as the head runs it: everything resolved (stored in `<sweep>/flow.json`). */
export interface FlowJobSpec {
  /** Run index in the sweep (also the position in `FlowFile.jobs`). */
  index: number;
  key: string;
  rule: string;
  wildcards: Record<string, string>;
  /** argv; `shell:` rules run as `/bin/sh -c <rendered shell>`. */
  argv: string[];
  /** Container prefix (`containerWrap`) the worker puts before `argv`: the rule's or the project's container. */
  wrap?: string[];
  /** Input files (for the build record's stamps, and temp bookkeeping); absent in flows made before. */
  inputs?: string[];
  outputs: string[];
  log: string[];
  /** Temp files this job reads or writes: each is deleted once no job of this flow still needs it. */
  temp?: string[];
  /** Outputs made read-only after the job succeeds. */
  protected?: string[];
  /** Run indexes of the jobs it needs (jobs that do not run are already built). */
  deps: number[];
  cpus: number;
  gpus: number;
  memMB: number;
  timeoutS?: number;
  retries: number;
  /**
   * What later attempts run with where it differs from attempt 1 (a rule's resources or command
   * computed from `attempt`): `attempts[n - 2]` is attempt n, null when it is the same.
   */
  attempts?: Array<FlowAttempt | null>;
  priority: number;
  hashes: JobHashes;
  /** Why it runs (`missing output: 'x'`). */
  reason: string;
  /** Its rule's scheduler settings (`partition` ... `slurm_extra`); absent when it sets none. */
  scheduling?: JobScheduling;
  /** It runs on the head's machine through the local launcher (`localrules`, `local: true`), whatever the flow's launcher. */
  local?: true;
}

/**
 * A pipeline job's own scheduler settings (its rule's `partition`, `account`, `qos`,
 * `constraint`, `gres`, `nodes`, `slurm_extra`): a scheduler's launcher puts them over its own
 * for that job; the local launcher ignores them.
 */
export interface JobScheduling {
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  gres?: string;
  nodes?: number;
  /** Extra scheduler flags, one word each (`slurm_extra`, already split). */
  extra?: string[];
}

/** One later attempt of a flow job, where it differs from attempt 1. */
export interface FlowAttempt {
  argv?: string[];
  cpus?: number;
  memMB?: number;
  timeoutS?: number;
}

/** `<sweep>/flow.json`. */
export interface FlowFile {
  type: "flow";
  version: 1;
  keepGoing: boolean;
  jobs: FlowJobSpec[];
}

/** Settings every launcher reads (the `launcher:` keys that are not one scheduler's). */
export interface LaunchSettingsBase {
  /** Local: slots (-j). SLURM: runs at once inside one array element. */
  parallel: number;
  stagger: number;
  killGraceS: number;
  /** Explicit GPU ids (local: gpus_available; SLURM debug: gpu_ids). */
  gpuIds?: string[];
  cpuIds?: number[];
  verbose: boolean;
  heartbeatS: number;
  /** `launcher.setup`: shell lines run before the worker starts (a SLURM job's script, the local launcher's shell). */
  setup: string[];
  /** `launcher.env`: variables for the job and its runs (a SLURM job's script exports them; the local worker starts with them). */
  env?: Record<string, string>;
  /** Attempts in all for runs stopped from outside (timeout, preemption, node loss). @default 3 */
  maxAttempts?: number;
  /** Extra attempts for failed runs. @default 0 */
  retries?: number;
  /** `launcher.multinode`: SLURM spans each run over `nodes` nodes; the local launcher refuses it. */
  multinode?: MultinodeSettings;
}

/** The local launcher's settings. */
export interface LocalLaunchSettings extends LaunchSettingsBase {
  type: "local";
  /** `launcher.nodes` as the project (or a cluster profile) sets it: the local launcher refuses more than 1. */
  nodes?: number;
}

/** The SLURM launcher's settings: the common ones, packing, and the job's request. */
export interface SlurmLaunchSettings extends LaunchSettingsBase {
  type: "slurm";
  /** Runs per array element (packing). */
  perJob: number;
  /** Seconds between scheduler queries per sweep (`launcher.poll_interval`). @default 15 */
  pollIntervalS?: number;
  /** Run the batches on this machine through the same worker, without SLURM. */
  debug: boolean;
  /** Signal forwarded to the runs when the allocation nears its time limit. @default "SIGUSR1" */
  timeoutSignal?: string;
  /** Per-attempt resource factors: `{mem: 2}` doubles `--mem` at each attempt. */
  retryScaling?: { mem?: number };
  /** `launcher.nodejs`: the Node.js that runs the worker in each job (a path or a command name); undefined: the default. */
  nodejs?: string;
  slurm: SlurmSettings;
}

/** Resolved `launcher.multinode` (with `launcher.nodes` and `launcher.procs_per_node`). */
export interface MultinodeSettings {
  mode: MultinodeMode;
  /** Nodes each run spans (`launcher.nodes`). */
  nodes: number;
  /** torchrun: processes per node. @default 1 */
  procsPerNode?: number;
}

/** What one SLURM job asks for (sbatch options), and what its script sets. */
export interface SlurmSettings {
  partition?: string;
  time?: string | number;
  mem?: string;
  memPerCpu?: string;
  cpusPerTask?: number;
  gpus?: number;
  gres?: string;
  nodes?: number;
  constraint?: string;
  account?: string;
  qos?: string;
  jobName?: string;
  sbatchArgs: string[];
  /** Text added to the job's `--comment` after Corral's own tag (a rule's `slurm_extra: --comment=...`). */
  comment?: string;
  arrayThrottle?: number;
  signalGraceS: number;
}

/** Resolved launcher settings: what `launcher:` in the project file (plus profile and flags) says. */
export type LaunchSettings = LocalLaunchSettings | SlurmLaunchSettings;

/**
 * Version of the launch settings as `sweep.json` stores them. Version 1 (no `version` key) gave
 * every launcher's settings the SLURM block, with the setup lines and `launcher.nodes` inside it.
 */
export const LAUNCH_SETTINGS_VERSION = 2 as const;

/** `sweep.json`'s `settings`: the resolved launch settings, tagged with their version. */
export type LaunchSettingsRecord = LaunchSettings & { version: typeof LAUNCH_SETTINGS_VERSION };

/** The record of `settings`, as a new manifest stores them. */
export function launchSettingsRecord(settings: LaunchSettings): LaunchSettingsRecord {
  return { ...settings, version: LAUNCH_SETTINGS_VERSION };
}

/**
 * The launch settings of a manifest as this version reads them, whichever version wrote them;
 * undefined when there are none. `launcher` (the manifest's) names the launcher when the settings
 * do not.
 */
export function readLaunchSettings(raw: unknown, launcher?: string): LaunchSettingsRecord | undefined {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o.version === "number" && o.version >= LAUNCH_SETTINGS_VERSION) {
    // Early version-2 records kept `launcher.env` in the SLURM block.
    const block = o.slurm as { env?: Record<string, string> } | undefined;
    if (o.env === undefined && block?.env !== undefined) {
      const { env, ...rest } = block;
      return { ...o, env, slurm: rest } as unknown as LaunchSettingsRecord;
    }
    return o as unknown as LaunchSettingsRecord;
  }
  // Version 1: one shape for every launcher, the SLURM block always present.
  const { slurm, perJob, debug, pollIntervalS, timeoutSignal, retryScaling, type, ...common } = o;
  const block = (slurm && typeof slurm === "object" && !Array.isArray(slurm) ? slurm : {}) as Record<string, unknown>;
  const { setup, nodes, env, ...job } = block;
  const base = {
    ...(common as unknown as Omit<LaunchSettingsBase, "setup">),
    setup: Array.isArray(setup) ? (setup as string[]) : [],
    ...(env && typeof env === "object" && !Array.isArray(env) ? { env: env as Record<string, string> } : {}),
    version: LAUNCH_SETTINGS_VERSION,
  };
  const isSlurm = (type ?? launcher) === "slurm";
  if (!isSlurm) return { ...base, type: "local", ...(typeof nodes === "number" ? { nodes } : {}) };
  return {
    ...base,
    type: "slurm",
    perJob: typeof perJob === "number" ? perJob : base.parallel,
    debug: debug === true,
    ...(typeof pollIntervalS === "number" ? { pollIntervalS } : {}),
    ...(typeof timeoutSignal === "string" ? { timeoutSignal } : {}),
    ...(retryScaling && typeof retryScaling === "object" ? { retryScaling: retryScaling as { mem?: number } } : {}),
    slurm: { sbatchArgs: [], signalGraceS: 120, ...(job as Partial<SlurmSettings>), ...(typeof nodes === "number" ? { nodes } : {}) },
  };
}
