/**
 * File markers (`temp`, `protected`, `ancient`) as YAML spells them and as the TS helpers build
 * them: the schema, the DAG's marker lists, `${paths}` inside markers, and the effective container.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rulesOf } from "../../src/engine/flow.js";
import { CorralError } from "../../src/errors.js";
import { ancient, protect, temp } from "../../src/index.js";
import { buildDag, type RuleSpec } from "../../src/plan/dag.js";
import { loadProject, loadProjectText } from "../../src/project/load.js";
import { applyPaths } from "../../src/project/profiles.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const load = (yaml: string) => loadProjectText(yaml, "/p/corral.yaml").config;
const thrown = (f: () => unknown): CorralError => {
  try {
    f();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error("did not throw");
};

describe("file markers", () => {
  it("the TS helpers return the YAML objects", () => {
    expect(temp("a/{x}.tmp")).toEqual({ temp: "a/{x}.tmp" });
    expect(protect("final.txt")).toEqual({ protected: "final.txt" });
    expect(ancient("db.sqlite")).toEqual({ ancient: "db.sqlite" });
  });

  it("YAML: a marker alone, as a list item, as a named value or in a named list; markers go to the jobs", () => {
    const cfg = load(`rules:
  a:
    input: [{ancient: "raw/{x}.txt"}, extra.txt]
    output: {model: {protected: "m/{x}.pt"}, work: ["w/{x}.a", {temp: "w/{x}.tmp"}]}
  b:
    input: m/{x}.pt
    output: {temp: "b/{x}.txt"}
`);
    const dag = buildDag({ rules: rulesOf(cfg), targets: ["b/1.txt"], exists: () => true });
    const [a, b] = dag.jobs;
    expect(a!.outputs).toEqual(["m/1.pt", "w/1.a", "w/1.tmp"]);
    expect(a!.namedOutputs.work).toEqual(["w/1.a", "w/1.tmp"]);
    expect(a!.protected).toEqual(["m/1.pt"]);
    expect(a!.temp).toEqual(["w/1.tmp"]);
    expect(a!.ancient).toEqual(["raw/1.txt"]);
    expect(b!.temp).toEqual(["b/1.txt"]);
    expect(b!.ancient).toEqual([]);
    expect(dag.targets).toEqual([{ job: b!.id, files: ["b/1.txt"] }]);
  });

  it("a corral.config.ts project marks files with temp(), protect() and ancient()", async () => {
    const p = await loadProject(path.join(ROOT, "test/fixtures/projects/ts-markers/corral.config.ts"));
    const dag = buildDag({ rules: rulesOf(p.config), targets: ["models/a.pt"], exists: () => true });
    const train = dag.jobs.find((j) => j.rule === "train")!;
    expect(train.protected).toEqual(["models/a.pt"]);
    expect(train.temp).toEqual(["scratch/a.a"]);
    const unpack = dag.jobs.find((j) => j.rule === "unpack")!;
    expect(unpack.temp).toEqual(["work/a.csv"]);
    expect(unpack.ancient).toEqual(["db.sqlite"]);
  });

  it("rejects a marker where it does not belong, naming the key", () => {
    const e = thrown(() => load(`rules:\n  a:\n    input: {temp: x.txt}\n    output: y.txt\n`));
    expect(e.message).toMatch(/'temp' marks outputs only/);
    expect(e.location?.key).toBe("rules.a.input.temp");
    expect(thrown(() => load(`rules:\n  a:\n    output: [{ancient: y.txt}]\n`)).message).toMatch(/rules\.a\.output/);
    expect(thrown(() => load(`rules:\n  a:\n    output: {temp: y.txt, other: z.txt}\n`)).message).toMatch(/'temp' is a file marker/);
    // a rule built in code gets the same check from the DAG
    const r: RuleSpec = { name: "c", input: { protected: "x" } as never, output: "y" };
    expect(thrown(() => buildDag({ rules: [r], targets: ["y"], exists: () => true })).message).toMatch(/Rule 'c' input: '\{protected: \.\.\.\}' marks outputs only/);
  });

  it("${paths} are substituted inside markers", () => {
    const cfg = load(`rules:\n  a:\n    input: {ancient: "\${paths.data}/in.txt"}\n    output: [{temp: "\${paths.data}/t.txt"}]\n`);
    const out = applyPaths(cfg, { data: "/d" }, "/p/corral.yaml");
    expect(out.rules.a!.input).toEqual({ ancient: "/d/in.txt" });
    expect(out.rules.a!.output).toEqual([{ temp: "/d/t.txt" }]);
  });

  it("rulesOf puts the effective container into each rule: its own, else the project's", () => {
    const cfg = load(`container: {runtime: docker, wrap: "env P=1 {command}"}
rules:
  own:
    output: a.txt
    container: {runtime: docker, wrap: "env O=1 {command}"}
  plain:
    output: b.txt
`);
    const rs = rulesOf(cfg);
    expect((rs.find((r) => r.name === "own")!.container as { wrap: string }).wrap).toBe("env O=1 {command}");
    expect((rs.find((r) => r.name === "plain")!.container as { wrap: string }).wrap).toBe("env P=1 {command}");
  });
});
