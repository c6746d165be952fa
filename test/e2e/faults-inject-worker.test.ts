/**
 * Aimed faults at the worker itself (issue 11): the local worker of `corral run -m` is killed with
 * SIGKILL at every one of its renames, links (claims) and writes in turn, through
 * `CORRAL_WORKER_PREFIX` (strace's fault injection put before the worker's command line). The
 * attached CLI resubmits what its dead workers left (each later worker dies at the same call, until
 * `max_attempts`), then `corral resume` finishes the sweep. Every run appends its own folder to a
 * file when it ends: each must appear exactly once, in every trial.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, lines, sweepDirs } from "../helpers.js";
import { callsIn, countEnv, countingSweep, everyWindow, expectExactlyOnce, killAt, RUNS, runUnder, straceProblem } from "../inject.js";

if (straceProblem) console.warn(`SKIPPED worker fault-injection tests: ${straceProblem}`);

/** How often one worker makes `syscall` in a clean `corral run -m` of the counting sweep. */
function workerCalls(syscall: string): number {
  const dir = countingSweep();
  const trace = path.join(dir, "worker.trace");
  const r = spawnSync(process.execPath, [CLI, "run", "-m"], { cwd: dir, env: countEnv(dir, { CORRAL_WORKER_PREFIX: `strace -qq -e trace=${syscall} -o ${trace}` }), encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return callsIn(trace, syscall);
}

describe.skipIf(straceProblem !== undefined)("fault injection: the worker killed at every rename, link and write, then resume", () => {
  for (const syscall of ["rename", "link", "write"]) {
    it(`${syscall}: every window, each run exactly once`, async () => {
      const calls = workerCalls(syscall);
      expect(calls, `a clean worker's ${syscall} calls`).toBeGreaterThan(0);
      let landed = 0;
      await everyWindow(calls, async (n) => {
        const dir = countingSweep();
        const r = await runUnder([], dir, ["run", "-m"], countEnv(dir, { CORRAL_WORKER_PREFIX: killAt(syscall, n).join(" ") }));
        // The CLI was not killed: it ends, exit 1 when its workers died before every run finished.
        expect(r.killed).toBe(false);
        if (r.code !== 0) landed++;
        await expectExactlyOnce(dir, `worker ${syscall} #${n}`);
      });
      expect(landed, `worker kills at ${syscall} of ${calls} that left work for resume`).toBeGreaterThan(0);
    }, 600_000);
  }
});

describe.skipIf(straceProblem !== undefined)("a worker that always dies before recording anything", () => {
  it("counts an attempt each time: bounded by max_attempts (3), then exit 1 with every run lost at attempt 3; nothing ran", async () => {
    const dir = countingSweep();
    // Every worker dies at its first rename (its identity file, before any claim or start).
    const r = await runUnder([], dir, ["run", "-m"], countEnv(dir, { CORRAL_WORKER_PREFIX: killAt("rename", 1).join(" ") }));
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    const sweep = sweepDirs(dir)[0]!;
    // Three attempts, three workers: never a loop of resubmissions.
    expect(readdirSync(path.join(sweep, ".corral")).filter((f) => /^batch-.*\.json$/.test(f))).toHaveLength(3);
    for (let i = 0; i < RUNS; i++) {
      const st = JSON.parse(readFileSync(path.join(sweep, String(i), "status.json"), "utf8")) as { state: string; attempt: number };
      expect([st.state, st.attempt]).toEqual(["lost", 3]);
    }
    expect(lines(path.join(dir, "count.txt"))).toEqual([]);
  }, 120_000);
});
