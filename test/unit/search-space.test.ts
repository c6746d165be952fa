// Search spaces: each override form maps as the Hydra Optuna sweeper maps it (hydra_optuna_sweeper
// 1.3.2 _impl.py), the project file's DistributionConfig map, and the errors of both.
import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { ConfigFloat } from "../../src/plan/float.js";
import { parseOverrides } from "../../src/plan/overrides.js";
import { formatOverrideTerm } from "../../src/plan/pyformat.js";
import { spaceFromOverrides, spaceFromYaml, trialOverrides } from "../../src/plan/search/space.js";
import type { Distribution } from "../../src/plan/search/types.js";
import { expandSweep } from "../../src/plan/sweep.js";

const dist = (text: string): Distribution => {
  const s = spaceFromOverrides(parseOverrides([text]));
  expect(s.params).toHaveLength(1);
  return s.params[0]!.dist;
};

function fails(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    return e as CorralError;
  }
  throw new Error("expected a CorralError");
}

describe("space from overrides (the Optuna sweeper's mapping)", () => {
  it("choice and the comma form are categorical; the spelled choices keep floats floats", () => {
    expect(dist("width=choice(64,128,256)")).toEqual({ type: "categorical", choices: [64, 128, 256], spelled: ["64", "128", "256"] });
    expect(dist("opt=adam,sgd")).toMatchObject({ type: "categorical", choices: ["adam", "sgd"] });
    expect(dist("lr=1.0,0.5")).toMatchObject({ choices: [1, 0.5], spelled: ["1.0", "0.5"] });
  });

  it("an int range is int uniform with high inclusive, moved down onto the step grid", () => {
    expect(dist("layers=range(2,6)")).toEqual({ type: "int", low: 2, high: 6, log: false, step: 1 });
    expect(dist("n=range(0,10,3)")).toEqual({ type: "int", low: 0, high: 9, log: false, step: 3 });
  });

  it("a range with a float is a discrete float uniform; a shuffled range is categorical", () => {
    expect(dist("p=range(0,1,0.25)")).toEqual({ type: "float", low: 0, high: 1, log: false, step: 0.25 });
    expect(dist("n=shuffle(range(3),seed=1)")).toMatchObject({ type: "categorical" });
    expect((dist("n=shuffle(range(3),seed=1)") as { choices: number[] }).choices.sort()).toEqual([0, 1, 2]);
  });

  it("interval is float uniform (Hydra makes its bounds floats); int(interval) is int; tag(log) is log", () => {
    expect(dist("dropout=interval(0,0.5)")).toEqual({ type: "float", low: 0, high: 0.5, log: false });
    expect(dist("x=interval(1,10)")).toEqual({ type: "float", low: 1, high: 10, log: false });
    expect(dist("x=int(interval(1,10))")).toEqual({ type: "int", low: 1, high: 10, log: false, step: 1 });
    expect(dist("lr=tag(log, interval(1e-5, 1e-1))")).toEqual({ type: "float", low: 1e-5, high: 0.1, log: true });
    expect(dist("bs=tag(log, int(interval(8, 512)))")).toEqual({ type: "int", low: 8, high: 512, log: true, step: 1 });
    // Only intervals read the log tag, as in the sweeper.
    expect(dist("n=tag(log, range(1,100))")).toMatchObject({ type: "int", log: false });
  });

  it("plain values are fixed overrides every trial gets; the issue's example builds four dimensions", () => {
    const s = spaceFromOverrides(
      parseOverrides(["lr=tag(log, interval(1e-5, 1e-1))", "width=choice(64,128,256)", "layers=range(2,6)", "dropout=interval(0,0.5)", "seed=1", "+extra=x"]),
    );
    expect(s.params.map((p) => p.name)).toEqual(["lr", "width", "layers", "dropout"]);
    expect(s.fixed).toEqual(["seed=1", "+extra=x"]);
    expect(trialOverrides(s, { lr: 0.001, width: 128, layers: 3, dropout: 0.25 })).toEqual(["lr=0.001", "width=128", "layers=3", "dropout=0.25", "seed=1", "+extra=x"]);
  });

  it("interval spells back as it was written", () => {
    for (const t of ["lr=interval(0.0,1.0)", "lr=tag(log,interval(1e-05,0.1))", "n=int(interval(1,10))", "n=tag(log,int(interval(1,10)))"]) {
      const o = parseOverrides([t])[0]!;
      expect(parseOverrides([formatOverrideTerm(o)])[0]!.value).toEqual(o.value);
    }
  });

  it.each([
    ["lr=interval(1,1)", /low \(1\) must be below high \(1\)/],
    ["lr=interval(1,0)", /must be below high/],
    ["lr=tag(log, interval(0, 1))", /a log scale needs low > 0/],
    ["n=range(5,0,-1)", /positive step/],
    ["db=glob(*)", /glob\(\) cannot be searched/],
    ["x=choice([1,2],[3])", /a choice must be a string, number, bool or null/],
  ])("%s is refused naming the override", (text, re) => {
    const e = fails(() => spaceFromOverrides(parseOverrides([text])));
    expect(e.message).toMatch(re);
    expect(e.message.startsWith(`${text}: `)).toBe(true);
    expect(e.location).toMatchObject({ file: "<command line>", key: text.split("=")[0] });
  });

  it("a key searched twice is refused", () => {
    expect(fails(() => spaceFromOverrides(parseOverrides(["a=1,2", "a=interval(0,1)"]))).message).toMatch(/searched twice/);
  });

  it("grids refuse interval() with the same message as before, on the command line and in the project file", () => {
    const msg = "interval() is for continuous samplers such as Optuna; use range() or a list";
    const cli = fails(() => expandSweep({ overrides: parseOverrides(["lr=interval(0,1)"]) }));
    expect(cli.message).toContain(msg);
    const file = fails(() => expandSweep({ overrides: [], grids: { lr: "tag(log, interval(1e-5, 1e-1))" } }));
    expect(file.message).toContain(msg);
    expect(file.location).toMatchObject({ file: "corral.yaml", key: "sweep.lr" });
  });
});

