/**
 * Parsers of SLURM command output (sbatch --parsable, squeue, sacct, scontrol). Pure functions
 * over strings: running the commands is the launcher's job. Formats were captured from
 * slurm-wlm 22.05 (Debian 12) on the project's test cluster.
 */
import { CorralError } from "../../errors.js";
import type { RunState } from "../../store/protocol.js";

/** `squeue -h -t all -o SQUEUE_FORMAT`: job id, long state, reason, nodes, elapsed, time left. */
export const SQUEUE_FORMAT = "%i|%T|%r|%N|%M|%L";
/** `sacct -P -n -X --format=SACCT_FORMAT`. */
export const SACCT_FORMAT = "JobID,State,ExitCode,Elapsed,NodeList";

const STATE_MAP: Record<string, RunState> = {
  PENDING: "pending",
  REQUEUED: "pending",
  REQUEUE_HOLD: "pending",
  REQUEUE_FED: "pending",
  RESV_DEL_HOLD: "pending",
  RUNNING: "running",
  COMPLETING: "running",
  CONFIGURING: "running",
  // A suspended or signalled job still holds its allocation and will go on.
  SUSPENDED: "running",
  STOPPED: "running",
  SIGNALING: "running",
  STAGE_OUT: "running",
  RESIZING: "running",
  COMPLETED: "succeeded",
  FAILED: "failed",
  OUT_OF_MEMORY: "failed",
  SPECIAL_EXIT: "failed",
  TIMEOUT: "timeout",
  PREEMPTED: "preempted",
  CANCELLED: "cancelled",
  REVOKED: "cancelled",
  NODE_FAIL: "lost",
  BOOT_FAIL: "lost",
  DEADLINE: "lost",
};

/**
 * Corral's state for a SLURM job state as squeue (`%T`), sacct or scontrol print it.
 * Tolerates sacct's `CANCELLED by 0`, a truncation `+` and lower case. Unknown states give
 * undefined: the caller decides (status files come first; the scheduler only explains the missing).
 */
export function slurmStateToRunState(state: string): RunState | undefined {
  const key = state.trim().split(/\s+/)[0]?.replace(/\+$/, "").toUpperCase() ?? "";
  return STATE_MAP[key];
}

/** `sbatch --parsable` prints `<jobid>` or `<jobid>;<cluster>`. */
export interface SbatchSubmission {
  jobId: string;
  cluster?: string;
}

/** Parses `sbatch --parsable` stdout. Throws CorralError E_SCHEDULER when no job id is there. */
export function parseSbatchParsable(stdout: string): SbatchSubmission {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines[lines.length - 1] ?? "";
  const m = /^(\d+)(?:;(\S+))?$/.exec(last);
  if (!m) throw new CorralError("E_SCHEDULER", `sbatch printed no job id: ${JSON.stringify(stdout.slice(0, 200))}`, { exitCode: 1 });
  return m[2] === undefined ? { jobId: m[1]! } : { jobId: m[1]!, cluster: m[2] };
}

/**
 * Expands a SLURM index list such as `4-9%2`, `1,3,5-7`, `0-15:4` (the part inside `[...]`).
 * Returns the task ids and the throttle (`%N`) when given. Throws on anything else.
 */
export function expandArrayIndexes(spec: string): { tasks: number[]; throttle?: number } {
  let body = spec.trim();
  let throttle: number | undefined;
  const pct = body.indexOf("%");
  if (pct >= 0) {
    throttle = Number(body.slice(pct + 1));
    body = body.slice(0, pct);
    if (!Number.isSafeInteger(throttle)) throw new CorralError("E_SCHEDULER", `bad array throttle in '${spec}'`, { exitCode: 1 });
  }
  const tasks: number[] = [];
  for (const part of body.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw new CorralError("E_SCHEDULER", `bad array index list '${spec}'`, { exitCode: 1 });
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1) throw new CorralError("E_SCHEDULER", `bad array step in '${spec}'`, { exitCode: 1 });
    for (let i = a; i <= b; i += step) tasks.push(i);
  }
  return throttle === undefined ? { tasks } : { tasks, throttle };
}

/** A SLURM job id split into its array parts. */
export interface JobIdParts {
  /** The id as SLURM printed it (`123`, `123_4`, `123_[4-9%2]`). */
  raw: string;
  /** The job id, or the array job id for array tasks. */
  jobId: string;
  /** Array task ids this row stands for; undefined for a job that is not an array. */
  tasks?: number[];
  throttle?: number;
}

