/**
 * Fencing in the worker: after a node failure SLURM may requeue a job while the old copy of a run
 * is still finishing on the lost node. The new worker must not start a run whose record says
 * another worker is running it (fresh heartbeat), and must not run it at all if that copy succeeds.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { BatchSpec, RunStatusRecord } from "../../src/store/protocol.js";
import { TASKS, lines, makeProject, readJson, runWorker, sleep } from "../helpers.js";


function setup(): { dir: string; batchFile: string; runDir: (i: number) => string; count: string } {
  const dir = makeProject({});
  const count = path.join(dir, "count.txt");
  const runDir = (i: number): string => path.join(dir, String(i));
  const runs = [0, 1].map((i) => {
    mkdirSync(runDir(i), { recursive: true });
    return { index: i, id: `r${i}`, dir: runDir(i), argv: ["sh", path.join(TASKS, "sleep.sh")], cwd: dir, env: { SLEEP: "0.2", COUNT_FILE: count, CORRAL_RUN_ID: `r${i}`, CORRAL_RUN_DIR: runDir(i) }, cpus: 0, gpus: Number.NaN, attempt: 2 };
  });
  const batch: BatchSpec = { type: "batch", version: 1, batchId: "0-0", sweepDir: dir, runs, parallel: 2, stagger: 0, killGraceS: 1, resources: { cpuIds: [0], gpuIds: [] }, verbose: true, heartbeatS: 15 };
  const batchFile = path.join(dir, "batch.json");
  writeFileSync(batchFile, JSON.stringify(batch));
  return { dir, batchFile, runDir, count };
}

const otherCopy = (i: number, state: "running" | "succeeded", updatedAt: number): RunStatusRecord => ({
  type: "run-status",
  version: 1,
  runId: `r${i}`,
  index: i,
  state,
  attempt: 1,
  updatedAt,
  host: "lost-node",
  worker: { pid: 4242, host: "lost-node", batchId: "0-0" },
  history: [{ state: "running", at: updatedAt, attempt: 1 }],
});


describe("worker fencing", () => {
  it("holds a run another live worker is running, and never runs it when that copy succeeds", async () => {
    const { batchFile, runDir, count } = setup();
    writeFileSync(path.join(runDir(1), "status.json"), JSON.stringify(otherCopy(1, "running", Date.now())));
    const worker = runWorker(batchFile);
    await sleep(1500);
    // run 0 ran; run 1 is held while the "other node" still heartbeats it
    expect(lines(count)).toEqual(["r0"]);
    writeFileSync(path.join(runDir(1), "status.json"), JSON.stringify(otherCopy(1, "succeeded", Date.now())));
    const r = await worker;
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/run 1: held: lost-node may still be running it/);
    expect(r.out).toMatch(/run 1: succeeded elsewhere; not run again/);
    expect(lines(count)).toEqual(["r0"]);
    expect(readJson<RunStatusRecord>(path.join(runDir(1), "status.json")).host).toBe("lost-node");
  });

  it("runs it once the other copy's heartbeat is stale", async () => {
    const { batchFile, runDir, count } = setup();
    writeFileSync(path.join(runDir(1), "status.json"), JSON.stringify(otherCopy(1, "running", Date.now() - 10 * 60_000)));
    const r = await runWorker(batchFile);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/held/);
    expect(lines(count).sort()).toEqual(["r0", "r1"]);
    const st = readJson<RunStatusRecord>(path.join(runDir(1), "status.json"));
    expect([st.state, st.attempt]).toEqual(["succeeded", 2]);
  });
});
