/**
 * The README's main job (`npm start`: examples/quickstart swept on the local launcher, then the
 * results table) runs as written: every run succeeds and the table is sorted by val_acc. Run on
 * a copy of the example, so the repository's folder stays clean.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corral, ROOT } from "../helpers.js";

describe("examples/quickstart (npm start)", () => {
  it("the 12-run sweep succeeds and `corral results --best val_acc:max` lists every run, best first", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-quickstart-"));
    cpSync(path.join(ROOT, "examples/quickstart"), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}multirun`) });
    const r = corral(["run", "-m", "--name", "demo"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("12 succeeded");
    const res = corral(["results", "--best", "val_acc:max", "--format", "csv"], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    const rows = res.stdout.trim().split("\n");
    expect(rows).toHaveLength(13);
    const col = rows[0]!.split(",").indexOf("val_acc");
    const accs = rows.slice(1).map((l) => Number(l.split(",")[col]));
    expect(accs.every((a) => a > 0.5)).toBe(true);
    expect([...accs].sort((a, b) => b - a)).toEqual(accs);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the stdlib config readers of the starter project and the quickstart", () => {
  it("read keys that config.yaml quotes (YAML 1.1 would take n, y, on for booleans) by their names", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-init-"));
    expect(corral(["init", "."], { cwd: dir }).code).toBe(0);
    writeFileSync(path.join(dir, "c.yaml"), '"n": 3\nlr: 0.5\nmodel:\n  "y": 2\n');
    const load = (file: string, fn: string): string =>
      execFileSync("python3", ["-c", `import importlib.util as u\ns = u.spec_from_file_location("t", ${JSON.stringify(file)})\nt = u.module_from_spec(s)\ns.loader.exec_module(t)\nc = t.${fn}()\nprint(c["n"], c["model"]["y"])`], { cwd: dir, env: { ...process.env, CORRAL_CONFIG: path.join(dir, "c.yaml"), CORRAL_RUN_DIR: dir }, encoding: "utf8" })
        .trim()
        .split("\n")
        .at(-1)!;
    expect(load(path.join(dir, "train.py"), "load_config")).toBe("3 2");
    expect(load(path.join(ROOT, "examples/quickstart/train.py"), "load_config")).toBe("3 2");
    rmSync(dir, { recursive: true, force: true });
  });
});
