import { describe, expect, it } from "vitest";
import { ResourcePool, SlotScheduler } from "../../src/worker/slots.js";

const pool = (parallel: number, gpus: string[] = []): ResourcePool => new ResourcePool({ cpuIds: [0, 1, 2, 3], gpuIds: gpus, parallel });

describe("SlotScheduler", () => {
  it("refills slots in order and is done when the queue is empty and nothing runs", () => {
    const s = new SlotScheduler(pool(2), [0, 1, 2].map((index) => ({ index, cpus: 0, gpus: undefined })), 0);
    const a = s.next(0);
    const b = s.next(0);
    expect([a.kind, b.kind]).toEqual(["start", "start"]);
    expect(s.next(0)).toMatchObject({ kind: "wait", reason: "all 2 slots busy" });
    if (a.kind === "start") s.finished(a.grant);
    const c = s.next(1);
    expect(c).toMatchObject({ kind: "start", grant: { index: 2 } });
    if (b.kind === "start") s.finished(b.grant);
    if (c.kind === "start") s.finished(c.grant);
    expect(s.next(2).kind).toBe("done");
  });

  it("splits GPUs: whole devices when runs fit, shares when they outnumber devices", () => {
    const whole = pool(2, ["0", "1", "2", "3"]);
    expect(whole.defaultGpus()).toBe(2);
    const g1 = whole.tryAcquire({ index: 0, cpus: 0, gpus: undefined })!;
    const g2 = whole.tryAcquire({ index: 1, cpus: 0, gpus: undefined })!;
    expect([g1.gpuIds, g2.gpuIds]).toEqual([["0", "1"], ["2", "3"]]);
    const shared = pool(4, ["0", "1"]);
    const ids = [0, 1, 2, 3].map((index) => shared.tryAcquire({ index, cpus: 0, gpus: 0.5 })!.gpuIds[0]);
    expect(ids.sort()).toEqual(["0", "0", "1", "1"]);
    expect(shared.tryAcquire({ index: 4, cpus: 0, gpus: 0.5 })).toBeUndefined();
  });

  it("says why a split is impossible", () => {
    expect(() => new SlotScheduler(pool(1, ["0"]), [{ index: 0, cpus: 0, gpus: 2 }], 0)).toThrow(/asks for 2 GPUs but the allocation holds 1/);
    expect(() => new SlotScheduler(pool(1), [{ index: 0, cpus: 8, gpus: 0 }], 0)).toThrow(/asks for 8 CPUs but the allocation holds 4/);
  });

  it("holds a run (not started, not done) until released, or drops it", () => {
    const s = new SlotScheduler(pool(2), [0, 1].map((index) => ({ index, cpus: 0, gpus: undefined })), 0);
    s.hold(0);
    s.hold(1);
    expect(s.next(0)).toMatchObject({ kind: "wait", reason: "waiting for runs another worker may still be running" });
    s.drop(0);
    s.release(1);
    const d = s.next(0);
    expect(d).toMatchObject({ kind: "start", grant: { index: 1 } });
    if (d.kind === "start") s.finished(d.grant);
    expect(s.next(0).kind).toBe("done");
  });

  it("hands over `lookahead` runs beyond the busy slots (queued), only runs that hold nothing but a slot", () => {
    const shared = new ResourcePool({ cpuIds: [0, 1, 2, 3], gpuIds: [], parallel: 2, pinByDefault: false });
    const s = new SlotScheduler(shared, [0, 1, 2, 3, 4].map((index) => ({ index, cpus: 0, gpus: undefined })), 0);
    s.lookahead = () => 2;
    const d = [0, 1, 2, 3].map(() => s.next(0));
    expect(d.map((x) => (x.kind === "start" ? [x.grant.index, x.queued ?? false] : x.kind))).toEqual([
      [0, false],
      [1, false],
      [2, true],
      [3, true],
    ]);
    expect(s.next(0)).toMatchObject({ kind: "wait", reason: "all 2 slots busy" });
    if (d[0]!.kind === "start") s.finished(d[0]!.grant);
    expect(s.next(0)).toMatchObject({ kind: "start", grant: { index: 4 }, queued: true });
    // Pinned CPUs, GPUs, a stagger or an allocation deadline: decided at the start itself, never ahead.
    const pinned = new SlotScheduler(pool(2), [0, 1, 2].map((index) => ({ index, cpus: 0, gpus: undefined })), 0);
    pinned.lookahead = () => 2;
    expect([pinned.next(0).kind, pinned.next(0).kind, pinned.next(0).kind]).toEqual(["start", "start", "wait"]);
    const staggered = new SlotScheduler(shared, [5, 6, 7].map((index) => ({ index, cpus: 0, gpus: undefined })), 1000);
    staggered.lookahead = () => 2;
    expect(staggered.next(0).kind).toBe("start");
    expect(staggered.next(1000).kind).toBe("start");
    expect(staggered.next(5000)).toMatchObject({ kind: "wait", reason: "all 2 slots busy" });
  });
});
