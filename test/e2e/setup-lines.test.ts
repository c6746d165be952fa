/**
 * Setup lines (`launcher.setup`) run in the job's own shell, so `source` and `export` reach the
 * runs; the first that fails ends the job, names the line on the job's stderr and records every
 * run failed with it (issue 10). Also `--dry-run` with the SLURM launcher, which prints the
 * scripts it would submit.
 */
import { readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, slurmProblem, sweepDirs } from "../helpers.js";

const ACTIVATE = 'export FROM_VENV=yes\nexport PATH="$PWD/venv/bin:$PATH"\n';
const project = (launcher: string, setup: string[]): string =>
  makeProject({
    "venv/bin/activate": ACTIVATE,
    "corral.yaml": `command: sh -c 'echo "venv=$FROM_VENV path=\${PATH%%:*}"'\nconfig:\n  i: 0\nlauncher:\n${launcher}  setup:\n${setup.map((l) => `    - ${JSON.stringify(l)}\n`).join("")}`,
  });
const BAD = "corral: setup line 2 failed (exit 1): source venv-typo/bin/activate";

function expectAllFailed(sweep: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const st = readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json"));
    expect([st.state, st.message]).toEqual(["failed", BAD]);
  }
}

describe("setup lines (local launcher)", () => {
  it("run in the worker's shell: a sourced environment reaches every run", () => {
    const dir = project("  jobs: 2\n", ["export A=1", "source venv/bin/activate"]);
    const r = corral(["run", "-m", "i=range(2)"], { cwd: dir });
    expect(r.stderr).toContain("2 succeeded");
    expect(r.code).toBe(0);
    const out = readFileSync(path.join(sweepDirs(dir)[0]!, "1", "stdout.log"), "utf8");
    expect(out).toBe(`venv=yes path=${path.join(realpathSync(dir), "venv/bin")}\n`);
  });

  it("launcher.env reaches every run of the local launcher (as a SLURM job's script exports it); the project's env wins", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh -c 'echo $FROM_LAUNCHER $BOTH'\nconfig:\n  i: 0\nenv:\n  BOTH: project\nlauncher:\n  env:\n    FROM_LAUNCHER: launcher\n    BOTH: launcher\n",
    });
    const r = corral(["run", "-m", "i=range(2)"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(sweepDirs(dir)[0]!, "1", "stdout.log"), "utf8")).toBe("launcher project\n");
  });

  it("a failing line fails the job: no run starts, each is failed with the line, later lines never run", () => {
    const dir = project("  jobs: 2\n", ["export A=1", "source venv-typo/bin/activate", "touch later-line-ran"]);
    const r = corral(["run", "-m", "i=range(3)"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`run 2 [i=2]: failed: ${BAD}`);
    const sweep = sweepDirs(dir)[0]!;
    expectAllFailed(sweep, 3);
    expect(readdirSync(dir)).not.toContain("later-line-ran");
    for (let i = 0; i < 3; i++) expect(readFileSync(path.join(sweep, String(i), "status.json"), "utf8")).not.toContain('"running"');
    // the worker's log (its stderr) names the line
    const log = readdirSync(path.join(sweep, ".corral")).find((f) => f.endsWith(".log"))!;
    expect(readFileSync(path.join(sweep, ".corral", log), "utf8")).toContain(`${BAD}\n`);
    expect(readJson<SweepManifest>(path.join(sweep, "sweep.json")).jobs).toHaveLength(1);
  });

  it("resume of a sweep recorded by an older corral (setup lines inside the SLURM block) runs them", () => {
    const dir = project("  jobs: 2\n", ["export A=1", "source venv/bin/activate"]);
    expect(corral(["run", "-m", "i=range(2)"], { cwd: dir }).code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const file = path.join(sweep, "sweep.json");
    const m = readJson<Record<string, unknown> & { settings: Record<string, unknown> }>(file);
    // Version 1 of the settings, as corral wrote them before: one shape for every launcher.
    const { version: _v, setup, ...rest } = m.settings;
    m.settings = { ...rest, perJob: 2, pollIntervalS: 15, debug: false, slurm: { jobName: "p", sbatchArgs: [], setup, env: {}, signalGraceS: 120 } };
    writeFileSync(file, JSON.stringify(m));
    // Run 1 never ran, as far as the sweep knows.
    for (const f of ["status.json", "exit-1.json", "stdout.log", "stderr.log"]) rmSync(path.join(sweep, "1", f), { force: true });
    const r = corral(["resume"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(sweep, "1", "stdout.log"), "utf8")).toBe(`venv=yes path=${path.join(realpathSync(dir), "venv/bin")}\n`);
    expect(readJson<SweepManifest>(file).settings).toMatchObject({ version: 2, type: "local", setup: ["export A=1", "source venv/bin/activate"] });
  });
});

describe("corral run --dry-run with the SLURM launcher", () => {
  it("prints the sbatch script (5 runs, 2 per array task: 3 tasks) and the multi-node wrapper after the run list; submits nothing", () => {
    const dir = project("  type: slurm\n  per_job: 2\n  nodes: 2\n  multinode: srun\n", ["module load cuda", "source venv/bin/activate"]);
    const r = corral(["run", "-m", "i=range(5)", "--dry-run"], { cwd: dir });
    expect(r.code).toBe(0);
    const runList = r.stdout.indexOf("     4  ");
    const script = r.stdout.indexOf("chunk-0.sbatch (not submitted)\n#!/bin/bash\n");
    expect(runList).toBeGreaterThan(0);
    expect(script).toBeGreaterThan(runList);
    expect(r.stdout).toContain("#SBATCH --array=0-2\n");
    expect(r.stdout).toContain("eval 'module load cuda' || __corral_setup_failed 1");
    expect(r.stdout).toContain("eval 'source venv/bin/activate' || __corral_setup_failed 2");
    expect(r.stdout).toMatch(/# ---- multi-node wrapper \(srun\)[^\n]*\n'srun' '--nodes=2'/);
    expect(sweepDirs(dir)).toEqual([]);
  });
});

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm setup-line test: ${problem}`);

describe.skipIf(problem !== undefined)("setup lines (SLURM, real local cluster)", () => {
  it("a failing line fails the array task: the line in its .err, every run failed with it, nothing resubmitted", () => {
    const dir = project("  type: slurm\n  per_job: 2\n  parallel: 2\n", ["export A=1", "source venv-typo/bin/activate"]);
    const r = corral(["run", "-m", "i=range(3)"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    const sweep = sweepDirs(dir)[0]!;
    expectAllFailed(sweep, 3);
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.jobs).toHaveLength(1);
    const slurmDir = path.join(sweep, ".slurm");
    const errs = readdirSync(slurmDir).filter((f) => f.endsWith(".err"));
    expect(errs).toHaveLength(2);
    for (const f of errs) expect(readFileSync(path.join(slurmDir, f), "utf8")).toContain(`${BAD}\n`);
  });
});
