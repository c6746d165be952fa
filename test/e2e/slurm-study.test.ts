/**
 * A study packed on the real local SLURM cluster (scripts/slurm-cluster.sh): one submission of 3
 * array tasks whose workers draw the study's next trial as their slot frees (worker/trials.ts),
 * claimed by a hard link of trial.json. Counted from what the trials themselves wrote, not from
 * what Corral says. Skipped, with the reason printed, where no cluster answers.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest, TrialFile } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sleep, slurmProblem, sweepDirs, waitFor } from "../helpers.js";

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm study e2e tests: ${problem}`);

/** Appends its folder and params to ran.txt, then logs loss per step. */
const OBJ = `import json, os, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:])
x = float(args["x"]); w = int(args["w"])
d = os.environ["CORRAL_RUN_DIR"]
with open(os.path.join(os.environ["PROJECT"], "ran.txt"), "a") as f:
    f.write(os.path.basename(d) + " " + os.environ.get("SLURM_ARRAY_TASK_ID", "-") + " " + " ".join(sys.argv[1:]) + "\\n")
for s in range(1, 4):
    with open(os.path.join(d, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": s, "loss": (x - 0.3) ** 2 + w / 100 + 1.0 / s}) + "\\n")
    time.sleep(0.25)
with open(os.path.join(os.environ["PROJECT"], "done.txt"), "a") as f:
    f.write(os.path.basename(d) + "\\n")
`;

const BUDGET = 12;

function study(): string {
  const dir = makeProject({ "obj.py": OBJ }, "corral-slurm-study-");
  const yaml = [
    "command: [python3, obj.py]",
    "config: {x: 0.5, w: 1}",
    `env: {PROJECT: "${dir}"}`,
    "sweep:",
    "  x: {type: float, low: 0, high: 1}",
    "  w: {type: int, low: 1, high: 3}",
    `search: {sampler: tpe, budget: ${BUDGET}, objective: {metric: loss, mode: min}, seed: 3, n_jobs: 3}`,
    "launcher: {type: slurm, parallel: 1, poll_interval: 1}",
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "corral.yaml"), yaml);
  return dir;
}

/** Each trial folder that ran, with how often it ran and in which array tasks. */
function ran(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines(path.join(dir, "ran.txt"))) {
    const [run, task] = l.split(" ");
    out.set(run!, [...(out.get(run!) ?? []), task!]);
  }
  return out;
}

function checkStudy(dir: string): { m: SweepManifest; trials: TrialFile[] } {
  const sweep = sweepDirs(dir)[0]!;
  const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
  expect(m.runs.length).toBe(BUDGET);
  const runs = ran(dir);
  // Exactly the budget, none twice: every trial folder ran once, and no folder beyond the budget exists.
  expect([...runs.keys()].sort((a, b) => Number(a) - Number(b))).toEqual([...Array(BUDGET).keys()].map(String));
  for (const [, tasks] of runs) expect(tasks).toHaveLength(1);
  expect(existsSync(path.join(sweep, String(BUDGET), "trial.json"))).toBe(false);
  const trials = [...Array(BUDGET).keys()].map((k) => readJson<TrialFile>(path.join(sweep, String(k), "trial.json")));
  for (const [k, t] of trials.entries()) {
    expect(t.number).toBe(k);
    expect(t.params.x as number).toBeGreaterThanOrEqual(0);
    expect(t.params.x as number).toBeLessThanOrEqual(1);
    // What the trial ran with is what its record says.
    const line = lines(path.join(dir, "ran.txt")).find((l) => l.split(" ")[0] === String(k))!;
    expect(line).toContain(`w=${String(t.params.w)}`);
    const st = readJson<RunStatusRecord>(path.join(sweep, String(k), "status.json"));
    expect(st.state).toBe("succeeded");
    expect(readFileSync(path.join(sweep, String(k), "config.yaml"), "utf8")).toContain(`w: ${String(t.params.w)}`);
  }
  return { m, trials };
}

