// Search samplers against Optuna (issue 15): Corral's TPE (multivariate, its default; and
// univariate), Optuna's TPE (bench/optuna_search.py, Debian's python3-optuna: its default
// univariate TPE, the target, and multivariate=True) and Corral's random search on Branin (2-D)
// and 6-D Hartmann, the same budget over the same seeds, sequential ask/tell; and a pure
// simulation of slot utilization of an asynchronous study against synchronous batches. Prints one
// JSON line per row; `bench/run.mjs --only search` tabulates them. Needs `npm run build` (imports
// dist/). Options: --seeds N (10), --from FIRST (1), --budget (60), --slots (4), --python.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { tpeSampler } = await import("../dist/plan/search/tpe.js");
const { randomSampler } = await import("../dist/plan/search/random.js");
const { rngFor } = await import("../dist/plan/search/prng.js");

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const budget = Number(opt("--budget", 60));
const seeds = Array.from({ length: Number(opt("--seeds", 10)) }, (_, i) => i + Number(opt("--from", 1)));
const python = opt("--python", "/usr/bin/python3");

const A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]];
const P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]];
const ALPHA = [1.0, 1.2, 3.0, 3.2];
const uniform = (name, low, high) => ({ name, dist: { type: "float", low, high, log: false } });
const problems = {
  branin: {
    optimum: 0.397887,
    space: { params: [uniform("x1", -5, 10), uniform("x2", 0, 15)], fixed: [] },
    f: ({ x1, x2 }) => {
      const b = 5.1 / (4 * Math.PI ** 2);
      const c = 5 / Math.PI;
      return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
    },
  },
  hartmann6: {
    optimum: -3.32237,
    space: { params: Array.from({ length: 6 }, (_, i) => uniform(`x${i}`, 0, 1)), fixed: [] },
    f: (p) => {
      const x = Array.from({ length: 6 }, (_, i) => p[`x${i}`]);
      return -ALPHA.reduce((s, a, i) => s + a * Math.exp(-x.reduce((t, xj, j) => t + A[i][j] * (xj - P[i][j] * 1e-4) ** 2, 0)), 0);
    },
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Sequential ask/tell: ask, evaluate, record as complete. Returns the best value. */
function study(sampler, f) {
  const history = [];
  let best = Infinity;
  for (let i = 0; i < budget; i++) {
    const params = sampler.ask(history, i);
    const value = f(params);
    history.push({ number: i, state: "complete", params, value });
    best = Math.min(best, value);
  }
  return best;
}

/** Optuna's best per seed, or the error it printed. */
function optuna(name, multivariate) {
  const r = spawnSync(python, [path.join(here, "optuna_search.py"), name, String(budget), ...(multivariate ? ["--multivariate"] : []), ...seeds.map(String)], { encoding: "utf8" });
  return r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()) : { error: (r.stderr || String(r.error)).slice(-300) };
}

/** Geometric mean of the regret (best minus the optimum): less swayed by a few lucky seeds than the median. */
const gmRegret = (xs, optimum) => +Math.exp(xs.reduce((s, x) => s + Math.log(x - optimum), 0) / xs.length).toPrecision(3);

for (const [name, p] of Object.entries(problems)) {
  const t0 = performance.now();
  const tpe = seeds.map((seed) => study(tpeSampler(p.space, { seed }), p.f));
  const tpeMs = Math.round(performance.now() - t0);
  const univariate = seeds.map((seed) => study(tpeSampler(p.space, { seed, multivariate: false }), p.f));
  const random = seeds.map((seed) => study(randomSampler(p.space, { seed }), p.f));
  const opt = optuna(name, false);
  const optMv = opt.error ? undefined : optuna(name, true);
  const row = {
    kind: "sampler",
    problem: name,
    budget,
    seeds: seeds.length,
    firstSeed: seeds[0],
    optimum: p.optimum,
    corralTpe: median(tpe),
    corralUnivariate: median(univariate),
    corralRandom: median(random),
    corralTpeMsPerTrial: +(tpeMs / (budget * seeds.length)).toFixed(2),
    gmRegret: { corralTpe: gmRegret(tpe, p.optimum), corralUnivariate: gmRegret(univariate, p.optimum) },
    ...(opt.error
      ? { optunaError: opt.error }
      : { optuna: median(opt.best), optunaMultivariate: median(optMv.best), optunaVersion: opt.optuna }),
  };
  if (!opt.error) Object.assign(row.gmRegret, { optuna: gmRegret(opt.best, p.optimum), optunaMultivariate: gmRegret(optMv.best, p.optimum) });
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

// Slot utilization: `budget` trials of uneven length (log-normal, sigma 0.6) on `slots` slots.
// Asynchronous: a slot takes the next trial as soon as it frees. Synchronous (Hydra's Optuna
// sweeper, n_jobs = slots): a batch of `slots` trials starts when the slowest of the last ends.
const slots = Number(opt("--slots", 4));
const utils = { async: [], sync: [] };
for (const seed of seeds) {
  const rng = rngFor("durations", seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const d = Array.from({ length: budget }, () => Math.exp(0.6 * normal()));
  const work = d.reduce((s, x) => s + x, 0);
  const free = new Array(slots).fill(0);
  for (const x of d) {
    const i = free.indexOf(Math.min(...free));
    free[i] += x;
  }
  utils.async.push(work / (slots * Math.max(...free)));
  let makespan = 0;
  for (let i = 0; i < d.length; i += slots) makespan += Math.max(...d.slice(i, i + slots));
  utils.sync.push(work / (slots * makespan));
}
process.stdout.write(`${JSON.stringify({ kind: "utilization", budget, slots, seeds: seeds.length, async: median(utils.async), sync: median(utils.sync) })}\n`);
