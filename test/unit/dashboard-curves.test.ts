import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDashboardApp } from "../../src/dashboard/app.js";
import { CURVE_POINTS, CURVES_MAX, likelyMode, mostInformative, parseRunList, stepKeyOf, thin, timeAt, valueAt } from "../../src/dashboard/curves.js";
import { StoreWatcher, type RunRow } from "../../src/dashboard/live.js";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { indexSweep, writeManifest, writeRunStatus } from "../../src/store/store.js";

const TOKEN = "t0k3n-for-tests-0123456789abcdef";
const NOW = 1_800_000_000_000;
const RUNS = CURVES_MAX + 10;

const row = (index: number, metrics: RunRow["metrics"]): RunRow => ({ index, id: `r${index}`, state: "succeeded", attempt: 1, params: {}, overrides: [], metrics });

describe("the most informative metric", () => {
  it("is a study's objective when runs log it", () => {
    const rows = [row(0, { loss: 1, acc: 0.1 }), row(1, { loss: 1.1, acc: 0.9 })];
    const search = { sampler: "tpe", budget: 2, objective: { metric: "loss", mode: "min" }, seed: 0, space: {}, base: [] } as unknown as SweepManifest["search"];
    expect(mostInformative(rows, ["loss", "acc"], { search })).toEqual({ metric: "loss", why: "objective" });
  });

  it("else the metric whose final values spread most relative to their size, never a step, epoch or time key", () => {
    // step spreads most but is a counter; acc 0.1..0.9 spreads (0.8/1.0) more than loss 1..1.1 (0.1/2.1).
    const rows = [row(0, { step: 10, epoch: 1, time: 5, loss: 1, acc: 0.1 }), row(1, { step: 99, epoch: 9, time: 500, loss: 1.1, acc: 0.9 })];
    const got = mostInformative(rows, ["step", "epoch", "time", "loss", "acc"]);
    expect(got.metric).toBe("acc");
    expect(got.score).toBeCloseTo(0.8);
  });

  it("leaves out a metric fewer than half the runs logged", () => {
    const rows = [row(0, { loss: 1, rare: 0 }), row(1, { loss: 2 }), row(2, { loss: 3 })];
    expect(mostInformative(rows, ["loss", "rare"]).metric).toBe("loss");
  });
});

describe("helpers", () => {
  it("wall time at each x by interpolation, from the first logged time", () => {
    expect(timeAt([0, 5, 10, 20], [[0, 100], [10, 110]])).toEqual([0, 5, 10, 10]);
    expect(timeAt([1], [])).toBeUndefined();
  });
  it("a counter key for runs without steps: the first of STEP_KEYS logged on several lines, never decreasing", () => {
    expect(stepKeyOf({ epoch: [[0, 0], [1, 0], [2, 1]], loss: [[0, 3]] })?.key).toBe("epoch");
    expect(stepKeyOf({ global_step: [[0, 10], [1, 20]], epoch: [[0, 0], [1, 0]] })?.key).toBe("global_step");
    expect(stepKeyOf({ epoch: [[0, 2], [1, 1]] })).toBeUndefined();
    expect(stepKeyOf({ epoch: [[0, 0]] })).toBeUndefined();
    expect(valueAt([0, 1, 3], [[0, 0], [2, 10]])).toEqual([0, 5, 10]);
  });
  it("guesses lower is better from loss- and error-like names only", () => {
    for (const m of ["loss", "val_loss", "train/loss", "valLoss", "top1_err", "error_rate", "mse", "val.rmse", "ppl", "regret"]) expect(likelyMode(m), m).toBe("min");
    for (const m of ["acc", "val_acc", "f1", "bleu", "glossary_size", "reward", "auc"]) expect(likelyMode(m), m).toBe("max");
  });
  it("a long curve is thinned to CURVE_POINTS, keeping its ends and its spike", () => {
    const pts = Array.from({ length: 4000 }, (_, i): [number, number] => [i, i === 2345 ? 50 : Math.sin(i / 100)]);
    const got = thin(pts);
    expect(got.length).toBeLessThanOrEqual(CURVE_POINTS);
    expect(got[0]).toEqual(pts[0]);
    expect(got.at(-1)).toEqual(pts.at(-1));
    expect(got).toContainEqual([2345, 50]);
    expect(thin(pts.slice(0, 10))).toEqual(pts.slice(0, 10));
  });
  it("run lists", () => {
    expect(parseRunList("3,1,3")).toEqual([3, 1]);
    expect(parseRunList("1,,2")).toBeUndefined();
    expect(parseRunList("../1")).toBeUndefined();
  });
});

