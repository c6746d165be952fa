/**
 * Metrics from foreign loggers in a real browser (Debian's headless Chromium through
 * playwright-core): a sweep whose runs log through TensorBoard, Lightning's CSVLogger and W&B
 * offline shows each run's charts, and the group-by view (mean ± std over seeds, parallel
 * coordinates). Screenshots land in test-results/. Skipped, with the reason printed, when
 * /usr/bin/chromium is missing.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, launchChromium, openPage, SHOTS, startUi } from "../ui-browser.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const APP = path.join(ROOT, "test/fixtures/metrics/make_fixtures.py");

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(CLI) ? `${CLI} not built (npm run build)` : undefined;
if (skipReason) console.warn(`[dashboard-metrics.test] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("foreign loggers' metrics in the dashboard (headless Chromium)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-ui-metrics-"));
  let uiProc: ChildProcess | undefined;
  let browser: Browser | undefined;
  let origin = "";
  let token = "";
  let sweepId = "";
  type Run = { index: number; params: { fmt: string; lr: number; seed: number }; metrics: Record<string, number> };
  let runs: Run[] = [];

  const newPage = (hash = ""): Promise<{ page: Page; errors: string[] }> => openPage(browser!, origin, token, hash, { width: 1400, height: 900 });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(path.join(dir, "corral.yaml"), `command: python3 ${APP} --app\nconfig:\n  fmt: tensorboard\n  lr: 0.1\n  seed: 0\nlauncher:\n  jobs: 2\n`);
    const sweep = spawnSync(process.execPath, [CLI, "run", "-m", "fmt=tensorboard,lightning,wandb", "lr=0.1,0.2", "seed=0,1"], { cwd: dir, encoding: "utf8" });
    expect(sweep.stderr).toContain("12 succeeded");
    sweepId = JSON.parse(readFileSync(path.join(dir, ".corral", "sweeps", readdirSync(path.join(dir, ".corral", "sweeps"))[0]!), "utf8")).id;
    const ui = startUi(dir);
    uiProc = ui.proc;
    ({ origin, token } = await ui.ready);
    const r = await fetch(`${origin}/api/sweep/${sweepId}`, { headers: { "x-corral-token": token } });
    runs = ((await r.json()) as { runs: Run[] }).runs;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    uiProc?.kill("SIGINT");
    rmSync(dir, { recursive: true, force: true });
  });

  it("a run page charts the metrics of each logger", async () => {
    const want: Record<string, string[]> = { tensorboard: ["loss", "acc", "val/loss"], lightning: ["train_loss", "val_loss"], wandb: ["loss", "eval.acc"] };
    for (const fmt of Object.keys(want)) {
      const run = runs.find((r) => r.params.fmt === fmt)!;
      const { page, errors } = await newPage(`#/run/${sweepId}/${run.index}`);
      await page.locator(`.chart[data-metric="${want[fmt]![0]}"] canvas`).first().waitFor({ timeout: 20_000 });
      const shown = await page.locator(".chart[data-metric]").evaluateAll((els) => els.map((e) => e.getAttribute("data-metric")));
      for (const m of want[fmt]!) expect(shown, fmt).toContain(m);
      await page.screenshot({ path: path.join(SHOTS, `dashboard-metrics-run-${fmt}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it("a paged sweep table (the mode of sweeps over 5,000 runs) filters and sorts on the server", async () => {
    const { page, errors } = await newPage(`#/sweep/${sweepId}?paged=1`);
    const asked: string[] = [];
    page.on("request", (r) => asked.push(r.url()));
    await page.locator("#runs tbody tr").first().waitFor({ timeout: 20_000 });
    await page.locator("#filter").fill("fmt=wandb");
    const wandb = runs.filter((r) => r.params.fmt === "wandb").length;
    await page.waitForFunction((t) => document.getElementById("shown")?.textContent === t, `${wandb} of ${runs.length} runs`, { timeout: 20_000 });
    expect(await page.locator("#runs tbody tr").count()).toBe(wandb);
    expect(asked.some((u) => u.includes(`/api/sweep/${sweepId}?`) && u.includes("limit=") && u.includes("filter=fmt%3Dwandb"))).toBe(true);
    await page.locator('th[data-col="loss"]').click();
    await page.locator('th[data-col="loss"]').click();
    await page.waitForFunction(() => document.querySelector('th[data-col="loss"]')?.classList.contains("sorted-desc"), undefined, { timeout: 20_000 });
    await page.waitForFunction((n) => document.querySelectorAll("#runs tbody tr").length === n, wandb, { timeout: 20_000 });
    expect(asked.some((u) => u.includes("sort=loss") && u.includes("dir=desc"))).toBe(true);
    const order = runs.filter((r) => r.params.fmt === "wandb").sort((a, b) => b.metrics.loss! - a.metrics.loss! || a.index - b.index).map((r) => String(r.index));
    await page.waitForFunction((want) => Array.from(document.querySelectorAll("#runs tbody tr"), (tr) => tr.getAttribute("data-index")).join() === want.join(), order, { timeout: 20_000 });
    expect(errors).toEqual([]);
  });

  it("the group-by view averages over seed by default: one row per fmt x lr, and a parallel-coordinates line per run", async () => {
    const { page, errors } = await newPage(`#/group/${sweepId}`);
    await page.locator("#group-table tbody tr").first().waitFor({ timeout: 20_000 });
    const combos = new Set(runs.map((r) => `${r.params.fmt}/${r.params.lr}`));
    expect(await page.locator("#group-table tbody tr").count()).toBe(combos.size);
    expect(await page.locator('input[data-over="seed"]').isChecked()).toBe(true);
    const head = await page.locator("#group-table thead th").allTextContents();
    expect(head.slice(0, 3)).toEqual(["fmt", "lr", "n"]);
    const metric = await page.locator("#pick-metric").inputValue();
    const withMetric = runs.filter((r) => typeof r.metrics[metric] === "number").length;
    expect(await page.locator("#parcoords polyline.pc-run").count()).toBe(withMetric);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-metrics-group.png"), fullPage: true });
    // Untick seed: every run is its own row.
    await page.locator('input[data-over="seed"]').click();
    await page.waitForFunction((n) => document.querySelectorAll("#group-table tbody tr").length === n, runs.length, { timeout: 20_000 });
    expect(errors).toEqual([]);
  });
});