describe.skipIf(problem !== undefined)("a study on SLURM (real local cluster)", () => {
  it("one submission of 3 array tasks; the tasks draw the trials after the first 3: budget exact, no trial twice", () => {
    const dir = study();
    const r = corral(["run", "-m"], { cwd: dir, timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const { m, trials } = checkStudy(dir);
    // Packed: one sbatch, one array of 3 tasks, never a submission per trial.
    expect(m.jobs.filter((j) => j.launcher === "slurm")).toHaveLength(1);
    expect(m.jobs[0]!.batches).toHaveLength(3);
    const drawn = trials.filter((t) => t.drawnBy !== undefined);
    expect(drawn.length).toBe(BUDGET - 3);
    // More than one task drew (the node runs two 1-CPU tasks at once).
    expect(new Set(drawn.map((t) => t.drawnBy!.batchId)).size).toBeGreaterThanOrEqual(2);
    // The head knows which task runs each drawn trial.
    const batchRuns = m.jobs[0]!.batches.flatMap((b) => b.runs);
    expect([...batchRuns].sort((a, b) => a - b)).toEqual([...Array(BUDGET).keys()]);
  });

  it("the head killed with SIGKILL mid-study: the tasks draw and run the rest alone; corral status counts them; corral resume ends with exactly the budget, none twice", async () => {
    const dir = study();
    const head = corralAsync(["run", "-m"], { cwd: dir });
    await waitFor(() => existsSync(path.join(dir, "ran.txt")) && lines(path.join(dir, "ran.txt")).length >= 4, 120_000);
    head.child.kill("SIGKILL");
    await head.done;
    // Without any head, the tasks draw and run the rest of the study.
    await waitFor(() => lines(path.join(dir, "ran.txt")).length >= BUDGET, 120_000, "the tasks to run every trial");
    await sleep(1500);
    const sweep = sweepDirs(dir)[0]!;
    expect(readJson<SweepManifest>(path.join(sweep, "sweep.json")).runs.length).toBeLessThan(BUDGET);
    // corral status counts the trials the tasks drew, adopted or not.
    expect(corral(["status"], { cwd: dir }).stdout).toContain(`${BUDGET}/${BUDGET} trials`);
    const r = corral(["resume"], { cwd: dir, timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const { m } = checkStudy(dir);
    expect(m.jobs.filter((j) => j.launcher === "slurm")).toHaveLength(1);
  });

  it("one task's worker killed with SIGKILL mid-study: its trial ends lost and goes again; the study ends with exactly the budget, each trial completed once", async () => {
    const dir = study();
    const head = corralAsync(["run", "-m"], { cwd: dir });
    await waitFor(() => lines(path.join(dir, "ran.txt")).length >= 5, 120_000, "5 trials to start");
    const sweep = sweepDirs(dir)[0]!;
    const job = readJson<SweepManifest>(path.join(sweep, "sweep.json")).jobs.find((j) => j.launcher === "slurm")!;
    // The batch shell of task 0 is its worker (the script execs it): SIGKILL to it alone.
    execFileSync("scancel", ["--signal=KILL", "--batch", `${job.jobId}_0`]);
    const r = await head.done;
    expect(r.code, r.stderr).toBe(0);
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs.length).toBe(BUDGET);
    // Completed exactly once each (a trial the kill cut short started twice, finished once).
    const done = lines(path.join(dir, "done.txt"));
    expect([...done].sort((a, b) => Number(a) - Number(b))).toEqual([...Array(BUDGET).keys()].map(String));
    expect(existsSync(path.join(sweep, String(BUDGET), "trial.json"))).toBe(false);
    const attempts = [...Array(BUDGET).keys()].map((k) => readJson<RunStatusRecord>(path.join(sweep, String(k), "status.json")));
    for (const st of attempts) expect(st.state).toBe("succeeded");
    // The kill cost a trial its first attempt: it went again.
    expect(attempts.some((st) => st.attempt === 2)).toBe(true);
  });
});
