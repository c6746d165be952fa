/**
 * The live terminal view of `corral status --watch` (and of an attached `corral run`): counts,
 * a progress bar, the running runs with node and elapsed time, failures as they happen.
 * On a TTY the block redraws in place; elsewhere (CI logs, pipes) it prints plain lines on change.
 */
import type { CorralEvent, Reporter, RunView } from "../engine/events.js";
import type { RunState } from "../store/protocol.js";

/** Where the view writes; process.stderr by default. */
export interface WatchStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface WatchViewOptions {
  stream?: WatchStream;
  /** Force TTY (redraw) or plain mode; default: the stream's isTTY. */
  tty?: boolean;
  /** Colour escapes; default: TTY and no NO_COLOR. */
  color?: boolean;
  /** Running runs listed at most. @default 8 */
  maxRunning?: number;
  now?: () => number;
  /** JSON event lines on stdout instead of a view (for scripts). */
  json?: boolean;
}

/** What one frame shows. */
export interface WatchFrameInput {
  counts: Record<RunState, number>;
  total: number;
  running: RunView[];
  /** When the watch started (for the overall elapsed time). */
  since: number;
}

const ORDER: RunState[] = ["running", "failed", "timeout", "preempted", "cancelled", "lost", "succeeded", "pending"];
const CODES: Record<RunState, number> = { pending: 2, running: 36, succeeded: 32, failed: 31, timeout: 33, preempted: 35, cancelled: 2, lost: 31, unknown: 33 };

/** `75s` -> `1m15s`, `3700s` -> `1h01m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** A bar of `width` cells: done runs full, the running share half-shaded. */
export function progressBar(done: number, running: number, total: number, width = 30): string {
  if (total <= 0) return " ".repeat(width);
  const full = Math.round((done / total) * width);
  const half = Math.min(width - full, Math.round((running / total) * width));
  return "█".repeat(full) + "▒".repeat(half) + "░".repeat(width - full - half);
}

const FINAL_STATES: RunState[] = ["succeeded", "failed", "timeout", "preempted", "cancelled", "lost"];

/** The lines of one frame, each cut to `width` columns. Pure. */
export function renderWatchFrame(f: WatchFrameInput, now: number, opts: { width?: number; color?: boolean; maxRunning?: number } = {}): string[] {
  const paint = (code: number, s: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const done = FINAL_STATES.reduce((n, s) => n + f.counts[s], 0);
  const pct = f.total ? Math.floor((100 * done) / f.total) : 100;
  const counts = ORDER.filter((s) => f.counts[s] > 0).map((s) => paint(CODES[s], `${f.counts[s]} ${s}`)).join(" · ");
  const lines = [`${progressBar(done, f.counts.running, f.total)} ${done}/${f.total} ${pct}%  ${counts}  ${paint(2, formatElapsed(now - f.since))}`];
  const max = opts.maxRunning ?? 8;
  const running = [...f.running].sort((a, b) => (a.startedAt ?? now) - (b.startedAt ?? now));
  for (const r of running.slice(0, max)) {
    const where = [r.host ? `on ${r.host}` : "", r.jobId ? `job ${r.jobId}` : "", r.gpus?.length ? `gpu ${r.gpus.join(",")}` : ""].filter(Boolean).join("  ");
    const label = r.job ?? r.overrides.join(" ");
    lines.push(`  ${paint(36, "▶")} run ${String(r.index).padEnd(4)} ${formatElapsed(now - (r.startedAt ?? now)).padStart(6)}  ${label}${where ? "  " + paint(2, where) : ""}`);
  }
  if (running.length > max) lines.push(paint(2, `  … ${running.length - max} more running`));
  const width = opts.width;
  // Cut by visible characters; escape sequences do not take columns.
  return width ? lines.map((l) => cutVisible(l, width)) : lines;
}

function cutVisible(s: string, width: number): string {
  let out = "";
  let seen = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\u001b") {
      const end = s.indexOf("m", i);
      out += s.slice(i, end + 1);
      i = end;
      continue;
    }
    if (seen >= width) continue;
    out += s[i];
    seen++;
  }
  return out;
}

/** A failure line, printed once and kept above the live block. */
export function failureLine(r: RunView, color = false): string {
  const red = (s: string): string => (color ? `\u001b[31m${s}\u001b[0m` : s);
  const saysCode = r.message !== undefined && r.exitCode != null && (r.message.includes(`code ${r.exitCode}`) || r.message.startsWith("cannot start") || r.message.startsWith("killed by"));
  return `${red("✗")} run ${r.index}${r.job ? ` ${r.job}` : ""}${r.overrides.length ? ` [${r.overrides.join(" ")}]` : ""} ${r.state}${r.exitCode != null && !saysCode ? ` (exit ${r.exitCode})` : ""}${r.host ? ` on ${r.host}` : ""}${r.message ? `: ${r.message}` : ""}`;
}

/** The Reporter for `corral status --watch`: plug it where makeTerminalReporter was. */
export function makeWatchReporter(opts: WatchViewOptions = {}): Reporter & { close(): void } {
  if (opts.json) {
    return {
      emit: (e: CorralEvent) => {
        if (e.type !== "progress") process.stdout.write(JSON.stringify(e) + "\n");
      },
      close: () => undefined,
    };
  }
  const out: WatchStream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(out.isTTY);
  const color = opts.color ?? (tty && !process.env.NO_COLOR);
  const now = opts.now ?? Date.now;
  const since = now();
  let drawn = 0; // lines of the live block now on screen
  let last: WatchFrameInput | undefined;
  let lastPlain = "";
  let timer: NodeJS.Timeout | undefined;

  const erase = (): void => {
    if (drawn > 0) out.write(`\u001b[${drawn}F\u001b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    if (!last) return;
    const lines = renderWatchFrame(last, now(), { color, width: Math.max(20, (out.columns ?? 100) - 1), ...(opts.maxRunning ? { maxRunning: opts.maxRunning } : {}) });
    erase();
    out.write(lines.join("\n") + "\n");
    drawn = lines.length;
  };
  /** Print a permanent line above the live block. */
  const above = (line: string): void => {
    if (tty) {
      erase();
      out.write(line + "\n");
      draw();
    } else out.write(line + "\n");
  };

  return {
    emit(e: CorralEvent) {
      switch (e.type) {
        case "sweep-created":
          above(`corral: ${e.runs} run${e.runs === 1 ? "" : "s"} in ${e.dir} (${e.launcher})`);
          break;
        case "submitted":
          above(`corral: submitted ${e.runs} run${e.runs === 1 ? "" : "s"} as ${e.jobs.join(", ")}`);
          break;
        case "info":
          above(`corral: ${e.message}`);
          break;
        case "warning":
          above(`corral: warning: ${e.message}`);
          break;
        case "run-ended":
          if (e.run.state !== "succeeded") above(failureLine(e.run, color));
          break;
        case "progress": {
          last = { counts: e.counts, total: e.total, running: e.running, since };
          if (tty) {
            draw();
            // Elapsed times tick between polls.
            timer ??= setInterval(draw, 1000);
            timer.unref?.();
          } else {
            const done = FINAL_STATES.reduce((n, s) => n + e.counts[s], 0);
            const line = `corral: ${done}/${e.total} done (${ORDER.filter((s) => e.counts[s] > 0).map((s) => `${e.counts[s]} ${s}`).join(", ")})`;
            if (line !== lastPlain) out.write(line + "\n");
            lastPlain = line;
          }
          break;
        }
      }
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (tty) draw();
    },
  };
}
