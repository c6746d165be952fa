import { describe, expect, it } from "vitest";
import { resourceProfiles, rulesOf } from "../../src/engine/flow.js";
import { slurmRequest } from "../../src/launchers/slurm/slurm-launcher.js";
import { FlowScheduler, type Budget, type SchedJob } from "../../src/plan/flow-sched.js";
import type { SlurmLaunchSettings, SlurmSettings } from "../../src/launchers/launcher.js";
import { loadProjectText } from "../../src/project/load.js";

const job = (deps: number[], over: Partial<SchedJob> = {}): SchedJob => ({
  deps,
  need: { cpus: 1, gpus: 0, memMB: 0 },
  priority: 0,
  batchKey: "k",
  ...over,
});
const budget = (over: Partial<Budget> = {}): Budget => ({ jobs: 4, cpus: 4, gpuIds: [], trackGpus: true, memMB: 1000, ...over });
const started = (s: FlowScheduler): number[] => s.next().flatMap((b) => b.jobs.map((j) => j.index));

describe("FlowScheduler", () => {
  it("starts a job only when all its deps succeeded, batching same-key jobs", () => {
    // 0, 1 -> 2 -> 3
    const s = new FlowScheduler([job([]), job([]), job([0, 1], { batchKey: "t" }), job([2])], budget(), false);
    const first = s.next();
    expect(first).toEqual([{ key: "k", jobs: [{ index: 0, gpuIds: [] }, { index: 1, gpuIds: [] }] }]);
    s.succeeded(0);
    expect(started(s)).toEqual([]);
    s.succeeded(1);
    expect(s.next()).toEqual([{ key: "t", jobs: [{ index: 2, gpuIds: [] }] }]);
    s.succeeded(2);
    expect(started(s)).toEqual([3]);
    s.succeeded(3);
    expect(s.done).toBe(true);
  });

  it("honours -j, CPUs, memory and GPUs, and runs a too-big job alone", () => {
    const s = new FlowScheduler(
      [job([], { need: { cpus: 3, gpus: 0, memMB: 0 } }), job([], { need: { cpus: 2, gpus: 0, memMB: 0 } }), job([], { need: { cpus: 99, gpus: 0, memMB: 0 } })],
      budget(),
      false,
    );
    expect(started(s)).toEqual([0]); // 3 of 4 CPUs used: neither 2 nor 4 (clamped 99) fits
    s.succeeded(0);
    expect(started(s)).toEqual([1]);
    s.succeeded(1);
    expect(started(s)).toEqual([2]);
    const g = new FlowScheduler([job([], { need: { cpus: 1, gpus: 1, memMB: 0 } }), job([], { need: { cpus: 1, gpus: 0.5, memMB: 0 } }), job([], { need: { cpus: 1, gpus: 0.5, memMB: 0 } }), job([], { need: { cpus: 1, gpus: 1, memMB: 0 } })], budget({ gpuIds: ["0", "1"] }), false);
    const b = g.next().flatMap((x) => x.jobs);
    expect(b).toEqual([{ index: 0, gpuIds: ["0"] }, { index: 1, gpuIds: ["1"] }, { index: 2, gpuIds: ["1"] }]);
    g.succeeded(0);
    expect(g.next().flatMap((x) => x.jobs)).toEqual([{ index: 3, gpuIds: ["0"] }]);
    const m = new FlowScheduler([job([], { need: { cpus: 1, gpus: 0, memMB: 600 } }), job([], { need: { cpus: 1, gpus: 0, memMB: 600 } })], budget(), false);
    expect(started(m)).toEqual([0]);
    const j = new FlowScheduler([job([]), job([]), job([])], budget({ jobs: 2 }), false);
    expect(started(j)).toEqual([0, 1]);
  });

  it("starts higher priority first", () => {
    const s = new FlowScheduler([job([]), job([], { priority: 5 })], budget({ jobs: 1 }), false);
    expect(started(s)).toEqual([1]);
  });

  it("cancels dependents of a failure; without keep-going everything not started", () => {
    // 0 -> 1 -> 2 ; 3 independent
    const mk = (k: boolean): FlowScheduler => new FlowScheduler([job([]), job([0]), job([1]), job([])], budget({ jobs: 1 }), k);
    const s = mk(false);
    expect(started(s)).toEqual([0]);
    expect(s.failed(0).map((c) => c.index).sort()).toEqual([1, 2, 3]);
    expect(s.done).toBe(true);
    const k = mk(true);
    expect(started(k)).toEqual([0]);
    expect(k.failed(0)).toEqual([{ index: 1, because: 0 }, { index: 2, because: 0 }]); // blamed on the job that failed
    expect(started(k)).toEqual([3]);
    k.succeeded(3);
    expect(k.done).toBe(true);
  });

  it("retries a job, and resumes from succeeded, failed and running jobs", () => {
    const s = new FlowScheduler([job([]), job([0])], budget(), false);
    expect(started(s)).toEqual([0]);
    s.retry(0);
    expect(started(s)).toEqual([0]);
    // Resume: 0 succeeded, 1 still running (adopted), 2 failed before -> 3 cancelled, 4 ready.
    const r = new FlowScheduler([job([]), job([0]), job([]), job([2]), job([0])], budget({ jobs: 2 }), false, { succeeded: [0], running: [1], failed: [2] });
    expect(r.initialCancels()).toEqual([{ index: 3, because: 2 }]);
    expect(started(r)).toEqual([4]);
    expect(started(r)).toEqual([]); // 2 of 2 slots busy
    r.succeeded(1);
    r.succeeded(4);
    expect(r.done).toBe(true);
  });
});

