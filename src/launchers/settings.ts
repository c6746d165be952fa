/**
 * Typed CLI flags are overrides merged into the project's settings, not a second code path:
 * everything resolves here to one `LaunchSettings`.
 */
import os from "node:os";
import { CorralError } from "../errors.js";
import type { LaunchSettings, LaunchSettingsBase, LocalLaunchSettings, SlurmLaunchSettings } from "./launcher.js";
import type { ProjectConfig } from "../project/schema.js";
import { DEFAULT_MAX_ATTEMPTS, scaleMem, type RetryPolicy } from "../plan/retry.js";

export interface SettingFlags {
  launcher?: "local" | "slurm";
  jobs?: number;
  verbose?: boolean;
}

/** The settings of one launcher: `launcher: "slurm"` gives the SLURM variant whatever the project says. */
export function resolveSettings(cfg: ProjectConfig, flags: SettingFlags & { launcher: "slurm" }): SlurmLaunchSettings;
export function resolveSettings(cfg: ProjectConfig, flags: SettingFlags): LaunchSettings;
export function resolveSettings(cfg: ProjectConfig, flags: SettingFlags): LaunchSettings {
  const l = cfg.launcher;
  const type = flags.launcher ?? l.type;
  const localSlots = flags.jobs ?? l.jobs ?? os.availableParallelism();
  const parallel = type === "local" ? localSlots : (flags.jobs ?? l.parallel ?? 1);
  const gpus = l.gpu_ids ?? l.gpus_available;
  const base: LaunchSettingsBase = {
    parallel,
    stagger: l.stagger ?? 0,
    killGraceS: l.kill_grace,
    ...(gpus ? { gpuIds: gpus.map(String) } : {}),
    ...(l.cpu_ids ? { cpuIds: l.cpu_ids } : {}),
    verbose: flags.verbose ?? l.verbose ?? false,
    heartbeatS: 15,
    setup: l.setup ?? [],
    env: l.env ?? {},
    ...(l.max_attempts !== undefined ? { maxAttempts: l.max_attempts } : {}),
    ...(l.retries !== undefined ? { retries: l.retries } : {}),
    ...(l.multinode !== undefined ? { multinode: { mode: l.multinode, nodes: l.nodes ?? 1, ...(l.procs_per_node !== undefined ? { procsPerNode: l.procs_per_node } : {}) } } : {}),
  };
  if (type === "local") return { type, ...base, ...(l.nodes !== undefined ? { nodes: l.nodes } : {}) };
  return {
    type,
    ...base,
    perJob: l.per_job ?? parallel,
    pollIntervalS: l.poll_interval ?? 15,
    debug: l.debug ?? false,
    ...(l.retry_scaling?.mem !== undefined ? { retryScaling: { mem: l.retry_scaling.mem } } : {}),
    ...(l.nodejs !== undefined ? { nodejs: l.nodejs } : {}),
    slurm: {
      ...(l.partition !== undefined ? { partition: l.partition } : {}),
      ...(l.time !== undefined ? { time: l.time } : {}),
      ...(l.mem !== undefined ? { mem: l.mem } : {}),
      ...(l.mem_per_cpu !== undefined ? { memPerCpu: l.mem_per_cpu } : {}),
      ...(l.cpus_per_task !== undefined ? { cpusPerTask: l.cpus_per_task } : {}),
      ...(typeof l.gpus === "number" ? { gpus: l.gpus } : {}),
      ...(typeof l.gpus === "string" ? { gres: `gpu:${l.gpus}` } : {}),
      ...(l.gres !== undefined ? { gres: l.gres } : {}),
      ...(l.nodes !== undefined ? { nodes: l.nodes } : {}),
      ...(l.constraint !== undefined ? { constraint: l.constraint } : {}),
      ...(l.account !== undefined ? { account: l.account } : {}),
      ...(l.qos !== undefined ? { qos: l.qos } : {}),
      jobName: l.job_name ?? cfg.name,
      sbatchArgs: l.sbatch_args ?? [],
      ...(l.array_throttle !== undefined ? { arrayThrottle: l.array_throttle } : {}),
      signalGraceS: l.signal_grace ?? 120,
    },
  };
}

/** `launcher.nodes` as the settings carry it (SLURM: the job's `--nodes`; local: asked, and refused). */
export function nodesOf(s: LaunchSettings): number | undefined {
  return s.type === "slurm" ? s.slurm.nodes : s.nodes;
}

/**
 * Multi-node settings that can never work are bad input (exit 2), named by their key:
 * `multinode` without `nodes` > 1, `nodes` > 1 on the local launcher, `multinode` in SLURM debug
 * mode (batches run here, without `srun`).
 */
