/**
 * Curves of several runs on one chart, in a real browser (Debian's headless Chromium through
 * playwright-core): a sweep of 7 runs, six logging metrics.jsonl (one of them failing) and one
 * logging through TensorBoard event files. Runs are picked in the sweep table and plotted; the
 * chart's data is checked against the files, smoothing, log y and wall time change it; the
 * chart is exported as PNG and SVG and the table as CSV, each checked. Screenshots land in
 * test-results/. Skipped, with the reason printed, when /usr/bin/chromium is missing.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Download, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, launchChromium, openPage, SHOTS, startUi } from "../ui-browser.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const FIXTURE_APP = path.join(ROOT, "test/fixtures/metrics/make_fixtures.py");
const TB_RUN = 6;
const FAILING = 5;
const STEPS = 30;

// k < 6: metrics.jsonl with step, acc, loss (acc first: no view may open on the first column just because it is first) and a wall clock `time` (0.5 s a step); k = 5 then fails.
// k = 6: TensorBoard event files written by the fixture app (loss at steps 0, 10, 20, 30, one second apart).
const APP = `import json, math, os, sys
run = os.environ["CORRAL_RUN_DIR"]
cfg = dict(l.split(":", 1) for l in open(os.path.join(run, "config.yaml")) if ":" in l)
k = int(cfg["k"].strip())
if k == ${TB_RUN}:
    os.execvp(sys.executable, [sys.executable, ${JSON.stringify(FIXTURE_APP)}, "--app"])
with open(os.path.join(run, "metrics.jsonl"), "w") as f:
    for s in range(${STEPS}):
        loss = (1 + 0.4 * k) * math.exp(-0.08 * s) + 0.05 * ((s * 7 + k) % 5)
        f.write(json.dumps({"step": s, "acc": 1 - loss / 8, "loss": loss, "time": 1000 + 0.5 * s}) + "\\n")
sys.exit(1 if k == ${FAILING} else 0)
`;

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(CLI) ? `${CLI} not built (npm run build)` : undefined;
if (skipReason) console.warn(`[dashboard-curves.test] skipped: ${skipReason}`);

/** RFC 4180 fields of a CSV text (quoted fields may hold commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += ch;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The table's number format (app.js `fmt`). */
const shown = (n: number): string => (Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(5))));

/** TensorBoard's smoothing, written apart from the client's. */
function tbSmooth(ys: number[], w: number): number[] {
  let last = 0;
  return ys.map((y, i) => {
    last = last * w + (1 - w) * y;
    return last / (1 - w ** (i + 1));
  });
}