describe("space from the project file (DistributionConfig)", () => {
  const f = (v: number) => new ConfigFloat(v);

  it("maps type/low/high/step/log/choices, override spellings, lists and plain values", () => {
    const s = spaceFromYaml({
      lr: { type: "float", low: f(1e-5), high: f(0.1), log: true },
      width: { type: "categorical", choices: [64, 128, 256] },
      layers: { type: "int", low: 2, high: 6 },
      p: { type: "float", low: 0, high: 1, step: f(0.1) },
      dropout: "interval(0, 0.5)",
      act: ["relu", "gelu"],
      seed: 1,
    });
    expect(Object.fromEntries(s.params.map((p) => [p.name, p.dist]))).toEqual({
      lr: { type: "float", low: 1e-5, high: 0.1, log: true },
      width: { type: "categorical", choices: [64, 128, 256], spelled: ["64", "128", "256"] },
      layers: { type: "int", low: 2, high: 6, log: false, step: 1 },
      p: { type: "float", low: 0, high: 1, log: false, step: 0.1 },
      dropout: { type: "float", low: 0, high: 0.5, log: false },
      act: { type: "categorical", choices: ["relu", "gelu"], spelled: ["relu", "gelu"] },
    });
    expect(s.fixed).toEqual(["seed=1"]);
  });

  it.each([
    [{ lr: { type: "float", low: 1, high: 1 } }, "sweep.lr", /low \(1\) must be below high \(1\)/],
    [{ lr: { type: "float", low: 0, high: 1, log: true } }, "sweep.lr", /a log scale needs low > 0/],
    [{ w: { type: "categorical", choices: [] } }, "sweep.w", /non-empty list of choices/],
    [{ w: [] }, "sweep.w", /empty list/],
    [{ w: { type: "categorical" } }, "sweep.w", /non-empty list of choices/],
    [{ lr: { type: "float", low: 0, hihg: 1 } }, "sweep.lr", /unknown field 'hihg' \(did you mean 'high'\?\)/],
    [{ lr: { low: 0, high: 1 } }, "sweep.lr", /needs a type/],
    [{ lr: { type: "normal", low: 0, high: 1 } }, "sweep.lr", /unknown type 'normal'/],
    [{ n: { type: "int", low: 0.5, high: 3 } }, "sweep.n", /must be an integer/],
    [{ lr: { type: "float", low: f(1e-5), high: 1, log: true, step: 1 } }, "sweep.lr", /log and step/],
  ])("%j is refused naming the key", (map, key, re) => {
    const e = fails(() => spaceFromYaml(map, { file: "corral.yaml" }));
    expect(e.message).toMatch(re);
    expect(e.location).toMatchObject({ file: "corral.yaml", key });
  });
});
