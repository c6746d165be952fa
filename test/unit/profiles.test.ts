import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { openProject } from "../../src/project/open.js";
import { CorralError } from "../../src/errors.js";
import { loadProjectText } from "../../src/project/load.js";
import { applyPaths, applyProfiles, matchWhen, resolvePaths, substitutePaths, type HostFacts } from "../../src/project/profiles.js";

const project = (yaml: string) => loadProjectText(yaml, "/p/corral.yaml").config;
const facts = (over: Partial<HostFacts> = {}): HostFacts => ({ hostname: "laptop", env: {}, onPath: () => false, ...over });

const YAML = `
command: python train.py
launcher:
  setup: [source venv/bin/activate]
  env: {A: "1"}
resources: {cpus: 2, gpus: 0}
env: {X: "1"}
paths: {data: ./data, models: ./models}
container: {runtime: apptainer, image: base.sif, binds: [/a]}
profiles:
  cluster:
    when: {hostname: ["login*", "*.hpc.example.org"]}
    launcher: {type: slurm, partition: cpu, sbatch_args: [--exclusive], env: {B: "2"}}
    setup: [module load cuda]
    paths: {data: "/scratch/\${oc.env:USER}/data"}
    overrides: [trainer.progress=false]
  gpu:
    launcher: {partition: gpu, gpus: 4}
    resources: {gpus: 1}
    container: {gpu: true, binds: [/b], env: {C: "3"}}
    overrides: [batch_size=256]
  slurmenv:
    when: {env: [SLURM_CLUSTER_NAME], command: sbatch}
    launcher: {type: slurm}
  debug:
    overrides: [epochs=1]
`;

describe("applyProfiles", () => {
  it("composes explicit profiles in order: later wins, maps merge, setup and lists append, overrides concatenate", () => {
    const cfg = project(YAML);
    const r = applyProfiles(cfg, ["cluster", "gpu"], facts());
    expect(r.applied).toEqual(["cluster", "gpu"]);
    expect(r.reasons).toEqual(["cluster: chosen with -P", "gpu: chosen with -P"]);
    expect(r.overrides).toEqual(["trainer.progress=false", "batch_size=256"]);
    const l = r.config.launcher;
    expect(l).toMatchObject({ type: "slurm", partition: "gpu", gpus: 4, sbatch_args: ["--exclusive"], env: { A: "1", B: "2" }, kill_grace: 10 });
    expect(l.setup).toEqual(["source venv/bin/activate", "module load cuda"]);
    expect(r.config.resources).toEqual({ cpus: 2, gpus: 1 });
    expect(r.config.paths).toEqual({ data: "/scratch/${oc.env:USER}/data", models: "./models" });
    expect(r.config.container).toEqual({ runtime: "apptainer", image: "base.sif", gpu: true, binds: ["/a", "/b"], env: { C: "3" } });
    // The input is not mutated; the reverse order lets cluster's partition win.
    expect(cfg.launcher.partition).toBeUndefined();
    expect(applyProfiles(cfg, ["gpu", "cluster"], facts()).config.launcher.partition).toBe("cpu");
  });

  it("rejects an unknown profile, listing the available ones with a did-you-mean", () => {
    const cfg = project(YAML);
    let err: unknown;
    try {
      applyProfiles(cfg, ["clustr"], facts());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorralError);
    expect((err as CorralError).message).toBe("unknown profile 'clustr' (did you mean 'cluster'?)");
    expect((err as CorralError).hint).toBe("available profiles: cluster, gpu, slurmenv, debug");
    expect((err as CorralError).exitCode).toBe(2);
  });

  it("detects the first profile in file order whose `when` holds, and says why", () => {
    const cfg = project(YAML);
    expect(applyProfiles(cfg, [], facts()).applied).toEqual([]);
    const login = applyProfiles(cfg, [], facts({ hostname: "login01" }));
    expect(login.applied).toEqual(["cluster"]);
    expect(login.reasons).toEqual(["cluster: hostname 'login01' matches 'login*'"]);
    expect(applyProfiles(cfg, [], facts({ hostname: "n1.hpc.example.org" })).reasons[0]).toBe("cluster: hostname 'n1.hpc.example.org' matches '*.hpc.example.org'");
    // env and command must both hold for slurmenv.
    expect(applyProfiles(cfg, [], facts({ env: { SLURM_CLUSTER_NAME: "lab" } })).applied).toEqual([]);
    const both = applyProfiles(cfg, [], facts({ env: { SLURM_CLUSTER_NAME: "lab" }, onPath: (c) => c === "sbatch" }));
    expect(both.reasons).toEqual(["slurmenv: SLURM_CLUSTER_NAME is set and 'sbatch' is on PATH"]);
    // File order: cluster comes before slurmenv when both hold.
    expect(applyProfiles(cfg, [], facts({ hostname: "login2", env: { SLURM_CLUSTER_NAME: "x" }, onPath: () => true })).applied).toEqual(["cluster"]);
    // Explicit names switch detection off.
    expect(applyProfiles(cfg, ["debug"], facts({ hostname: "login01" })).applied).toEqual(["debug"]);
  });

  it("matchWhen: NAME=value must equal; an empty `when` never matches", () => {
    expect(matchWhen({ when: { env: ["SITE=a"] } }, facts({ env: { SITE: "a" } }))).toBe("SITE=a");
    expect(matchWhen({ when: { env: ["SITE=a"] } }, facts({ env: { SITE: "b" } }))).toBeUndefined();
    expect(matchWhen({ when: {} }, facts())).toBeUndefined();
    expect(matchWhen({}, facts())).toBeUndefined();
  });

  it("needs a runtime when a profile adds a container to a project without one", () => {
    const cfg = project(`profiles:\n  c: {container: {image: x.sif}}\n  ok: {container: {runtime: docker, image: "ubuntu:24.04"}}\n`);
    expect(() => applyProfiles(cfg, ["c"], facts())).toThrow(/profiles\.c\.container\.runtime is required/);
    expect(applyProfiles(cfg, ["ok"], facts()).config.container).toEqual({ runtime: "docker", image: "ubuntu:24.04" });
  });
});

