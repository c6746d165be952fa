/**
 * Terminal reporters and the end-of-command summary: a live view on a TTY, stamped lines otherwise
 * (CI logs, pipes).
 */
import path from "node:path";
import { tailLines } from "../store/store.js";
import type { Reporter, RunView } from "../engine/events.js";
import { makeWatchReporter, timeStamp } from "./watch-view.js";
import type { RunState } from "../store/protocol.js";
import { STDERR } from "../store/layout.js";

const COLORS = process.stdout.isTTY && !process.env.NO_COLOR;
const c = (code: number, s: string): string => (COLORS ? `\u001b[${code}m${s}\u001b[0m` : s);
export const red = (s: string): string => c(31, s);
export const green = (s: string): string => c(32, s);
export const yellow = (s: string): string => c(33, s);
export const dim = (s: string): string => c(2, s);

export function formatCounts(counts: Record<RunState, number>): string {
  return (Object.entries(counts) as Array<[RunState, number]>)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
}

/** `run 3 [lr=0.1 seed=0]`; a run without overrides (a single run, a pipeline job) shows no `[]`. */
const describeRun = (r: RunView): string => `run ${r.index}${r.job ? ` ${r.job}` : ""}${r.overrides.length ? ` [${r.overrides.join(" ")}]` : ""}`;

/**
 * How a run ended, naming the cause once: `failed: exited with code 3`, `failed: killed by
 * SIGSEGV`, `failed: cannot start 'pythn': command not found on PATH`, `timeout (exit 143):
 * exceeded its timeout of 5s`. The exit code is left out when the message already says it (a
 * code, a signal), or when the run never started (127 is then corral's, not the run's).
 */
export function outcomeText(r: Pick<RunView, "state" | "exitCode" | "message">): string {
  const msg = r.message;
  const saysCode = msg !== undefined && r.exitCode != null && (msg.includes(`code ${r.exitCode}`) || msg.startsWith("cannot start") || msg.startsWith("killed by"));
  const code = r.exitCode != null && !saysCode ? ` (exit ${r.exitCode})` : "";
  return `${r.state}${code}${msg ? `: ${msg}` : ""}`;
}

/** Options of {@link makeTerminalReporter}. */
export interface TerminalReporterOptions {
  json: boolean;
  /** Events only, no progress (a single run that streams its own output). */
  quiet: boolean;
  /** `-p`: the line to print when a run starts (its command). */
  startLine?: (r: RunView) => string | undefined;
}

/**
 * The view of `corral run`, `corral resume` and `corral flow` (see watch-view.ts): on a TTY a
 * redrawn block under whole event lines, elsewhere `[HH:MM:SS]`-stamped lines; `--json` gives
 * JSON event lines on stdout.
 */
export function makeTerminalReporter(opts: TerminalReporterOptions): Reporter & { close(): void } {
  return makeWatchReporter({ json: opts.json, ...(opts.quiet ? { eventsOnly: true } : {}), ...(opts.startLine ? { startLine: opts.startLine } : {}) });
}

/** One line to stderr as the view would write it: `[HH:MM:SS]`-stamped when stderr is not a terminal. */
export function say(line: string): void {
  const stamp = process.stderr.isTTY ? "" : timeStamp(Date.now());
  process.stderr.write(line.split("\n").map((l) => (l ? stamp + l : l)).join("\n") + "\n");
}

/**
 * The end-of-command summary: counts, then each failed run with its exit code and stderr tail,
 * then how to rerun. `dependents: true` (pipelines) reports cancelled runs as one count: they
 * are jobs that never started because something they needed failed.
 */
export function printFailureSummary(runs: RunView[], dir: string, opts: { dependents?: boolean } = {}): void {
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.state] = (counts[r.state] ?? 0) + 1;
  // Pruned trials (a study's early stopping) ended as decided: counted, not failures.
  const bad = runs.filter((r) => r.state !== "succeeded" && r.state !== "pruned");
  const line = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "no runs";
  const out: string[] = [];
  const flush = (): void => say(out.join("\n"));
  out.push(`corral: ${bad.length ? red(line) : green(line)} — ${dir}`);
  if (!bad.length) return flush();
  const listed = opts.dependents ? bad.filter((r) => r.state !== "cancelled") : bad;
  if (listed.length) out.push("", `Failures (${listed.length}):`);
  for (const r of listed.slice(0, 20)) {
    const who = r.job ?? describeRun(r);
    out.push(`  ${who}: ${outcomeText(r)}`);
    for (const l of tailLines(path.join(r.dir, STDERR))) out.push(dim(`      | ${l}`));
  }
  if (listed.length > 20) out.push(`  ... and ${listed.length - 20} more (corral status)`);
  const cancelled = bad.length - listed.length;
  if (cancelled > 0) out.push(`${cancelled} job${cancelled === 1 ? "" : "s"} not started because of the failures${listed.length ? "" : " or the stop"}`);
  const rel = path.relative(process.cwd(), dir) || ".";
  out.push(`rerun ${opts.dependents ? "with" : "them with"}: corral resume ${bad.some((r) => r.state === "failed") ? "--retry-failed " : ""}${rel}${opts.dependents ? "  (or corral flow again)" : ""}`);
  flush();
}
