/**
 * The SLURM launcher against the real local SLURM started by scripts/slurm-cluster.sh (npm test
 * starts it where it can). Skipped, with the reason printed, where no cluster answers.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, makeProject, readJson, sweepDirs, TASKS, slurmProblem, waitFor } from "../helpers.js";

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm e2e tests: ${problem}`);

const intervals = (sweep: string, n: number): Array<{ start: number; end: number; gpus: string[]; jobId: string | undefined }> =>
  [...Array(n).keys()].map((i) => {
    const s = readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json"));
    return { start: s.startedAt!, end: s.endedAt!, gpus: s.gpus ?? [], jobId: s.jobId };
  });

describe.skipIf(problem !== undefined)("SLURM launcher (real local cluster)", () => {
  it("clusterduck example: one job runs all 4 runs, at most 2 at once, overlapping runs on different GPUs", () => {
    const dir = makeProject({
      "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "1"\nconfig:\n  model: convnet\nlauncher:\n  type: slurm\n  per_job: 4\n  parallel: 2\n  gpus: 4\n  verbose: true\n`,
    });
    const r = corral(["run", "-m", "model=convnet,transformer", "+iteration=range(2)"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toContain("4 succeeded");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.jobs).toHaveLength(1);
    const runs = intervals(sweep, 4);
    expect(new Set(runs.map((x) => x.jobId)).size).toBe(1);
    expect(runs[0]!.jobId).toBe(`${m.jobs[0]!.jobId}_0`);
    // Largest number of runs alive at one instant (sweep over start/end events; ends first on ties).
    const events = runs.flatMap((x) => [[x.start, 1], [x.end, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let alive = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (alive += d));
    expect(peak).toBe(2);
    for (const a of runs) {
      expect(a.gpus).toHaveLength(2);
      for (const b of runs) {
        if (b !== a && b.start < a.end && a.start < b.end) expect(a.gpus.filter((g) => b.gpus.includes(g))).toEqual([]);
      }
    }
    // the generated script is kept with the scheduler's logs
    const slurmDir = path.join(sweep, ".slurm");
    expect(readFileSync(path.join(slurmDir, "chunk-0.sbatch"), "utf8")).toContain("#SBATCH --gres=gpu:4");
    expect(readdirSync(slurmDir)).toContain(`${m.jobs[0]!.jobId}_0.out`);
  });

  it("200 runs with per_job 50: one sbatch, a 4-element array, all succeed, 200 result rows", () => {
    const dir = makeProject({
      "corral.yaml": `command: sh ${TASKS}/ok.sh\nconfig:\n  i: 0\nlauncher:\n  type: slurm\n  per_job: 50\n  parallel: 4\n`,
    });
    const r = corral(["run", "-m", "i=range(200)"], { cwd: dir, timeoutMs: 180_000 });
    expect(r.stderr).toContain("200 succeeded");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.jobs).toHaveLength(1);
    expect(m.jobs[0]!.batches.map((b) => b.runs.length)).toEqual([50, 50, 50, 50]);
    expect(readdirSync(path.join(sweep, ".slurm")).filter((f) => f.endsWith(".sbatch"))).toEqual(["chunk-0.sbatch"]);
    expect(readFileSync(path.join(sweep, ".slurm", "chunk-0.sbatch"), "utf8")).toContain("#SBATCH --array=0-3");
    const csv = corral(["results", "--format", "csv"], { cwd: dir }).stdout.trim().split("\n");
    expect(csv).toHaveLength(201);
  });

  it("--detach returns at once; status from another process follows; a failing run exits 1; logs work", async () => {
    const dir = makeProject({
      "corral.yaml": `command: sh\nconfig:\n  x: 0\nlauncher:\n  type: slurm\n  per_job: 2\n  parallel: 2\n`,
    });
    const r = corral(["run", "-m", `+s=${TASKS}/ok.sh,${TASKS}/exit3.sh`, "--detach", "--", "sh", "-c", 'exec sh "${1#+s=}"', "sh"], { cwd: dir });
    expect(r.code).toBe(0);
    const sweep = r.stdout.trim();
    expect(existsSync(path.join(sweep, "sweep.json"))).toBe(true);
    const w = corral(["status", "--watch"], { cwd: dir, timeoutMs: 120_000 });
    expect(w.code).toBe(1);
    expect(w.stdout).toMatch(/1 succeeded, 1 failed/);
    const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { runs: Array<{ state: string; jobId: string }> };
    expect(st.runs.map((x) => x.state)).toEqual(["succeeded", "failed"]);
    expect(corral(["logs", "1", "--stderr"], { cwd: dir }).stdout).toContain("ValueError");
  });

  it("cancel: scancel the sweep's jobs; running runs are recorded cancelled; resume reruns them", async () => {
    const dir = makeProject({
      "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "30"\nconfig:\n  i: 0\nlauncher:\n  type: slurm\n  per_job: 1\n  kill_grace: 2\n`,
    });
    const p = corralAsync(["run", "-m", "i=range(3)"], { cwd: dir });
    await waitFor(() => {
      const s = sweepDirs(dir)[0];
      return s !== undefined && existsSync(path.join(s, "0", "status.json"));
    }, 60_000, "a run to start");
    const c = corral(["cancel"], { cwd: dir });
    expect(c.code).toBe(0);
    const r = await p.done;
    expect(r.code).toBe(1);
    const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { counts: { cancelled: number; succeeded: number } };
    expect(st.counts.cancelled).toBe(3);
    expect(st.counts.succeeded).toBe(0);
  });

  it("single-allocation pipeline: one SLURM job runs the whole flow with the local launcher", () => {
    const dir = makeProject({
      "corral.yaml": `name: alloc\nrules:\n  make:\n    output: a/{i}.txt\n    shell: echo {wildcards.i} > {output}\n  double:\n    input: a/{i}.txt\n    output: b/{i}.txt\n    shell: cat {input} {input} > {output}\ntargets:\n  - expand: b/{i}.txt\n    i: range(3)\nlauncher:\n  type: slurm\n  cpus_per_task: 2\n`,
    });
    const r = corral(["flow", "--single-allocation"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toMatch(/the whole flow runs in SLURM job (\d+)/);
    expect(r.code).toBe(0);
    const jobId = /SLURM job (\d+)/.exec(r.stderr)![1]!;
    for (const i of [0, 1, 2]) expect(readFileSync(path.join(dir, "b", `${i}.txt`), "utf8")).toBe(`${i}\n${i}\n`);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.kind).toBe("flow");
    expect(m.launcher).toBe("local");
    // every job ran inside that one allocation
    const jobIds = m.runs.map((e) => readJson<RunStatusRecord>(path.join(sweep, e.dir, "status.json")).jobId);
    expect(jobIds).toHaveLength(6);
    expect(new Set(jobIds)).toEqual(new Set([jobId]));
    // a second time there is nothing to do, and nothing is queued
    const again = corral(["flow", "--single-allocation"], { cwd: dir });
    expect(again.stderr).toContain("nothing to do");
  });
});

