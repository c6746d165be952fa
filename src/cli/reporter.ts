/**
 * Terminal reporters: a live progress bar on a TTY, plain lines otherwise (CI logs, pipes).
 */
import cliProgress from "cli-progress";
import path from "node:path";
import { tailLines } from "../store/store.js";
import type { CorralEvent, Reporter, RunView } from "../engine/events.js";
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

export function makeTerminalReporter(opts: { json: boolean; quiet: boolean }): Reporter & { close(): void } {
  if (opts.json) {
    return {
      emit: (e: CorralEvent) => {
        if (e.type !== "progress") process.stdout.write(JSON.stringify(e) + "\n");
      },
      close: () => undefined,
    };
  }
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = "";
  return {
    emit(e: CorralEvent) {
      switch (e.type) {
        case "sweep-created":
          process.stderr.write(`corral: ${e.runs} run${e.runs === 1 ? "" : "s"} in ${e.dir} (${e.launcher})\n`);
          break;
        case "submitted":
          process.stderr.write(`corral: submitted ${e.runs} run${e.runs === 1 ? "" : "s"} as ${e.jobs.join(", ")}\n`);
          break;
        case "info":
          bar?.stop();
          bar = undefined;
          process.stderr.write(`corral: ${e.message}\n`);
          break;
        case "warning":
          process.stderr.write(yellow(`corral: warning: ${e.message}`) + "\n");
          break;
        case "run-ended":
          if (e.run.state !== "succeeded" && !opts.quiet) {
            const line = `${red("✗")} ${describeRun(e.run)} ${outcomeText(e.run)}`;
            if (bar) bar.stop();
            process.stderr.write(line + "\n");
            bar = undefined;
          }
          break;
        case "progress": {
          const done = e.total - e.counts.pending - e.counts.running;
          if (tty && !opts.quiet) {
            if (!bar) {
              bar = new cliProgress.SingleBar(
                { format: "{bar} {value}/{total} | {counts}", hideCursor: true, clearOnComplete: false, stream: process.stderr, barsize: 30 },
                cliProgress.Presets.shades_classic,
              );
              bar.start(e.total, done, { counts: formatCounts(e.counts) });
            } else bar.update(done, { counts: formatCounts(e.counts) });
          } else if (!opts.quiet) {
            const line = `${done}/${e.total} done (${formatCounts(e.counts)})`;
            if (line !== lastLine) process.stderr.write(`corral: ${line}\n`);
            lastLine = line;
          }
          break;
        }
      }
    },
    close() {
      bar?.stop();
    },
  };
}

/**
 * The end-of-command summary: counts, then each failed run with its exit code and stderr tail,
 * then how to rerun. `dependents: true` (pipelines) reports cancelled runs as one count: they
 * are jobs that never started because something they needed failed.
 */
export function printFailureSummary(runs: RunView[], dir: string, opts: { dependents?: boolean } = {}): void {
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const bad = runs.filter((r) => r.state !== "succeeded");
  const line = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "no runs";
  process.stderr.write(`corral: ${bad.length ? red(line) : green(line)} — ${dir}\n`);
  if (!bad.length) return;
  const listed = opts.dependents ? bad.filter((r) => r.state !== "cancelled") : bad;
  if (listed.length) process.stderr.write(`\nFailures (${listed.length}):\n`);
  for (const r of listed.slice(0, 20)) {
    const who = r.job ?? describeRun(r);
    process.stderr.write(`  ${who}: ${outcomeText(r)}\n`);
    for (const l of tailLines(path.join(r.dir, STDERR))) process.stderr.write(dim(`      | ${l}`) + "\n");
  }
  if (listed.length > 20) process.stderr.write(`  ... and ${listed.length - 20} more (corral status)\n`);
  const cancelled = bad.length - listed.length;
  if (cancelled > 0) process.stderr.write(`${cancelled} job${cancelled === 1 ? "" : "s"} not started because of the failures${listed.length ? "" : " or the stop"}\n`);
  const rel = path.relative(process.cwd(), dir) || ".";
  process.stderr.write(`rerun ${opts.dependents ? "with" : "them with"}: corral resume ${bad.some((r) => r.state === "failed") ? "--retry-failed " : ""}${rel}${opts.dependents ? "  (or corral flow again)" : ""}\n`);
}
