import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDashboardApp, TOKEN_COOKIE } from "../../src/dashboard/app.js";
import { StoreWatcher } from "../../src/dashboard/live.js";
import type { RunState, RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { indexSweep, writeManifest, writeRunStatus } from "../../src/store/store.js";

const TOKEN = "t0k3n-for-tests-0123456789abcdef";
const NOW = 1_800_000_000_000;

let project: string;
let manifest: SweepManifest;

const status = (index: number, state: RunState, extra: Partial<RunStatusRecord> = {}): RunStatusRecord => ({
  type: "run-status",
  version: 1,
  runId: `r${index}`,
  index,
  state,
  attempt: 1,
  updatedAt: NOW,
  history: [{ state, at: NOW, attempt: 1 }],
  ...extra,
});

beforeEach(() => {
  project = mkdtempSync(path.join(tmpdir(), "corral-dash-"));
  const dir = path.join(project, "multirun", "s1");
  manifest = {
    type: "sweep",
    version: 1,
    id: "s1",
    kind: "flow",
    createdAt: NOW - 1000,
    dir,
    projectDir: project,
    command: ["python3", "train.py"],
    overrides: ["lr=0.1,0.01"],
    launcher: "local",
    runs: [0, 1, 2].map((i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [`lr=${i}`], params: { lr: i }, job: `train/${i}`, rule: "train" })),
    jobs: [{ jobId: "local-1", launcher: "local", submittedAt: NOW, batches: [{ batchId: "b0", runs: [0, 1, 2] }] }],
    edges: [[0, 1], [1, 2]],
  };
  for (const r of manifest.runs) mkdirSync(path.join(dir, r.dir), { recursive: true });
  writeManifest(manifest);
  indexSweep(project, manifest);
  writeRunStatus(path.join(dir, "0"), status(0, "succeeded", { host: "node7", jobId: "42_0", gpus: ["0"] }));
  writeRunStatus(path.join(dir, "1"), status(1, "running"));
  writeFileSync(path.join(dir, "0", "metrics.jsonl"), '{"step":0,"loss":2}\n{"step":1,"loss":1}\n');
  writeFileSync(path.join(dir, "0", "stdout.log"), "hello\nworld\n");
  writeFileSync(path.join(dir, "0", "config.yaml"), "lr: 0\n");
});
afterEach(() => rmSync(project, { recursive: true, force: true }));

function setup(): { app: ReturnType<typeof createDashboardApp>; watcher: StoreWatcher; get: (p: string) => Promise<Response> } {
  const watcher = new StoreWatcher(project, { now: () => NOW });
  watcher.poll();
  const app = createDashboardApp({ watcher, token: TOKEN });
  return { app, watcher, get: (p) => Promise.resolve(app.request(p, { headers: { "x-corral-token": TOKEN } })) };
}

describe("token", () => {
  it("refuses every route without it, and with a near miss", async () => {
    const { app } = setup();
    for (const p of ["/", "/app.js", "/vendor/uPlot.js", "/vendor/csv-stringify.js", "/api/sweeps", "/api/run/s1/0", "/api/nope"]) {
      expect((await app.request(p)).status, p).toBe(401);
      expect((await app.request(p, { headers: { "x-corral-token": TOKEN + "x" } })).status, p).toBe(401);
      expect((await app.request(p, { headers: { cookie: `${TOKEN_COOKIE}=${TOKEN.slice(1)}` } })).status, p).toBe(401);
    }
  });

  it("accepts it in the query (setting an HttpOnly cookie), a header, a bearer or the cookie", async () => {
    const { app } = setup();
    const first = await app.request(`/?token=${TOKEN}`);
    expect(first.status).toBe(200);
    expect(first.headers.get("set-cookie")).toMatch(new RegExp(`^${TOKEN_COOKIE}=${TOKEN};.*HttpOnly.*SameSite=Strict`, "i"));
    expect(await first.text()).toContain('<script type="module" src="/app.js">');
    expect((await app.request("/api/sweeps", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await app.request("/api/sweeps", { headers: { cookie: `${TOKEN_COOKIE}=${TOKEN}` } })).status).toBe(200);
    const js = await app.request("/vendor/uPlot.js", { headers: { cookie: `${TOKEN_COOKIE}=${TOKEN}` } });
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(await js.text()).toContain("uPlot");
    // csv-stringify's browser build, an ES module the client imports for every CSV download.
    const csv = await app.request("/vendor/csv-stringify.js", { headers: { cookie: `${TOKEN_COOKIE}=${TOKEN}` } });
    expect(csv.headers.get("content-type")).toMatch(/javascript/);
    expect(await csv.text()).toMatch(/export \{[^}]*\bstringify\b[^}]*\};?\s*$/);
  });
});

