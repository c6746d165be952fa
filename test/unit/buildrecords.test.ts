import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  clearIncomplete,
  compactBuildRecords,
  COMPACT_THRESHOLD,
  FLOW_STATE_DIR,
  markIncomplete,
  readBuildRecords,
  readIncompleteMarks,
  writeBuildRecords,
} from "../../src/store/buildrecords.js";
import type { BuildRecord } from "../../src/plan/uptodate.js";

const rec = (jobKey: string, commandHash = "c"): BuildRecord => ({ ruleHash: "r", paramsHash: "p", commandHash, jobKey });
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), "corral-br-"));
const segments = (dir: string): string[] => readdirSync(path.join(dir, FLOW_STATE_DIR, "records"));

describe("build records", () => {
  it("reads nothing from a fresh project, and what was written after", () => {
    const dir = tmp();
    expect(readBuildRecords(dir).size).toBe(0);
    writeBuildRecords(dir, [["a.txt", rec("a")], ["b.txt", rec("b")]]);
    writeBuildRecords(dir, []);
    const r = readBuildRecords(dir);
    expect(r.get("a.txt")).toEqual(rec("a"));
    expect(r.get("b.txt")?.jobKey).toBe("b");
    expect(segments(dir)).toHaveLength(1); // an empty write adds no segment
  });

  it("lets a later segment win over an earlier one, also across a compaction", () => {
    const dir = tmp();
    writeBuildRecords(dir, [["a.txt", rec("a", "old")]], 1000);
    writeBuildRecords(dir, [["a.txt", rec("a", "new")], ["b.txt", rec("b")]], 2000);
    expect(readBuildRecords(dir).get("a.txt")?.commandHash).toBe("new");
    compactBuildRecords(dir);
    expect(segments(dir)).toHaveLength(1);
    writeBuildRecords(dir, [["a.txt", rec("a", "newest")]], 3000);
    const r = readBuildRecords(dir);
    expect(r.get("a.txt")?.commandHash).toBe("newest");
    expect(r.get("b.txt")?.jobKey).toBe("b");
  });

  it("compacts on read once there are more than COMPACT_THRESHOLD segments", () => {
    const dir = tmp();
    for (let i = 0; i <= COMPACT_THRESHOLD; i++) writeBuildRecords(dir, [[`f${i}`, rec(`j${i}`)]], 1000 + i);
    expect(segments(dir)).toHaveLength(COMPACT_THRESHOLD + 1);
    expect(readBuildRecords(dir).size).toBe(COMPACT_THRESHOLD + 1);
    expect(segments(dir)).toHaveLength(1);
    expect(readBuildRecords(dir).get(`f${COMPACT_THRESHOLD}`)?.jobKey).toBe(`j${COMPACT_THRESHOLD}`);
  });

  it("reads back 100k records (speed: the no-op flow bench)", () => {
    const dir = tmp();
    const recs: Array<[string, BuildRecord]> = [];
    for (let i = 0; i < 100_000; i++) recs.push([`results/sample_${i}/out.txt`, { ruleHash: "0123456789abcdef", paramsHash: "0123456789abcdef", commandHash: i.toString(16).padStart(16, "0"), jobKey: `r[i=${i}]` }]);
    writeBuildRecords(dir, recs);
    const r = readBuildRecords(dir);
    expect(r.size).toBe(100_000);
  });
});

describe("incomplete marks", () => {
  it("are listed until cleared; clearing twice is harmless", () => {
    const dir = tmp();
    expect(readIncompleteMarks(dir)).toEqual([]);
    markIncomplete(dir, { jobKey: "train[m=a]", outputs: ["m/a.pt", "m/a.log"], sweep: "/s", since: 1 });
    markIncomplete(dir, { jobKey: "train[m=b]", outputs: ["m/b.pt"], sweep: "/s", since: 2 });
    expect(readIncompleteMarks(dir).flatMap((m) => m.outputs).sort()).toEqual(["m/a.log", "m/a.pt", "m/b.pt"]);
    clearIncomplete(dir, "train[m=a]");
    clearIncomplete(dir, "train[m=a]");
    expect(readIncompleteMarks(dir).map((m) => m.jobKey)).toEqual(["train[m=b]"]);
  });
});
