/** Profiles, paths, `corral env` and `corral doctor` through the real CLI. */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, sweepDirs } from "../helpers.js";

const PROJECT = `command: sh -c 'echo "data=$1 args=$*" > "$CORRAL_RUN_DIR/out.txt"' sh \${paths.data}
config:
  epochs: 10
  batch_size: 32
  data_file: \${paths.data}/train.csv
paths:
  data: ./data
profiles:
  site:
    when: {env: ["CORRAL_E2E_SITE=hpc"]}
    paths: {data: "/scratch/\${oc.env:CORRAL_E2E_USER}/data"}
    overrides: [batch_size=256]
  debug:
    overrides: [epochs=1]
`;

type DryRun = Array<{ overrides: string[]; config: Record<string, unknown> }>;

describe("profiles and paths", () => {
  it("applies -P and +profile= profiles' overrides in order and relocates paths in configs and commands", () => {
    const dir = makeProject({ "corral.yaml": PROJECT });
    const env = { CORRAL_E2E_USER: "ann" };
    const plain = JSON.parse(corral(["run", "--dry-run", "--json"], { cwd: dir, env }).stdout) as DryRun;
    expect(plain[0]!.config).toEqual({ epochs: 10, batch_size: 32, data_file: `${dir}/data/train.csv`, paths: { data: `${dir}/data` } });
    const r = corral(["run", "-P", "site", "+profile=debug", "--dry-run", "--json"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const both = JSON.parse(r.stdout) as DryRun;
    expect(both[0]!.config).toMatchObject({ epochs: 1, batch_size: 256, data_file: "/scratch/ann/data/train.csv" });
    // Profile overrides are handed to the command like command-line ones.
    expect(both[0]!.overrides).toEqual(["batch_size=256", "epochs=1"]);
  });

  it("detects a profile from the environment, records it in the sweep and passes relocated paths to the command", () => {
    const dir = makeProject({ "corral.yaml": PROJECT });
    const env = { CORRAL_E2E_SITE: "hpc", CORRAL_E2E_USER: "bob" };
    const r = corral(["run"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const [sweep] = sweepDirs(dir);
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.profile).toBe("site");
    expect(readFileSync(path.join(sweep!, "0", "out.txt"), "utf8").trim()).toBe("data=/scratch/bob/data args=/scratch/bob/data batch_size=256");
    const e = JSON.parse(corral(["env", "--json"], { cwd: dir, env }).stdout) as { profiles: unknown; paths: unknown; launcher: { type: string } };
    expect(e.profiles).toEqual([{ name: "site", reason: "CORRAL_E2E_SITE=hpc" }]);
    expect(e.paths).toEqual({ data: "/scratch/bob/data" });
    expect(e.launcher.type).toBe("local");
    const text = corral(["env"], { cwd: dir, env: { CORRAL_E2E_USER: "x" } }).stdout;
    expect(text).toMatch(/profile\s+none \(available: site, debug; none detected, choose with -P\)/);
    expect(text).toContain(`data: ${dir}/data`);
  });

  it("rejects an unknown profile with exit 2, a did-you-mean and the available ones; nothing starts", () => {
    const dir = makeProject({ "corral.yaml": PROJECT });
    const r = corral(["run", "-P", "debgu"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown profile 'debgu' (did you mean 'debug'?)");
    expect(r.stderr).toContain("available profiles: site, debug");
    expect(sweepDirs(dir)).toEqual([]);
  });

  it("loads profiles/<name>.yaml beside the project file", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nconfig: {lr: 1}\n", "profiles/fast.yaml": "overrides: [lr=2]\n" });
    const r = JSON.parse(corral(["run", "-P", "fast", "--dry-run", "--json"], { cwd: dir }).stdout) as DryRun;
    expect(r[0]!.config).toEqual({ lr: 2 });
  });
});

describe("config group presets", () => {
  it("+setup=hpc_gpu applies the option's corral: launcher settings; corral config --cfg all shows them", () => {
    const dir = makeProject({
      "corral.yaml": "command: echo\nconfig_dir: conf\nconfig: {lr: 1}\n",
      "conf/setup/hpc_gpu.yaml": "batch: 64\ncorral:\n  launcher: {type: slurm, partition: gpu}\n",
    });
    const all = JSON.parse(corral(["config", "--cfg", "all", "-p", "launcher", "+setup=hpc_gpu", "--json"], { cwd: dir }).stdout) as { type: string; partition: string };
    expect(all).toMatchObject({ type: "slurm", partition: "gpu" });
    expect(JSON.parse(corral(["config", "+setup=hpc_gpu", "--json"], { cwd: dir }).stdout)).toEqual({ lr: 1, setup: { batch: 64 } });
    expect(corral(["run", "+setup=hpc_gpu", "--dry-run"], { cwd: dir }).stdout).toContain("(launcher slurm, 1 at once)");
  });
});

describe("corral doctor", () => {
  it("passes for a local project whose command is on PATH", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c true\n" });
    const r = corral(["doctor"], { cwd: dir });
    expect(r.stdout).toContain("✓ launcher local");
    expect(r.stdout).toContain("✓ the command 'sh' is on PATH");
    expect(r.stdout).toContain("all good");
    expect(r.code).toBe(0);
  });

  it("lists what is missing with a hint each and exits 1", () => {
    const dir = makeProject({ "corral.yaml": "command: python9 train.py\nprofiles:\n  ch:\n    container: {runtime: charliecloud, image: ./img}\n" });
    const r = corral(["doctor"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ python 'python9' is not on PATH\n\s+hint: activate the environment/);
    const c = corral(["doctor", "-P", "ch"], { cwd: dir, env: { USER: "someone" } });
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/✗ image '\.\/img' is missing .*\n\s+hint: build or unpack it/);
    // With the image folder present, ch-run still needs the project's mount point inside it.
    mkdirSync(path.join(dir, "img", "tmp"), { recursive: true });
    const m = corral(["doctor", "-P", "ch"], { cwd: dir, env: { USER: "someone" } });
    expect(m.stdout).toContain("✓ image exists");
    if (!dir.startsWith("/tmp/")) expect(m.stdout).toContain("✗ mount point(s) missing in the image");
    else expect(m.stdout).toContain("✓ bind mount points exist in the image");
  });

  it("reports an invalid project file as a failed check", () => {
    const dir = makeProject({ "corral.yaml": "command: echo\nlauncher:\n  partiton: gpu\n" });
    const r = corral(["doctor"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ the project file is invalid  ${dir}/corral.yaml:3:3: unknown key 'launcher.partiton' (did you mean 'launcher.partition'?)`);
  });

  const sinfo = spawnSync("sinfo", ["-h", "-o", "%P"], { encoding: "utf8", timeout: 10_000 });
  const cluster = sinfo.status === 0 && sinfo.stdout.trim() !== "";
  if (!cluster) console.log("doctor SLURM checks skipped: no answering SLURM cluster (scripts/slurm-cluster.sh start)");

  it.skipIf(!cluster)("checks SLURM: commands answer, the partition exists, the GPUs per job fit", () => {
    const part = sinfo.stdout.trim().split("\n")[0]!.replace(/\*$/, "");
    const dir = makeProject({ "corral.yaml": `command: sh -c true\nlauncher: {type: slurm, partition: ${part}}\nprofiles:\n  wrong: {launcher: {partition: nosuchpart}}\n  huge: {launcher: {gpus: 999}}\n` });
    const ok = corral(["doctor"], { cwd: dir });
    expect(ok.stdout).toContain("✓ sbatch answers");
    expect(ok.stdout).toContain("✓ sinfo answers");
    expect(ok.stdout).toContain(`✓ partition '${part}' exists`);
    expect(ok.code, ok.stdout).toBe(0);
    const wrong = corral(["doctor", "-P", "wrong"], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("✗ partition 'nosuchpart' does not exist  partitions:");
    const huge = corral(["doctor", "-P", "huge"], { cwd: dir });
    expect(huge.code).toBe(1);
    expect(huge.stdout).toContain("✗ 999 GPU(s) per job do not fit on any node of the partition");
  });
});
