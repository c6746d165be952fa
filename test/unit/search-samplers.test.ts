// Random and TPE samplers: bounds, shapes, seeds, purity, and TPE's behaviour as Optuna's
// (startup, concentration, constant liar, categorical preference, pruned and failed trials), in
// both its multivariate (default) and univariate forms.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseOverrides } from "../../src/plan/overrides.js";
import { rngFor } from "../../src/plan/search/prng.js";
import { randomSampler } from "../../src/plan/search/random.js";
import { spaceFromOverrides } from "../../src/plan/search/space.js";
import { defaultWeights, jointParzen, parzen, tpeSampler } from "../../src/plan/search/tpe.js";
import type { Distribution, ParamValue, Params, Sampler, SearchSpace, TrialRecord } from "../../src/plan/search/types.js";

const space = (...overrides: string[]): SearchSpace => spaceFromOverrides(parseOverrides(overrides));
const MIXED = space("lr=tag(log, interval(1e-5, 1e-1))", "width=choice(64,128,256)", "layers=range(2,6)", "dropout=interval(0,0.5)", "p=range(0,1,0.25)", "bs=tag(log, int(interval(8, 512)))");

/** Sequential ask/tell on f; returns the history. */
function run(s: Sampler, f: (p: Params) => number, n: number): Array<Extract<TrialRecord, { state: "complete" }>> {
  const h: Array<Extract<TrialRecord, { state: "complete" }>> = [];
  for (let i = 0; i < n; i++) {
    const params = s.ask(h, i);
    h.push({ number: i, state: "complete", params, value: f(params) });
  }
  return h;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
};

/** What is out of bounds in one trial's params of MIXED (empty when all is well). */
function outOfBounds(p: Params): string[] {
  const bad: string[] = [];
  const int = (v: unknown, lo: number, hi: number): boolean => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  if (!((p.lr as number) >= 1e-5 && (p.lr as number) < 0.1)) bad.push(`lr=${p.lr}`);
  if (![64, 128, 256].includes(p.width as number)) bad.push(`width=${p.width}`);
  if (!int(p.layers, 2, 6)) bad.push(`layers=${p.layers}`);
  if (!((p.dropout as number) >= 0 && (p.dropout as number) < 0.5)) bad.push(`dropout=${p.dropout}`);
  if (![0, 0.25, 0.5, 0.75, 1].includes(p.p as number)) bad.push(`p=${p.p}`);
  if (!int(p.bs, 8, 512)) bad.push(`bs=${p.bs}`);
  return bad;
}