describe.skipIf(skipReason !== undefined)("curves of several runs, exports (headless Chromium)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-ui-curves-"));
  let uiProc: ChildProcess | undefined;
  let browser: Browser | undefined;
  let origin = "";
  let token = "";
  let sweepId = "";
  let sweepDir = "";
  type Run = { index: number; state: string; params: { k: number }; metrics: Record<string, number> };
  let runs: Run[] = [];
  const runOfK = (k: number): Run => runs.find((r) => r.params.k === k)!;

  const newPage = (hash = ""): Promise<{ page: Page; errors: string[] }> => openPage(browser!, origin, token, hash, { width: 1300, height: 900 });
  const downloaded = async (page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> => {
    const [dl] = (await Promise.all([page.waitForEvent("download", { timeout: 20_000 }), click()])) as [Download, void];
    return { name: dl.suggestedFilename(), bytes: readFileSync((await dl.path())!) };
  };
  /** What metrics.jsonl of run k holds. */
  const fileSeries = (k: number, key: string): { step: number[]; y: number[]; time: number[] } => {
    const lines = readFileSync(path.join(sweepDir, String(runOfK(k).index), "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    return { step: lines.map((l) => l.step!), y: lines.map((l) => l[key]!), time: lines.map((l) => l.time!) };
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(path.join(dir, "app.py"), APP);
    writeFileSync(path.join(dir, "corral.yaml"), "command: python3 app.py\nconfig:\n  k: 0\nlauncher:\n  jobs: 2\n");
    const sweep = spawnSync(process.execPath, [CLI, "run", "-m", "k=0,1,2,3,4,5,6"], { cwd: dir, encoding: "utf8" });
    expect(sweep.stderr).toContain("6 succeeded");
    const manifest = JSON.parse(readFileSync(path.join(dir, ".corral", "sweeps", readdirSync(path.join(dir, ".corral", "sweeps"))[0]!), "utf8")) as { id: string; dir: string };
    sweepId = manifest.id;
    const ui = startUi(dir);
    uiProc = ui.proc;
    ({ origin, token } = await ui.ready);
    const r = await fetch(`${origin}/api/sweep/${sweepId}`, { headers: { "x-corral-token": token } });
    const d = (await r.json()) as { runs: Run[]; sweep: { dir: string } };
    runs = d.runs;
    sweepDir = d.sweep.dir;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    uiProc?.kill("SIGINT");
    rmSync(dir, { recursive: true, force: true });
  });

  it("three runs picked in the table are plotted from their files; smoothing, log y, wall time and PNG/SVG exports", async () => {
    expect(runOfK(FAILING).state).toBe("failed");
    const { page, errors } = await newPage(`#/sweep/${sweepId}`);
    await page.locator("#runs tbody tr").first().waitFor({ timeout: 20_000 });
    const picked = [1, FAILING, TB_RUN].map((k) => runOfK(k).index);
    for (const i of picked) await page.locator(`#runs tr[data-index="${i}"] input.pick`).check();
    expect(await page.locator("#plot-selected").textContent()).toBe("plot selected (3)");
    await page.locator("#plot-selected").click();
    await page.locator('#curves-chart[data-series="3"] canvas').waitFor({ timeout: 20_000 });
    expect(await page.locator("#curves-metric").inputValue()).toBe("loss");

    type Drawn = { index: number; state: string; x: number[]; y: Array<number | null>; smoothed: Array<number | null> | null };
    const drawn = async (): Promise<{ runs: Drawn[]; series: number; distrY: number; dashed: number[]; smooth: number }> =>
      page.evaluate(() => {
        const c = (window as unknown as { corral: { curves: { runs: Drawn[]; smooth: number; uplot: { series: Array<{ dash?: number[]; label: string }>; scales: { y: { distr: number } } } } } }).corral.curves;
        return { runs: c.runs, series: c.uplot.series.length - 1, distrY: c.uplot.scales.y.distr, dashed: c.runs.filter((r) => c.uplot.series.some((s) => s.label === `run ${r.index}` && s.dash?.length)).map((r) => r.index), smooth: c.smooth };
      });
    let d = await drawn();
    expect(d.runs.map((r) => r.index).sort()).toEqual([...picked].sort());
    // metrics.jsonl runs: every point of the file (30 points, below the downsampling size)
    for (const k of [1, FAILING]) {
      const f = fileSeries(k, "loss");
      const r = d.runs.find((x) => x.index === runOfK(k).index)!;
      expect(r.x).toEqual(f.step);
      expect(r.y.map((v) => v!)).toEqual(f.y.map((v) => expect.closeTo(v, 12)));
    }
    // The TensorBoard run: the fixture app's losses at lr 0.1, seed 0, stored as float32
    const tb = d.runs.find((x) => x.index === runOfK(TB_RUN).index)!;
    expect(tb.x).toEqual([0, 10, 20, 30]);
    expect(tb.y.map((v) => v!)).toEqual([1, 2, 3, 4].map((i) => expect.closeTo(Math.fround(2 / (1 + 0.1 * 10 * i)), 6)));
    // Smoothing on by default (0.6): a faint raw and a smoothed series per run; the failed run dashed
    expect(d.smooth).toBe(0.6);
    expect(d.series).toBe(6);
    expect(d.dashed).toEqual([runOfK(FAILING).index]);
    const r1 = d.runs.find((x) => x.index === runOfK(1).index)!;
    expect(r1.smoothed!.map((v) => v!)).toEqual(tbSmooth(fileSeries(1, "loss").y, 0.6).map((v) => expect.closeTo(v, 9)));
    await page.screenshot({ path: path.join(SHOTS, "dashboard-curves-smoothed.png"), fullPage: true });

    // Smoothing off: one series per run, drawn raw
    await page.locator("#curves-smooth").fill("0");
    await page.waitForFunction(() => document.getElementById("curves-chart")?.dataset.smooth === "0");
    d = await drawn();
    expect(d.series).toBe(3);
    expect(d.runs.every((r) => r.smoothed === null)).toBe(true);
    // Stronger smoothing: the curve changes again
    await page.locator("#curves-smooth").fill("0.9");
    await page.waitForFunction(() => document.getElementById("curves-chart")?.dataset.smooth === "0.9");
    d = await drawn();
    expect(d.runs.find((x) => x.index === runOfK(1).index)!.smoothed!.map((v) => v!)).toEqual(tbSmooth(fileSeries(1, "loss").y, 0.9).map((v) => expect.closeTo(v, 9)));

    // Log y
    expect(d.distrY).toBe(1);
    await page.locator("#curves-logy").check();
    await page.waitForFunction(() => document.getElementById("curves-chart")?.dataset.logy === "1");
    d = await drawn();
    expect(d.distrY).toBe(3);
    expect(page.url()).toContain("logy=1");
    await page.screenshot({ path: path.join(SHOTS, "dashboard-curves-logy.png"), fullPage: true });

    // PNG: PNG bytes of a non-empty picture
    const png = await downloaded(page, () => page.locator('#view .toolbar [data-export="png"]').click());
    expect(png.name).toMatch(/\.png$/);
    expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.bytes.readUInt32BE(16)).toBeGreaterThan(100); // IHDR width
    expect(png.bytes.readUInt32BE(20)).toBeGreaterThan(100); // IHDR height
    // SVG: parses, one path per drawn series with a point per data point, the legend names the runs
    const svg = await downloaded(page, () => page.locator('#view .toolbar [data-export="svg"]').click());
    const parsed = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      return {
        error: doc.getElementsByTagName("parsererror").length,
        root: doc.documentElement.nodeName,
        paths: Array.from(doc.querySelectorAll("path.series"), (p) => ({ label: p.getAttribute("data-label"), points: (p.getAttribute("d")!.match(/[ML]/g) || []).length, dash: p.getAttribute("stroke-dasharray") })),
        legend: Array.from(doc.querySelectorAll(".legend-item text"), (t) => t.textContent),
        ticks: doc.querySelectorAll("text.tick").length,
      };
    }, svg.bytes.toString("utf8"));
    expect(parsed.error).toBe(0);
    expect(parsed.root).toBe("svg");
    expect(parsed.paths).toHaveLength(6);
    for (const k of [1, FAILING, TB_RUN]) {
      const i = runOfK(k).index;
      const n = k === TB_RUN ? 4 : STEPS;
      const mine = parsed.paths.filter((p) => p.label === `run ${i}` || p.label === `run ${i} raw`);
      expect(mine.map((p) => p.points)).toEqual([n, n]);
      expect(mine.every((p) => (p.dash !== null) === (k === FAILING))).toBe(true);
      expect(parsed.legend.some((t) => t!.includes(`run ${i} `))).toBe(true);
    }
    expect(parsed.ticks).toBeGreaterThan(3);

    // Wall time: runs with a `time` key (or TensorBoard's and wandb's own wall time) plot against seconds since their first point
    await page.locator("#curves-x").selectOption("time");
    await page.waitForFunction(() => (window as unknown as { corral: { curves: { x: string } } }).corral.curves.x === "time");
    d = await drawn();
    const f1 = fileSeries(1, "loss");
    expect(d.runs.find((x) => x.index === runOfK(1).index)!.x).toEqual(f1.time.map((t) => t - f1.time[0]!));
    // The TensorBoard run against its events' wall time: make_fixtures.py logs steps 0, 10, 20, 30 one second apart.
    expect(d.runs.find((x) => x.index === runOfK(TB_RUN).index)!.x).toEqual([0, 1, 2, 3]);
    expect(await page.locator("#curves-notes").textContent()).not.toContain("left out");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the table's CSV holds its rows as filtered and sorted; 'plot all filtered' plots what the filter keeps", async () => {
    const { page, errors } = await newPage(`#/sweep/${sweepId}`);
    await page.locator("#runs tbody tr").first().waitFor({ timeout: 20_000 });
    await page.locator("#filter").fill("k<6");
    await page.locator('th[data-col="loss"]').click();
    await page.locator('th[data-col="loss"]').click();
    const want = runs.filter((r) => r.params.k < 6).sort((a, b) => b.metrics.loss! - a.metrics.loss!).map((r) => String(r.index));
    await page.waitForFunction((w) => Array.from(document.querySelectorAll("#runs tbody tr"), (tr) => tr.getAttribute("data-index")).join() === w.join(), want, { timeout: 20_000 });
    const table = await page.evaluate(() => ({
      head: Array.from(document.querySelectorAll("#runs thead th[data-col]"), (th) => th.getAttribute("data-col")!),
      rows: Array.from(document.querySelectorAll("#runs tbody tr"), (tr) => Array.from(tr.querySelectorAll("td:not(.pick)"), (td) => td.textContent!.trim())),
    }));
    const csv = await downloaded(page, () => page.locator("#export-runs-csv").click());
    expect(csv.name).toMatch(/\.csv$/);
    expect(csv.bytes.toString("utf8")).toMatch(/\r\n$/);
    const rows = parseCsv(csv.bytes.toString("utf8"));
    expect(rows[0]).toEqual(table.head.map((c) => (c === "elapsed" ? "elapsed_s" : c)));
    expect(rows.slice(1)).toHaveLength(table.rows.length);
    rows.slice(1).forEach((row, r) => {
      table.head.forEach((c, j) => {
        const cell = row[j]!;
        if (c === "elapsed") expect(Number(cell)).toBeGreaterThanOrEqual(0);
        else if (cell !== "" && !Number.isNaN(Number(cell))) expect(shown(Number(cell)), `${c} of row ${r}`).toBe(table.rows[r]![j]);
        else expect(cell, `${c} of row ${r}`).toBe(table.rows[r]![j]);
      });
    });
    // RFC 4180 quoting of the exporter itself
    // (a string: vitest would rewrite an import() inside a function)
    const quoted = (await page.evaluate(`import("/curves.js").then((m) => m.toCsv([["a,b", 'say "hi"', "two\\nlines", 1.5, null], ['all, "three"\\r\\nat once', true, { k: 1 }, "", "plain"]]))`)) as string;
    expect(quoted).toBe('"a,b","say ""hi""","two\nlines",1.5,\r\n"all, ""three""\r\nat once",true,"{""k"":1}",,plain\r\n');
    expect(parseCsv(quoted)).toEqual([["a,b", 'say "hi"', "two\nlines", "1.5", ""], ['all, "three"\r\nat once', "true", '{"k":1}', "", "plain"]]);

    await page.locator("#plot-filtered").click();
    await page.locator(`#curves-chart[data-series="${want.length}"] canvas`).waitFor({ timeout: 20_000 });
    expect(await page.locator("#curves-legend tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-index")))).toEqual(want);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-curves-filtered.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the compare view opens on the metric whose final values spread most; its table exports as CSV, its chart and the parallel coordinates as PNG/SVG", async () => {
    const score = (m: string): number => {
      const vs = runs.map((r) => r.metrics[m]).filter((v): v is number => typeof v === "number");
      return (Math.max(...vs) - Math.min(...vs)) / (Math.abs(Math.max(...vs)) + Math.abs(Math.min(...vs)));
    };
    const best = ["loss", "acc"].sort((a, b) => score(b) - score(a))[0]!;
    const { page, errors } = await newPage(`#/compare/${sweepId}`);
    await page.locator("#compare-runs tbody tr").first().waitFor({ timeout: 20_000 });
    expect(await page.locator("#pick-metric").inputValue()).toBe(best);
    const n = await page.locator("#compare-runs tbody tr").count();
    const csv = await downloaded(page, () => page.locator('[data-export-for="compare-runs"] button').click());
    const rows = parseCsv(csv.bytes.toString("utf8"));
    expect(rows).toHaveLength(n + 1);
    expect(rows[0]).toContain(best);
    const png = await downloaded(page, () => page.locator('#compare-chart [data-export="png"]').click());
    expect([...png.bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    // An SVG picture of the page (parallel coordinates): SVG as drawn, PNG rendered from it
    await page.goto(`${origin}/#/group/${sweepId}`);
    await page.locator("#parcoords svg").waitFor({ timeout: 20_000 });
    // the group-by page opens on the same informative metric (its parallel coordinates and importance too)
    expect(await page.locator("#pick-metric").inputValue()).toBe(best);
    expect(await page.locator("#importance-chart").getAttribute("data-metric", { timeout: 20_000 })).toBe(best);
    const lines = await page.locator("#parcoords polyline").count();
    const pc = await downloaded(page, () => page.locator('#parcoords [data-export="svg"]').click());
    expect(await page.evaluate((t) => new DOMParser().parseFromString(t, "image/svg+xml").querySelectorAll("polyline").length, pc.bytes.toString("utf8"))).toBe(lines);
    const pcPng = await downloaded(page, () => page.locator('#parcoords [data-export="png"]').click());
    expect([...pcPng.bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
