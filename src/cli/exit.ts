/**
 * Exit codes, decided in one place: 0 all good; 1 some run failed (or a check did); 2 bad input
 * or an impossible request, nothing started; 130 interrupted (128 + SIGINT).
 */
import { CommanderError } from "commander";
import { CorralError } from "../errors.js";

export type ExitCode = 0 | 1 | 2 | 130;

/** What a command ended with. */
export interface Outcome {
  /** The user (or a signal) stopped it. */
  interrupted?: boolean;
  /** The runs it waited for: any that did not succeed makes it 1. */
  runs?: ReadonlyArray<{ state: string }>;
  /** Failed checks (doctor) or other failures counted by the command. */
  failures?: number;
}

/** The exit code of a command that ended normally. */
export function exitCodeOf(o: Outcome): ExitCode {
  if (o.interrupted) return 130;
  // A pruned trial ended as its study decided: a result, not a failure.
  if (o.runs && !o.runs.every((r) => r.state === "succeeded" || r.state === "pruned")) return 1;
  if (o.failures) return 1;
  return 0;
}

/** The exit code of a command that ended with an error. */
export function exitCodeOfError(e: unknown): number {
  if (e instanceof CorralError) return e.exitCode;
  // commander's usage errors (unknown option, missing argument) are bad input.
  if (e instanceof CommanderError) return e.exitCode === 1 ? 2 : e.exitCode;
  return 1;
}
