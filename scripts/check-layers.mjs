#!/usr/bin/env node
// Keeps the layer picture of DESIGN.md true: imports point down only (one named composition root
// excepted, below), no import cycles, and src/plan stays pure (no fs, no child processes, no env,
// no clock). Part of `npm test`.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const SRC = path.resolve(import.meta.dirname, "../src");
// Lower rank = lower layer. A module may import its own layer or lower ones.
const RANK = { "errors.ts": 0, plan: 1, project: 2, store: 3, worker: 4, launchers: 5, engine: 6, dashboard: 7, cli: 8, "index.ts": 9 };
// Composition roots: a process entry that may import one named module above its layer. The
// worker's entry (whose path every queued batch script names) has the scheduler's environment
// read by the launchers (registry.ts -> launchers/<x>/env.ts) into neutral AllocationFacts; the
// rest of worker/ receives the facts and imports nothing above it.
const COMPOSITION_ROOTS = { [path.join("worker", "worker-main.ts")]: [path.join("launchers", "registry.ts")] };
const PURE_FORBIDDEN = [/from "node:(fs|child_process|os|net|http|https|worker_threads)"/, /\bprocess\.(env|cwd|argv|exit)\b/, /\bDate\.now\(/, /new Date\(\)/];

// (Quoted as code; backticked names in help texts are documentation. config.yaml is also Hydra's own file name.)
const STORE_NAMES = /["'](sweep\.json|flow\.json|status\.json|overrides\.yaml|stdout\.log|stderr\.log|metrics\.jsonl|head\.log|cancel-requested|\.slurm|\.corral)["'/]/;
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = path.join(d, f);
    if (statSync(p).isDirectory()) {
      if (f !== "static") walk(p);
    } else if (p.endsWith(".ts")) files.push(p);
  }
};
walk(SRC);

const layerOf = (file) => path.relative(SRC, file).split(path.sep)[0];
const problems = [];
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const layer = layerOf(file);
  const deps = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+"(\.[^"]+)"|^\s*import\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/gm)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts"));
    deps.push(target);
    const tl = layerOf(target);
    if (RANK[tl] === undefined || RANK[layer] === undefined) continue;
    // Inside launchers/: each concrete launcher (local/, slurm/) stands alone, and only
    // launchers/registry.ts names them; everything above talks to the Launcher interface.
    const sub = (f) => path.relative(SRC, f).split(path.sep).slice(0, 2).join("/");
    const concrete = (f) => /^launchers\/(local|slurm)$/.test(sub(f));
    if (concrete(target) && concrete(file) && sub(target) !== sub(file)) problems.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: launchers/local and launchers/slurm may not import each other`);
    if (concrete(target) && !concrete(file) && path.relative(SRC, file) !== path.join("launchers", "registry.ts")) problems.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: only launchers/registry.ts names a concrete launcher`);
    const allowedUp = COMPOSITION_ROOTS[path.relative(SRC, file)]?.includes(path.relative(SRC, target));
    if (RANK[tl] > RANK[layer] && !allowedUp) problems.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, target)}: ${layer}/ may not import from ${tl}/ (imports point down: cli -> dashboard -> engine -> launchers -> worker -> store -> project -> plan)`);
  }
  graph.set(file, deps);
  // Every file name of the store lives in store/layout.ts (DESIGN.md "On disk").
  if (!["store/layout.ts", "cli/init-template.ts"].includes(path.relative(SRC, file))) {
    text.split("\n").forEach((line, i) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
      const m = STORE_NAMES.exec(line);
      if (m) problems.push(`${path.relative(SRC, file)}:${i + 1} spells the store name ${m[0]}: import it from store/layout.ts`);
    });
  }
  if (layer === "plan") {
    text.split("\n").forEach((line, i) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
      for (const re of PURE_FORBIDDEN) if (re.test(line)) problems.push(`src/plan is pure: ${path.relative(SRC, file)}:${i + 1} uses ${line.trim().slice(0, 80)}`);
    });
  }
}
// Cycle check (DFS with colours).
const colour = new Map();
const stack = [];
const visit = (f) => {
  colour.set(f, 1);
  stack.push(f);
  for (const d of graph.get(f) ?? []) {
    if (!graph.has(d)) continue;
    if (colour.get(d) === 1) problems.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].map((x) => path.relative(SRC, x)).join(" -> ")}`);
    else if (!colour.get(d)) visit(d);
  }
  stack.pop();
  colour.set(f, 2);
};
for (const f of graph.keys()) if (!colour.get(f)) visit(f);

if (problems.length) {
  for (const p of problems) console.error(`check-layers: ${p}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} modules, layers and purity hold, no cycles`);