export function checkMultinode(s: LaunchSettings, file: string): void {
  const nodes = nodesOf(s) ?? 1;
  if (s.type === "local" && nodes > 1) {
    throw new CorralError("E_CONFIG", `launcher.nodes is ${nodes}, but the local launcher runs on this machine only`, {
      hint: "use launcher.type slurm (for example through a cluster profile: -P cluster), or drop launcher.nodes",
      location: { file, key: "launcher.nodes" },
    });
  }
  const mn = s.multinode;
  if (!mn) return;
  if (nodes < 2) {
    throw new CorralError("E_CONFIG", `launcher.multinode is '${mn.mode}' but launcher.nodes is ${nodes}; a multi-node run needs nodes > 1`, {
      hint: "set launcher.nodes to 2 or more, or drop launcher.multinode",
      location: { file, key: "launcher.multinode" },
    });
  }
  if (s.type === "slurm" && s.debug) {
    throw new CorralError("E_CONFIG", "launcher.multinode needs a real SLURM allocation; launcher.debug runs batches on this machine", {
      hint: "drop launcher.debug, or drop launcher.multinode while debugging",
      location: { file, key: "launcher.multinode" },
    });
  }
}

/**
 * Settings for jobs a scheduler's flow runs on the head's machine (a pipeline's `localrules`):
 * the local launcher's, with the flow's setup lines, environment and retry policy, and as many
 * runs at once as this machine has cores. Local settings are returned as they are.
 */
export function localSettingsOf(s: LaunchSettings): LocalLaunchSettings {
  if (s.type === "local") return s;
  return {
    type: "local",
    parallel: os.availableParallelism(),
    stagger: s.stagger,
    killGraceS: s.killGraceS,
    verbose: s.verbose,
    heartbeatS: s.heartbeatS,
    setup: s.setup,
    ...(s.env ? { env: s.env } : {}),
    ...(s.maxAttempts !== undefined ? { maxAttempts: s.maxAttempts } : {}),
    ...(s.retries !== undefined ? { retries: s.retries } : {}),
  };
}

/** The launch settings of one attempt: `--mem` / `--mem-per-cpu` scaled by `policy.scaling.mem`. */
export function settingsForAttempt<S extends LaunchSettings>(settings: S, attempt: number, policy: RetryPolicy): S {
  const f = policy.scaling?.mem;
  // Only a SLURM job asks for memory; the local launcher has nothing to scale.
  if (!f || attempt <= 1 || settings.type !== "slurm") return settings;
  const slurm = { ...settings.slurm };
  if (slurm.mem) slurm.mem = scaleMem(slurm.mem, f, attempt);
  if (slurm.memPerCpu) slurm.memPerCpu = scaleMem(slurm.memPerCpu, f, attempt);
  return { ...settings, slurm };
}

/** The policy recorded in a sweep's launch settings (older manifests: the defaults). */
export function policyOf(settings: LaunchSettings): RetryPolicy {
  return {
    maxAttempts: settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retries: settings.retries ?? 0,
    ...(settings.type === "slurm" && settings.retryScaling ? { scaling: settings.retryScaling } : {}),
  };
}

/**
 * Launch settings spelled as the user writes them under `launcher:` in corral.yaml (`per_job`,
 * `kill_grace`, `jobs` for the local launcher's slots), with the defaults filled in: what
 * `corral config --cfg all` shows. Internal fields (the heartbeat) are left out.
 */
export function settingsAsWritten(s: LaunchSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { type: s.type };
  if (s.type === "local") out.jobs = s.parallel;
  else {
    out.parallel = s.parallel;
    out.per_job = s.perJob;
  }
  out.stagger = s.stagger;
  out.kill_grace = s.killGraceS;
  if (s.gpuIds) out[s.type === "local" ? "gpus_available" : "gpu_ids"] = s.gpuIds;
  if (s.cpuIds) out.cpu_ids = s.cpuIds;
  out.verbose = s.verbose;
  out.setup = s.setup;
  out.env = s.env ?? {};
  out.max_attempts = s.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  out.retries = s.retries ?? 0;
  if (s.multinode) {
    out.multinode = s.multinode.mode;
    out.nodes = s.multinode.nodes;
    if (s.multinode.procsPerNode !== undefined) out.procs_per_node = s.multinode.procsPerNode;
  }
  if (s.type === "local") {
    if (s.nodes !== undefined) out.nodes = s.nodes;
    return out;
  }
  out.poll_interval = s.pollIntervalS ?? 15;
  out.debug = s.debug;
  if (s.retryScaling) out.retry_scaling = s.retryScaling;
  if (s.nodejs !== undefined) out.nodejs = s.nodejs;
  const j = s.slurm;
  const slurm: Array<[string, unknown]> = [
    ["partition", j.partition],
    ["time", j.time],
    ["mem", j.mem],
    ["mem_per_cpu", j.memPerCpu],
    ["cpus_per_task", j.cpusPerTask],
    ["gpus", j.gpus],
    ["gres", j.gres],
    ["nodes", j.nodes],
    ["constraint", j.constraint],
    ["account", j.account],
    ["qos", j.qos],
    ["job_name", j.jobName],
    ["sbatch_args", j.sbatchArgs],
    ["array_throttle", j.arrayThrottle],
    ["signal_grace", j.signalGraceS],
  ];
  for (const [k, v] of slurm) if (v !== undefined) out[k] = v;
  return out;
}