describe("slurmRequest: one array element's request for a group of equal jobs", () => {
  const settings = (over: Partial<SlurmLaunchSettings> = {}, slurm: Partial<SlurmSettings> = {}): SlurmLaunchSettings => ({
    type: "slurm",
    parallel: 2,
    perJob: 4,
    stagger: 0,
    killGraceS: 10,
    verbose: false,
    heartbeatS: 15,
    debug: false,
    setup: [],
    ...over,
    slurm: { sbatchArgs: [], signalGraceS: 120, ...slurm },
  });
  const j = { cpus: 2, gpus: 0.5, memMB: 1000, timeoutS: 600 };

  it("multiplies per-job resources by the jobs running at once and the timeout by the waves", () => {
    // 4 per element, 2 at once: 2 waves.
    expect(slurmRequest(j, settings(), 6)).toMatchObject({ cpusPerTask: 4, gpus: 1, mem: "2000M", time: 2 * 600 + 120 + 60 });
    // A group smaller than per_job: one element holds only the group.
    expect(slurmRequest(j, settings(), 1)).toMatchObject({ cpusPerTask: 2, gpus: 1, mem: "1000M", time: 600 + 180 });
  });

  it("keeps what the launcher sets, except mem, which the rule decides", () => {
    const out = slurmRequest(j, settings({}, { cpusPerTask: 8, gres: "gpu:a100:1", time: "1:00:00", mem: "64G" }), 6);
    expect(out).toMatchObject({ cpusPerTask: 8, gres: "gpu:a100:1", time: "1:00:00", mem: "2000M" });
    expect(out.gpus).toBeUndefined();
    const none = slurmRequest({ cpus: 1, gpus: 0, memMB: 0 }, settings({ parallel: 1, perJob: 1 }), 3);
    // (The setup lines are common to every launcher: they live beside the SLURM block, not in it.)
    expect(none).toEqual({ sbatchArgs: [], signalGraceS: 120, cpusPerTask: 1 });
  });
});

describe("rule resources: set_resources > rule > default_resources > project resources", () => {
  const cfg = loadProjectText(
    `resources: {cpus: 1, mem: 1G, timeout: 60}
default_resources: {mem: 2G, gpus: 0}
rules:
  a: {output: a.txt, shell: "true", resources: {cpus: 3}}
  b: {output: b.txt, shell: "true"}
profiles:
  p1: {default_resources: {gpus: 1, timeout: 120}, set_resources: {a: {cpus: 8, mem: 9G}}}
  p2: {default_resources: {timeout: 300}, set_resources: {a: {cpus: 6}}}
`,
    "corral.yaml",
  ).config;
  const res = (profiles: string[]): Record<string, unknown> =>
    Object.fromEntries(rulesOf(cfg, resourceProfiles({ config: cfg, profiles, file: "corral.yaml" })).map((r) => [r.name, r.resources]));

  it("fills gaps from default_resources and lets set_resources override the rule, later profiles winning", () => {
    expect(res([])).toEqual({ a: { cpus: 3, mem: "2G", gpus: 0, timeout: 60 }, b: { cpus: 1, mem: "2G", gpus: 0, timeout: 60 } });
    expect(res(["p1", "p2"])).toEqual({ a: { cpus: 6, mem: "9G", gpus: 1, timeout: 300 }, b: { cpus: 1, mem: "2G", gpus: 1, timeout: 300 } });
    // Names that are not profiles (config group presets) add nothing.
    expect(res(["setup=hpc"])).toEqual(res([]));
  });

  it("names the profile and suggests the rule when set_resources names no rule", () => {
    const bad = { ...cfg, profiles: { ...cfg.profiles, p3: { set_resources: { bb: { cpus: 1 } } } } };
    expect(() => resourceProfiles({ config: bad, profiles: ["p3"], file: "corral.yaml" })).toThrow("profile 'p3' sets resources of rule 'bb', which the project does not have (did you mean 'b'?)");
  });
});
