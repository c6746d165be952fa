/**
 * Terminal reporters: a live progress bar on a TTY, plain lines otherwise (CI logs, pipes).
 */
import cliProgress from "cli-progress";
import type { CorralEvent, Reporter, RunView } from "../app/events.js";
import type { RunState } from "../store/protocol.js";

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

const describeRun = (r: RunView): string => `run ${r.index}${r.job ? ` ${r.job}` : ""} [${r.overrides.join(" ")}]`;

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
            const line = `${red("✗")} ${describeRun(e.run)} ${e.run.state}${e.run.exitCode != null ? ` (exit ${e.run.exitCode})` : ""}${e.run.message ? `: ${e.run.message}` : ""}`;
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
