/**
 * Live updates in a real browser (Debian's headless Chromium through playwright-core), the
 * dashboard served in-process (startDashboard) on sweeps written here: a sweep still loading says
 * so on its page and in the sweep list, and its filtered table is asked for again once every run
 * is read; the sweep list and the sweep table are updated in place while a sweep runs, so a row
 * stays the same element and one click navigates. Skipped, with the reason printed, when
 * /usr/bin/chromium is missing.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, type Dashboard } from "../../src/dashboard/server.js";
import type { RunState, RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { indexSweep, writeManifest, writeRunStatus } from "../../src/store/store.js";
import { CHROMIUM, launchChromium, openPage, SHOTS } from "../ui-browser.js";

const TOKEN = "live-test-token-0123456789abcdef";

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : undefined;
if (skipReason) console.warn(`[dashboard-live.test] skipped: ${skipReason}`);

const status = (index: number, state: RunState): RunStatusRecord => {
  const now = Date.now();
  return { type: "run-status", version: 1, runId: `r${index}`, index, state, attempt: 1, updatedAt: now, ...(state === "running" ? { startedAt: now } : {}), history: [{ state, at: now, attempt: 1 }] };
};

/** A sweep of `n` runs in `project`, run folders made; `createdAt` orders the sweep list; `flow`: a pipeline's jobs and edges. */
function makeSweep(project: string, id: string, n: number, createdAt: number, flow?: { edges: Array<[number, number]> }): SweepManifest {
  const dir = path.join(project, "multirun", id);
  const m: SweepManifest = {
    type: "sweep",
    version: 1,
    id,
    kind: flow ? "flow" : "sweep",
    createdAt,
    dir,
    projectDir: project,
    command: ["python3", "train.py"],
    overrides: [],
    launcher: "local",
    runs: Array.from({ length: n }, (_, i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [`seed=${i}`], params: { seed: i }, ...(flow ? { job: `step${i}[seed=${i}]`, rule: `step${i}` } : {}) })),
    jobs: [],
    ...(flow ? { edges: flow.edges } : {}),
  };
  for (const r of m.runs) mkdirSync(path.join(dir, r.dir), { recursive: true });
  writeManifest(m);
  indexSweep(project, m);
  return m;
}

/** Holds a load before each slice until let go: one slice (`step`) or all of them (`open`). */
function gate(): { beforeSlice: () => Promise<void>; step: () => void; open: () => void; waiting: () => number } {
  let held = true;
  const waiters: Array<() => void> = [];
  return {
    beforeSlice: () => (held ? new Promise<void>((r) => waiters.push(r)) : Promise.resolve()),
    step: () => waiters.shift()?.(),
    open: () => {
      held = false;
      for (const w of waiters.splice(0)) w();
    },
    waiting: () => waiters.length,
  };
}

const textOf = (page: Page, sel: string): Promise<string> => page.locator(sel).evaluate((e) => e.textContent ?? "");

