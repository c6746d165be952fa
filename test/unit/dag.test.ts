import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { buildDag, expandTarget, expandValues, renderArgv, renderShell, shellQuote } from "../../src/plan/dag.js";
import type { Dag, Job, RuleSpec, TargetSpec } from "../../src/plan/dag.js";

const none = (): boolean => false;
const build = (rules: RuleSpec[], targets: TargetSpec[], files: string[] = []): Dag => {
  const s = new Set(files);
  return buildDag({ rules, targets, exists: (p) => s.has(p) });
};
const job = (dag: Dag, key: string): Job => {
  const j = dag.jobs.find((x) => x.key === key);
  if (j === undefined) throw new Error(`no job ${key}; have ${dag.jobs.map((x) => x.key).join(" ")}`);
  return j;
};
const err = (f: () => unknown): CorralError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    expect((e as CorralError).code).toBe("E_WORKFLOW");
    return e as CorralError;
  }
  throw new Error("expected an error");
};

const pipeline: RuleSpec[] = [
  { name: "get_data", input: [], output: "data/{ds}.csv", shell: "fetch {wildcards.ds} > {output}" },
  { name: "init", input: [], output: "init/{model}.pt", shell: "init {output}" },
  {
    name: "train",
    input: { data: "data/{ds}.csv", init: "init/{model}.pt" },
    output: { model: "models/{model}_{ds}.pt" },
    params: { lr: 0.1 },
    resources: { cpus: 4 },
    shell: "train --lr {params.lr} {input.data} {input.init} -o {output.model}",
  },
  { name: "plot", input: ["models/{model}_a.pt", "models/{model}_b.pt"], output: "plots/{model}.png", shell: "plot {input} {output}" },
];

