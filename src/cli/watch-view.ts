/**
 * The one live terminal view of `corral run -m`, `corral resume`, `corral flow` and
 * `corral status --watch`: counts, a progress bar with elapsed time and ETA, the running runs
 * with node, elapsed time and their last output line, and events as they happen.
 *
 * On a TTY, events print as whole lines above the live block, which is erased and redrawn below
 * them (never glued to the bar); the block is removed at the end so the summary starts at the
 * left margin. Elsewhere (CI logs, pipes) every line carries a `[HH:MM:SS]` stamp, there is no
 * bar, and a progress line prints at most every few seconds.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import type { CorralEvent, Reporter, RunView } from "../engine/events.js";
import type { RunState } from "../store/protocol.js";
import { STDERR, STDOUT } from "../store/layout.js";

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
  /** Milliseconds left by the rate so far; null: not known yet. Left out: no ETA shown. */
  eta?: number | null;
  /** Each running run's last output line, by run index. */
  tails?: ReadonlyMap<number, string>;
}

const ORDER: RunState[] = ["running", "failed", "timeout", "preempted", "cancelled", "pruned", "lost", "succeeded", "pending"];
const CODES: Record<RunState, number> = { pending: 2, running: 36, succeeded: 32, failed: 31, timeout: 33, preempted: 35, cancelled: 2, pruned: 34, lost: 31, unknown: 33 };

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

const FINAL_STATES: RunState[] = ["succeeded", "failed", "timeout", "preempted", "cancelled", "pruned", "lost"];

