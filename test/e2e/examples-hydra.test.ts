/**
 * examples/clusterduck and examples/submitit (issue 12, point 3): Hydra apps and conf/ trees whose
 * launcher presets are written as clusterduck and hydra-submitit-launcher users write them, run
 * unchanged. The app imports `hydra`: a real
 * Hydra where the user has one, here the Hydra-like stand-in (test/fixtures/hydra-like, same argv
 * contract) on PYTHONPATH. The SLURM case runs on the real local cluster (skipped, saying why,
 * where none answers).
 */
import { cpSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, ROOT, slurmProblem, sweepDirs, waitFor } from "../helpers.js";

const STAND_IN = path.join(ROOT, "test/fixtures/hydra-like");
const env = { PYTHONPATH: STAND_IN };

function example(name = "clusterduck"): string {
  const dir = makeProject({}, `corral-${name}-`);
  cpSync(path.join(ROOT, "examples", name), dir, { recursive: true });
  return dir;
}

interface Out {
  config: string;
  gpus: string;
  start: number;
  end: number;
}
const outputs = (sweep: string, n: number): Out[] => Array.from({ length: n }, (_, i) => JSON.parse(readFileSync(path.join(sweep, String(i), "stdout.log"), "utf8")) as Out);
/** The most runs that worked at the same moment. */
const mostAtOnce = (outs: Out[]): number => Math.max(...outs.map((a) => outs.filter((b) => b.start <= a.start && a.start < b.end).length));
const ARGS = ["run", "-m", "model=convnet,transformer", "+iteration=range(2)"];

describe("examples/clusterduck", () => {
  it("+platform=slurm_debug: clusterduck's local executor, one run at a time; the preset never reaches the app or the recorded config", () => {
    const dir = example();
    const r = corral([...ARGS, "+platform=slurm_debug"], { cwd: dir, env, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.settings?.type).toBe("local");
    expect(m.runs.map((e) => e.overrides)).toEqual([
      ["model=convnet", "+iteration=0"],
      ["model=convnet", "+iteration=1"],
      ["model=transformer", "+iteration=0"],
      ["model=transformer", "+iteration=1"],
    ]);
    const outs = outputs(sweep, 4);
    expect(mostAtOnce(outs)).toBe(1);
    for (const [i, o] of outs.entries()) {
      expect(o.config).not.toContain("platform");
      expect(readFileSync(path.join(sweep, String(i), "config.yaml"), "utf8")).not.toMatch(/platform|hydra:/);
    }
  });

  it("corral config --cfg all -p hydra.launcher shows the preset as the user wrote it; a launcher key Corral cannot use is exit 2 naming it", () => {
    const dir = example();
    const r = corral(["config", "--cfg", "all", "-p", "hydra.launcher", "+platform=horeka", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      timeout_min: 5,
      partition: "dev_accelerated",
      gres: "gpu:4",
      setup: ["export WANDB_CONSOLE=off"],
      parallel_runs_per_node: 2,
      wait_for_completion: false,
      resources_config: { cpu: null, cuda: null, stagger: { delay: 1 } },
    });
    const bad = corral([...ARGS, "+platform=horeka", "hydra.launcher.timeout_mins=10"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("hydra.launcher.timeout_mins");
    expect(sweepDirs(dir)).toEqual([]);
  });
});

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED examples/clusterduck on SLURM: ${problem}`);

describe.skipIf(problem !== undefined)("examples/clusterduck on the real local SLURM", () => {
  it("+platform=horeka: one job for the 4 runs, at most parallel_runs_per_node at once, distinct GPUs, detached (wait_for_completion: False); hydra.launcher.partition from the command line", async () => {
    const dir = example();
    const r = corral([...ARGS, "+platform=horeka", "hydra.launcher.partition=debug"], { cwd: dir, env, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("detached");
    const sweep = r.stdout.trim();
    const m = (): SweepManifest => readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m().settings).toMatchObject({ type: "slurm", parallel: 2, slurm: { partition: "debug", gres: "gpu:4", time: 300 } });
    const done = (): boolean => [0, 1, 2, 3].every((i) => existsSync(path.join(sweep, String(i), "status.json")) && /"succeeded"/.test(readFileSync(path.join(sweep, String(i), "status.json"), "utf8")));
    await waitFor(done, 90_000, "the 4 runs to succeed");
    expect(m().jobs).toHaveLength(1);
    const outs = outputs(sweep, 4);
    expect(mostAtOnce(outs)).toBe(2);
    // Runs at work together hold different GPUs (clusterduck's cuda resource: 2 of the job's 4 each).
    for (const a of outs) {
      expect(a.gpus.split(",")).toHaveLength(2);
      for (const b of outs) if (a !== b && b.start <= a.start && a.start < b.end) expect(a.gpus).not.toBe(b.gpus);
    }
    for (const e of m().runs) expect(e.overrides.join(" ")).not.toMatch(/platform|hydra\.launcher/);
  });
});

interface SubmititOut extends Out {
  on: string;
  job: string;
}

describe("examples/submitit", () => {
  it("corral config --cfg all -p hydra.launcher shows the +setup=hpc_gpu preset as written; -p launcher as Corral reads it", () => {
    const dir = example("submitit");
    const h = corral(["config", "--cfg", "all", "-p", "hydra.launcher", "+setup=hpc_gpu", "--json"], { cwd: dir });
    expect(h.code, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout)).toEqual({ timeout_min: 60, cpus_per_task: 1, gpus_per_node: 1, mem_gb: 1, partition: "gpu", setup: ["export TRAINING_ON=gpu"] });
    const l = corral(["config", "--cfg", "all", "-p", "launcher", "+setup=hpc_batch", "--json"], { cwd: dir });
    expect(JSON.parse(l.stdout)).toMatchObject({ type: "slurm", time: 1800, cpus_per_task: 1, mem: "1G", partition: "batch", array_throttle: 1, sbatch_args: ["--nice=10"] });
  });
});

describe.skipIf(problem !== undefined)("examples/submitit on the real local SLURM", () => {
  it("+setup=hpc_gpu: one array task per run, as submitit, each with the one GPU gpus_per_node gives it and the preset's setup line; the preset never reaches the app", () => {
    const dir = example("submitit");
    const r = corral(["run", "-m", "seed=1,2", "+setup=hpc_gpu", "hydra.launcher.partition=debug"], { cwd: dir, env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.settings).toMatchObject({ type: "slurm", slurm: { partition: "debug", gpus: 1, time: 3600, mem: "1G" } });
    expect(m.runs.map((e) => e.overrides)).toEqual([["seed=1"], ["seed=2"]]);
    const outs = Array.from({ length: 2 }, (_, i) => JSON.parse(readFileSync(path.join(sweep, String(i), "stdout.log"), "utf8")) as SubmititOut);
    expect(new Set(outs.map((o) => o.job)).size).toBe(2);
    for (const o of outs) {
      expect(o.gpus.split(",")).toHaveLength(1);
      expect(o.on).toBe("gpu");
      expect(o.config).not.toContain("setup");
    }
  });
});
