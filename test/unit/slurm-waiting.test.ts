import { describe, expect, it } from "vitest";
import { isPermanentReason } from "../../src/launchers/slurm/parse.js";
import type { RunStatusRecord } from "../../src/store/protocol.js";
import { deriveStatus, factsMessage, waitingFacts } from "../../src/store/status.js";

const pending: RunStatusRecord = { type: "run-status", version: 1, runId: "r", index: 0, state: "pending", attempt: 2, updatedAt: 0, history: [] };

describe("pending reasons", () => {
  it("reasons that never clear by waiting are permanent; queue and limit reasons are not", () => {
    for (const r of ["PartitionConfig", "PartitionNodeLimit", "BadConstraints", "InvalidQOS", "InvalidAccount", "QOSMaxWallDurationPerJobLimit", "AssocMaxCpuPerJobLimit"]) expect(isPermanentReason(r), r).toBe(true);
    for (const r of ["Resources", "Priority", "BeginTime", "JobArrayTaskLimit", "AssocMaxJobsLimit", "ReqNodeNotAvail", "PartitionDown", "None", ""]) expect(isPermanentReason(r), r).toBe(false);
  });

  it("a blocked job fails its unstarted runs (no record, or a resubmission's pending one) with the reason", () => {
    const facts = { scheduler: "pending" as const, reason: "PartitionConfig", blocked: true };
    expect(deriveStatus(undefined, 0, facts)).toBe("failed");
    expect(deriveStatus(pending, 0, facts)).toBe("failed");
    expect(factsMessage("failed", facts)).toBe("the scheduler can never start its job: PartitionConfig");
    // a run that started is its worker's to record
    expect(deriveStatus({ ...pending, state: "succeeded" }, 0, facts)).toBe("succeeded");
  });

  it("a job that merely waits stays pending, with its reason", () => {
    const facts = { scheduler: "pending" as const, reason: "Resources" };
    expect(deriveStatus(undefined, 0, facts)).toBe("pending");
    expect(factsMessage("pending", facts)).toBe("waiting in the queue: Resources");
    expect(waitingFacts({ ...facts, workerAlive: false })).toEqual({ reason: "Resources" });
  });
});
