/**
 * examples/dynvision as a user runs it: locally (and byte for byte against Snakemake on the
 * example's own Snakefile, when snakemake is installed), the documented reruns, and on the local
 * SLURM test cluster with the example's `cluster` profile (per-rule partition, gres, constraint,
 * slurm_extra; `plot` a localrule).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, readJson, ROOT, slurmProblem, sweepDirs } from "../helpers.js";

const EXAMPLE = path.join(ROOT, "examples/dynvision");
const copy = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-dynvision-"));
  cpSync(EXAMPLE, dir, { recursive: true });
  return dir;
};
const hasSnakemake = spawnSync("sh", ["-c", "command -v snakemake"]).status === 0;
if (!hasSnakemake) console.warn("SKIPPED the byte-for-byte comparison with Snakemake: snakemake is not installed (apt-get install snakemake)");

/** Files a workflow made (relative paths), without either tool's own state. */
function made(dir: string): string[] {
  const out: string[] = [];
  for (const top of ["data", "models", "reports", "figures"]) {
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name !== ".corral_timestamp" && e.name !== ".snakemake_timestamp") out.push(path.relative(dir, p));
      }
    };
    if (existsSync(path.join(dir, top))) walk(path.join(dir, top));
  }
  return out.sort();
}

const lastSweep = (dir: string): SweepManifest => readJson<SweepManifest>(path.join(sweepDirs(dir).at(-1)!, "sweep.json"));
const rulesRun = (m: SweepManifest): Record<string, number> => {
  const n: Record<string, number> = {};
  for (const r of m.runs) n[r.rule!] = (n[r.rule!] ?? 0) + 1;
  return n;
};

describe("examples/dynvision, locally", () => {
  const dir = copy();

  it("builds the 20 jobs, then has nothing to do", () => {
    const plan = corral(["flow", "-n"], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/total\s+20\s+20/);
    const r = corral(["flow", "-j", "2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(rulesRun(lastSweep(dir))).toEqual({ get_data: 1, init_model: 6, train_model: 6, test_model: 6, plot: 1 });
    expect(readFileSync(path.join(dir, "figures/responses.svg"), "utf8").match(/<rect /g)).toHaveLength(6);
    expect(existsSync(path.join(dir, "models/DyRCNNx4/DyRCNNx4:rctype=full+tsteps=20_0_cifar10_trained.pt"))).toBe(true);
    const again = corral(["flow"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("nothing to do");
  });

  it.skipIf(!hasSnakemake)("makes byte-identical files to Snakemake on the example's Snakefile", () => {
    const snake = copy();
    const s = spawnSync("snakemake", ["-j2", "-q"], { cwd: snake, encoding: "utf8", timeout: 120_000 });
    expect(s.status, s.stderr).toBe(0);
    expect(made(dir)).toEqual(made(snake));
    for (const f of made(dir)) expect(readFileSync(path.join(dir, f)), f).toEqual(readFileSync(path.join(snake, f)));
  });

  it("a file added inside the data folder reruns nothing (the folder's time is its marker's)", () => {
    const f = path.join(dir, "data/raw/cifar10/train/class0.csv");
    spawnSync("touch", [f, path.join(dir, "data/raw/cifar10/extra.txt")]);
    const r = corral(["flow", "-n"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/nothing to do|total\s+20\s+0/);
  });

  it("a model-args sweep builds exactly the new models and the plot", () => {
    const before = statSync(path.join(dir, "models/DyRCNNx4/DyRCNNx4:rctype=full+tsteps=20_0_cifar10_trained.pt")).mtimeMs;
    const r = corral(["flow", "model_args.tsteps=[10,20]", "-j", "2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(rulesRun(lastSweep(dir))).toEqual({ init_model: 6, train_model: 6, test_model: 6, plot: 1 });
    expect(readFileSync(path.join(dir, "figures/responses.svg"), "utf8").match(/<rect /g)).toHaveLength(12);
    expect(statSync(path.join(dir, "models/DyRCNNx4/DyRCNNx4:rctype=full+tsteps=20_0_cifar10_trained.pt")).mtimeMs).toBe(before);
  });

  it("a config value used by one rule's params reruns that rule and what follows", () => {
    const r = corral(["flow", "epochs=3", "-j", "2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(rulesRun(lastSweep(dir))).toEqual({ train_model: 6, test_model: 6, plot: 1 });
  });
});

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED examples/dynvision on SLURM: ${problem}`);

describe.skipIf(problem !== undefined)("examples/dynvision on the SLURM test cluster (-P cluster)", () => {
  it("runs every job on SLURM but the localrule plot, train_model with its own gres", () => {
    const dir = copy();
    const r = corral(["flow", "-P", "cluster"], { cwd: dir, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const m = lastSweep(dir);
    expect(rulesRun(m)).toEqual({ get_data: 1, init_model: 6, train_model: 6, test_model: 6, plot: 1 });
    for (const run of m.runs) {
      const st = readJson<RunStatusRecord>(path.join(m.dir, run.dir, "status.json"));
      expect(st.state).toBe("succeeded");
      if (run.rule === "plot") expect(st.jobId, "plot is a localrule").toBeUndefined();
      else expect(st.jobId, `${run.job} ran in a SLURM job`).toMatch(/^\d+/);
      if (run.rule === "train_model") expect(st.gpus, `${run.job} got its gres`).toHaveLength(1);
    }
    // Jobs running at once in one SLURM job never share a GPU: the element asked for the gres per job.
    const train = m.runs.filter((r) => r.rule === "train_model").map((r) => readJson<RunStatusRecord>(path.join(m.dir, r.dir, "status.json")));
    for (const a of train) {
      for (const b of train) {
        if (a === b || a.jobId !== b.jobId || a.endedAt! <= b.startedAt! || b.endedAt! <= a.startedAt!) continue;
        expect(a.gpus!.filter((g) => b.gpus!.includes(g)), `runs ${a.index} and ${b.index} ran at once in ${a.jobId}`).toEqual([]);
      }
    }
    // train_model's own request, as sbatch got it.
    const scripts = readdirSync(path.join(m.dir, ".slurm")).filter((f) => f.endsWith(".sbatch")).map((f) => readFileSync(path.join(m.dir, ".slurm", f), "utf8"));
    const trainScripts = scripts.filter((t) => t.includes("--constraint="));
    expect(trainScripts.length).toBeGreaterThan(0);
    for (const t of trainScripts) {
      expect(t).toContain("#SBATCH --partition=debug");
      expect(t).toContain('#SBATCH --constraint="a100|h100"');
      expect(t).toMatch(/#SBATCH --gres=gpu:[12]\n/);
      expect(t).toMatch(/#SBATCH --comment=".* dynvision-train"/);
    }
    expect(readFileSync(path.join(dir, "figures/responses.svg"), "utf8").match(/<rect /g)).toHaveLength(6);
  });
});
