/**
 * Analysis views in a real browser (Debian's headless Chromium through playwright-core): the
 * importance bars of a grid whose metric depends mostly on one parameter, two sweeps side by side,
 * and a small local study's best-so-far chart; and `corral results --importance` / `--vs` on the
 * same sweeps. Every expected number is computed here from the run folders' files. Screenshots
 * land in test-results/. The browser part is skipped, with the reason printed, when
 * /usr/bin/chromium is missing.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { CLI, corral, lines, makeProject, readJson, sweepDirs } from "../helpers.js";
import { CHROMIUM, launchChromium, openPage, SHOTS, startUi } from "../ui-browser.js";


// loss: mostly lr (10 x lr), a little width, a hair seed; one line of metrics per run.
const APP = `import json, os, sys
a = dict(x.split("=", 1) for x in sys.argv[1:])
lr = float(a.get("lr", "0.1")); w = int(a.get("width", "64")); s = int(a.get("seed", "0"))
with open(os.path.join(os.environ["CORRAL_RUN_DIR"], "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 1, "loss": 10 * lr + 0.2 * w / 64 + 0.01 * s}) + "\\n")
# The study's trial FAIL_TRIAL logs its loss, then fails: charted as failed, not as a value.
if os.path.basename(os.environ["CORRAL_RUN_DIR"]) == os.environ.get("FAIL_TRIAL"):
    sys.exit(1)
`;

interface Run { index: number; params: Record<string, unknown>; loss?: number; state: string; dir: string }
/** A sweep as its files say: params from sweep.json, loss from each run's metrics.jsonl, state from status.json. */
function readSweep(dir: string): { id: string; runs: Run[]; m: SweepManifest } {
  const m = readJson<SweepManifest>(path.join(dir, "sweep.json"));
  const runs = m.runs.map((e) => {
    const rd = path.join(dir, e.dir);
    const rows = lines(path.join(rd, "metrics.jsonl")).map((l) => JSON.parse(l) as Record<string, number>);
    const loss = rows.map((r) => r.loss).filter((v) => typeof v === "number").pop();
    const state = existsSync(path.join(rd, "status.json")) ? readJson<{ state: string }>(path.join(rd, "status.json")).state : "pending";
    return { index: e.index, params: e.params as Record<string, unknown>, ...(loss !== undefined ? { loss } : {}), state, dir: rd };
  });
  return { id: m.id, runs, m };
}

/** Between-value over total sum of squares of loss, per parameter (the documented method, written out). */
function eta2(runs: Run[], param: string): number {
  const ok = runs.filter((r) => r.state === "succeeded" && r.loss !== undefined);
  const mean = ok.reduce((a, r) => a + r.loss!, 0) / ok.length;
  const total = ok.reduce((a, r) => a + (r.loss! - mean) ** 2, 0);
  const by = new Map<string, number[]>();
  for (const r of ok) by.set(String(r.params[param]), [...(by.get(String(r.params[param])) ?? []), r.loss!]);
  let between = 0;
  for (const xs of by.values()) between += xs.length * (xs.reduce((a, b) => a + b, 0) / xs.length - mean) ** 2;
  return between / total;
}

const project = makeProject({ "app.py": APP, "corral.yaml": "command: [python3, app.py]\nconfig: {lr: 0.1, width: 64, seed: 0, depth: 2}\nlauncher: {jobs: 4}\n" }, "corral-ui-analysis-");
let A: ReturnType<typeof readSweep>;
let B: ReturnType<typeof readSweep>;
let S: ReturnType<typeof readSweep>;

