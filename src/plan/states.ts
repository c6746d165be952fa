/** Run states: a closed union, shared by every layer (pure). */
/** The closed set of run states. `deriveStatus` (store/status.ts) is the one place that decides. */
export type RunState =
  | "pending"
  | "running"
  | "succeeded"
  | "failed"
  | "timeout"
  | "preempted"
  | "cancelled"
  /** Stopped early by a study's early stopping (ASHA) at a rung: counts as a trial, never rerun. */
  | "pruned"
  | "lost"
  /** Its status record exists but cannot be read (empty, garbage, wrong types): never rerun without asking. */
  | "unknown";

export const RUN_STATES: readonly RunState[] = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "timeout",
  "preempted",
  "cancelled",
  "pruned",
  "lost",
  "unknown",
];

export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(["succeeded", "failed", "timeout", "preempted", "cancelled", "pruned", "lost"]);
