/**
 * A sample of the aimed faults on the real SLURM test cluster (issue 11): `corral run -m` with the
 * SLURM launcher killed at each of its renames and at its lock's link, and the worker inside the
 * job killed at a sample of its renames and at its first claim, through `CORRAL_WORKER_PREFIX`
 * (rendered into the batch script). Then `corral resume`; every run counts itself: exactly once.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { makeProject, slurmProblem, sweepDirs } from "../helpers.js";
import { countCalls, countEnv, expectExactlyOnce, killAt, RUNS, runUnder, straceProblem } from "../inject.js";

const problem = straceProblem ?? slurmProblem();
if (problem) console.warn(`SKIPPED SLURM fault-injection tests: ${problem}`);

/** RUNS runs in two array tasks of three; the engine looks at status files every second. */
function slurmSweep(): string {
  return makeProject({
    "count.sh": 'sleep 0.4\ntrap "" TERM\necho "$CORRAL_RUN_DIR" >> "$COUNT_FILE"\n',
    "corral.yaml": `command: sh count.sh\nconfig:\n  x: 0\nsweep:\n  x: ${Array.from({ length: RUNS }, (_, i) => i).join(",")}\nlauncher:\n  type: slurm\n  per_job: 3\n  parallel: 3\n  poll_interval: 1\n`,
  });
}

describe.skipIf(problem !== undefined)("fault injection on the real SLURM: a sample of windows, then resume", () => {
  it("corral run -m killed at each of its renames and at the lock's link: each run once", async () => {
    const renames = countCalls(slurmSweep, ["run", "-m"], "rename");
    expect(renames).toBeGreaterThan(0);
    const windows: Array<[string, number]> = [...Array.from({ length: renames }, (_, i): [string, number] => ["rename", i + 1]), ["link", 1]];
    let landed = 0;
    for (const [call, n] of windows) {
      const dir = slurmSweep();
      const { killed } = await runUnder(killAt(call, n), dir, ["run", "-m"]);
      if (killed) landed++;
      await expectExactlyOnce(dir, `slurm CLI ${call} #${n}`);
    }
    expect(landed).toBeGreaterThan(0);
  }, 600_000);

  it("the worker inside the job killed at its 1st, 3rd and 5th rename and at its first claim: each run once", async () => {
    for (const [call, n] of [["rename", 1], ["rename", 3], ["rename", 5], ["link", 1]] as Array<[string, number]>) {
      const dir = slurmSweep();
      const r = await runUnder([], dir, ["run", "-m"], countEnv(dir, { CORRAL_WORKER_PREFIX: killAt(call, n).join(" ") }));
      expect(r.killed).toBe(false);
      // The kill was aimed: every batch script starts the worker under strace's injection...
      const sweep = sweepDirs(dir)[0]!;
      const scripts = readdirSync(path.join(sweep, ".slurm")).filter((f) => f.endsWith(".sbatch"));
      expect(scripts.length).toBeGreaterThan(0);
      for (const f of scripts) expect(readFileSync(path.join(sweep, ".slurm", f), "utf8")).toContain(`'inject=${call}:signal=KILL:when=${n}'`);
      // ...and it landed: a worker that dies at its first rename or claim never finishes a run.
      if (n === 1) expect(r.code).toBe(1);
      await expectExactlyOnce(dir, `slurm worker ${call} #${n}`);
    }
  }, 600_000);
});
