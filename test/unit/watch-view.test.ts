import { describe, expect, it } from "vitest";
import type { RunView } from "../../src/engine/events.js";
import type { RunState } from "../../src/store/protocol.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { formatElapsed, lastLineOf, makeWatchReporter, progressBar, renderWatchFrame, runTail, timeStamp } from "../../src/cli/watch-view.js";
import { countStates } from "../../src/store/status.js";

const T = 1_000_000;
const strip = (s: string): string => s.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g"), "");
const run = (index: number, extra: Partial<RunView> = {}): RunView => ({ index, id: `r${index}`, dir: `/s/${index}`, state: "running", overrides: [`lr=${index}`], attempt: 1, ...extra });

describe("pieces", () => {
  it("elapsed times", () => {
    expect(formatElapsed(4_400)).toBe("4s");
    expect(formatElapsed(75_000)).toBe("1m15s");
    expect(formatElapsed(3_700_000)).toBe("1h01m");
  });
  it("progress bar: done full, running shaded, the rest empty, always the same width", () => {
    expect(progressBar(5, 2, 10, 10)).toBe("█████▒▒░░░");
    expect(progressBar(10, 0, 10, 10)).toBe("██████████");
    expect(progressBar(0, 0, 0, 4)).toBe("    ");
  });
});

describe("renderWatchFrame", () => {
  const counts = countStates(["succeeded", "succeeded", "failed", "running", "running", "pending"]);
  it("counts, progress and each running run with node, job and elapsed time, oldest first", () => {
    const lines = renderWatchFrame(
      { counts, total: 6, since: T - 90_000, running: [run(4, { startedAt: T - 5_000, host: "n2" }), run(3, { startedAt: T - 65_000, host: "n1", jobId: "42_3", gpus: ["0"] })] },
      T,
    );
    expect(lines[0]).toMatch(/^[█▒░]{30} 3\/6 50% {2}2 running · 1 failed · 2 succeeded · 1 pending {2}1m30s$/);
    expect(lines[1]).toBe("  ▶ run 3     1m05s  lr=3  on n1  job 42_3  gpu 0");
    expect(lines[2]).toBe("  ▶ run 4        5s  lr=4  on n2");
    expect(lines).toHaveLength(3);
  });
  it("caps the list and cuts lines to the terminal width, colour escapes not counted", () => {
    const many = Array.from({ length: 5 }, (_, i) => run(i, { startedAt: T }));
    const lines = renderWatchFrame({ counts, total: 6, since: T, running: many }, T, { maxRunning: 2, width: 12, color: true });
    expect(lines).toHaveLength(4);
    expect(lines[3]).toContain("… 3 more r"); // cut at 12 columns, colour codes kept
    for (const l of lines) expect(strip(l).length).toBeLessThanOrEqual(12);
  });
});

describe("makeWatchReporter", () => {
  const progress = (running: RunView[], states: Parameters<typeof countStates>[0]) => ({ type: "progress" as const, counts: countStates(states), total: 3, running });

  it("plain mode: a line per change, failures as they happen", () => {
    const out: string[] = [];
    const rep = makeWatchReporter({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => T, stamps: false, progressEveryMs: 0 });
    rep.emit(progress([run(0)], ["running", "pending", "pending"]));
    rep.emit(progress([run(0)], ["running", "pending", "pending"]));
    rep.emit({ type: "run-ended", run: run(1, { state: "failed", exitCode: 3, host: "n1", message: "boom" }) });
    rep.emit({ type: "run-ended", run: run(2, { state: "succeeded" }) });
    rep.emit(progress([], ["failed", "succeeded", "succeeded"]));
    rep.close();
    expect(out.join("")).toBe(
      "corral: 0/3 done (1 running, 2 pending)\n✗ run 1 [lr=1] failed (exit 3) on n1: boom\ncorral: 3/3 done (1 failed, 2 succeeded)\n",
    );
  });

  it("TTY mode: redraws the block in place and keeps failures above it", () => {
    let screen = "";
    const rep = makeWatchReporter({ stream: { write: (s: string) => (screen += s), columns: 200 }, tty: true, color: false, now: () => T, clearOnClose: false });
    rep.emit(progress([run(0, { startedAt: T })], ["running", "pending", "pending"]));
    const firstBlock = screen;
    expect(firstBlock.split("\n")).toHaveLength(3); // bar, one running run, trailing newline
    rep.emit({ type: "run-ended", run: run(1, { state: "timeout" }) });
    rep.close();
    // The failure erased the two-line block (cursor up 2, clear) before printing, then redrew it.
    const rest = screen.slice(firstBlock.length);
    expect(rest.startsWith("\u001b[2F\u001b[J✗ run 1 [lr=1] timeout\n")).toBe(true);
    expect(rest).toContain("  ▶ run 0");
  });
});

