/**
 * Trials drawn by several processes at once from one study (what a study's SLURM array tasks do,
 * worker/trials.ts), without a cluster: 4 drawers race on the same sweep folder; then one drawer
 * is killed with SIGKILL at each of its `link` calls in turn (the claim of a trial) and `corral
 * resume` finishes the study. Counted from the trial folders and from what the trials wrote.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { SweepManifest, TrialFile } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sweepDirs } from "../helpers.js";
import { killAt, straceProblem } from "../inject.js";

const TRIALS = path.resolve(import.meta.dirname, "../../dist/worker/trials.js");
const DRAWER = `const { trialDrawer } = await import(process.argv[1]);
const draw = trialDrawer(process.argv[2], { batchId: process.argv[3], host: "test", pid: process.pid }, process.env);
const got = [];
for (let s = draw(); s !== undefined; s = draw()) got.push(s.index);
console.log(JSON.stringify(got));`;

/** Runs the drawer (behind `prefix`, e.g. strace) to its end: the trial numbers it made, or undefined when killed. */
function drawer(sweep: string, id: string, prefix: string[] = []): Promise<number[] | undefined> {
  const argv = [...prefix, process.execPath, "--input-type=module", "-e", DRAWER, TRIALS, sweep, id];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve(code === 0 && signal === null ? (JSON.parse(out.trim().split("\n").pop()!) as number[]) : undefined)));
}

/** A finished study of one trial whose budget is then raised to `budget`: the rest is for the drawers. */
function studyToDraw(budget: number): { dir: string; sweep: string } {
  const dir = makeProject({
    "count.sh": 'echo \'{"loss": 1}\' > "$CORRAL_RUN_DIR/metrics.jsonl"\necho "$CORRAL_RUN_DIR $*" >> "$COUNT_FILE"\n',
    "corral.yaml": "command: sh count.sh\nconfig: {x: 0.5, w: 1}\n",
  });
  const env = { COUNT_FILE: path.join(dir, "count.txt") };
  const r = corral(["run", "-m", "--search", "tpe", "--budget", "1", "--objective", "loss:min", "--seed", "5", "x=interval(0,1)", "w=choice(1,2,3)"], { cwd: dir, env });
  expect(r.code, r.stderr).toBe(0);
  const sweep = sweepDirs(dir)[0]!;
  const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
  m.search!.budget = budget;
  writeFileSync(path.join(sweep, "sweep.json"), JSON.stringify(m));
  return { dir, sweep };
}

/** Every trial 0..budget-1 recorded once, its config and overrides files saying its params. */
function expectTrials(sweep: string, budget: number): TrialFile[] {
  const trials = [...Array(budget).keys()].map((k) => readJson<TrialFile>(path.join(sweep, String(k), "trial.json")));
  expect(existsSync(path.join(sweep, String(budget), "trial.json"))).toBe(false);
  for (const [k, t] of trials.entries()) {
    expect(t.number).toBe(k);
    const config = parseYaml(readFileSync(path.join(sweep, String(k), "config.yaml"), "utf8")) as { x: number; w: number };
    expect(config.w).toBe(t.params.w);
    expect(config.x).toBeCloseTo(t.params.x as number, 12);
    expect(parseYaml(readFileSync(path.join(sweep, String(k), "overrides.yaml"), "utf8"))).toEqual(t.entry.overrides);
  }
  return trials;
}

describe("trials drawn by several processes from one study", () => {
  it("4 drawers at once: each trial number made by exactly one of them, none past the budget", async () => {
    const BUDGET = 41;
    const { sweep } = studyToDraw(BUDGET);
    const got = await Promise.all(["a", "b", "c", "d"].map((id) => drawer(sweep, id)));
    const all = got.flatMap((g) => g!);
    expect(all.length).toBe(BUDGET - 1);
    expect([...all].sort((a, b) => a - b)).toEqual([...Array(BUDGET - 1).keys()].map((k) => k + 1));
    const trials = expectTrials(sweep, BUDGET);
    // The record names the drawer that made it.
    for (const [i, id] of ["a", "b", "c", "d"].entries()) for (const k of got[i]!) expect(trials[k]!.drawnBy?.batchId).toBe(id);
  }, 120_000);

  it.skipIf(straceProblem !== undefined)("a drawer killed at each link (a trial's claim) and each unlink (right after it, before its config files) in turn, then corral resume: exactly the budget, each run once", async () => {
    const BUDGET = 4;
    // A drawer makes 3 trials here: one link (its claim) and one unlink (its temporary file) each.
    const windows = ["link", "unlink"].flatMap((call) => [1, 2, 3].map((n) => [call, n] as const));
    for (const [call, n] of windows) {
      const { dir, sweep } = studyToDraw(BUDGET);
      const res = await drawer(sweep, "k", killAt(call, n));
      expect(res, `${call} #${n}: the drawer was killed`).toBeUndefined();
      const r = await corralAsync(["resume"], { cwd: dir, env: { COUNT_FILE: path.join(dir, "count.txt") } }).done;
      expect(r.code, `${call} #${n}: resume\n${r.stderr}`).toBe(0);
      const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
      expect(m.runs.length, `${call} #${n}`).toBe(BUDGET);
      expectTrials(sweep, BUDGET);
      const ran = lines(path.join(dir, "count.txt")).map((l) => l.split(" ")[0]!);
      expect([...ran].sort(), `${call} #${n}: each trial ran once`).toEqual([...Array(BUDGET).keys()].map((k) => path.join(sweep, String(k))).sort());
    }
  }, 300_000);

  it("corral resume of a study whose recipe is gone: exit 1 naming the file, nothing started", () => {
    const { dir, sweep } = studyToDraw(3);
    rmSync(path.join(sweep, ".corral", "study-recipe.json"));
    const r = corral(["resume"], { cwd: dir, env: { COUNT_FILE: path.join(dir, "count.txt") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(sweep, ".corral", "study-recipe.json")} is missing or unreadable: the study's further trials cannot be composed`);
    expect(existsSync(path.join(sweep, "1", "trial.json"))).toBe(false);
    expect(lines(path.join(dir, "count.txt"))).toHaveLength(1);
  });
});
