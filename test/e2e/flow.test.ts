/**
 * `corral flow` through the real CLI: the example pipeline on the local launcher, up-to-date
 * reruns, failures, incomplete outputs, dry runs and DAG pictures, input errors.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { FlowFile, FlowJobSpec } from "../../src/engine/flow.js";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, corralAsync, makeProject, readJson, ROOT, sweepDirs, waitFor } from "../helpers.js";

const EXAMPLE = path.join(ROOT, "examples/pipeline");
/** A corner of the example's grid: 2 datasets x 1 model x 1 seed x 1 lr = 9 jobs. */
const SMALL = ["model=mlp", "dataset=moons,blobs", "seed=0", "lr=0.1"];

const which = (c: string): string | undefined => {
  const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
const chRun = which("ch-run");
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));

/** A Charliecloud image folder: static busybox and an os-release only the image has (as in container.test.ts). */
function buildImage(root: string): string {
  const img = path.join(root, "bb-image");
  for (const d of ["bin", "dev", "proc", "sys", "tmp", "home", "etc", "root", "mnt", "usr/bin"]) mkdirSync(path.join(img, d), { recursive: true });
  copyFileSync(busybox!, path.join(img, "bin/busybox"));
  for (const c of ["sh", "grep", "echo"]) symlinkSync("busybox", path.join(img, "bin", c));
  writeFileSync(path.join(img, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(img, "etc/group"), "root:x:0:\n");
  writeFileSync(path.join(img, "etc/os-release"), "ID=corral-test-image\n");
  return img;
}

function copyExample(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-flow-"));
  cpSync(path.join(EXAMPLE, "corral.yaml"), path.join(dir, "corral.yaml"));
  cpSync(path.join(EXAMPLE, "scripts"), path.join(dir, "scripts"), { recursive: true });
  return dir;
}

const manifestOf = (sweep: string): SweepManifest => readJson<SweepManifest>(path.join(sweep, "sweep.json"));
const rulesRun = (m: SweepManifest): string[] => m.runs.map((r) => r.rule!).sort();
/** Touch a file: its mtime becomes now, newer than every output built before. */
const touch = (file: string): void => {
  const t = new Date();
  utimesSync(file, t, t);
};

describe("corral flow: the example pipeline on the local launcher", () => {
  it("builds, then does nothing, then rebuilds only what a touched input or changed params need", () => {
    const dir = copyExample();
    const r = corral(["flow", ...SMALL, "-j", "2"], { cwd: dir });
    expect(r.stderr).toContain("9 succeeded");
    expect(r.code).toBe(0);
    for (const ds of ["moons", "blobs"]) {
      expect(readFileSync(path.join(dir, `plots/mlp_${ds}_s0_lr0.1.svg`), "utf8")).toContain("<svg");
      const met = readJson<{ accuracy: number }>(path.join(dir, `runs/mlp/${ds}/s0_lr0.1/metrics.json`));
      expect(met.accuracy).toBeGreaterThan(0.4);
    }
    const [sweep] = sweepDirs(dir);
    const m = manifestOf(sweep!);
    expect(m.kind).toBe("flow");
    expect(rulesRun(m)).toEqual(["get_data", "get_data", "init_model", "plot", "plot", "test", "test", "train", "train"]);
    // Each job is a run: train depends on get_data and init_model (edges upstream -> downstream).
    const idx = (job: string): number => m.runs.find((x) => x.job === job)!.index;
    expect(m.edges).toContainEqual([idx("get_data[dataset=moons]"), idx("train[model=mlp,dataset=moons,seed=0,lr=0.1]")]);
    expect(m.edges).toContainEqual([idx("init_model[model=mlp,seed=0]"), idx("train[model=mlp,dataset=moons,seed=0,lr=0.1]")]);
    // The train script's metrics.jsonl lands in its run folder.
    expect(readFileSync(path.join(sweep!, String(idx("train[model=mlp,dataset=moons,seed=0,lr=0.1]")), "metrics.jsonl"), "utf8")).toContain('"loss"');
    // status reads flow sweeps like any other.
    const st = corral(["status", "--json"], { cwd: dir });
    expect((JSON.parse(st.stdout) as { kind: string; counts: { succeeded: number } }).counts.succeeded).toBe(9);

    const again = corral(["flow", ...SMALL], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("nothing to do (9 jobs up to date)");
    expect(sweepDirs(dir)).toHaveLength(1);

    // A touch without change reruns nothing (the build records keep a checksum); an edit does.
    touch(path.join(dir, "data/moons.csv"));
    expect(corral(["flow", ...SMALL, "-n"], { cwd: dir }).stdout).toMatch(/total\s+9\s+0/);
    appendFileSync(path.join(dir, "data/moons.csv"), "\n"); // csv readers skip a blank line
    touch(path.join(dir, "data/moons.csv"));
    const dry = corral(["flow", ...SMALL, "-n"], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("train[model=mlp,dataset=moons,seed=0,lr=0.1]  output older than input");
    expect(dry.stdout).toMatch(/total\s+9\s+3/);
    const touched = corral(["flow", ...SMALL], { cwd: dir });
    expect(touched.code).toBe(0);
    const m2 = manifestOf(sweepDirs(dir)[1]!);
    expect(m2.runs.map((x) => x.job).sort()).toEqual([
      "plot[model=mlp,dataset=moons,seed=0,lr=0.1]",
      "test[model=mlp,dataset=moons,seed=0,lr=0.1]",
      "train[model=mlp,dataset=moons,seed=0,lr=0.1]",
    ]);

    const yaml = path.join(dir, "corral.yaml");
    writeFileSync(yaml, readFileSync(yaml, "utf8").replace("params: { epochs: 5 }", "params: { epochs: 3 }"));
    const changed = corral(["flow", ...SMALL, "-n"], { cwd: dir });
    expect(changed.stdout).toMatch(/train\s+2\s+2\s+command changed: 2/);
    expect(corral(["flow", ...SMALL], { cwd: dir }).code).toBe(0);
    expect(rulesRun(manifestOf(sweepDirs(dir)[2]!))).toEqual(["plot", "plot", "test", "test", "train", "train"]);
    expect(readJson<{ curve: number[] }>(path.join(dir, "runs/mlp/blobs/s0_lr0.1/model.json")).curve).toHaveLength(3);
  });

  it("prints the plan (-n) and the DAG (--dag) without starting or writing anything", () => {
    const dir = copyExample();
    const n = corral(["flow", "-n"], { cwd: dir });
    expect(n.code).toBe(0);
    expect(n.stdout).toMatch(/train\s+24\s+24\s+missing output: 24/);
    expect(n.stdout).toMatch(/total\s+80\s+80/);
    const json = JSON.parse(corral(["flow", ...SMALL, "--dag", "json"], { cwd: dir }).stdout) as { nodes: Array<{ key: string; run: boolean }>; edges: number[][] };
    expect(json.nodes).toHaveLength(9);
    expect(json.edges).toHaveLength(12); // train, test and plot each need two jobs
    const mer = corral(["flow", ...SMALL, "--dag", "mermaid"], { cwd: dir });
    expect(mer.stdout.split("\n")[0]).toBe("flowchart TD");
    const dot = corral(["flow", ...SMALL, "--dag", "dot"], { cwd: dir });
    expect(dot.stdout).toContain("digraph corral {");
    const hasDot = spawnSync("dot", ["-V"]).error === undefined;
    const svg = corral(["flow", ...SMALL, "--dag", "svg"], { cwd: dir });
    if (hasDot) expect(svg.stdout).toContain("<svg");
    else expect(svg.stderr).toContain("needs Graphviz");
    expect(readdirSync(dir).sort()).toEqual(["corral.yaml", "scripts"]);
  });
});

const rules = (body: string): string => `rules:\n${body}`;

describe("corral flow: failures and incomplete outputs", () => {
  it("stops dependents of a failed job, keeps going with -k, reports a missing output, retries", () => {
    const dir = makeProject({
      "corral.yaml": rules(`  a:
    output: out/a_{x}.txt
    shell: "if [ {wildcards.x} = bad ]; then echo boom >&2; exit 3; fi; echo {wildcards.x} > {output}"
  b:
    input: out/a_{x}.txt
    output: out/b_{x}.txt
    shell: cat {input} > {output}
  lazy:
    output: out/lazy.txt
    shell: "true"
  flaky:
    output: out/flaky.txt
    retries: 2
    shell: "n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 1 ] && echo ok > {output}"
targets:
  - expand: out/b_{x}.txt
    x: [bad, good]
`),
    });
    const r = corral(["flow", "-j", "1"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("a[x=bad]: failed: exited with code 3");
    expect(r.stderr).toContain("boom");
    const m = manifestOf(sweepDirs(dir)[0]!);
    const state = (job: string): string => readJson<RunStatusRecord>(path.join(m.dir, m.runs.find((x) => x.job === job)!.dir, "status.json")).state;
    expect(state("b[x=bad]")).toBe("cancelled");

    const k = corral(["flow", "-k"], { cwd: dir });
    expect(k.code).toBe(1);
    expect(readFileSync(path.join(dir, "out/b_good.txt"), "utf8")).toBe("good\n");

    const lazy = corral(["flow", "out/lazy.txt"], { cwd: dir });
    expect(lazy.code).toBe(1);
    expect(lazy.stderr).toContain("finished but did not make its output 'out/lazy.txt'");

    const flaky = corral(["flow", "out/flaky.txt"], { cwd: dir });
    expect(flaky.code).toBe(0);
    expect(flaky.stderr).toContain("retrying (attempt 2 of 3)");
    expect(readFileSync(path.join(dir, "count"), "utf8").trim()).toBe("2");
  });

  it("leaves an incomplete mark when the head dies with its job; --rerun-incomplete rebuilds it", async () => {
    const dir = makeProject({
      "corral.yaml": rules(`  slow:
    output: out/slow.txt
    shell: "echo partial > {output}; if [ -e hang ]; then sleep 60; fi; echo done >> {output}"
`),
      hang: "",
    });
    const run = corralAsync(["flow", "out/slow.txt"], { cwd: dir });
    await waitFor(() => existsSync(path.join(dir, "out/slow.txt")), 20_000, "the partial output");
    run.child.kill("SIGKILL");
    await run.done;
    // The head is gone; stop its worker (and the job) the way a crashed machine would.
    await waitFor(() => manifestOf(sweepDirs(dir)[0]!).jobs.length === 2, 10_000, "the worker in the manifest");
    const m = manifestOf(sweepDirs(dir)[0]!);
    for (const j of m.jobs) if (j.pid !== undefined && !j.jobId.startsWith("head-")) process.kill(j.pid, "SIGUSR2");
    const status0 = path.join(m.dir, "0", "status.json");
    await waitFor(() => existsSync(status0) && readJson<RunStatusRecord>(status0).state !== "running", 10_000, "the job to stop");

    const r = corral(["flow", "out/slow.txt"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Incomplete files (a job writing them died): 'out/slow.txt'");
    expect(r.stderr).toContain("--rerun-incomplete");
    expect(sweepDirs(dir)).toHaveLength(1);

    spawnSync("rm", [path.join(dir, "hang")]);
    const again = corral(["flow", "out/slow.txt", "--rerun-incomplete"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(readFileSync(path.join(dir, "out/slow.txt"), "utf8")).toBe("partial\ndone\n");
    expect(corral(["flow", "out/slow.txt"], { cwd: dir }).stderr).toContain("nothing to do");
  });

  it("detaches: the head finishes the flow after the command returns; resume reruns only what failed", async () => {
    const dir = makeProject({
      "corral.yaml": rules(`  a:
    output: out/{x}.txt
    wildcard_constraints: { x: '\\d+' }
    shell: "[ ! -e fail_{wildcards.x} ] && echo {wildcards.x} > {output}"
  all:
    input: [out/1.txt, out/2.txt]
    output: out/all.txt
    shell: cat {input} > {output}
targets: [out/all.txt]
`),
      fail_2: "",
    });
    const r = corral(["flow", "--detach", "-k"], { cwd: dir });
    expect(r.code).toBe(0);
    const sweep = r.stdout.trim();
    await waitFor(() => corral(["status", "--json"], { cwd: dir }).stdout.includes('"cancelled": 1'), 20_000, "the detached head to finish");
    expect(readFileSync(path.join(dir, "out/1.txt"), "utf8")).toBe("1\n");
    spawnSync("rm", [path.join(dir, "fail_2")]);
    const res = corral(["resume", "--retry-failed", sweep], { cwd: dir });
    expect(res.stderr).toContain("3 succeeded");
    expect(res.code).toBe(0);
    expect(readFileSync(path.join(dir, "out/all.txt"), "utf8")).toBe("1\n2\n");
    const st = readJson<RunStatusRecord>(path.join(sweep, manifestOf(sweep).runs.find((x) => x.job === "a[x=1]")!.dir, "status.json"));
    expect(st.history.filter((h) => h.state === "running")).toHaveLength(1); // never run twice
  });
});

describe("corral flow: bad input exits 2 with one message and starts nothing", () => {
  const cases: Array<[string, string, string[], RegExp]> = [
    ["missing input", "  a:\n    input: nothere.txt\n    output: a.txt\n    shell: cp {input} {output}\n", ["a.txt"], /Missing input: no rule makes 'nothere.txt'/],
    ["cycle", "  ping:\n    input: p/{x}.pong\n    output: p/{x}.ping\n    shell: touch {output}\n  pong:\n    input: p/{x}.ping\n    output: p/{x}.pong\n    shell: touch {output}\n", ["p/a.ping"], /Cycle in the workflow: ping\[x=a\] -> pong\[x=a\] -> ping\[x=a\]/],
    ["ambiguous rules", "  one:\n    output: r/{x}.txt\n    shell: touch {output}\n  two:\n    output: r/{y}.txt\n    shell: touch {output}\n", ["r/a.txt"], /Ambiguous rules for 'r\/a.txt'.*rule 'one'.*rule 'two'/],
    ["unknown override", "  a:\n    output: o/{m}.txt\n    shell: touch {output}\ntargets:\n  - expand: o/{m}.txt\n    m: [x]\n", ["mm=a,b"], /override 'mm=\.\.\.' names no wildcard of an expand target/],
    ["unknown --until rule", "  a:\n    output: a.txt\n    shell: touch {output}\n", ["a.txt", "--until", "nope"], /--until: no rule named 'nope'/],
  ];
  for (const [what, body, args, re] of cases) {
    it(what, () => {
      const dir = makeProject({ "corral.yaml": rules(body) });
      const r = corral(["flow", ...args], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("corral: error")).length).toBe(1);
      expect(existsSync(path.join(dir, "multirun"))).toBe(false);
    });
  }
});

describe("corral flow on SLURM", () => {
  const slurmLauncher = existsSync(path.join(ROOT, "src/launchers/slurm/slurm-launcher.ts"));
  const sinfo = spawnSync("sinfo", ["-h", "-o", "%P"], { encoding: "utf8", timeout: 5000 });
  const ready = slurmLauncher && sinfo.status === 0 && sinfo.stdout.trim() !== "";
  it.skipIf(!ready)(`runs a small pipeline with --launcher slurm${ready ? "" : " (skipped: no SLURM launcher in src/launchers/slurm or no answering sinfo)"}`, () => {
    const dir = copyExample();
    const r = corral(["flow", "model=linear", "dataset=blobs", "seed=1", "lr=0.1", "--launcher", "slurm"], { cwd: dir, timeoutMs: 180_000 });
    expect(r.stderr).toContain("5 succeeded");
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, "plots/linear_blobs_s1_lr0.1.svg"))).toBe(true);
    expect(corral(["flow", "model=linear", "dataset=blobs", "seed=1", "lr=0.1", "--launcher", "slurm"], { cwd: dir }).stderr).toContain("nothing to do");
  });

  it.skipIf(!ready)(`packs jobs that are ready together into one sbatch array with per_job/parallel (inside ch-run when installed)${ready ? "" : " (skipped: no answering sinfo)"}`, () => {
    // With ch-run at hand the jobs also run inside a container in the SLURM batch.
    const boxed = chRun !== undefined && busybox !== undefined;
    const dir = makeProject({
      "corral.yaml": `launcher: {type: slurm, per_job: 2, parallel: 2}
${boxed ? "container: {runtime: charliecloud, image: ./bb-image}\n" : ""}rules:
  a:
    output: out/{n}.txt
    resources: {cpus: 1, timeout: 60}
    shell: echo $SLURM_ARRAY_TASK_ID > {output}${boxed ? "; grep ^ID= /etc/os-release >> {output}" : ""}
targets:
  - expand: out/{n}.txt
    n: [1, 2, 3, 4, 5, 6]
`,
    });
    if (boxed) buildImage(dir);
    const r = corral(["flow"], { cwd: dir, timeoutMs: 120_000, env: { USER: process.env.USER ?? os.userInfo().username } });
    expect(r.stderr).toContain("6 succeeded");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const jobs = manifestOf(sweep).jobs.filter((j) => !j.jobId.startsWith("head-"));
    // One sbatch: a 3-element array, two jobs per element, both at once.
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.batches.map((b) => b.runs.length)).toEqual([2, 2, 2]);
    expect(readdirSync(path.join(sweep, ".slurm")).filter((f) => f.endsWith(".sbatch"))).toEqual(["chunk-0.sbatch"]);
    const script = readFileSync(path.join(sweep, ".slurm/chunk-0.sbatch"), "utf8");
    expect(script).toContain("#SBATCH --array=0-2");
    // Per element: 2 jobs x 1 CPU; one wave of the 60 s timeout + signal grace (120 s) + 60 s margin.
    expect(script).toContain("#SBATCH --cpus-per-task=2");
    expect(script).toContain("#SBATCH --time=00:04:00");
    const outs = [1, 2, 3, 4, 5, 6].map((n) => readFileSync(path.join(dir, `out/${n}.txt`), "utf8").split("\n"));
    expect(outs.map((o) => o[0]).sort()).toEqual(["0", "0", "1", "1", "2", "2"]);
    if (!boxed) return;
    for (const o of outs) expect(o[1]).toBe("ID=corral-test-image");
    const batch = readJson<{ runs: Array<{ wrap?: string[] }> }>(path.join(sweep, ".slurm/batch-0-0.json"));
    expect(batch.runs.map((x) => x.wrap?.[0])).toEqual(["ch-run", "ch-run"]);
  });
});

describe("corral flow: profiles, rule resources and containers", () => {
  it("applies profiles as corral run does (-P only those, else the automatic choice) with default_resources and set_resources", () => {
    const dir = makeProject({
      "corral.yaml": `resources: {cpus: 1, mem: 20M}
default_resources: {mem: 50M}
profiles:
  auto:
    when: {env: [FLOW_TEST_AUTO]}
    env: {WHO: auto}
  x:
    env: {WHO: x}
    default_resources: {timeout: 30}
    set_resources: {b: {cpus: 2}}
rules:
  a:
    output: out/a.txt
    shell: echo $WHO > {output}
  b:
    input: out/a.txt
    output: out/b.txt
    resources: {cpus: 1, mem: 10M}
    shell: "echo {resources.cpus} > {output}"
targets: [out/b.txt]
`,
    });
    const env = { FLOW_TEST_AUTO: "1" };
    const specs = (sweep: string): Record<string, FlowJobSpec> =>
      Object.fromEntries(readJson<FlowFile>(path.join(sweep, "flow.json")).jobs.map((j) => [j.rule, j]));
    const auto = corral(["flow", "-j", "2"], { cwd: dir, env });
    expect(auto.code).toBe(0);
    expect(readFileSync(path.join(dir, "out/a.txt"), "utf8")).toBe("auto\n");
    const s1 = sweepDirs(dir)[0]!;
    expect(manifestOf(s1).profile).toBe("auto");
    // default_resources beat the project's resources; the rule's own beat both.
    expect(specs(s1).a).toMatchObject({ cpus: 1, memMB: 50 });
    expect(specs(s1).b).toMatchObject({ cpus: 1, memMB: 10 });
    expect(specs(s1).a!.timeoutS).toBeUndefined();

    // -P x on a host where `auto` matches: only x (its env, its resources).
    const x = corral(["flow", "-P", "x", "--forcerun", "a", "-j", "2"], { cwd: dir, env });
    expect(x.code).toBe(0);
    const s2 = sweepDirs(dir)[1]!;
    expect(manifestOf(s2).profile).toBe("x");
    expect(readFileSync(path.join(dir, "out/a.txt"), "utf8")).toBe("x\n");
    // set_resources overrides the rule's own cpus (and reaches {resources.cpus}); default_resources fills timeout.
    expect(specs(s2).b).toMatchObject({ cpus: 2, memMB: 10, timeoutS: 30 });
    expect(readFileSync(path.join(dir, "out/b.txt"), "utf8")).toBe("2\n");

    writeFileSync(path.join(dir, "corral.yaml"), readFileSync(path.join(dir, "corral.yaml"), "utf8").replace("set_resources: {b:", "set_resources: {bb:"));
    const typo = corral(["flow", "-P", "x", "-n"], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("profile 'x' sets resources of rule 'bb', which the project does not have (did you mean 'b'?)");
  });

  it(`wraps each job in its container (rule's over project's), stored in flow.json and the batch${chRun && busybox ? "" : " (ch-run part skipped: ch-run or busybox missing)"}`, () => {
    const dir = makeProject({});
    const real = chRun !== undefined && busybox !== undefined;
    if (real) buildImage(dir);
    writeFileSync(
      path.join(dir, "corral.yaml"),
      `container: {runtime: docker, wrap: "env WRAPPED=yes {command}"}
rules:
  host:
    output: out/host.txt
    shell: echo "wrapped=$WRAPPED" > {output}
${real ? `  boxed:
    output: out/boxed.txt
    container: {runtime: charliecloud, image: ./bb-image}
    shell: "grep '^ID=' /etc/os-release > {output}; echo ch=$CH_RUNNING wrapped=$WRAPPED >> {output}"
` : ""}targets: [out/host.txt${real ? ", out/boxed.txt" : ""}]
`,
    );
    const r = corral(["flow", "-j", "2"], { cwd: dir, env: { USER: process.env.USER ?? os.userInfo().username } });
    expect(r.stderr).toContain(`${real ? 2 : 1} succeeded`);
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(dir, "out/host.txt"), "utf8")).toBe("wrapped=yes\n");
    const sweep = sweepDirs(dir)[0]!;
    const jobs = readJson<FlowFile>(path.join(sweep, "flow.json")).jobs;
    const host = jobs.find((j) => j.rule === "host")!;
    expect(host.wrap).toEqual(["sh", "-c", `env WRAPPED=yes /bin/sh -c 'echo "wrapped=$WRAPPED" > out/host.txt'`, "sh"]);
    // The worker got the wrap with the run (so resume, which reads flow.json, wraps the same way).
    const batches = readdirSync(path.join(sweep, ".corral")).filter((f) => /^batch-.*\.json$/.test(f));
    const runs = batches.flatMap((f) => readJson<{ runs: Array<{ index: number; wrap?: string[] }> }>(path.join(sweep, ".corral", f)).runs);
    expect(runs.find((x) => x.index === host.index)!.wrap).toEqual(host.wrap);
    if (!real) return;
    const boxed = jobs.find((j) => j.rule === "boxed")!;
    // The run folder lies inside the project folder, so binding the project covers it.
    expect(boxed.wrap).toEqual(["ch-run", "-b", `${dir}:${dir}`, "-c", dir, "./bb-image", "--"]);
    // The image's own os-release, CH_RUNNING set by ch-run, and no project wrap around the rule's container.
    expect(readFileSync(path.join(dir, "out/boxed.txt"), "utf8")).toMatch(/^ID=corral-test-image\nch=.+ wrapped=\n$/);
  });
});

describe("corral flow: one head per project", () => {
  it("refuses a second flow while a head builds, and takes over the lock of a dead head", async () => {
    const dir = makeProject({
      "corral.yaml": rules(`  slow:
    output: out/slow.txt
    shell: "while [ -e hold ]; do sleep 0.1; done; echo done > {output}"
  quick:
    output: out/quick.txt
    shell: echo quick > {output}
`),
      hold: "",
    });
    const first = corralAsync(["flow", "out/slow.txt"], { cwd: dir });
    await waitFor(() => existsSync(path.join(dir, ".corral/flow/.lock")) && sweepDirs(dir).length === 1, 20_000, "the first head");
    const second = corral(["flow", "out/quick.txt"], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another corral flow is building in .* \(pid \d+ on .*: corral flow head of multirun\//);
    expect(sweepDirs(dir)).toHaveLength(1);
    expect(existsSync(path.join(dir, "out/quick.txt"))).toBe(false);
    rmSync(path.join(dir, "hold"));
    expect((await first.done).code).toBe(0);
    expect(existsSync(path.join(dir, ".corral/flow/.lock"))).toBe(false);

    // A lock left by a head that died (its pid is gone) is stale: the next flow takes it over.
    const dead = spawnSync("true").pid!;
    writeFileSync(path.join(dir, ".corral/flow/.lock"), JSON.stringify({ pid: dead, host: os.hostname(), since: 0, what: "corral flow head of x" }));
    const after = corral(["flow", "out/quick.txt"], { cwd: dir });
    expect(after.code).toBe(0);
    expect(readFileSync(path.join(dir, "out/quick.txt"), "utf8")).toBe("quick\n");
  });

  it("--detach returns once its head drives the flow: status --watch right after follows it, a second flow is refused", async () => {
    const dir = makeProject({
      "corral.yaml": rules(`  slow:
    output: out/slow.txt
    shell: "while [ -e hold ]; do sleep 0.1; done; echo done > {output}"
  quick:
    output: out/quick.txt
    shell: echo quick > {output}
`),
      hold: "",
    });
    const r = corral(["flow", "--detach", "out/slow.txt"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const sweep = r.stdout.trim();
    // The head is in the manifest and holds the lock as soon as the command returns.
    const head = /head pid (\d+)/.exec(r.stderr)![1];
    expect(manifestOf(sweep).jobs.map((j) => j.jobId)).toContain(`head-${head}`);
    const watch = corralAsync(["status", "--watch", sweep], { cwd: dir });
    const second = corral(["flow", "out/quick.txt"], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain("another corral flow is building");
    rmSync(path.join(dir, "hold"));
    const w = await watch.done;
    expect(w.stdout + w.stderr).not.toContain("nothing is running any more");
    expect(w.code, w.stdout + w.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "out/slow.txt"), "utf8")).toBe("done\n");
  });
});
