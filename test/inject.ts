/**
 * Shared pieces of the fault-injection suites (test/e2e/faults-inject*.test.ts): strace's syscall
 * fault injection (`-e inject=<syscall>:signal=KILL:when=N`) kills a process at exactly its N-th
 * call of a syscall, so every window between two writes is tried, not left to luck.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { CLI, corralAsync, lines, makeProject, sweepDirs } from "./helpers.js";

/** Why strace cannot be used here (then the suites say SKIPPED and why), or undefined. */
export const straceProblem = ((): string | undefined => {
  const r = spawnSync("strace", ["-qq", "-e", "inject=getpid:error=EPERM:when=1", "true"]);
  if (r.error) return "strace is not installed (apt-get install strace)";
  if (r.status !== 0) return `strace cannot trace here: ${r.stderr.toString().trim().split("\n")[0]}`;
  return undefined;
})();

/** strace's argv that kills its tracee at the `n`-th call of `syscall`. */
export const killAt = (syscall: string, n: number): string[] => ["strace", "-qq", "-o", "/dev/null", "-e", `trace=${syscall}`, "-e", `inject=${syscall}:signal=KILL:when=${n}`];

export const RUNS = 6;
/**
 * A sweep of RUNS runs, two at a time; each run sleeps, then counts itself. Its last step (the
 * count) is atomic with its exit: once it starts it, SIGTERM is ignored. (A run killed between its
 * last write and its exit dies of the signal; no tool can tell it from one killed mid-work, and it
 * is rightly run again: a real run commits its result the same way, by a rename at the end.)
 */
export function countingSweep(): string {
  return makeProject({
    "count.sh": 'sleep 0.4\ntrap "" TERM\necho "$CORRAL_RUN_DIR" >> "$COUNT_FILE"\n',
    "corral.yaml": `command: sh count.sh\nconfig:\n  x: 0\nsweep:\n  x: ${Array.from({ length: RUNS }, (_, i) => i).join(",")}\nlauncher:\n  jobs: 2\n`,
  });
}

export const countEnv = (dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, NO_COLOR: "1", COUNT_FILE: path.join(dir, "count.txt"), ...extra });

/** Run the CLI with `args` under `prefix` (strace ...). True when it died of SIGKILL. */
export function runUnder(prefix: string[], dir: string, args: string[], env: NodeJS.ProcessEnv = countEnv(dir)): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args];
    const child = spawn(cmd!, rest, { cwd: dir, env, stdio: "ignore" });
    // strace exits with the traced process's signal as its own.
    child.on("close", (code, signal) => resolve({ killed: signal === "SIGKILL" || code === 137, code }));
  });
}

/** How often the syscall is made, from a trace file strace wrote (`-o`). */
export const callsIn = (trace: string, syscall: string): number => lines(trace).filter((l) => l.startsWith(`${syscall}(`) || new RegExp(`^\\d+ +${syscall}\\(`).test(l)).length;

/** How often the CLI makes `syscall` on a clean run of this kind of project (its own calls, not its workers'). */
export function countCalls(make: () => string, args: string[], syscall: string): number {
  const dir = make();
  const trace = path.join(dir, "trace.txt");
  const r = spawnSync("strace", ["-qq", "-e", `trace=${syscall}`, "-o", trace, process.execPath, CLI, ...args], { cwd: dir, env: countEnv(dir), encoding: "utf8" });
  expect(r.status).toBe(0);
  return callsIn(trace, syscall);
}

/** Trials 1..calls, `width` at a a time. */
export async function everyWindow(calls: number, trial: (n: number) => Promise<void>, width = 3): Promise<void> {
  const ns = Array.from({ length: calls }, (_, i) => i + 1);
  for (let i = 0; i < ns.length; i += width) await Promise.all(ns.slice(i, i + width).map(trial));
}

/** After a crash: resume until done; every run succeeded and counted itself exactly once. */
export async function expectExactlyOnce(dir: string, label: string): Promise<void> {
  const sweeps = sweepDirs(dir);
  if (sweeps.length === 0 || !existsSync(path.join(sweeps[0]!, "sweep.json"))) {
    // Killed before the sweep was recorded: nothing was started, nothing to resume.
    expect(lines(path.join(dir, "count.txt")), label).toEqual([]);
    return;
  }
  expect(sweeps, label).toHaveLength(1);
  const r = await corralAsync(["resume", "--retry-failed"], { cwd: dir, env: { COUNT_FILE: path.join(dir, "count.txt") } }).done;
  expect(r.code, `${label}: resume\n${r.stderr}`).toBe(0);
  const counted = lines(path.join(dir, "count.txt"));
  const per = new Map<string, number>();
  for (const l of counted) per.set(l, (per.get(l) ?? 0) + 1);
  const twice = [...per].filter(([, k]) => k > 1).map(([run]) => `${run}: ${existsSync(path.join(run, "status.json")) ? readFileSync(path.join(run, "status.json"), "utf8") : "no status"}`);
  expect(twice, `${label}: runs counted twice`).toEqual([]);
  expect(per.size, `${label}: runs counted`).toBe(RUNS);
}
