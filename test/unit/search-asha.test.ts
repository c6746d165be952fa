// ASHA: rungs, and the promotion decisions of Optuna's SuccessiveHalvingPruner taken
// asynchronously (each trial against the values recorded at its rung so far).
import { describe, expect, it } from "vitest";
import type { CorralError } from "../../src/errors.js";
import { ashaFromYaml, ashaReport, ashaRungs, decide, type AshaConfig } from "../../src/plan/search/asha.js";

const CFG: AshaConfig = { resource: "step", min: 1, max: 27, reductionFactor: 3 };

describe("ASHA rungs and decisions", () => {
  it("puts rungs at min * rf^k up to max", () => {
    expect(ashaRungs(CFG)).toEqual([1, 3, 9, 27]);
    expect(ashaRungs({ ...CFG, min: 2, max: 50, reductionFactor: 4 })).toEqual([2, 8, 32]);
  });

  it("decides a hand-worked table (rf 3, minimise): top third of the rung so far, or best while fewer than 3", () => {
    // value arriving at the rung, and the decision worked out by hand:
    // count = values at the rung including this one; index = max(0, floor(count/3) - 1) of the sorted values.
    const table: Array<[number, "continue" | "stop", string]> = [
      [5, "continue", "first at the rung: [5], index 0 -> 5"],
      [7, "stop", "[5,7], index 0 -> 5"],
      [3, "continue", "[3,5,7], index 0 -> 3"],
      [4, "stop", "[3,4,5,7], index 0 -> 3"],
      [6, "stop", "5 values, index 0 -> 3"],
      [4.5, "stop", "[3,4,4.5,5,6,7], index 1 -> 4"],
      [3.5, "continue", "[3,3.5,4,4.5,5,6,7], index 1 -> 3.5"],
      [10, "stop", "8 values, index 1 -> 3.5"],
      [2, "continue", "[2,3,3.5,...], index 2 -> 3.5"],
      [3.4, "continue", "[2,3,3.4,3.5,...] 10 values, index 2 -> 3.4"],
    ];
    const seen: number[] = [];
    for (const [value, want, why] of table) {
      expect(decide(seen, value, "min", 3), why).toBe(want);
      seen.push(value);
    }
  });

  it("mirrors for maximisation, and stops a NaN", () => {
    expect(decide([], 5, "max", 3)).toBe("continue");
    expect(decide([5], 7, "max", 3)).toBe("continue");
    expect(decide([5, 7], 6, "max", 3)).toBe("stop");
    expect(decide([1, 2, 3, 4, 5], 5, "max", 3)).toBe("continue");
    expect(decide([1, 2, 3, 4, 5], 4.5, "max", 3)).toBe("continue"); // 6 values, index 1 from the top -> 4.5
    expect(decide([1, 2, 3, 4, 5], 3.9, "max", 3)).toBe("stop");
    expect(decide([], NaN, "min", 3)).toBe("stop");
  });

  it("lets the first trial through every rung, and stops bad trials at the rung they reach", () => {
    const recorded = new Map<number, number[]>();
    const at = (k: number): number[] => recorded.get(k) ?? [];
    const report = (step: number, value: number, passed: number) => {
      const out = ashaReport({ config: CFG, direction: "min", step, value, passed, valuesAtRung: at });
      for (const k of out.reached) recorded.set(k, [...at(k), value]);
      return out;
    };
    // Trial A reports each step; it is alone, so it continues through rungs 0, 1, 2 (resources 1, 3, 9).
    let passed = 0;
    for (const [step, value] of [[1, 1.0], [2, 0.9], [3, 0.8], [9, 0.5], [27, 0.3]] as const) {
      const o = report(step, value, passed);
      expect(o.decision).toBe("continue");
      passed += o.reached.length;
    }
    expect(passed).toBe(3); // no decision at max (27): the trial is complete there
    // Trial B is worse at rung 0: stopped there, rung 0 recorded.
    expect(report(1, 2.0, 0)).toEqual({ decision: "stop", reached: [0], rung: 0 });
    // Trial C first reports at step 5: checked at rungs 0 and 1 with the same value; better than A at both.
    expect(report(5, 0.7, 0)).toEqual({ decision: "continue", reached: [0, 1], rung: 1 });
    // Before the first rung nothing is decided.
    expect(ashaReport({ config: { ...CFG, min: 3 }, direction: "min", step: 2, value: 9, passed: 0, valuesAtRung: at })).toEqual({ decision: "continue", reached: [], rung: undefined });
  });

  it("reads early_stop.asha from the project file, naming the key of a mistake", () => {
    expect(ashaFromYaml({ resource: "epoch", min: 1, max: 27, reduction_factor: 3 })).toEqual({ resource: "epoch", min: 1, max: 27, reductionFactor: 3 });
    const bad = (v: unknown): CorralError => {
      try {
        ashaFromYaml(v, { file: "corral.yaml" });
      } catch (e) {
        return e as CorralError;
      }
      throw new Error("expected an error");
    };
    expect(bad({ min: 1, max: 27, reduction_factr: 3 }).location?.key).toBe("search.early_stop.asha.reduction_factr");
    expect(bad({ min: 1, max: 27, reduction_factr: 3 }).message).toMatch(/did you mean 'reduction_factor'/);
    expect(bad({ min: 5, max: 3 }).location?.key).toBe("search.early_stop.asha.max");
    expect(bad({ max: 27, reduction_factor: 1 }).message).toMatch(/at least 2/);
    expect(bad({ min: 1 }).message).toMatch(/max: is required/);
  });
});
