/**
 * A Hydra app under Corral (issue 12, point 1): each run's Hydra outputs (`.hydra/`, the job log)
 * land in its own run folder;
 * `hydra.job.num` is the run's index and `hydra.job.id` its id, as in a Hydra multirun; no stray
 * `outputs/` tree. Detected from the app's `@hydra.main` (project `app: auto`). It runs a
 * Hydra-like fixture (test/fixtures/hydra-like: the same argv contract, not Hydra).
 */
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, ROOT, sweepDirs } from "../helpers.js";

const FIXTURE = path.join(ROOT, "test/fixtures/hydra-like");

function hydraProject(app?: string): string {
  const dir = makeProject({
    "corral.yaml": `command: python3 app.py\n${app ? `app: ${app}\n` : ""}config:\n  x: 1\n  y: a\nsweep:\n  x: 1,2\n  y: a,b,c,d\n`,
  });
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

describe("a Hydra app's outputs, each in its own run folder", () => {
  it("8 runs started together: 8 distinct Hydra output folders inside the run folders, job num and id as in a multirun, no stray outputs/", () => {
    const dir = hydraProject();
    const r = corral(["run", "-m", "-j", "4"], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    expect(m.app).toBe("hydra");
    expect(m.runs).toHaveLength(8);
    for (const e of m.runs) {
      const runDir = path.join(sweep, e.dir);
      expect(readFileSync(path.join(runDir, ".hydra", "overrides.yaml"), "utf8").split("\n").filter(Boolean).sort()).toEqual(e.overrides.map((o) => `- ${o}`).sort());
      const job = readJson<{ num: string; id: string; cwd: string }>(path.join(runDir, "job.json"));
      expect([job.num, job.id]).toEqual([String(e.index), e.id]);
      expect(existsSync(path.join(runDir, "app.log"))).toBe(true);
    }
    expect(readdirSync(dir)).not.toContain("outputs");
  });

  it("hydra.* overrides go to the app, not into the recorded config: hydra.job.chdir=true puts the app's own files in its run folder", () => {
    const dir = hydraProject();
    const r = corral(["run", "-m", "x=1,2", "hydra.job.chdir=true"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    for (const i of [0, 1]) {
      expect(readFileSync(path.join(sweep, String(i), "result.txt"), "utf8")).toContain(`'x': '${i + 1}'`);
      expect(readFileSync(path.join(sweep, String(i), "config.yaml"), "utf8")).not.toContain("hydra");
    }
    expect(readdirSync(dir)).not.toContain("result.txt");
  });

  it("app: plain hands the command only the overrides (an argparse-style program is not given hydra.* arguments)", () => {
    const dir = hydraProject("plain");
    expect(corral(["run", "x=2", "y=b"], { cwd: dir, timeoutMs: 30_000 }).code).toBe(0);
    const m = readJson<SweepManifest>(path.join(sweepDirs(dir)[0]!, "sweep.json"));
    expect(m.app).toBeUndefined();
    // Without the run folder, the app falls back to Hydra's own default: a stray outputs/ tree.
    expect(readdirSync(dir)).toContain("outputs");
  });
});
