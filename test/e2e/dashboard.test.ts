/**
 * `corral ui` in a real browser (Debian's headless Chromium through playwright-core) while a
 * sweep runs, plus the security promises: token required, no path outside the store, loopback.
 * Skipped, with the reason printed, when /usr/bin/chromium is missing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, launchChromium, startUi } from "../ui-browser.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/cli/main.js");

const skipReason = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(CLI) ? `${CLI} not built (npm run build)` : undefined;
if (skipReason) console.warn(`[dashboard.test] skipped: ${skipReason}`);

// Each run writes a metric line and a log line every 0.25 s for ~3 s: slow enough to watch.
const TRAIN = `import json, os, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:])
lr = float(args["lr"]); seed = int(args["seed"])
d = os.environ["CORRAL_RUN_DIR"]
for step in range(12):
    loss = 1.0 / (1 + step * lr * 10) + seed * 0.01
    with open(os.path.join(d, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": step, "loss": loss, "acc": 1 - loss / 2}) + "\\n")
    print(f"step {step} loss {loss:.4f}", flush=True)
    time.sleep(0.25)
`;

/** GET with no browser and no URL normalisation (`..` reaches the server as sent). */
function rawGet(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const until = async (what: string, f: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe.skipIf(skipReason !== undefined)("corral ui (dashboard) in headless Chromium", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-ui-e2e-"));
  let sweepProc: ChildProcess | undefined;
  let uiProc: ChildProcess | undefined;
  let browser: Browser | undefined;
  let url = "";
  let port = 0;
  let token = "";
  let uiStderr = (): string => "";
  let sweepId = "";

  beforeAll(async () => {
    writeFileSync(path.join(dir, "corral.yaml"), "command: python3 train.py\nconfig: {lr: 0.1, seed: 0}\n");
    writeFileSync(path.join(dir, "train.py"), TRAIN);
    sweepProc = spawn(process.execPath, [CLI, "run", "-m", "lr=0.1,0.01", "seed=range(3)", "-j", "2"], { cwd: dir, stdio: "ignore", detached: true });
    const index = path.join(dir, ".corral", "sweeps");
    await until("the sweep to be recorded", () => existsSync(index) && readdirSync(index).some((f) => f.endsWith(".json")));
    sweepId = readdirSync(index)[0]!.replace(/\.json$/, "");
    const ui = startUi(dir);
    uiProc = ui.proc;
    uiStderr = ui.stderr;
    url = await ui.url;
    const u = new URL(url);
    port = Number(u.port);
    token = u.searchParams.get("token") ?? "";
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    // Ctrl+C must stop the server even with event streams open; a hang would leak the process.
    const exited = uiProc && uiProc.exitCode === null ? new Promise<number | null>((r) => uiProc!.once("exit", (code) => r(code))) : Promise.resolve(uiProc?.exitCode ?? null);
    uiProc?.kill("SIGINT");
    const code = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 5000))]);
    if (code === "hung") uiProc?.kill("SIGKILL");
    if (sweepProc?.pid) {
      try {
        process.kill(-sweepProc.pid, "SIGINT");
      } catch {
        // already finished
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
    expect(code, "corral ui exit code after SIGINT").toBe(0);
  });

  it("binds 127.0.0.1 by default and prints a URL with a long random token", async () => {
    expect(new URL(url).hostname).toBe("127.0.0.1");
    expect(uiStderr()).toContain(`listening on 127.0.0.1:${port}`);
    expect(token).toMatch(/^[\w-]{32}$/);
    // Not reachable through any non-loopback address of this machine.
    const others = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === "IPv4").map((i) => i!.address);
    for (const addr of others) {
      const err = await new Promise<string>((resolve) => {
        const s = net.connect({ host: addr, port }, () => {
          s.destroy();
          resolve("connected");
        });
        s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      });
      expect(err, `connect to ${addr}:${port}`).toBe("ECONNREFUSED");
    }
  });

  it("refuses requests without the token, or with a wrong one", async () => {
    for (const p of ["/", "/app.js", "/api/sweeps", `/api/sweep/${sweepId}`, "/api/events", "/vendor/uPlot.js"]) {
      const r = await rawGet(port, p);
      expect(r.status, p).toBe(401);
      expect(r.body).not.toContain("python3");
    }
    const wrong = await rawGet(port, "/api/sweeps", { "x-corral-token": token.slice(0, -1) + (token.endsWith("a") ? "b" : "a") });
    expect(wrong.status).toBe(401);
    const ok = await rawGet(port, "/api/sweeps", { "x-corral-token": token });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).sweeps[0].id).toBe(sweepId);
  });

  it("refuses paths outside the store, plain and encoded", async () => {
    const auth = { "x-corral-token": token };
    const attempts = [
      "/api/logs/../../etc/passwd",
      "/../../../etc/passwd",
      "/api/run/..%2F..%2F..%2Fetc%2Fpasswd/0",
      `/api/logs/${sweepId}/..%2F..%2F..%2Fetc%2Fpasswd`,
      `/api/logs/${sweepId}/0%2F..%2F..%2F..%2Fetc%2Fpasswd`,
      `/api/logs/${sweepId}/%2e%2e%2f%2e%2e%2fetc%2fpasswd`,
      `/api/logs/${sweepId}/0?stream=../../../../etc/passwd`,
      `/api/logs/${sweepId}/0?stream=..%2F..%2Fetc%2Fpasswd`,
      `/api/metrics/${encodeURIComponent("/etc")}/0`,
      `/api/sweep/${encodeURIComponent(path.join(dir, "multirun"))}`,
      `/api/sweep/..%252F..%252Fetc`,
      "/style.css/../../../../etc/passwd",
      "/vendor/..%2F..%2F..%2Fetc%2Fpasswd",
    ];
    for (const p of attempts) {
      const r = await rawGet(port, p, auth);
      expect([400, 403, 404], `${p} -> ${r.status}`).toContain(r.status);
      expect(r.body).not.toMatch(/root:|daemon:/);
    }
    // The same endpoints do answer for a real run: the refusals above are not an accident.
    const good = await rawGet(port, `/api/logs/${sweepId}/0?stream=stdout&offset=0`, auth);
    expect(good.status).toBe(200);
  });

  it("shows counts changing live, a run's log tail and metric chart, and a compare chart", async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    // The token left the address bar once the cookie was set.
    expect(page.url()).not.toContain("token=");
    const done = page.locator(`#sweeps tr[data-id="${sweepId}"] td.done`);
    await done.waitFor();
    const first = await done.textContent();
    expect(first).toMatch(/^\d+\/6$/);
    // No reload: the server-sent events move the count.
    await until("the done count to change without a reload", async () => (await done.textContent()) !== first, 20_000);
    expect(await page.locator("#live").textContent()).toBe("live");

    await page.click(`#sweeps tr[data-id="${sweepId}"]`);
    await page.locator("#runs tbody tr").first().waitFor();
    expect(await page.locator("#runs tbody tr").count()).toBe(6);
    expect(await page.locator("#runs th").allTextContents()).toEqual(expect.arrayContaining(["run", "lr", "seed", "state", "loss"]));
    // Sort by lr descending and filter to one value: the table follows.
    await page.click('#runs th[data-col="lr"]');
    await page.click('#runs th[data-col="lr"]');
    // Cells: the select box, run, lr, ...
    expect(await page.locator('#runs tbody tr td:nth-child(3)').first().textContent()).toBe("0.1");
    await page.fill("#filter", "lr=0.01");
    await until("the filter", async () => (await page.locator("#runs tbody tr").count()) === 3);
    await page.fill("#filter", "");
    await page.screenshot({ path: path.join(ROOT, "test-results", "dashboard-sweep.png") });

    // A run that is still going (or, on a slow machine, the last one).
    const running = page.locator("#runs tbody tr:has(.s-running)");
    if (await running.count()) await running.first().click();
    else await page.locator("#runs tbody tr").last().click();
    await page.locator("#log").waitFor();
    await until("the log tail", async () => /step \d+ loss/.test((await page.locator("#log").textContent()) ?? ""));
    await page.locator("#charts .chart canvas").first().waitFor();
    const points = await page.evaluate(() => (window as unknown as { corral: { charts: Array<{ data: number[][] }> } }).corral.charts.map((c) => c.data[0]!.length));
    expect(points.length).toBeGreaterThan(0);
    expect(Math.max(...points)).toBeGreaterThan(0);
    expect(await page.locator('#facts dd[data-fact="node"]').textContent()).not.toBe("");
    await until("the run to end and its log to be complete", async () => ((await page.locator("#log").textContent()) ?? "").includes("step 11"), 20_000);
    mkdirSync(path.join(ROOT, "test-results"), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, "test-results", "dashboard.png"), fullPage: true });

    await page.goto(`${new URL(url).origin}/#/compare/${sweepId}?metric=loss&param=lr`);
    await page.locator("#compare-chart canvas").waitFor();
    const series = await page.evaluate(() => (window as unknown as { corral: { charts: Array<{ series: unknown[] }> } }).corral.charts[0]!.series.length);
    expect(series).toBe(4); // x plus one line per seed
    expect(errors).toEqual([]);
    await page.close();
  });
});
