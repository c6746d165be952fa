/**
 * Folder outputs are never trusted half-written (issue 13): a failed job's folder is removed (as
 * Snakemake removes a failed job's outputs), and a folder counts as made when its job succeeded,
 * by the marker written then (`.corral_timestamp`, as Snakemake's `.snakemake_timestamp`): its
 * time is the marker's, so files added inside later do not make its consumers look stale.
 */
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corral, makeProject } from "../helpers.js";

const project = (getData: string): string =>
  makeProject({
    "corral.yaml": [
      "rules:",
      "  get_data:",
      "    output: [data/raw]",
      `    shell: ${JSON.stringify(getData)}`,
      "  train:",
      "    input: [data/raw]",
      "    output: [model.pt]",
      '    shell: "ls {input} > {output}"',
      "targets: [model.pt]",
      "",
    ].join("\n"),
  });

describe("folder outputs", () => {
  it("a job that fails after writing part of its folder: the folder is removed, the next plan builds it again", () => {
    const dir = project("mkdir -p {output}; echo part > {output}/a.txt; exit 4");
    const r = corral(["flow"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(existsSync(path.join(dir, "data/raw"))).toBe(false);
    const plan = corral(["flow", "-n"], { cwd: dir });
    expect(plan.stdout).toMatch(/get_data/);
    expect(plan.stdout).toMatch(/missing output/);
  });

  it("a folder made by a job that succeeded carries its marker; a file added inside later does not rerun its consumers", () => {
    const dir = project("mkdir -p {output}; echo whole > {output}/a.txt");
    expect(corral(["flow"], { cwd: dir }).code).toBe(0);
    expect(existsSync(path.join(dir, "data/raw/.corral_timestamp"))).toBe(true);
    // A file added inside the folder, newer than everything (the folder's own mtime moves too).
    writeFileSync(path.join(dir, "data/raw/notes.txt"), "later\n");
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(dir, "data/raw"), later, later);
    const plan = corral(["flow", "-n"], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/nothing to do|up to date/i);
  });
});
