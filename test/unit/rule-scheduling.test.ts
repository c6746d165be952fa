import { describe, expect, it } from "vitest";
import { flowBatchKey, localRulesOf, resourceProfiles, rulesOf, schedulingOf } from "../../src/engine/flow.js";
import type { FlowJobSpec } from "../../src/store/protocol.js";
import type { RuleResources } from "../../src/plan/dag.js";
import type { JobScheduling, SlurmLaunchSettings, SlurmSettings } from "../../src/launchers/launcher.js";
import { chunkOfTag, SlurmLauncher } from "../../src/launchers/slurm/slurm-launcher.js";
import { schedulingGpus, withScheduling } from "../../src/launchers/slurm/scheduling.js";
import { loadProjectText } from "../../src/project/load.js";
import { slurmExtraWords } from "../../src/project/schema.js";
import { CorralError } from "../../src/errors.js";

const settings = (slurm: Partial<SlurmSettings> = {}): SlurmLaunchSettings => ({
  type: "slurm",
  parallel: 1,
  perJob: 1,
  stagger: 0,
  killGraceS: 10,
  verbose: false,
  heartbeatS: 15,
  debug: false,
  setup: [],
  slurm: { sbatchArgs: [], signalGraceS: 120, ...slurm },
});

/** The sbatch script one job of a rule with `scheduling` gets (as --dry-run shows it). */
async function script(scheduling: JobScheduling, base: Partial<SlurmSettings> = {}): Promise<string> {
  const l = new SlurmLauncher();
  const s = l.size(settings(base), { cpus: 1, gpus: 0, memMB: 0, scheduling }, 1);
  const sweep = { type: "sweep", version: 1, id: "s1", kind: "flow", createdAt: 0, dir: "/tmp/x/s1", projectDir: "/tmp/x", command: [], overrides: [], launcher: "slurm", runs: [], jobs: [] } as const;
  const files = await l.preview({ sweep: { ...sweep, runs: [], jobs: [], command: [], overrides: [] }, runs: [{ index: 0, id: "", dir: "/tmp/x/s1/0", argv: ["true"], cwd: "/tmp/x", env: {}, cpus: 1, gpus: 0, attempt: 1 }], settings: s, round: 0 });
  return files[0]!.text;
}