beforeAll(() => {
  const a = corral(["run", "-m", "lr=0.1,0.2,0.3", "width=32,64", "seed=0,1"], { cwd: project });
  expect(a.stderr).toContain("12 succeeded");
  const b = corral(["run", "-m", "lr=0.2,0.3", "width=64,128", "depth=3"], { cwd: project });
  expect(b.stderr).toContain("4 succeeded");
  const s = corral(["run", "-m", "--search", "random", "--budget", "6", "--objective", "loss:min", "--seed", "3", "lr=interval(0.05,0.5)", "width=choice(32,64)"], { cwd: project, env: { FAIL_TRIAL: "2" } });
  expect(s.stderr).toContain("5 succeeded, 1 failed");
  [A, B, S] = sweepDirs(project).map(readSweep) as [typeof A, typeof B, typeof S];
  expect(S.m.search?.budget).toBe(6);
}, 180_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("corral results --importance and --vs", () => {
  it("--importance prints each parameter's share, computed as documented, most important first", () => {
    const r = corral(["results", A.id, "--importance", "loss", "--format", "json"], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { runs: number; params: Array<{ param: string; explained: number; importance: number }> };
    expect(got.runs).toBe(12);
    expect(got.params.map((p) => p.param)).toEqual(["lr", "width", "seed"]);
    const want = Object.fromEntries(["lr", "width", "seed"].map((p) => [p, eta2(A.runs, p)]));
    const sum = want.lr! + want.width! + want.seed!;
    for (const p of got.params) {
      expect(p.explained).toBeCloseTo(want[p.param]!, 10);
      expect(p.importance).toBeCloseTo(want[p.param]! / sum, 10);
    }
    const text = corral(["results", A.id, "--importance", "loss"], { cwd: project });
    expect(text.stdout.split("\n")[3]).toMatch(/^lr\s+0\.9\d+\s+0\.9\d+\s+3$/);
    const bad = corral(["results", A.id, "--importance", "los"], { cwd: project });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("no metric 'los' in this sweep");
    expect(bad.stderr).toContain("did you mean --importance loss?");
  });

  it("--vs compares two sweeps on the --best metric", () => {
    const r = corral(["results", A.id, "--vs", B.id, "--best", "loss:min", "--format", "json"], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { sides: Array<{ mean: number; best: Array<{ value: number }> }>; shared: Array<{ param: string }>; configDiff: Array<{ key: string; a: unknown; b: unknown }> };
    const mean = (rs: Run[]): number => rs.reduce((a, x) => a + x.loss!, 0) / rs.length;
    expect(got.sides[0]!.mean).toBeCloseTo(mean(A.runs), 12);
    expect(got.sides[1]!.best[0]!.value).toBe(Math.min(...B.runs.map((x) => x.loss!)));
    expect(got.shared.map((s) => s.param)).toEqual(["lr", "width"]);
    expect(got.configDiff).toEqual([{ key: "depth", a: 2, b: 3 }]);
    expect(corral(["results", A.id, "--vs", B.id], { cwd: project }).code).toBe(2);
    // Markdown for a report: one table per part, under headings; the means as the JSON says
    const md = corral(["results", A.id, "--vs", B.id, "--best", "loss:min", "--format", "md"], { cwd: project });
    expect(md.code, md.stderr).toBe(0);
    const lines = md.stdout.split("\n");
    expect(lines[0]).toMatch(/^\| sweep \| runs \| succeeded \| loss \(mean ± std\) \| best \(min\) \|$/);
    expect(lines[1]).toBe("| --- | ---: | ---: | ---: | ---: |");
    const at = lines.indexOf("### loss mean by lr");
    expect(at).toBeGreaterThan(0);
    const a01 = A.runs.filter((x) => x.params.lr === 0.1);
    expect(lines.slice(at).find((l) => l.startsWith("| 0.1 |"))).toBe(`| 0.1 | ${Number(mean(a01).toPrecision(4))} (n ${a01.length}) | ${(() => {
      const b01 = B.runs.filter((x) => x.params.lr === 0.1);
      return b01.length ? `${Number(mean(b01).toPrecision(4))} (n ${b01.length})` : "";
    })()} |`);
    expect(md.stdout).toContain("### config keys that differ (swept parameters left out)");
    // CSV cannot hold several tables: exit 2, said plainly, nothing printed
    const csv = corral(["results", A.id, "--vs", B.id, "--best", "loss:min", "--format", "csv"], { cwd: project });
    expect(csv.code).toBe(2);
    expect(csv.stderr).toContain("--vs prints several tables, which one CSV cannot hold: use --format table, md or json");
    expect(csv.stdout).toBe("");
  });
});

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(CLI) ? `${CLI} not built (npm run build)` : undefined;
if (skipReason) console.warn(`[dashboard-analysis.test] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("analysis views in the dashboard (headless Chromium)", () => {
  let uiProc: ChildProcess | undefined;
  let browser: Browser | undefined;
  let origin = "";
  let token = "";

  const newPage = (hash = ""): Promise<{ page: Page; errors: string[] }> => openPage(browser!, origin, token, hash, { width: 1300, height: 900 });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const ui = startUi(project);
    uiProc = ui.proc;
    ({ origin, token } = await ui.ready);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    uiProc?.kill("SIGINT");
  });

  it("the group-by view shows importance bars, the parameter the metric depends on first", async () => {
    const { page, errors } = await newPage(`#/group/${A.id}?over=&metric=loss`);
    await page.locator("#importance-chart rect.imp-bar").first().waitFor({ timeout: 20_000 });
    const bars = await page.locator("#importance-chart rect.imp-bar").evaluateAll((els) => els.map((e) => ({ param: e.getAttribute("data-param"), imp: Number(e.getAttribute("data-importance")), w: Number(e.getAttribute("width")) })));
    expect(bars.map((b) => b.param)).toEqual(["lr", "width", "seed"]);
    const want = Object.fromEntries(["lr", "width", "seed"].map((p) => [p, eta2(A.runs, p)]));
    const sum = want.lr! + want.width! + want.seed!;
    for (const b of bars) expect(b.imp).toBeCloseTo(want[b.param!]! / sum, 10);
    expect(bars[0]!.w).toBeGreaterThan(bars[1]!.w);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-analysis-importance.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("two sweeps side by side, reached from the sweep list: summaries, best runs, means per shared value, config diff", async () => {
    const { page, errors } = await newPage("#/");
    // One click: live updates change the list in place, never the link under the pointer.
    await page.locator("#vs-link").click();
    await page.waitForFunction(() => location.hash.startsWith("#/vs"), undefined, { timeout: 5000 });
    await page.locator("#vs-a").waitFor();
    // Each pick re-renders the view: wait for the table of that pick before the next.
    await page.locator("#vs-summary").waitFor({ timeout: 20_000 });
    await page.locator("#vs-a").selectOption(A.id);
    await page.locator(`#vs-summary[data-a="${A.id}"]`).waitFor({ timeout: 20_000 });
    await page.locator("#vs-b").selectOption(B.id);
    await page.locator(`#vs-summary[data-b="${B.id}"]`).waitFor({ timeout: 20_000 });
    await page.locator("#vs-mode").selectOption("min");
    await page.locator('#vs-summary[data-mode="min"][data-metric="loss"]').waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => location.hash)).toContain(`a=${A.id}`);
    const cells = async (sel: string): Promise<string[][]> => page.locator(`${sel} tbody tr`).evaluateAll((rows) => rows.map((r) => Array.from(r.querySelectorAll("td"), (td) => td.textContent ?? "")));
    const short = (x: number): string => String(Number(x.toPrecision(4)));
    const meanOf = (rs: Run[]): number => rs.reduce((a, x) => a + x.loss!, 0) / rs.length;
    const summary = await cells("#vs-summary");
    expect(summary[0]!.slice(2, 5)).toEqual(["12", "12", "12"]);
    expect(summary[0]![5]).toMatch(new RegExp(`^${short(meanOf(A.runs)).replace(".", "\\.")} ± `));
    expect(summary[1]![6]).toBe(short(Math.min(...B.runs.map((x) => x.loss!))));
    // Best runs of B: the lowest losses first, with their run index.
    const bestB = [...B.runs].sort((x, y) => x.loss! - y.loss! || x.index - y.index).slice(0, 3);
    expect((await cells("#vs-best-b")).map((r) => r[0])).toEqual(bestB.map((x) => `run ${x.index}`));
    // Mean loss per lr in each sweep.
    const byLr = await cells("#vs-param-lr");
    for (const lr of [0.1, 0.2, 0.3]) {
      const row = byLr.find((r) => r[0] === String(lr))!;
      const a = A.runs.filter((x) => x.params.lr === lr);
      const b = B.runs.filter((x) => x.params.lr === lr);
      expect(row[1]).toBe(`${short(meanOf(a))} (${a.length})`);
      expect(row[2]).toBe(b.length ? `${short(meanOf(b))} (${b.length})` : "");
    }
    expect(await cells("#vs-config")).toEqual([["depth", "2", "3"]]);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-analysis-vs.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a study: trials / budget, the best trial, points per trial and the best-so-far step line", async () => {
    const { page, errors } = await newPage(`#/sweep/${S.id}`);
    await page.locator("#study-link").click();
    await page.locator("#best-so-far .trial").first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-fact="trials"]').textContent()).toBe("6 / 6");
    const pts = await page.locator("#best-so-far .trial").evaluateAll((els) => els.map((e) => ({ n: Number(e.getAttribute("data-number")), state: e.getAttribute("data-state"), v: e.hasAttribute("data-value") ? Number(e.getAttribute("data-value")) : undefined })));
    expect(pts.map((p) => p.n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pts[2]!.state).toBe("failed");
    let best = Infinity;
    const want: number[] = [];
    for (const r of S.runs) {
      const p = pts.find((x) => x.n === r.index)!;
      expect(p.state).toBe(r.state === "succeeded" ? "complete" : r.state === "pruned" ? "pruned" : "failed");
      expect(p.v).toBe(r.state === "succeeded" ? r.loss : undefined);
      if (r.state === "succeeded" && r.loss! < best) best = r.loss!;
      want.push(best);
    }
    const line = JSON.parse((await page.locator("#best-so-far .best-line").getAttribute("data-values"))!) as number[];
    expect(line).toEqual(want);
    // The step line only goes down (min) and the dots sit on it where a trial set a new best.
    const ys = (await page.locator("#best-so-far .best-line").getAttribute("points"))!.split(" ").map((p) => Number(p.split(",")[1]));
    for (let k = 1; k < ys.length; k++) expect(ys[k]!).toBeGreaterThanOrEqual(ys[k - 1]! - 1e-9);
    const bestRun = S.runs.find((r) => r.loss === want[want.length - 1])!;
    expect(await page.locator('[data-fact="best"]').textContent()).toBe(`trial ${bestRun.index}: loss = ${String(Number(bestRun.loss!.toPrecision(5)))}`);
    expect(await page.locator("#parcoords svg").getAttribute("data-axes")).toBe("lr,width,loss");
    // The best-so-far chart exports as SVG: the download is the chart with every trial's point.
    await page.locator('#study-chart [data-export="svg"]').waitFor({ timeout: 10_000 });
    const [dl] = await Promise.all([page.waitForEvent("download"), page.locator('#study-chart [data-export="svg"]').click()]);
    const svgText = readFileSync((await dl.path())!, "utf8");
    expect(svgText).toContain("<svg");
    expect(svgText.match(/class="trial/g)?.length).toBe(pts.length);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-analysis-study.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
