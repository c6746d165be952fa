/**
 * The worker's run starter, through the spawn helper (python3 + posix_spawn) and through the
 * child_process fallback: the same outcomes either way (pid = process group, exit code or
 * signal, ENOENT, SIGTERM grace then SIGKILL, CPU pinning, env, cwd, logs appended).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SpawnHelper } from "../../src/worker/spawn-helper.js";
import { startRun, type RunExit, type StartOptions } from "../../src/worker/supervise.js";

const hasPython = spawnSync("python3", ["-c", "import os; os.posix_spawn"]).status === 0;
const helper = hasPython ? SpawnHelper.start({ ...process.env }) : undefined;
afterAll(() => helper?.close());

const variants: Array<[string, SpawnHelper | undefined]> = [["child_process", undefined]];
if (helper) variants.push(["spawn helper", helper]);
else console.warn("SKIPPED spawn helper variant: no python3 with os.posix_spawn");

describe.each(variants)("startRun via %s", (_name, h) => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-spawn-"));
  const opts = (argv: string[], extra: Partial<StartOptions> = {}): StartOptions => ({
    argv,
    cwd: dir,
    env: { ...process.env, FROM_RUN: "r1" },
    stdoutFile: path.join(dir, `${_name}.out`),
    stderrFile: path.join(dir, `${_name}.err`),
    helper: h,
    ...extra,
  });
  /** The exit without the helper's reap time (which only the helper reports, checked here). */
  const exitOf = async (p: { exited: Promise<RunExit> }): Promise<Omit<RunExit, "at">> => {
    const { at, ...rest } = await p.exited;
    if (h) expect(at).toEqual(expect.any(Number));
    else expect(at).toBeUndefined();
    return rest;
  };

  it("runs in cwd with env, appends logs, reports the exit code; the pid leads its own group", async () => {
    const p = startRun(opts(["sh", "-c", 'echo "$FROM_RUN $(pwd)"; echo err >&2; ps -o pgid= -p $$; exit 3']));
    const pid = await p.started;
    expect(await exitOf(p)).toEqual({ code: 3, signal: null });
    const out = readFileSync(path.join(dir, `${_name}.out`), "utf8").trim().split("\n");
    expect(out[0]).toBe(`r1 ${dir}`);
    expect(Number(out[1])).toBe(pid);
    expect(readFileSync(path.join(dir, `${_name}.err`), "utf8")).toBe("err\n");
    await startRun(opts(["sh", "-c", "echo again"])).exited;
    expect(readFileSync(path.join(dir, `${_name}.out`), "utf8")).toMatch(/\nagain\n$/);
  });

  it("reports a command that does not exist as a spawn error", async () => {
    const e = await startRun(opts(["no-such-command-xyz"])).exited;
    expect(e).toMatchObject({ code: 127, spawnError: "cannot start 'no-such-command-xyz': command not found on PATH" });
  });

  it("reports death by signal; stop() sends SIGTERM to the group, then SIGKILL after the grace", async () => {
    const k = startRun(opts(["sh", "-c", "kill -SEGV $$"]));
    expect(await exitOf(k)).toEqual({ code: null, signal: "SIGSEGV" });
    writeFileSync(path.join(dir, "stubborn.sh"), "trap '' TERM\nsleep 30 & wait\n");
    const p = startRun(opts(["sh", path.join(dir, "stubborn.sh")]));
    await p.started;
    await new Promise((r) => setTimeout(r, 200));
    expect(await p.stop(300)).toBe(true);
    expect(p.forced).toBe(true);
    expect(await exitOf(p)).toEqual({ code: null, signal: "SIGKILL" });
    const q = startRun(opts(["sleep", "30"]));
    // a stop before the pid is known still reaches the run
    expect(await q.stop(5000)).toBe(false);
    expect(await exitOf(q)).toEqual({ code: null, signal: "SIGTERM" });
  });

  it("pins to the given CPUs; the run ignores no signal", async () => {
    const p = startRun(opts(["sh", "-c", "grep Cpus_allowed_list /proc/self/status; grep SigIgn /proc/self/status"], { cpus: [0] }));
    await p.exited;
    const out = readFileSync(path.join(dir, `${_name}.out`), "utf8");
    expect(out).toMatch(/Cpus_allowed_list:\s+0\n/);
    // Signals 1-31 (32 and 33 are glibc's own, outside what a run handles).
    const ign = /SigIgn:\s+([0-9a-f]+)\n/.exec(out)![1]!;
    expect(BigInt(`0x${ign}`) & 0x7fffffffn).toBe(0n);
  });
});

