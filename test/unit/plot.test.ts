import { describe, expect, it } from "vitest";
import { aggregateMetric, groupPlotSeries, MAX_LINES, niceTicks, renderPlotSvg, type PlotPoint } from "../../src/dashboard/plot.js";
import { CorralError } from "../../src/errors.js";

const grid = (): PlotPoint[] => {
  const pts: PlotPoint[] = [];
  let run = 0;
  for (const lr of [0.1, 0.01, 0.001]) for (const seed of [0, 1]) pts.push({ run: run++, params: { lr, seed, model: "mlp" }, value: lr * 10 + seed });
  return pts;
};

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe("aggregateMetric", () => {
  const lines = [{ loss: 3 }, { loss: 1, acc: 0.5 }, { loss: "nan" }, { loss: 2 }, { other: 1 }];
  it("last, min and max over finite numbers only", () => {
    expect(aggregateMetric(lines, "loss", "last")).toBe(2);
    expect(aggregateMetric(lines, "loss", "min")).toBe(1);
    expect(aggregateMetric(lines, "loss", "max")).toBe(3);
    expect(aggregateMetric(lines, "acc", "last")).toBe(0.5);
  });
  it("undefined when the metric never appears as a number", () => {
    expect(aggregateMetric(lines, "missing", "last")).toBeUndefined();
    expect(aggregateMetric([{ loss: Infinity }], "loss", "max")).toBeUndefined();
  });
});

describe("groupPlotSeries", () => {
  it("one series per value of the other varying parameters; constant ones are ignored", () => {
    const d = groupPlotSeries(grid(), "lr");
    expect(d.groupKeys).toEqual(["seed"]);
    expect(d.series.map((s) => s.label)).toEqual(["seed=0", "seed=1"]);
    expect(d.series[0]!.points.map((p) => p.x)).toEqual([0.001, 0.01, 0.1]);
    expect(d.series[1]!.points.map((p) => p.y)).toEqual([1.01, 1.1, 2]);
    expect(d.categories).toBeUndefined();
  });
  it("string parameters become categories in first-seen order", () => {
    const pts: PlotPoint[] = [
      { run: 0, params: { opt: "sgd" }, value: 1 },
      { run: 1, params: { opt: "adam" }, value: 2 },
    ];
    const d = groupPlotSeries(pts, "opt");
    expect(d.categories).toEqual(["sgd", "adam"]);
    expect(d.series).toHaveLength(1);
    expect(d.series[0]!.label).toBe("all runs");
    expect(d.series[0]!.points.map((p) => [p.x, p.y])).toEqual([[0, 1], [1, 2]]);
  });
});

describe("niceTicks", () => {
  it("round steps covering the range", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97, 5)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(-1.3, 1.3, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
  });
});

