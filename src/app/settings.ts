/**
 * Typed CLI flags are overrides merged into the project's settings, not a second code path:
 * everything resolves here to one `LaunchSettings`.
 */
import os from "node:os";
import type { LaunchSettings } from "../launchers/launcher.js";
import type { ProjectConfig } from "../project/schema.js";

export interface SettingFlags {
  launcher?: "local" | "slurm";
  jobs?: number;
  verbose?: boolean;
}

export function resolveSettings(cfg: ProjectConfig, flags: SettingFlags): LaunchSettings {
  const l = cfg.launcher;
  const type = flags.launcher ?? l.type;
  const localSlots = flags.jobs ?? l.jobs ?? os.availableParallelism();
  const parallel = type === "local" ? localSlots : (flags.jobs ?? l.parallel ?? 1);
  const gpus = l.gpu_ids ?? l.gpus_available;
  return {
    type,
    parallel,
    perJob: l.per_job ?? parallel,
    stagger: l.stagger ?? 0,
    killGraceS: l.kill_grace,
    ...(gpus ? { gpuIds: gpus.map(String) } : {}),
    ...(l.cpu_ids ? { cpuIds: l.cpu_ids } : {}),
    verbose: flags.verbose ?? l.verbose ?? false,
    heartbeatS: 15,
    debug: l.debug ?? false,
    ...(l.max_attempts !== undefined ? { maxAttempts: l.max_attempts } : {}),
    ...(l.retries !== undefined ? { retries: l.retries } : {}),
    ...(l.retry_scaling?.mem !== undefined ? { retryScaling: { mem: l.retry_scaling.mem } } : {}),
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
      setup: l.setup ?? [],
      env: l.env ?? {},
      ...(l.array_throttle !== undefined ? { arrayThrottle: l.array_throttle } : {}),
      signalGraceS: l.signal_grace ?? 120,
    },
  };
}