describe("spawn helper fallback", () => {
  it("a helper that cannot start hands its runs to child_process.spawn", async () => {
    const dead = SpawnHelper.start({ ...process.env }, "/nonexistent/python3")!;
    const dir = mkdtempSync(path.join(tmpdir(), "corral-spawn-"));
    const p = startRun({ argv: ["sh", "-c", "exit 4"], cwd: dir, env: process.env, stdoutFile: path.join(dir, "o"), stderrFile: path.join(dir, "e"), helper: dead });
    expect(await p.exited).toMatchObject({ code: 4, signal: null });
    expect(dead.usable).toBe(false);
    expect(SpawnHelper.start({ CORRAL_SPAWN_HELPER: "0" })).toBeUndefined();
  });
});

describe.skipIf(!helper)("a run that ended before a stop reached it", () => {
  it("its reap time is before the stop's first signal, so the worker keeps its own outcome", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "corral-spawn-"));
    const exitFile = path.join(dir, "exit-1.json");
    // Ends a moment after its start is reported, so the start is read alone.
    const p = startRun({ argv: ["sleep", "0.2"], cwd: dir, env: process.env, stdoutFile: path.join(dir, "o"), stderrFile: path.join(dir, "e"), helper, exitFile });
    await p.started;
    // Reaped and recorded by the helper, its report not yet read: a stop now reaches no run.
    const reapedAt = (): number | undefined => {
      try {
        return (JSON.parse(readFileSync(exitFile, "utf8")) as { at: number }).at;
      } catch {
        return undefined;
      }
    };
    while (reapedAt() === undefined) spawnSync("sleep", ["0.01"]);
    // Not in the millisecond it was reaped (the clocks agree to the millisecond).
    while (Date.now() <= reapedAt()!) spawnSync("sleep", ["0.001"]);
    void p.stop(1000);
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    expect(p.signalledAt).toEqual(expect.any(Number));
    expect(exit.at!).toBeLessThan(p.signalledAt!);
  });
});

describe.skipIf(!hasPython)("spawn helper slots (queued starts)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-slots-"));
  const req = (name: string, argv: string[], extra: Partial<StartOptions> = {}): StartOptions => ({
    argv,
    cwd: dir,
    env: { ...process.env },
    stdoutFile: path.join(dir, `${name}.out`),
    stderrFile: path.join(dir, `${name}.err`),
    ...extra,
  });

  it("starts queued runs as slots free, never more than `slots` at once, in order", async () => {
    const h = SpawnHelper.start({ ...process.env }, undefined, { slots: 2 })!;
    const log = path.join(dir, "conc.log");
    const script = `echo "s $(date +%s%N)" >> ${log}; sleep 0.05; echo "e $(date +%s%N)" >> ${log}`;
    // Queued before the helper is ready too: nothing starts until a slot is free.
    const runs = Array.from({ length: 8 }, (_, i) => startRun({ ...req(`q${i}`, ["sh", "-c", script]), helper: h, queued: true }));
    const exits = await Promise.all(runs.map((r) => r.exited));
    expect(exits.every((e) => e.code === 0)).toBe(true);
    let now = 0;
    let most = 0;
    const events = readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ")).sort((a, b) => Number(BigInt(a[1]!) - BigInt(b[1]!)));
    for (const [k] of events) {
      now += k === "s" ? 1 : -1;
      most = Math.max(most, now);
    }
    expect(most).toBe(2);
    h.close();
  });

  it("dropQueued withdraws what has not started (reported notStarted, no logs left); running runs go on", async () => {
    const h = SpawnHelper.start({ ...process.env }, undefined, { slots: 1 })!;
    const first = startRun({ ...req("d0", ["sleep", "0.3"]), helper: h, queued: true });
    await first.started;
    const queued = [1, 2].map((i) => startRun({ ...req(`d${i}`, ["true"]), helper: h, queued: true }));
    h.dropQueued();
    for (const q of queued) expect(await q.exited).toMatchObject({ code: null, signal: null, notStarted: true });
    expect(existsSync(path.join(dir, "d1.out"))).toBe(false);
    expect(await first.exited).toMatchObject({ code: 0, signal: null });
    h.close();
  });

  it("starts no queued run once the cancel marker exists", async () => {
    const marker = path.join(dir, "cancel-requested");
    const h = SpawnHelper.start({ ...process.env }, undefined, { slots: 1, marker })!;
    const first = startRun({ ...req("m0", ["sleep", "0.3"]), helper: h, queued: true });
    await first.started;
    const next = startRun({ ...req("m1", ["true"]), helper: h, queued: true });
    writeFileSync(marker, "");
    expect(await next.exited).toMatchObject({ notStarted: true });
    expect(await first.exited).toMatchObject({ code: 0, signal: null });
    h.close();
  });

  it("an interpreter that cannot run the helper hands its requests to the next", async () => {
    const h = SpawnHelper.start({ ...process.env }, ["/bin/false", "python3"], { slots: 1 })!;
    const p = startRun({ ...req("f0", ["sh", "-c", "exit 5"]), helper: h, queued: true });
    expect(await p.exited).toMatchObject({ code: 5, signal: null });
    expect(h.usable).toBe(true);
    h.close();
  });
});
