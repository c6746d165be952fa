/**
 * The bad-input corpus (test/fixtures/bad-input/cases.yaml): every case runs the real CLI in a
 * fresh folder and must give one clear cause with a hint, the right exit code, no stack trace,
 * and start nothing. Hostile values that are legal must reach the run verbatim, never a shell.
 * Cases run concurrently (a small pool) so the whole corpus stays fast.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLI, makeProject, ROOT, sweepDirs, type CliResult } from "../helpers.js";

interface Case {
  name: string;
  files?: Record<string, string>;
  args: string[];
  /** Regex the cause line must match. */
  error?: string;
  /** @default 2 */
  code?: number;
  /** Legal input: a run is started (and must see the value verbatim). */
  started?: boolean;
  /** The run's stdout must contain this line (the command is `echo`). */
  stdout_of_run?: string;
  /** Pipelines: this file (the literal target) must exist afterwards. */
  creates?: string;
  /** Symlinks to make in the project (path -> target). */
  symlinks?: Record<string, string>;
  /** Extra environment for the CLI. */
  env?: Record<string, string>;
}

const BASE = "command: echo\nconfig:\n  a: 1\n  s: x\n";
const cases = parse(readFileSync(path.join(ROOT, "test/fixtures/bad-input/cases.yaml"), "utf8")) as Case[];
const LONG = "x".repeat(100_000);
/** Generated inputs too large to write in cases.yaml; see the README. */
const PLACEHOLDERS: Record<string, () => string> = {
  LONG: () => LONG,
  LONGKEY: () => "k".repeat(5000),
  HUGE: () => "x".repeat(140_000),
  DEEP_DICT: () => "{b:".repeat(1500) + "1" + "}".repeat(1500),
  DEEP_LIST: () => "[".repeat(1500) + "]".repeat(1500),
  CHAIN: () => "  a0: 1\n" + Array.from({ length: 1999 }, (_, i) => `  a${i + 1}: \${a${i}}\n`).join(""),
  DEEP_YAML_MAPS: () => "{a: ".repeat(5000) + "1" + "}".repeat(5000),
  DEEP_YAML_LISTS: () => Array.from({ length: 5000 }, (_, i) => " ".repeat(4 + 2 * i) + "-\n").join(""),
  CORRAL: () => JSON.stringify(path.join(ROOT, "dist/index.js")),
};
const expand = (text: string): string => text.replace(/\{\{([A-Z_]+)\}\}/g, (all, name: string) => PLACEHOLDERS[name]?.() ?? all);

function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under dir (relative), to prove a command wrote nothing. */
function listing(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = path.join(rel, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...listing(dir, p));
  }
  return out.sort();
}

const results = new Map<string, { dir: string; before: string[]; r: CliResult }>();

beforeAll(async () => {
  const queue = [...cases];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const files = Object.fromEntries(Object.entries(c.files ?? { "corral.yaml": BASE }).map(([f, t]) => [f, expand(t)]));
      const dir = makeProject(files, "corral-bad-");
      for (const [link, target] of Object.entries(c.symlinks ?? {})) symlinkSync(target, path.join(dir, link));
      const before = listing(dir);
      const args = c.args.map(expand);
      results.set(c.name, { dir, before, r: await runCli(args, dir, c.env) });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}, 120_000);

describe("bad-input corpus", () => {
  it("holds at least 50 cases with unique names", () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const { dir, before, r } = results.get(c.name)!;
    const ctx = `stderr:\n${r.stderr.slice(0, 2000)}`;
    expect(r.code, ctx).toBe(c.code ?? 2);
    expect(r.stderr, ctx).not.toMatch(/\n\s+at /);
    expect(r.stderr, ctx).not.toMatch(/internal error/);
    // Nothing a hostile value could have run: no marker file anywhere in the project.
    expect(listing(dir).filter((f) => path.basename(f).startsWith("pwned"))).toEqual([]);
    if (c.started && c.creates) {
      expect(existsSync(path.join(dir, c.creates)), ctx).toBe(true);
      return;
    }
    if (c.started) {
      const sweep = sweepDirs(dir)[0];
      expect(sweep, ctx).toBeDefined();
      if (c.stdout_of_run) expect(readFileSync(path.join(sweep!, "0", "stdout.log"), "utf8").split("\n")).toContain(c.stdout_of_run);
      else expect(readFileSync(path.join(sweep!, "0", "stdout.log"), "utf8").length).toBeGreaterThan(100_000);
      return;
    }
    const err = r.stderr.split("\n").filter(Boolean);
    // One cause line, then the hint (commander may add its own suggestion line between).
    expect(err[0], ctx).toMatch(/^corral: (error: )?/);
    expect(err[0], ctx).toMatch(new RegExp(c.error ?? "."));
    expect(err.length, ctx).toBeLessThanOrEqual(3);
    expect(err.some((l) => /^\s+hint: \S/.test(l)), ctx).toBe(true);
    // Nothing started or written: no sweep folder, no store index, no file changed.
    expect(existsSync(path.join(dir, "multirun")), ctx).toBe(false);
    expect(existsSync(path.join(dir, ".corral")), ctx).toBe(false);
    expect(listing(dir)).toEqual(before);
  });
});
