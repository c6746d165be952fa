/**
 * The engine's one loop through the real CLI: impossible requests refused before anything
 * exists, resubmission bounded by the policy, the library and the CLI retrying alike.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { createFlowSweep, planFlow } from "../../src/engine/flow.js";
import { openProject } from "../../src/project/open.js";
import { cpus } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type * as Corral from "../../src/index.js";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sweepDirs, waitFor } from "../helpers.js";

// No GPU on this machine as the tests see it: no nvidia-smi answers, CUDA_VISIBLE_DEVICES empty.
const NO_GPU = { CUDA_VISIBLE_DEVICES: "", PATH: `/nonexistent-nvidia:${process.env.PATH ?? ""}` };

describe("impossible requests are refused before anything starts", () => {
  it("a GPU per run on a machine with no GPU: exit 2 within seconds, one line naming the key, no sweep, nothing ran", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh -c 'echo ran >> ran.txt'\nresources:\n  gpus: 1\nconfig:\n  x: 0\nsweep:\n  x: 1,2,3,4,5,6\n",
    });
    const t0 = Date.now();
    const r = corral(["run", "-m"], { cwd: dir, env: NO_GPU, timeoutMs: 20_000 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/resources.*asks for 1 GPU but this machine offers 0/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(sweepDirs(dir)).toEqual([]);
    expect(existsSync(path.join(dir, "ran.txt"))).toBe(false);
    // doctor says so too, instead of "all good"
    const doc = corral(["doctor"], { cwd: dir, env: NO_GPU });
    expect(doc.code).toBe(1);
    expect(doc.stdout + doc.stderr).toContain("asks for 1 GPU but this machine offers 0");
  });

  it("a pipeline rule asking for a GPU the machine lacks: exit 2 naming the rule, no flow sweep", () => {
    const dir = makeProject({
      "corral.yaml": "rules:\n  train:\n    output: [model.pt]\n    shell: touch {output}\n    resources: {gpus: 1}\ntargets: [model.pt]\n",
    });
    const r = corral(["flow"], { cwd: dir, env: NO_GPU, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rules\.train\.resources.*rule 'train' asks for 1 GPU but/);
    expect(sweepDirs(dir)).toEqual([]);
    expect(existsSync(path.join(dir, "model.pt"))).toBe(false);
  });
});

describe("more CPUs per run than this machine has (local launcher)", () => {
  it("a sweep asking more CPUs than the machine offers: exit 2 naming the key, nothing started (was: lost three times, the reason only in a worker log); a pipeline rule is scaled down with a warning, as Snakemake scales threads", () => {
    const many = cpus().length + 8;
    const sweep = makeProject({ "corral.yaml": `command: sh -c 'echo ran >> ran.txt'\nresources: {cpus: ${many}}\nconfig:\n  x: 0\n` });
    const r = corral(["run"], { cwd: sweep, timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`resources: each run asks for ${many} CPUs but this machine offers \\d+`));
    expect(sweepDirs(sweep)).toEqual([]);
    expect(existsSync(path.join(sweep, "ran.txt"))).toBe(false);
    const flow = makeProject({ "corral.yaml": `rules:\n  train:\n    output: [model.pt]\n    shell: touch {output}\n    resources: {cpus: ${many}}\ntargets: [model.pt]\n` });
    const f = corral(["flow"], { cwd: flow, timeoutMs: 30_000 });
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toContain(`corral: warning: rule 'train' asks for ${many} CPUs; this machine offers ${cpus().length}: its jobs run with ${cpus().length}`);
    expect(existsSync(path.join(flow, "model.pt"))).toBe(true);
    // --cores caps it too.
    const capped = makeProject({ "corral.yaml": `rules:\n  train:\n    output: [m.txt]\n    shell: echo $OMP_NUM_THREADS > {output}\n    resources: {cpus: ${many}}\ntargets: [m.txt]\n` });
    const c = corral(["flow", "--cores", "1"], { cwd: capped, timeoutMs: 30_000 });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(`rule 'train' asks for ${many} CPUs; this machine offers 1${cpus().length > 1 ? " (--cores)" : ""}: its jobs run with 1`);
    expect(readFileSync(path.join(capped, "m.txt"), "utf8").trim()).toBe("1");
  });
});

describe("resubmission is bounded by the retry policy", () => {
  it("a failing run goes again `retries` times, then stays failed: never in a loop", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh -c 'echo start >> starts.txt; exit 3'\nlauncher:\n  retries: 1\n  max_attempts: 2\nconfig:\n  x: 0\nsweep:\n  x: 1,2\n",
    });
    const r = corral(["run", "-m"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("resubmitting 2 runs after failed");
    // Two runs, two attempts each: four starts, not more.
    expect(readFileSync(path.join(dir, "starts.txt"), "utf8").trim().split("\n")).toHaveLength(4);
  });
});

describe("the library drives a sweep as the CLI does", () => {
  it("launch().wait() resubmits by the same policy (launcher.retries)", async () => {
    const dir = makeProject({
      // Fails on its first attempt, succeeds on its second.
      "corral.yaml": "command: sh -c 'if [ \"$CORRAL_ATTEMPT\" = 1 ]; then exit 3; fi; echo ok'\nlauncher:\n  retries: 1\nconfig:\n  x: 0\nsweep:\n  x: 1,2\n",
    });
    const lib = (await import("../../dist/index.js")) as typeof Corral;
    const sweep = await lib.launch({ cwd: dir, multirun: true });
    const res = await sweep.wait();
    expect(res.counts.succeeded).toBe(2);
    expect(res.runs.map((x) => x.attempt)).toEqual([2, 2]);
  });
});

describe("a dead driver is named, not shown as pending for ever", () => {
  it("a detached flow head killed with kill -9: status says nothing runs any more and suggests resume; status --watch says why it stops; resume finishes", async () => {
    const dir = makeProject({
      "corral.yaml": [
        "rules:",
        "  a:",
        "    output: [a.txt]",
        "    shell: sleep 1; echo a > {output}",
        "  b:",
        "    input: [a.txt]",
        "    output: [b.txt]",
        "    shell: cat {input} > {output}",
        "targets: [b.txt]",
        "",
      ].join("\n"),
    });
    const r = corral(["flow", "--detach"], { cwd: dir });
    expect(r.code).toBe(0);
    const [sweep] = sweepDirs(dir);
    const jobsNow = () => readJson<SweepManifest>(path.join(sweep!, "sweep.json")).jobs;
    const headOf = () => jobsNow().find((j) => j.jobId.startsWith("head-"));
    // Kill the head once it has handed job a to a worker (and before b can be ready).
    await waitFor(() => headOf() !== undefined && jobsNow().some((j) => !j.jobId.startsWith("head-")), 20_000, "the head and a's worker in sweep.json");
    const head = headOf();
    expect(head?.pid).toBeGreaterThan(0);
    process.kill(head!.pid!, "SIGKILL");
    // Job a's worker finishes on its own; nothing submits b.
    await waitFor(() => existsSync(path.join(dir, "a.txt")), 20_000, "a.txt");
    await waitFor(() => corral(["status"], { cwd: dir }).stdout.includes("nothing is running any more"), 20_000, "the stalled status");
    const st = corral(["status"], { cwd: dir });
    expect(st.stdout).toMatch(/flow head, pid \d+, is gone\): 1 run will not finish on its own; continue with: corral resume/);
    const w = corral(["status", "--watch"], { cwd: dir, timeoutMs: 20_000 });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain("stopped watching: nothing is running any more");
    const res = corral(["resume"], { cwd: dir, timeoutMs: 30_000 });
    expect(res.code).toBe(0);
    expect(readFileSync(path.join(dir, "b.txt"), "utf8")).toBe("a\n");
  });
});

describe("a pipeline whose head died while its jobs still run", () => {
  it("a rerun refuses to start the running jobs beside themselves (with or without --rerun-incomplete); resume adopts them; each job runs once", async () => {
    const dir = makeProject({
      "corral.yaml": [
        "rules:",
        "  slow:",
        '    output: ["out/{n}.txt"]',
        '    shell: "echo {wildcards.n} >> starts.txt; echo half > {output}; sleep 3; echo END >> {output}"',
        "  all:",
        "    input: [out/1.txt, out/2.txt]",
        "    output: [all.txt]",
        "    shell: cat {input} > {output}",
        "targets: [all.txt]",
        "",
      ].join("\n"),
    });
    const p = corralAsync(["flow", "-j", "2"], { cwd: dir });
    await waitFor(() => lines(path.join(dir, "starts.txt")).length === 2, 20_000, "both slow jobs to start");
    p.child.kill("SIGKILL");
    await p.done;
    for (const extra of [[], ["--rerun-incomplete"]]) {
      const r = corral(["flow", ...extra], { cwd: dir });
      expect(r.code, extra.join(" ")).toBe(2);
      expect(r.stderr).toContain("still being written by a running job of an earlier flow");
      expect(r.stderr).toContain("corral resume");
    }
    const res = corral(["resume"], { cwd: dir, timeoutMs: 30_000 });
    expect(res.code).toBe(0);
    expect(lines(path.join(dir, "starts.txt")).sort()).toEqual(["1", "2"]);
    expect(readFileSync(path.join(dir, "all.txt"), "utf8")).toBe("half\nEND\nhalf\nEND\n");
    // Everything is up to date now.
    expect(corral(["flow", "-n"], { cwd: dir }).stdout).toMatch(/nothing to do|up to date/i);
  });

  it("a second flow while a head builds is refused before it creates anything", async () => {
    const dir = makeProject({
      "corral.yaml": "rules:\n  a:\n    output: [a.txt]\n    shell: sleep 3; touch {output}\ntargets: [a.txt]\n",
    });
    const first = corralAsync(["flow"], { cwd: dir });
    await waitFor(() => sweepDirs(dir).length === 1 && existsSync(path.join(dir, ".corral/flow/.lock")), 20_000, "the first flow's head");
    const second = corral(["flow", "--detach"], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain("another corral flow is building");
    expect((await first.done).code).toBe(0);
    expect(sweepDirs(dir)).toHaveLength(1);
  });

  it("a flow sweep whose head is refused by the flow lock is removed, index entry included (no ghost for resume)", async () => {
    const dir = makeProject({
      "corral.yaml": "rules:\n  a:\n    output: [a.txt]\n    shell: touch {output}\ntargets: [a.txt]\n",
    });
    // A created, never started flow sweep (what a second `corral flow` leaves when it loses the
    // race for the flow lock between creating its sweep and starting its head).
    const project = await openProject({ cwd: dir, allowMissing: false });
    const plan = await planFlow({ project, args: [], rerunIncomplete: false, keepGoing: false, env: process.env, now: new Date() });
    const { manifest } = await createFlowSweep(plan);
    expect(existsSync(path.join(dir, ".corral/sweeps", `${manifest.id}.json`))).toBe(true);
    // Another head holds the project's flow lock (this live process).
    mkdirSync(path.join(dir, ".corral/flow"), { recursive: true });
    writeFileSync(path.join(dir, ".corral/flow/.lock"), JSON.stringify({ pid: process.pid, host: os.hostname(), since: Date.now(), what: "corral flow head of another sweep" }));
    const r = corral(["flow", "--head", manifest.dir], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("another corral flow is building");
    expect(existsSync(manifest.dir)).toBe(false);
    expect(existsSync(path.join(dir, ".corral/sweeps", `${manifest.id}.json`))).toBe(false);
    expect(existsSync(path.join(dir, "a.txt"))).toBe(false);
  });
});

describe("a dry run shows what the engine would submit", () => {
  it("SLURM --dry-run prints the sbatch script sized as the real submission: resources.cpus x parallel, resources.timeout x waves", () => {
    const dir = makeProject({
      "corral.yaml": "command: 'true'\nconfig:\n  x: 0\nresources:\n  cpus: 2\n  timeout: 600\nlauncher:\n  type: slurm\n  parallel: 2\n  per_job: 4\n  signal_grace: 30\n",
    });
    const r = corral(["run", "-m", "x=1,2,3,4", "--dry-run"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("#SBATCH --cpus-per-task=4");
    // Two waves of 600 s, the signal grace and a minute of margin.
    expect(r.stdout).toContain("#SBATCH --time=00:21:30");
    expect(sweepDirs(dir)).toEqual([]);
  });
});