/** The lines of one frame, each cut to `width` columns. Pure. */
export function renderWatchFrame(f: WatchFrameInput, now: number, opts: { width?: number; color?: boolean; maxRunning?: number } = {}): string[] {
  const paint = (code: number, s: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const done = FINAL_STATES.reduce((n, s) => n + f.counts[s], 0);
  const pct = f.total ? Math.floor((100 * done) / f.total) : 100;
  const counts = ORDER.filter((s) => f.counts[s] > 0).map((s) => paint(CODES[s], `${f.counts[s]} ${s}`)).join(" · ");
  const eta = f.eta === undefined ? "" : ` · ETA ${f.eta === null ? "?" : formatElapsed(f.eta)}`;
  const lines = [`${progressBar(done, f.counts.running, f.total)} ${done}/${f.total} ${pct}%  ${counts}  ${paint(2, formatElapsed(now - f.since) + eta)}`];
  const max = opts.maxRunning ?? 8;
  const running = [...f.running].sort((a, b) => (a.startedAt ?? now) - (b.startedAt ?? now));
  for (const r of running.slice(0, max)) {
    const where = [r.host ? `on ${r.host}` : "", r.jobId ? `job ${r.jobId}` : "", r.gpus?.length ? `gpu ${r.gpus.join(",")}` : ""].filter(Boolean).join("  ");
    const label = r.job ?? r.overrides.join(" ");
    const tail = f.tails?.get(r.index);
    lines.push(`  ${paint(36, "▶")} run ${String(r.index).padEnd(4)} ${formatElapsed(now - (r.startedAt ?? now)).padStart(6)}  ${label}${where ? "  " + paint(2, where) : ""}${tail ? `  ${paint(2, "│")} ${tail}` : ""}`);
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

/** A failure line, printed once and kept above the live block; `on HOST` unless HOST is `localHost`. */
export function failureLine(r: RunView, color = false, localHost?: string): string {
  const red = (s: string): string => (color ? `\u001b[31m${s}\u001b[0m` : s);
  const saysCode = r.message !== undefined && r.exitCode != null && (r.message.includes(`code ${r.exitCode}`) || r.message.startsWith("cannot start") || r.message.startsWith("killed by"));
  return `${red("✗")} run ${r.index}${r.job ? ` ${r.job}` : ""}${r.overrides.length ? ` [${r.overrides.join(" ")}]` : ""} ${r.state}${r.exitCode != null && !saysCode ? ` (exit ${r.exitCode})` : ""}${r.host && r.host !== localHost ? ` on ${r.host}` : ""}${r.message ? `: ${r.message}` : ""}`;
}

/** `[HH:MM:SS] ` of a time, local clock: the prefix of every plain-mode line. */
export function timeStamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `[${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}] `;
}

// Escape sequences (colours, cursor moves) and other control characters a run may print.
// eslint-disable-next-line no-control-regex
const CONTROL = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007|[\u0000-\u0008\u000b-\u001f\u007f]/g;

/**
 * The last non-empty line of a file, from its last 4 KiB only (a progress bar's `\r` counts as a
 * line end), with control characters removed; "" when it is missing or empty.
 */
export function lastLineOf(file: string, bytes = 4096): { line: string; size: number; mtimeMs: number } {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const st = fstatSync(fd);
    const n = Math.min(bytes, st.size);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, st.size - n);
    const parts = buf.toString("utf8").replace(CONTROL, (m) => (m === "\r" ? "\n" : "")).split("\n");
    let line = "";
    for (let i = parts.length - 1; i >= 0 && !line; i--) line = parts[i]!.trim();
    return { line, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return { line: "", size: 0, mtimeMs: 0 };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The newest last line of a run's stdout.log and stderr.log (whichever was written last). */
export function runTail(runDir: string): string {
  const out = lastLineOf(path.join(runDir, STDOUT));
  const err = lastLineOf(path.join(runDir, STDERR));
  if (!out.line) return err.line;
  if (!err.line) return out.line;
  return err.mtimeMs > out.mtimeMs ? err.line : out.line;
}

/** Options of {@link makeWatchReporter}. */
export interface WatchViewOptions {
  /** Where the view writes. @default process.stderr */
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
  /** Plain mode: prefix each line with `[HH:MM:SS] `. @default true */
  stamps?: boolean;
  /** Plain mode: a progress line at most this often (the last one always prints at close). @default 10000 */
  progressEveryMs?: number;
  /** TTY: how often the block is redrawn (elapsed times, output tails). @default 1000 */
  refreshMs?: number;
  /** TTY: show each listed running run's last output line. @default true */
  tails?: boolean;
  /** TTY: at close, remove the block (the summary follows at the left margin) or leave the last frame. @default true */
  clearOnClose?: boolean;
  /** No progress at all (bar or lines): events only. A single run streaming its own output. */
  eventsOnly?: boolean;
  /** A line printed once per run when it is first seen running (or ends unseen): `-p`'s command. */
  startLine?: (r: RunView) => string | undefined;
}

/**
 * The terminal Reporter: the TTY view or stamped plain lines, as described at the top. `close()`
 * stops the refresh timer and (TTY) removes the block; safe to call twice.
 */
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
  const stamps = opts.stamps ?? true;
  const every = opts.progressEveryMs ?? 10_000;
  const tails = opts.tails ?? true;
  const since = now();
  const here = hostname(); // a failure names its node only when it ran elsewhere
  let drawn = 0; // lines of the live block now on screen
  let last: WatchFrameInput | undefined;
  let firstDone: number | undefined; // done at the first frame: the ETA counts this view's pace only
  let lastPlain = "";
  let plainPending = ""; // a progress line held back by the rate limit
  let lastPlainAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const started = new Set<number>();

  const erase = (): void => {
    if (drawn > 0) out.write(`\u001b[${drawn}F\u001b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    if (!last || closed) return;
    const t = now();
    const done = FINAL_STATES.reduce((n, s) => n + last!.counts[s], 0);
    const gained = done - (firstDone ?? done);
    const left = last.total - done;
    const eta = left <= 0 ? 0 : gained > 0 ? ((t - since) / gained) * left : null;
    let tailMap: Map<number, string> | undefined;
    if (tails) {
      tailMap = new Map();
      const max = opts.maxRunning ?? 8;
      for (const r of [...last.running].sort((a, b) => (a.startedAt ?? t) - (b.startedAt ?? t)).slice(0, max)) {
        const line = runTail(r.dir);
        if (line) tailMap.set(r.index, line);
      }
    }
    const lines = renderWatchFrame({ ...last, eta, ...(tailMap ? { tails: tailMap } : {}) }, t, { color, width: Math.max(20, (out.columns || 120) - 1), ...(opts.maxRunning ? { maxRunning: opts.maxRunning } : {}) });
    erase();
    out.write(lines.join("\n") + "\n");
    drawn = lines.length;
  };
  const plain = (line: string): void => {
    out.write(line.split("\n").map((l) => (stamps && l ? timeStamp(now()) : "") + l).join("\n") + "\n");
  };
  /** Print a permanent line (or lines) above the live block. */
  const above = (line: string): void => {
    if (tty) {
      erase();
      out.write(line + "\n");
      draw();
    } else plain(line);
  };
  const flushPlain = (): void => {
    if (plainPending && plainPending !== lastPlain) {
      plain(plainPending);
      lastPlain = plainPending;
      lastPlainAt = now();
    }
    plainPending = "";
  };
  const announce = (r: RunView): void => {
    if (!opts.startLine || started.has(r.index)) return;
    started.add(r.index);
    const line = opts.startLine(r);
    if (line) above(line);
  };

  return {
    emit(e: CorralEvent) {
      if (closed) return;
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
          announce(e.run);
          if (e.run.state !== "succeeded") above(failureLine(e.run, color, here));
          break;
        case "progress": {
          for (const r of e.running) announce(r);
          if (opts.eventsOnly) break;
          const done = FINAL_STATES.reduce((n, s) => n + e.counts[s], 0);
          firstDone ??= done;
          last = { counts: e.counts, total: e.total, running: e.running, since };
          if (tty) {
            draw();
            // Elapsed times tick and output tails move between polls.
            timer ??= setInterval(draw, opts.refreshMs ?? 1000);
            timer.unref?.();
          } else {
            plainPending = `corral: ${done}/${e.total} done (${ORDER.filter((s) => e.counts[s] > 0).map((s) => `${e.counts[s]} ${s}`).join(", ")})`;
            if (plainPending === lastPlain) plainPending = "";
            else if (now() - lastPlainAt >= every) flushPlain();
          }
          break;
        }
      }
    },
    close() {
      if (closed) return;
      if (timer) clearInterval(timer);
      timer = undefined;
      if (tty) {
        if (opts.clearOnClose ?? true) erase();
        else draw();
      } else flushPlain();
      closed = true;
    },
  };
}
