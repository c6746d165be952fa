// A study's pure parts: settings from the command line and the project file (errors name the
// key), the grid a discrete space spans, trial records derived from a run's state and metrics,
// and ASHA's decision for a running trial from the metrics lines.
import { describe, expect, it } from "vitest";
import type { CorralError } from "../../src/errors.js";
import { ashaCheck, discreteGrid, rungValues, samplerOf, studySettings, trialRecord } from "../../src/plan/search/study.js";
import { spaceFromOverrides } from "../../src/plan/search/space.js";
import { tpeSampler } from "../../src/plan/search/tpe.js";
import type { TrialRecord } from "../../src/plan/search/types.js";

const err = (fn: () => unknown): CorralError => {
  try {
    fn();
  } catch (e) {
    return e as CorralError;
  }
  throw new Error("no error");
};

describe("study settings", () => {
  it("the command line wins over the file; grid and nothing mean a grid", () => {
    expect(studySettings(undefined, {}, "c.yaml")).toBeUndefined();
    expect(studySettings({ sampler: "grid" }, {}, "c.yaml")).toBeUndefined();
    expect(studySettings({ sampler: "random", budget: 3, objective: { metric: "acc", mode: "max" } }, { search: "tpe", budget: 9, seed: 2 }, "c.yaml")).toEqual({ sampler: "tpe", budget: 9, objective: { metric: "acc", mode: "max" }, seed: 2 });
    expect(studySettings(undefined, { search: "random", budget: 2, objective: "loss" }, "c.yaml")?.objective).toEqual({ metric: "loss", mode: "min" });
    expect(studySettings({ sampler: "tpe", budget: 4, objective: "val:max", early_stop: { asha: { max: 9 } } }, {}, "c.yaml")?.earlyStop).toEqual({ resource: "step", min: 1, max: 9, reductionFactor: 3 });
  });
  it("bad input names file and key", () => {
    const cases: Array<[unknown, object, string]> = [
      [{ sampler: "tpe", budget: 3 }, {}, "search.objective"],
      [{ sampler: "bayes", budget: 3, objective: "l" }, {}, "search.sampler"],
      [undefined, { search: "tpe", objective: "l" }, "--budget"],
      [{ sampler: "tpe", budget: 2.5, objective: "l" }, {}, "search.budget"],
      [{ sampler: "tpe", budget: 2, objective: { metric: "l", mode: "up" } }, {}, "search.objective.mode"],
      [{ sampler: "tpe", budget: 2, objective: "l", early_stop: { hyperband: {} } }, {}, "search.early_stop.hyperband"],
      [{ sampler: "tpe", budget: 2, objective: "l", early_stop: { asha: { max: 0.5 } } }, {}, "search.early_stop.asha.max"],
      [{ sampler: "tpe", budget: 2, objective: "l", tpe: { multivarite: false } }, {}, "search.tpe.multivarite"],
      [{ sampler: "tpe", budget: 2, objective: "l", tpe: { multivariate: "no" } }, {}, "search.tpe.multivariate"],
      [{ sampler: "tpe", budget: 2, objective: "l", tpe: [false] }, {}, "search.tpe"],
      [{ sampler: "random", budget: 2, objective: "l", tpe: { multivariate: false } }, {}, "search.tpe"],
    ];
    for (const [y, f, key] of cases) {
      const e = err(() => studySettings(y, f, "c.yaml"));
      expect(e.location?.key, JSON.stringify(y)).toBe(key);
      expect(e.exitCode).toBe(2);
    }
    expect(err(() => studySettings({ sampler: "tpe", budget: 2, objective: "l", tpe: { multivarite: false } }, {}, "c.yaml")).message).toContain("did you mean 'multivariate'");
  });
  it("search.tpe.multivariate picks the TPE: absent the multivariate one, false Optuna's default univariate one", () => {
    const y = { sampler: "tpe", budget: 30, objective: "l" };
    expect(studySettings(y, {}, "c.yaml")?.tpe).toBeUndefined();
    expect(studySettings({ ...y, tpe: { multivariate: false } }, {}, "c.yaml")?.tpe).toEqual({ multivariate: false });
    expect(studySettings({ ...y, tpe: {} }, {}, "c.yaml")?.tpe).toEqual({ multivariate: true });
    // --search random over a file's TPE leaves its tpe options aside.
    expect(studySettings({ ...y, tpe: { multivariate: false } }, { search: "random" }, "c.yaml")?.tpe).toBeUndefined();
    // The sampler a study's record asks for is the one these options name.
    const XY = spaceFromOverrides(["x=interval(0,1)", "y=interval(0,1)"]);
    const h: TrialRecord[] = Array.from({ length: 15 }, (_, i) => ({ number: i, state: "complete", params: { x: (i * 7) % 15 / 15, y: i / 15 }, value: i }));
    const base = { sampler: "tpe" as const, seed: 1, objective: { metric: "l", mode: "min" as const } };
    expect(samplerOf({ ...base, tpe: { multivariate: false } }, XY).ask(h, 15)).toEqual(tpeSampler(XY, { seed: 1, multivariate: false }).ask(h, 15));
    expect(samplerOf(base, XY).ask(h, 15)).toEqual(tpeSampler(XY, { seed: 1, multivariate: true }).ask(h, 15));
    expect(samplerOf(base, XY).ask(h, 15)).not.toEqual(tpeSampler(XY, { seed: 1, multivariate: false }).ask(h, 15));
  });
  it("n_jobs: a whole number of trials at once, named when wrong", () => {
    expect(studySettings({ sampler: "tpe", budget: 9, objective: "l", n_jobs: 6 }, {}, "c.yaml")?.nJobs).toBe(6);
    expect(studySettings({ sampler: "tpe", budget: 9, objective: "l" }, {}, "c.yaml")?.nJobs).toBeUndefined();
    for (const bad of [0, 2.5, "6"]) {
      const e = err(() => studySettings({ sampler: "tpe", budget: 9, objective: "l", n_jobs: bad }, {}, "c.yaml"));
      expect(e.location).toEqual({ file: "c.yaml", key: "search.n_jobs" });
      expect(e.message).toContain("must be a whole number of trials at once");
      expect(e.exitCode).toBe(2);
    }
  });
});

