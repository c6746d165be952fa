/**
 * The one place that decides a run's state from what is on disk (its own status file) and,
 * optionally, what the scheduler says about its job. Pure.
 */
import type { RunState, RunStatusRecord } from "./protocol.js";
import { TERMINAL_STATES } from "./protocol.js";

/** What else is known about the process or job that should be running a run. */
export interface LivenessFacts {
  /** The worker process is known alive (same host, pid answers) / known dead; undefined = unknown. */
  workerAlive?: boolean;
  /** The scheduler's word on the run's job, when the status file cannot explain it. */
  scheduler?: RunState | "unknown";
  /** Why the scheduler keeps the job waiting (SLURM's `squeue %r`, e.g. `Resources`, `Priority`). */
  reason?: string;
  /**
   * The job can never start (its `reason` cannot clear by waiting: a partition too small, an
   * invalid account or QOS). A run that has not started is then `failed`, with the reason.
   */
  blocked?: boolean;
  /**
   * The job ran but could not start its worker (its Node.js missing or too old), with the reason
   * the job left. A run that has not started is then `failed` with it: trying again the same way
   * cannot help.
   */
  workerFailed?: string;
}

/** The facts that hold however fresh the status files are: why a job waits, whether it ever can, and a worker that could not start. */
export function waitingFacts(facts: LivenessFacts | undefined): LivenessFacts {
  if (!facts) return {};
  return { ...(facts.reason !== undefined ? { reason: facts.reason } : {}), ...(facts.blocked ? { blocked: true } : {}), ...(facts.workerFailed !== undefined ? { workerFailed: facts.workerFailed } : {}) };
}

/**
 * What to tell the user about a run the scheduler explains: why it waits, or why it never will.
 * Undefined when the facts say nothing beyond the state.
 */
export function factsMessage(state: RunState, facts: LivenessFacts | undefined): string | undefined {
  if (facts?.workerFailed !== undefined && state === "failed") return facts.workerFailed;
  if (!facts?.reason) return undefined;
  if (facts.blocked && state === "failed") return `the scheduler can never start its job: ${facts.reason}`;
  if (state === "pending") return `waiting in the queue: ${facts.reason}`;
  return undefined;
}

/** A running run whose heartbeat is older than this is presumed lost unless its worker is known alive. */
export const HEARTBEAT_STALE_MS = 120_000;

export function deriveStatus(record: RunStatusRecord | undefined, now: number, facts: LivenessFacts = {}): RunState {
  // Not started, and its job never will: failed, so whoever waits stops waiting.
  if ((!record || record.state === "pending") && (facts.blocked || facts.workerFailed !== undefined)) return "failed";
  if (!record) {
    // Never started: the scheduler explains pending vs cancelled vs lost. A job that ended
    // (failed, or even succeeded) without starting the run lost it: the run itself never failed,
    // so it goes again by max_attempts, not by retries.
    if (facts.scheduler === "failed" || facts.scheduler === "succeeded") return "lost";
    if (facts.scheduler && facts.scheduler !== "unknown" && facts.scheduler !== "running") return facts.scheduler;
    return "pending";
  }
  if (TERMINAL_STATES.has(record.state)) return record.state;
  if (record.state === "running") {
    if (facts.workerAlive === true) return "running";
    if (facts.workerAlive === false) return "lost";
    if (facts.scheduler && facts.scheduler !== "unknown" && facts.scheduler !== "running" && facts.scheduler !== "pending") {
      // Job ended (cancelled, timeout, node failure) while the run still said "running".
      return facts.scheduler === "succeeded" || facts.scheduler === "failed" ? "lost" : facts.scheduler;
    }
    if (now - record.updatedAt > HEARTBEAT_STALE_MS) return "lost";
    return "running";
  }
  return record.state;
}

/** Counts by state, in the fixed order of RUN_STATES. */
export function countStates(states: Iterable<RunState>): Record<RunState, number> {
  const c: Record<RunState, number> = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    timeout: 0,
    preempted: 0,
    cancelled: 0,
    pruned: 0,
    lost: 0,
    unknown: 0,
  };
  for (const s of states) c[s]++;
  return c;
}
