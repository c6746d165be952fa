/**
 * Searches through `corral run -m --search`: a local asynchronous study (budget exact, params in
 * the space, the same trials for the same seed), one killed with SIGKILL at random moments and
 * resumed (exactly `budget` trials, none run twice), ASHA with pruned trials (SIGTERM received),
 * what `corral status` shows, and bad input (exit 2 naming the key, nothing started).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import type * as Corral from "../../src/index.js";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sleep, slurmProblem, sweepDirs } from "../helpers.js";

/** The objective: a quadratic in x plus a width term, logged per step; each trial appends its folder and params to ran.txt. */
const OBJ = `import json, os, sys, time, signal
args = dict(a.split("=", 1) for a in sys.argv[1:])
x = float(args.get("x", "0.5")); w = int(args.get("w", "1")); steps = int(args.get("steps", "3"))
d = os.environ["CORRAL_RUN_DIR"]
def term(*_):
    with open(os.path.join(os.environ["PROJECT"], "sigterm.txt"), "a") as f:
        f.write(os.path.basename(d) + "\\n")
    sys.exit(143)
signal.signal(signal.SIGTERM, term)
with open(os.path.join(os.environ["PROJECT"], "ran.txt"), "a") as f:
    f.write(os.path.basename(d) + " " + " ".join(sys.argv[1:]) + "\\n")
for s in range(1, steps + 1):
    with open(os.path.join(d, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": s, "loss": (x - 0.3) ** 2 + w / 100 + 1.0 / s}) + "\\n")
    time.sleep(float(os.environ.get("STEP_S", "0.02")))
`;

const project = (extra = ""): string => {
  const dir = makeProject({ "obj.py": OBJ, "corral.yaml": `command: [python3, obj.py]\nconfig: {x: 0.5, w: 1, steps: 3}\n${extra}` }, "corral-search-");
  return dir;
};
const SPACE = ["x=interval(0,1)", "w=choice(1,2,3)"];
const manifestOf = (sweep: string): SweepManifest => readJson<SweepManifest>(path.join(sweep, "sweep.json"));
const stateOf = (sweep: string, i: number): string | undefined => (existsSync(path.join(sweep, String(i), "status.json")) ? readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json")).state : undefined);

/** ran.txt: each trial folder and the params it ran with. */
function ranTrials(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines(path.join(dir, "ran.txt"))) {
    const [run, ...params] = l.split(" ");
    out.set(run!, [...(out.get(run!) ?? []), params.join(" ")]);
  }
  return out;
}