describe("buildDag", () => {
  it("builds backwards from targets, dependencies first, sharing jobs between consumers", () => {
    const dag = build(pipeline, ["plots/mlp.png", "plots/cnn.png"]);
    // 2 data + 2 init + 4 train + 2 plot; data/a.csv is shared by both models
    expect(dag.jobs.length).toBe(10);
    expect(dag.jobs.filter((j) => j.key === "get_data[ds=a]").length).toBe(1);
    dag.jobs.forEach((j, i) => {
      expect(j.id).toBe(i);
      for (const d of j.deps) expect(d).toBeLessThan(j.id);
    });
    const t = job(dag, "train[model=mlp,ds=a]");
    expect(t.inputs).toEqual(["data/a.csv", "init/mlp.pt"]);
    expect(t.namedInputs).toEqual({ data: ["data/a.csv"], init: ["init/mlp.pt"] });
    expect(t.namedOutputs).toEqual({ model: ["models/mlp_a.pt"] });
    expect(t.deps.map((d) => dag.jobs[d]!.key).sort()).toEqual(["get_data[ds=a]", "init[model=mlp]"]);
    expect(dag.byOutput.get("models/mlp_a.pt")).toBe(t.id);
    const dataA = job(dag, "get_data[ds=a]");
    expect(dag.jobs.filter((j) => j.deps.includes(dataA.id)).length).toBe(2);
    expect(dag.sources).toEqual([]);
    expect(dag.rules).toEqual(["get_data", "init", "train", "plot"]);
  });

  it("treats existing files no rule makes as sources", () => {
    const rules: RuleSpec[] = [{ name: "clean", input: "raw/{x}.csv", output: "clean/{x}.csv" }];
    const dag = build(rules, ["clean/a.csv"], ["raw/a.csv"]);
    expect(dag.sources).toEqual(["raw/a.csv"]);
    expect(dag.jobs[0]!.deps).toEqual([]);
  });

  it("takes rule-name targets (wildcard-free outputs) and expand targets", () => {
    const rules: RuleSpec[] = [
      { name: "a", input: [], output: "a/{i}.txt" },
      { name: "b", input: "a/{i}.txt", output: "b/{i}.txt" },
      { name: "all", input: ["b/0.txt", "b/1.txt"], output: [] },
      { name: "summary", input: "b/0.txt", output: "summary.txt" },
    ];
    const dag = build(rules, ["all", "summary", { expand: "b/{i}.txt", i: "range(3)" }]);
    expect(dag.jobs.map((j) => j.key)).toEqual(["a[i=0]", "b[i=0]", "a[i=1]", "b[i=1]", "all", "summary", "a[i=2]", "b[i=2]"]);
    expect(job(dag, "all").deps.length).toBe(2);
    const e = err(() => build(rules, ["b"]));
    expect(e.message).toMatch(/Target rule 'b' has wildcards in its output \('b\/\{i\}.txt'\)/);
  });

  it("expands targets as a cartesian product in key order", () => {
    expect(expandTarget({ expand: "r/{m}_{s}.pt", m: ["x", "y"], s: "range(0,4,2)" })).toEqual([
      "r/x_0.pt",
      "r/x_2.pt",
      "r/y_0.pt",
      "r/y_2.pt",
    ]);
    expect(expandValues("k", "a, b ,c")).toEqual(["a", "b", "c"]);
    expect(expandValues("k", 3)).toEqual(["3"]);
    expect(expandValues("k", "range(3,0,-1)")).toEqual(["3", "2", "1"]);
    expect(() => expandValues("k", "range(a)")).toThrow(/range takes 1 to 3 integers/);
    expect(() => expandTarget({ expand: "r/{m}.pt" })).toThrow(/no values given for '\{m\}'/);
    expect(() => expandTarget({ expand: "r/{m}.pt", m: "a", q: "b" })).toThrow(/has no wildcard '\{q\}'/);
  });

  it("names the missing file and the job that needs it", () => {
    const e = err(() => build(pipeline.slice(2), ["models/a_x.pt"]));
    expect(e.message).toBe(
      "Missing input: no rule makes 'data/x.csv' and it does not exist (needed by train[model=a,ds=x])",
    );
    expect(e.exitCode).toBe(2);
    expect(err(() => build(pipeline, ["nothing.txt"])).message).toMatch(/needed by target 'nothing.txt'/);
  });

  it("errors on two rules that make one file, naming both rules and patterns", () => {
    const rules: RuleSpec[] = [
      { name: "r1", input: [], output: "out/{x}.txt" },
      { name: "r2", input: [], output: "{dir}/a.txt" },
    ];
    const e = err(() => build(rules, ["out/a.txt"]));
    expect(e.message).toMatch(/Ambiguous rules for 'out\/a.txt'/);
    expect(e.message).toMatch(/rule 'r1' \(output 'out\/\{x\}.txt'\)/);
    expect(e.message).toMatch(/rule 'r2' \(output '\{dir\}\/a.txt'\)/);
    // a constraint removes the ambiguity
    rules[1]!.wildcard_constraints = { dir: "in" };
    expect(build(rules, ["out/a.txt"]).jobs[0]!.rule).toBe("r1");
  });

  it("errors on a cycle, naming it", () => {
    const rules: RuleSpec[] = [
      { name: "ping", input: "{x}.pong", output: "{x}.ping" },
      { name: "pong", input: "{x}.ping", output: "{x}.pong" },
    ];
    const e = err(() => build(rules, ["a.ping"]));
    expect(e.message).toBe("Cycle in the workflow: ping[x=a] -> pong[x=a] -> ping[x=a]");
  });

  it("stops a rule that keeps matching its own input", () => {
    const rules: RuleSpec[] = [{ name: "gunzip", input: "{f}.gz", output: "{f}" }];
    expect(err(() => build(rules, ["a.txt"])).message).toMatch(/Dependency chain deeper than/);
  });

  it("names rule, wildcard, value and regex when a constraint rejects a value", () => {
    const rules: RuleSpec[] = [
      { name: "train", input: [], output: "m/{model}.pt", wildcard_constraints: { model: "[a-z]+" } },
    ];
    const e = err(() => build(rules, ["m/A1.pt"]));
    expect(e.message).toMatch(/rule 'train'/);
    expect(e.message).toMatch(/wildcard 'model' = 'A1' does not match regex '\[a-z\]\+'/);
    // an existing file of that name is simply a source
    expect(build([{ name: "u", input: "m/A1.pt", output: "u.txt" }, ...rules], ["u.txt"], ["m/A1.pt"]).sources).toEqual([
      "m/A1.pt",
    ]);
  });

  it("rejects an input wildcard that is not in the output, naming rule and pattern", () => {
    const rules: RuleSpec[] = [{ name: "merge", input: "parts/{part}.csv", output: "merged/{day}.csv" }];
    const e = err(() => build(rules, []));
    expect(e.message).toMatch(/Rule 'merge': input 'parts\/\{part\}.csv' uses wildcard '\{part\}' that is not in its output/);
    expect(err(() => build([{ name: "r", input: [], output: ["{a}.x", "{b}.y"] }], [])).message).toMatch(
      /different wildcards/,
    );
    expect(err(() => build([{ name: "r", input: [], output: "x" }, { name: "r", input: [], output: "y" }], [])).message).toMatch(
      /defined twice/,
    );
  });

  it("rejects wildcard values that escape the project or hold newlines", () => {
    const rules: RuleSpec[] = [{ name: "mk", input: [], output: "out/{name}.txt" }];
    expect(err(() => build(rules, ["out/../../etc/passwd.txt"])).message).toMatch(
      /Unsafe wildcard value: rule 'mk' wildcard 'name' = "..\/..\/etc\/passwd" has a '..' path segment/,
    );
    expect(err(() => build(rules, ["out/a\nb.txt"])).message).toMatch(/newline/);
    // ".." inside a name is fine
    expect(build(rules, ["out/a..b.txt"]).jobs[0]!.wildcards).toEqual({ name: "a..b" });
  });

  it("builds a 100k-job DAG (speed: bench/dag-plan.mjs)", () => {
    const rules: RuleSpec[] = [
      { name: "a", input: [], output: "a/{i}.txt", shell: "touch {output}" },
      { name: "b", input: "a/{i}.txt", output: "b/{i}.txt", shell: "cp {input} {output}" },
    ];
    const dag = buildDag({ rules, targets: [{ expand: "b/{i}.txt", i: "range(50000)" }], exists: none });
    expect(dag.jobs.length).toBe(100_000);
  });
});

