/**
 * Containment (issue 11 point 7): a sweep name cannot place a sweep outside `sweep_dir`; the
 * dashboard serves no file whose real path leaves the sweep folder, answers only to the loopback
 * Host names it serves, and never hands its token to another process in argv.
 * Real CLI as a child process, a real server on 127.0.0.1, real HTTP requests.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, type Dashboard } from "../../src/dashboard/server.js";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { indexSweep, writeManifest, writeRunStatus } from "../../src/store/store.js";
import { corral, corralAsync, makeProject, ROOT, sweepDirs, TASKS, waitFor } from "../helpers.js";

/** Every file and folder under `dir` (relative), to prove a refused command created nothing. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name);
      out.push(path.relative(dir, p));
      if (f.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

const errorLines = (stderr: string): string[] => stderr.split("\n").filter((l) => l.startsWith("corral: error:"));

describe("--name is one folder name", () => {
  const unique = `corral-escape-${process.pid}-${randomBytes(4).toString("hex")}`;
  const escaped = path.join(tmpdir(), unique);
  // Enough `..` to climb out of any project folder depth, then into the temp folder.
  const hostile = [`${"../".repeat(24)}${escaped.replace(/^\//, "")}`, escaped, "..", ".", "a/b", "a\\b", "-rf", ".hidden", "x".repeat(101), "tab\there"];
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    rmSync(escaped, { recursive: true, force: true });
  });

  it("corral run: exit 2, one error line naming --name, nothing created anywhere", () => {
    const dir = makeProject({ "corral.yaml": `command: ${path.join(TASKS, "ok.sh")}\nconfig: {a: 1}\n` });
    dirs.push(dir);
    const before = tree(dir);
    for (const [i, name] of hostile.entries()) {
      // A single run takes the same path: try it with the two escapes only (each call is a process).
      for (const multi of i < 2 ? [["-m", "a=1,2"], []] : [["-m", "a=1,2"]]) {
        const r = corral(["run", ...multi, "--name", name], { cwd: dir });
        expect(r.code, `--name ${JSON.stringify(name)}: ${r.stderr}`).toBe(2);
        const errs = errorLines(r.stderr);
        expect(errs, r.stderr).toHaveLength(1);
        expect(errs[0]).toContain("--name");
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      }
    }
    expect(tree(dir)).toEqual(before);
    expect(existsSync(escaped), `${escaped} must not exist`).toBe(false);
  });

  it("corral flow: the same", () => {
    const dir = makeProject({ "corral.yaml": `rules:\n  a:\n    output: out/a.txt\n    shell: echo a > {output}\ntargets: [out/a.txt]\n` });
    dirs.push(dir);
    const before = tree(dir);
    for (const name of [hostile[0]!, escaped, "..", "a/b"]) {
      const r = corral(["flow", "--name", name], { cwd: dir });
      expect(r.code, `--name ${JSON.stringify(name)}: ${r.stderr}`).toBe(2);
      const errs = errorLines(r.stderr);
      expect(errs, r.stderr).toHaveLength(1);
      expect(errs[0]).toContain("--name");
    }
    expect(tree(dir)).toEqual(before);
    expect(existsSync(escaped)).toBe(false);
  });

  it("a plain name still names the sweep folder", () => {
    const dir = makeProject({ "corral.yaml": `command: ${path.join(TASKS, "ok.sh")}\nconfig: {a: 1}\n` });
    dirs.push(dir);
    const r = corral(["run", "-m", "a=1", "--name", "lr-sweep_v2.1"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const sweeps = sweepDirs(dir);
    expect(sweeps).toHaveLength(1);
    expect(path.basename(sweeps[0]!)).toMatch(/-lr-sweep_v2\.1$/);
  });
});

/** GET over real HTTP to 127.0.0.1, with the Host header as given (default: 127.0.0.1:port). */
function get(port: number, p: string, headers: Record<string, string> = {}, opts: { timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Send bytes as they are to 127.0.0.1:port; resolve with everything the server sent back. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const s = net.connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    s.setTimeout(5000, () => s.destroy(new Error("raw exchange timed out")));
    s.on("data", (b: Buffer) => (got += b.toString()));
    s.on("end", () => resolve(got));
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
}

const SECRET = "TOPSECRET-d41d8cd9";
const TOKEN = "containment-token-0123456789abcdef";

describe("the dashboard serves only files inside the sweep folder, to loopback Host names", () => {
  const base = mkdtempSync(path.join(tmpdir(), "corral-contain-"));
  const project = path.join(base, "project");
  // The sweep folders live on "scratch" and the project reaches them through a symlink:
  // containment is measured against real paths, so this must keep working.
  const scratch = path.join(base, "scratch");
  const outside = path.join(base, "outside");
  let ui: Dashboard;
  let port = 0;
  const auth = { "x-corral-token": TOKEN };

  beforeAll(async () => {
    mkdirSync(project, { recursive: true });
    mkdirSync(scratch, { recursive: true });
    mkdirSync(outside, { recursive: true });
    symlinkSync(scratch, path.join(project, "multirun"));
    const secretText = path.join(outside, "secret.txt");
    writeFileSync(secretText, `${SECRET}\nroot:x:0:0:root:/root:/bin/sh\n`);
    writeFileSync(path.join(outside, "secret.jsonl"), JSON.stringify({ step: 1, loss: SECRET }) + "\n");
    const secretStatus: RunStatusRecord = { type: "run-status", version: 1, runId: "r1", index: 1, state: "failed", attempt: 1, updatedAt: 1, history: [], message: SECRET };
    writeFileSync(path.join(outside, "status.json"), JSON.stringify(secretStatus));
    const outDir = path.join(outside, "rundir");
    mkdirSync(outDir);
    for (const f of ["stdout.log", "stderr.log", "config.yaml", "metrics.jsonl"]) writeFileSync(path.join(outDir, f), `${SECRET}\n`);

    const dir = path.join(project, "multirun", "s1");
    const m: SweepManifest = {
      type: "sweep",
      version: 1,
      id: "s1",
      kind: "sweep",
      createdAt: 1_800_000_000_000,
      dir,
      projectDir: project,
      command: ["python3", "train.py"],
      overrides: ["lr=0,1,2,3"],
      launcher: "local",
      runs: [0, 1, 2, 3].map((i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [`lr=${i}`], params: { lr: i } })),
      jobs: [],
    };
    mkdirSync(dir);
    for (const i of [0, 1, 3]) mkdirSync(path.join(dir, String(i)));
    writeManifest(m);
    indexSweep(project, m);
    // Run 0: ordinary files, and a symlink that stays inside the sweep (served).
    const ok: RunStatusRecord = { type: "run-status", version: 1, runId: "r0", index: 0, state: "succeeded", attempt: 1, updatedAt: 1, history: [] };
    writeRunStatus(path.join(dir, "0"), ok);
    writeFileSync(path.join(dir, "0", "stdout.log"), "hello from run 0\n");
    writeFileSync(path.join(dir, "0", "config.yaml"), "lr: 0\n");
    writeFileSync(path.join(dir, "0", "metrics.jsonl"), '{"step":1,"loss":0.5}\n');
    symlinkSync("../0/stdout.log", path.join(dir, "0", "stderr.log"));
    // Run 1: every file a symlink out of the store.
    symlinkSync(secretText, path.join(dir, "1", "stdout.log"));
    symlinkSync("/etc/passwd", path.join(dir, "1", "stderr.log"));
    symlinkSync(secretText, path.join(dir, "1", "config.yaml"));
    symlinkSync(path.join(outside, "secret.jsonl"), path.join(dir, "1", "metrics.jsonl"));
    symlinkSync(path.join(outside, "status.json"), path.join(dir, "1", "status.json"));
    // Run 2: the run folder itself is a symlink out of the store.
    symlinkSync(outDir, path.join(dir, "2"));
    // Run 3: a FIFO as its log (would hang a naive open) and /etc through a relative link.
    execFileSync("mkfifo", [path.join(dir, "3", "stdout.log")]);
    symlinkSync("../../../../../../../../../../../../etc/passwd", path.join(dir, "3", "stderr.log"));
    writeRunStatus(path.join(dir, "3"), { ...ok, runId: "r3", index: 3, state: "failed" });

    // A second sweep whose sweep.json is a link to a manifest outside: not listed at all.
    const s2 = path.join(project, "multirun", "s2");
    mkdirSync(s2);
    const m2: SweepManifest = { ...m, id: "s2", dir: path.join(outside, "m2"), runs: [] };
    mkdirSync(m2.dir);
    writeManifest(m2);
    symlinkSync(path.join(m2.dir, "sweep.json"), path.join(s2, "sweep.json"));
    indexSweep(project, { ...m2, dir: s2 });

    ui = await startDashboard({ projectDir: project, token: TOKEN, pollMs: 100 });
    port = ui.port;
  });

  afterAll(async () => {
    await ui?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it("serves run 0 (a symlink that stays inside the store included)", async () => {
    const run = await get(port, "/api/run/s1/0", auth);
    expect(run.status).toBe(200);
    expect(JSON.parse(run.body)).toMatchObject({ config: "lr: 0\n", status: { state: "succeeded" } });
    const err = await get(port, "/api/logs/s1/0?stream=stderr&offset=0", auth);
    expect(err.status).toBe(200);
    expect(JSON.parse(err.body).text).toBe("hello from run 0\n");
    const metrics = await get(port, "/api/metrics/s1/0", auth);
    expect(JSON.parse(metrics.body).rows).toEqual([{ step: 1, loss: 0.5 }]);
  });

  it("refuses every file that a symlink takes out of the store: 403/404 and no content", async () => {
    const cases: Array<[string, number]> = [
      ["/api/logs/s1/1?stream=stdout", 403],
      ["/api/logs/s1/1?stream=stdout&offset=0", 403],
      ["/api/logs/s1/1?stream=stderr", 403],
      ["/api/run/s1/1", 403],
      ["/api/metrics/s1/1", 403],
      ["/api/logs/s1/2?stream=stdout", 404],
      ["/api/logs/s1/2?stream=stderr&offset=0", 404],
      ["/api/run/s1/2", 404],
      ["/api/metrics/s1/2", 404],
      ["/api/logs/s1/3?stream=stdout&offset=0", 403],
      ["/api/logs/s1/3?stream=stderr", 403],
      ["/api/sweep/s2", 404],
    ];
    for (const [p, want] of cases) {
      const r = await get(port, p, auth);
      expect(r.status, `${p}: ${r.body}`).toBe(want);
      expect(r.body, p).not.toContain(SECRET);
      expect(r.body, p).not.toMatch(/root:x:0:0|daemon:/);
    }
  });

  it("the sweep table shows no status or metrics read through such a link", async () => {
    const sweeps = await get(port, "/api/sweeps", auth);
    expect(sweeps.body).not.toContain(SECRET);
    expect((JSON.parse(sweeps.body) as { sweeps: Array<{ id: string }> }).sweeps.map((s) => s.id)).toEqual(["s1"]);
    const sweep = await get(port, "/api/sweep/s1", auth);
    expect(sweep.status).toBe(200);
    expect(sweep.body).not.toContain(SECRET);
    const rows = (JSON.parse(sweep.body) as { runs: Array<{ index: number; state: string; metrics: object }> }).runs;
    expect(rows.map((r) => [r.index, r.state])).toEqual([[0, "succeeded"], [1, "pending"], [2, "pending"], [3, "failed"]]);
    expect(rows[0]!.metrics).toEqual({ step: 1, loss: 0.5 });
    expect(rows[1]!.metrics).toEqual({});
  });

  it("answers only to the loopback names it serves (DNS rebinding gets 403)", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const r = await get(port, "/api/sweeps", { ...auth, host });
      expect(r.status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`, "127.0.0.1", "localhost", `127.0.0.1:${port + 1}`, `localhost:${port}@evil.example`, `[::1]`]) {
      for (const p of ["/", "/api/sweeps", "/api/logs/s1/0?stream=stdout"]) {
        const r = await get(port, p, { ...auth, host });
        // A Host that is no valid authority at all may already be a 400 from the HTTP layer.
        expect(host.includes("@") ? [400, 403] : [403], `Host: ${host} ${p} -> ${r.status}`).toContain(r.status);
        expect(r.body).not.toContain("hello from run 0");
        expect(r.body).not.toContain("python3");
      }
    }
    // An empty Host, or none at all (HTTP/1.0 allows that): refused too (Node itself may
    // answer 400 first).
    for (const head of ["GET /api/sweeps HTTP/1.1\r\nHost: \r\n", "GET /api/sweeps HTTP/1.0\r\n", "GET /api/sweeps HTTP/1.1\r\n"]) {
      const answer = await rawExchange(port, `${head}x-corral-token: ${TOKEN}\r\nConnection: close\r\n\r\n`);
      expect(answer, JSON.stringify(head)).toMatch(/^HTTP\/1\.[01] 40[03] /);
      expect(answer).not.toContain("python3");
    }
  });
});

describe("corral ui opens the browser without its token in any argv", () => {
  const FIXTURE = path.join(ROOT, "test/fixtures/browser/record-argv.sh");
  const dir = makeProject({ "corral.yaml": `command: ${path.join(TASKS, "ok.sh")}\n` });
  const tmp = mkdtempSync(path.join(tmpdir(), "corral-ui-tmp-"));
  const record = path.join(tmp, "argv.txt");
  let proc: ReturnType<typeof corralAsync> | undefined;
  afterAll(() => {
    if (proc?.child.exitCode === null) proc.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it("hands the opener a private file:// redirect page, removed when the server stops", async () => {
    proc = corralAsync(["ui", "--port", "0"], { cwd: dir, env: { CORRAL_BROWSER: FIXTURE, RECORD_ARGV_FILE: record, TMPDIR: tmp } });
    await waitFor(() => existsSync(record) && /^http/m.test(proc!.output().stdout), 20_000, "corral ui to open its page");
    const url = proc.output().stdout.split("\n").find((l) => l.startsWith("http"))!.trim();
    const token = new URL(url).searchParams.get("token")!;
    expect(token).toMatch(/^[\w-]{32}$/);

    const argv = readFileSync(record, "utf8").split("\n").filter(Boolean);
    expect(argv).toHaveLength(2);
    expect(argv[0]).toBe(FIXTURE);
    for (const a of argv) expect(a).not.toContain(token);
    expect(argv[1]).toMatch(/^file:\/\//);
    // The page and its folder are private, and the page leads on to the tokenized URL.
    const page = fileURLToPath(argv[1]!);
    expect(path.dirname(path.dirname(page))).toBe(tmp);
    expect(statSync(page).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(page)).mode & 0o777).toBe(0o700);
    const html = readFileSync(page, "utf8");
    expect(html).toContain(`window.location.replace(${JSON.stringify(url)})`);
    expect(html).toContain(`content="1;url=${url}"`);
    // corral ui's own command line carries no token either.
    expect(readFileSync(`/proc/${proc.child.pid}/cmdline`, "utf8")).not.toContain(token);

    proc.child.kill("SIGINT");
    const done = await proc.done;
    expect(done.code, done.stderr).toBe(0);
    expect(existsSync(path.dirname(page)), "the redirect page outlived the server").toBe(false);
  });
});