describe("the view of run -m, resume and flow", () => {
  const progress = (running: RunView[], states: RunState[], total = states.length) => ({ type: "progress" as const, counts: countStates(states), total, running });

  it("plain mode stamps every line [HH:MM:SS] and prints progress at most every N ms (the last one at close)", () => {
    let t = T;
    const out: string[] = [];
    const rep = makeWatchReporter({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => t, progressEveryMs: 10_000 });
    rep.emit(progress([run(0)], ["running", "pending", "pending"]));
    t += 1000;
    rep.emit(progress([run(1)], ["succeeded", "running", "pending"])); // held back: within 10s
    rep.emit({ type: "submitted", jobs: ["local-1"], runs: 1 });
    rep.emit({ type: "info", message: "two\nlines" });
    t += 10_000;
    rep.emit(progress([run(2)], ["succeeded", "succeeded", "running"])); // 11s after the first: printed
    rep.emit(progress([], ["succeeded", "succeeded", "succeeded"])); // held back, printed at close
    rep.close();
    rep.close();
    const text = out.join("");
    const lines = text.split("\n").filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^\[\d\d:\d\d:\d\d\] /);
    expect(lines.map((l) => l.slice(11))).toEqual([
      "corral: 0/3 done (1 running, 2 pending)",
      "corral: submitted 1 run as local-1",
      "corral: two",
      "lines",
      "corral: 2/3 done (1 running, 2 succeeded)",
      "corral: 3/3 done (3 succeeded)",
    ]);
    expect(timeStamp(new Date(2024, 0, 1, 9, 5, 7).getTime())).toBe("[09:05:07] ");
  });

  it("TTY: events are whole lines above the block, the bar shows elapsed time and ETA, close removes the block", () => {
    let t = T;
    let screen = "";
    const rep = makeWatchReporter({ stream: { write: (s: string) => (screen += s), columns: 200 }, tty: true, color: false, now: () => t, tails: false });
    rep.emit(progress([run(0, { startedAt: T })], ["running", "pending", "pending", "pending"]));
    expect(screen).toContain("0/4 0%");
    expect(screen).toContain("ETA ?");
    t += 10_000;
    rep.emit(progress([run(1, { startedAt: T })], ["succeeded", "running", "pending", "pending"]));
    // one done in 10s, three left: 30s
    expect(screen).toMatch(/1\/4 25% .* 10s · ETA 30s\n/);
    const before = screen.length;
    rep.emit({ type: "submitted", jobs: ["local-7"], runs: 2 });
    // Erase the two-line block, the event on its own line, then the block again.
    expect(screen.slice(before).startsWith("\u001b[2F\u001b[Jcorral: submitted 2 runs as local-7\n")).toBe(true);
    expect(screen.slice(before)).toMatch(/local-7\n[█▒░]{30} 1\/4/);
    const end = screen.length;
    rep.close();
    expect(screen.slice(end)).toBe("\u001b[2F\u001b[J");
    rep.emit({ type: "info", message: "after close" });
    expect(screen.slice(end)).toBe("\u001b[2F\u001b[J");
  });

  it("TTY: each running run shows its last output line; startLine prints once per run when it is first seen", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "corral-view-"));
    writeFileSync(path.join(dir, "stdout.log"), "epoch 1\nepoch 2 \u001b[32mloss 0.5\u001b[0m\n\n");
    let screen = "";
    const started: number[] = [];
    const rep = makeWatchReporter({
      stream: { write: (s: string) => (screen += s), columns: 200 },
      tty: true,
      color: false,
      now: () => T,
      startLine: (r) => (started.push(r.index), `corral: start ${r.index}`),
    });
    const r0 = run(0, { dir, startedAt: T, job: "train" });
    rep.emit(progress([r0], ["running", "pending"]));
    rep.emit(progress([r0, run(1, { startedAt: T })], ["running", "running"]));
    rep.emit({ type: "run-ended", run: run(1, { state: "succeeded" }) });
    rep.close();
    expect(started).toEqual([0, 1]);
    expect(screen).toContain("train  │ epoch 2 loss 0.5");
    expect(screen.match(/corral: start 0\n/g)).toHaveLength(1);
  });

  it("tails: the last non-empty line from the end of the file, progress-bar carriage returns as line ends", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "corral-tail-"));
    writeFileSync(path.join(dir, "stdout.log"), "x".repeat(10_000) + "\nstep 1\rstep 2\r");
    expect(lastLineOf(path.join(dir, "stdout.log")).line).toBe("step 2");
    expect(lastLineOf(path.join(dir, "missing.log")).line).toBe("");
    expect(runTail(dir)).toBe("step 2");
  });

  it("events only: no progress at all, events still print", () => {
    const out: string[] = [];
    const rep = makeWatchReporter({ stream: { write: (s: string) => out.push(s) }, tty: true, now: () => T, eventsOnly: true });
    rep.emit(progress([run(0)], ["running"]));
    rep.emit({ type: "warning", message: "w" });
    rep.close();
    expect(out.join("")).toBe("corral: warning: w\n");
  });
});
