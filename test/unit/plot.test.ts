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

  it("refuses to draw nothing, naming the metric and parameter", () => {
    const run = (): string => renderPlotSvg(grid(), { metric: "m", param: "nope" });
    expect(run).toThrow(CorralError);
    expect(run).toThrow(/parameter 'nope'.*metric 'm'/);
  });
});
