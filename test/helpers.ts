/** Helpers for end-to-end tests: a temp project folder and the real CLI as a child process. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, existsSync, readFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CorralError } from "../src/errors.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = path.join(ROOT, "dist/cli/main.js");
export const TASKS = path.join(ROOT, "test/fixtures/tasks");
/** The built worker entry, for tests that start a worker on a batch file by hand. */
export const WORKER = path.join(ROOT, "dist/worker/worker-main.js");

/** Start a worker on `batchFile` as a launcher would; resolves with its exit code and its output. */
export function runWorker(batchFile: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WORKER, batchFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Make a temp project with the given files (paths relative to its root). */
export function makeProject(files: Record<string, string>, prefix = "corral-e2e-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [f, text] of Object.entries(files)) {
    const p = path.join(dir, f);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    if (f.endsWith(".sh") || f.endsWith(".py")) chmodSync(p, 0o755);
  }
  return dir;
}

/** Run the CLI to completion. */
export function corral(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start the CLI without waiting (for kill/interrupt tests). */
export function corralAsync(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** The sweep folders under <project>/multirun (date/time), newest last. */
export function sweepDirs(project: string): string[] {
  const root = path.join(project, "multirun");
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const d of readdirSync(root).sort()) for (const t of readdirSync(path.join(root, d)).sort()) out.push(path.join(root, d, t));
  return out;
}

export const readJson = <T = unknown>(p: string): T => JSON.parse(readFileSync(p, "utf8")) as T;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

/** Why the SLURM tests cannot run here (undefined when a cluster answers with a usable node). */
export function slurmProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const out = execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 10_000, env });
    if (!/idle|mixed|allocated/.test(out)) return `sinfo shows no usable node (${out.trim()})`;
    return undefined;
  } catch (e) {
    return `no SLURM cluster answers (${(e as Error).message.split("\n")[0]}); start one with scripts/slurm-cluster.sh start`;
  }
}

/** Run `fn`, expecting it to throw a CorralError; returns that error for assertions on it. */
export function thrownCorralError(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw new Error(`expected a CorralError, got ${String(e)}`);
  }
  throw new Error("expected a CorralError, nothing was thrown");
}
