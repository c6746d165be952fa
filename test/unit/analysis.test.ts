import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { formatImportance } from "../../src/engine/analysis-view.js";
import { bestSoFar, compareSweeps, flattenConfig, parameterImportance, type AnalysisRun } from "../../src/plan/analysis.js";

/** Every combination of the given values, as params. */
const grid = (axes: Record<string, unknown[]>): Array<Record<string, unknown>> =>
  Object.entries(axes).reduce<Array<Record<string, unknown>>>((acc, [k, vs]) => acc.flatMap((p) => vs.map((v) => ({ ...p, [k]: v }))), [{}]);

/** A deterministic pseudo-random stream in [0, 1) (a linear congruential generator). */
const lcg = (seed: number): (() => number) => {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
};

describe("parameterImportance", () => {
  it("a metric that depends on one parameter only: that parameter ≈ 1, the others ≈ 0", () => {
    const runs: AnalysisRun[] = grid({ lr: [0.001, 0.01, 0.1], width: [32, 64, 128], seed: [0, 1, 2] }).map((p) => ({ params: p, value: Math.log10(p.lr as number) ** 2 }));
    const r = parameterImportance(runs, ["lr", "width", "seed"]);
    expect(r.runs).toBe(27);
    expect(r.params.map((x) => x.param)).toEqual(["lr", "seed", "width"]);
    expect(r.params[0]!.importance).toBeCloseTo(1, 12);
    expect(r.params[0]!.explained).toBeCloseTo(1, 12);
    // On a balanced grid their means are all equal: exactly 0, not rounding noise (was ~1e-17, shown as 4.9e-18).
    expect(r.params[1]!.importance).toBe(0);
    expect(r.params[2]!.importance).toBe(0);
  });

  it("a parameter whose means are all equal explains exactly 0, not floating-point noise", () => {
    // Summing 0.4 + 0.2444 + 0.1 in another order leaves fmt's between-sum of squares at ~2e-31.
    const runs = ["a", "b", "c"].flatMap((fmt) => [0.4, 0.2444, 0.1].map((value, lr) => ({ params: { fmt, lr }, value })));
    const r = parameterImportance(runs, ["fmt", "lr"]);
    expect(r.params.map((x) => [x.param, x.explained, x.importance])).toEqual([["lr", 1, 1], ["fmt", 0, 0]]);
  });

  it("two independent additive effects with variances 4:1 on a grid: 0.8 / 0.2", () => {
    // Effects with mean 0 and population variance 4 (±2) and 1 (±1), on a balanced grid.
    const a = { x0: -2, x1: 2 } as Record<string, number>;
    const b = { z0: -1, z1: 1, z2: 1, z3: -1 } as Record<string, number>;
    const runs = grid({ x: Object.keys(a), z: Object.keys(b) }).map((p) => ({ params: p, value: 10 + a[p.x as string]! + b[p.z as string]! }));
    const r = parameterImportance(runs, ["z", "x"]);
    expect(r.variance).toBeCloseTo(5, 12);
    expect(r.params.map((x) => [x.param, Number(x.importance.toFixed(12))])).toEqual([["x", 0.8], ["z", 0.2]]);
    // Additive and balanced: the shares explain everything.
    expect(r.params[0]!.explained + r.params[1]!.explained).toBeCloseTo(1, 12);
  });

  it("continuous parameters are binned into quantiles; an irrelevant one stays small", () => {
    const rnd = lcg(7);
    const runs = Array.from({ length: 400 }, () => {
      const lr = 10 ** (-5 + 4 * rnd());
      const drop = rnd() * 0.5;
      return { params: { lr, drop }, value: Math.log10(lr) + 0.05 * (rnd() - 0.5) };
    });
    const r = parameterImportance(runs, ["drop", "lr"]);
    expect(r.params[0]!.param).toBe("lr");
    expect(r.params[0]!.binned).toBe(true);
    expect(r.params[0]!.levels).toBe(10);
    expect(r.params[0]!.importance).toBeGreaterThan(0.9);
    expect(r.params[1]!.importance).toBeLessThan(0.1);
  });

  it("ignores non-finite values and parameters with one value; a constant metric explains nothing", () => {
    const runs = [
      { params: { a: 1, b: "x" }, value: 3 },
      { params: { a: 2, b: "x" }, value: 3 },
      { params: { a: 3, b: "x" }, value: Number.NaN },
    ];
    const r = parameterImportance(runs, ["a", "b"]);
    expect(r.runs).toBe(2);
    expect(r.params).toEqual([{ param: "a", levels: 2, binned: false, explained: 0, importance: 0 }]);
  });
});