describe("random sampler", () => {
  const s = randomSampler(MIXED, { seed: 7 });
  const draws = Array.from({ length: 4000 }, (_, i) => s.ask([], i));

  it("stays in bounds for every kind of dimension", () => {
    expect(draws.flatMap(outOfBounds)).toEqual([]);
  });

  it("is log-uniform on a log scale: about a quarter of the draws in each of the 4 decades", () => {
    const perDecade = [0, 0, 0, 0];
    for (const p of draws) perDecade[Math.min(3, Math.floor(Math.log10(p.lr as number) + 5))]!++;
    for (const c of perDecade) expect(Math.abs(c / draws.length - 0.25)).toBeLessThan(0.03);
  });

  it("draws ints up to and including high, each about equally often", () => {
    const counts = new Map<number, number>();
    for (const p of draws) counts.set(p.layers as number, (counts.get(p.layers as number) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([2, 3, 4, 5, 6]);
    for (const c of counts.values()) expect(Math.abs(c / draws.length - 0.2)).toBeLessThan(0.03);
  });

  it("is reproducible from the seed and the trial number alone; other seeds differ", () => {
    const again = randomSampler(MIXED, { seed: 7 });
    expect(again.ask([], 123)).toEqual(draws[123]);
    expect(Array.from({ length: 20 }, (_, i) => again.ask([], 19 - i)).reverse()).toEqual(draws.slice(0, 20));
    const other = randomSampler(MIXED, { seed: 8 });
    const same = draws.slice(0, 50).filter((p, i) => p.lr === other.ask([], i).lr).length;
    expect(same).toBe(0);
  });
});

describe("TPE sampler", () => {
  const X = space("x=interval(-10,10)");
  const quad = (p: Params): number => ((p.x as number) - 2) ** 2;

  it("uses Optuna's default weights: flat up to 25 observations, then a ramp for the oldest", () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30);
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
  });

  it("samples its startup trials at random: the first 10 are the random sampler's", () => {
    const tpe = run(tpeSampler(MIXED, { seed: 3 }), () => 0, 10);
    const rnd = randomSampler(MIXED, { seed: 3 });
    tpe.forEach((t, i) => expect(t.params).toEqual(rnd.ask([], i)));
  });

  it.each([true, false])("is deterministic: the same seed, trial number and history give the same params (multivariate: %s)", (multivariate) => {
    const h = run(tpeSampler(MIXED, { seed: 3, multivariate }), (p) => (p.dropout as number) + Math.log10(p.lr as number) ** 2, 25);
    const a = tpeSampler(MIXED, { seed: 3, multivariate });
    const b = tpeSampler(MIXED, { seed: 3, multivariate });
    expect(a.ask(h, 25)).toEqual(b.ask(h, 25));
    expect(a.ask([...h].reverse(), 25)).toEqual(a.ask(h, 25));
    expect(tpeSampler(MIXED, { seed: 4, multivariate }).ask(h, 25)).not.toEqual(a.ask(h, 25));
    expect(tpeSampler(MIXED, { seed: 3, multivariate: !multivariate }).ask(h, 25)).not.toEqual(a.ask(h, 25));
    // Every later trial stays in bounds and on its grid.
    for (const t of run(tpeSampler(MIXED, { seed: 5, multivariate }), (p) => (p.dropout as number) + Math.log10(p.lr as number) ** 2, 40)) expect(outOfBounds(t.params)).toEqual([]);
  });

  it("after startup concentrates near the optimum of a quadratic, far more than random search", () => {
    const late = (s: Sampler): number => median(run(s, quad, 60).slice(30).map((t) => Math.abs((t.params.x as number) - 2)));
    const tpe = median([1, 2, 3].map((seed) => late(tpeSampler(X, { seed }))));
    const rnd = median([1, 2, 3].map((seed) => late(randomSampler(X, { seed }))));
    expect(tpe).toBeLessThan(rnd / 2.5);
  });

  it("maximises when asked to", () => {
    const late = median(run(tpeSampler(X, { seed: 1, direction: "max" }), (p) => -quad(p), 60).slice(30).map((t) => Math.abs((t.params.x as number) - 2)));
    expect(late).toBeLessThan(3);
  });

  it("learns which category is best", () => {
    const C = space("opt=choice(sgd,adam,rmsprop,adagrad)", "x=interval(0,1)");
    // Random search picks adam a quarter of the time; Optuna's TPE 64-72 % of trials 25-50 here.
    const share = (seed: number): number => {
      const h = run(tpeSampler(C, { seed }), (p) => (p.opt === "adam" ? 0 : 1) + (p.x as number) * 0.1, 50);
      return h.slice(25).filter((t) => t.params.opt === "adam").length / 25;
    };
    expect(([1, 2, 3].map(share).reduce((a, b) => a + b) / 3)).toBeGreaterThan(0.5);
  });

  it.each([true, false])("constant liar: a trial running at the point TPE would suggest steers the suggestion away, not without the liar (multivariate: %s)", (multivariate) => {
    const XY = space("x=interval(-10,10)", "y=interval(0,1)");
    for (const seed of [1, 2, 3]) {
      const h = run(tpeSampler(XY, { seed, multivariate }), quad, 20);
      const liar = tpeSampler(XY, { seed, multivariate });
      const alone = liar.ask(h, 21);
      // Another worker is already running that very point: it counts among the bad trials.
      const running: TrialRecord = { number: 20, state: "running", params: alone };
      expect(liar.ask([...h, running], 21)).not.toEqual(alone);
      const honest = tpeSampler(XY, { seed, constantLiar: false, multivariate });
      expect(honest.ask([...h, running], 21)).toEqual(honest.ask(h, 21));
    }
  });

  it("multivariate draws each candidate from one kernel over all parameters: good trials in two corners give candidates in those corners, not the other two", () => {
    const XY = space("x=interval(0,1)", "y=interval(0,1)");
    const corners: Params[] = Array.from({ length: 30 }, (_, i) => (i % 2 ? { x: 0.1 + i * 1e-3, y: 0.1 } : { x: 0.9 - i * 1e-3, y: 0.9 }));
    const rng = rngFor("corners");
    for (const kind of ["spread", "range"] as const) {
      const l = jointParzen(XY.params, corners, 1, false, kind);
      const draws = Array.from({ length: 400 }, () => l.toParams(l.sample(rng)));
      const mixed = draws.filter((p) => Math.abs((p.x as number) - (p.y as number)) > 0.5).length / draws.length;
      // Independent draws per parameter would land in the other two corners half the time; here
      // only the prior's kernel (weight 1/31) can.
      expect(mixed, kind).toBeLessThan(0.05);
    }
  });

  it("multivariate with the spread bandwidth narrows the good estimator as the good trials gather (Optuna's range bandwidth does not)", () => {
    const X1 = space("x=interval(0,1)", "y=interval(0,1)");
    // 30 trials: the magic clip lets kernels down to 1/32 of the range, Optuna's are 0.2 x 30^(-1/6) = 0.11 of it.
    const gathered: Params[] = Array.from({ length: 30 }, (_, i) => ({ x: 0.5 + (i % 5) * 1e-3, y: 0.5 - (i % 3) * 1e-3 }));
    const spreadOut: Params[] = Array.from({ length: 30 }, (_, i) => ({ x: (i + 0.5) / 30, y: 1 - (i + 0.5) / 30 }));
    const at = [0.5, 0.5];
    const spread = (obs: Params[]): number => jointParzen(X1.params, obs, 1, true, "spread").logPdf(at);
    const range = (obs: Params[]): number => jointParzen(X1.params, obs, 1, true, "range").logPdf(at);
    // The density at the gathered points' centre: far higher with kernels as narrow as the points are close.
    expect(spread(gathered)).toBeGreaterThan(range(gathered) + 1);
    // Spread-out points: kernels as wide as the range's (or wider), so no sharper there.
    expect(spread(spreadOut)).toBeLessThan(range(gathered));
  });

  it("leaves failed trials out, and counts pruned ones as finished (after the complete ones)", () => {
    const h = run(tpeSampler(X, { seed: 2 }), quad, 9);
    const s = tpeSampler(X, { seed: 2 });
    const failed: TrialRecord = { number: 9, state: "failed", params: { x: 0 } };
    // 9 finished: still startup (random), failed or not.
    expect(s.ask([...h, failed], 10)).toEqual(randomSampler(X, { seed: 2 }).ask([], 10));
    // A pruned trial makes 10 finished: TPE takes over.
    const pruned: TrialRecord = { number: 9, state: "pruned", params: { x: 9 }, intermediate: { step: 3, value: 100 } };
    expect(s.ask([...h, pruned], 10)).not.toEqual(randomSampler(X, { seed: 2 }).ask([], 10));
    // A pruned trial with a tiny intermediate value still ranks after every complete one: with
    // 10 finished, gamma = 1, so the good group is the best complete trial either way.
    const h10 = run(tpeSampler(X, { seed: 2 }), quad, 10);
    const prunedLow: TrialRecord = { number: 10, state: "pruned", params: { x: -9 }, intermediate: { step: 1, value: -1e9 } };
    const prunedHigh: TrialRecord = { number: 10, state: "pruned", params: { x: -9 }, intermediate: { step: 1, value: 1e9 } };
    expect(s.ask([...h10, prunedLow], 11)).toEqual(s.ask([...h10, prunedHigh], 11));
  });

  // Debian's python3-optuna (3.1) at /usr/bin/python3: the reference, when installed.
  const PY = "/usr/bin/python3";
  const hasOptuna = existsSync(PY) && spawnSync(PY, ["-c", "import optuna"]).status === 0;
  it.skipIf(!hasOptuna)("has the same Parzen log densities as Optuna 3.1 (float, log, step, int, log int, categorical)", () => {
    const script = fileURLToPath(new URL("../fixtures/search/optuna_parzen.py", import.meta.url));
    const r = spawnSync(PY, [script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const cases = JSON.parse(r.stdout) as Array<{ dist: Distribution; obs: ParamValue[]; xs: ParamValue[]; lp: number[] }>;
    expect(cases).toHaveLength(6);
    for (const c of cases) {
      const est = parzen(c.dist, c.obs, 1, false);
      // logPdf takes a point of the transformed space: log for a log scale, an index for a category.
      const at = (x: ParamValue): number => (c.dist.type === "categorical" ? c.dist.choices.indexOf(x) : c.dist.log ? Math.log(x as number) : (x as number));
      c.xs.forEach((x, i) => expect(est.logPdf(at(x)), `${JSON.stringify(c.dist)} at ${String(x)}`).toBeCloseTo(c.lp[i]!, 9));
    }
  });

  it.skipIf(!hasOptuna)("has the same multivariate Parzen log densities as Optuna 3.1 (bandwidth range), and the spread bandwidth's as Optuna's estimator given those bandwidths", () => {
    const script = fileURLToPath(new URL("../fixtures/search/optuna_joint.py", import.meta.url));
    const r = spawnSync(PY, [script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as { space: SearchSpace["params"]; obs: Params[]; xs: Params[]; range: number[]; spread: number[] };
    expect(c.space).toHaveLength(6);
    expect(c.xs).toHaveLength(8);
    // A point of the transformed space: log for a log scale, an index for a category.
    const at = (p: Params): number[] => c.space.map(({ name, dist }) => (dist.type === "categorical" ? dist.choices.indexOf(p[name]!) : dist.log ? Math.log(p[name] as number) : (p[name] as number)));
    for (const kind of ["range", "spread"] as const) {
      const est = jointParzen(c.space, c.obs, 1, false, kind);
      c.xs.forEach((x, i) => expect(est.logPdf(at(x)), `${kind} at ${JSON.stringify(x)}`).toBeCloseTo(c[kind][i]!, 9));
    }
    // The two differ: the observations are gathered, so the spread kernels are narrower.
    expect(c.spread).not.toEqual(c.range);
  });
});
