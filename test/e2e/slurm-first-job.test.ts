/**
 * The first job on a real cluster, against the local SLURM test cluster: `corral doctor --probe`
 * reports from a compute node, and a job whose worker cannot start (its `launcher.nodejs`
 * missing) fails its runs with that reason instead of losing them.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, slurmProblem, sweepDirs } from "../helpers.js";

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED first-job e2e tests: ${problem}`);

interface Check {
  ok: boolean;
  title: string;
  detail?: string;
  hint?: string;
}

describe.skipIf(problem !== undefined)("the first job on the cluster", () => {
  it("doctor --probe -P gpu: one job reports its node, Node.js and version, the project folder, GPUs and the wait; its files go", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh -c true\nprofiles:\n  gpu:\n    launcher: {type: slurm, gpus: 2, setup: [export FROM_SETUP=1]}\n",
    });
    const r = corral(["doctor", "-P", "gpu", "--probe", "--json"], { cwd: dir, timeoutMs: 120_000 });
    const checks = JSON.parse(r.stdout) as Check[];
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.code).toBe(0);
    const titles = checks.map((c) => c.title);
    const ran = titles.find((t) => t.startsWith("probe job "));
    expect(ran).toMatch(/^probe job \d+ ran on \S+ after \d+s in the queue$/);
    const host = /ran on (\S+)/.exec(ran!)![1]!;
    const runtime = checks.find((c) => c.title.startsWith(`worker runtime on ${host}: `))!;
    expect(runtime.title).toBe(`worker runtime on ${host}: ${process.execPath} (Node ${process.versions.node})`);
    expect(runtime.detail).toMatch(/^launcher\.nodejs: /);
    expect(checks).toContainEqual({ ok: true, title: `the project folder is visible on ${host}`, detail: dir });
    // the test cluster hands out dummy GPUs through gres: two asked, two seen
    const gpus = titles.find((t) => t.startsWith(`GPUs seen on ${host}: `));
    expect(gpus).toMatch(/^GPUs seen on \S+: \d+,\d+ \(CUDA_VISIBLE_DEVICES\)$/);
    expect(titles.some((t) => t.includes("container runtime"))).toBe(true);
    expect(existsSync(path.join(dir, ".corral", "doctor-probe"))).toBe(false);
  });

  it("doctor --probe with launcher.nodejs missing on the nodes: a failed line saying so, exit 1", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c true\nlauncher: {type: slurm, nodejs: /nonexistent/node-20/bin/node}\n" });
    const r = corral(["doctor", "--probe"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✓ jobs start the worker with launcher.nodejs: /nonexistent/node-20/bin/node");
    expect(r.stdout).toMatch(/✗ the worker could not start on \S+: \/nonexistent\/node-20\/bin\/node not found \(or not executable\) {2}launcher\.nodejs: \/nonexistent\/node-20\/bin\/node; PATH=/);
    expect(r.stdout).toContain("hint: set launcher.nodejs to the node binary's path on the compute nodes");
  });

  it("doctor --probe says why a job that cannot start soon still waits, and cancels it", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c true\nlauncher: {type: slurm, sbatch_args: ['--begin=now+1hour']}\n" });
    const r = corral(["doctor", "--probe", "2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    const m = /✗ the probe job (\d+) still waited after 2s \(BeginTime\); cancelled/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const q = corral(["doctor", "--probe", "--launcher", "local"], { cwd: dir });
    expect(q.code).toBe(2);
    expect(q.stderr).toContain("--probe submits a SLURM job: it needs the SLURM launcher");
  });

  it("a sweep whose launcher.nodejs is missing: runs end failed with the reason (not lost, not resubmitted), exit 1", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh -c true\nconfig:\n  i: 0\nlauncher:\n  type: slurm\n  per_job: 2\n  poll_interval: 1\n  nodejs: /nonexistent/node-20/bin/node\n  setup: [export A=1]\n",
    });
    const r = corral(["run", "-m", "i=range(3)"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/run 0 \[i=0\] failed: the worker could not start on \S+: \/nonexistent\/node-20\/bin\/node not found \(or not executable\) \(launcher\.nodejs: \/nonexistent\/node-20\/bin\/node; PATH=.*; after 1 launcher\.setup line\)/);
    const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { runs: Array<{ state: string; message?: string }>; counts: Record<string, number> };
    expect(st.runs.map((x) => x.state)).toEqual(["failed", "failed", "failed"]);
    for (const run of st.runs) expect(run.message).toMatch(/^the worker could not start on \S+: \/nonexistent\/node-20\/bin\/node not found/);
    expect(corral(["status"], { cwd: dir }).stdout).toMatch(/failed\s+i=0\s+the worker could not start on/);
    // one submission: a worker that cannot start is not a lost run to try again
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.jobs).toHaveLength(1);
    expect(readdirSync(path.join(sweep, ".slurm")).filter((f) => f.endsWith(".nostart")).sort()).toEqual(["batch-0-0.json.nostart", "batch-0-1.json.nostart"]);
  });

  it("a flow whose launcher.nodejs is missing: the job fails with the reason, exit 1", () => {
    const dir = makeProject({
      "corral.yaml": "rules:\n  make:\n    output: out/{i}.txt\n    shell: echo {wildcards.i} > {output}\ntargets:\n  - expand: out/{i}.txt\n    i: range(2)\nlauncher:\n  type: slurm\n  poll_interval: 1\n  nodejs: nodejs-that-is-not-there\n",
    });
    const r = corral(["flow"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the worker could not start on \S+: nodejs-that-is-not-there not found on PATH \(launcher\.nodejs: nodejs-that-is-not-there; PATH=/);
    expect(r.stderr).not.toMatch(/\blost\b/);
  });
});
