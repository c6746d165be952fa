/**
 * How the dashboard reads a sweep's run records (src/dashboard/live.ts): a large sweep a slice at
 * a time after start, run files opened without resolving paths when their folders were listed as
 * plain folders, and the same answers as the slow way: state changes seen on the next round,
 * missing and damaged status files, and nothing read through a link out of the sweep.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreWatcher, type DashboardEvent, type RunRow } from "../../src/dashboard/live.js";
import { readWithin, realPathOf } from "../../src/store/contain.js";
import type { RunState, RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { indexSweep, writeManifest, writeRunStatus } from "../../src/store/store.js";

const NOW = 1_800_000_000_000;
let base: string;
let project: string;

const status = (index: number, state: RunState): RunStatusRecord => ({ type: "run-status", version: 1, runId: `r${index}`, index, state, attempt: 1, updatedAt: NOW, history: [{ state, at: NOW, attempt: 1 }] });

/** A sweep of `n` runs, each folder made (`made(i)` false: not made); returns its manifest. */
function sweep(n: number, made: (i: number) => boolean = () => true): SweepManifest {
  const dir = path.join(project, "multirun", "s1");
  const m: SweepManifest = {
    type: "sweep",
    version: 1,
    id: "s1",
    kind: "sweep",
    createdAt: NOW,
    dir,
    projectDir: project,
    command: ["python3", "train.py"],
    overrides: [],
    launcher: "local",
    runs: Array.from({ length: n }, (_, i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [`seed=${i}`], params: { seed: i } })),
    jobs: [],
  };
  mkdirSync(dir, { recursive: true });
  for (const r of m.runs) if (made(r.index)) mkdirSync(path.join(dir, r.dir));
  writeManifest(m);
  indexSweep(project, m);
  return m;
}

const rowsOf = (w: StoreWatcher): RunRow[] => w.get("s1")!.rows;
const runEvents = (evs: DashboardEvent[]): RunRow[] => evs.flatMap((e) => (e.type === "runs" ? e.runs : []));

