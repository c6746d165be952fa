/**
 * The dashboard's HTTP surface: a fixed set of static files and JSON endpoints under /api/,
 * all behind one random token (and, from `startDashboard`, a Host header check). Every path
 * parameter is looked up among the sweeps and runs the watcher knows; no user input is ever
 * joined into a filesystem path; and a store file is sent only when its real path lies inside
 * its sweep folder (a run may have planted `stdout.log -> /etc/shadow`).
 */
import { timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import type { MetricsLine, RunEntry, SweepManifest } from "../store/protocol.js";
import { readJsonWithin, readWithin, sizeWithin } from "../store/contain.js";
import type { RunStatusRecord } from "../store/protocol.js";
import { METRICS, STATUS } from "../store/store.js";
import type { SeriesSet } from "../store/metrics.js";
import { columnsOf, pageOfRuns } from "./table.js";
import { groupResults, type ResultsTable } from "../engine/inspect.js";
import { runDirWithin, type DashboardEvent, type RunRow, type StoreWatcher } from "./live.js";
import { RUN_CONFIG } from "../store/layout.js";
import { analysisRoutes } from "./analysis.js";
import { CURVES_MAX, mostInformative, parseRunList, stepKeyOf, thin, timeAt, TIME_KEYS, valueAt } from "./curves.js";

export const TOKEN_COOKIE = "corral_token";
export const TOKEN_HEADER = "x-corral-token";
/** Most bytes one /api/logs answer carries. */
export const LOG_CHUNK = 256 * 1024;

export interface DashboardAppOptions {
  watcher: StoreWatcher;
  token: string;
  /** Folder of index.html, app.js, style.css (default: found next to this module). */
  staticDir?: string;
  /** Keep-alive comment interval of the event stream. @default 15000 */
  heartbeatMs?: number;
  /**
   * Is this Host header (as sent, e.g. `127.0.0.1:8080`) one this server answers to? Anything
   * else is refused before the token is even looked at: a DNS-rebinding page reaches a loopback
   * server under its own host name. Default: every Host (unit tests call `app.request`).
   */
  hostAllowed?: (host: string) => boolean;
}

/** The static client: src/dashboard/static when run from source or from dist/ inside the package. */
export function findStaticDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, "static"), path.resolve(here, "../../src/dashboard/static")];
  const hit = candidates.find((d) => existsSync(path.join(d, "index.html")));
  if (!hit) throw new Error(`dashboard client files not found (looked in ${candidates.join(", ")})`);
  return hit;
}

