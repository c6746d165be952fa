/**
 * The core through the real CLI: a project in a temp folder, `corral` as a child process,
 * assertions on exit codes, files and output.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, lines, makeProject, readJson, sweepDirs, TASKS, waitFor } from "../helpers.js";

const yaml = (command: string, extra = ""): string => `command: ${command}
config:
  lr: 0.1
  b: 1.0
  flag: false
  seed: 0
${extra}`;

describe("corral run (local launcher)", () => {
  it("runs a sweep, hands each run its Hydra-spelled overrides and CORRAL_* env, and tabulates metrics", () => {
    const dir = makeProject({ "corral.yaml": yaml(`sh ${TASKS}/ok.sh`, "launcher:\n  jobs: 2\n") });
    const r = corral(["run", "-m", "lr=0.1,0.01", "b=10e0", "flag=TRUE"], { cwd: dir });
    expect(r.stderr).toContain("2 succeeded");
    expect(r.code).toBe(0);
    const [sweep] = sweepDirs(dir);
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.runs.map((x) => x.overrides)).toEqual([
      ["lr=0.1", "b=10.0", "flag=True"],
      ["lr=0.01", "b=10.0", "flag=True"],
    ]);
    const out0 = readFileSync(path.join(sweep!, "0", "stdout.log"), "utf8");
    expect(out0).toContain("args: lr=0.1 b=10.0 flag=True");
    expect(out0).toMatch(new RegExp(`RUN_ID=${m.runs[0]!.id} ATTEMPT=1 RESUMED=0 OMP=1`));
    for (const f of ["config.yaml", "overrides.yaml", "status.json", "stdout.log", "stderr.log", "metrics.jsonl"]) {
      expect(existsSync(path.join(sweep!, "1", f)), f).toBe(true);
    }
    expect(readFileSync(path.join(sweep!, "1", "config.yaml"), "utf8")).toContain("lr: 0.01");
    const st = readJson<RunStatusRecord>(path.join(sweep!, "1", "status.json"));
    expect(st.state).toBe("succeeded");
    expect(st.history.map((h) => h.state)).toEqual(["running", "succeeded"]);
    const res = corral(["results", "--format", "csv"], { cwd: dir });
    expect(res.code).toBe(0);
    expect(res.stdout.trim().split("\n")).toEqual(["run,lr,state,step,loss,acc", "0,0.1,succeeded,2,0.25,0.9", "1,0.01,succeeded,2,0.25,0.9"]);
    const best = corral(["results", "--best", "lr:min", "--format", "json"], { cwd: dir });
    expect((JSON.parse(best.stdout) as Array<{ lr: number }>).map((x) => x.lr)).toEqual([0.01, 0.1]);
  });

  it("gives run ids that are content hashes: same config, same id; different config, different id", () => {
    const dir = makeProject({ "corral.yaml": yaml(`sh ${TASKS}/ok.sh`) });
    const a = JSON.parse(corral(["run", "-m", "lr=0.1,0.01", "--dry-run", "--json"], { cwd: dir }).stdout) as Array<{ id: string; index: number; overrides: string[]; config: { lr: number } }>;
    const b = JSON.parse(corral(["run", "-m", "lr=0.01,0.1", "--dry-run", "--json"], { cwd: dir }).stdout) as typeof a;
    expect(a[0]!.id).toBe(b[1]!.id);
    expect(a[0]!.id).not.toBe(a[1]!.id);
    expect(a[1]).toMatchObject({ index: 1, overrides: ["lr=0.01"], config: { lr: 0.01, b: 1, seed: 0 } });
    expect(sweepDirs(dir)).toEqual([]); // a dry run starts nothing
  });

  it("exits 1 with a failure summary naming each failed run, its exit code and its stderr tail", () => {
    const dir = makeProject({ "corral.yaml": yaml("sh", "launcher:\n  jobs: 2\n") });
    const r = corral(["run", "-m", `+script=${TASKS}/ok.sh,${TASKS}/exit3.sh,${TASKS}/crash.sh,${TASKS}/flood-stderr.sh`, "--", "sh", "-c", 'exec sh "${1#+script=}" "$@"', "sh"], { cwd: dir });
    // The command gets `+script=...` as its first argument; the wrapper strips the key.
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Failures (3)");
    expect(r.stderr).toMatch(/run 1 \[\+script=.*exit3\.sh\]: failed: exited with code 3/);
    expect(r.stderr).toContain("ValueError: bad learning rate");
    expect(r.stderr).toMatch(/run 2 .*crash\.sh\]: failed: killed by SIGSEGV/);
    expect(r.stderr).toContain("the real error is here");
    expect(r.stderr).not.toContain("noise line 100 ");
  });

  it("stops a run at its timeout: SIGTERM, grace, SIGKILL, and says the kill was forced", () => {
    const dir = makeProject({ "corral.yaml": `command: sh ${TASKS}/ignore-sigterm.sh\nresources:\n  timeout: 1\nlauncher:\n  kill_grace: 1\n` });
    const t0 = Date.now();
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const st = readJson<RunStatusRecord>(path.join(sweepDirs(dir)[0]!, "0", "status.json"));
    expect(st.state).toBe("timeout");
    expect(st.message).toMatch(/exceeded its timeout of 1s; did not exit within 1s after SIGTERM, force-killed/);
    expect(st.signal).toBe("SIGKILL");
  });

  it("splits fractional GPUs: 0.5 puts two runs on one device, and sets CUDA_VISIBLE_DEVICES", () => {
    const dir = makeProject({ "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "0.5"\nresources:\n  gpus: 0.5\nlauncher:\n  jobs: 4\n  gpus_available: ["0", "1"]\n` });
    const r = corral(["run", "-m", "+i=range(4)"], { cwd: dir });
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const gpus = [0, 1, 2, 3].map((i) => readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json")).gpus);
    // four half-GPU runs at once on two devices: each device carries exactly two
    expect(gpus.flat().sort()).toEqual(["0", "0", "1", "1"]);
  });
});

describe("bad input: exit 2, one clear message, nothing started", () => {
  it("YAML syntax error names file and line", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nconfig:\n  lr: [0.1\n  seed: 1\n" });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/corral\.yaml:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(sweepDirs(dir)).toEqual([]);
  });

  it("unknown key names file, line, key and suggests the right one", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nlauncher:\n  type: local\n  jbos: 2\n" });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("corral.yaml:4");
    expect(r.stderr).toContain("launcher.jbos");
    expect(r.stderr).toContain("did you mean 'launcher.jobs'");
    expect(sweepDirs(dir)).toEqual([]);
  });

  it("override grammar errors point at the column; unknown keys need +", () => {
    const dir = makeProject({ "corral.yaml": yaml("echo") });
    const a = corral(["run", "-m", "lr=[0.1,0.2"], { cwd: dir });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/lr=\[0\.1,0\.2/);
    expect(a.stderr).toMatch(/column \d+/);
    const b = corral(["run", "lrr=0.1"], { cwd: dir });
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/lrr/);
    expect(b.stderr).toMatch(/\+lrr=0\.1|did you mean 'lr'/);
    const c = corral(["run", "lr=0.1,0.2"], { cwd: dir });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("-m");
    expect(sweepDirs(dir)).toEqual([]);
  });

  it("hostile override values reach the command as one literal argument, never a shell", () => {
    const dir = makeProject({ "corral.yaml": yaml(`sh ${TASKS}/ok.sh`) });
    const evil = "'$(touch pwned);`touch pwned2`;echo'";
    const r = corral(["run", `+name=${evil}`], { cwd: dir });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, "pwned"))).toBe(false);
    expect(existsSync(path.join(dir, "pwned2"))).toBe(false);
    const out = readFileSync(path.join(sweepDirs(dir)[0]!, "0", "stdout.log"), "utf8");
    expect(out).toContain("$(touch pwned);`touch pwned2`;echo");
  });
});

describe("nothing lost: interrupt, kill -9, resume", () => {
  const project = (): string =>
    makeProject({ "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "0.4"\nconfig:\n  i: 0\nlauncher:\n  jobs: 2\n  kill_grace: 2\n` });

  it("Ctrl+C stops runs gracefully (exit 130); resume completes the rest without rerunning finished runs", async () => {
    const dir = project();
    const count = path.join(dir, "count.txt");
    const p = corralAsync(["run", "-m", "i=range(8)"], { cwd: dir, env: { COUNT_FILE: count } });
    await waitFor(() => lines(count).length >= 2, 20_000, "two runs to finish");
    p.child.kill("SIGINT");
    const r = await p.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("stopping runs");
    const sweep = sweepDirs(dir)[0]!;
    const states = [...Array(8).keys()].map((i) => readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json")).state);
    expect(states).toContain("cancelled");
    const doneBefore = new Set(lines(count));
    const res = corral(["resume"], { cwd: dir, env: { COUNT_FILE: count } });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(new RegExp(`${doneBefore.size} already succeeded`));
    // every run succeeded exactly once
    const all = lines(count);
    expect(all.length).toBe(8);
    expect(new Set(all).size).toBe(8);
    const st = corral(["status", "--json"], { cwd: dir });
    expect((JSON.parse(st.stdout) as { counts: { succeeded: number } }).counts.succeeded).toBe(8);
  });

  it("kill -9 of corral loses nothing: the worker finishes; status shows the truth; resume adopts, never duplicates", async () => {
    const dir = project();
    const count = path.join(dir, "count.txt");
    const p = corralAsync(["run", "-m", "i=range(6)"], { cwd: dir, env: { COUNT_FILE: count } });
    await waitFor(() => lines(count).length >= 1, 20_000, "a run to finish");
    p.child.kill("SIGKILL");
    await p.done;
    const mid = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { counts: { lost: number; succeeded: number; running: number; pending: number } };
    expect(mid.counts.lost).toBe(0);
    expect(mid.counts.succeeded + mid.counts.running + mid.counts.pending).toBe(6);
    const res = corral(["resume"], { cwd: dir, env: { COUNT_FILE: count } });
    expect(res.code).toBe(0);
    const all = lines(count);
    expect(all.length).toBe(6);
    expect(new Set(all).size).toBe(6);
  });

  it("refuses a second corral on a sweep that is in use", async () => {
    // The runs wait on a gate, so the sweep is surely still in use when the second corral comes.
    const dir = makeProject({ "corral.yaml": `command: sh -c 'while [ -e "$GATE" ]; do sleep 0.1; done'\nconfig:\n  i: 0\nlauncher:\n  jobs: 2\n`, gate: "" });
    const gate = path.join(dir, "gate");
    const p = corralAsync(["run", "-m", "i=range(4)"], { cwd: dir, env: { GATE: gate } });
    await waitFor(() => sweepDirs(dir).length === 1 && existsSync(path.join(sweepDirs(dir)[0]!, ".lock")), 20_000, "the sweep lock");
    const r = corral(["resume"], { cwd: dir, env: { GATE: gate } });
    rmSync(gate);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/in use by another corral \(pid \d+/);
    expect((await p.done).code).toBe(0);
  });
});

describe("corral config / init", () => {
  it("shows the composed config of a run, one key with -p, settings with --cfg all", () => {
    const dir = makeProject({
      "corral.yaml": "command: echo\nconfig_dir: conf\ndefaults:\n  - model: small\n  - _self_\nconfig:\n  lr: 0.1\n  tag: run_${lr}\n",
      "conf/model/small.yaml": "hidden: 16\n",
      "conf/model/large.yaml": "hidden: 64\n",
    });
    const a = corral(["config", "model=large", "--json"], { cwd: dir });
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual({ model: { hidden: 64 }, lr: 0.1, tag: "run_0.1" });
    expect(corral(["config", "-p", "model.hidden"], { cwd: dir }).stdout.trim()).toBe("16");
    const all = corral(["config", "--cfg", "all", "-p", "launcher", "--json"], { cwd: dir });
    expect(JSON.parse(all.stdout)).toMatchObject({ type: "local" });
    const bad = corral(["config", "model=huge"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/huge/);
    expect(bad.stderr).toMatch(/large|small/);
  });

  it("init writes a project that runs", () => {
    const dir = makeProject({});
    expect(corral(["init"], { cwd: dir }).code).toBe(0);
    const r = corral(["run", "-m", "-P", "debug"], { cwd: dir });
    expect(r.stderr).toContain("4 succeeded");
    expect(r.code).toBe(0);
    expect(corral(["init"], { cwd: dir }).code).toBe(2);
  });
});

describe("SLURM settings without a cluster", () => {
  it("debug mode runs the very same packed batches through the worker locally, splitting explicit GPU ids", () => {
    const dir = makeProject({
      "corral.yaml": `command: sh ${TASKS}/sleep.sh\nenv:\n  SLEEP: "0.3"\nconfig:\n  i: 0\nlauncher:\n  type: slurm\n  debug: true\n  per_job: 4\n  parallel: 2\n  gpu_ids: ["0", "1", "2", "3"]\n  verbose: true\n`,
    });
    const r = corral(["run", "-m", "i=range(4)"], { cwd: dir });
    expect(r.stderr).toContain("4 succeeded");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const slurmDir = path.join(sweep, ".slurm");
    expect(existsSync(path.join(slurmDir, "batch-0-0.json"))).toBe(true);
    const log = readFileSync(path.join(slurmDir, "debug-0-0.log"), "utf8");
    expect(log).toMatch(/run 0: start .* gpus \[0,1\]/);
    expect(log).toMatch(/run 1: start .* gpus \[2,3\]/);
    const gpus = [0, 1, 2, 3].map((i) => readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json")).gpus);
    expect(gpus.every((g) => g?.length === 2)).toBe(true);
  });

  it("a run asking for more GPUs than a SLURM job gets is bad input: exit 2, nothing created", () => {
    const dir = makeProject({ "corral.yaml": `command: echo\nresources:\n  gpus: 2\nlauncher:\n  type: slurm\n  gpus: 1\n` });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/asks for 2 GPU\(s\) \(resources\.gpus\) but each SLURM job gets 1/);
    expect(sweepDirs(dir)).toEqual([]);
  });
});