/** The error `SlurmLauncher.validate` gives for a rule's settings. */
async function refusal(scheduling: JobScheduling, at: Record<string, string> = {}): Promise<CorralError> {
  try {
    await new SlurmLauncher().validate({ settings: settings(), env: {}, asks: [{ cpus: 1, gpus: 0, who: "rule 'train'", location: { file: "corral.yaml", key: "rules.train.resources" }, scheduling, schedulingAt: at }] });
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("rule resources: scheduler settings in the schema", () => {
  it("accepts partition ... slurm_extra on rules, default_resources and set_resources, and splits slurm_extra as Snakemake users write it", () => {
    const cfg = loadProjectText(
      `default_resources: {account: lab}
rules:
  train: {output: m.pt, shell: "true", resources: {partition: gpu, constraint: "a100|h100", slurm_extra: "'--gres=gpu:1 --comment=\\"a b\\"'"}}
  eval: {output: e.txt, shell: "true", resources: {slurm_extra: ["--comment=x y"]}}
profiles:
  p: {set_resources: {train: {qos: high, nodes: 1}}}
`,
      "corral.yaml",
    ).config;
    const rules = Object.fromEntries(rulesOf(cfg, resourceProfiles({ config: cfg, profiles: ["p"], file: "corral.yaml" })).map((r) => [r.name, r.resources]));
    expect(schedulingOf(rules.train! as RuleResources)).toEqual({ partition: "gpu", account: "lab", qos: "high", constraint: "a100|h100", nodes: 1, extra: ["--gres=gpu:1", "--comment=a b"] });
    expect(schedulingOf(rules.eval! as RuleResources)).toEqual({ account: "lab", extra: ["--comment=x y"] });
  });

  it("takes Snakemake's slurm_partition and slurm_account as partition and account, with the same precedence", () => {
    const cfg = loadProjectText(
      `default_resources: {slurm_account: lab}
rules:
  train: {output: m.pt, shell: "true", resources: {partition: cpu}}
profiles:
  p: {set_resources: {train: {slurm_partition: gpu}}}
`,
      "corral.yaml",
    ).config;
    const [train] = rulesOf(cfg, resourceProfiles({ config: cfg, profiles: ["p"], file: "corral.yaml" }));
    expect(schedulingOf(train!.resources! as RuleResources)).toEqual({ partition: "gpu", account: "lab" });
    expect(() => loadProjectText(`rules:\n  t: {output: a, shell: "true", resources: {partition: a, slurm_partition: b}}\n`, "corral.yaml")).toThrow(/rules\.t\.resources\.slurm_partition.*sets both partition and slurm_partition/);
  });

  it("strips one level of surrounding quotes, then splits like a shell (never running one)", () => {
    expect(slurmExtraWords("'--gres=gpu:1'")).toEqual(["--gres=gpu:1"]);
    expect(slurmExtraWords('"--qos=high --exclusive"')).toEqual(["--qos=high", "--exclusive"]);
    expect(slurmExtraWords("--comment='$(touch /tmp/p)'")).toEqual(["--comment=$(touch /tmp/p)"]);
    expect(slurmExtraWords(["--comment=a b"])).toEqual(["--comment=a b"]);
  });

  it("refuses an unsplittable slurm_extra and scheduler keys in the project's run resources, naming the key", () => {
    const bad = (text: string): CorralError => {
      try {
        loadProjectText(text, "corral.yaml");
      } catch (e) {
        if (e instanceof CorralError) return e;
        throw e;
      }
      throw new Error("expected an error");
    };
    const e = bad(`rules:\n  t: {output: a, shell: "true", resources: {slurm_extra: "--comment='x"}}\n`);
    expect(e.exitCode).toBe(2);
    expect(e.location?.key).toBe("rules.t.resources.slurm_extra");
    expect(bad(`resources: {partition: gpu}\n`).location?.key).toBe("resources.partition");
  });
});

describe("rule scheduler settings on SLURM", () => {
  it("puts the rule's settings over the launcher's in the job's sbatch script", async () => {
    const text = await script({ partition: "gpu", account: "lab", qos: "high", constraint: "a100|h100", gres: "gpu:a100:1", nodes: 1, extra: ["--exclusive", "--mail-type", "END", "--comment=corral-test"] }, { partition: "cpu", gpus: 2, qos: "low" });
    expect(text).toContain("#SBATCH --partition=gpu\n");
    expect(text).not.toContain("--partition=cpu");
    expect(text).toContain("#SBATCH --account=lab\n");
    expect(text).toContain("#SBATCH --qos=high\n");
    expect(text).toContain('#SBATCH --constraint="a100|h100"\n');
    // The rule's gres replaces launcher.gpus.
    expect(text.match(/--gres=/g)).toHaveLength(1);
    expect(text).toContain("#SBATCH --gres=gpu:a100:1\n");
    expect(text).toContain("#SBATCH --nodes=1\n");
    expect(text).toContain("#SBATCH --exclusive\n");
    expect(text).toContain("#SBATCH --mail-type=END\n");
    // The rule's comment follows Corral's tag, in one --comment.
    expect(text).toContain('#SBATCH --comment="corral:s1:0 corral-test"\n');
  });

  it("lifts slurm_extra's own keys (Snakemake's '--gres=gpu:1') into the request, counting its GPUs", async () => {
    const text = await script({ extra: ["--gres=gpu:1", "-p", "debug"] });
    expect(text).toContain("#SBATCH --gres=gpu:1\n");
    expect(text).toContain("#SBATCH --partition=debug\n");
    expect(schedulingGpus({ extra: ["--gres=gpu:1"] })).toBe(1);
    expect(schedulingGpus({ gres: "gpu:a100:2,shard:1" })).toBe(2);
    expect(schedulingGpus({ partition: "x" })).toBeUndefined();
  });

  it("writes hostile values only as quoted #SBATCH values, and refuses those sbatch could not take as one word", async () => {
    const text = await script({ extra: ["--comment=$(touch /tmp/p); `id`", "--mail-user=a b"] });
    expect(text).toContain('#SBATCH --comment="corral:s1:0 $(touch /tmp/p); `id`"\n');
    expect(text).toContain('#SBATCH --mail-user="a b"\n');
    // Nothing of it reaches the shell part of the script.
    expect(text.split("\n").filter((l) => !l.startsWith("#")).join("\n")).not.toContain("touch");
    for (const [key, value] of [["partition", "x; touch /tmp/p"], ["account", "$(touch /tmp/p)"], ["qos", "a b"], ["gres", "gpu:1\n#SBATCH --wrap=x"]] as const) {
      const e = await refusal({ [key]: value }, { [key]: `profiles.hpc.set_resources.train.${key}` });
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain("rule 'train'");
      expect(e.location).toEqual({ file: "corral.yaml", key: `profiles.hpc.set_resources.train.${key}` });
    }
    expect(() => withScheduling(settings(), { partition: "x; touch /tmp/p" })).toThrow(CorralError);
  });

  it("refuses flags Corral sets itself, naming the rule and the key", async () => {
    for (const flag of [["--array=0-3"], ["--output=/tmp/x"], ["--wrap", "id"], ["--parsable"], ["-o", "x"], ["--time=1:00:00"], ["--chdir=/"]]) {
      const e = await refusal({ extra: flag }, { slurm_extra: "rules.train.resources.slurm_extra" });
      expect(e.exitCode).toBe(2);
      expect(e.message).toMatch(/^rule 'train': slurm_extra flag '.+' is Corral's own/);
      expect(e.location).toEqual({ file: "corral.yaml", key: "rules.train.resources.slurm_extra" });
    }
    const twice = await refusal({ partition: "a", extra: ["--partition=b"] });
    expect(twice.message).toContain("slurm_extra sets --partition and the rule sets partition too");
    const word = await refusal({ extra: ["gpu:1"] });
    expect(word.message).toContain("is not an sbatch option");
  });

  it("refuses more than one node for a rule (multi-node runs are launcher.multinode)", async () => {
    const e = await refusal({ nodes: 2 }, { nodes: "rules.train.resources.nodes" });
    expect(e.message).toBe("rule 'train': nodes is 2, but a pipeline job runs on one node");
    expect(e.location?.key).toBe("rules.train.resources.nodes");
    expect((await refusal({ extra: ["-N", "3"] })).message).toContain("nodes is 3");
  });
});

describe("job tags", () => {
  it("finds the chunk in Corral's comment tag, also with a rule's own comment after it", () => {
    expect(chunkOfTag("corral:s1:3", "corral:s1:")).toBe(3);
    expect(chunkOfTag("corral:s1:12 corral-test $(x)", "corral:s1:")).toBe(12);
    expect(chunkOfTag("corral:s10:1", "corral:s1:")).toBeUndefined();
    expect(chunkOfTag("other", "corral:s1:")).toBeUndefined();
    expect(chunkOfTag(undefined, "corral:s1:")).toBeUndefined();
  });
});

describe("packing keys", () => {
  const j = (over: Partial<FlowJobSpec> = {}): FlowJobSpec => ({ index: 0, key: "k", rule: "r", wildcards: {}, argv: [], outputs: [], log: [], deps: [], cpus: 1, gpus: 0, memMB: 0, retries: 0, priority: 0, hashes: {} as FlowJobSpec["hashes"], reason: "", ...over });

  it("packs jobs with equal resources and scheduler settings, any rule; never across settings or places", () => {
    expect(flowBatchKey(j({ rule: "a" }))).toBe(flowBatchKey(j({ rule: "b" })));
    expect(flowBatchKey(j({ scheduling: { partition: "gpu" } }))).toBe(flowBatchKey(j({ rule: "b", scheduling: { partition: "gpu" } })));
    expect(flowBatchKey(j({ scheduling: { partition: "gpu" } }))).not.toBe(flowBatchKey(j({ scheduling: { partition: "cpu" } })));
    expect(flowBatchKey(j({ scheduling: { extra: ["--qos=a"] } }))).not.toBe(flowBatchKey(j()));
    expect(flowBatchKey(j({ local: true }))).not.toBe(flowBatchKey(j()));
  });
});

describe("localrules", () => {
  const cfg = (text: string) => loadProjectText(text, "corral.yaml").config;
  it("takes top-level localrules and rules' local: true", () => {
    const c = cfg(`localrules: [all]\nrules:\n  all: {output: a, shell: "true"}\n  plot: {output: p, shell: "true", local: true}\n  train: {output: t, shell: "true"}\n`);
    expect([...localRulesOf(c, "corral.yaml")].sort()).toEqual(["all", "plot"]);
  });
  it("refuses a name that is no rule, with did-you-mean, naming file and key", () => {
    const c = cfg(`localrules: [all, plott]\nrules:\n  all: {output: a, shell: "true"}\n  plot: {output: p, shell: "true"}\n`);
    let err: CorralError | undefined;
    try {
      localRulesOf(c, "corral.yaml");
    } catch (e) {
      err = e as CorralError;
    }
    expect(err?.message).toBe("localrules names rule 'plott', which the project does not have (did you mean 'plot'?)");
    expect(err?.location).toEqual({ file: "corral.yaml", key: "localrules[1]" });
    expect(err?.exitCode).toBe(2);
  });
});

describe("a rule's gres is per job", () => {
  it("an element running several jobs at once asks for the gres that many times (found by examples/dynvision: two jobs shared one GPU)", () => {
    const l = new SlurmLauncher();
    const base = { ...settings(), parallel: 2, perJob: 4 };
    expect(l.size(base, { cpus: 1, gpus: 1, memMB: 100, scheduling: { gres: "gpu:a100:1" } }, 6).slurm.gres).toBe("gpu:a100:2");
    expect(l.size(base, { cpus: 1, gpus: 1, memMB: 100, scheduling: { gres: "gpu:1" } }, 1).slurm.gres).toBe("gpu:1");
    // The launcher's own gres is per element, as before.
    expect(l.size({ ...base, slurm: { ...base.slurm, gres: "gpu:1" } }, { cpus: 1, gpus: 0, memMB: 100 }, 6).slurm.gres).toBe("gpu:1");
  });
});
