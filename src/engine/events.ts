/**
 * Events out, reporters in: the core emits these; the terminal view, the JSON event log and the
 * dashboard subscribe. Library code never prints.
 */
import type { RunState } from "../store/protocol.js";

export interface RunView {
  index: number;
  id: string;
  dir: string;
  state: RunState;
  overrides: string[];
  attempt: number;
  exitCode?: number | null;
  host?: string;
  jobId?: string;
  gpus?: string[];
  startedAt?: number;
  endedAt?: number;
  message?: string;
  job?: string;
}

export type CorralEvent =
  | { type: "sweep-created"; dir: string; runs: number; launcher: string }
  | { type: "submitted"; jobs: string[]; runs: number }
  | { type: "progress"; counts: Record<RunState, number>; total: number; running: RunView[] }
  | { type: "run-ended"; run: RunView }
  | { type: "info"; message: string }
  | { type: "warning"; message: string };

export interface Reporter {
  emit(e: CorralEvent): void;
}

