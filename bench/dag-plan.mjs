// Planning benchmark: build + decide a synthetic DAG (a/{i}.txt -> b/{i}.txt, target expand over
// i in range(N/2)), once with an empty store (everything runs) and once with every output present
// and recorded (a no-op), and time Snakemake's `-n` on the same shape when it is installed.
//
//   npx tsc -p tsconfig.build.json && node bench/dag-plan.mjs [--sizes 10000,100000] [--peer-max 10000]
//
// Each size runs in its own child process so peakRssMB is that size's own peak.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSnakefile } from "./snakemake/gen-snakefile.mjs";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

async function one(jobs) {
  const { buildDag } = await import("../dist/plan/dag.js");
  const { decideJobs, jobHashes } = await import("../dist/plan/uptodate.js");
  const rules = [
    { name: "a", input: [], output: "a/{i}.txt", shell: "touch {output}" },
    { name: "b", input: "a/{i}.txt", output: "b/{i}.txt", shell: "cp {input} {output}" },
  ];
  const targets = [{ expand: "b/{i}.txt", i: `range(${jobs / 2})` }];
  let t = performance.now();
  const dag = buildDag({ rules, targets, exists: () => false });
  const buildMs = performance.now() - t;

  t = performance.now();
  const empty = decideJobs(dag, { stat: () => undefined, records: () => undefined, incomplete: () => false }, { rerunIncomplete: false });
  const decideMs = performance.now() - t;
  if (empty.filter((d) => d.run).length !== dag.jobs.length) throw new Error("empty store: every job should run");

  // The store's side (not timed): every output exists, newer than its inputs, with a fresh record.
  const records = new Map();
  const mtime = new Map();
  for (const j of dag.jobs) {
    const h = { ...jobHashes(j), jobKey: j.key };
    for (const o of j.outputs) {
      records.set(o, h);
      mtime.set(o, { mtimeMs: 1000 + j.id });
    }
  }
  t = performance.now();
  const noop = decideJobs(dag, { stat: (p) => mtime.get(p), records: (o) => records.get(o), incomplete: () => false }, { rerunIncomplete: false });
  const noopDecideMs = performance.now() - t;
  if (noop.some((d) => d.run)) throw new Error("no-op store: no job should run");

  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  const r = (x) => Math.round(x * 10) / 10;
  return { jobs: dag.jobs.length, buildMs: r(buildMs), decideMs: r(decideMs), noopDecideMs: r(noopDecideMs), peakRssMB: r(peakRssMB) };
}

// Snakemake 7.21 `-n -q -j1` on this shape, 2-core machine (/work/shared/notes/peers.md).
const REFERENCE = {
  2000: { jobs: 2001, wallMs: 3000, peakRssMB: 99, source: "notes/peers.md" },
  10000: { jobs: 10001, wallMs: 9300, peakRssMB: 202, source: "notes/peers.md" },
  100000: { jobs: 100001, wallMs: 361000, peakRssMB: 1370, source: "notes/peers.md" },
};

function peer(jobs) {
  const which = spawnSync("sh", ["-c", "command -v snakemake"], { encoding: "utf8" });
  if (which.status !== 0) return { skipped: "snakemake is not on PATH" };
  const dir = mkdtempSync(join(tmpdir(), "corral-bench-smk-"));
  try {
    writeSnakefile(dir, jobs / 2);
    const t = performance.now();
    // GNU time -f %M prints the peak RSS in KB on stderr's last line.
    const res = spawnSync("/usr/bin/time", ["-f", "%M", "snakemake", "-n", "-q", "-j1"], { cwd: dir, encoding: "utf8" });
    const wallMs = performance.now() - t;
    if (res.status !== 0) return { error: `snakemake exited ${res.status}: ${res.stderr.slice(-500)}` };
    const kb = Number(res.stderr.trim().split("\n").pop());
    return { jobs: jobs + 1, wallMs: Math.round(wallMs), peakRssMB: Math.round(kb / 1024) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args[0] === "--one") {
  console.log(JSON.stringify(await one(Number(args[1]))));
} else {
  const sizes = opt("--sizes", "10000,100000").split(",").map(Number);
  // Snakemake needs about 6 minutes for 100k jobs; time it only up to this size unless asked.
  const peerMax = Number(opt("--peer-max", "10000"));
  const self = fileURLToPath(import.meta.url);
  for (const n of sizes) {
    const corral = JSON.parse(execFileSync(process.execPath, [self, "--one", String(n)], { encoding: "utf8" }));
    const out = { bench: "dag-plan", corral };
    if (n > peerMax && REFERENCE[n] !== undefined) {
      // Not re-measured (minutes of a shared 2-core machine): the figure recorded in peers.md.
      out.snakemakeReference = REFERENCE[n];
      out.ratioVsReference = Math.round(REFERENCE[n].wallMs / (corral.buildMs + corral.decideMs));
    }
    if (n <= peerMax) {
      const s = peer(n);
      out.snakemake = s;
      if (s.wallMs !== undefined) {
        const corralMs = corral.buildMs + corral.decideMs;
        out.ratio = { wall: Math.round((s.wallMs / corralMs) * 10) / 10, rss: Math.round((s.peakRssMB / corral.peakRssMB) * 10) / 10 };
        out.note = "ratio = snakemake / corral (planning only; snakemake's wall includes its interpreter start)";
      }
    }
    console.log(JSON.stringify(out));
  }
}
