/**
 * `corral flow` rebuild decisions through the real CLI, as Snakemake makes them: each job appends
 * its key to `ran.log`, so every test counts what ran. Touch without change, edit, deleted
 * intermediate, project container change, temp, protected and ancient files.
 */
import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corral, lines, makeProject, sweepDirs } from "../helpers.js";

/** A job's shell: log its key to ran.log, then do `body`. */
const logged = (key: string, body: string): string => JSON.stringify(`echo ${key} >> ran.log; ${body}`);

/** raw.txt -> data/{s}.txt -> model/{s}.pt -> res/{s}.txt -> report.txt, s in a, b: 7 jobs. */
const chain = (extra = ""): string => `rules:
  prep:
    input: raw.txt
    output: data/{s}.txt
    shell: ${logged("prep_{wildcards.s}", "cat {input} > {output}")}
  train:
    input: data/{s}.txt
    output: model/{s}.pt
    shell: ${logged("train_{wildcards.s}", "cat {input} > {output}")}
  evaluate:
    input: model/{s}.pt
    output: res/{s}.txt
    shell: ${logged("evaluate_{wildcards.s}", "cat {input} > {output}")}
  report:
    input: [res/a.txt, res/b.txt]
    output: report.txt
    shell: ${logged("report", "cat {input} > {output}")}
targets: [report.txt]
${extra}`;

/** Set a file's mtime `s` seconds ahead, newer than every output built before. */
const touchAhead = (file: string, s = 10): void => {
  const t = new Date(Date.now() + s * 1000);
  utimesSync(file, t, t);
};

/** Run `corral flow` and return the jobs it ran (lines added to ran.log). */
function flow(dir: string, args: string[] = []): { ran: string[]; code: number | null; stderr: string } {
  const before = lines(path.join(dir, "ran.log")).length;
  const r = corral(["flow", ...args], { cwd: dir });
  return { ran: lines(path.join(dir, "ran.log")).slice(before).sort(), code: r.code, stderr: r.stderr };
}

