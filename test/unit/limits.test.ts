// Input limits (issue 11 point 6): nesting depth, and argv size decided at planning time.
import { describe, expect, it } from "vitest";
import { envBytes, execBytes, findTooDeep, MAX_ARG_BYTES, MAX_NESTING_DEPTH, shortPath, utf8Bytes } from "../../src/plan/limits.js";
import { planRuns, type PlanInput } from "../../src/plan/runs.js";
import { thrownCorralError } from "../helpers.js";

const nest = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};

describe("findTooDeep", () => {
  it("accepts MAX_NESTING_DEPTH levels and names the path of the first level beyond", () => {
    expect(findTooDeep(nest(MAX_NESTING_DEPTH))).toBeUndefined();
    const at = findTooDeep(nest(MAX_NESTING_DEPTH + 1));
    expect(at).toHaveLength(MAX_NESTING_DEPTH);
    expect(findTooDeep({ x: [[[1]]] }, 3)).toEqual(["x", "0", "0"]);
    expect(findTooDeep({ x: [[1]] }, 3)).toBeUndefined();
  });

  it("walks 100,000 levels without recursion, and reports a cycle as too deep", () => {
    expect(findTooDeep(nest(100_000))).toHaveLength(MAX_NESTING_DEPTH);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(findTooDeep(cyclic)?.slice(0, 3)).toEqual(["self", "self", "self"]);
  });

  it("visits shared subtrees once per depth, not once per path", () => {
    // 2^60 paths, 60 objects.
    let v: unknown = 1;
    for (let i = 0; i < 60; i++) v = { l: v, r: v };
    expect(findTooDeep(v)).toBeUndefined();
  });

  it("byte counts and short paths", () => {
    expect(utf8Bytes("aé€")).toBe(6);
    expect(execBytes("ab")).toBe(2 + 1 + 8);
    expect(envBytes({ A: "1", B: undefined })).toBe(execBytes("A=1"));
    expect(shortPath(["a", "b"])).toBe("a.b");
    expect(shortPath(Array.from({ length: 300 }, () => "k"))).toBe("k.k.k.k...k.k.k.k (300 levels)");
  });
});

function plan(over: Partial<PlanInput>): PlanInput {
  return {
    command: ["python", "train.py"],
    repo: { groups: new Map() },
    primary: { a: 1, s: "x" },
    defaults: [],
    grids: [],
    baseOverrides: [],
    overrides: [],
    multirun: true,
    freeForm: false,
    env: {},
    now: new Date(0),
    sourceFile: "corral.yaml",
    ...over,
  };
}
const runAll = (input: PlanInput): void => {
  const p = planRuns(input);
  for (let i = 0; i < p.size; i++) p.run(i);
};

describe("planRuns: argv limits", () => {
  const big = "x".repeat(140_000);

  it("refuses a sweep value longer than MAX_ARG_STRLEN, naming the key and the file", () => {
    const e = thrownCorralError(() => runAll(plan({ grids: [{ s: [big, "y"] }] })));
    expect(e.exitCode).toBe(2);
    expect(e.location).toEqual({ file: "corral.yaml", key: "s" });
    expect(e.message).toMatch(/'s' makes a run argument of 140,002 bytes, more than one argument may hold \(131,072 bytes/);
    expect(e.hint).toMatch(/CORRAL_CONFIG/);
  });

  it("names the command line for a command-line override, and counts UTF-8 bytes", () => {
    const e = thrownCorralError(() => runAll(plan({ overrides: [`s='${"é".repeat(70_000)}'`] })));
    expect(e.location).toEqual({ file: "<command line>", key: "s" });
    expect(e.message).toMatch(/140,00\d bytes/);
  });

  it("takes its limits as input: a value just under them passes", () => {
    expect(() => runAll(plan({ grids: [{ s: ["x".repeat(MAX_ARG_BYTES - 2)] }] }))).not.toThrow();
    expect(() => runAll(plan({ grids: [{ s: ["x".repeat(100)] }], argLimits: { maxArgBytes: 50, maxTotalBytes: 1e9 } }))).toThrow(/more than one argument may hold \(50 bytes/);
  });

  it("refuses argv + environment over the total bound", () => {
    const env = { HUGE: "y".repeat(600_000) };
    const e = thrownCorralError(() => runAll(plan({ env, grids: [{ s: ["x".repeat(100_000)], a: ["z".repeat(100_000)] }], argLimits: { maxArgBytes: MAX_ARG_BYTES, maxTotalBytes: 700_000 } })));
    expect(e.message).toMatch(/a run's arguments and environment come to [\d,]+ bytes, more than the 700,000 bytes/);
    expect(e.location?.key).toMatch(/^[sa]$/);
  });

  it("refuses an oversized command argument", () => {
    const e = thrownCorralError(() => planRuns(plan({ command: ["echo", big] })));
    expect(e.location).toEqual({ file: "corral.yaml", key: "command" });
  });

  it("refuses an override key with more segments than the nesting limit", () => {
    const key = Array.from({ length: 1000 }, () => "k").join(".");
    const e = thrownCorralError(() => runAll(plan({ overrides: [`+${key}=1`] })));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(new RegExp(`the key has 1000 segments, more than ${MAX_NESTING_DEPTH}`));
  });

  it("refuses a resolved config nested too deep (oc.decode builds structure)", () => {
    const deep = "[".repeat(300) + "]".repeat(300);
    const e = thrownCorralError(() => runAll(plan({ primary: { x: { y: `\${oc.decode:'${deep}'}` } } })));
    expect(e.exitCode).toBe(2);
    expect(e.location?.file).toBe("corral.yaml");
    expect(e.message).toMatch(new RegExp(`the composed config nests more than ${MAX_NESTING_DEPTH} levels deep at 'x\\.y\\.0\\.0\\.\\.\\.`));
  });
});
