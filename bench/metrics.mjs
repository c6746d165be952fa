// Metrics at scale (issue 16 point 4), driven by bench/run.mjs (section `metrics`):
//   node bench/metrics.mjs gen-big <project> <MB>     one finished run with a <MB> MB metrics.jsonl
//   node bench/metrics.mjs gen-wide <project> <runs>  a sweep of <runs> finished runs, one metrics line each
//   node bench/metrics.mjs serve <project> <sweep> chart|table
// `serve` starts the dashboard server in this process (as `corral ui` does), asks the first table
// page at once, waits until its first store poll has read every run, makes 4 requests (chart: /api/metrics of run 0; table: pages of the run table,
// filtered and sorted) and prints JSON: start-up ms, the first page's ms (from start) and runs
// still unread then, the whole first poll's ms, each request's ms and bytes, and RSS after.
import { mkdirSync, openSync, writeSync, closeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const store = await import(path.join(root, "dist/store/store.js"));
const [mode, project, arg, kind] = process.argv.slice(2);
const NOW = Date.now();

function sweep(id, n) {
  const dir = path.join(project, "multirun", id);
  const m = {
    type: "sweep", version: 1, id, name: id, kind: "sweep", createdAt: NOW, dir, projectDir: project,
    command: ["python3", "train.py"], overrides: [], launcher: "local",
    runs: Array.from({ length: n }, (_, i) => ({ index: i, id: `${id}-${i}`, dir: String(i), overrides: [`seed=${i % 10}`, `lr=${(i % 97) / 1000}`], params: { seed: i % 10, lr: (i % 97) / 1000 } })),
    jobs: [],
  };
  mkdirSync(dir, { recursive: true });
  for (const r of m.runs) {
    const runDir = path.join(dir, r.dir);
    mkdirSync(runDir, { recursive: true });
    store.writeRunStatus(runDir, { type: "run-status", version: 1, runId: r.id, index: r.index, state: "succeeded", attempt: 1, updatedAt: NOW, startedAt: NOW - 1000, endedAt: NOW, history: [{ state: "succeeded", at: NOW, attempt: 1 }] });
  }
  store.writeManifest(m);
  store.indexSweep(project, m);
  return m;
}

if (mode === "gen-big") {
  const m = sweep("big", 1);
  const fd = openSync(path.join(m.dir, "0", "metrics.jsonl"), "w");
  const limit = Number(arg) * 1e6;
  let bytes = 0;
  let buf = "";
  for (let i = 0; bytes < limit; i++) {
    const line = JSON.stringify({ step: i, loss: 1 / (1 + i * 1e-4) + Math.sin(i) * 0.01, acc: 0.5 + 0.4 * (1 - 1 / (1 + i * 1e-4)), lr: 0.001 * Math.cos(i / 1000), epoch: Math.floor(i / 10000) }) + "\n";
    buf += line;
    bytes += line.length;
    if (buf.length > 1 << 20) {
      writeSync(fd, buf);
      buf = "";
    }
  }
  writeSync(fd, buf);
  closeSync(fd);
} else if (mode === "gen-wide") {
  const m = sweep("wide", Number(arg));
  for (const r of m.runs) {
    const fd = openSync(path.join(m.dir, r.dir, "metrics.jsonl"), "w");
    writeSync(fd, JSON.stringify({ step: 10, loss: ((r.index * 7919) % 1000) / 1000, acc: ((r.index * 104729) % 1000) / 1000 }) + "\n");
    closeSync(fd);
  }
} else if (mode === "serve") {
  const { startDashboard } = await import(path.join(root, "dist/dashboard/server.js"));
  const t0 = performance.now();
  // A long poll interval: the first poll (inside start, and the slices right after) is what is measured, not later ones.
  const ui = await startDashboard({ projectDir: project, token: "bench", pollMs: 600_000 });
  const startMs = performance.now() - t0;
  const base = `http://127.0.0.1:${ui.port}`;
  const get = async (p) => {
    const t = performance.now();
    const r = await fetch(base + p, { headers: { "x-corral-token": "bench", host: `127.0.0.1:${ui.port}` } });
    const body = await r.text();
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${body.slice(0, 200)}`);
    return { path: p, ms: Math.round(performance.now() - t), bytes: body.length, body };
  };
  // The first table page a user opening `corral ui` sees, asked at once (a large sweep is still loading).
  const first = kind === "chart" ? undefined : await get(`/api/sweep/${arg}?limit=100`);
  const firstPageMs = first ? Math.round(performance.now() - t0) : undefined;
  const firstUnread = first ? (JSON.parse(first.body).sweep.unread ?? 0) : undefined;
  // Every run read: the whole first store poll.
  await ui.whenLoaded();
  const loadedMs = performance.now() - t0;
  const paths =
    kind === "chart"
      ? Array(4).fill(`/api/metrics/${arg}/0`)
      : [`/api/sweep/${arg}?limit=100`, `/api/sweep/${arg}?limit=100&offset=50000`, `/api/sweep/${arg}?limit=100&filter=${encodeURIComponent("loss<0.5 seed=3")}`, `/api/sweep/${arg}?limit=100&sort=acc&dir=desc&filter=${encodeURIComponent("lr>0.05")}`];
  const requests = [];
  for (const p of paths) {
    const { body: _body, ...r } = await get(p);
    requests.push(r);
  }
  const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
  await ui.close();
  process.stdout.write(JSON.stringify({ startMs: Math.round(startMs), firstPageMs, firstUnread, loadedMs: Math.round(loadedMs), requests, rssMB }) + "\n");
}