describe("compareSweeps", () => {
  const side = (values: Array<[number, number, string]>, config: Record<string, unknown>) => ({
    runs: values.map(([lr, v, state], i) => ({ index: i, state, params: { lr, seed: i % 2 }, value: v })),
    config: flattenConfig(config),
  });

  it("summaries, best runs, means per shared value and the config keys that differ", () => {
    const a = side([[0.1, 1, "succeeded"], [0.1, 3, "succeeded"], [0.2, 5, "succeeded"], [0.2, 100, "failed"]], { lr: 0.1, seed: 0, model: { width: 64, depth: 2 } });
    const b = side([[0.2, 2, "succeeded"], [0.2, 4, "succeeded"], [0.3, 6, "succeeded"]], { lr: 0.2, seed: 1, model: { width: 128, depth: 2 }, extra: true });
    const c = compareSweeps(a, b, "loss", "min", 2);
    expect(c.sides[0]).toMatchObject({ runs: 4, succeeded: 3, withMetric: 3, mean: 3, std: 2 });
    expect(c.sides[0]!.best.map((r) => r.value)).toEqual([1, 3]);
    expect(c.sides[1]!.best.map((r) => r.index)).toEqual([0, 1]);
    expect(c.shared.map((s) => s.param)).toEqual(["lr", "seed"]);
    expect(c.shared[0]!.values).toEqual([
      { value: 0.1, a: { mean: 2, n: 2 } },
      { value: 0.2, a: { mean: 5, n: 1 }, b: { mean: 3, n: 2 } },
      { value: 0.3, b: { mean: 6, n: 1 } },
    ]);
    expect(c.configDiff).toEqual([{ key: "extra", b: true }, { key: "model.width", a: 64, b: 128 }]);
    expect(compareSweeps(a, b, "loss", "max", 1).sides[0]!.best[0]!.value).toBe(5);
  });
});

describe("bestSoFar", () => {
  const trials = [
    { number: 0, state: "failed" as const },
    { number: 1, state: "complete" as const, value: 3 },
    { number: 3, state: "complete" as const, value: 1 },
    { number: 2, state: "pruned" as const, value: 0.5 },
    { number: 4, state: "complete" as const, value: 2 },
    { number: 5, state: "running" as const },
  ];
  it("by trial number, complete trials only, in the objective's direction", () => {
    expect(bestSoFar(trials, "min")).toEqual([undefined, 3, 3, 1, 1, 1]);
    expect(bestSoFar(trials, "max")).toEqual([undefined, 3, 3, 3, 3, 3]);
  });
});

describe("formatImportance --format csv", () => {
  it("quotes a name holding a comma, a quote or a newline, so a CSV reader reads it back", () => {
    const name = 'opt, "kind"\nB';
    const r = parameterImportance(grid({ [name]: ["a", "b"], seed: [0, 1] }).map((p) => ({ params: p, value: p[name] === "a" ? 0 : 2 })), [name, "seed"]);
    expect(parse(formatImportance({ metric: "m", ...r }, "csv"))).toEqual([
      ["param", "importance", "explained", "levels"],
      [name, "1", "1", "2"],
      ["seed", "0", "0", "2"],
    ]);
  });
});