describe("/api/curves", () => {
  let project: string;
  beforeEach(() => {
    project = mkdtempSync(path.join(tmpdir(), "corral-curves-"));
    const dir = path.join(project, "multirun", "s1");
    const manifest: SweepManifest = {
      type: "sweep", version: 1, id: "s1", kind: "sweep", createdAt: NOW, dir, projectDir: project,
      command: ["python3", "train.py"], overrides: [], launcher: "local",
      runs: Array.from({ length: RUNS }, (_, i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [`k=${i}`], params: { k: i } })),
      jobs: [],
    };
    for (const r of manifest.runs) {
      const rd = path.join(dir, r.dir);
      mkdirSync(rd, { recursive: true });
      const st: RunStatusRecord = { type: "run-status", version: 1, runId: r.id, index: r.index, state: "succeeded", attempt: 1, updatedAt: NOW, history: [] };
      writeRunStatus(rd, st);
      // loss = k / (step + 1); time 100 + 2 s per step, except run 1 (no time key)
      const lines = [0, 1, 2].map((s) => JSON.stringify({ step: s, loss: r.index / (s + 1), ...(r.index === 1 ? {} : { time: 100 + 2 * s }) }));
      writeFileSync(path.join(rd, "metrics.jsonl"), lines.join("\n") + "\n");
    }
    writeManifest(manifest);
    indexSweep(project, manifest);
  });
  afterEach(() => rmSync(project, { recursive: true, force: true }));

  const get = async (p: string): Promise<Response> => {
    const watcher = new StoreWatcher(project, { now: () => NOW });
    watcher.poll();
    return createDashboardApp({ watcher, token: TOKEN }).request(p, { headers: { "x-corral-token": TOKEN } });
  };
  type Curves = { metric: string; matched: number; cut: boolean; runs: Array<{ index: number; x: number[]; y: number[]; t?: number[] }> };

  it("one metric of the listed runs, with wall time when the run logs it", async () => {
    const c = (await (await get("/api/curves/s1?metric=loss&runs=4,1")).json()) as Curves;
    expect(c.runs.map((r) => r.index)).toEqual([4, 1]);
    expect(c.runs[0]).toMatchObject({ x: [0, 1, 2], y: [4, 2, 4 / 3], t: [0, 2, 4] });
    expect(c.runs[1]!.t).toBeUndefined();
    expect(c.cut).toBe(false);
  });

  it("the runs a filter keeps, in the table's order, cut at CURVES_MAX; the default metric is the informative one", async () => {
    const c = (await (await get("/api/curves/s1?filter=k>2&sort=k&dir=desc")).json()) as Curves;
    expect(c.metric).toBe("loss");
    expect(c.matched).toBe(RUNS - 3);
    expect(c.cut).toBe(true);
    expect(c.runs).toHaveLength(CURVES_MAX);
    expect(c.runs[0]!.index).toBe(RUNS - 1);
    const d = (await (await get("/api/sweep/s1")).json()) as { informative: { metric: string } };
    expect(d.informative.metric).toBe("loss");
  });

  it("a run that logs no step is charted against the epoch it logs, not its line number", async () => {
    // Run 2 logs as Lightning's CSVLogger does: two lines per epoch, no `step` key.
    const rd = path.join(project, "multirun", "s1", "2");
    const lines = [0, 0, 1, 1, 2, 2].map((e, i) => JSON.stringify(i % 2 ? { epoch: e, val_loss: 10 - e } : { epoch: e, loss: 5 - e, time: 50 + 3 * i }));
    writeFileSync(path.join(rd, "metrics.jsonl"), lines.join("\n") + "\n");
    const c = (await (await get("/api/curves/s1?metric=val_loss&runs=2")).json()) as Curves & { runs: Array<{ xKey: string }> };
    expect(c.runs[0]).toMatchObject({ index: 2, xKey: "epoch", x: [0, 1, 2], y: [10, 9, 8] });
    // wall time still at the lines' times (line 1, 3, 5 between the logged times of lines 0, 2, 4)
    expect(c.runs[0]!.t).toEqual([3, 9, 12]);
    const l = (await (await get("/api/curves/s1?metric=loss&runs=4")).json()) as { runs: Array<{ xKey: string; x: number[] }> };
    expect(l.runs[0]).toMatchObject({ xKey: "step", x: [0, 1, 2] });
    // charting the epoch itself keeps the line number
    const e = (await (await get("/api/curves/s1?metric=epoch&runs=2")).json()) as { runs: Array<{ xKey: string; x: number[] }> };
    expect(e.runs[0]).toMatchObject({ xKey: "line", x: [0, 1, 2, 3, 4, 5] });
  });

  it("importance and two sweeps open on the most informative metric, two sweeps lower-is-better for a loss", async () => {
    const imp = (await (await get("/api/importance/s1")).json()) as { metric: string };
    expect(imp.metric).toBe("loss");
    const vs = (await (await get("/api/vs/s1/s1")).json()) as { metric: string; mode: string };
    expect(vs).toMatchObject({ metric: "loss", mode: "min" });
    const asked = (await (await get("/api/vs/s1/s1?metric=time")).json()) as { metric: string; mode: string };
    expect(asked).toMatchObject({ metric: "time", mode: "max" });
  });

  it("refuses a malformed run list", async () => {
    expect((await get("/api/curves/s1?runs=1;2")).status).toBe(400);
    expect((await get("/api/curves/nope?runs=1")).status).toBe(404);
  });
});
