// Sweep expansion benchmark: 10 sweep overrides of 4 values each (1,048,576 runs), every run
// spelled once. Prints {runs, ms, peakRssMB} as JSON. Build first: npx tsc -p tsconfig.build.json
import { parseOverrides } from "../dist/plan/overrides.js";
import { expandSweep } from "../dist/plan/sweep.js";

const args = Array.from({ length: 10 }, (_, k) => `k${k}=1,2,3,4`);
let peak = process.memoryUsage.rss();
const t0 = performance.now();
const plan = expandSweep({ overrides: parseOverrides(args) });
let chars = 0;
for (let i = 0; i < plan.size; i++) {
  const s = plan.spelled(i);
  chars += s.length;
  // Sampling RSS every run would dominate the timing.
  if ((i & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage.rss());
}
const ms = performance.now() - t0;
peak = Math.max(peak, process.memoryUsage.rss());
if (chars !== plan.size * args.length) throw new Error("sweep-expand: wrong number of overrides per run");
process.stdout.write(`${JSON.stringify({ runs: plan.size, ms: Math.round(ms), peakRssMB: Math.round(peak / 2 ** 20) })}\n`);