describe("paths", () => {
  it("resolves relative paths from the project folder and ${oc.env:...} inside them", () => {
    expect(resolvePaths({ data: "./data", s: "/scratch/${oc.env:USER}/x", m: "${paths.s}/models" }, "/p", { USER: "ann" }, "corral.yaml")).toEqual({
      data: "/p/data",
      s: "/scratch/ann/x",
      m: "/scratch/ann/x/models",
    });
  });

  it("expands ${paths.x} in commands, rule patterns and targets, and adds `paths` to the primary config", () => {
    const cfg = project(`command: python train.py --data \${paths.data}
config: {lr: 0.1, file: "\${paths.data}/train.csv"}
rules:
  prep:
    input: "\${paths.data}/{ds}.raw"
    output: {csv: "\${paths.data}/{ds}.csv"}
    shell: "cp {input} {output.csv} # \${paths.data}"
targets: ["\${paths.data}/a.csv"]
`);
    const out = applyPaths(cfg, { data: "/scratch/d" }, "corral.yaml");
    expect(out.command).toEqual(["python", "train.py", "--data", "/scratch/d"]);
    expect(out.rules.prep).toMatchObject({ input: "/scratch/d/{ds}.raw", output: { csv: "/scratch/d/{ds}.csv" }, shell: "cp {input} {output.csv} # /scratch/d" });
    expect(out.targets).toEqual(["/scratch/d/a.csv"]);
    // Left for run-config interpolation, which now finds `paths` at the root.
    expect(out.config).toEqual({ lr: 0.1, file: "${paths.data}/train.csv", paths: { data: "/scratch/d" } });
    // A user's own `paths` key is left alone.
    expect(applyPaths(project(`config: {paths: mine}\n`), { data: "/d" }, "f").config).toEqual({ paths: "mine" });
  });

  it("names an unknown path with a did-you-mean", () => {
    expect(() => substitutePaths("${paths.dta}/x", { data: "/d" }, { file: "corral.yaml", key: "command" })).toThrow("unknown path '${paths.dta}' (did you mean 'paths.data'?)");
  });
});

