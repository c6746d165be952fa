import { describe, expect, it } from "vitest";
import { maxTasksPerChunk, packBatches } from "../../src/plan/pack.js";

const limits = { maxArraySize: 10001, maxJobCount: 100000 };
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => i + from);

describe("packBatches", () => {
  it("puts per_job runs into each task, the last task holding the rest", () => {
    const chunks = packBatches(range(10), { perJob: 4, parallel: 2, ...limits });
    expect(chunks).toEqual([
      {
        chunk: 0,
        tasks: [
          { task: 0, runs: [0, 1, 2, 3] },
          { task: 1, runs: [4, 5, 6, 7] },
          { task: 2, runs: [8, 9] },
        ],
      },
    ]);
  });

  it("keeps the given run order and indexes (e.g. a rerun of failures)", () => {
    const chunks = packBatches([7, 3, 42], { perJob: 2, parallel: 1, ...limits });
    expect(chunks[0]!.tasks.map((t) => t.runs)).toEqual([[7, 3], [42]]);
  });

  it("splits into chunks so that task ids stay below MaxArraySize", () => {
    const chunks = packBatches(range(2500), { perJob: 1, parallel: 1, maxArraySize: 1001, maxJobCount: 10000 });
    expect(chunks.map((c) => c.tasks.length)).toEqual([1001, 1001, 498]);
    for (const c of chunks) {
      expect(c.tasks.map((t) => t.task)).toEqual(range(c.tasks.length));
      expect(Math.max(...c.tasks.map((t) => t.task))).toBeLessThan(1001);
    }
    // Every run exactly once, in order.
    expect(chunks.flatMap((c) => c.tasks.flatMap((t) => t.runs))).toEqual(range(2500));
    expect(chunks.map((c) => c.chunk)).toEqual([0, 1, 2]);
  });

  it("bounds a chunk by headroom under MaxJobCount", () => {
    expect(maxTasksPerChunk({ maxArraySize: 10001, maxJobCount: 1000 })).toBe(499);
    expect(maxTasksPerChunk({ maxArraySize: 10001, maxJobCount: 1000, jobCountShare: 1 })).toBe(999);
    expect(maxTasksPerChunk({ maxArraySize: 1001, maxJobCount: 10000 })).toBe(1001);
    expect(maxTasksPerChunk({ maxArraySize: 5, maxJobCount: 1 })).toBe(1);
    const chunks = packBatches(range(1000), { perJob: 1, parallel: 1, maxArraySize: 10001, maxJobCount: 1000 });
    expect(chunks.map((c) => c.tasks.length)).toEqual([499, 499, 2]);
  });

  it("packs a million runs (every run placed once; speed is in bench/)", () => {
    const chunks = packBatches(range(1_000_000), { perJob: 10, parallel: 4, ...limits });
    expect(chunks).toHaveLength(10);
    // 100,000 tasks: nine full chunks of 10,001 and 9,991 left.
    expect(chunks[9]!.tasks.at(-1)).toEqual({ task: 9990, runs: range(10, 999_990) });
  });

  it("returns no chunks for no runs", () => {
    expect(packBatches([], { perJob: 1, parallel: 1, ...limits })).toEqual([]);
  });

  it.each([
    [{ perJob: 0, parallel: 1 }, /per_job must be a positive integer/],
    [{ perJob: 1.5, parallel: 1 }, /per_job must be a positive integer/],
    [{ perJob: 2, parallel: 0 }, /parallel must be a positive integer/],
    [{ perJob: 2, parallel: 3 }, /parallel \(3\) is larger than per_job \(2\)/],
    [{ perJob: 2, parallel: 1, throttle: 0 }, /throttle must be a positive integer/],
    [{ perJob: 2, parallel: 1, maxArraySize: 0 }, /MaxArraySize/],
    [{ perJob: 2, parallel: 1, jobCountShare: 1.5 }, /jobCountShare/],
  ])("rejects %o", (o, msg) => {
    expect(() => packBatches([1, 2], { ...limits, ...o })).toThrow(msg);
  });

  it("rejects duplicate or negative run indexes with E_CONFIG", () => {
    expect(() => packBatches([1, 2, 1], { perJob: 1, parallel: 1, ...limits })).toThrow(/appears twice/);
    expect(() => packBatches([-1], { perJob: 1, parallel: 1, ...limits })).toThrow(expect.objectContaining({ code: "E_CONFIG", exitCode: 2 }));
  });
});
