/**
 * One interface for every place runs execute. Each implementation lives in its own folder and
 * is named only by `registry.ts`; everything above the launchers talks to this interface.
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
  /** SLURM: seconds between scheduler queries per sweep (`launcher.poll_interval`). Older manifests lack it. @default 15 */
  pollIntervalS?: number;
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

/** What one run (or one pipeline job) asks of the machine, for `Launcher.validate`. */
export interface ResourceAsk {
  cpus?: number | undefined;
  gpus?: number | undefined;
  memMB?: number | undefined;
  /** Who asks, for the message: `each run`, `rule 'train'`. */
  who: string;
  /** Where the ask is written (file and key), for the message. */
  location?: { file: string; key: string };
}

/** What each run of one submission needs (pipelines: per rule; sweeps: `resources`). */
export interface RunNeed {
  cpus: number;
  gpus: number;
  memMB: number;
  timeoutS?: number | undefined;
}

export interface ValidateRequest {
  settings: LaunchSettings;
  asks: readonly ResourceAsk[];
  env: Record<string, string | undefined>;
}

/** One file a launcher would submit, for `--dry-run`: a name (title) and its whole text. */
export interface LaunchPreview {
  name: string;
  text: string;
}

export interface Launcher {
  readonly type: string;
  /**
   * Refuse a request that can never run here, before anything is created or queued: a
   * `CorralError` (exit 2) naming the key and what the machine or partition offers.
   */
  validate(req: ValidateRequest): Promise<void>;
  /**
   * The settings of one submission of `groupSize` runs that each need `need`: a scheduler sizes
   * its job from them (what the user set explicitly wins). Optional: the local worker splits
   * what it has.
   */
  size?(settings: LaunchSettings, need: RunNeed, groupSize: number): LaunchSettings;
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
  /**
   * What `submit(req)` would hand the scheduler (SLURM: each chunk's sbatch script and any
   * multi-node wrapper), without creating or submitting anything. Optional: launchers that
   * submit no script (local) have nothing to show.
   */
  preview?(req: SubmitRequest): Promise<LaunchPreview[]>;
  /** Stop the sweep's jobs (gracefully; `force` kills at once). */
  cancel(sweep: SweepManifest, force: boolean): Promise<void>;
  /**
   * Call `cb` whenever a job this process started ends (a local worker exits), so a waiting loop
   * looks at the status files at once instead of at its next poll. Optional: a scheduler's jobs
   * end elsewhere.
   */
  onJobEnd?(cb: () => void): void;
}