/** Splits `123`, `123_5`, `123_[4-9%2]` (and a `123.batch` step: `jobId` 123, no tasks). */
export function parseJobId(raw: string): JobIdParts {
  const id = raw.trim();
  const m = /^(\d+)(?:_(?:(\d+)|\[([^\]]*)\]))?(?:[.+].*)?$/.exec(id);
  if (!m) throw new CorralError("E_SCHEDULER", `unrecognised SLURM job id '${raw}'`, { exitCode: 1 });
  if (m[2] !== undefined) return { raw: id, jobId: m[1]!, tasks: [Number(m[2])] };
  if (m[3] !== undefined) return { raw: id, jobId: m[1]!, ...expandArrayIndexes(m[3]) };
  return { raw: id, jobId: m[1]! };
}

/**
 * Seconds from a SLURM duration as squeue/sacct/scontrol print it: `M:SS`, `H:MM:SS`,
 * `D-HH:MM:SS`, optional `.mmm`. Undefined for `UNLIMITED`, `INVALID`, `NOT_SET`, `N/A`, empty.
 */
export function parseSlurmDuration(s: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** One row of `squeue -h -t all -o SQUEUE_FORMAT`. */
export interface SqueueRow extends JobIdParts {
  /** SLURM's long state name, e.g. `PENDING`. */
  slurmState: string;
  /** Corral's state; undefined for a state this module does not know. */
  state: RunState | undefined;
  /** `%r`; `None` when there is none. */
  reason: string;
  /** `%N`; empty while pending. */
  nodes: string;
  elapsedS?: number;
  /** Undefined for UNLIMITED, or INVALID once past the limit. */
  remainingS?: number;
}

/** Parses `squeue -h -o SQUEUE_FORMAT` output; blank lines are skipped, bad lines throw. */
export function parseSqueue(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("|");
    if (f.length < 6) throw new CorralError("E_SCHEDULER", `unexpected squeue line (want ${SQUEUE_FORMAT}): ${JSON.stringify(line)}`, { exitCode: 1 });
    const slurmState = f[1]!.trim();
    const row: SqueueRow = {
      ...parseJobId(f[0]!),
      slurmState,
      state: slurmStateToRunState(slurmState),
      reason: f[2]!.trim(),
      nodes: f[3]!.trim(),
    };
    const el = parseSlurmDuration(f[4]!);
    if (el !== undefined) row.elapsedS = el;
    const left = parseSlurmDuration(f[5]!);
    if (left !== undefined) row.remainingS = left;
    rows.push(row);
  }
  return rows;
}

/** One row of `sacct -P -n -X --format=SACCT_FORMAT`. */
export interface SacctRow extends JobIdParts {
  /** As printed, e.g. `CANCELLED by 0`. */
  slurmState: string;
  state: RunState | undefined;
  /** The exit status of the batch script (`3` in `3:0`). */
  exitCode: number;
  /** The signal that ended it (`9` in `0:9`), 0 when none. */
  signal: number;
  elapsedS?: number;
  nodes: string;
}

/** Parses `sacct -P -n -X --format=SACCT_FORMAT`; step rows (`123.batch`) are skipped. */
export function parseSacct(stdout: string): SacctRow[] {
  const rows: SacctRow[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("|");
    if (f.length < 5) throw new CorralError("E_SCHEDULER", `unexpected sacct line (want ${SACCT_FORMAT}): ${JSON.stringify(line)}`, { exitCode: 1 });
    if (/^\d+(_\S+)?\./.test(f[0]!.trim())) continue;
    const [code, sig] = (f[2] ?? "").split(":");
    const slurmState = f[1]!.trim();
    const row: SacctRow = {
      ...parseJobId(f[0]!),
      slurmState,
      state: slurmStateToRunState(slurmState),
      exitCode: Number(code) || 0,
      signal: Number(sig) || 0,
      nodes: f[4]!.trim(),
    };
    const el = parseSlurmDuration(f[3]!);
    if (el !== undefined) row.elapsedS = el;
    rows.push(row);
  }
  return rows;
}

/** True when sacct (or its stderr) says accounting is off: use squeue/scontrol instead. */
export function isAccountingDisabled(output: string): boolean {
  return /accounting storage is disabled/i.test(output);
}

/** True for scontrol/squeue's answer about a purged or unknown job (`Invalid job id specified`). */
export function isInvalidJobId(output: string): boolean {
  return /Invalid job id specified/i.test(output);
}

