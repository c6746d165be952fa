/**
 * Every file and folder name of the store, in one place (DESIGN.md "On disk"). Nothing else
 * spells them: readers and writers in every layer import these.
 *
 * ```
 * <project>/.corral/               project index
 *   sweeps/<id>.json               one small file per sweep (no shared appends over NFS)
 *   flow/records/, flow/incomplete/, flow/.lock    what `corral flow` remembers
 *   flow-alloc/                    single-allocation flows' batch scripts and logs
 * <sweep>/                         one sweep (or flow)
 *   sweep.json                     the manifest (runs, jobs, settings)
 *   flow.json                      a flow's resolved jobs
 *   .lock                          the sweep lock (pid, host, what)
 *   .corral/batch-*.json(.pid|.log)  local workers: batch file, registration, log; head.log
 *   .slurm/                        sbatch scripts, batch files (.pid, .done), job logs,
 *                                  cancel-requested (the marker `corral cancel` writes first)
 *   <run>/                         config.yaml overrides.yaml status.json stdout.log
 *                                  stderr.log metrics.jsonl exit-<attempt>.json
 *                                  claim-<attempt>.<seq> (a hard link to a worker identity)
 *   .corral/workers/<batch>@<host>.<pid>.json   a worker's identity: what its claims link to
 * ```
 */
import path from "node:path";

/** `<sweep>/sweep.json`. */
export const MANIFEST = "sweep.json";
/** `<sweep>/flow.json`. */
export const FLOW_FILE = "flow.json";
/** `<sweep>/.lock` (and `<project>/.corral/flow/.lock`). */
export const LOCK = ".lock";
/** `<sweep>/.corral/`: local workers' batch files, registrations and logs; a detached head's log. */
export const SWEEP_WORK_DIR = ".corral";
/** `<sweep>/.corral/head.log`. */
export const HEAD_LOG = "head.log";
/** `<sweep>/.slurm/`: sbatch scripts, batch files, job logs. */
export const SLURM_DIR = ".slurm";
/** `<sweep>/.slurm/cancel-requested`: written by `corral cancel` before scancel. */
export const CANCEL_MARKER = "cancel-requested";
/** `<batch file>.done`: the worker ran every run of its batch (not preempted). */
export const BATCH_DONE_SUFFIX = ".done";
/** `<batch file>.nostart`: the job could not start the worker (its Node.js missing or too old); holds the reason. */
export const BATCH_NOSTART_SUFFIX = ".nostart";

/** `<run>/status.json`: written only by the worker running the attempt (see docs/reliability.md). */
export const STATUS = "status.json";
/** `<run>/config.yaml`: the run's composed config (CORRAL_CONFIG). */
export const RUN_CONFIG = "config.yaml";
/** `<run>/overrides.yaml`. */
export const RUN_OVERRIDES = "overrides.yaml";
export const STDOUT = "stdout.log";
export const STDERR = "stderr.log";
/** `<run>/trial.json`: a study's trial, recorded before it starts (its number and params). */
export const TRIAL = "trial.json";
/** `<run>/prune-request.json`: the head's word that a study's early stopping stops this run (rung, value). */
export const PRUNE_REQUEST = "prune-request.json";
/** `<run>/metrics.jsonl`: JSON lines the run appends. */
export const METRICS = "metrics.jsonl";
/**
 * Metric files other loggers write inside a run folder, found without the app changing
 * (docs/results.md "Where metrics come from"): TensorBoard event files, PyTorch Lightning's
 * CSVLogger (`lightning_logs/version_N/metrics.csv`), W&B offline runs
 * (`wandb/offline-run-*\/run-*.wandb`, or an old `wandb-history.jsonl`).
 */
export const FOREIGN_METRICS = {
  tensorboard: (name: string): boolean => name.startsWith("events.out.tfevents."),
  lightning: (name: string): boolean => name === "metrics.csv",
  wandb: (name: string, parent: string): boolean => /^run-[\w.-]*\.wandb$/.test(name) && /^(offline-)?run-/.test(parent),
  wandbHistory: (name: string): boolean => name === "wandb-history.jsonl",
};
/**
 * `<run>/exit-<attempt>.json`: the attempt's exit (code, signal, orphaned), written by the worker's
 * spawn helper the moment it reaps the run, before the worker records its status.
 */
export const runExitFile = (runDir: string, attempt: number): string => path.join(runDir, `exit-${attempt}.json`);

/**
 * `<run>/claim-<attempt>.<seq>`: a worker's claim of one attempt of a run, made by `link()`ing
 * its identity file to this name (atomic, NFS included; EEXIST means another worker has it).
 * `seq` counts takeovers of the same attempt (a requeued job) once the earlier claimant is over
 * or dead (docs/reliability.md).
 */
export const claimFile = (runDir: string, attempt: number, seq: number): string => path.join(runDir, `claim-${attempt}.${seq}`);
/** Parses a claim's file name: [attempt, seq], or undefined for any other name. */
export function parseClaimName(name: string): [number, number] | undefined {
  const m = /^claim-(\d+)\.(\d+)$/.exec(name);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
/** `<sweep>/.corral/workers/`: one identity file per worker process. */
export const workersDirOf = (sweepDir: string): string => path.join(sweepDir, SWEEP_WORK_DIR, "workers");
/** `<sweep>/.corral/workers/<batch>@<host>.<pid>.json`: the identity a worker's claims link to. */
export const workerIdentityFile = (sweepDir: string, batchId: string, host: string, pid: number): string =>
  path.join(workersDirOf(sweepDir), `${batchId}@${host}.${pid}.json`);

/** `<identity>.ballast`: room a worker keeps in reserve to record finished runs on a full disk. */
export const workerBallastFile = (identityFile: string): string => `${identityFile}.ballast`;

/**
 * `<folder output>/.corral_timestamp`: written when the job that makes a folder output succeeds
 * (as Snakemake's `.snakemake_timestamp`); the folder's time is this file's, so files added
 * inside later do not make it look new.
 */
export const FOLDER_DONE_MARKER = ".corral_timestamp";

/** `<project>/.corral/`: the project index. */
export const PROJECT_INDEX_DIR = ".corral";
/** `<project>/.corral/sweeps/`. */
export const SWEEP_INDEX_DIR = path.join(PROJECT_INDEX_DIR, "sweeps");
/** `<project>/.corral/flow/`: build records, incomplete marks, the flow lock. */
export const FLOW_STATE_DIR = path.join(PROJECT_INDEX_DIR, "flow");
/** `<project>/.corral/doctor-probe/`: `corral doctor --probe`'s job files (removed when it ends). */
export const DOCTOR_PROBE_DIR = path.join(PROJECT_INDEX_DIR, "doctor-probe");
/** `<project>/.corral/flow-alloc/`: single-allocation flows. */
export const FLOW_ALLOC_DIR = path.join(PROJECT_INDEX_DIR, "flow-alloc");

export const sweepWorkDir = (sweepDir: string): string => path.join(sweepDir, SWEEP_WORK_DIR);
/** `<sweep>/.corral/study-recipe.json`: how a study's trials are composed (protocol.ts StudyRecipe). */
export const studyRecipeFile = (sweepDir: string): string => path.join(sweepDir, SWEEP_WORK_DIR, "study-recipe.json");
export const slurmDirOf = (sweepDir: string): string => path.join(sweepDir, SLURM_DIR);
export const cancelMarkerOf = (sweepDir: string): string => path.join(sweepDir, SLURM_DIR, CANCEL_MARKER);
