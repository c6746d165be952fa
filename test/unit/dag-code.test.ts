/**
 * Rules from code and config (issue 13, point 2): a rule's input, params, resources and command
 * computed per job from { wildcards, config, attempt }; `expand:` inside an input; errors from
 * the functions named by rule, key and job.
 */
import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { buildDag, expandPattern, renderShell } from "../../src/plan/dag.js";
import type { BuildDagInput, Dag, Job, RuleContext, RuleSpec, TargetSpec } from "../../src/plan/dag.js";
import { jobHashes } from "../../src/plan/uptodate.js";
import { expand } from "../../src/index.js";
import type { ConfigMap } from "../../src/plan/types.js";

const build = (rules: RuleSpec[], targets: TargetSpec[], config: ConfigMap = {}, extra: Partial<BuildDagInput> = {}): Dag =>
  buildDag({ rules, targets, exists: () => true, config, file: "corral.config.ts", ...extra });
const job = (dag: Dag, key: string): Job => {
  const j = dag.jobs.find((x) => x.key === key);
  if (j === undefined) throw new Error(`no job ${key}; have ${dag.jobs.map((x) => x.key).join(" ")}`);
  return j;
};
const err = (f: () => unknown): CorralError => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof CorralError)) throw e;
    return e as CorralError;
  }
  throw new Error("expected an error");
};

const train: RuleSpec = { name: "train", input: [], output: "results/{model}.json", params: { lr: ({ config }: RuleContext) => config.lr as number }, shell: "train --lr {params.lr} > {output}" };

describe("function rules", () => {
  it("an input function over a config list aggregates one job per model; params read the config", () => {
    const plot: RuleSpec = { name: "plot", input: ({ config }) => expand("results/{model}.json", { model: config.models as string[] }), output: "plot.png", shell: "plot {input} {output}" };
    const dag = build([train, plot], ["plot.png"], { models: ["a", "b", "c"], lr: 0.05 });
    expect(dag.jobs.map((j) => j.key)).toEqual(["train[model=a]", "train[model=b]", "train[model=c]", "plot"]);
    expect(job(dag, "plot").inputs).toEqual(["results/a.json", "results/b.json", "results/c.json"]);
    expect(job(dag, "plot").deps).toHaveLength(3);
    const t = job(dag, "train[model=b]");
    expect(t.params).toEqual({ lr: 0.05 });
    expect(renderShell(t.spec.shell!, t)).toBe("train --lr 0.05 > results/b.json");
  });

  it("an input function may return a map; each name is a placeholder", () => {
    const r: RuleSpec = { name: "r", input: ({ wildcards }) => ({ data: `d/${wildcards.x}.csv`, extra: ["e1", "e2"] }), output: "o/{x}", shell: "cat {input.data} {input.extra} > {output}" };
    const j = job(build([r], ["o/1"]), "r[x=1]");
    expect(j.namedInputs).toEqual({ data: ["d/1.csv"], extra: ["e1", "e2"] });
    expect(j.inputs).toEqual(["d/1.csv", "e1", "e2"]);
  });

  it("a function as one entry of an input map, beside patterns", () => {
    const r: RuleSpec = { name: "r", input: { raw: "raw/{x}.csv", cfg: ({ config }) => `cfg/${config.name as string}.yaml` }, output: "o/{x}", shell: "x" };
    expect(job(build([r], ["o/1"], { name: "base" }), "r[x=1]").namedInputs).toEqual({ raw: ["raw/1.csv"], cfg: ["cfg/base.yaml"] });
  });

  it("params, resources and the command may each be a function of the job; the job keeps the evaluated values", () => {
    const r: RuleSpec = {
      name: "r",
      input: [],
      output: "o/{x}",
      params: ({ wildcards }) => ({ n: Number(wildcards.x) * 2 }),
      resources: { cpus: ({ wildcards }: RuleContext) => Number(wildcards.x), mem: "1G" },
      shell: ({ wildcards }) => `echo ${wildcards.x} {params.n} {threads} > {output}`,
    };
    const j = job(build([r], ["o/3"]), "r[x=3]");
    expect(j.params).toEqual({ n: 6 });
    expect(j.resources).toEqual({ cpus: 3, mem: "1G" });
    expect(renderShell(j.spec.shell!, j)).toBe("echo 3 6 3 > o/3");
    // The hashes see this job's values: another lr is another paramsHash.
    const p = (lr: number): string => jobHashes(job(build([train], ["results/a.json"], { lr }), "train[model=a]")).paramsHash;
    expect(p(0.1)).not.toBe(p(0.2));
    expect(p(0.1)).toBe(p(0.1));
  });

  it("rules without functions share their params (no per-job copies)", () => {
    const r: RuleSpec = { name: "r", input: [], output: "o/{x}", params: { a: 1 }, shell: "x" };
    const dag = build([r], ["o/1", "o/2"]);
    expect(dag.jobs[0]!.params).toBe(dag.jobs[1]!.params);
    expect(dag.jobs[0]!.spec).toBe(r);
  });

  it("resources and the command of later attempts are kept where they differ", () => {
    const r: RuleSpec = { name: "r", input: [], output: "o", retries: 2, resources: { mem: ({ attempt }: RuleContext) => `${attempt}G` }, shell: "run --mem {resources.mem}" };
    const j = job(build([r], ["o"]), "r");
    expect(j.resources.mem).toBe("1G");
    expect(j.attempts).toEqual([{ resources: { mem: "2G" } }, { resources: { mem: "3G" } }]);
    const same: RuleSpec = { ...r, resources: { cpus: () => 2 } };
    expect(job(build([same], ["o"]), "r").attempts).toBeUndefined();
  });

  it("the config is read-only for functions", () => {
    const r: RuleSpec = { name: "r", input: [], output: "o", params: ({ config }) => ((config.models as string[]).push("x"), {}), shell: "x" };
    expect(err(() => build([r], ["o"], { models: ["a"] })).message).toContain("the function threw");
  });
});