describe("renderShell", () => {
  const dag = build(pipeline, ["plots/mlp.png"]);
  const train = job(dag, "train[model=mlp,ds=a]");

  it("substitutes files, wildcards, params, resources and threads", () => {
    expect(renderShell("train --lr {params.lr} {input.data} {input.init} -o {output.model}", train)).toBe(
      "train --lr 0.1 data/a.csv init/mlp.pt -o models/mlp_a.pt",
    );
    expect(renderShell("{input} {input[1]} {output[0]} {wildcards.model} {threads} {resources.cpus} {{x}}", train)).toBe(
      "data/a.csv init/mlp.pt init/mlp.pt models/mlp_a.pt mlp 4 4 {x}",
    );
    const plot = job(dag, "plot[model=mlp]");
    expect(renderShell("plot {input} {output}", plot)).toBe("plot models/mlp_a.pt models/mlp_b.pt plots/mlp.png");
  });

  it("quotes every substituted value so hostile wildcard values stay inert", () => {
    const rules: RuleSpec[] = [{ name: "mk", input: [], output: "out/{name}.txt", params: { msg: ["it's", "$HOME"] } }];
    const hostile = ["$(rm -rf ~)", "`id`", "a; rm -rf /", "it's", 'a"b', "a b", "-x|y&z>w"];
    for (const name of hostile) {
      const j = build(rules, [`out/${name}.txt`]).jobs[0]!;
      const cmd = renderShell("echo {wildcards.name} {output}", j);
      expect(cmd).toBe(`echo ${shellQuote(name)} ${shellQuote(`out/${name}.txt`)}`);
      // single-quoted: no $, backtick or ; is outside quotes
      expect(cmd.startsWith("echo '")).toBe(true);
    }
    expect(shellQuote("it's")).toBe(`'it'"'"'s'`);
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("plain/path-1.txt")).toBe("plain/path-1.txt");
    const j = build(rules, ["out/x.txt"]).jobs[0]!;
    expect(renderShell("say {params.msg}", j)).toBe(`say 'it'"'"'s' '$HOME'`);
  });

  it("really is inert when a shell runs it", async () => {
    const { execFileSync } = await import("node:child_process");
    const rules: RuleSpec[] = [{ name: "mk", input: [], output: "out/{name}.txt" }];
    const name = "$(echo pwned);`echo pwned`'\"";
    const j = build(rules, [`out/${name}.txt`]).jobs[0]!;
    const outText = execFileSync("sh", ["-c", renderShell("printf %s {wildcards.name}", j)], { encoding: "utf8" });
    expect(outText).toBe(name);
  });

  it("renders run argv without quoting, spreading a lone list placeholder", () => {
    const plot = job(dag, "plot[model=mlp]");
    expect(renderArgv(["plot", "{input}", "--out={output}", "--m", "{wildcards.model}", "{{x}}"], plot)).toEqual([
      "plot",
      "models/mlp_a.pt",
      "models/mlp_b.pt",
      "--out=plots/mlp.png",
      "--m",
      "mlp",
      "{x}",
    ]);
    expect(() => renderArgv(["{nope}"], plot)).toThrow(/Rule 'plot' run: unknown placeholder/);
  });

  it("errors on unknown placeholders, naming the rule", () => {
    expect(() => renderShell("run {foo}", train)).toThrow(/Rule 'train' shell: unknown placeholder '\{foo\}'/);
    expect(() => renderShell("{input.nope}", train)).toThrow(/no input named 'nope'/);
    expect(() => renderShell("{input[5]}", train)).toThrow(/out of range/);
    expect(() => renderShell("{params.beta}", train)).toThrow(/no params.beta/);
    expect(() => renderShell("{resources.gpus}", train)).toThrow(/no resources.gpus/);
    expect(() => renderShell("a } b", train)).toThrow(/unmatched '\}'/);
    expect(() => renderShell("a { b", train)).toThrow(/unclosed '\{'/);
  });
});
