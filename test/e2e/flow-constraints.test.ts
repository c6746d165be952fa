/**
 * Global wildcard_constraints (Snakemake's top-level directive) and the user's own `x-` keys, on
 * adjacent wildcards shaped as in DynVision: `{model_name}{model_args}_{seed}_{data_name}` where
 * model_args may be empty.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corral, makeProject, sweepDirs } from "../helpers.js";

const PROJECT = `
x-train: &train
  shell: "echo {wildcards.model_name}/{wildcards.model_args}/{wildcards.seed}/{wildcards.data_name} > {output}"
wildcard_constraints:
  model_name: "[a-zA-Z0-9]+"
  model_args: "(:[a-z=+0-9]+)?"
  seed: "\\\\d+"
  data_name: "[a-z0-9]+"
rules:
  train:
    <<: *train
    output: models/{model_name}/{model_name}{model_args}_{seed}_{data_name}.pt
targets:
  - models/dyrcnn/dyrcnn_0_cifar10.pt
  - models/dyrcnn/dyrcnn:rctype=full+tsteps=20_1_cifar10.pt
`;

describe("corral flow: global wildcard_constraints and x- keys", () => {
  it("binds adjacent wildcards by the global constraints, an empty model_args included", () => {
    const dir = makeProject({ "corral.yaml": PROJECT });
    const r = corral(["flow"], { cwd: dir });
    expect(r.stderr).toContain("2 succeeded");
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(dir, "models/dyrcnn/dyrcnn_0_cifar10.pt"), "utf8")).toBe("dyrcnn//0/cifar10\n");
    expect(readFileSync(path.join(dir, "models/dyrcnn/dyrcnn:rctype=full+tsteps=20_1_cifar10.pt"), "utf8")).toBe("dyrcnn/:rctype=full+tsteps=20/1/cifar10\n");
    expect(readdirSync(path.join(dir, "models/dyrcnn")).sort()).toHaveLength(2);
  });

  it("a rule's own constraint wins over the global one", () => {
    const dir = makeProject({ "corral.yaml": PROJECT.replace("    output: models", "    wildcard_constraints: { seed: '[a-z]+' }\n    output: models") });
    const r = corral(["flow", "-n"], { cwd: dir });
    expect(r.code).toBe(2);
    // seed '0' breaks the rule's own '[a-z]+', so no rule makes the target.
    expect(r.stderr).toContain("no rule makes 'models/dyrcnn/dyrcnn_0_cifar10.pt'");
    expect(sweepDirs(dir)).toHaveLength(0);
  });

  it("a bad global constraint names the file and the key", () => {
    const dir = makeProject({ "corral.yaml": PROJECT.replace('seed: "\\\\d+"', 'seed: "(\\\\d+"') });
    const r = corral(["flow", "-n"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/corral\.yaml.*wildcard_constraints\.seed/);
    expect(r.stderr).toContain("not a valid regular expression");
  });
});
