/**
 * One interface for every place runs execute. Each implementation lives in its own folder and
 * passes the shared contract suite (test/e2e/launcher-contract.test.ts).
 */
import type { MultinodeMode } from "../plan/multinode.js";
import type { JobEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import type { LivenessFacts } from "../store/status.js";

/** Resolved launcher settings: what `launcher:` in the project file (plus profile and flags) says. */
export interface LaunchSettings {
  type: "local" | "slurm";
  /** Local: slots (-j). SLURM: runs at once inside one array element. */
  parallel: number;
  /** SLURM: runs per array element (packing). Local: ignored (one worker runs all). */
  perJob: number;
  stagger: number;
  killGraceS: number;
  /** Explicit GPU ids (local: gpus_available; SLURM debug: gpu_ids). */
  gpuIds?: string[];
  cpuIds?: number[];
  verbose: boolean;
  heartbeatS: number;
  /** Run SLURM batches on this machine through the same worker, without SLURM. */
  debug: boolean;
  slurm: SlurmSettings;
  timeoutSignal?: string;
  /** Attempts in all for runs stopped from outside (timeout, preemption, node loss). @default 3 */
  maxAttempts?: number;
  /** Extra attempts for failed runs. @default 0 */
  retries?: number;
  /** Per-attempt resource factors (SLURM): `{mem: 2}` doubles `--mem` at each attempt. */
  retryScaling?: { mem?: number };
  /** SLURM multi-node runs (`launcher.multinode`): each run spans `nodes` nodes, one run per job at a time. */
  multinode?: MultinodeSettings;
}

/** Resolved `launcher.multinode` (with `launcher.nodes` and `launcher.procs_per_node`). */
export interface MultinodeSettings {
  mode: MultinodeMode;
  /** Nodes each run spans (`launcher.nodes`). */
  nodes: number;
  /** torchrun: processes per node. @default 1 */
  procsPerNode?: number;
}

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
  setup: string[];
  env: Record<string, string>;
  arrayThrottle?: number;
  signalGraceS: number;
}

export interface SubmitRequest {
  sweep: SweepManifest;
  runs: RunSpec[];
  settings: LaunchSettings;
  /** Distinguishes submissions of one sweep (first launch, each resume). */
  round: number;
}

export interface Launcher {
  readonly type: string;
  /** Start the runs; returns the scheduler jobs (recorded in the manifest before waiting). */
  submit(req: SubmitRequest): Promise<JobEntry[]>;
  /**
   * What the scheduler knows about runs whose status file cannot say (pending, running with a
   * stale heartbeat). ONE query per call for the whole sweep.
   */
  explain(sweep: SweepManifest): Promise<Map<number, LivenessFacts>>;
  /** True while any job of the sweep may still start or run runs. */
  active(sweep: SweepManifest): Promise<boolean>;
  /**
   * Jobs of the sweep that the scheduler knows but the manifest does not (the submitting process
   * died between `sbatch` and writing the manifest), rebuilt from their batch files so a resume
   * adopts them instead of submitting their runs twice. Optional: launchers without tags skip it.
   */
  recover?(sweep: SweepManifest): Promise<JobEntry[]>;
  /** Stop the sweep's jobs (gracefully; `force` kills at once). */
  cancel(sweep: SweepManifest, force: boolean): Promise<void>;
}