describe("a local study", () => {
  it("runs exactly the budget, each trial once, params inside the space, the same trials for the same seed (-j 1)", () => {
    const sweeps: string[][] = [];
    for (let k = 0; k < 2; k++) {
      const dir = project();
      const r = corral(["run", "-m", "--search", "tpe", "--budget", "13", "--objective", "loss:min", "--seed", "7", "-j", "1", ...SPACE], { cwd: dir, env: { PROJECT: dir } });
      expect(r.code, r.stderr).toBe(0);
      const sweep = sweepDirs(dir)[0]!;
      const m = manifestOf(sweep);
      expect(m.runs.length).toBe(13);
      expect(m.search?.sampler).toBe("tpe");
      const ran = ranTrials(dir);
      expect(ran.size).toBe(13);
      for (const [run, p] of ran) {
        expect(p.length, `trial ${run} ran once`).toBe(1);
        const [x, w] = p[0]!.split(" ").map((t) => t.split("=")[1]!);
        expect(Number(x)).toBeGreaterThanOrEqual(0);
        expect(Number(x)).toBeLessThanOrEqual(1);
        expect(["1", "2", "3"]).toContain(w);
        // The run got what its trial record says.
        const t = readJson<{ params: { x: number; w: number } }>(path.join(sweep, run, "trial.json"));
        expect(p[0]).toBe(`x=${String(t.params.x)} w=${t.params.w}`);
      }
      sweeps.push(m.runs.map((e) => e.overrides.join(" ")));
      // Status: trials so far / budget and the best trial.
      const st = corral(["status"], { cwd: dir });
      expect(st.stdout).toMatch(/study: tpe, 13\/13 trials \(13 complete\); objective loss \(min\)/);
      expect(st.stdout).toMatch(/best: trial \d+, loss [0-9.]+ {2}\[x=\S+ w=\d\]/);
      const js = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { study: { trials: number; budget: number; best: { index: number; value: number } } };
      expect(js.study.trials).toBe(13);
      const best = corral(["results", "--best", "--format", "json"], { cwd: dir });
      expect(best.code, best.stderr).toBe(0);
      expect((JSON.parse(best.stdout) as Array<{ run: number }>)[0]!.run).toBe(js.study.best.index);
    }
    // One at a time, results arrive in trial order: the same seed gives the same 13 trials.
    expect(sweeps[1]).toEqual(sweeps[0]);
  }, 120_000);

  it("runs the grid when every parameter is discrete and the budget covers it", () => {
    const dir = project();
    const r = corral(["run", "-m", "--search", "tpe", "--budget", "10", "--objective", "loss:min", "w=choice(1,2,3)", "steps=range(2,3)"], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(sweepDirs(dir)[0]!);
    expect(m.search).toBeUndefined();
    // range(2,3) searched is 2..3 (high inclusive): 3 x 2 points, each once.
    expect(m.runs.map((e) => e.overrides.join(" ")).sort()).toEqual(["w=1 steps=2", "w=1 steps=3", "w=2 steps=2", "w=2 steps=3", "w=3 steps=2", "w=3 steps=3"]);
  }, 60_000);

  it("takes the project file's search: block with the space under sweep:", () => {
    const dir = project(`sweep:\n  x: interval(0, 1)\n  w: [1, 2, 3]\nsearch:\n  sampler: random\n  budget: 5\n  objective: {metric: loss, mode: min}\n  seed: 3\n`);
    const r = corral(["run", "-m", "-j", "2"], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(sweepDirs(dir)[0]!);
    expect(m.search?.sampler).toBe("random");
    expect(m.runs.length).toBe(5);
    expect(ranTrials(dir).size).toBe(5);
  }, 60_000);

  it("keeps search.tpe in the study's record, for resume to ask with the same TPE", () => {
    const dir = project(`sweep:\n  x: interval(0, 1)\nsearch:\n  sampler: tpe\n  budget: 2\n  objective: loss\n  tpe: {multivariate: false}\n`);
    const r = corral(["run", "-m"], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(sweepDirs(dir)[0]!);
    expect(m.search?.tpe).toEqual({ multivariate: false });
    expect(ranTrials(dir).size).toBe(2);
  }, 60_000);
});

describe("bad input", () => {
  const cases: Array<[string, string[], string, RegExp]> = [
    ["no objective", ["--search", "tpe", "--budget", "5", ...SPACE], "", /search\.objective: is required/],
    ["budget 0", ["--search", "tpe", "--budget", "0", "--objective", "loss", ...SPACE], "", /--budget must be a positive integer/],
    ["unknown sampler in the file", [...SPACE], "search: {sampler: tpee, budget: 3, objective: loss}\n", /search\.sampler: unknown sampler 'tpee' \(did you mean 'tpe'\?\)/],
    ["budget in the file below 1", [...SPACE], "search: {sampler: tpe, budget: 0, objective: loss}\n", /search\.budget: must be a whole number of trials of at least 1/],
    ["unknown field", [...SPACE], "search: {sampler: tpe, budget: 3, objective: loss, seeds: 1}\n", /search\.seeds: unknown field \(did you mean 'seed'\?\)/],
    ["tpe option not a boolean", [...SPACE], "search: {sampler: tpe, budget: 3, objective: loss, tpe: {multivariate: yes please}}\n", /search\.tpe\.multivariate: must be true or false/],
    ["interval under a grid", ["x=interval(0,1)"], "", /interval\(\) is for continuous samplers/],
    ["budget without a search", ["--budget", "4", "w=1,2"], "", /--budget: is for a search/],
  ];
  for (const [what, args, yaml, msg] of cases) {
    it(`${what}: exit 2, named, nothing started`, () => {
      const dir = project(yaml);
      const r = corral(["run", "-m", ...args], { cwd: dir, env: { PROJECT: dir } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(sweepDirs(dir)).toEqual([]);
      expect(existsSync(path.join(dir, "ran.txt"))).toBe(false);
    });
  }
  it("--dry-run says what the study would search and starts nothing", () => {
    const dir = project();
    const r = corral(["run", "-m", "--dry-run", "--search", "tpe", "--budget", "4", "--objective", "loss", "steps=5", ...SPACE], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^a study of 4 trials of: python3 obj\.py \(tpe, seed 0, loss min/);
    expect(r.stdout).toMatch(/x: float \[0, 1\]\n {2}w: choice\(1, 2, 3\)\n {2}every trial: steps=5/);
    expect(sweepDirs(dir)).toEqual([]);
  });
  it("--search without -m", () => {
    const dir = project();
    const r = corral(["run", "--search", "tpe", "--budget", "3", "--objective", "loss", ...SPACE], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/add -m/);
  });
});

/** A seeded RNG (mulberry32), so the kill moments are the same on every run of the suite. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("a study killed with SIGKILL and resumed", () => {
  it("ends with exactly budget trials, none run twice, each with the params its record says", async () => {
    const dir = project();
    const env = { PROJECT: dir, STEP_S: "0.1" };
    const budget = 16;
    const rand = rng(11);
    const log: string[] = [];
    for (let k = 0; k < 6; k++) {
      const sweep = sweepDirs(dir).find((d) => existsSync(path.join(d, "sweep.json")));
      const args = sweep ? ["resume", sweep] : ["run", "-m", "--search", "tpe", "--budget", String(budget), "--objective", "loss:min", "--seed", "2", "-j", "3", ...SPACE];
      const p = corralAsync(args, { cwd: dir, env });
      const wait = 300 + Math.floor(rand() * 1200);
      const exited = await Promise.race([p.done.then(() => true), sleep(wait).then(() => false)]);
      if (!exited) p.child.kill("SIGKILL");
      const r = await p.done;
      log.push(`${args[0]}: ${exited ? `exited ${r.code}` : `killed after ${wait}ms`}`);
      expect(r.stderr, log.join("\n")).not.toMatch(/internal error|\n\s+at /);
    }
    const sweep = sweepDirs(dir).find((d) => existsSync(path.join(d, "sweep.json")))!;
    const r = corral(["resume", sweep], { cwd: dir, env, timeoutMs: 120_000 });
    expect(r.code, `${log.join("\n")}\n${r.stderr}`).toBe(0);
    expect(log.filter((l) => l.includes("killed")).length, log.join("\n")).toBeGreaterThan(0);
    const m = manifestOf(sweep);
    expect(m.runs.length, log.join("\n")).toBe(budget);
    const ran = ranTrials(dir);
    expect(ran.size).toBe(budget);
    for (let i = 0; i < budget; i++) {
      expect(ran.get(String(i)), `trial ${i} ran once (${log.join("; ")})`).toHaveLength(1);
      expect(stateOf(sweep, i)).toBe("succeeded");
      const t = readJson<{ params: { x: number; w: number } }>(path.join(sweep, String(i), "trial.json"));
      expect(ran.get(String(i))![0]).toBe(`x=${String(t.params.x)} w=${t.params.w}`);
    }
    expect(existsSync(path.join(sweep, String(budget)))).toBe(false);
    // A further resume makes no trial and runs nothing.
    const again = corral(["resume", sweep], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(lines(path.join(dir, "ran.txt")).length).toBe(budget);
  }, 240_000);
});

describe("crash between a trial's record and sweep.json", () => {
  it("a trial recorded in its folder but missing from sweep.json is adopted on resume, not asked again", () => {
    const dir = project();
    const r = corral(["run", "-m", "--search", "random", "--budget", "4", "--objective", "loss:min", "-j", "1", ...SPACE], { cwd: dir, env: { PROJECT: dir } });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    // As if the head died after writing trial 3's record and before sweep.json listed it, with a budget of 5.
    const m = manifestOf(sweep);
    const last = m.runs.pop()!;
    m.search!.budget = 5;
    writeFileSync(path.join(sweep, "sweep.json"), JSON.stringify(m));
    const again = corral(["resume", sweep], { cwd: dir, env: { PROJECT: dir } });
    expect(again.code, again.stderr).toBe(0);
    const after = manifestOf(sweep);
    expect(after.runs.length).toBe(5);
    expect(after.runs[3]).toEqual(last);
    const ran = ranTrials(dir);
    expect(ran.size).toBe(5);
    for (const [run, p] of ran) expect(p, `trial ${run}`).toHaveLength(1);
  }, 60_000);
});

describe("library", () => {
  it("launch({ search: { sampler } }) asks a sampler written in TypeScript with the history so far", async () => {
    const lib = (await import("../../dist/index.js")) as typeof Corral;
    const dir = project();
    process.env.PROJECT = dir;
    const seen: number[] = [];
    const sampler: Corral.Sampler = {
      ask(history, n) {
        seen.push(history.length);
        return { x: n / 10, w: 1 + (n % 3) };
      },
    };
    const sweep = await lib.launch({ cwd: dir, overrides: SPACE, multirun: true, jobs: 1, search: { sampler, budget: 4, objective: "loss:min" } });
    const res = await sweep.wait();
    expect(res.counts.succeeded).toBe(4);
    // Trial n is asked with the n trials before it.
    expect(seen).toEqual([0, 1, 2, 3]);
    expect([...ranTrials(dir).values()].map((p) => p[0]).sort()).toEqual(["x=0.0 w=1", "x=0.1 w=2", "x=0.2 w=3", "x=0.3 w=1"]);
    const rows = (await sweep.results()).rows;
    expect(rows.map((r) => r.x)).toEqual([0, 0.1, 0.2, 0.3]);
    // Its further trials can only be asked through the library: `corral resume` says so, exit 2.
    const file = path.join(sweep.dir, "sweep.json");
    const m = readJson<{ search: { budget: number } }>(file);
    m.search.budget = 6;
    writeFileSync(file, JSON.stringify(m));
    const again = corral(["resume", sweep.dir], { cwd: dir, env: { PROJECT: dir } });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("2 trials of this study are still to be asked, and its sampler was a library caller's own");
  }, 60_000);
});

describe("ASHA", () => {
  it("prunes trials whose loss is not in the top third at a rung: SIGTERM received, recorded pruned with the rung", () => {
    const dir = project(`search:\n  early_stop: {asha: {resource: step, min: 1, max: 9, reduction_factor: 3}}\n  sampler: random\n  objective: loss:min\n`);
    const r = corral(["run", "-m", "--budget", "12", "--seed", "4", "-j", "3", "steps=9", ...SPACE], { cwd: dir, env: { PROJECT: dir, STEP_S: "0.3" }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = manifestOf(sweep);
    expect(m.runs.length).toBe(12);
    const pruned = m.runs.map((_, i) => i).filter((i) => stateOf(sweep, i) === "pruned");
    expect(pruned.length).toBeGreaterThan(0);
    const termed = new Set(lines(path.join(dir, "sigterm.txt")));
    for (const i of pruned) {
      const rec = readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json"));
      expect([0, 1]).toContain(rec.rung);
      expect(rec.message).toMatch(/stopped early by ASHA at rung/);
      expect(termed.has(String(i)), `trial ${i} got SIGTERM`).toBe(true);
      // It stopped before the end of training.
      const steps = readFileSync(path.join(sweep, String(i), "metrics.jsonl"), "utf8").trim().split("\n").length;
      expect(steps).toBeLessThan(9);
    }
    for (let i = 0; i < 12; i++) expect(["succeeded", "pruned"]).toContain(stateOf(sweep, i));
    const st = corral(["status"], { cwd: dir });
    expect(st.stdout).toMatch(new RegExp(`12/12 trials \\(${12 - pruned.length} complete, ${pruned.length} pruned\\)`));
    expect(st.stdout).toMatch(/pruned/);
    // A resume reruns no pruned trial and makes no new one.
    const before = lines(path.join(dir, "ran.txt")).length;
    const again = corral(["resume", sweep], { cwd: dir, env: { PROJECT: dir } });
    expect(again.code, again.stderr).toBe(0);
    expect(lines(path.join(dir, "ran.txt")).length).toBe(before);
    expect(before).toBe(12);
  }, 150_000);
});

const noSlurm = slurmProblem();
describe.skipIf(noSlurm !== undefined)("a study on the SLURM test cluster", () => {
  it("one array task keeps its 3 slots busy by drawing trials: one submission, exactly the budget, each trial once", () => {
    const dir = project("launcher: {type: slurm, parallel: 3}\nenv: {PROJECT: PROJECTDIR}\n");
    writeFileSync(path.join(dir, "corral.yaml"), readFileSync(path.join(dir, "corral.yaml"), "utf8").replace("PROJECTDIR", dir));
    const r = corral(["run", "-m", "--search", "tpe", "--budget", "7", "--objective", "loss:min", ...SPACE], { cwd: dir, env: { PROJECT: dir }, timeoutMs: 150_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    expect(manifestOf(sweep).runs.length).toBe(7);
    // Packed (test/e2e/slurm-study.test.ts has 3 tasks): the first 3 trials from the head, 4 drawn by the task.
    expect(manifestOf(sweep).jobs.length).toBe(1);
    const drawn = [...Array(7).keys()].filter((k) => readJson<{ drawnBy?: unknown }>(path.join(sweep, String(k), "trial.json")).drawnBy !== undefined);
    expect(drawn).toEqual([3, 4, 5, 6]);
    const ran = ranTrials(dir);
    expect(ran.size).toBe(7);
    for (const [run, p] of ran) expect(p, `trial ${run}`).toHaveLength(1);
  }, 180_000);

  it("ASHA prunes trials the task drew: SIGTERM received, recorded pruned, budget exact, each trial once", () => {
    const dir = project(`launcher: {type: slurm, parallel: 3, poll_interval: 1}\nenv: {PROJECT: PROJECTDIR, STEP_S: "0.5"}\nsearch:\n  early_stop: {asha: {resource: step, min: 1, max: 9, reduction_factor: 3}}\n  sampler: random\n  objective: loss:min\n`);
    writeFileSync(path.join(dir, "corral.yaml"), readFileSync(path.join(dir, "corral.yaml"), "utf8").replace("PROJECTDIR", dir));
    const r = corral(["run", "-m", "--budget", "12", "--seed", "4", "steps=9", ...SPACE], { cwd: dir, env: { PROJECT: dir }, timeoutMs: 150_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = manifestOf(sweep);
    expect(m.runs.length).toBe(12);
    expect(m.jobs.length).toBe(1);
    const drawn = (i: number): boolean => readJson<{ drawnBy?: unknown }>(path.join(sweep, String(i), "trial.json")).drawnBy !== undefined;
    const pruned = m.runs.map((_, i) => i).filter((i) => stateOf(sweep, i) === "pruned");
    expect(pruned.filter(drawn).length, "pruned trials the task drew").toBeGreaterThan(0);
    const termed = new Set(lines(path.join(dir, "sigterm.txt")));
    for (const i of pruned) expect(termed.has(String(i)), `trial ${i} got SIGTERM`).toBe(true);
    for (let i = 0; i < 12; i++) expect(["succeeded", "pruned"]).toContain(stateOf(sweep, i));
    const ran = ranTrials(dir);
    expect(ran.size).toBe(12);
    for (const [run, p] of ran) expect(p, `trial ${run}`).toHaveLength(1);
  }, 180_000);
});