describe("API", () => {
  it("lists sweeps with counts and progress", async () => {
    const { get } = setup();
    const body = (await (await get("/api/sweeps")).json()) as { sweeps: Array<{ id: string; total: number; done: number; counts: Record<string, number> }> };
    expect(body.sweeps).toHaveLength(1);
    expect(body.sweeps[0]).toMatchObject({ id: "s1", total: 3, done: 1, counts: { succeeded: 1, running: 1, pending: 1 } });
  });

  it("a sweep: parameters, states, latest metrics and the pipeline's edges", async () => {
    const { get } = setup();
    const d = (await (await get("/api/sweep/s1")).json()) as { paramColumns: string[]; metricColumns: string[]; runs: Array<{ state: string; metrics: Record<string, number>; rule?: string }>; manifest: { edges: unknown } };
    expect(d.paramColumns).toEqual(["lr"]);
    expect(d.metricColumns).toEqual(["step", "loss"]);
    expect(d.runs.map((r) => r.state)).toEqual(["succeeded", "running", "pending"]);
    expect(d.runs[0]!.metrics).toEqual({ step: 1, loss: 1 });
    expect(d.runs[0]!.rule).toBe("train");
    expect(d.manifest.edges).toEqual([[0, 1], [1, 2]]);
  });

  it("a run: config, status history and scheduler facts", async () => {
    const { get } = setup();
    const r = (await (await get("/api/run/s1/0")).json()) as { run: { host: string; jobId: string; gpus: string[] }; config: string; status: RunStatusRecord; jobs: Array<{ jobId: string }> };
    expect(r.run).toMatchObject({ host: "node7", jobId: "42_0", gpus: ["0"] });
    expect(r.config).toBe("lr: 0\n");
    expect(r.status.history).toHaveLength(1);
    expect(r.jobs.map((j) => j.jobId)).toEqual(["local-1"]);
  });

  it("logs from an offset; bad offsets and streams are refused", async () => {
    const { get } = setup();
    const all = (await (await get("/api/logs/s1/0?offset=0")).json()) as { text: string; next: number; size: number };
    expect(all).toMatchObject({ text: "hello\nworld\n", next: 12, size: 12 });
    appendFileSync(path.join(manifest.dir, "0", "stdout.log"), "more\n");
    expect(((await (await get("/api/logs/s1/0?offset=12")).json()) as { text: string }).text).toBe("more\n");
    // An offset past the end means the file was truncated (new attempt): start over.
    expect(((await (await get("/api/logs/s1/0?offset=999")).json()) as { offset: number }).offset).toBe(0);
    expect((await get("/api/logs/s1/0?offset=-1")).status).toBe(400);
    expect((await get("/api/logs/s1/0?offset=1e3")).status).toBe(400);
    expect((await get("/api/logs/s1/0?stream=../../etc/passwd")).status).toBe(400);
    expect(((await (await get("/api/logs/s1/0?stream=stderr")).json()) as { text: string }).text).toBe("");
  });

  it("metric series", async () => {
    const { get } = setup();
    expect(((await (await get("/api/metrics/s1/0")).json()) as { rows: unknown[] }).rows).toEqual([{ step: 0, loss: 2 }, { step: 1, loss: 1 }]);
  });

  it("metric series from foreign loggers' files, live rows and charts read only what was appended", async () => {
    const { get, watcher } = setup();
    const run1 = path.join(manifest.dir, "1");
    cpSync(path.resolve(import.meta.dirname, "../fixtures/metrics/wandb-offline"), run1, { recursive: true });
    watcher.poll();
    // wandb's `_timestamp` (the fixture: 1700000000.5 + step) is the chart series `wall_time`, not a result column.
    expect(watcher.get("s1")!.rows[1]!.metrics).toEqual({ step: 3, loss: 0.25, "eval.acc": 0.9375 });
    const body = (await (await get("/api/metrics/s1/1")).json()) as { x: string; sources: string[]; rows: unknown[] };
    expect(body.sources).toEqual(["wandb"]);
    expect(body.x).toBe("step");
    expect(body.rows).toEqual([0, 1, 2, 3].map((i) => ({ step: i, loss: 2 / 2 ** i, "eval.acc": 1 - 2 / 2 ** i / 4, wall_time: 1700000000.5 + i })));
    // metrics.jsonl grows: the next chart request reads the new line only
    const reader = watcher.seriesOf("s1", 0)!;
    const before = reader.bytesRead;
    appendFileSync(path.join(manifest.dir, "0", "metrics.jsonl"), '{"step":2,"loss":0.5}\n');
    expect(((await (await get("/api/metrics/s1/0")).json()) as { rows: unknown[] }).rows).toEqual([{ step: 0, loss: 2 }, { step: 1, loss: 1 }, { step: 2, loss: 0.5 }]);
    expect(reader.bytesRead - before).toBe('{"step":2,"loss":0.5}\n'.length);
  });

  it("a long series comes back downsampled, with its extremes", async () => {
    const { get } = setup();
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ step: i, loss: i === 12_345 ? 99 : 1 / (1 + i) }));
    writeFileSync(path.join(manifest.dir, "0", "metrics.jsonl"), lines.join("\n") + "\n");
    const rows = ((await (await get("/api/metrics/s1/0")).json()) as { rows: Array<{ step: number; loss: number }> }).rows;
    expect(rows.length).toBeLessThan(4001);
    expect(rows).toContainEqual({ step: 12_345, loss: 99 });
    expect(rows[0]).toEqual({ step: 0, loss: 1 });
    expect(rows.at(-1)!.step).toBe(19_999);
  });

  it("/api/group: mean ± std of each metric over the named parameters, as corral results --over", async () => {
    const { get, watcher } = setup();
    writeFileSync(path.join(manifest.dir, "1", "metrics.jsonl"), '{"step":1,"loss":3}\n');
    watcher.poll();
    type G = { keys: string[]; over: string[]; rows: Array<{ params: Record<string, unknown>; n: number; stats: Record<string, { n: number; mean: number; std?: number; min: number; max: number }> }> };
    const all = (await (await get("/api/group/s1?over=lr")).json()) as G;
    expect(all.keys).toEqual([]);
    expect(all.rows).toEqual([{ params: {}, n: 3, stats: { loss: { n: 2, mean: 2, std: Math.SQRT2, min: 1, max: 3 } } }]);
    const none = (await (await get("/api/group/s1")).json()) as G;
    expect(none.rows.map((r) => [r.params.lr, r.n])).toEqual([[0, 1], [1, 1], [2, 1]]);
    const bad = await get("/api/group/s1?over=lrr");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("no parameter 'lrr'");
  });

  it("?limit= serves one page of the filtered, sorted run table", async () => {
    const { get } = setup();
    type Page = { total: number; matched: number; offset: number; runs: Array<{ index: number }> };
    const page = async (q: string): Promise<Page> => (await (await get(`/api/sweep/s1?${q}`)).json()) as Page;
    expect(await page("limit=2")).toMatchObject({ total: 3, matched: 3, offset: 0, runs: [{ index: 0 }, { index: 1 }] });
    expect((await page("limit=2&offset=2")).runs.map((r) => r.index)).toEqual([2]);
    expect((await page("limit=5&sort=lr&dir=desc")).runs.map((r) => r.index)).toEqual([2, 1, 0]);
    expect(await page("limit=5&filter=lr>0")).toMatchObject({ matched: 2, runs: [{ index: 1 }, { index: 2 }] });
    expect((await page("limit=5&filter=succeeded")).runs.map((r) => r.index)).toEqual([0]);
    // missing values last in either direction
    expect((await page("limit=5&sort=loss&dir=desc")).runs.map((r) => r.index)).toEqual([0, 1, 2]);
    for (const bad of ["limit=0", "limit=x", "limit=2&offset=-1", "limit=2&dir=up"]) expect((await get(`/api/sweep/s1?${bad}`)).status, bad).toBe(400);
  });

  it("unknown sweeps, runs and traversal attempts are 404, never a file", async () => {
    const { get } = setup();
    for (const p of ["/api/sweep/nope", "/api/run/s1/3", "/api/run/s1/-1", "/api/run/s1/0x1", "/api/run/s1/1.0", "/api/run/..%2F..%2Fetc/0", `/api/sweep/${encodeURIComponent(manifest.dir)}`, "/api/logs/s1/..%2F..%2F..%2Fetc%2Fpasswd", "/etc/passwd"]) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
    }
  });

  it("a manifest whose run folder points outside the sweep is not served", async () => {
    manifest.runs[2]!.dir = "../../../../etc";
    writeManifest(manifest);
    const { get } = setup();
    expect((await get("/api/logs/s1/2")).status).toBe(404);
    expect((await get("/api/run/s1/2")).status).toBe(404);
    expect((await get("/api/run/s1/0")).status).toBe(200);
  });

  it("the event stream starts with a snapshot", async () => {
    const { app } = setup();
    const ac = new AbortController();
    const res = await app.request("/api/events", { headers: { "x-corral-token": TOKEN }, signal: ac.signal });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    const text = new TextDecoder().decode(value);
    expect(text).toMatch(/^event: snapshot\ndata: \{"sweeps":\[\{"id":"s1"/);
    ac.abort();
    await reader.cancel();
  });

  it("closing the watcher ends open event streams (so `corral ui` can exit on Ctrl+C)", async () => {
    const { app, watcher } = setup();
    const res = await app.request("/api/events", { headers: { "x-corral-token": TOKEN } });
    const reader = res.body!.getReader();
    await reader.read(); // the snapshot
    watcher.close();
    let done = false;
    for (let i = 0; i < 5 && !done; i++) done = (await reader.read()).done;
    expect(done).toBe(true);
  });
});

describe("StoreWatcher", () => {
  it("reports only what changed, and nothing when nothing did", () => {
    const { watcher } = setup();
    expect(watcher.poll()).toEqual([]);
    writeRunStatus(path.join(manifest.dir, "1"), status(1, "failed", { exitCode: 3 }));
    const evs = watcher.poll();
    const runs = evs.find((e) => e.type === "runs");
    expect(runs && runs.type === "runs" && runs.runs.map((r) => [r.index, r.state, r.exitCode])).toEqual([[1, "failed", 3]]);
    const sweep = evs.find((e) => e.type === "sweep");
    expect(sweep && sweep.type === "sweep" && sweep.sweep.counts).toMatchObject({ succeeded: 1, failed: 1, pending: 1, running: 0 });
    expect(watcher.poll()).toEqual([]);
  });

  it("a growing metrics file of a running run is re-read", () => {
    const { watcher } = setup();
    appendFileSync(path.join(manifest.dir, "1", "metrics.jsonl"), '{"loss":0.5}\n');
    const evs = watcher.poll();
    expect(evs).toEqual([{ type: "runs", sweep: "s1", runs: [expect.objectContaining({ index: 1, metrics: { loss: 0.5 } })] }]);
  });

  it("does not re-read finished runs until the manifest changes (a resume)", () => {
    const { watcher } = setup();
    writeRunStatus(path.join(manifest.dir, "0"), status(0, "failed"));
    expect(watcher.poll()).toEqual([]);
    writeManifest({ ...manifest, jobs: [...manifest.jobs, { jobId: "local-2", launcher: "local", submittedAt: NOW, batches: [] }] });
    // mtime resolution of some filesystems is coarse: make the change visible.
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(manifest.dir, "sweep.json"), later, later);
    const evs = watcher.poll();
    expect(evs.some((e) => e.type === "runs" && e.runs.some((r) => r.index === 0 && r.state === "failed"))).toBe(true);
  });

  it("notifies subscribers and forgets removed sweeps", () => {
    const { watcher } = setup();
    const seen: string[] = [];
    watcher.subscribe((evs) => seen.push(...evs.map((e) => e.type)));
    rmSync(path.join(project, ".corral"), { recursive: true });
    watcher.poll();
    expect(seen).toEqual(["removed"]);
    expect(watcher.sweeps()).toEqual([]);
    watcher.close();
    watcher.close();
  });
});
