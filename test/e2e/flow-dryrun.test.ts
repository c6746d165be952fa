/**
 * `corral flow -n` checks what the real run would refuse (issue 13): every placeholder of every
 * planned job is rendered, so a misspelled one is exit 2 naming the rule and the placeholder.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { corral, lines, makeProject } from "../helpers.js";

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

describe("Snakemake's spellings: -F, -R, --cores, --list", () => {
  const pipeline = (): string =>
    makeProject({
      "corral.yaml": [
        "rules:",
        "  a:",
        "    output: [a.txt]",
        '    shell: "echo a >> ran.txt; touch {output}"',
        "  b:",
        "    input: [a.txt]",
        "    output: [b.txt]",
        '    shell: "echo b >> ran.txt; touch {output}"',
        "targets: [b.txt]",
        "",
      ].join("\n"),
    });

  it("-F reruns every job of an up-to-date pipeline; -R RULE reruns that rule and what depends on it; --cores N is -j N", () => {
    const dir = pipeline();
    expect(corral(["flow", "--cores", "1"], { cwd: dir }).code).toBe(0);
    expect(corral(["flow", "-n"], { cwd: dir }).stdout).toMatch(/nothing to do|up to date/i);
    const all = corral(["flow", "-n", "-F"], { cwd: dir });
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/a\s+forced: --forceall/);
    expect(all.stdout).toMatch(/b\s+forced: --forceall/);
    const one = corral(["flow", "-n", "-R", "b"], { cwd: dir });
    expect(one.stdout).toMatch(/b\s+forced: --forcerun b/);
    expect(one.stdout).not.toMatch(/^\s+a\s/m);
    expect(corral(["flow", "-F"], { cwd: dir }).code).toBe(0);
    expect(lines(path.join(dir, "ran.txt"))).toEqual(["a", "b", "a", "b"]);
  });

  it("--list prints each rule with its outputs and starts nothing", () => {
    const dir = pipeline();
    const r = corral(["flow", "--list"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("a  -> a.txt\nb  -> b.txt\n");
    expect(lines(path.join(dir, "ran.txt"))).toEqual([]);
  });
});
