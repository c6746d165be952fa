import { describe, expect, it } from "vitest";
import { parseOverrides } from "../../src/plan/overrides.js";
import { expandSweep, isSweepOverride, type SweepInput, type SweepPlan } from "../../src/plan/sweep.js";
import { thrownCorralError } from "../helpers.js";

const all = (p: SweepPlan): string[][] => Array.from({ length: p.size }, (_, i) => p.spelled(i));
const plan = (args: string[], extra: Omit<SweepInput, "overrides"> = {}): SweepPlan => expandSweep({ overrides: parseOverrides(args), ...extra });

const sweepErr = thrownCorralError;

describe("command-line sweeps (Hydra's BasicSweeper)", () => {
  it("is the cartesian product, first key slowest, non-sweeps kept in place", () => {
    const p = plan(["a=1,2", "x=fixed", "b=10e0,0.5"]);
    expect(p.size).toBe(4);
    expect(all(p)).toEqual([
      ["a=1", "x=fixed", "b=10.0"],
      ["a=1", "x=fixed", "b=0.5"],
      ["a=2", "x=fixed", "b=10.0"],
      ["a=2", "x=fixed", "b=0.5"],
    ]);
    expect(p.params(3)).toEqual({ a: 2, b: 0.5 });
    const r = p.run(1);
    expect(r.map((o) => o.isSweep)).toEqual([false, false, false]);
    expect(r[2]).toMatchObject({ key: "b", value: { kind: "float", value: 0.5 }, input: "b=0.5" });
    expect(r[1]).toMatchObject({ key: "x", value: "fixed" });
  });

  it("no sweep is one run; prefixes and packages are spelled", () => {
    const p = plan(["+a.b=1.0", "++c=TRUE", "~d", "db@pkg=mysql", "s=a b"]);
    expect(p.size).toBe(1);
    expect(p.spelled(0)).toEqual(["+a.b=1.0", "++c=True", "~d", "db@pkg=mysql", "s=a\\ b"]);
    expect(p.params(0)).toEqual({});
  });

  it("range: ints, floats (Hydra's FloatRange), negative steps", () => {
    expect(all(plan(["n=range(5)"])).flat()).toEqual(["n=0", "n=1", "n=2", "n=3", "n=4"]);
    expect(all(plan(["n=range(0,5,2)"])).flat()).toEqual(["n=0", "n=2", "n=4"]);
    expect(all(plan(["n=range(-5,step=-1)"])).flat()).toEqual(["n=0", "n=-1", "n=-2", "n=-3", "n=-4"]);
    // Repeated addition, as Hydra does: the last value is 9.899999999999999, not 9.9.
    expect(all(plan(["n=range(0,10,3.3)"])).flat()).toEqual(["n=0.0", "n=3.3", "n=6.6", "n=9.899999999999999"]);
    expect(all(plan(["n=range(10.0,5.0,-2)"])).flat()).toEqual(["n=10.0", "n=8.0", "n=6.0"]);
    expect(all(plan(["n=float(range(1,3))"])).flat()).toEqual(["n=1.0", "n=2.0"]);
    expect(plan(["n=range(0,2,0.5)"]).params(3)).toEqual({ n: 1.5 });
    expect(sweepErr(() => plan(["n=range(10,1)"])).message).toMatch(/range\(\) produced no values/);
  });

  it("sort and shuffle", () => {
    expect(all(plan(["n=sort(range(1,4),reverse=true)"])).flat()).toEqual(["n=3", "n=2", "n=1"]);
    const a = all(plan(["n=shuffle(range(20),seed=7)"])).flat();
    expect(all(plan(["n=shuffle(range(20),seed=7)"])).flat()).toEqual(a);
    expect([...a].sort()).toEqual(all(plan(["n=range(20)"])).flat().sort());
    expect(a).not.toEqual(all(plan(["n=range(20)"])).flat());
    expect(all(plan(["n=shuffle(range(20),seed=8)"])).flat()).not.toEqual(a);
    // Unseeded shuffles use the injected random source.
    expect(all(plan(["n=shuffle(1,2,3)"], { random: () => 0 })).flat()).toEqual(["n=2", "n=3", "n=1"]);
  });

  it("glob selects from the config group's options", () => {
    const groupOptions = (g: string): string[] => (g === "schema" ? ["school", "support", "warehouse"] : []);
    expect(all(plan(["schema=glob(*)"], { groupOptions })).flat()).toEqual(["schema=school", "schema=support", "schema=warehouse"]);
    expect(all(plan(["schema=glob(*,exclude=support)"], { groupOptions })).flat()).toEqual(["schema=school", "schema=warehouse"]);
    expect(all(plan(["schema=glob([s*,w*],exclude=school)"], { groupOptions })).flat()).toEqual(["schema=support", "schema=warehouse"]);
    expect(all(plan(["schema=glob(?chool)"], { groupOptions })).flat()).toEqual(["schema=school"]);
    expect(sweepErr(() => plan(["schema=glob(x*)"], { groupOptions })).message).toMatch(/matched no option of config group 'schema'/);
    expect(sweepErr(() => plan(["schema=glob(*)"])).code).toBe("E_SWEEP");
  });

  it("a value listed twice gives one run", () => {
    const p = plan(["a=1,2,1", "b=x,y"]);
    expect(all(p)).toEqual([
      ["a=1", "b=x"],
      ["a=1", "b=y"],
      ["a=2", "b=x"],
      ["a=2", "b=y"],
    ]);
    // 1 and 1.0 are different Hydra values, so both stay.
    expect(plan(["a=1,1.0"]).size).toBe(2);
  });

  it("isSweepOverride", () => {
    const [a, b] = parseOverrides(["a=1,2", "b=[1,2]"]);
    expect(isSweepOverride(a!)).toBe(true);
    expect(isSweepOverride(b!)).toBe(false);
  });

  it("rejects indices outside the plan", () => {
    const p = plan(["a=1,2"]);
    expect(() => p.spelled(2)).toThrow(RangeError);
    expect(() => p.run(-1)).toThrow(RangeError);
    expect(() => p.params(0.5)).toThrow(RangeError);
  });
});