describe("the grid of a discrete space", () => {
  it("spans the search's values (range high inclusive); undefined with a continuous parameter", () => {
    expect(discreteGrid(spaceFromOverrides(["w=choice(1,2)", "l=range(2,4)", "seed=1"]))).toEqual({ overrides: ["w=1,2", "l=2,3,4", "seed=1"], size: 6 });
    expect(discreteGrid(spaceFromOverrides(["x=interval(0,1)"]))).toBeUndefined();
  });
});

describe("trial records from a run", () => {
  const obj = { metric: "loss", mode: "min" as const };
  it("succeeded with the objective: complete with its last value; without it: failed", () => {
    expect(trialRecord(3, { x: 1 }, "succeeded", [{ loss: 2 }, { step: 2, loss: 1.5 }], obj)).toEqual({ number: 3, state: "complete", params: { x: 1 }, value: 1.5 });
    expect(trialRecord(3, { x: 1 }, "succeeded", [{ acc: 2 }], obj).state).toBe("failed");
  });
  it("pruned keeps its last report; not ended is running; failed and cancelled are failed", () => {
    expect(trialRecord(0, {}, "pruned", [{ step: 1, loss: 4 }, { step: 3, loss: 3 }], obj)).toEqual({ number: 0, state: "pruned", params: {}, intermediate: { step: 3, value: 3 } });
    expect(trialRecord(0, {}, undefined, [], obj).state).toBe("running");
    expect(trialRecord(0, {}, "lost", [], obj).state).toBe("running");
    expect(trialRecord(0, {}, "cancelled", [], obj).state).toBe("failed");
  });
});

describe("ASHA from metrics lines", () => {
  const cfg = { resource: "step", min: 1, max: 9, reductionFactor: 3 };
  const rows = (vals: number[]): Array<Record<string, number>> => vals.map((v, k) => ({ step: k + 1, loss: v }));
  it("the value at each rung is the first report at or past it", () => {
    expect(rungValues(cfg, rows([5, 4, 3, 2]), "loss")).toEqual([5, 3, undefined]);
    expect(rungValues(cfg, [{ step: 4, loss: 1 }], "loss")).toEqual([1, 1, undefined]);
  });
  it("stops a trial outside the top third of its rung, continues the best, decides nothing at max", () => {
    const others = [rungValues(cfg, rows([1, 1, 1]), "loss"), rungValues(cfg, rows([2, 2, 2]), "loss"), rungValues(cfg, rows([3, 3, 3]), "loss")];
    expect(ashaCheck(cfg, "min", rows([9]), others, "loss", 0)).toMatchObject({ decision: "stop", rung: 0, resource: 1, value: 9 });
    expect(ashaCheck(cfg, "min", rows([0.5, 0.5, 0.5]), others, "loss", 0)).toEqual({ decision: "continue", passed: 2 });
    // Rung 1 already passed: only newer rungs are checked.
    expect(ashaCheck(cfg, "min", rows([9, 9, 9]), others, "loss", 2).decision).toBe("continue");
    expect(ashaCheck(cfg, "max", rows([9]), others, "loss", 0).decision).toBe("continue");
  });
});
