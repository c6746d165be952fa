import { describe, expect, it } from "vitest";
import { formatGrouped, groupResults, type ResultsTable } from "../../src/engine/inspect.js";
import { ConfigFloat } from "../../src/plan/float.js";

const table = (rows: ResultsTable["rows"]): ResultsTable => ({ columns: [], paramColumns: ["lr", "seed"], metricColumns: ["step", "loss", "acc"], rows });

describe("corral results --over", () => {
  const t = table([
    { run: 0, lr: new ConfigFloat(1), seed: 0, state: "succeeded", step: 3, loss: 1, acc: 0.5 },
    { run: 1, lr: new ConfigFloat(1), seed: 1, state: "succeeded", step: 3, loss: 3 },
    { run: 2, lr: 0.1, seed: 0, state: "failed" },
    { run: 3, lr: 0.1, seed: 1, state: "succeeded", step: 3, loss: 0.5, acc: 0.9 },
  ]);

  it("groups by the other parameters in first-run order; step is not a metric to average", () => {
    const g = groupResults(t, ["seed"]);
    expect(g.keys).toEqual(["lr"]);
    expect(g.metrics).toEqual(["loss", "acc"]);
    expect(g.rows.map((r) => [Number(r.params.lr), r.n])).toEqual([[1, 2], [0.1, 2]]);
    expect(g.rows[0]!.stats.loss).toEqual({ n: 2, mean: 2, std: Math.SQRT2, min: 1, max: 3 });
    // one value: no std; a run without the metric counts in n but not in the stats
    expect(g.rows[0]!.stats.acc).toEqual({ n: 1, mean: 0.5, min: 0.5, max: 0.5 });
    expect(g.rows[1]!.stats.loss).toEqual({ n: 1, mean: 0.5, min: 0.5, max: 0.5 });
  });

  it("--best sorts groups by the metric's mean", () => {
    expect(groupResults(t, ["seed"], { metric: "loss", mode: "min" }).rows.map((r) => Number(r.params.lr))).toEqual([0.1, 1]);
  });

  it("prints mean ± std with (k/n) in tables, and _mean/_std/_min/_max (and _n where partial) in csv", () => {
    const g = groupResults(t, ["seed"]);
    const text = formatGrouped(g, "table").split("\n");
    expect(text[0]).toMatch(/^lr\s+n\s+loss \(mean ± std\)\s+loss min\.\.max\s+acc \(mean ± std\)\s+acc min\.\.max$/);
    expect(text[2]).toMatch(/^1\.0\s+2\s+2 ± 1\.414\s+1\.\.3\s+0\.5 \(1\/2\)\s+0\.5\.\.0\.5$/);
    const csv = formatGrouped(g, "csv").split("\n");
    expect(csv[0]).toBe("lr,n,loss_mean,loss_std,loss_min,loss_max,loss_n,acc_mean,acc_std,acc_min,acc_max,acc_n");
    expect(csv[2]).toBe("0.1,2,0.5,,0.5,0.5,1,0.9,,0.9,0.9,1");
    expect(formatGrouped(g, "md").split("\n")[1]).toBe("| --- | ---: | ---: | ---: | ---: | ---: |");
  });
});
