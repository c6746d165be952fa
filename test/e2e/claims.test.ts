/**
 * The claim protocol (store/claim.ts, docs/reliability.md): whatever hands the same run to two
 * workers (a crash between spawn and record, two commands at once, a stale batch, a requeued job),
 * each attempt of a run is started by exactly one worker. Counted by the runs themselves.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { BatchSpec, RunStatusRecord, WorkerIdentity } from "../../src/store/protocol.js";
import { TASKS, lines, makeProject, readJson, runWorker, sleep } from "../helpers.js";


interface Setup {
  dir: string;
  count: string;
  runDir: (i: number) => string;
  batch: (name: string, attempt: number, opts?: { sleep?: string; heartbeatS?: number }) => string;
}

function setup(n: number): Setup {
  const dir = makeProject({});
  const count = path.join(dir, "count.txt");
  const runDir = (i: number): string => path.join(dir, "runs", String(i));
  for (let i = 0; i < n; i++) mkdirSync(runDir(i), { recursive: true });
  const batch = (name: string, attempt: number, opts: { sleep?: string; heartbeatS?: number } = {}): string => {
    const runs = Array.from({ length: n }, (_, i) => ({
      index: i,
      id: `r${i}`,
      dir: runDir(i),
      argv: ["sh", path.join(TASKS, "starts.sh")],
      cwd: dir,
      env: { SLEEP: opts.sleep ?? "0", COUNT_FILE: count, CORRAL_RUN_ID: `r${i}`, CORRAL_RUN_DIR: runDir(i) },
      cpus: 0,
      gpus: Number.NaN,
      attempt,
    }));
    const spec: BatchSpec = { type: "batch", version: 1, batchId: name, sweepDir: dir, runs, parallel: 4, stagger: 0, killGraceS: 1, resources: { cpuIds: [0], gpuIds: [] }, verbose: true, heartbeatS: opts.heartbeatS ?? 15, pinCpus: false };
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(spec));
    return file;
  };
  return { dir, count, runDir, batch };
}


/** Starts per run id, from the runs' own lines. */
function starts(count: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines(count)) {
    const [what, id] = l.split(" ");
    if (what === "start") m.set(id!, (m.get(id!) ?? 0) + 1);
  }
  return m;
}