describe("expand inside an input", () => {
  it("expands the listed keys; the others take the job's wildcards", () => {
    const agg: RuleSpec = { name: "agg", input: [{ expand: "results/{ds}/{model}_{seed}.json", model: ["a", "b"], seed: "range(2)" }], output: "summary/{ds}.csv", shell: "x" };
    const j = job(build([agg], ["summary/mnist.csv"]), "agg[ds=mnist]");
    expect(j.inputs).toEqual(["results/mnist/a_0.json", "results/mnist/a_1.json", "results/mnist/b_0.json", "results/mnist/b_1.json"]);
  });

  it("as a value of an input map", () => {
    const agg: RuleSpec = { name: "agg", input: { runs: { expand: "r/{m}.json", m: "a,b" }, base: "base.txt" }, output: "s.csv", shell: "x" };
    expect(job(build([agg], ["s.csv"]), "agg").namedInputs).toEqual({ runs: ["r/a.json", "r/b.json"], base: ["base.txt"] });
  });

  it("a placeholder neither listed nor an output wildcard is an error naming the rule", () => {
    const agg: RuleSpec = { name: "agg", input: [{ expand: "r/{m}_{seed}.json", m: ["a"] }], output: "s.csv", shell: "x" };
    const e = err(() => build([agg], ["s.csv"]));
    expect(e.message).toContain("Rule 'agg'");
    expect(e.message).toContain("{seed}");
  });

  it("a listed key the pattern lacks is an error", () => {
    const agg: RuleSpec = { name: "agg", input: [{ expand: "r/{m}.json", m: ["a"], seed: [1] }], output: "s.csv", shell: "x" };
    expect(err(() => build([agg], ["s.csv"])).message).toContain("has no wildcard '{seed}'");
  });

  it("expand() is Snakemake's product, last key fastest, leaving unlisted placeholders", () => {
    expect(expand("r/{m}_{s}.json", { m: ["a", "b"], s: [1, 2] })).toEqual(["r/a_1.json", "r/a_2.json", "r/b_1.json", "r/b_2.json"]);
    expect(expandPattern("r/{ds}/{m}.json", { m: "x,y" })).toEqual(["r/{ds}/x.json", "r/{ds}/y.json"]);
  });
});

describe("errors from functions", () => {
  const where = (e: CorralError) => `${e.location?.file} ${e.location?.key} ${e.message}`;

  it("a throwing function names the rule, the key, the job's wildcards and the message", () => {
    const r: RuleSpec = { name: "train", input: [], output: "o/{model}", params: { lr: () => { throw new Error("no lr for you"); } }, shell: "x" };
    const e = err(() => build([r], ["o/a"]));
    expect(e.exitCode).toBe(2);
    expect(where(e)).toContain("corral.config.ts rules.train.params.lr");
    expect(e.message).toContain("model=a");
    expect(e.message).toContain("no lr for you");
  });

  it("a wrong return type is an error naming the key", () => {
    const bad = (over: Partial<RuleSpec>, key: string, what: string): void => {
      const r = { name: "r", input: [], output: "o", shell: "x", ...over } as RuleSpec;
      const e = err(() => build([r], ["o"]));
      expect(e.location?.key).toBe(`rules.r.${key}`);
      expect(e.message).toContain(what);
    };
    bad({ input: () => 42 as unknown as string }, "input", "must return a path");
    bad({ input: { a: () => ({}) as unknown as string } }, "input.a", "must return a path");
    bad({ params: () => ["x"] as unknown as Record<string, never> }, "params", "must be a map");
    bad({ params: { p: () => (() => 1) as unknown as number } }, "params.p", "must be a plain value");
    bad({ shell: () => 1 as unknown as string }, "shell", "must return a command line");
    bad({ shell: undefined, run: () => "ls" as unknown as string[] }, "run", "must return argv");
    bad({ resources: { cpus: () => "many" } }, "resources", "cpus");
    bad({ params: (async () => ({})) as unknown as () => Record<string, never> }, "params", "Promise");
  });
});