function uplotFiles(): { js: string; css: string } {
  const dist = path.join(path.dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");
  return { js: path.join(dist, "uPlot.iife.min.js"), css: path.join(dist, "uPlot.min.css") };
}

/** csv-stringify's browser build (an ES module with no imports): the client's CSV exports. */
function csvStringifyFile(): string {
  return createRequire(import.meta.url).resolve("csv-stringify/browser/esm/sync");
}

const sameToken = (a: string | undefined, b: string): boolean => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Build the Hono app; `app.fetch` is what the HTTP server calls (and what unit tests call). */
export function createDashboardApp(opts: DashboardAppOptions): Hono {
  const { watcher, token } = opts;
  const staticDir = opts.staticDir ?? findStaticDir();
  const up = uplotFiles();
  // The only files this server sends that are not records of the store.
  const files: Record<string, { file: string; type: string }> = {
    "/": { file: path.join(staticDir, "index.html"), type: "text/html; charset=utf-8" },
    "/app.js": { file: path.join(staticDir, "app.js"), type: "text/javascript; charset=utf-8" },
    "/analysis.js": { file: path.join(staticDir, "analysis.js"), type: "text/javascript; charset=utf-8" },
    "/curves.js": { file: path.join(staticDir, "curves.js"), type: "text/javascript; charset=utf-8" },
    "/style.css": { file: path.join(staticDir, "style.css"), type: "text/css; charset=utf-8" },
    "/vendor/uPlot.js": { file: up.js, type: "text/javascript; charset=utf-8" },
    "/vendor/uPlot.css": { file: up.css, type: "text/css; charset=utf-8" },
    "/vendor/csv-stringify.js": { file: csvStringifyFile(), type: "text/javascript; charset=utf-8" },
  };

  const app = new Hono();

  app.use("*", async (c, next) => {
    if (opts.hostAllowed && !opts.hostAllowed(c.req.header("host") ?? "")) {
      return c.text("corral ui: unexpected Host header (open the URL printed by `corral ui`)\n", 403);
    }
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    c.header("Cache-Control", "no-store");
    c.header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
    const fromQuery = c.req.query("token");
    const bearer = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
    const given = [fromQuery, c.req.header(TOKEN_HEADER), bearer, getCookie(c, TOKEN_COOKIE)];
    if (!given.some((g) => sameToken(g, token))) {
      return c.req.path.startsWith("/api/") ? c.json({ error: "missing or wrong token" }, 401) : c.text("corral ui: open the URL printed by `corral ui` (it carries the access token)\n", 401);
    }
    if (sameToken(fromQuery, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    }
    await next();
  });

  for (const [route, f] of Object.entries(files)) {
    app.get(route, (c) => {
      c.header("Content-Type", f.type);
      return c.body(readFileSync(f.file));
    });
  }

  const sweepOr404 = (c: Context): ReturnType<StoreWatcher["get"]> => watcher.get(c.req.param("sweep") ?? "");
  /** A run of a known sweep by its decimal index, with a folder inside the sweep folder. */
  const runOf = (c: Context): { sweep: NonNullable<ReturnType<StoreWatcher["get"]>>; entry: RunEntry; row: RunRow; dir: string } | undefined => {
    const sweep = sweepOr404(c);
    const idx = c.req.param("index") ?? "";
    if (!sweep || !/^\d{1,9}$/.test(idx)) return undefined;
    const i = sweep.manifest.runs.findIndex((r) => r.index === Number(idx));
    const entry = sweep.manifest.runs[i];
    const row = sweep.rows[i];
    if (!entry || !row) return undefined;
    const dir = runDirWithin(sweep.manifest, entry);
    return dir ? { sweep, entry, row, dir } : undefined;
  };
  const notFound = (c: Context): Response => c.json({ error: "not found" }, 404);
  // No content, and no hint of what the link points at.
  const outside = (c: Context, name: string): Response => c.json({ error: `${name} of this run lies outside its sweep folder; not served` }, 403);

  app.get("/api/sweeps", (c) => c.json({ project: watcher.projectDir, sweeps: watcher.sweeps() }));

  app.get("/api/sweep/:sweep", (c) => {
    const s = sweepOr404(c);
    if (!s) return notFound(c);
    const { params, metrics } = columnsOf(s.rows);
    const base = { sweep: s.summary, manifest: pickManifest(s.manifest), paramColumns: params, metricColumns: metrics, informative: mostInformative(s.rows, metrics, s.manifest) };
    // `?limit=`: one page of the filtered, sorted table (a 100,000-run sweep sends one page).
    const limit = c.req.query("limit");
    if (limit === undefined) return c.json({ ...base, runs: s.rows });
    const offset = c.req.query("offset") ?? "0";
    const dir = c.req.query("dir") ?? "asc";
    if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1 || !/^\d{1,9}$/.test(offset)) return c.json({ error: "limit must be 1-999999 and offset a non-negative integer" }, 400);
    if (dir !== "asc" && dir !== "desc") return c.json({ error: "dir must be asc or desc" }, 400);
    const page = pageOfRuns(s.rows, base.paramColumns, {
      filter: c.req.query("filter") ?? "",
      sort: c.req.query("sort") ?? "run",
      dir: dir === "asc" ? 1 : -1,
      offset: Number(offset),
      limit: Number(limit),
    });
    return c.json({ ...base, total: s.rows.length, ...page });
  });

  // Group by: mean ± std (min, max) of every metric over the `over` parameters (seeds), one row
  // per combination of the others, as `corral results --over`.
  app.get("/api/group/:sweep", (c) => {
    const s = sweepOr404(c);
    if (!s) return notFound(c);
    const { params, metrics } = columnsOf(s.rows);
    const over = c.req.queries("over")?.flatMap((o) => o.split(",")).filter(Boolean) ?? [];
    const unknown = over.find((o) => !params.includes(o));
    if (unknown !== undefined) return c.json({ error: `no parameter '${unknown}' in this sweep (its parameters: ${params.join(", ")})` }, 400);
    const table: ResultsTable = {
      columns: [],
      paramColumns: params,
      metricColumns: metrics,
      rows: s.rows.map((r) => ({ ...r.params, ...r.metrics, state: r.state })),
    };
    return c.json(groupResults(table, over));
  });

  analysisRoutes(app, watcher);

  app.get("/api/run/:sweep/:index", (c) => {
    const r = runOf(c);
    if (!r) return notFound(c);
    const root = r.sweep.manifest.dir;
    const cfg = readWithin(root, path.join(r.dir, RUN_CONFIG));
    if (cfg.kind === "outside") return outside(c, RUN_CONFIG);
    const statusFile = path.join(r.dir, STATUS);
    if (sizeWithin(root, statusFile) === "outside") return outside(c, STATUS);
    // A log that points outside shows as empty here; /api/logs refuses it.
    const logSize = (stream: string): number => {
      const n = sizeWithin(root, path.join(r.dir, `${stream}.log`));
      return n === "outside" ? 0 : Math.max(0, n);
    };
    return c.json({
      sweep: r.sweep.summary,
      run: r.row,
      dir: r.dir,
      status: readJsonWithin<RunStatusRecord>(root, statusFile) ?? null,
      // Missing: not written yet.
      config: cfg.kind === "ok" ? cfg.data.toString("utf8") : "",
      jobs: r.sweep.manifest.jobs.filter((j) => j.batches.some((b) => b.runs.includes(r.entry.index))),
      logs: { stdout: logSize("stdout"), stderr: logSize("stderr") },
    });
  });

  app.get("/api/logs/:sweep/:index", (c) => {
    const r = runOf(c);
    if (!r) return notFound(c);
    const stream = c.req.query("stream") ?? "stdout";
    if (stream !== "stdout" && stream !== "stderr") return c.json({ error: "stream must be stdout or stderr" }, 400);
    const root = r.sweep.manifest.dir;
    const file = path.join(r.dir, `${stream}.log`);
    const found = sizeWithin(root, file);
    if (found === "outside") return outside(c, `${stream}.log`);
    const total = Math.max(0, found);
    const q = c.req.query("offset");
    // No offset: the tail; an offset: what was written since.
    if (q !== undefined && !/^\d{1,15}$/.test(q)) return c.json({ error: "offset must be a non-negative integer" }, 400);
    let start = q === undefined ? Math.max(0, total - 16 * 1024) : Number(q);
    if (start > total) start = 0; // the file was truncated (a new attempt)
    const end = Math.min(total, start + LOG_CHUNK);
    const got = end > start ? readWithin(root, file, { start, end }) : undefined;
    // Swapped for a link between the two looks: still nothing from outside.
    if (got?.kind === "outside") return outside(c, `${stream}.log`);
    const text = got?.kind === "ok" ? got.data.toString("utf8") : "";
    return c.json({ stream, offset: start, next: end, size: total, text });
  });

  app.get("/api/metrics/:sweep/:index", (c) => {
    const r = runOf(c);
    if (!r) return notFound(c);
    if (sizeWithin(r.sweep.manifest.dir, path.join(r.dir, METRICS)) === "outside") return outside(c, METRICS);
    const reader = watcher.seriesOf(r.sweep.summary.id, r.entry.index);
    if (!reader) return notFound(c);
    const s = reader.series();
    return c.json({ x: s.x, sources: reader.sources().map((x) => x.kind), rows: seriesRows(s) });
  });

  // One metric of several runs (`runs=3,5,8`, or the table's `filter`/`sort`/`dir`), at most
  // CURVES_MAX, each downsampled; `t` is wall-clock seconds when the run logs a time key.
  app.get("/api/curves/:sweep", (c) => {
    const s = sweepOr404(c);
    if (!s) return notFound(c);
    const cols = columnsOf(s.rows);
    const informative = mostInformative(s.rows, cols.metrics, s.manifest);
    const metric = c.req.query("metric") || informative.metric;
    const listed = c.req.query("runs");
    let chosen: typeof s.rows;
    if (listed !== undefined) {
      const want = parseRunList(listed);
      if (!want) return c.json({ error: "runs must be run indices separated by commas (runs=0,3,7)" }, 400);
      const at = new Map(s.rows.map((r) => [r.index, r]));
      chosen = want.map((i) => at.get(i)).filter((r): r is NonNullable<typeof r> => r !== undefined);
    } else {
      const dir = c.req.query("dir") ?? "asc";
      if (dir !== "asc" && dir !== "desc") return c.json({ error: "dir must be asc or desc" }, 400);
      chosen = pageOfRuns(s.rows, cols.params, { filter: c.req.query("filter") ?? "", sort: c.req.query("sort") ?? "run", dir: dir === "asc" ? 1 : -1, limit: s.rows.length }).runs;
    }
    const runs = [];
    for (const row of chosen.slice(0, CURVES_MAX)) {
      const reader = metric ? watcher.seriesOf(s.summary.id, row.index) : undefined;
      const set = reader?.series();
      const pts = thin((metric && set?.series[metric]) || []);
      const timeKey = TIME_KEYS.find((k) => k !== metric && set?.series[k]?.length);
      const lines = pts.map((p) => p[0]);
      // A run that logs no `step` is charted against the epoch (or iteration) it logs, not its line number.
      const found = set?.x === "line" ? stepKeyOf(set.series) : undefined;
      const counter = found && found.key !== metric ? found : undefined;
      const x = counter ? valueAt(lines, counter.series)! : lines;
      const xKey = counter?.key ?? set?.x ?? "step";
      runs.push({ index: row.index, state: row.state, params: row.params, x, y: pts.map((p) => p[1]), xKey, ...(timeKey ? { timeKey, t: timeAt(lines, set!.series[timeKey]!) } : {}) });
    }
    return c.json({ metric, metrics: cols.metrics, informative, matched: chosen.length, limit: CURVES_MAX, cut: chosen.length > CURVES_MAX, runs });
  });

  app.get("/api/events", (c) =>
    streamSSE(c, async (sse) => {
      const queue: DashboardEvent[][] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = watcher.subscribe((evs) => {
        queue.push(evs);
        wake?.();
      });
      let open = true;
      const stop = (): void => {
        open = false;
        wake?.();
      };
      sse.onAbort(stop);
      // The server is shutting down: end the stream so the process can exit.
      const offClose = watcher.onClose(stop);
      try {
        await sse.writeSSE({ event: "snapshot", data: JSON.stringify({ sweeps: watcher.sweeps() }) });
        // A write to a stream whose client went away sets `aborted`/`closed` rather than throwing.
        while (open && !sse.aborted && !sse.closed) {
          const evs = queue.shift();
          if (evs) {
            for (const e of evs) await sse.writeSSE({ event: e.type, data: JSON.stringify(e) });
            continue;
          }
          await new Promise<void>((res) => {
            wake = res;
            setTimeout(res, opts.heartbeatMs ?? 15_000).unref();
          });
          wake = undefined;
          if (open && !queue.length) await sse.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
        offClose();
      }
    }),
  );

  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}

function pickManifest(m: SweepManifest): Record<string, unknown> {
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    command: m.command,
    overrides: m.overrides,
    launcher: m.launcher,
    profile: m.profile,
    git: m.git ? { commit: m.git.commit, dirty: m.git.dirty } : undefined,
    jobs: m.jobs,
    edges: m.edges,
    createdAt: m.createdAt,
  };
}


/**
 * Downsampled series as the rows the client draws: one row per x, holding every metric that
 * has a point there (`step`, or `line` when some point had no step), in x order.
 */
export function seriesRows(s: SeriesSet): MetricsLine[] {
  const byX = new Map<number, MetricsLine>();
  for (const [k, pts] of Object.entries(s.series)) {
    for (const [x, y] of pts) {
      let row = byX.get(x);
      if (!row) byX.set(x, (row = { [s.x]: x }));
      row[k] = y;
    }
  }
  return [...byX.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}
