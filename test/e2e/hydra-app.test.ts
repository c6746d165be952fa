/**
 * A Hydra app under Corral (issue 12, point 1): each run's Hydra outputs (`.hydra/`, the job log)
 * land in its own run folder;
 * `hydra.job.num` is the run's index and `hydra.job.id` its id, as in a Hydra multirun; no stray
 * `outputs/` tree. Detected from the app's `@hydra.main` (project `app: auto`). It runs a
 * Hydra-like fixture (test/fixtures/hydra-like: the same argv contract, not Hydra).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, ROOT, sweepDirs } from "../helpers.js";

const FIXTURE = path.join(ROOT, "test/fixtures/hydra-like");

function hydraProject(app?: string): string {
  const dir = makeProject({
    "corral.yaml": `command: python3 app.py\n${app ? `app: ${app}\n` : ""}config:\n  x: 1\n  y: a\nsweep:\n  x: 1,2\n  y: a,b,c,d\n`,
  });
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

describe("a Hydra app's outputs, each in its own run folder", () => {
  it("8 runs started together: 8 distinct Hydra output folders inside the run folders, job num and id as in a multirun, no stray outputs/", () => {
    const dir = hydraProject();
    const r = corral(["run", "-m", "-j", "4"], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.app).toBe("hydra");
    expect(m.runs).toHaveLength(8);
    for (const e of m.runs) {
      const runDir = path.join(sweep, e.dir);
      expect(readFileSync(path.join(runDir, ".hydra", "overrides.yaml"), "utf8").split("\n").filter(Boolean).sort()).toEqual(e.overrides.map((o) => `- ${o}`).sort());
      const job = readJson<{ num: string; id: string; cwd: string }>(path.join(runDir, "job.json"));
      expect([job.num, job.id]).toEqual([String(e.index), e.id]);
      expect(existsSync(path.join(runDir, "app.log"))).toBe(true);
    }
    expect(readdirSync(dir)).not.toContain("outputs");
  });

  it("hydra.* overrides go to the app, not into the recorded config: hydra.job.chdir=true puts the app's own files in its run folder", () => {
    const dir = hydraProject();
    const r = corral(["run", "-m", "x=1,2", "hydra.job.chdir=true"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs).toHaveLength(8);
    for (const e of m.runs) {
      const x = e.overrides.find((o) => o.startsWith("x="))!.slice(2);
      expect(readFileSync(path.join(sweep, e.dir, "result.txt"), "utf8")).toContain(`'x': '${x}'`);
      expect(readFileSync(path.join(sweep, e.dir, "config.yaml"), "utf8")).not.toContain("hydra");
    }
    expect(readdirSync(dir)).not.toContain("result.txt");
  });

  it("app: plain hands the command only the overrides (an argparse-style program is not given hydra.* arguments)", () => {
    const dir = hydraProject("plain");
    expect(corral(["run", "x=2", "y=b"], { cwd: dir, timeoutMs: 30_000 }).code).toBe(0);
    const m = readJson<SweepManifest>(path.join(sweepDirs(dir)[0]!, "sweep.json"));
    expect(m.app).toBeUndefined();
    // Without the run folder, the app falls back to Hydra's own default: a stray outputs/ tree.
    expect(readdirSync(dir)).toContain("outputs");
  });
});

/**
 * An app's own conf/ tree using Hydra's namespace (issue 12, point 2): Hydra's docs override its
 * groups from the defaults list (`override hydra/job_logging: disabled`, "Customizing logging"),
 * keep `hydra:` settings beside the job's, and read runtime values through `${hydra:...}`
 * ("Hydra's config": the hydra resolver). None of it is the job config.
 */