describe("project-file grids", () => {
  it("one grid: lists, sweep-grammar strings and scalars; CLI sweeps multiply", () => {
    const p = plan(["opt=adam,sgd"], { grids: { lr: [0.1, 0.01], seed: "range(2)", epochs: 3 } });
    expect(p.size).toBe(8);
    expect(p.spelled(0)).toEqual(["lr=0.1", "seed=0", "epochs=3", "opt=adam"]);
    expect(p.spelled(1)).toEqual(["lr=0.1", "seed=0", "epochs=3", "opt=sgd"]);
    expect(p.spelled(7)).toEqual(["lr=0.01", "seed=1", "epochs=3", "opt=sgd"]);
    expect(p.params(7)).toEqual({ lr: 0.01, seed: 1, opt: "sgd" });
  });

  // Hydra's BasicSweeper puts hydra.sweeper.params first and the command line after, and a later
  // override of the same key keeps the first one's place (an ordered dict): with Hydra 1.3.2,
  // `-m lr=0.5` over params {lr, model} runs `lr=0.5 model=small`, then `lr=0.5 model=big`.
  it("a key given on the command line replaces it in every grid, in its place (as Hydra's params)", () => {
    const grids = [{ lr: [0.1, 0.01], seed: [1, 2] }, { lr: "0.5", seed: [3] }];
    const p = plan(["lr=1e-3,1e-4"], { grids });
    expect(all(p)).toEqual([
      ["lr=0.001", "seed=1"],
      ["lr=0.001", "seed=2"],
      ["lr=0.0001", "seed=1"],
      ["lr=0.0001", "seed=2"],
      ["lr=0.001", "seed=3"],
      ["lr=0.0001", "seed=3"],
    ]);
    expect(p.params(2)).toEqual({ lr: 0.0001, seed: 1 });
    // A fixed value takes the place too, and is no parameter.
    const f = plan(["lr=5"], { grids: { lr: [0.1, 0.01], seed: [1, 2] } });
    expect(all(f)).toEqual([
      ["lr=5", "seed=1"],
      ["lr=5", "seed=2"],
    ]);
    expect(f.params(1)).toEqual({ seed: 2 });
    expect(all(plan(["seed=9"], { grids })).map((r) => r.join(" "))).toEqual(["lr=0.1 seed=9", "lr=0.01 seed=9", "lr=0.5 seed=9"]);
  });

  it("zip pairs lists as one axis", () => {
    const p = plan([], { grids: { zip: { model: ["small", "large"], bs: [64, 16] }, seed: [0, 1] } });
    expect(all(p)).toEqual([
      ["model=small", "bs=64", "seed=0"],
      ["model=small", "bs=64", "seed=1"],
      ["model=large", "bs=16", "seed=0"],
      ["model=large", "bs=16", "seed=1"],
    ]);
    expect(p.params(2)).toEqual({ model: "large", bs: 16, seed: 0 });
  });

  it("a command-line key replaces one member of a zip; the rest stay paired", () => {
    const p = plan(["bs=8"], { grids: { zip: { model: ["small", "large"], bs: [64, 16], lr: [0.1, 0.2] } } });
    expect(all(p).map((r) => r.join(" "))).toEqual(["model=small lr=0.1 bs=8", "model=large lr=0.2 bs=8"]);
  });

  it("zip lists of unequal length are an error naming keys and lengths", () => {
    const e = sweepErr(() => plan([], { grids: { zip: { a: [1, 2, 3], b: [1, 2] } }, gridSource: { file: "corral.yaml", line: 4, key: "sweep" } }));
    expect(e.code).toBe("E_SWEEP");
    expect(e.message).toContain("a has 3, b has 2");
    expect(e.location).toMatchObject({ file: "corral.yaml", line: 4, key: "sweep.zip" });
  });

  it("concatenated grids drop runs an earlier grid already made", () => {
    const p = plan([], {
      grids: [
        { model: ["a", "b"], lr: [0.1, 0.01] },
        { model: ["b", "c"], lr: [0.1] },
        { lr: "0.1", model: "a" }, // same keys in another order, fully covered by grid 0
        { model: ["c"] }, // other key set: never a duplicate
      ],
    });
    expect(all(p).map((r) => r.join(" "))).toEqual([
      "model=a lr=0.1",
      "model=a lr=0.01",
      "model=b lr=0.1",
      "model=b lr=0.01",
      "model=c lr=0.1",
      "model=c",
    ]);
  });

  it("dedup across grids with zip axes compares the tuples", () => {
    const p = plan(["s=1,2"], {
      grids: [{ zip: { a: [1, 2], b: [10, 20] } }, { a: [1, 2], b: [10, 30] }],
    });
    expect(all(p).map((r) => r.join(" "))).toEqual([
      "a=1 b=10 s=1",
      "a=1 b=10 s=2",
      "a=2 b=20 s=1",
      "a=2 b=20 s=2",
      "a=1 b=30 s=1",
      "a=1 b=30 s=2",
      "a=2 b=10 s=1",
      "a=2 b=10 s=2",
      "a=2 b=30 s=1",
      "a=2 b=30 s=2",
    ]);
    expect(p.params(4)).toEqual({ a: 1, b: 30, s: 1 });
  });

  it("grid errors name the key", () => {
    const e = sweepErr(() => plan([], { grids: { lr: "range(1,2,0)" } }));
    expect(e.code).toBe("E_SWEEP");
    expect(e.location?.key).toBe("sweep.lr");
    expect(e.message).toMatch(/step must not be zero/);
    expect(sweepErr(() => plan([], { grids: [{ a: [] }] })).location?.key).toBe("sweep[0].a");
    expect(sweepErr(() => plan([], { grids: ["x"] })).message).toMatch(/must be a map/);
  });

  it("YAML values keep their types; strings in lists are literal", () => {
    const p = plan([], { grids: { v: ["a,b", null, true, 0.5, 3, [1, 2], { k: "v" }] } });
    expect(all(p).flat()).toEqual(["v=a\\,b", "v=null", "v=True", "v=0.5", "v=3", "v=[1,2]", "v={k:v}"]);
    expect(p.params(0)).toEqual({ v: "a,b" });
  });
});

