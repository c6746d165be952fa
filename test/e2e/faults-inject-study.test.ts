/**
 * Aimed faults on a study (issue 15): `corral run -m --search random` is killed with SIGKILL at
 * each of its renames in turn (every atomic write: a trial's record, sweep.json, status files),
 * then `corral resume` finishes it. In every window: exactly `budget` trials in sweep.json, each
 * run exactly once, each with the params its trial record says. Skipped where strace is missing.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corralAsync, lines, makeProject, readJson, sweepDirs } from "../helpers.js";
import { countCalls, countEnv, everyWindow, killAt, runUnder, straceProblem } from "../inject.js";

if (straceProblem) console.warn(`SKIPPED study fault-injection tests: ${straceProblem}`);

const BUDGET = 5;
const ARGS = ["run", "-m", "--search", "random", "--budget", String(BUDGET), "--objective", "loss:min", "--seed", "3", "x=interval(0,1)", "w=choice(1,2,3)"];

/** A study whose trials sleep, then count themselves with their params (the count is atomic with the exit). */
function countingStudy(): string {
  return makeProject({
    "count.sh": 'sleep 0.3\ntrap "" TERM\necho \'{"loss": 1}\' > "$CORRAL_RUN_DIR/metrics.jsonl"\necho "$CORRAL_RUN_DIR $*" >> "$COUNT_FILE"\n',
    "corral.yaml": "command: sh count.sh\nconfig: {x: 0.5, w: 1}\nlauncher:\n  jobs: 2\n",
  });
}

async function expectStudyOnce(dir: string, label: string): Promise<void> {
  const sweeps = sweepDirs(dir);
  if (sweeps.length === 0 || !existsSync(path.join(sweeps[0]!, "sweep.json"))) {
    expect(lines(path.join(dir, "count.txt")), label).toEqual([]);
    return;
  }
  const r = await corralAsync(["resume"], { cwd: dir, env: { COUNT_FILE: path.join(dir, "count.txt") } }).done;
  expect(r.code, `${label}: resume\n${r.stderr}`).toBe(0);
  const m = readJson<SweepManifest>(path.join(sweeps[0]!, "sweep.json"));
  expect(m.runs.length, label).toBe(BUDGET);
  const counted = lines(path.join(dir, "count.txt"));
  const per = new Map<string, string[]>();
  for (const l of counted) {
    const [run, ...args] = l.split(" ");
    per.set(run!, [...(per.get(run!) ?? []), args.join(" ")]);
  }
  expect([...per].filter(([, v]) => v.length > 1), `${label}: trials run twice`).toEqual([]);
  expect(per.size, label).toBe(BUDGET);
  for (const e of m.runs) expect(per.get(path.join(sweeps[0]!, e.dir))?.[0], `${label}: trial ${e.index}`).toBe(e.overrides.join(" "));
}

describe.skipIf(straceProblem !== undefined)("fault injection: a study killed at every rename, then resumed", () => {
  it("rename: every window, exactly budget trials, each once with its recorded params", async () => {
    const calls = countCalls(countingStudy, ARGS, "rename");
    expect(calls).toBeGreaterThan(0);
    let landed = 0;
    await everyWindow(calls, async (n) => {
      const dir = countingStudy();
      const { killed } = await runUnder(killAt("rename", n), dir, ARGS, countEnv(dir));
      if (killed) landed++;
      await expectStudyOnce(dir, `rename #${n}`);
    });
    expect(landed).toBeGreaterThan(0);
  }, 600_000);
});