describe("a conf/ tree that uses Hydra's namespace", () => {
  const project = (): string => {
    const dir = makeProject({
      "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n",
      "conf/config.yaml": [
        "defaults:",
        "  - model: small",
        "  - override hydra/job_logging: disabled",
        "  - override hydra/launcher: mine",
        "  - _self_",
        "lr: 0.1",
        "data_dir: ${hydra:runtime.cwd}/data",
        "hydra:",
        "  job:",
        "    chdir: true",
        "",
      ].join("\n"),
      "conf/model/small.yaml": "hidden: 8\n",
      "conf/model/big.yaml": "hidden: 64\n",
      "conf/hydra/launcher/mine.yaml": "partition: gpu\ntimeout_min: 10\n",
    });
    cpSync(FIXTURE, dir, { recursive: true });
    return dir;
  };

  it("runs: the job config has no hydra node and keeps ${hydra:...} for the app; a hydra/<group> choice on the command line goes to the app only", () => {
    const dir = project();
    const r = corral(["run", "-m", "model=small,big", "hydra/job_logging=none"], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    // Handed to the app as typed (the hydra/ choice too), recorded in the config only when the job's.
    expect(m.runs.map((e) => e.overrides)).toEqual([["model=small", "hydra/job_logging=none"], ["model=big", "hydra/job_logging=none"]]);
    for (const [i, hidden] of [[0, 8], [1, 64]] as const) {
      const recorded = readFileSync(path.join(sweep, String(i), "config.yaml"), "utf8");
      expect(recorded).toBe(`model:\n  hidden: ${hidden}\nlr: 0.1\ndata_dir: \${hydra:runtime.cwd}/data\n`);
      const job = readJson<{ choices: Record<string, string> }>(path.join(sweep, String(i), "job.json"));
      expect(job.choices).toEqual({ "hydra/job_logging": "none" });
      expect(readFileSync(path.join(sweep, String(i), ".hydra", "overrides.yaml"), "utf8")).toBe(`- model=${hidden === 8 ? "small" : "big"}\n`);
    }
  });

  it("corral config: --cfg job leaves hydra out (and says where it is), --cfg hydra shows it with the choices, -p hydra.launcher finds the user's launcher file", () => {
    const dir = project();
    const job = corral(["config"], { cwd: dir });
    expect(job.code, job.stderr).toBe(0);
    expect(job.stdout).not.toMatch(/^hydra:/m);
    expect(job.stdout).toContain("data_dir: ${hydra:runtime.cwd}/data");
    const miss = corral(["config", "-p", "hydra.launcher"], { cwd: dir });
    expect(miss.code).toBe(2);
    expect(miss.stderr).toContain("use --cfg hydra");
    const h = corral(["config", "--cfg", "hydra", "--json", "hydra/sweeper=optuna", "hydra.job.name=train"], { cwd: dir });
    expect(h.code, h.stderr).toBe(0);
    const hydra = (JSON.parse(h.stdout) as { hydra: Record<string, unknown> }).hydra;
    expect(hydra.job).toEqual({ chdir: true, name: "train" });
    expect(hydra.launcher).toEqual({ partition: "gpu", timeout_min: 10 });
    expect((hydra.runtime as { choices: Record<string, unknown> }).choices).toMatchObject({ model: "small", "hydra/job_logging": "disabled", "hydra/launcher": "mine", "hydra/sweeper": "optuna" });
    const p = corral(["config", "--cfg", "all", "-p", "hydra.launcher.partition"], { cwd: dir });
    expect(p.stdout.trim()).toBe("gpu");
  });
});

describe("corral.launcher.<key>=<value>: Corral's launcher settings from the command line", () => {
  it("sets a launcher key for this invocation (never handed to the command); other corral.* keys and bad values are exit 2 naming the key", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nconfig:\n  i: 0\nlauncher:\n  jobs: 4\n" });
    const dry = corral(["run", "-m", "i=range(3)", "corral.launcher.jobs=1", "--dry-run", "--json"], { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as Array<{ overrides: string[] }>).map((r) => r.overrides)).toEqual([["i=0"], ["i=1"], ["i=2"]]);
    const r = corral(["run", "-m", "i=range(3)", "+corral.launcher.jobs=1"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(readJson<SweepManifest>(path.join(sweepDirs(dir)[0]!, "sweep.json")).settings?.parallel).toBe(1);
    const refused: Array<[string, string]> = [
      ["corral.foo=1", "only corral.launcher.<key>=<value>"],
      ["corral.launcher.jobs=x", "corral.launcher.jobs must be a positive integer"],
    ];
    for (const [arg, text] of refused) {
      const bad = corral(["run", arg], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(text);
    }
    expect(sweepDirs(dir)).toHaveLength(1);
  });
});

describe("hydra.sweep.dir and hydra.run.dir place the sweep folder (Hydra's 'Customizing working directory pattern')", () => {
  const project = (sweepDir?: string): string => {
    const dir = makeProject({
      "corral.yaml": `command: python3 app.py\nconfig_dir: conf\n${sweepDir ? `sweep_dir: ${sweepDir}\n` : ""}`,
      "conf/config.yaml": "lr: 0.1\nmodel: small\nhydra:\n  sweep:\n    dir: sweeps/${hydra.job.name}/${now:%Y}\n",
    });
    cpSync(FIXTURE, dir, { recursive: true });
    return dir;
  };
  const year = String(new Date().getFullYear());

  it("conf's hydra.sweep.dir holds a multirun; hydra.run.dir=runs/${hydra.job.override_dirname} on the command line holds one run; each run is handed its own folder", () => {
    const dir = project();
    const m = corral(["run", "-m", "lr=0.1,0.2"], { cwd: dir, timeoutMs: 60_000 });
    expect(m.code, m.stderr).toBe(0);
    const sweep = path.join(dir, "sweeps", "app", year);
    expect(readdirSync(sweep).sort()).toEqual([".corral", "0", "1", "sweep.json"].sort());
    expect(readJson<SweepManifest>(path.join(sweep, "sweep.json")).runs.map((e) => e.overrides)).toEqual([["lr=0.1"], ["lr=0.2"]]);
    expect(existsSync(path.join(sweep, "1", ".hydra", "overrides.yaml"))).toBe(true);
    const one = corral(["run", "model=big", "lr=0.5", "hydra.run.dir=runs/${hydra.job.override_dirname}"], { cwd: dir, timeoutMs: 30_000 });
    expect(one.code, one.stderr).toBe(0);
    const run = path.join(dir, "runs", "lr=0.5,model=big");
    // Corral's run folder inside, handed to the app; the user's hydra.run.dir is not passed on.
    expect(readJson<SweepManifest>(path.join(run, "sweep.json")).runs[0]!.overrides).toEqual(["model=big", "lr=0.5"]);
    expect(readFileSync(path.join(run, "0", ".hydra", "overrides.yaml"), "utf8")).toBe("- model=big\n- lr=0.5\n");
    expect(readdirSync(dir)).not.toContain("outputs");
  });

  it("corral.yaml's sweep_dir wins over conf's hydra.sweep.dir; a hydra ref Corral cannot know before the runs start is exit 2 naming the key", () => {
    const dir = project("mine/${now:%Y}");
    expect(corral(["run", "-m", "lr=0.1,0.2"], { cwd: dir, timeoutMs: 60_000 }).code).toBe(0);
    expect(existsSync(path.join(dir, "mine", year, "sweep.json"))).toBe(true);
    expect(existsSync(path.join(dir, "sweeps"))).toBe(false);
    const bad = corral(["run", "-m", "lr=0.1,0.2", "hydra.sweep.dir=x/${hydra:runtime.cwd}"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("<command line>: hydra.sweep.dir: '${hydra:runtime.cwd}' is not known");
  });
});

describe("hydra.sweeper.params (Hydra's basic sweeper: the sweep of a multirun)", () => {
  it("is the sweep of -m (4 runs where Hydra runs 4), a command-line sweep override of the same key replaces its values; without -m one run", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n",
      "conf/config.yaml": "lr: 0.1\nmodel: small\nhydra:\n  sweeper:\n    params:\n      lr: 0.1,0.01\n      model: small,big\n",
    });
    cpSync(FIXTURE, dir, { recursive: true });
    const plan = (args: string[]): string[][] => (JSON.parse(corral(["run", ...args, "--dry-run", "--json"], { cwd: dir }).stdout) as Array<{ overrides: string[] }>).map((r) => r.overrides);
    expect(plan(["-m"])).toEqual([
      ["lr=0.1", "model=small"],
      ["lr=0.1", "model=big"],
      ["lr=0.01", "model=small"],
      ["lr=0.01", "model=big"],
    ]);
    // In lr's place, as Hydra's basic sweeper (params first; a later value of a key keeps its place).
    expect(plan(["-m", "lr=0.5"])).toEqual([
      ["lr=0.5", "model=small"],
      ["lr=0.5", "model=big"],
    ]);
    expect(plan([])).toEqual([[]]);
  });
});

describe("a hydra.launcher value that interpolates the job config (as HaMeR's slurm preset: gpus_per_node: ${trainer.devices})", () => {
  it("is resolved as Hydra resolves it; submitit's default name (${hydra.job.name}) leaves the job name to Corral", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 app.py\nconfig_dir: conf\nname: exp\n",
      "conf/config.yaml": "trainer:\n  devices: 4\nhydra:\n  launcher:\n    gpus_per_node: ${trainer.devices}\n    name: ${hydra.job.name}\n",
    });
    const r = corral(["config", "--cfg", "all", "-p", "launcher", "--json", "hydra/launcher=submitit_slurm", "trainer.devices=2"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: "slurm", gpus: 2, job_name: "exp" });
  });
});