describe("corral flow: rebuild decisions as Snakemake makes them", () => {
  it("a touch without change reruns nothing; an edit reruns its consumers", () => {
    const dir = makeProject({ "corral.yaml": chain(), "raw.txt": "v1\n" });
    expect(flow(dir).ran).toHaveLength(7);
    touchAhead(path.join(dir, "raw.txt"));
    const touched = flow(dir);
    expect(touched.code).toBe(0);
    expect(touched.ran).toEqual([]);
    // Still nothing the second time (the checksum is asked again, the answer is the same).
    expect(flow(dir).ran).toEqual([]);
    writeFileSync(path.join(dir, "raw.txt"), "v2\n");
    touchAhead(path.join(dir, "raw.txt"), 20);
    const edited = flow(dir);
    expect(edited.code).toBe(0);
    expect(edited.ran).toHaveLength(7);
    expect(readFileSync(path.join(dir, "report.txt"), "utf8")).toBe("v2\nv2\n");
    // An intermediate touched without change: nothing either.
    touchAhead(path.join(dir, "model/a.pt"), 30);
    expect(flow(dir).ran).toEqual([]);
  });

  it("a deleted intermediate whose consumers are up to date is not rebuilt; -R of its rule rebuilds it and downstream", () => {
    const dir = makeProject({ "corral.yaml": chain(), "raw.txt": "v1\n" });
    expect(flow(dir).ran).toHaveLength(7);
    rmSync(path.join(dir, "model/a.pt"));
    const dry = corral(["flow", "-n"], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("train[s=a]  output 'model/a.pt' missing but not needed: its consumers are up to date");
    expect(dry.stdout).toMatch(/total\s+7\s+0/);
    const none = flow(dir);
    expect(none.code).toBe(0);
    expect(none.ran).toEqual([]);
    expect(existsSync(path.join(dir, "model/a.pt"))).toBe(false);
    // Named as a target, it is rebuilt (and nothing else: its consumers are up to date by content).
    expect(flow(dir, ["model/a.pt"]).ran).toEqual(["train_a"]);
    rmSync(path.join(dir, "model/a.pt"));
    const forced = flow(dir, ["-R", "train"]);
    expect(forced.code).toBe(0);
    expect(forced.ran).toEqual(["evaluate_a", "evaluate_b", "report", "train_a", "train_b"]);
    expect(existsSync(path.join(dir, "model/a.pt"))).toBe(true);
  });

  it("a change of the project's container reruns every rule (its wrap template, no real container)", () => {
    const dir = makeProject({ "corral.yaml": chain(), "raw.txt": "v1\n" });
    expect(flow(dir).ran).toHaveLength(7);
    const wrapped = (w: string): string => chain(`container:\n  runtime: docker\n  wrap: ${JSON.stringify(w)}\n`);
    writeFileSync(path.join(dir, "corral.yaml"), wrapped("env WRAP=1 {command}"));
    const added = flow(dir);
    expect(added.code).toBe(0);
    expect(added.ran).toHaveLength(7);
    expect(flow(dir).ran).toEqual([]);
    writeFileSync(path.join(dir, "corral.yaml"), wrapped("env WRAP=2 {command}"));
    expect(flow(dir).ran).toHaveLength(7);
    expect(flow(dir, ["-n"]).code).toBe(0);
  });

  it("deletes temp outputs once their consumers succeeded, and does not rebuild them next time", () => {
    const dir = makeProject({
      "corral.yaml": `rules:
  unpack:
    output: {temp: "work/{s}.tmp"}
    shell: ${logged("unpack_{wildcards.s}", "echo {wildcards.s} > {output}")}
  use:
    input: work/{s}.tmp
    output: out/{s}.txt
    shell: ${logged("use_{wildcards.s}", "cat {input} > {output}")}
  keep:
    output: [kept.txt, {temp: kept.tmp}]
    shell: ${logged("keep", "echo k > kept.txt; echo k > kept.tmp")}
targets: [out/a.txt, out/b.txt, kept.tmp]
`,
    });
    const first = flow(dir);
    expect(first.code).toBe(0);
    expect(first.ran).toEqual(["keep", "unpack_a", "unpack_b", "use_a", "use_b"]);
    expect(readFileSync(path.join(dir, "out/a.txt"), "utf8")).toBe("a\n");
    expect(existsSync(path.join(dir, "work/a.tmp"))).toBe(false);
    expect(existsSync(path.join(dir, "work/b.tmp"))).toBe(false);
    // A temp file a target names stays.
    expect(existsSync(path.join(dir, "kept.tmp"))).toBe(true);
    expect(flow(dir).ran).toEqual([]);
  });

  it("refuses to overwrite a protected output (exit 2, nothing runs) and makes it read-only", () => {
    const dir = makeProject({
      "corral.yaml": `rules:
  final:
    input: raw.txt
    output: {protected: final.txt}
    shell: ${logged("final", "cat {input} > {output}")}
targets: [final.txt]
`,
      "raw.txt": "v1\n",
    });
    expect(flow(dir).ran).toEqual(["final"]);
    expect(statSync(path.join(dir, "final.txt")).mode & 0o222).toBe(0);
    expect(flow(dir).ran).toEqual([]);
    const sweeps = sweepDirs(dir).length;
    const forced = flow(dir, ["-F"]);
    expect(forced.code).toBe(2);
    expect(forced.stderr).toContain("Write-protected output files for rule 'final'");
    expect(forced.stderr).toContain("'final.txt'");
    expect(forced.ran).toEqual([]);
    expect(sweepDirs(dir)).toHaveLength(sweeps);
    expect(readFileSync(path.join(dir, "final.txt"), "utf8")).toBe("v1\n");
  });

  it("ignores the mtime and the rebuild of an ancient input", () => {
    const dir = makeProject({
      "corral.yaml": `rules:
  fetch:
    output: db.txt
    shell: ${logged("fetch", "echo db > {output}")}
  use:
    input: [{ancient: db.txt}, {ancient: raw.txt}]
    output: out.txt
    shell: ${logged("use", "cat {input} > {output}")}
targets: [out.txt]
`,
      "raw.txt": "v1\n",
    });
    expect(flow(dir).ran).toEqual(["fetch", "use"]);
    touchAhead(path.join(dir, "raw.txt"));
    expect(flow(dir).ran).toEqual([]);
    writeFileSync(path.join(dir, "raw.txt"), "v2\n");
    touchAhead(path.join(dir, "raw.txt"), 20);
    expect(flow(dir).ran).toEqual([]);
    // Its producer forced: it rebuilds, its consumer does not rerun.
    expect(flow(dir, ["-R", "fetch"]).ran).toEqual(["fetch"]);
  });

  it("rejects a marker where it does not belong, naming the file and key (exit 2)", () => {
    const dir = makeProject({
      "corral.yaml": `rules:
  a:
    input: {temp: raw.txt}
    output: out.txt
    shell: cat {input} > {output}
targets: [out.txt]
`,
      "raw.txt": "v1\n",
    });
    const r = corral(["flow"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("rules.a.input");
    expect(r.stderr).toMatch(/'temp' marks outputs only/);
  });
});
