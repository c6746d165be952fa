/**
 * What the allocation really holds: CPU ids from the affinity mask (which SLURM's cgroup or
 * task plugin sets), GPU ids from the environment SLURM or the user sets, or nvidia-smi.
 */
import { execFileSync } from "node:child_process";
import type { AllocationFacts } from "./allocation.js";
import { accessSync, constants, readFileSync } from "node:fs";
import os from "node:os";

/** Parse a CPU list such as `0-3,8,10-11`. */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(",")) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** CPUs this process may run on (Linux affinity), else 0..n-1. */
export function detectCpus(): number[] {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (m?.[1]) {
      const ids = parseCpuList(m[1]);
      if (ids.length) return ids;
    }
  } catch {
    /* not Linux */
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

export interface GpuDetection {
  ids: string[];
  source: string;
}

/**
 * GPU ids, first from CUDA_VISIBLE_DEVICES (set by schedulers for GPU jobs and by users), then
 * what the scheduler's allocation says it holds (SLURM: SLURM_JOB_GPUS, read by the launcher
 * into `allocation`), then `nvidia-smi -L` unless `nvidiaSmi` is false. Ids are kept as given
 * (SLURM may hand out global indices such as 2,3 when devices are not constrained by cgroups).
 */
export function detectGpus(env: NodeJS.ProcessEnv, opts: { allocation?: AllocationFacts | undefined; nvidiaSmi?: boolean } = {}): GpuDetection {
  const cvd = env.CUDA_VISIBLE_DEVICES;
  if (cvd !== undefined) {
    const ids = cvd.split(",").map((s) => s.trim()).filter((s) => s && s !== "-1" && s !== "NoDevFiles");
    return { ids, source: "CUDA_VISIBLE_DEVICES" };
  }
  const held = opts.allocation?.gpus;
  if (held) return { ids: held.ids, source: held.source };
  if (opts.nvidiaSmi ?? true) {
    try {
      const out = execFileSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] });
      const ids = out
        .split("\n")
        .map((l) => /^GPU (\d+):/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined);
      return { ids, source: "nvidia-smi -L" };
    } catch {
      /* no driver */
    }
  }
  return { ids: [], source: "none found" };
}

let tasksetPath: string | null | undefined;
/** Absolute path of `taskset` (util-linux), for CPU pinning; null when absent. */
export function findTaskset(): string | null {
  if (tasksetPath !== undefined) return tasksetPath;
  for (const p of ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"]) {
    try {
      accessSync(p, constants.X_OK);
      tasksetPath = p;
      return p;
    } catch {
      /* next */
    }
  }
  tasksetPath = null;
  return null;
}