describe("openProject with profiles", () => {
  it("loads profiles/<name>.yaml, applies -P names, relocates paths and reports the choice", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-prof-"));
    writeFileSync(path.join(dir, "corral.yaml"), `command: echo \${paths.data}\nconfig: {f: "\${paths.data}/x"}\npaths: {data: data}\n`);
    mkdirSync(path.join(dir, "profiles"));
    writeFileSync(path.join(dir, "profiles", "hpc.yaml"), `paths: {data: "/scratch/\${oc.env:USER}"}\noverrides: [+site=hpc]\nwhen: {env: [ON_HPC]}\n`);
    const env = { USER: "bob" };
    const plain = await openProject({ cwd: dir, allowMissing: false, facts: facts({ env }) });
    expect(plain.profiles).toEqual([]);
    expect(plain.config.command).toEqual(["echo", path.join(dir, "data")]);
    const hpc = await openProject({ cwd: dir, allowMissing: false, profiles: ["hpc"], facts: facts({ env }) });
    expect(hpc.profiles).toEqual(["hpc"]);
    expect(hpc.profileOverrides).toEqual(["+site=hpc"]);
    expect(hpc.config.command).toEqual(["echo", "/scratch/bob"]);
    expect(hpc.primary).toEqual({ f: "${paths.data}/x", paths: { data: "/scratch/bob" } });
    const auto = await openProject({ cwd: dir, allowMissing: false, facts: facts({ env: { ...env, ON_HPC: "1" } }) });
    expect(auto.profileReasons).toEqual(["hpc: ON_HPC is set"]);
    writeFileSync(path.join(dir, "profiles", "bad.yaml"), `launcher:\n  partiton: x\n`);
    await expect(openProject({ cwd: dir, allowMissing: false, facts: facts() })).rejects.toThrow(/unknown key 'launcher.partiton' \(did you mean 'launcher.partition'\?\)/);
  });
});

describe("docs/profiles.md and docs/containers.md", () => {
  it("every project-file example validates, and every profile-file example is a valid profile", async () => {
    const { profileSchema } = await import("../../src/project/schema.js");
    const { presetSchema } = await import("../../src/project/profiles.js");
    let n = 0;
    for (const page of ["profiles.md", "containers.md"]) {
      const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs", page), "utf8");
      for (const [, text] of doc.matchAll(/```yaml\n([\s\S]*?)```/g)) {
        n++;
        if (text!.startsWith("# profiles/")) expect(profileSchema.safeParse(parseYaml(text!)).success, text).toBe(true);
        else if (text!.startsWith("# conf/")) expect(presetSchema.safeParse((parseYaml(text!) as { corral: unknown }).corral).success, text).toBe(true);
        else if (text!.includes("config_dir:")) continue; // needs its conf/ folder on disk: test/e2e/docs.test.ts loads it in place
        else expect(() => loadProjectText(text!, "corral.yaml"), text).not.toThrow();
      }
    }
    expect(n).toBeGreaterThanOrEqual(5);
  });
});

describe("config group presets (+setup=hpc_gpu)", () => {
  const files = (dir: string): void => {
    writeFileSync(path.join(dir, "corral.yaml"), `command: echo\nconfig_dir: conf\nconfig: {lr: 1}\nprofiles:\n  cluster: {launcher: {type: slurm}}\n`);
    mkdirSync(path.join(dir, "conf", "setup"), { recursive: true });
    writeFileSync(path.join(dir, "conf", "setup", "hpc_gpu.yaml"), `batch: 64\ncorral:\n  profile: cluster\n  launcher: {partition: gpu, gpus: 2}\n  sweep_dir: /scratch/sweeps\n  overrides: [lr=2]\n`);
    writeFileSync(path.join(dir, "conf", "setup", "laptop.yaml"), `batch: 8\n`);
  };

  it("applies the selected option's corral settings and keeps the key out of run configs", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-preset-"));
    files(dir);
    const p = await openProject({ cwd: dir, allowMissing: false, overrides: ["+setup=hpc_gpu"], facts: facts() });
    expect(p.profiles).toEqual(["cluster", "setup=hpc_gpu"]);
    expect(p.config.launcher).toMatchObject({ type: "slurm", partition: "gpu", gpus: 2 });
    expect(p.config.sweep_dir).toBe("/scratch/sweeps");
    expect(p.profileOverrides).toEqual(["lr=2"]);
    expect(p.repo.groups.get("setup")!.get("hpc_gpu")!.config).toEqual({ batch: 64 });
    const other = await openProject({ cwd: dir, allowMissing: false, overrides: ["+setup=laptop"], facts: facts() });
    expect(other.profiles).toEqual([]);
    expect(other.config.launcher.type).toBe("local");
    // Stripped even when not selected: a `corral:` key never reaches a run's config.
    expect(other.repo.groups.get("setup")!.get("hpc_gpu")!.config).toEqual({ batch: 64 });
  });

  it("names the option file and key of an invalid corral: setting", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-preset-"));
    files(dir);
    writeFileSync(path.join(dir, "conf", "setup", "bad.yaml"), `corral:\n  launcher: {partiton: gpu}\n`);
    await expect(openProject({ cwd: dir, allowMissing: false, overrides: ["setup=bad"], facts: facts() })).rejects.toThrow(/unknown key 'corral.launcher.partiton'/);
  });
});
