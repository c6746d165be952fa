/**
 * The automatic resubmission policy: after a wait ends, which runs go again, with which attempt
 * number and resources. Pure (plain records in, plain records out), so the rules are unit-tested
 * without a scheduler; `launch.ts` does the resubmitting.
 */
import type { RunState } from "./states.js";

/** The launcher's resubmission settings (`launcher.max_attempts`, `retries`, `retry_scaling`). */
export interface RetryPolicy {
  /** Attempts in all for runs that ended `timeout`, `preempted`, `lost` or were never started. @default 3 */
  maxAttempts: number;
  /** Extra attempts for runs that `failed` (a non-zero exit). @default 0 */
  retries: number;
  /** Per-attempt resource factors for SLURM: `{mem: 2}` doubles `--mem` at each attempt. */
  scaling?: { mem?: number };
}

/** How one run ended the last wait, as `waitForSweep` saw it. */
export interface RunOutcome {
  index: number;
  state: RunState;
  /** The attempt that just ended (0 when the run has no status record at all). */
  attempt: number;
  /** A `timeout` from the run's own `resources.timeout` (not the allocation's limit): treated as a failure. */
  runTimeout?: boolean;
}

/** One run to submit again. */
export interface Resubmission {
  index: number;
  /** The attempt number of the new submission. */
  attempt: number;
  /** CORRAL_RESUMED=1: the run was stopped from outside (time limit, preemption, node loss) and may carry on from a checkpoint. */
  resumed: boolean;
  /** The state that caused it. */
  after: RunState;
}

export const DEFAULT_MAX_ATTEMPTS = 3;

/** Runs stopped from outside: not the run's fault, so they go again up to `maxAttempts`. */
const EXTERNAL: ReadonlySet<RunState> = new Set(["timeout", "preempted", "lost"]);

/**
 * Decide which runs to resubmit. Succeeded and cancelled runs never go again (a cancel is the
 * user's word). Runs left `pending` when no job is alive (the worker deferred them because they
 * could not finish before the allocation's end, or the job died before starting them) count as
 * an attempt, so a run that never fits cannot loop for ever.
 */
export function planResubmissions(outcomes: readonly RunOutcome[], policy: RetryPolicy): Resubmission[] {
  const out: Resubmission[] = [];
  for (const o of outcomes) {
    const attempt = Math.max(1, o.attempt);
    const ownFault = o.state === "failed" || (o.state === "timeout" && o.runTimeout === true);
    if (!ownFault && (EXTERNAL.has(o.state) || o.state === "pending")) {
      if (attempt < policy.maxAttempts) out.push({ index: o.index, attempt: attempt + 1, resumed: o.state !== "pending", after: o.state });
    } else if (ownFault) {
      if (attempt <= policy.retries) out.push({ index: o.index, attempt: attempt + 1, resumed: false, after: o.state });
    }
  }
  return out;
}

const MEM_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 * 1024 * 1024 };

/** Memory such as `"4G"`, `"500M"`, `"1.5GB"` in megabytes; undefined when it cannot be read. */
export function memToMb(mem: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP])?(?:i?B)?$/i.exec(mem.trim());
  if (!m) return undefined;
  return Number(m[1]) * MEM_UNITS[(m[2] ?? "M").toUpperCase()]!;
}

/** `mem` times `factor^(attempt-1)`, written in whole megabytes (`"8192M"`); unchanged for attempt 1. */
export function scaleMem(mem: string, factor: number, attempt: number): string {
  const mb = memToMb(mem);
  if (mb === undefined || attempt <= 1 || factor === 1) return mem;
  return `${Math.ceil(mb * factor ** (attempt - 1))}M`;
}
