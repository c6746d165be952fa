/**
 * Stopping SLURM sweeps whose work is still queued, against the real local SLURM started by
 * scripts/slurm-cluster.sh: `corral cancel` of queued array tasks, `corral resume` after it,
 * Ctrl+C while everything is pending, and a job whose pending reason can never clear.
 * Skipped, with the reason printed, where no cluster answers.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sleep, slurmProblem, sweepDirs, waitFor } from "../helpers.js";

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm cancel e2e tests: ${problem}`);

/** squeue rows (`id|state`) of the given jobs that are still pending or running. */
const alive = (jobIds: string[]): string[] =>
  execFileSync("squeue", ["-h", "-r", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i|%T", "-j", jobIds.join(",")], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);

const jobsOf = (sweep: string): string[] => readJson<SweepManifest>(path.join(sweep, "sweep.json")).jobs.map((j) => j.jobId);

// Each run appends a line to `starts` before it does anything, then sleeps as long as `dur` says.
const COUNTING = `command: sh -c 'echo "$CORRAL_RUN_ID" >> {dir}/starts; sleep $(cat {dir}/dur)'\nconfig:\n  i: 0\n`;

describe.skipIf(problem !== undefined)("SLURM: stopping queued work (real local cluster)", () => {
  it("cancel of queued array tasks returns within seconds with exit 0, no run starts after it, and resume runs them all", async () => {
    const dir = makeProject({ "dur": "30\n" });
    writeFileSync(path.join(dir, "corral.yaml"), COUNTING.replaceAll("{dir}", dir) + "launcher:\n  type: slurm\n  per_job: 1\n  array_throttle: 1\n  kill_grace: 2\n");
    const p = corralAsync(["run", "-m", "i=range(5)"], { cwd: dir });
    await waitFor(() => lines(path.join(dir, "starts")).length >= 1, 90_000, "the first run to start");
    const sweep = sweepDirs(dir)[0]!;
    const t0 = Date.now();
    const c = corral(["cancel"], { cwd: dir, timeoutMs: 60_000 });
    const took = Date.now() - t0;
    expect(c.stderr).not.toContain("scancel failed");
    expect(c.code).toBe(0);
    expect(took).toBeLessThan(20_000);
    const startsAtCancel = lines(path.join(dir, "starts")).length;
    const r = await p.done;
    expect(r.code).toBe(1);
    // Nothing of the sweep is left in the queue, and nothing starts later.
    await waitFor(() => alive(jobsOf(sweep)).length === 0, 30_000, "the sweep's jobs to leave the queue");
    await sleep(3000);
    expect(lines(path.join(dir, "starts")).length).toBe(startsAtCancel);
    const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { counts: { cancelled: number; succeeded: number } };
    expect(st.counts.cancelled).toBe(5);

    // Resume right after: every cancelled run is submitted again (none "adopted") and succeeds.
    writeFileSync(path.join(dir, "dur"), "0\n");
    const res = corral(["resume"], { cwd: dir, timeoutMs: 150_000 });
    expect(res.stderr).toContain("0 still queued or running (adopted), 5 resubmitted");
    expect(res.stderr).toContain("5 succeeded");
    expect(res.code).toBe(0);
    expect(lines(path.join(dir, "starts")).length).toBe(startsAtCancel + 5);
  }, 300_000);

  it("Ctrl+C while every task is still pending: the reason is shown, the jobs go, exit 130 without a stack trace", async () => {
    const dir = makeProject({ "dur": "1\n" });
    // --begin keeps the jobs queued (reason BeginTime) for the whole test.
    writeFileSync(path.join(dir, "corral.yaml"), COUNTING.replaceAll("{dir}", dir) + "launcher:\n  type: slurm\n  per_job: 1\n  sbatch_args: [\"--begin=now+120\"]\n");
    const p = corralAsync(["run", "-m", "i=range(3)"], { cwd: dir });
    await waitFor(() => /queue: 3 pending \(BeginTime\)/.test(p.output().stderr), 60_000, "the queue reason in the live view");
    const status = corral(["status"], { cwd: dir });
    expect(status.stdout).toContain("waiting in the queue: BeginTime");
    const sweep = sweepDirs(dir)[0]!;
    const t0 = Date.now();
    p.child.kill("SIGINT");
    const r = await p.done;
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.stderr).not.toMatch(/\n\s+at |CorralError|scancel failed/);
    expect(r.code).toBe(130);
    await waitFor(() => alive(jobsOf(sweep)).length === 0, 20_000, "the sweep's jobs to leave the queue");
    expect(lines(path.join(dir, "starts"))).toEqual([]);
  }, 120_000);

  it("a pending reason that can never clear (6 nodes of a 1-node partition) ends the wait: exit 1 naming the reason, nothing left queued", () => {
    const dir = makeProject({ "dur": "0\n" });
    writeFileSync(path.join(dir, "corral.yaml"), COUNTING.replaceAll("{dir}", dir) + "launcher:\n  type: slurm\n  per_job: 1\n  sbatch_args: [\"--nodes=6\"]\n");
    const t0 = Date.now();
    const r = corral(["run", "-m", "i=range(2)"], { cwd: dir, timeoutMs: 90_000 });
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/PartitionConfig|PartitionNodeLimit/);
    expect(r.stderr).toContain("2 failed");
    expect(r.code).toBe(1);
    const sweep = sweepDirs(dir)[0]!;
    expect(alive(jobsOf(sweep))).toEqual([]);
    const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { runs: Array<{ state: string; message?: string }> };
    expect(st.runs.map((x) => x.state)).toEqual(["failed", "failed"]);
    expect(st.runs[0]!.message).toMatch(/can never start its job: Partition(Config|NodeLimit)/);
    // doctor says so before anything is queued
    const doc = corral(["doctor", "--launcher", "slurm"], { cwd: dir });
    expect(doc.stdout).toContain("6 nodes per job (launcher.sbatch_args '--nodes=6') but the partition has 1");
    expect(doc.code).toBe(1);
  });
});