describe("an error about a value names the file that wrote it", () => {
  it("a bad interpolation in conf/model/bad.yaml names that file and line, not corral.yaml (exit 2, nothing started)", () => {
    const dir = makeProject({
      "corral.yaml": "command: echo\nconfig_dir: conf\n",
      "conf/config.yaml": "defaults:\n  - model: ok\n  - _self_\nlr: 0.1\n",
      "conf/model/ok.yaml": "hidden: 8\n",
      "conf/model/bad.yaml": "hidden: ${nosuch}\n",
    });
    const r = corral(["run", "model=bad"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/conf[/\\]model[/\\]bad\.yaml:1: model\.hidden: Interpolation key 'nosuch' not found/);
    const p = makeProject({ "corral.yaml": "command: echo\nconfig_dir: conf\n", "conf/config.yaml": "a: 1\nb:\n  c: 2\n  d: ${nosuch}\n" });
    const pr = corral(["run"], { cwd: p });
    expect(pr.code).toBe(2);
    expect(pr.stderr).toMatch(/conf[/\\]config\.yaml:4: b\.d: Interpolation key 'nosuch' not found/);
    // A defaults-list entry: the line of the entry.
    const q = makeProject({ "corral.yaml": "command: echo\nconfig_dir: conf\n", "conf/config.yaml": "defaults:\n  - model: ok\n  - override hydra/job_loging: disabled\n  - _self_\n", "conf/model/ok.yaml": "h: 1\n" });
    const qr = corral(["run"], { cwd: q });
    expect(qr.code).toBe(2);
    expect(qr.stderr).toMatch(/conf[/\\]config\.yaml:3: .*Could not override 'hydra\/job_loging'/);
    expect(qr.stderr).toContain("did you mean 'hydra/job_logging'?");
    const c = corral(["run", "lr=${nope}"], { cwd: dir });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("command line: lr:");
    expect(sweepDirs(dir)).toEqual([]);
  });
});

describe("a sweep: key that needs + in corral.yaml", () => {
  it("is named where corral.yaml writes it, not blamed on the command line (exit 2, with the spelling that adds it)", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nconfig:\n  lr: 0.1\nsweep:\n  newkey: 1,2\n" });
    const r = corral(["run", "-m"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/corral\.yaml: sweep(\[0\])?\.newkey: Could not override 'newkey'/);
    expect(r.stderr).toContain("write the key as '+newkey'");
    expect(r.stderr).not.toContain("command line");
  });
});

describe("hydra.sweep.subdir names the run folders (Hydra's default is ${hydra.job.num}, Corral's index)", () => {
  it("subdir: ${hydra.job.override_dirname} gives each run the folder Hydra would; status, results and resume read them", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 app.py\nconfig_dir: conf\n",
      "conf/config.yaml": "lr: 0.1\nmodel: a\nhydra:\n  sweep:\n    dir: sw\n    subdir: ${hydra.job.override_dirname}\n",
    });
    cpSync(FIXTURE, dir, { recursive: true });
    const r = corral(["run", "-m", "lr=0.1,0.2", "model=a,b"], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = path.join(dir, "sw");
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs.map((e) => e.dir)).toEqual(["lr=0.1,model=a", "lr=0.1,model=b", "lr=0.2,model=a", "lr=0.2,model=b"]);
    for (const e of m.runs) expect(readFileSync(path.join(sweep, e.dir, ".hydra", "overrides.yaml"), "utf8")).toBe(e.overrides.map((o) => `- ${o}\n`).join(""));
    expect(corral(["status", "sw"], { cwd: dir }).stdout).toContain("4 succeeded");
    expect(corral(["resume", "sw"], { cwd: dir, timeoutMs: 30_000 }).code).toBe(0);
    const bad = makeProject({ "corral.yaml": "command: echo\nconfig:\n  lr: 0.1\n  hydra:\n    sweep:\n      subdir: ../${hydra.job.num}\n" });
    const b = corral(["run", "-m", "lr=0.1,0.2"], { cwd: bad });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("not inside the sweep folder");
    expect(sweepDirs(bad)).toEqual([]);
  });
});