describe("laziness", () => {
  it("a million-run plan decodes any run without materialising the rest", () => {
    const args = Array.from({ length: 10 }, (_, k) => `k${k}=1,2,3,4`);
    const p = plan(args);
    expect(p.size).toBe(4 ** 10);
    expect(p.spelled(0)).toEqual(args.map((_, k) => `k${k}=1`));
    expect(p.spelled(p.size - 1)).toEqual(args.map((_, k) => `k${k}=4`));
    // i = 1*4^9 + 2: k0 is the slowest digit, k9 the fastest.
    expect(p.spelled(4 ** 9 + 2)).toEqual(args.map((_, k) => `k${k}=${k === 0 ? 2 : k === 9 ? 3 : 1}`));
  });
});

describe("a sweep over ten million runs", () => {
  it("three command-line ranges of ten million values each: refused from their bounds, before any value is made (exit 2, the axes named)", () => {
    const before = process.memoryUsage().heapUsed;
    const e = thrownCorralError(() => plan(["a=range(10000000)", "b=range(10000000)", "c=range(0,10000000)"]));
    expect(e.code).toBe("E_SWEEP");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("a: the sweep has 1e+21 runs (at most 10000000): a (10000000) x b (10000000) x c (10000000)");
    expect(e.location).toEqual({ file: "<command line>", key: "a" });
    // Made, one axis of ten million values alone is over a gigabyte.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 << 20);
  });
  it("a project grid times the command line: placed at the largest axis, the project's sweep key", () => {
    const e = thrownCorralError(() => plan(["opt=adam,sgd"], { grids: { lr: "range(5000)", seed: "range(1001)" } }));
    expect(e.message).toBe("lr: the sweep has 10010000 runs (at most 10000000): lr (5000) x seed (1001) x opt (2)");
    expect(e.location).toEqual({ file: "corral.yaml", key: "sweep.lr" });
    // Exactly at the limit is a plan (lazy: nothing composed here).
    expect(plan(["opt=adam,sgd"], { grids: { lr: "range(5000)", seed: "range(1000)" } }).size).toBe(10_000_000);
  });
  it("one range of more than ten million values keeps its own message", () => {
    expect(thrownCorralError(() => plan(["a=range(0,100000000)", "b=1,2"])).message).toBe("a: range(0,100000000,1) has 100000000 values (at most 10000000)");
  });
});

describe("counting a sweep before making it", () => {
  it("a choice's repeated value counts once, as on its axis: a sweep just under the limit is a plan", () => {
    expect(plan(["a=1,1,2", "b=range(5000000)"]).size).toBe(10_000_000);
  });
  it("counting draws nothing from the random source: an unseeded shuffle of 4 values draws 3 numbers, once", () => {
    let draws = 0;
    const random = (): number => (draws++ % 7) / 7;
    const p = plan(["x=shuffle(1,2,3,4)"], { random });
    expect(draws).toBe(3);
    expect(new Set([0, 1, 2, 3].map((i) => p.spelled(i)[0]))).toEqual(new Set(["x=1", "x=2", "x=3", "x=4"]));
  });

});
