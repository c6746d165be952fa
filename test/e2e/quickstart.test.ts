/**
 * The README's main job (`npm start`: examples/quickstart swept on the local launcher, then the
 * results table) runs as written: every run succeeds and the table is sorted by val_acc. Run on
 * a copy of the example, so the repository's folder stays clean.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
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