const hasPyYaml = spawnSync("python3", ["-c", "import yaml"]).status === 0;
if (!hasPyYaml) console.warn("SKIPPED the ConfigStore stand-in test: python3 has no PyYAML (apt-get install python3-yaml)");

/**
 * An app whose configs live only in the ConfigStore (issue 12, point 7), through the stand-in's
 * `--cfg all` (test/fixtures/hydra-like): the same argv contract as a real Hydra app (the real one
 * is test/e2e/hydra-real.test.ts, with CORRAL_TEST_HYDRA).
 */
describe.skipIf(!hasPyYaml)("a Hydra app whose configs live only in its ConfigStore (stand-in)", () => {
  it("Corral asks the app for each run's config; the +setup=hpc_gpu preset is the launcher settings and never reaches the runs' argv", () => {
    const dir = makeProject({ "corral.yaml": "command: python3 store_app.py\n" });
    cpSync(FIXTURE, dir, { recursive: true });
    const c = corral(["config", "--cfg", "all", "-p", "launcher", "--json", "+setup=hpc_gpu"], { cwd: dir });
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ type: "slurm", partition: "gpu", gpus: 1, time: 3600, setup: ["export TRAINING_ON=gpu"] });
    const r = corral(["run", "-m", "seed=1,2", "+setup=hpc_gpu", "corral.launcher.type=local"], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.runs.map((e) => e.overrides)).toEqual([["seed=1"], ["seed=2"]]);
    expect(readFileSync(path.join(sweep, "1", "config.yaml"), "utf8")).toBe("lr: 1.0\nwidth: 64\nseed: 2\n");
    expect((JSON.parse(readFileSync(path.join(sweep, "1", "stdout.log"), "utf8")) as { on: string }).on).toBe("gpu");
    // The app's own composition error is named, exit 2, nothing created.
    const bad = corral(["run", "-m", "seed=3,4", "+setup=nosuch"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("the app could not compose a run's config: In 'config': Could not find 'setup/nosuch'");
    expect(sweepDirs(dir)).toHaveLength(1);
  });
});
