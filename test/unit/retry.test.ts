import { describe, expect, it } from "vitest";
import { memToMb, planResubmissions, scaleMem, type RetryPolicy } from "../../src/plan/retry.js";
import { policyOf, settingsForAttempt } from "../../src/launchers/settings.js";
import type { SlurmLaunchSettings } from "../../src/launchers/launcher.js";

const policy: RetryPolicy = { maxAttempts: 3, retries: 0 };

describe("planResubmissions", () => {
  it("resubmits timeout, preempted and lost runs with attempt+1 and resumed, up to maxAttempts", () => {
    const out = planResubmissions(
      [
        { index: 0, state: "timeout", attempt: 1 },
        { index: 1, state: "preempted", attempt: 2 },
        { index: 2, state: "lost", attempt: 3 },
        { index: 3, state: "succeeded", attempt: 1 },
        { index: 4, state: "cancelled", attempt: 1 },
      ],
      policy,
    );
    expect(out).toEqual([
      { index: 0, attempt: 2, resumed: true, after: "timeout" },
      { index: 1, attempt: 3, resumed: true, after: "preempted" },
    ]);
  });

  it("failed runs go again only with retries; a run's own timeout counts as a failure", () => {
    const runs = [
      { index: 0, state: "failed" as const, attempt: 1 },
      { index: 1, state: "timeout" as const, attempt: 1, runTimeout: true },
    ];
    expect(planResubmissions(runs, policy)).toEqual([]);
    expect(planResubmissions(runs, { ...policy, retries: 1 }).map((r) => [r.index, r.attempt, r.resumed])).toEqual([
      [0, 2, false],
      [1, 2, false],
    ]);
    expect(planResubmissions([{ index: 0, state: "failed", attempt: 2 }], { ...policy, retries: 1 })).toEqual([]);
  });

  it("runs left pending (deferred or never started) count an attempt, so they cannot loop for ever", () => {
    expect(planResubmissions([{ index: 7, state: "pending", attempt: 0 }], policy)).toEqual([{ index: 7, attempt: 2, resumed: false, after: "pending" }]);
    expect(planResubmissions([{ index: 7, state: "pending", attempt: 3 }], policy)).toEqual([]);
  });
});

describe("memory scaling", () => {
  it("reads SLURM memory sizes", () => {
    expect(memToMb("4G")).toBe(4096);
    expect(memToMb("500M")).toBe(500);
    expect(memToMb("1.5GB")).toBe(1536);
    expect(memToMb("lots")).toBeUndefined();
  });
  it("doubles per attempt", () => {
    expect(scaleMem("4G", 2, 1)).toBe("4G");
    expect(scaleMem("4G", 2, 2)).toBe("8192M");
    expect(scaleMem("500M", 2, 3)).toBe("2000M");
  });
  it("scales --mem and --mem-per-cpu of an attempt's settings, not the first", () => {
    const s = { type: "slurm", setup: [], slurm: { mem: "1G", memPerCpu: "100M", sbatchArgs: [], env: {}, signalGraceS: 60 } } as unknown as SlurmLaunchSettings;
    const p = policyOf({ ...s, retryScaling: { mem: 2 } });
    expect(settingsForAttempt(s, 1, p)).toBe(s);
    const s3 = settingsForAttempt(s, 3, p);
    expect([s3.slurm.mem, s3.slurm.memPerCpu]).toEqual(["4096M", "400M"]);
    expect(s.slurm.mem).toBe("1G");
    expect(policyOf(s)).toEqual({ maxAttempts: 3, retries: 0 });
  });
});
