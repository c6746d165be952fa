/**
 * One interface for every place runs execute. Each implementation lives in its own folder and
 * is named only by `registry.ts`; everything above the launchers talks to this interface.
 */
import type { JobEntry, LaunchSettings, RunSpec, SweepManifest } from "../store/protocol.js";
import type { LivenessFacts } from "../store/status.js";

/**
 * Resolved launcher settings, a union on `type`: `LocalLaunchSettings | SlurmLaunchSettings`,
 * common fields in `LaunchSettingsBase`, only the SLURM variant with SLURM's. `sweep.json` records
 * them, so their types live with the other records in store/protocol.ts.
 */
export type { JobScheduling, LaunchSettings, LaunchSettingsBase, LocalLaunchSettings, MultinodeSettings, SlurmLaunchSettings, SlurmSettings } from "../store/protocol.js";
import type { JobScheduling } from "../store/protocol.js";

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
  /** A pipeline rule's scheduler settings: a scheduler's launcher checks them (the local one ignores them). */
  scheduling?: JobScheduling | undefined;
  /** Where each key of `scheduling` is written (`partition` -> `rules.train.resources.partition`), in `location.file`. */
  schedulingAt?: Record<string, string>;
}

/** What each run of one submission needs (pipelines: per rule; sweeps: `resources`). */
export interface RunNeed {
  cpus: number;
  gpus: number;
  memMB: number;
  timeoutS?: number | undefined;
  /** The jobs' own scheduler settings (a pipeline rule's), put over the launcher's. */
  scheduling?: JobScheduling | undefined;
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

/** One line of `corral doctor`'s checklist. `ok: false` makes `corral doctor` exit 1. */
export interface DoctorCheck {
  ok: boolean;
  /** What was checked or what will happen, e.g. `partition 'gpu' exists`. */
  title: string;
  /** Found value, e.g. the path of `sbatch`. */
  detail?: string;
  /** What to do about a failed check. */
  hint?: string;
}

/** Result of running one program. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Spawn error or timeout, when the program did not run to an exit code. */
  error?: string;
}

/** How doctor reaches the host (a fake one in tests). */
export interface DoctorHost {
  which(cmd: string): string | undefined;
  run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult>;
  exists(p: string): boolean;
  isDir(p: string): boolean;
  execPath: string;
  home: string;
  env: Record<string, string | undefined>;
}

/** What `corral doctor` tells a launcher about the project it checks. */
export interface DoctorContext {
  host: DoctorHost;
  /** The project file, for messages that name a key. */
  file: string;
  /** What each run asks (the project's `resources`), as `corral run` hands them to `validate`. */
  asks: readonly ResourceAsk[];
  /** The runs execute in a container (tools they need live in the image, not on this host). */
  container: boolean;
  /** The container runtime's program the runs need (`apptainer`, `ch-run`, ...), when the project names one. */
  containerCommand?: string;
  /** The project folder (the probe job looks for it on its compute node). */
  projectDir: string;
  /** `corral doctor --probe`: submit one tiny job and wait up to `timeoutS` for it. */
  probe?: { timeoutS: number };
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
  /**
   * `corral doctor`'s lines for this launcher: what it will do with `settings`, what `corral run`
   * would refuse, and whether the host can do it (SLURM: the commands answer, the partition exists,
   * the GPUs per job fit). Optional: without it doctor says only what `validate` refuses.
   */
  doctor?(settings: LaunchSettings, ctx: DoctorContext): Promise<DoctorCheck[]>;
  /** Stop the sweep's jobs (gracefully; `force` kills at once). */
  cancel(sweep: SweepManifest, force: boolean): Promise<void>;
  /**
   * Call `cb` whenever a job this process started ends (a local worker exits), so a waiting loop
   * looks at the status files at once instead of at its next poll. Optional: a scheduler's jobs
   * end elsewhere.
   */
  onJobEnd?(cb: () => void): void;
}
