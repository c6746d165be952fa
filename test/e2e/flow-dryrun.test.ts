/**
 * `corral flow -n` checks what the real run would refuse (issue 13): every placeholder of every
 * planned job is rendered, so a misspelled one is exit 2 naming the rule and the placeholder.
 */
import { describe, expect, it } from "vitest";
import { corral, makeProject } from "../helpers.js";

describe("corral flow -n validates every planned job's command", () => {
  it.each([
    ["a misspelled params name", "echo {params.model_argumnets} > {output}", /Rule 'train' shell: '\{params\.model_argumnets\}': the rule has no params\.model_argumnets/],
    ["a shell default written with single braces", "sleep ${GEN_SLEEP:-0}; touch {output}", /Rule 'train' shell: unknown placeholder '\{GEN_SLEEP:-0\}'/],
  ])("%s: exit 2 before anything starts, as the real run", (_what, shell, message) => {
    const dir = makeProject({ "corral.yaml": `rules:\n  train:\n    output: [model.pt]\n    params:\n      model_arguments: x\n    shell: ${JSON.stringify(shell)}\ntargets: [model.pt]\n` });
    const dry = corral(["flow", "-n"], { cwd: dir });
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(message);
    expect(dry.stdout).toBe("");
  });
});