describe("renderPlotSvg", () => {
  it("draws one line per series with a legend, labelled axes and a title", () => {
    const svg = renderPlotSvg(grid(), { metric: "val_loss", param: "lr" });
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(count(svg, /<polyline /g)).toBe(2);
    expect(count(svg, /<circle class="pt"/g)).toBe(6);
    expect(svg).toContain(">val_loss vs lr</text>");
    expect(svg).toMatch(/class="legend"[\s\S]*>seed=0<[\s\S]*>seed=1</);
    expect(svg).toMatch(/class="y-axis-label"[^>]*>val_loss</);
    // lr spans two decades: log axis with ticks at powers of ten
    expect(svg).toMatch(/class="x-axis-label"[^>]*>lr \(log scale\)</);
    expect(svg).toMatch(/>0\.001<\/text>[\s\S]*>0\.01<\/text>[\s\S]*>0\.1<\/text>/);
  });

  it("maps values to pixels: a larger metric is drawn higher", () => {
    const svg = renderPlotSvg(
      [
        { run: 0, params: { x: 1 }, value: 10 },
        { run: 1, params: { x: 2 }, value: 20 },
      ],
      { metric: "m", param: "x", width: 400, height: 300 },
    );
    const cs = [...svg.matchAll(/<circle class="pt" cx="([\d.]+)" cy="([\d.]+)"/g)].map((mm) => [Number(mm[1]), Number(mm[2])] as const);
    expect(cs).toHaveLength(2);
    expect(cs[1]![0]).toBeGreaterThan(cs[0]![0]);
    expect(cs[1]![1]).toBeLessThan(cs[0]![1]);
    for (const [x, y] of cs) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(400);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(300);
    }
    expect(svg).not.toContain("log scale");
    expect(svg).not.toContain('class="legend"');
  });

  it("escapes names and values that look like markup", () => {
    const svg = renderPlotSvg(
      [
        { run: 0, params: { "a<b": "<script>", k: 1 }, value: 1 },
        { run: 1, params: { "a<b": "x&y", k: 2 }, value: 2 },
      ],
      { metric: 'm"<1>', param: "a<b" },
    );
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;");
    expect(svg).toContain("x&amp;y");
    expect(svg).toContain("m&quot;&lt;1&gt;");
  });

  it("turns into a scatter beyond MAX_LINES series", () => {
    const pts: PlotPoint[] = [];
    for (let s = 0; s <= MAX_LINES; s++) for (const x of [1, 2]) pts.push({ run: pts.length, params: { x, seed: s }, value: s + x });
    const svg = renderPlotSvg(pts, { metric: "m", param: "x" });
    expect(count(svg, /<polyline /g)).toBe(0);
    expect(count(svg, /<circle class="pt"/g)).toBe(pts.length);
    expect(svg).toContain(`${pts.length} runs (${MAX_LINES + 1} combinations of seed)`);
  });

  it("a single point still gets a sane range", () => {
    const svg = renderPlotSvg([{ run: 0, params: { x: 5 }, value: 0 }], { metric: "m", param: "x" });
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(count(svg, /<circle class="pt"/g)).toBe(1);
  });

  it("draws a categorical parameter as points at evenly spaced categories, never joined", () => {
    const pts: PlotPoint[] = [];
    for (const model of ["mlp", "cnn", "vit"]) for (const seed of [0, 1]) pts.push({ run: pts.length, params: { model, seed }, value: model.length + seed });
    const svg = renderPlotSvg(pts, { metric: "acc", param: "model" });
    // Nothing joins the categories: no polyline, no path, no line inside a series.
    expect(count(svg, /<polyline /g)).toBe(0);
    expect(count(svg, /<path /g)).toBe(0);
    for (const g of svg.match(/<g class="series"[\s\S]*?<\/g>/g) ?? []) expect(g).not.toContain("<line");
    expect(count(svg, /<circle class="pt"/g)).toBe(pts.length);
    // One tick label per category, in sweep order, at evenly spaced positions.
    const ticks = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+">(mlp|cnn|vit)<\/text>/g)].map((mm) => [Number(mm[1]), mm[2]] as const);
    expect(ticks.map((t) => t[1])).toEqual(["mlp", "cnn", "vit"]);
    expect(ticks[1]![0] - ticks[0]![0]).toBeCloseTo(ticks[2]![0] - ticks[1]![0], 1);
    // The two seeds stand side by side around their category's tick.
    const xs = [...svg.matchAll(/<circle class="pt" cx="([\d.]+)"/g)].map((mm) => Number(mm[1]));
    const seeds = xs.slice(0, 3).map((x, i) => [x, xs[3 + i]!]);
    seeds.forEach(([a, b], i) => {
      expect(a).toBeLessThan(ticks[i]![0]);
      expect(b).toBeGreaterThan(ticks[i]![0]);
    });
    // Legend: markers only, no line samples.
    expect(svg).toMatch(/class="legend"[\s\S]*>seed=0<[\s\S]*>seed=1</);
    expect(svg.slice(svg.indexOf('class="legend"'))).not.toMatch(/<line /);
  });

  it("true/false values are categories too", () => {
    const svg = renderPlotSvg(
      [
        { run: 0, params: { aug: true }, value: 1 },
        { run: 1, params: { aug: false }, value: 2 },
      ],
      { metric: "m", param: "aug" },
    );
    expect(count(svg, /<polyline /g)).toBe(0);
    expect(svg).toMatch(/>true<\/text>[\s\S]*>false<\/text>/);
  });

  it("marks runs that ended without succeeding with a cross and a legend entry, off the lines", () => {
    const pts: PlotPoint[] = grid().map((p) => ({ ...p, state: "succeeded" }));
    pts[2] = { ...pts[2]!, state: "failed" };
    pts[5] = { ...pts[5]!, state: "timeout" };
    const svg = renderPlotSvg(pts, { metric: "loss", param: "lr" });
    expect(count(svg, /<circle class="pt"/g)).toBe(4);
    const marks = [...svg.matchAll(/<g class="pt failed" data-state="(\w+)"[^>]*>((?:<line [^>]*\/>){2})<title>([^<]*)<\/title><\/g>/g)];
    expect(marks.map((mm) => mm[1])).toEqual(["failed", "timeout"]);
    expect(marks[0]![3]).toMatch(/^run 2 \(failed\): seed=0; loss=/);
    expect(svg).toMatch(/class="legend-failed"[\s\S]*>1 failed<[\s\S]*>1 timeout</);
    // Each line joins only the two runs that did not fail.
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((mm) => mm[1]!.split(" ").length);
    expect(lines).toEqual([2, 2]);
    // The cross sits where the point would be: its centre is inside the frame.
    const [x1, , x2] = [...marks[0]![2]!.matchAll(/x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)"/g)][0]!.slice(1).map(Number);
    expect((x1! + x2!) / 2).toBeGreaterThan(70);
  });

  it("succeeded, running and unknown-state runs are plain points, and no failed legend without failures", () => {
    const pts = grid().map((p, i) => ({ ...p, state: (["succeeded", "running", "pending"] as const)[i % 3] }));
    const svg = renderPlotSvg(pts, { metric: "loss", param: "lr" });
    expect(count(svg, /<circle class="pt"/g)).toBe(pts.length);
    expect(svg).not.toContain("legend-failed");
    expect(svg).not.toContain('class="pt failed"');
  });

  it("a single series with a failed run still gets the failed legend", () => {
    const svg = renderPlotSvg(
      [
        { run: 0, params: { x: 1 }, value: 1, state: "succeeded" },
        { run: 1, params: { x: 2 }, value: 2, state: "cancelled" },
      ],
      { metric: "m", param: "x" },
    );
    expect(svg).not.toContain('class="legend"');
    expect(svg).toMatch(/class="legend-failed"[\s\S]*>1 cancelled</);
    expect(count(svg, /<polyline /g)).toBe(0);
  });

  it("refuses to draw nothing, naming the metric and parameter", () => {
    const run = (): string => renderPlotSvg(grid(), { metric: "m", param: "nope" });
    expect(run).toThrow(CorralError);
    expect(run).toThrow(/parameter 'nope'.*metric 'm'/);
  });
});
