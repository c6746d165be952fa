/**
 * Polite polling against the real local SLURM (scripts/slurm-cluster.sh): while the runs' status
 * files show progress, an attached sweep asks `squeue`/`sacct` at most once per
 * `launcher.poll_interval` (15 s by default). Counted with logging shims first on PATH.
 * Skipped, with the reason printed, where no cluster answers.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corral, lines, makeProject, slurmProblem, TASKS } from "../helpers.js";

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm polite-polling e2e test: ${problem}`);

/** A folder of shims that log each call to `log` and run the real command. */
function loggingShims(dir: string, log: string, cmds: string[]): string {
  const bin = path.join(dir, "shims");
  mkdirSync(bin, { recursive: true });
  for (const c of cmds) {
    const real = execFileSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).trim();
    const f = path.join(bin, c);
    writeFileSync(f, `#!/bin/sh\necho "$(date +%s.%N) ${c} $*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(f, 0o755);
  }
  return bin;
}

describe.skipIf(problem !== undefined)("SLURM: polite polling (real local cluster)", () => {
  it("an attached ~45 s sweep makes at most 8 squeue/sacct calls in all", () => {
    const dir = makeProject({
      // Two waves of two 20 s runs on the 2-CPU node: about 45 s.
      "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "20"\nconfig:\n  i: 0\nlauncher:\n  type: slurm\n  per_job: 1\n`,
    });
    const log = path.join(dir, "calls.log");
    const bin = loggingShims(dir, log, ["squeue", "sacct"]);
    const t0 = Date.now();
    const r = corral(["run", "-m", "i=range(4)"], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH ?? ""}` }, timeoutMs: 240_000 });
    const took = (Date.now() - t0) / 1000;
    expect(r.stderr).toContain("4 succeeded");
    expect(r.code).toBe(0);
    const calls = lines(log);
    console.log(`polite polling: ${calls.length} squeue/sacct calls in ${took.toFixed(1)} s`);
    expect(took).toBeGreaterThan(38);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(8);
  }, 300_000);
});
