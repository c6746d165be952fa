import { describe, expect, it } from "vitest";
import type { RunView } from "../../src/engine/events.js";
import { formatElapsed, makeWatchReporter, progressBar, renderWatchFrame } from "../../src/cli/watch-view.js";
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
    const rep = makeWatchReporter({ stream: { write: (s: string) => out.push(s) }, tty: false, now: () => T });
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
    const rep = makeWatchReporter({ stream: { write: (s: string) => (screen += s), columns: 200 }, tty: true, color: false, now: () => T });
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