beforeEach(() => {
  base = mkdtempSync(path.join(tmpdir(), "corral-load-"));
  project = path.join(base, "project");
  mkdirSync(project);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe("a large sweep loads a slice at a time", () => {
  it("start() reads the first slice, the rest follows as events, and whenLoaded() says when all is read", async () => {
    const n = 300;
    const m = sweep(n);
    const want = (i: number): RunState => (i % 3 === 0 ? "succeeded" : i % 3 === 1 ? "failed" : "pending");
    for (const r of m.runs) {
      if (want(r.index) !== "pending") writeRunStatus(path.join(m.dir, r.dir), status(r.index, want(r.index)));
      writeFileSync(path.join(m.dir, r.dir, "metrics.jsonl"), JSON.stringify({ step: 1, loss: r.index / 1000 }) + "\n");
    }
    const w = new StoreWatcher(project, { now: () => NOW, readSlice: 50 });
    w.start(60_000);
    // What a page open from the start hears (the rest of the load goes out as events).
    const seen: DashboardEvent[] = [];
    w.subscribe((evs) => seen.push(...evs));
    try {
      // Read before start returned: runs 0-49; the others are placeholders, counted as unread.
      expect(w.unread()).toBe(n - 50);
      const first = rowsOf(w);
      expect(first.slice(0, 50).map((r) => r.state)).toEqual(first.slice(0, 50).map((r) => want(r.index)));
      expect(new Set(first.slice(50).map((r) => r.state))).toEqual(new Set(["unknown"]));
      expect(first[50]!.message).toMatch(/not read yet/);
      expect(w.sweeps()[0]!.unread).toBe(n - 50);
      await w.whenLoaded();
      expect(w.unread()).toBe(0);
      const rows = rowsOf(w);
      expect(rows.map((r) => r.state)).toEqual(m.runs.map((r) => want(r.index)));
      expect(rows.map((r) => r.metrics.loss)).toEqual(m.runs.map((r) => r.index / 1000));
      expect(rows.some((r) => r.message !== undefined)).toBe(false);
      // Every run not read at start came once as a changed row; the last summary has no unread.
      const evRows = runEvents(seen).map((r) => r.index);
      expect(evRows.sort((a, b) => a - b)).toEqual(m.runs.slice(50).map((r) => r.index));
      const summaries = seen.flatMap((e) => (e.type === "sweep" ? [e.sweep] : []));
      expect(summaries.at(-1)!.unread).toBeUndefined();
      expect(summaries.at(-1)!.counts).toMatchObject({ succeeded: 100, failed: 100, pending: 100, unknown: 0 });
      await w.whenLoaded();
    } finally {
      w.close();
    }
  });
});

describe("a load's pace (tests hold a sweep in the loading state)", () => {
  it("reads at most sliceRuns a slice, waits for beforeSlice before each, and publishes its progress after each", async () => {
    const m = sweep(100);
    for (const r of m.runs) writeRunStatus(path.join(m.dir, r.dir), status(r.index, "succeeded"));
    const waiters: Array<() => void> = [];
    const w = new StoreWatcher(project, { now: () => NOW, readSlice: 10, load: { sliceRuns: 30, beforeSlice: () => new Promise<void>((r) => waiters.push(r)) } });
    const unread: Array<number | undefined> = [];
    w.subscribe((evs) => unread.push(...evs.flatMap((e) => (e.type === "sweep" ? [e.sweep.unread] : []))));
    w.start(60_000);
    try {
      const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
      await tick();
      // Held before the first slice: nothing more is read however long it waits.
      expect(w.unread()).toBe(90);
      expect(waiters).toHaveLength(1);
      for (const left of [60, 30]) {
        waiters.shift()!();
        await tick();
        expect(w.unread()).toBe(left);
        expect(unread.at(-1)).toBe(left);
      }
      const loaded = w.whenLoaded();
      waiters.shift()!();
      await loaded;
      expect(unread.at(-1)).toBeUndefined();
      expect(w.sweeps()[0]!.counts.succeeded).toBe(100);
    } finally {
      w.close();
    }
  });
});

// Above 64 runs to read the sweep folder is listed once; below, each run folder is lstat'ed.
describe.each([
  ["listed once", 100],
  ["one lstat each", 8],
])("the fast read (%s) answers as the slow one", (_, n) => {
  it("a run that changes state after the first poll is seen on the next, and a finished one is not read again", () => {
    const m = sweep(n, (i) => i !== 2);
    for (const r of m.runs) if (r.index >= 4) writeRunStatus(path.join(m.dir, r.dir), status(r.index, "succeeded"));
    writeRunStatus(path.join(m.dir, "1"), status(1, "running"));
    const w = new StoreWatcher(project, { now: () => NOW });
    w.poll();
    expect(rowsOf(w).slice(0, 4).map((r) => r.state)).toEqual(["pending", "running", "pending", "pending"]);
    expect(w.poll()).toEqual([]);
    // Run 1 logs and finishes, run 2's folder appears and it starts, run 3 starts.
    appendFileSync(path.join(m.dir, "1", "metrics.jsonl"), '{"step":3,"acc":0.75}\n');
    writeRunStatus(path.join(m.dir, "1"), status(1, "succeeded"));
    mkdirSync(path.join(m.dir, "2"));
    writeRunStatus(path.join(m.dir, "2"), status(2, "running"));
    writeRunStatus(path.join(m.dir, "3"), status(3, "running"));
    const changed = runEvents(w.poll());
    expect(changed.map((r) => [r.index, r.state, r.metrics])).toEqual([
      [1, "succeeded", { step: 3, acc: 0.75 }],
      [2, "running", {}],
      [3, "running", {}],
    ]);
    // A later round reads only the runs still going: a finished run's rewritten file is not looked at.
    writeRunStatus(path.join(m.dir, "1"), status(1, "failed"));
    writeRunStatus(path.join(m.dir, "3"), status(3, "cancelled"));
    expect(runEvents(w.poll()).map((r) => [r.index, r.state])).toEqual([[3, "cancelled"]]);
  });

  it("missing and damaged status files: pending, and unknown with the reason", () => {
    const m = sweep(n, (i) => i !== 0);
    for (const r of m.runs) if (r.index >= 6) writeRunStatus(path.join(m.dir, r.dir), status(r.index, "succeeded"));
    const at = (i: number): string => path.join(m.dir, String(i), "status.json");
    // 0: no folder; 1: folder, no status; 2: not JSON; 3: empty; 4: no status record; 5: bad state
    writeFileSync(at(2), '{"type":"run-st');
    writeFileSync(at(3), "");
    writeFileSync(at(4), "[1,2]");
    writeFileSync(at(5), JSON.stringify({ ...status(5, "running"), state: "exploded" }));
    const w = new StoreWatcher(project, { now: () => NOW });
    w.poll();
    const rows = rowsOf(w);
    expect(rows.slice(0, 6).map((r) => r.state)).toEqual(["pending", "pending", "unknown", "unknown", "unknown", "unknown"]);
    expect(rows[2]!.message).toBe(`${at(2)} is not valid JSON`);
    expect(rows[3]!.message).toBe(`${at(3)} is empty`);
    expect(rows[4]!.message).toMatch(/not a status record/);
    expect(rows[5]!.message).toMatch(/"exploded" is not a run state/);
    expect(w.sweeps()[0]!.counts).toMatchObject({ pending: 2, unknown: 4, succeeded: n - 6 });
    // Repaired: seen on the next round.
    writeRunStatus(path.join(m.dir, "2"), status(2, "succeeded"));
    expect(runEvents(w.poll()).map((r) => [r.index, r.state, r.message])).toEqual([[2, "succeeded", undefined]]);
  });

  it("reads nothing through a link out of the sweep folder, and follows one that stays inside", () => {
    const m = sweep(n, (i) => i !== 1);
    const outside = path.join(base, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "status.json"), JSON.stringify(status(9, "succeeded")));
    writeFileSync(path.join(outside, "metrics.jsonl"), '{"secret":1}\n');
    for (const r of m.runs) if (r.index !== 1) writeRunStatus(path.join(m.dir, r.dir), status(r.index, r.index < 4 ? "running" : "succeeded"));
    // 1: the run folder is a link out; 2: its status and metrics are links out; 3: links to run 0's files.
    symlinkSync(outside, path.join(m.dir, "1"));
    rmSync(path.join(m.dir, "2", "status.json"));
    symlinkSync(path.join(outside, "status.json"), path.join(m.dir, "2", "status.json"));
    symlinkSync(path.join(outside, "metrics.jsonl"), path.join(m.dir, "2", "metrics.jsonl"));
    writeFileSync(path.join(m.dir, "0", "metrics.jsonl"), '{"loss":0.5}\n');
    rmSync(path.join(m.dir, "3", "status.json"));
    symlinkSync("../0/status.json", path.join(m.dir, "3", "status.json"));
    symlinkSync("../0/metrics.jsonl", path.join(m.dir, "3", "metrics.jsonl"));
    const w = new StoreWatcher(project, { now: () => NOW });
    w.poll();
    const rows = rowsOf(w);
    expect(rows.slice(0, 4).map((r) => [r.state, r.metrics])).toEqual([
      ["running", { loss: 0.5 }],
      ["pending", {}],
      ["pending", {}],
      ["running", { loss: 0.5 }],
    ]);
    expect(JSON.stringify(rows)).not.toContain("secret");
  });
});

describe("readWithin of a listed file", () => {
  it("a listed name that is a link is judged the slow way; a FIFO is refused without hanging", () => {
    const root = path.join(base, "root");
    mkdirSync(root);
    writeFileSync(path.join(base, "secret"), "secret");
    writeFileSync(path.join(root, "a"), "inside");
    symlinkSync("a", path.join(root, "in"));
    symlinkSync("../secret", path.join(root, "out"));
    execFileSync("mkfifo", [path.join(root, "fifo")]);
    const realRoot = realPathOf(root)!;
    const read = (f: string): string => {
      const r = readWithin(root, path.join(root, f), undefined, { realRoot, listed: true });
      return r.kind === "ok" ? r.data.toString() : r.kind;
    };
    expect([read("a"), read("in"), read("out"), read("fifo"), read("none")]).toEqual(["inside", "inside", "outside", "outside", "missing"]);
  });
});