describe.skipIf(skipReason !== undefined)("live updates in the dashboard (headless Chromium)", () => {
  const base = mkdtempSync(path.join(tmpdir(), "corral-ui-live-"));
  let browser: Browser | undefined;
  let ui: Dashboard | undefined;
  let ticker: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });
  afterEach(async () => {
    clearInterval(ticker);
    await ui?.close();
    ui = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it("a sweep still loading says how far it is read, and its filtered table is asked for again once every run is read", async () => {
    const project = path.join(base, "loading");
    const N = 120;
    const m = makeSweep(project, "big", N, Date.now());
    // Even runs succeeded, odd ones failed; each logs its loss.
    for (const r of m.runs) {
      writeRunStatus(path.join(m.dir, r.dir), status(r.index, r.index % 2 === 0 ? "succeeded" : "failed"));
      writeFileSync(path.join(m.dir, r.dir, "metrics.jsonl"), JSON.stringify({ step: 1, loss: r.index / 100 }) + "\n");
    }
    // 20 runs read before the server answers, then 20 per slice, each slice held until let go.
    const g = gate();
    ui = await startDashboard({ projectDir: project, token: TOKEN, pollMs: 100, readSlice: 20, load: { sliceRuns: 20, beforeSlice: g.beforeSlice } });
    const origin = `http://127.0.0.1:${ui.port}`;
    const { page, errors } = await openPage(browser!, origin, TOKEN, "#/");

    // The sweep list says the sweep is loading.
    const note = page.locator('#sweeps tr[data-id="big"] .loading-note');
    await note.waitFor({ timeout: 10_000 });
    expect(await note.textContent()).toBe(`loading: read 20 of ${N} runs`);

    // Its page (paged: filtered and sorted by the server, as a 100,000-run sweep is) says so too.
    await page.evaluate(() => (location.hash = "#/sweep/big?paged=1"));
    const notice = page.locator("#loading-notice");
    await notice.waitFor({ state: "visible", timeout: 10_000 });
    expect(await notice.textContent()).toBe(`loading: read 20 of ${N} runs; filters and sorts cover the runs read so far (the table updates when all are read)`);
    // The runs not read yet are counted apart from `unknown` (an unreadable status record).
    expect(await page.locator("#sweep-summary .counts .state").allTextContents()).toEqual(["10 succeeded", "10 failed", `${N - 20} not read yet`]);
    expect(await page.locator("#runs tbody tr").nth(25).locator(".state").textContent()).toBe("not read yet");
    await page.locator("#filter").fill("state=succeeded");
    await page.waitForFunction(() => document.getElementById("shown")?.textContent === "10 of 120 runs", undefined, { timeout: 10_000 });
    expect(await page.locator("#runs tbody tr").count()).toBe(10);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-live-loading.png"), fullPage: true });

    // One more slice: the progress follows from live updates.
    expect(g.waiting()).toBe(1);
    g.step();
    await page.waitForFunction(() => document.getElementById("loading-notice")?.textContent?.startsWith("loading: read 40 of 120 runs;"), undefined, { timeout: 10_000 });
    expect(await notice.isVisible()).toBe(true);

    // The rest: with no one touching the page, the notice goes and the filter covers every run.
    g.open();
    await page.waitForFunction(() => document.getElementById("shown")?.textContent === "60 of 120 runs", undefined, { timeout: 10_000 });
    await notice.waitFor({ state: "hidden", timeout: 10_000 });
    const rows = await page.locator("#runs tbody tr").evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute("data-index"))));
    expect(rows).toEqual(m.runs.filter((r) => r.index % 2 === 0).map((r) => r.index));
    expect(await page.locator("#filter").inputValue()).toBe("state=succeeded");

    // And the sweep list no longer does.
    await page.evaluate(() => (location.hash = "#/"));
    await page.locator('#sweeps tr[data-id="big"] td.done').waitFor();
    expect(await textOf(page, '#sweeps tr[data-id="big"] td.done')).toBe(`${N}/${N}`);
    expect(await page.locator(".loading-note").count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the sweep list and the sweep table change in place while a sweep runs: rows stay the same elements and one click navigates", async () => {
    const project = path.join(base, "running");
    const N = 150;
    const done = makeSweep(project, "done", 3, Date.now() - 60_000);
    for (const r of done.runs) writeRunStatus(path.join(done.dir, r.dir), status(r.index, "succeeded"));
    const m = makeSweep(project, "busy", N, Date.now());
    // Every 120 ms one more run ends and the next starts: a live update every poll round.
    let k = 0;
    const advance = (): void => {
      if (k >= N - 1) return;
      writeRunStatus(path.join(m.dir, String(k)), status(k, "succeeded"));
      writeRunStatus(path.join(m.dir, String(k + 1)), status(k + 1, "running"));
      appendFileSync(path.join(m.dir, String(k + 1), "metrics.jsonl"), JSON.stringify({ step: 1, loss: k / 10 }) + "\n");
      k++;
    };
    advance();
    ui = await startDashboard({ projectDir: project, token: TOKEN, pollMs: 100 });
    ticker = setInterval(advance, 120);
    const origin = `http://127.0.0.1:${ui.port}`;
    const { page, errors } = await openPage(browser!, origin, TOKEN, "#/");

    // The sweep list: mark the running sweep's row, a cell of it and the "compare two sweeps"
    // link; wait for several live updates of its done count; the marked elements are the ones shown.
    const doneCell = '#sweeps tr[data-id="busy"] td.done';
    await page.locator(doneCell).waitFor({ timeout: 10_000 });
    const doneCount = async (sel: string): Promise<number> => Number((await textOf(page, sel)).split("/")[0]);
    const before = await doneCount(doneCell);
    await page.evaluate(() => {
      const w = window as unknown as Record<string, Element | null>;
      w.markRow = document.querySelector('#sweeps tr[data-id="busy"]');
      w.markCell = document.querySelector('#sweeps tr[data-id="busy"] td');
      w.markVs = document.getElementById("vs-link");
    });
    await page.waitForFunction((n) => Number(document.querySelector('#sweeps tr[data-id="busy"] td.done')?.textContent?.split("/")[0]) >= n, before + 4, { timeout: 10_000 });
    expect(
      await page.evaluate(() => {
        const w = window as unknown as Record<string, Element | null>;
        return [w.markRow === document.querySelector('#sweeps tr[data-id="busy"]'), w.markCell === document.querySelector('#sweeps tr[data-id="busy"] td'), w.markVs === document.getElementById("vs-link")];
      }),
    ).toEqual([true, true, true]);
    // One click on the row, while updates keep coming, opens the sweep.
    await page.locator('#sweeps tr[data-id="busy"] td.done').click();
    await page.waitForFunction(() => location.hash === "#/sweep/busy", undefined, { timeout: 5000 });

    // The sweep table: a pending run's row (and the header) stay the same elements while other
    // rows change state; one click on that row opens the run.
    const last = `#runs tbody tr[data-index="${N - 1}"]`;
    await page.locator(last).waitFor({ timeout: 10_000 });
    // In one look: the done count, and the row of the first run not done (it changes state next).
    const start = await page.evaluate((sel) => {
      const w = window as unknown as Record<string, Element | null>;
      const n = Number(document.querySelector("#sweep-summary .done")!.textContent!.split("/")[0]);
      w.markRun = document.querySelector(sel);
      w.markHead = document.querySelector('#runs th[data-col="state"]');
      w.markNext = document.querySelector(`#runs tbody tr[data-index="${n}"]`);
      return { n, state: w.markNext!.querySelector(".state")!.textContent };
    }, last);
    expect(start.state).not.toBe("succeeded");
    await page.waitForFunction((n) => Number(document.querySelector("#sweep-summary .done")?.textContent?.split("/")[0]) >= n, start.n + 4, { timeout: 10_000 });
    expect(
      await page.evaluate(
        ([sel, n]) => {
          const w = window as unknown as Record<string, Element | null>;
          const next = document.querySelector(`#runs tbody tr[data-index="${n}"]`);
          return [w.markRun === document.querySelector(sel), w.markHead === document.querySelector('#runs th[data-col="state"]'), w.markNext === next, next?.querySelector(".state")?.textContent];
        },
        [last, start.n] as const,
      ),
    ).toEqual([true, true, true, "succeeded"]);
    await page.locator(last).click();
    await page.waitForFunction((n) => location.hash === `#/run/busy/${n}`, N - 1, { timeout: 5000 });
    await page.locator("#facts").waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a pipeline's DAG changes its nodes in place while jobs run: a node stays the same element and one click opens its panel", async () => {
    const project = path.join(base, "flow");
    const N = 60;
    // A chain 0 -> 1 -> ... -> N-1; every 120 ms one more job ends and the next starts.
    const m = makeSweep(project, "pipe", N, Date.now(), { edges: Array.from({ length: N - 1 }, (_, i) => [i, i + 1] as [number, number]) });
    let k = 0;
    const advance = (): void => {
      if (k >= N - 1) return;
      writeRunStatus(path.join(m.dir, String(k)), status(k, "succeeded"));
      writeRunStatus(path.join(m.dir, String(k + 1)), status(k + 1, "running"));
      k++;
    };
    advance();
    ui = await startDashboard({ projectDir: project, token: TOKEN, pollMs: 100 });
    ticker = setInterval(advance, 120);
    const { page, errors } = await openPage(browser!, `http://127.0.0.1:${ui.port}`, TOKEN, "#/dag/pipe");
    const last = `svg.dag g.node[data-index="${N - 1}"]`;
    await page.locator(last).waitFor({ timeout: 10_000 });
    const first = await page.evaluate((sel) => {
      const w = window as unknown as Record<string, Element | null>;
      w.markNode = document.querySelector(sel);
      w.markRunning = document.querySelector('svg.dag g.node[data-state="running"]');
      return Number(w.markRunning!.getAttribute("data-index"));
    }, last);
    // The running job ends and later ones follow, drawn in the same nodes.
    await page.waitForFunction((n) => document.querySelector(`svg.dag g.node[data-index="${n}"]`)?.getAttribute("data-state") === "succeeded", first + 3, { timeout: 10_000 });
    expect(
      await page.evaluate(
        ([sel, n]) => {
          const w = window as unknown as Record<string, Element | null>;
          const was = document.querySelector(`svg.dag g.node[data-index="${n}"]`);
          return [w.markNode === document.querySelector(sel), w.markRunning === was, was?.getAttribute("data-state"), was?.querySelector("rect")?.getAttribute("fill")];
        },
        [last, first] as const,
      ),
    ).toEqual([true, true, "succeeded", await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--succeeded").trim())]);
    await page.locator(last).click();
    await page.locator("#dag-panel:not([hidden])").waitFor({ timeout: 5000 });
    expect(await page.locator('#dag-panel [data-fact="job"]').textContent()).toBe(`step${N - 1}[seed=${N - 1}]`);
    expect(await page.locator(last).getAttribute("class")).toBe("node selected");
    expect(errors).toEqual([]);
    await page.close();
  });
});
