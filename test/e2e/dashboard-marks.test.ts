/**
 * The dashboard's marks in a real browser (Debian's headless Chromium through playwright-core):
 * progress bars with success on the left, failed runs marked in the compare view (and by
 * `corral plot`), DAG labels never cut silently. A finished sweep with one failed run and a
 * pipeline held mid-way by a gate file give every state at once, with nothing timed.
 * Skipped, with the reason printed, when /usr/bin/chromium is missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, launchChromium, openPage, SHOTS, startUi } from "../ui-browser.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/cli/main.js");

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(CLI) ? `${CLI} not built (npm run build)` : undefined;
if (skipReason) console.warn(`[dashboard-marks.test] skipped: ${skipReason}`);

// model=cnn seed=1 logs its loss, then fails.
const TRAIN = `import json, os, sys
args = dict(a.split("=", 1) for a in sys.argv[1:])
seed = int(args["seed"]); model = args["model"]
loss = {"mlp": 0.5, "cnn": 0.3, "vit": 0.2}[model] + seed * 0.01
with open(os.path.join(os.environ["CORRAL_RUN_DIR"], "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 0, "loss": loss}) + "\\n")
if model == "cnn" and seed == 1:
    sys.exit(3)
`;

// A 60-character job key: make[name=<49 characters>].
const NAME = "imagenet_subset_" + "abcdefghijklmnopqrstuvwxyz0123456789".slice(0, 33);
const LONG_KEY = `make[name=${NAME}]`;

// make: succeeds; bad: fails; after: cancelled (needs bad); wait: running until the test
// writes `gate`; post: pending behind wait.
const PROJECT = `command: python3 train.py
config: {model: mlp, seed: 0}
rules:
  make:
    output: out/{name}.txt
    shell: echo hi > {output}
  bad:
    output: bad/{name}.txt
    shell: exit 3
  after:
    input: bad/{name}.txt
    output: after/{name}.txt
    shell: cp {input} {output}
  wait:
    output: w/{name}.txt
    shell: while [ ! -e gate ]; do sleep 0.1; done; touch {output}
  post:
    input: w/{name}.txt
    output: p/{name}.txt
    shell: cp {input} {output}
targets:
  - out/${NAME}.txt
  - after/x.txt
  - p/y.txt
`;

const until = async (what: string, f: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

interface Counts {
  [state: string]: number;
}

describe.skipIf(skipReason !== undefined)("dashboard marks in headless Chromium", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-ui-marks-"));
  let flowProc: ChildProcess | undefined;
  let uiProc: ChildProcess | undefined;
  let browser: Browser | undefined;
  let origin = "";
  let token = "";
  let sweepId = "";
  let flowId = "";

  const api = async <T,>(p: string): Promise<T> => {
    const r = await fetch(`${origin}${p}`, { headers: { "x-corral-token": token } });
    expect(r.status, p).toBe(200);
    return (await r.json()) as T;
  };
  const newPage = (): Promise<{ page: Page; errors: string[] }> => openPage(browser!, origin, token, "", { width: 1400, height: 900 });
  const indexed = (): Array<{ id: string; kind?: string }> => {
    const index = path.join(dir, ".corral", "sweeps");
    if (!existsSync(index)) return [];
    return readdirSync(index).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(path.join(index, f), "utf8")) as { id: string; kind?: string });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(path.join(dir, "corral.yaml"), PROJECT);
    writeFileSync(path.join(dir, "train.py"), TRAIN);
    const sweep = spawnSync(process.execPath, [CLI, "run", "-m", "model=mlp,cnn,vit", "seed=0,1"], { cwd: dir, encoding: "utf8" });
    expect(sweep.stderr).toContain("5 succeeded, 1 failed");
    sweepId = indexed()[0]!.id;
    flowProc = spawn(process.execPath, [CLI, "flow", "-k"], { cwd: dir, stdio: "ignore", detached: true });
    await until("the pipeline to be recorded", () => indexed().some((s) => s.kind === "flow"));
    flowId = indexed().find((s) => s.kind === "flow")!.id;
    const ui = startUi(dir);
    uiProc = ui.proc;
    ({ origin, token } = await ui.ready);
    // The pipeline settles with one job in each state: wait holds until the gate file exists.
    await until("the pipeline to reach succeeded/failed/cancelled/running/pending", async () => {
      const { sweeps } = await api<{ sweeps: Array<{ id: string; counts: Counts }> }>("/api/sweeps");
      const c = sweeps.find((s) => s.id === flowId)?.counts ?? {};
      return ["succeeded", "failed", "cancelled", "running", "pending"].every((k) => c[k] === 1);
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    writeFileSync(path.join(dir, "gate"), "");
    uiProc?.kill("SIGINT");
    if (flowProc?.pid) {
      // Let the pipeline end on its own once the gate is open; interrupt it if it does not.
      const ended = flowProc.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => flowProc!.once("exit", () => r()));
      const hung = await Promise.race([ended.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000))]);
      if (hung) {
        try {
          process.kill(-flowProc.pid, "SIGINT");
        } catch {
          // already finished
        }
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  });

  it("progress bars put succeeded on the left, then failed and cancelled, then running, then pending", async () => {
    const { page, errors } = await newPage();
    // One look at all segments at once (the page redraws live, so element handles can go stale),
    // repeated until the bar is laid out: every segment has a width.
    const xOrder = async (bar: string): Promise<string[]> => {
      await page.locator(`${bar} > div`).first().waitFor();
      const look = () =>
        page.locator(bar).evaluate((el) =>
          Array.from(el.children).map((c) => {
            const r = c.getBoundingClientRect();
            return { x: r.x, width: r.width, title: c.getAttribute("title") ?? "" };
          }),
        );
      let found = await look();
      for (let i = 0; i < 50 && found.some((f) => f.width <= 0); i++) {
        await new Promise((r) => setTimeout(r, 200));
        found = await look();
      }
      for (const f of found) expect(f.width, f.title).toBeGreaterThan(0);
      // Each segment says how many runs it stands for.
      return found.sort((a, b) => a.x - b.x).map((f) => f.title);
    };
    const order = ["succeeded", "failed", "cancelled", "running", "pending"];
    expect(await xOrder(`#sweeps tr[data-id="${flowId}"] .progress`)).toEqual(order.map((k) => `1 ${k}`));
    // The bar's tooltip and the count chips (its legend) follow the same order, in the same colours.
    expect(await page.locator(`#sweeps tr[data-id="${flowId}"] .progress`).getAttribute("title")).toBe("1 succeeded, 1 failed, 1 cancelled, 1 running, 1 pending");
    expect(await page.locator(`#sweeps tr[data-id="${flowId}"] .counts [data-state]`).evaluateAll((els) => els.map((e) => e.getAttribute("data-state")))).toEqual(order);
    const colours = await page.evaluate((id) => {
      const row = document.querySelector(`#sweeps tr[data-id="${id}"]`)!;
      const of = (sel: string): string => getComputedStyle(row.querySelector(sel)!).backgroundColor;
      return ["succeeded", "failed"].map((k) => [of(`.progress [data-state="${k}"]`), of(`.counts [data-state="${k}"]`)]);
    }, flowId);
    for (const [bar, chip] of colours) expect(bar).toBe(chip);
    expect(colours[0]![0]).not.toBe(colours[1]![0]);
    // The finished sweep: 5 succeeded on the left, the failed one after them.
    expect(await xOrder(`#sweeps tr[data-id="${sweepId}"] .progress`)).toEqual(["5 succeeded", "1 failed"]);
    await page.goto(`${origin}/#/sweep/${flowId}`);
    expect(await xOrder("#sweep-summary .progress")).toEqual(order.map((k) => `1 ${k}`));
    await page.screenshot({ path: path.join(SHOTS, "dashboard-marks-list.png") });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the compare view marks the failed run (cross, legend, table) and draws categories as points", async () => {
    const d = await api<{ runs: Array<{ index: number; state: string; params: Record<string, unknown> }> }>(`/api/sweep/${sweepId}`);
    const failed = d.runs.filter((r) => r.state === "failed");
    expect(failed).toHaveLength(1);
    const { page, errors } = await newPage();
    await page.goto(`${origin}/#/compare/${sweepId}?metric=loss&param=model`);
    await page.locator("#compare-chart canvas").waitFor();
    await page.locator("#compare-runs tbody tr").first().waitFor();
    const info = await page.evaluate(() => {
      const w = window as unknown as { corral: { compare: { categorical: boolean; failed: Array<{ index: number; state: string; x: number; y: number }> }; charts: Array<{ series: Array<{ label: string }>; width: number; height: number }> } };
      return { compare: w.corral.compare, labels: w.corral.charts[0]!.series.map((s) => s.label), width: w.corral.charts[0]!.width, height: w.corral.charts[0]!.height };
    });
    expect(info.compare.categorical).toBe(true);
    // One cross, for the failed run, inside the plot.
    expect(info.compare.failed.map((m) => [m.index, m.state])).toEqual([[failed[0]!.index, "failed"]]);
    const mark = info.compare.failed[0]!;
    expect(mark.x).toBeGreaterThan(0);
    expect(mark.x).toBeLessThan(info.width);
    expect(mark.y).toBeGreaterThan(0);
    expect(mark.y).toBeLessThan(info.height);
    // A legend entry for it, and its state in the table.
    expect(info.labels).toContain("✕ failed (1)");
    expect(await page.locator(".u-legend").textContent()).toContain("✕ failed (1)");
    const rows = page.locator("#compare-runs tbody tr");
    expect(await rows.count()).toBe(6);
    const bad = page.locator('#compare-runs tbody tr[data-state="failed"]');
    expect(await bad.count()).toBe(1);
    expect(await bad.getAttribute("data-index")).toBe(String(failed[0]!.index));
    expect(await bad.locator(".state").textContent()).toBe("failed");
    expect(await bad.textContent()).toContain("cnn");
    expect(await page.locator('#compare-runs tbody tr[data-state="succeeded"]').count()).toBe(5);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-compare-failed.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a DAG node with a 60-character job key has the full key in its <title> and in the side panel", async () => {
    expect(LONG_KEY).toHaveLength(60);
    const { page, errors } = await newPage();
    await page.goto(`${origin}/#/dag/${flowId}`);
    const node = page.locator(`svg.dag g[data-key="${LONG_KEY}"]`);
    await node.waitFor();
    // The box shows a shortened label, so the full key must be on hover.
    const shown = (await node.locator("text").textContent())!;
    expect(shown).not.toBe(LONG_KEY);
    expect(shown).toContain("…");
    expect((await node.locator("title").textContent())!.split("\n")[0]).toBe(LONG_KEY);
    expect(await page.locator("#dag-panel").isHidden()).toBe(true);
    await node.click();
    const panel = page.locator("#dag-panel");
    await panel.waitFor({ state: "visible" });
    expect(await panel.locator('[data-fact="job"]').textContent()).toBe(LONG_KEY);
    expect(await panel.locator('[data-fact="rule"]').textContent()).toBe("make");
    expect(await panel.locator('[data-fact="wildcards"]').textContent()).toBe(`name=${NAME}`);
    expect(await panel.locator('[data-fact="state"]').textContent()).toBe("succeeded");
    const d = await api<{ runs: Array<{ index: number; job?: string; state: string }> }>(`/api/sweep/${flowId}`);
    const run = d.runs.find((r) => r.job === LONG_KEY)!;
    expect(await panel.locator("#dag-run-link").getAttribute("href")).toBe(`#/run/${flowId}/${run.index}`);
    // The failed job is marked in the picture as well as by its colour.
    const failedNode = page.locator('svg.dag g[data-state="failed"]');
    expect(await failedNode.count()).toBe(1);
    expect(await failedNode.locator("text").textContent()).toMatch(/^✕ bad\[name=x\]$/);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-dag-panel.png"), fullPage: true });
    // The panel's link opens the run.
    await panel.locator("#dag-run-link").click();
    await page.locator('#facts dd[data-fact="job"]').waitFor();
    expect(await page.locator('#facts dd[data-fact="job"]').textContent()).toBe(LONG_KEY);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("corral plot reads run states: the failed run is a cross, categories are not joined", () => {
    const r = spawnSync(process.execPath, [CLI, "plot", sweepId, "--metric", "loss", "--param", "model", "--out", "-"], { cwd: dir, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const svg = r.stdout;
    expect((svg.match(/<g class="pt failed" data-state="failed"/g) ?? []).length).toBe(1);
    expect((svg.match(/<circle class="pt"/g) ?? []).length).toBe(5);
    expect(svg).not.toContain("<polyline");
    expect(svg).toMatch(/>mlp<\/text>[\s\S]*>cnn<\/text>[\s\S]*>vit<\/text>/);
    expect(svg).toMatch(/class="legend-failed"[\s\S]*>1 failed</);
    writeFileSync(path.join(SHOTS, "plot-categorical-failed.svg"), svg);
  });
});
