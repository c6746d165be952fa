import { describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { buildDag } from "../../src/plan/dag.js";
import type { Dag, RuleSpec } from "../../src/plan/dag.js";
import { renderDag } from "../../src/plan/dagrender.js";
import { decideJobs, formatSummary, jobHashes, summarize } from "../../src/plan/uptodate.js";
import type { BuildRecord, BuildState, Decision } from "../../src/plan/uptodate.js";

const rules = (): RuleSpec[] => [
  { name: "get", input: "raw.csv", output: "data/{ds}.csv", shell: "get {wildcards.ds} > {output}" },
  {
    name: "train",
    input: "data/{ds}.csv",
    output: "m/{ds}.pt",
    params: { lr: 0.1 },
    shell: "train --lr {params.lr} {input} {output}",
  },
  { name: "report", input: ["m/a.pt", "m/b.pt"], output: "report.md", shell: "report {input} > {output}" },
];

/** A world where every file exists with the given mtimes and every output has a fresh record. */
class World implements BuildState {
  mtime = new Map<string, number>();
  recs = new Map<string, BuildRecord>();
  inc = new Set<string>();
  constructor(readonly dag: Dag) {
    this.mtime.set("raw.csv", 1);
    for (const j of dag.jobs) {
      for (const o of j.outputs) {
        this.mtime.set(o, 10 + j.id);
        this.recs.set(o, { ...jobHashes(j), jobKey: j.key });
      }
    }
  }
  sizes: ((p: string) => number) | undefined;
  checksum?: (p: string) => string | undefined;
  stat = (p: string): { mtimeMs: number; size?: number } | undefined => {
    const m = this.mtime.get(p);
    if (m === undefined) return undefined;
    return this.sizes ? { mtimeMs: m, size: this.sizes(p) } : { mtimeMs: m };
  };
  records = (o: string): BuildRecord | undefined => this.recs.get(o);
  incomplete = (o: string): boolean => this.inc.has(o);
}

const setup = (r: RuleSpec[] = rules()): { dag: Dag; w: World } => {
  const dag = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
  return { dag, w: new World(dag) };
};
const byKey = (dag: Dag, ds: Decision[]): Record<string, string> =>
  Object.fromEntries(dag.jobs.map((j) => [j.key, ds[j.id]!.run ? ds[j.id]!.reason : "-"]));

describe("decideJobs", () => {
  it("runs nothing when all outputs are present, newer and recorded", () => {
    const { dag, w } = setup();
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(ds.every((d) => !d.run && d.reason === "up to date")).toBe(true);
    expect(ds.length).toBe(5);
  });

  it("runs a target job with a missing output, and what it needs that is missing", () => {
    const { dag, w } = setup();
    w.mtime.delete("report.md");
    w.mtime.delete("m/a.pt");
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(byKey(dag, ds)).toEqual({
      "get[ds=a]": "-",
      "train[ds=a]": "missing output",
      "get[ds=b]": "-",
      "train[ds=b]": "-",
      report: "missing output",
    });
    expect(ds[dag.byOutput.get("report.md")!]!.detail).toBe("'report.md'");
    expect(ds[dag.byOutput.get("m/a.pt")!]!.detail).toBe("'m/a.pt', needed by report");
  });

  it("does not rebuild a missing intermediate whose consumers are up to date (unless forced or targeted)", () => {
    const { dag, w } = setup();
    w.mtime.delete("m/a.pt");
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(ds.some((d) => d.run)).toBe(false);
    expect(ds[dag.byOutput.get("m/a.pt")!]!).toEqual({ run: false, reason: "up to date", detail: "output 'm/a.pt' missing but not needed: its consumers are up to date" });
    // -R train: its jobs and everything downstream
    expect(byKey(dag, decideJobs(dag, w, { forcerun: ["train"], rerunIncomplete: false }))).toEqual({
      "get[ds=a]": "-",
      "train[ds=a]": "forced",
      "get[ds=b]": "-",
      "train[ds=b]": "forced",
      report: "input will be rebuilt",
    });
    // -F: everything
    expect(decideJobs(dag, w, { forceall: true, rerunIncomplete: false }).every((d) => d.run && d.reason === "forced")).toBe(true);
    // the file named as a target
    const d2 = buildDag({ rules: rules(), targets: ["report.md", "m/a.pt"], exists: (p) => p === "raw.csv" });
    expect(byKey(d2, decideJobs(d2, w, { rerunIncomplete: false }))).toMatchObject({ "train[ds=a]": "missing output", report: "input will be rebuilt" });
    // a consumer that runs for its own reason needs it
    const r = rules();
    r[2]!.shell = "report -v {input} > {output}";
    const d3 = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(byKey(d3, decideJobs(d3, w, { rerunIncomplete: false }))).toEqual({
      "get[ds=a]": "-",
      "train[ds=a]": "missing output",
      "get[ds=b]": "-",
      "train[ds=b]": "-",
      report: "command changed",
    });
  });

  it("reaches past a missing intermediate: an edited source reruns its producer by the consumers' output time", () => {
    const { dag, w } = setup();
    w.mtime.delete("data/a.csv");
    w.mtime.set("raw.csv", 1000);
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(byKey(dag, ds)).toMatchObject({ "get[ds=a]": "output older than input", "train[ds=a]": "input will be rebuilt", report: "input will be rebuilt" });
    expect(ds[0]!.detail).toBe("'raw.csv' is newer than 'm/a.pt'");
  });

  it("runs everything when nothing exists", () => {
    const { dag } = setup();
    const ds = decideJobs(dag, { stat: () => undefined, records: () => undefined, incomplete: () => false }, { rerunIncomplete: false });
    expect(ds.map((d) => d.reason)).toEqual(dag.jobs.map(() => "missing output"));
  });

  it("runs a job whose output is older than an input", () => {
    const { dag, w } = setup();
    w.mtime.set("raw.csv", 1000);
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(byKey(dag, ds)).toMatchObject({ "get[ds=a]": "output older than input", "train[ds=a]": "input will be rebuilt", report: "input will be rebuilt" });
    expect(ds[0]!.detail).toBe("'raw.csv' is newer than 'data/a.csv'");
    // equal mtimes are up to date
    w.mtime.set("raw.csv", 10);
    expect(decideJobs(dag, w, { rerunIncomplete: false })[0]!.run).toBe(false);
  });

  it("notices changed params, command and rule from the build records", () => {
    const r = rules();
    const { dag, w } = setup(r);
    r[1]!.params = { lr: 0.2 };
    const d2 = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(byKey(d2, decideJobs(d2, w, { rerunIncomplete: false }))).toMatchObject({
      "train[ds=a]": "command changed", // {params.lr} is in the command, which is checked first
      report: "input will be rebuilt",
    });
    const r3 = rules();
    r3[1]!.params = { lr: 0.1, unused: true };
    const d3 = buildDag({ rules: r3, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(byKey(d3, decideJobs(d3, w, { rerunIncomplete: false }))["train[ds=a]"]).toBe("params changed");
    const r4 = rules();
    r4[1]!.container = "docker://pytorch:2";
    const d4 = buildDag({ rules: r4, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(byKey(d4, decideJobs(d4, w, { rerunIncomplete: false }))["train[ds=a]"]).toBe("container changed");
    const r5 = rules();
    r5[2]!.shell = "report --verbose {input} > {output}";
    const d5 = buildDag({ rules: r5, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(byKey(d5, decideJobs(d5, w, { rerunIncomplete: false }))).toMatchObject({ "train[ds=a]": "-", report: "command changed" });
    // an output made by another job counts as a rule change
    w.recs.set("m/a.pt", { ...w.recs.get("m/a.pt")!, jobKey: "old_train[ds=a]" });
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(ds[dag.byOutput.get("m/a.pt")!]).toEqual({ run: true, reason: "rule changed", detail: "'m/a.pt' was made by old_train[ds=a]" });
    void dag;
  });

  it("judges outputs without a record by mtime only", () => {
    const { dag, w } = setup();
    w.recs.clear();
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
  });

  it("refuses incomplete outputs without --rerun-incomplete, reruns them with it", () => {
    const { dag, w } = setup();
    w.inc.add("m/b.pt");
    let e: unknown;
    try {
      decideJobs(dag, w, { rerunIncomplete: false });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(CorralError);
    expect((e as CorralError).message).toMatch(/Incomplete files .*'m\/b.pt'/);
    expect((e as CorralError).hint).toMatch(/--rerun-incomplete/);
    const ds = decideJobs(dag, w, { rerunIncomplete: true });
    expect(byKey(dag, ds)).toMatchObject({ "train[ds=b]": "incomplete output", report: "input will be rebuilt", "train[ds=a]": "-" });
    // a job that runs anyway (its consumer runs) needs no flag
    w.mtime.set("data/b.csv", 1000);
    expect(decideJobs(dag, w, { rerunIncomplete: false })[dag.byOutput.get("m/b.pt")!]!.reason).toBe("output older than input");
    // a missing output marked incomplete is just missing
    w.mtime.delete("m/b.pt");
    w.mtime.set("data/b.csv", 11);
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
  });

  it("forces a rule's jobs and their consumers", () => {
    const { dag, w } = setup();
    const ds = decideJobs(dag, w, { forcerun: ["get"], rerunIncomplete: false });
    expect(byKey(dag, ds)).toEqual({
      "get[ds=a]": "forced",
      "train[ds=a]": "input will be rebuilt",
      "get[ds=b]": "forced",
      "train[ds=b]": "input will be rebuilt",
      report: "input will be rebuilt",
    });
    expect(() => decideJobs(dag, w, { forcerun: ["trian"], rerunIncomplete: false })).toThrow(/no rule named 'trian'/);
  });

  it("stops at --until: runs that rule and its ancestors only", () => {
    const { dag, w } = setup();
    w.mtime.clear();
    const ds = decideJobs(dag, w, { until: "train", rerunIncomplete: false });
    expect(byKey(dag, ds)).toEqual({
      "get[ds=a]": "missing output",
      "train[ds=a]": "missing output",
      "get[ds=b]": "missing output",
      "train[ds=b]": "missing output",
      report: "-",
    });
    expect(ds[dag.byOutput.get("report.md")!]!.reason).toBe("skipped (--until)");
    expect(() => decideJobs(dag, w, { until: "nope", rerunIncomplete: false })).toThrow(CorralError);
  });

  it("runs an output-less aggregator only when its inputs are rebuilt", () => {
    const r: RuleSpec[] = [...rules(), { name: "all", input: "report.md", output: [] }, { name: "hello", input: [], output: [], shell: "echo hi" }];
    const dag = buildDag({ rules: r, targets: ["all", "hello"], exists: (p) => p === "raw.csv" });
    const w = new World(dag);
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(byKey(dag, ds)).toMatchObject({ all: "-", hello: "no outputs" });
    w.mtime.delete("report.md");
    expect(byKey(dag, decideJobs(dag, w, { rerunIncomplete: false }))).toMatchObject({ all: "input will be rebuilt" });
  });

  it("hashes stably", () => {
    const { dag } = setup();
    const a = jobHashes(dag.jobs[1]!);
    const again = setup().dag;
    expect(jobHashes(again.jobs[1]!)).toEqual(a);
    expect(jobHashes(dag.jobs[3]!).commandHash).not.toBe(a.commandHash); // other wildcard, other command
    expect(jobHashes(dag.jobs[3]!).paramsHash).toBe(a.paramsHash);
  });
});

describe("decideJobs: each rebuild trigger", () => {
  /** A World whose records carry input stamps with checksums, and whose files have contents. */
  const stamped = (r: RuleSpec[] = rules()): { dag: Dag; w: World; content: Map<string, string>; asked: string[] } => {
    const { dag, w } = setup(r);
    const content = new Map<string, string>([["raw.csv", "raw"]]);
    for (const j of dag.jobs) for (const o of j.outputs) content.set(o, `of ${j.key}`);
    const asked: string[] = [];
    w.checksum = (p: string): string | undefined => {
      asked.push(p);
      return content.has(p) ? `sha:${content.get(p)}` : undefined;
    };
    w.sizes = (p: string): number => (content.get(p) ?? "").length;
    for (const j of dag.jobs) {
      const inputs = Object.fromEntries(j.inputs.map((i) => [i, { mtimeMs: w.mtime.get(i)!, size: content.get(i)!.length, sha256: `sha:${content.get(i)}` }]));
      for (const o of j.outputs) w.recs.set(o, { ...jobHashes(j), jobKey: j.key, inputs });
    }
    return { dag, w, content, asked };
  };
  const decide = (dag: Dag, w: BuildState, extra: Partial<Parameters<typeof decideJobs>[2]> = {}): Record<string, string> =>
    byKey(dag, decideJobs(dag, w, { rerunIncomplete: false, ...extra }));

  it("mtime + checksum: a newer input with the recorded content reruns nothing; changed content reruns", () => {
    const { dag, w, content, asked } = stamped();
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
    expect(asked).toEqual([]); // nothing newer: nothing hashed
    w.mtime.set("raw.csv", 1000);
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
    expect(asked).toEqual(["raw.csv", "raw.csv"]); // asked once per job reading it (the caller caches per path)
    content.set("raw.csv", "raw"); // same length, other content
    content.set("raw.csv", "RAW");
    const ds = decideJobs(dag, w, { rerunIncomplete: false });
    expect(byKey(dag, ds)).toEqual({ "get[ds=a]": "output older than input", "train[ds=a]": "input will be rebuilt", "get[ds=b]": "output older than input", "train[ds=b]": "input will be rebuilt", report: "input will be rebuilt" });
    expect(ds[0]!.detail).toBe("'raw.csv' is newer than 'data/a.csv' and its content changed");
    // a size change needs no hash
    content.set("raw.csv", "raw, longer");
    asked.length = 0;
    expect(decideJobs(dag, w, { rerunIncomplete: false })[0]!.detail).toBe("'raw.csv' is newer than 'data/a.csv' and its size changed");
    expect(asked).toEqual([]);
  });

  it("mtime alone for inputs without a recorded checksum (old records, folders) or without a checksum function", () => {
    const { dag, w } = stamped();
    for (const [o, r] of w.recs) w.recs.set(o, { ...r, inputs: { "raw.csv": { mtimeMs: 1, size: 3 } } });
    w.mtime.set("raw.csv", 1000);
    expect(decide(dag, w)["get[ds=a]"]).toBe("output older than input");
    const s2 = stamped();
    s2.w.mtime.set("raw.csv", 1000);
    delete s2.w.checksum;
    expect(decide(s2.dag, s2.w)["get[ds=a]"]).toBe("output older than input");
  });

  it("params, command, code and container changes rerun, each with its reason", () => {
    const { w } = stamped();
    const variant = (f: (r: RuleSpec[]) => void): Record<string, string> => {
      const r = rules();
      f(r);
      const d = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
      return decide(d, w);
    };
    expect(variant((r) => (r[1]!.params = { lr: 0.1, extra: 1 }))["train[ds=a]"]).toBe("params changed");
    expect(variant((r) => (r[1]!.shell = "train2 --lr {params.lr} {input} {output}"))["train[ds=a]"]).toBe("command changed");
    expect(variant((r) => (r[1]!.container = { runtime: "docker", wrap: "env A=1 {command}" }))["train[ds=a]"]).toBe("container changed");
    // code: no code recorded (a YAML rule, or an old record): not compared
    expect(variant((r) => (r[1]!.code = "({ wildcards }) => 1"))["train[ds=a]"]).toBe("-");
    const r = rules();
    r[1]!.code = "({ wildcards }) => 1";
    const d = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    for (const j of d.jobs) for (const o of j.outputs) w.recs.set(o, { ...w.recs.get(o)!, ...jobHashes(j) });
    expect(decide(d, w)["train[ds=a]"]).toBe("-");
    r[1]!.code = "({ wildcards }) => 2";
    const d2 = buildDag({ rules: r.map((x) => ({ ...x })), targets: ["report.md"], exists: (p) => p === "raw.csv" });
    expect(decide(d2, w)).toMatchObject({ "train[ds=a]": "code changed", report: "input will be rebuilt" });
  });

  it("records without the newer fields trigger nothing; a legacy rule hash with the rule's own or no container matches", () => {
    const r = rules();
    r[1]!.container = { runtime: "docker", image: "pytorch" }; // the effective container (project's or own)
    const { dag, w } = setup(r);
    for (const j of dag.jobs) {
      const h = jobHashes(j);
      for (const o of j.outputs) {
        // As records were written before containerHash/codeHash/inputs existed.
        const legacy = j.rule === "train" && j.key.endsWith("a]") ? jobHashes({ ...j, spec: { ...j.spec, container: undefined } }).ruleHash : undefined;
        w.recs.set(o, { ruleHash: legacy ?? h.ruleHash, paramsHash: h.paramsHash, commandHash: h.commandHash, jobKey: j.key });
      }
    }
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
  });

  it("a changed input list reruns ('input changed')", () => {
    const quiet = (): RuleSpec[] => {
      const r = rules();
      r[2]!.shell = "report > {output}"; // a command that does not name its inputs
      return r;
    };
    const { w } = stamped(quiet());
    const r = quiet();
    r[2]!.input = ["m/a.pt", "m/b.pt", "m/c.pt"];
    const d = buildDag({ rules: r, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    const c = d.jobs.find((j) => j.key === "train[ds=c]")!;
    w.mtime.set("m/c.pt", 5);
    w.mtime.set("data/c.csv", 4);
    w.recs.set("m/c.pt", { ...jobHashes(c), jobKey: c.key });
    const ds = decideJobs(d, w, { rerunIncomplete: false });
    expect(byKey(d, ds).report).toBe("input changed");
    expect(ds[d.byOutput.get("report.md")!]!.detail).toBe("'m/c.pt' added");
    const r2 = quiet();
    r2[2]!.input = ["m/a.pt"];
    const d2 = buildDag({ rules: r2, targets: ["report.md"], exists: (p) => p === "raw.csv" });
    const ds2 = decideJobs(d2, w, { rerunIncomplete: false });
    expect(ds2[d2.byOutput.get("report.md")!]).toEqual({ run: true, reason: "input changed", detail: "'m/b.pt' removed" });
  });

  it("ancient inputs: their mtime never makes a job stale, their rebuild does not propagate", () => {
    const r = rules();
    r[1]!.input = { ancient: "data/{ds}.csv" };
    const { dag, w } = setup(r);
    expect(dag.jobs[1]!.ancient).toEqual(["data/a.csv"]);
    w.mtime.set("data/a.csv", 1000);
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
    expect(decide(dag, w, { forcerun: ["get"] })).toEqual({ "get[ds=a]": "forced", "train[ds=a]": "-", "get[ds=b]": "forced", "train[ds=b]": "-", report: "-" });
    // a missing ancient input is rebuilt when its consumer runs, and then it does propagate
    w.mtime.delete("data/a.csv");
    expect(decide(dag, w, { forcerun: ["get"] })["train[ds=a]"]).toBe("input will be rebuilt");
  });

  it("a missing temp output whose consumers are up to date is not rebuilt", () => {
    const r = rules();
    r[0]!.output = { temp: "data/{ds}.csv" };
    const { dag, w } = setup(r);
    expect(dag.jobs[0]!.temp).toEqual(["data/a.csv"]);
    w.mtime.delete("data/a.csv");
    w.mtime.delete("data/b.csv");
    expect(decideJobs(dag, w, { rerunIncomplete: false }).some((d) => d.run)).toBe(false);
    // marking a file temp or protected changes no hash: nothing reruns for it
    expect(jobHashes(dag.jobs[0]!)).toEqual(jobHashes(setup().dag.jobs[0]!));
  });

  it("keeps --until and --rerun-incomplete with the two-way search", () => {
    const { dag, w } = setup();
    w.mtime.delete("m/a.pt");
    expect(decide(dag, w, { until: "train" })).toEqual({ "get[ds=a]": "-", "train[ds=a]": "missing output", "get[ds=b]": "-", "train[ds=b]": "-", report: "-" });
    w.inc.add("data/b.csv");
    expect(() => decideJobs(dag, w, { rerunIncomplete: false })).toThrow(/Incomplete files .*data\/b.csv/);
    expect(decide(dag, w, { rerunIncomplete: true })).toMatchObject({ "get[ds=b]": "incomplete output", "train[ds=b]": "input will be rebuilt", report: "input will be rebuilt", "train[ds=a]": "missing output" });
  });
});

describe("summarize", () => {
  it("counts jobs and reasons per rule", () => {
    const { dag, w } = setup();
    w.mtime.delete("m/a.pt");
    w.mtime.delete("report.md");
    const s = summarize(dag, decideJobs(dag, w, { rerunIncomplete: false }));
    expect(s).toEqual({
      jobs: 5,
      run: 2,
      rules: [
        { rule: "get", jobs: 2, run: 0, reasons: { "up to date": 2 } },
        { rule: "train", jobs: 2, run: 1, reasons: { "missing output": 1, "up to date": 1 } },
        { rule: "report", jobs: 1, run: 1, reasons: { "missing output": 1 } },
      ],
    });
    expect(formatSummary(s).split("\n")).toEqual([
      "rule    jobs  run  reasons",
      "get        2    0  up to date: 2",
      "train      2    1  missing output: 1, up to date: 1",
      "report     1    1  missing output: 1",
      "total      5    2",
    ]);
  });
});

describe("renderDag", () => {
  const { dag, w } = setup();
  w.mtime.delete("m/a.pt");
  w.mtime.delete("report.md");
  const ds = decideJobs(dag, w, { rerunIncomplete: false });

  it("renders dot with one node per job and one edge per dependency", () => {
    const dot = renderDag(dag, ds, "dot");
    expect(dot.startsWith("digraph corral {")).toBe(true);
    expect(dot.match(/^\s+j\d+ \[/gm)!.length).toBe(5);
    expect(dot.match(/->/g)!.length).toBe(4);
    expect(dot).toContain('label="train\\nds=a"');
    // up-to-date jobs are dashed
    expect(dot).toMatch(/j0 \[label="get\\nds=a".*dashed/);
  });

  it("renders mermaid and json", () => {
    const mm = renderDag(dag, ds, "mermaid");
    expect(mm.split("\n")[0]).toBe("flowchart TD");
    expect(mm).toContain("j0 --> j1");
    expect(mm).toMatch(/j1\["train<br\/>ds=a"\]:::run/);
    const js = JSON.parse(renderDag(dag, ds, "json")) as { nodes: Array<{ key: string; run: boolean }>; edges: number[][] };
    expect(js.nodes.length).toBe(5);
    expect(js.nodes.find((n) => n.key === "report")!.run).toBe(true);
    expect(js.edges).toContainEqual([0, 1]);
  });

  it("collapses to a rule graph above maxJobs", () => {
    const dot = renderDag(dag, ds, "dot", { maxJobs: 3 });
    expect(dot.match(/^\s+r\d+ \[/gm)!.length).toBe(3);
    expect(dot).toContain('label="train\\n2 jobs, 1 to run"');
    expect(dot.match(/->/g)!.length).toBe(2);
    const js = JSON.parse(renderDag(dag, ds, "json", { maxJobs: 3 })) as { collapsed: boolean; edges: string[][] };
    expect(js.collapsed).toBe(true);
    expect(js.edges).toEqual([
      ["get", "train"],
      ["train", "report"],
    ]);
  });

  it("escapes hostile labels", () => {
    const r: RuleSpec[] = [{ name: "mk", input: [], output: "o/{n}.txt" }];
    const d = buildDag({ rules: r, targets: ['o/a"]; x-->y.txt'], exists: () => false });
    const dec = decideJobs(d, { stat: () => undefined, records: () => undefined, incomplete: () => false }, { rerunIncomplete: false });
    expect(renderDag(d, dec, "dot")).toContain('n=a\\"]; x-->y');
    expect(renderDag(d, dec, "mermaid")).toContain("n=a#quot;#93;; x--#gt;y");
  });
});
