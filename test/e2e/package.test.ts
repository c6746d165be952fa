/**
 * The package as users get it: `npm pack` holds what a user needs and nothing else, and the packed
 * tarball installed into a fresh prefix runs: `corral --version`, `corral init`, a sweep,
 * `corral results`, and a corral.config.ts anywhere that imports from "corral".
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "corral-pack-"));
const prefix = path.join(tmp, "prefix");
const bin = path.join(prefix, "bin", "corral");
let tarball = "";
let files: string[] = [];

/** Run the installed `corral` (PATH without this checkout's node_modules/.bin). */
function installed(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1", PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the packed package", () => {
  beforeAll(() => {
    // dist/ is built by `npm test` before the tests run; packing must not rebuild it.
    const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], { cwd: ROOT, encoding: "utf8" });
    const info = (JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    tarball = path.join(tmp, info.filename);
    files = info.files.map((f) => f.path);
    // From the npm cache that `npm ci` filled; the registry only for what is missing there.
    execFileSync("npm", ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: tmp, encoding: "utf8", timeout: 300_000 });
  }, 360_000);

  it("holds what a user needs and nothing else", () => {
    for (const f of ["package.json", "README.md", "dist/cli/main.js", "dist/index.js", "dist/index.d.ts", "dist/worker/worker-main.js", "dist/project/corral-api.cjs", "src/dashboard/static/app.js", "docs/flow.md"]) expect(files, f).toContain(f);
    const stray = files.filter((f) => /^(test|bench|examples|scripts|node_modules|\.ci)\//.test(f) || /\.map$/.test(f) || (f.startsWith("src/") && !f.startsWith("src/dashboard/static/")));
    expect(stray).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; types: string };
    expect(files).toContain(pkg.bin.corral!.replace(/^\.\//, ""));
    expect(files).toContain(pkg.types.replace(/^\.\//, ""));
  });

  it("installs into a fresh prefix and runs: --version, init, a sweep, results", () => {
    const version = installed(["--version"], tmp);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    const init = installed(["init", "proj"], tmp);
    expect(init.code, init.stderr).toBe(0);
    const proj = path.join(tmp, "proj");
    const run = installed(["run", "-m", "-j", "2"], proj);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/4 succeeded/);
    const results = installed(["results", "--best", "val_acc"], proj);
    expect(results.code, results.stderr).toBe(0);
    expect(results.stdout).toMatch(/val_acc/);
    expect(results.stdout.trim().split("\n").length).toBeGreaterThan(4);
  });

  it("a corral.config.ts outside any package imports defineConfig from \"corral\"", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-pack-ts-"));
    writeFileSync(
      path.join(dir, "corral.config.ts"),
      `import { defineConfig, expand } from "corral";\nexport default defineConfig({ command: "echo", config: { count: expand("a{i}", { i: [1, 2] }).length } });\n`,
    );
    const r = installed(["config"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^count: 2$/m);
  });
});
