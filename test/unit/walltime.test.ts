import { describe, expect, it } from "vitest";
import { fitsBeforeEnd, medianMs, ResourcePool, SlotScheduler } from "../../src/worker/slots.js";

const pool = (parallel: number) => new ResourcePool({ cpuIds: [0, 1, 2, 3], gpuIds: [], parallel });
const req = (index: number) => ({ index, cpus: 0, gpus: undefined });

describe("walltime-aware starts", () => {
  it("fitsBeforeEnd keeps the grace free and starts unknown estimates", () => {
    expect(fitsBeforeEnd(0, 50_000, 100_000, 30_000)).toBe(true);
    expect(fitsBeforeEnd(0, 70_001, 100_000, 30_000)).toBe(false);
    expect(fitsBeforeEnd(0, undefined, 100_000, 30_000)).toBe(true);
  });

  it("medianMs", () => {
    expect(medianMs([])).toBeUndefined();
    expect(medianMs([5, 1, 3])).toBe(3);
    expect(medianMs([4, 1, 3, 2])).toBe(2.5);
  });

  it("the scheduler defers runs that cannot finish before the end and still starts the ones that can", () => {
    const est: Record<number, number> = { 0: 10_000, 1: 90_000, 2: 10_000 };
    const s = new SlotScheduler(pool(1), [req(0), req(1), req(2)], 0, { endMs: 100_000, graceMs: 20_000, estimateMs: (i) => est[i] });
    const d0 = s.next(0);
    expect(d0.kind === "start" && d0.grant.index).toBe(0);
    expect(s.deferred.map((r) => r.index)).toEqual([1]);
    expect(s.next(1).kind).toBe("wait");
    if (d0.kind === "start") s.finished(d0.grant);
    // at t=75s run 2 (10s) would end at 85s > 80s: deferred too; nothing left to start
    expect(s.next(75_000).kind).toBe("done");
    expect(s.deferred.map((r) => r.index)).toEqual([1, 2]);
  });

  it("without a deadline nothing is deferred", () => {
    const s = new SlotScheduler(pool(2), [req(0), req(1)], 0);
    expect(s.next(0).kind).toBe("start");
    expect(s.next(0).kind).toBe("start");
    expect(s.deferred).toEqual([]);
  });
});