describe("claims: each attempt of a run starts in exactly one worker", () => {
  it("two workers handed the same batch at once: every run starts once (5 trials)", async () => {
    for (let trial = 0; trial < 5; trial++) {
      const s = setup(20);
      const a = s.batch("a", 1);
      const b = s.batch("b", 1);
      const [ra, rb] = await Promise.all([runWorker(a), runWorker(b)]);
      const st = starts(s.count);
      expect([...st.keys()].length, `trial ${trial}: ${ra.out}\n${rb.out}`).toBe(20);
      expect([...st.values()].every((v) => v === 1), `trial ${trial}: ${JSON.stringify([...st])}`).toBe(true);
      for (let i = 0; i < 20; i++) expect(readJson<RunStatusRecord>(path.join(s.runDir(i), "status.json")).state).toBe("succeeded");
      // Each run has exactly one claim of attempt 1, a hard link to its worker's identity.
      for (let i = 0; i < 20; i++) expect(readdirSync(s.runDir(i)).filter((f) => f.startsWith("claim-"))).toEqual(["claim-1.0"]);
      expect(ra.code).toBe(0);
      expect(rb.code).toBe(0);
    }
  });

  it("a later attempt handed out while the earlier one still runs is held, and dropped when that one succeeds", async () => {
    const s = setup(2);
    const first = runWorker(s.batch("first", 1, { sleep: "1.5" }));
    await sleep(600);
    const second = await runWorker(s.batch("second", 2));
    await first;
    expect(second.out).toMatch(/run 0: held: worker \d+@.* may still be running attempt 1/);
    expect(second.out).toMatch(/run 0: succeeded elsewhere; not run again/);
    expect(lines(s.count).filter((l) => l.startsWith("start")).sort()).toEqual(["start r0 1", "start r1 1"]);
    expect(readJson<RunStatusRecord>(path.join(s.runDir(0), "status.json")).attempt).toBe(1);
  });

  it("a stale batch (an earlier attempt) started after a later attempt was claimed runs nothing", async () => {
    const s = setup(3);
    const newer = runWorker(s.batch("newer", 2, { sleep: "1" }));
    await sleep(500);
    const stale = await runWorker(s.batch("stale", 1));
    await newer;
    expect(stale.out).toMatch(/run 0: attempt 1 superseded by attempt 2/);
    expect(lines(s.count).filter((l) => l.startsWith("start")).sort()).toEqual(["start r0 2", "start r1 2", "start r2 2"]);
    // The stale worker removed what it claimed: only the newer claims remain.
    for (let i = 0; i < 3; i++) expect(readdirSync(s.runDir(i)).filter((f) => f.startsWith("claim-"))).toEqual(["claim-2.0"]);
  });

  it("a claim from another host is honoured while its owner heartbeats, and taken over (next seq) once stale", async () => {
    const s = setup(1);
    // Another node's worker claimed attempt 1 of run 0 (its identity file, linked as the claim).
    const ident: WorkerIdentity = { type: "worker", version: 1, pid: 4242, host: `other-than-${hostname()}`, startedAt: Date.now(), batchId: "lost", restartCount: 0 };
    const idFile = path.join(s.dir, ".corral", "workers", "lost@other.4242.json");
    mkdirSync(path.dirname(idFile), { recursive: true });
    writeFileSync(idFile, JSON.stringify(ident));
    linkSync(idFile, path.join(s.runDir(0), "claim-1.0"));
    // Heartbeat 1 s: a claim is stale after 3 heartbeats + 5 s = 8 s without a touch.
    const w = runWorker(s.batch("requeued", 1, { heartbeatS: 1 }));
    const beat = setInterval(() => utimesSync(idFile, new Date(), new Date()), 500);
    await sleep(3000);
    expect(lines(s.count)).toEqual([]);
    clearInterval(beat);
    const r = await w;
    expect(r.out).toMatch(/run 0: held: worker 4242@other-than/);
    expect(lines(s.count)).toEqual(["start r0 1", "end r0 1"]);
    expect(readdirSync(s.runDir(0)).filter((f) => f.startsWith("claim-")).sort()).toEqual(["claim-1.0", "claim-1.1"]);
  }, 30_000);
});

describe("claims of a worker that ended", () => {
  it("an ended worker's claims (heartbeat set to the epoch as it closes) are over at once, on any host", async () => {
    const s = setup(2);
    // A first worker runs attempt 1 to the end: its identity's mtime is then the epoch.
    const first = await runWorker(s.batch("first", 1));
    expect(first.code).toBe(0);
    const idFile = path.join(s.dir, ".corral", "workers", readdirSync(path.join(s.dir, ".corral", "workers")).find((f) => f.startsWith("first@") && f.endsWith(".json"))!);
    expect(statSync(idFile).mtimeMs).toBe(0);
    // Seen from another host, that claim is not live: attempt 2 (a retry) starts at once.
    const ident = JSON.parse(readFileSync(idFile, "utf8")) as WorkerIdentity;
    writeFileSync(idFile + ".other", JSON.stringify({ ...ident, host: `other-than-${hostname()}` }));
    utimesSync(idFile + ".other", 0, 0);
    for (let i = 0; i < 2; i++) {
      rmSync(path.join(s.runDir(i), "claim-1.0"));
      rmSync(path.join(s.runDir(i), "status.json"));
      linkSync(idFile + ".other", path.join(s.runDir(i), "claim-1.0"));
    }
    const t0 = Date.now();
    const second = await runWorker(s.batch("second", 2));
    expect(second.out).not.toMatch(/held/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(lines(s.count).filter((l) => l.startsWith("start")).sort()).toEqual(["start r0 1", "start r0 2", "start r1 1", "start r1 2"]);
  });
});
