/**
 * A real Hydra 1.3.2 app under Corral (issue 12): runs only when CORRAL_TEST_HYDRA names a folder
 * holding Hydra 1.3.2 and its dependencies (put on PYTHONPATH); otherwise it says it was skipped and
 * why. Hydra is on neither Debian nor npm, and its code is never part of this repository.
 * Checks: 8 runs, 8 distinct Hydra output folders inside the run folders, each app's composed
 * config equal to Corral's recorded config, floats included, with `override hydra/job_logging`,
 * `hydra:` settings and `${hydra:...}` in the app's conf/. A second app keeps its configs and its
 * `+setup=` launcher presets only in Hydra's ConfigStore (no YAML): Corral asks the app for each
 * run's config (it needs the hydra-submitit-launcher plugin in the same folder, for the presets'
 * `override /hydra/launcher: submitit_slurm`).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, ROOT, sweepDirs } from "../helpers.js";

const tree = process.env.CORRAL_TEST_HYDRA;
const env = tree ? { PYTHONPATH: tree } : {};
function why(): string | undefined {
  if (!tree) return "CORRAL_TEST_HYDRA is not set (point it at a folder holding Hydra 1.3.2)";
  const v = spawnSync("python3", ["-c", "import hydra; print(hydra.__version__)"], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (v.status !== 0) return `python3 cannot import hydra from ${tree}: ${v.stderr.trim().split("\n").pop()}`;
  if (v.stdout.trim() !== "1.3.2") return `CORRAL_TEST_HYDRA holds Hydra ${v.stdout.trim()}, not 1.3.2`;
  return undefined;
}
const skip = why();
if (skip) console.warn(`SKIPPED real-Hydra e2e tests: ${skip}`);

describe.skipIf(skip !== undefined)("a real Hydra 1.3.2 app under Corral", () => {
  it("8 runs: 8 distinct Hydra output folders inside the run folders; each app's composed config equals the recorded one, floats included", () => {
    const dir = makeProject({ "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n" });
    cpSync(path.join(ROOT, "test/fixtures/hydra-real"), dir, { recursive: true });
    const r = corral(["run", "-m", "model=small,big", "lr=0.1,1.0", "+seed=range(2)", "-j", "4"], { cwd: dir, env, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs).toHaveLength(8);
    const outs = new Set<string>();
    for (const e of m.runs) {
      const runDir = path.join(sweep, e.dir);
      const composed = path.join(runDir, "composed.json");
      expect(existsSync(composed), `${e.dir}: no composed.json`).toBe(true);
      const c = readJson<{ num: number; id: string; cwd: string; out: string }>(composed);
      outs.add(c.out);
      expect(path.resolve(c.out)).toBe(path.resolve(runDir));
      expect([c.num, c.id]).toEqual([e.index, e.id]);
      // Compared in Python, as the app reads both: same keys, values and types (1.0 stays a float).
      const same = spawnSync("python3", ["-c", "import json,sys,yaml; a=yaml.safe_load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))['config']; t=lambda x: {k: t(v) for k, v in x.items()} if isinstance(x, dict) else (type(x).__name__, x); print(t(a) == t(b), t(a), t(b))", path.join(runDir, "config.yaml"), composed], { encoding: "utf8" });
      expect(same.stdout.startsWith("True"), same.stdout + same.stderr).toBe(true);
    }
    expect(outs.size).toBe(8);
    expect(readdirSync(dir)).not.toContain("outputs");
  });
});

const noPlugin = skip ?? (spawnSync("python3", ["-c", "import hydra_plugins.hydra_submitit_launcher"], { env: { ...process.env, ...env } }).status === 0 ? undefined : `no hydra-submitit-launcher plugin in ${tree}`);
if (noPlugin && !skip) console.warn(`SKIPPED real-Hydra ConfigStore test: ${noPlugin}`);

describe.skipIf(noPlugin !== undefined)("a real Hydra 1.3.2 app whose configs live only in its ConfigStore", () => {
  it("Corral asks the app for each run's config; the +setup=hpc_gpu preset is the launcher settings and never reaches the app's argv", () => {
    const dir = makeProject({ "corral.yaml": "command: python3 my_app.py\n" });
    cpSync(path.join(ROOT, "test/fixtures/hydra-store"), dir, { recursive: true });
    const c = corral(["config", "--cfg", "all", "-p", "launcher", "--json", "+setup=hpc_gpu"], { cwd: dir, env, timeoutMs: 60_000 });
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ type: "slurm", partition: "gpu", gpus: 1, cpus_per_task: 1, mem: "1G", time: 3600, signal_grace: 120, array_throttle: 256, setup: ["export TRAINING_ON=gpu"] });
    const r = corral(["run", "-m", "seed=1,2", "+setup=hpc_gpu", "corral.launcher.type=local"], { cwd: dir, env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs.map((e) => e.overrides)).toEqual([["seed=1"], ["seed=2"]]);
    for (const e of m.runs) {
      const runDir = path.join(sweep, e.dir);
      const composed = path.join(runDir, "composed.json");
      expect(readJson<{ on: string }>(composed).on).toBe("gpu");
      const same = spawnSync("python3", ["-c", "import json,sys,yaml; a=yaml.safe_load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))['config']; t=lambda x: {k: t(v) for k, v in x.items()} if isinstance(x, dict) else (type(x).__name__, x); print(t(a) == t(b), t(a), t(b))", path.join(runDir, "config.yaml"), composed], { encoding: "utf8" });
      expect(same.stdout.startsWith("True"), same.stdout + same.stderr).toBe(true);
    }
  });
});

describe.skipIf(skip !== undefined)("corral config composes as the real Hydra 1.3.2 composes (python app.py ... --cfg job)", () => {
  // Each case: the same overrides to both; the same job config (values and types), or both refuse.
  const CASES = [
    ["model=big"], ["+extra=1"], ["~lr"], ["lr=1e-3"], ["lr=1.0"], ["model.hidden=16"], ["+model={x:1}"], ["model={hidden:3}"], ["++lr=2"],
    ["lr=[1,2]"], ["+a.b.c=1.5"], ["model=big", "model.hidden=2"], ["lr=null"], ["lr=true"], ["lr='007'"], ["+d={a:[1,2]}"],
    ["model={hidden:3,new:1}"], ["lr@x=1"], ["model=huge"], ["nosuch=1"], ["hydra/job_logging=none", "lr=0.5"],
  ];
  it.each(CASES.map((c) => [c.join(" "), c]))("%s", (_name, c) => {
    const dir = makeProject({ "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n" });
    cpSync(path.join(ROOT, "test/fixtures/hydra-real"), dir, { recursive: true });
    const h = spawnSync("python3", ["app.py", ...(c as string[]), "--cfg", "job"], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8" });
    const r = corral(["config", ...(c as string[])], { cwd: dir });
    expect(r.code === 0, `hydra: exit ${h.status} ${h.stderr}\ncorral: exit ${r.code} ${r.stderr}`).toBe(h.status === 0);
    if (h.status !== 0) return;
    const t = "import sys,yaml; t=lambda x: {k: t(v) for k, v in x.items()} if isinstance(x, dict) else [t(v) for v in x] if isinstance(x, list) else (type(x).__name__, x); print(repr(t(yaml.safe_load(sys.stdin))))";
    const typed = (yaml: string): string => spawnSync("python3", ["-c", t], { input: yaml, encoding: "utf8" }).stdout;
    expect(typed(r.stdout)).toBe(typed(h.stdout));
  });
});

describe.skipIf(skip !== undefined)("corral run -m expands a sweep as Hydra's basic sweeper does", () => {
  it("the same jobs in the same order (job num = run index), configs equal, with hydra.sweeper.params and a command-line key replacing one of them", () => {
    const dir = makeProject({ "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n" });
    cpSync(path.join(ROOT, "test/fixtures/hydra-real"), dir, { recursive: true });
    // hydra.sweeper.params first, a command-line value of one of its keys in that key's place.
    writeFileSync(path.join(dir, "conf", "config.yaml"), readFileSync(path.join(dir, "conf", "config.yaml"), "utf8") + "  sweeper:\n    params:\n      wd: 0.0,0.5\n      model: small,big\n");
    const sweep = ["lr=0.1,1.0", "model=big,small", "+seed=range(2)"];
    const h = spawnSync("python3", ["app.py", "-m", ...sweep, "hydra.sweep.dir=hydra-multirun"], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8" });
    expect(h.status, h.stderr).toBe(0);
    const jobs = readdirSync(path.join(dir, "hydra-multirun"))
      .filter((d) => /^\d+$/.test(d))
      .map((d) => readJson<{ num: number; config: unknown }>(path.join(dir, "hydra-multirun", d, "composed.json")))
      .sort((a, b) => a.num - b.num)
      .map((j) => j.config);
    const r = corral(["run", "-m", ...sweep, "--dry-run", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ config: unknown }>).map((x) => x.config)).toEqual(jobs);
  });
});