/** `scontrol show config` as a map of `Key = value` lines (values trimmed, units kept). */
export function parseScontrolConfig(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^([A-Za-z][\w/.:-]*)\s*=\s?(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!.trim());
  }
  return map;
}

/** Leading integer of a config value (`3600 sec` -> 3600); undefined when absent or not numeric. */
export function configInt(config: ReadonlyMap<string, string>, key: string): number | undefined {
  const m = /^(\d+)/.exec(config.get(key) ?? "");
  return m ? Number(m[1]) : undefined;
}

/** `MaxArraySize` (SLURM's default 1001 when absent). */
export function maxArraySize(config: ReadonlyMap<string, string>): number {
  return configInt(config, "MaxArraySize") ?? 1001;
}

/** `MaxJobCount` (SLURM's default 10000 when absent). */
export function maxJobCount(config: ReadonlyMap<string, string>): number {
  return configInt(config, "MaxJobCount") ?? 10000;
}

/**
 * `scontrol show job -o` (one record a line) as `Key -> value` maps. A field ends where the next
 * ` Key=` begins, so values with spaces (`Reason=...`, `Command=...`) survive unless they
 * themselves contain ` Word=`.
 */
export function parseScontrolJobs(stdout: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const line of stdout.split("\n")) {
    if (!/^\s*JobId=/.test(line)) continue;
    const rec: Record<string, string> = {};
    const re = /(?:^|\s)([A-Za-z][\w/:]*)=/g;
    const keys: Array<{ key: string; start: number; valueStart: number }> = [];
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      keys.push({ key: m[1]!, start: m.index, valueStart: m.index + m[0].length });
    }
    keys.forEach((k, i) => {
      const end = i + 1 < keys.length ? keys[i + 1]!.start : line.length;
      rec[k.key] = line.slice(k.valueStart, end).trim();
    });
    out.push(rec);
  }
  return out;
}

/** The fields of one `scontrol show job` record that the launcher needs. */
export interface ScontrolJob {
  jobId: string;
  /** Set for array tasks (and for a pending array's remaining tasks). */
  arrayJobId?: string;
  /** Task ids of this record (`ArrayTaskId=4` or `1-9%2`). */
  tasks?: number[];
  slurmState: string;
  state: RunState | undefined;
  reason: string;
  exitCode: number;
  signal: number;
  restarts: number;
  nodes: string;
}

/** Picks the launcher's fields out of a `parseScontrolJobs` record. */
export function scontrolJob(rec: Readonly<Record<string, string>>): ScontrolJob {
  const [code, sig] = (rec.ExitCode ?? "0:0").split(":");
  const slurmState = rec.JobState ?? "";
  const job: ScontrolJob = {
    jobId: rec.JobId ?? "",
    slurmState,
    state: slurmStateToRunState(slurmState),
    reason: rec.Reason ?? "",
    exitCode: Number(code) || 0,
    signal: Number(sig) || 0,
    restarts: Number(rec.Restarts ?? 0) || 0,
    nodes: rec.NodeList ?? "",
  };
  if (rec.ArrayJobId !== undefined) job.arrayJobId = rec.ArrayJobId;
  if (rec.ArrayTaskId !== undefined && rec.ArrayTaskId !== "N/A") job.tasks = expandArrayIndexes(rec.ArrayTaskId).tasks;
  return job;
}

/**
 * Pending reasons (squeue `%r`, squeue(1) "JOB REASON CODES") that waiting never clears: the
 * request itself exceeds what the partition, account or QOS allows, or names something that does
 * not exist. Reasons that clear as other jobs end or nodes return (`Resources`, `Priority`,
 * `AssocMaxJobsLimit`, `ReqNodeNotAvail`, `PartitionDown`, held jobs) are not here.
 */
const PERMANENT_REASONS = new Set([
  "PartitionConfig",
  "PartitionNodeLimit",
  "PartitionTimeLimit",
  "BadConstraints",
  "InvalidAccount",
  "InvalidQOS",
  "DependencyNeverSatisfied",
  "AccountNotAllowed",
  "QOSNotAllowed",
]);

/** True when a pending job's reason can never clear by waiting (see PERMANENT_REASONS). */
export function isPermanentReason(reason: string): boolean {
  const r = reason.trim();
  // Limits per job of a QOS or association (QOSMaxWallDurationPerJobLimit, AssocMaxCpuPerJobLimit,
  // QOSMaxGRESPerJob, ...): this job alone exceeds them, whatever else runs.
  return PERMANENT_REASONS.has(r) || /^(QOS|Assoc)Max\w*PerJob(Limit)?$/.test(r);
}
