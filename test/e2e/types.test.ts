/**
 * Issue 12, points 4 and 5 through the real CLI: floats stay floats in config.yaml, in what
 * CORRAL_CONFIG points at (read by PyYAML, as a Python app reads it) and in argv; a date-like string
 * stays a string; results print numbers at full precision; an argparse script runs unchanged when
 * the command interpolates the config. Expected values: Hydra 1.3.2 tests/test_overrides_parser.py
 * (`1.0`, `10e0` are floats, spelled with Python's repr) and PyYAML's own reading.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, sweepDirs } from "../helpers.js";

const hasPyYaml = spawnSync("python3", ["-c", "import yaml"]).status === 0;

/** A Python app that prints its argv and what PyYAML reads from $CORRAL_CONFIG, as JSON. */
const SHOW_PY = `import json, os, sys, yaml
cfg = yaml.safe_load(open(os.environ["CORRAL_CONFIG"]))
print(json.dumps({"argv": sys.argv[1:], "types": {k: type(v).__name__ for k, v in cfg.items()}, "cfg": {k: repr(v) for k, v in cfg.items()}}))
`;

const outOf = (sweep: string, i: number): { argv: string[]; types: Record<string, string>; cfg: Record<string, string> } =>
  JSON.parse(readFileSync(path.join(sweep, String(i), "stdout.log"), "utf8").trim().split("\n").pop()!) as never;

describe.skipIf(!hasPyYaml)("floats stay floats, dates stay strings (python3 with PyYAML)", () => {
  it("a sweep over lr=0.0,1.0,1e-3 keeps 0.0/1.0/0.001 in config.yaml, CORRAL_CONFIG and argv", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 show.py\nconfig_dir: conf\n",
      "conf/config.yaml": 'lr: 0.5\nwd: 0.0\nsteps: 1e3\nepochs: 3\nday: "2024-01-01"\nanswer: "yes"\n',
      "show.py": SHOW_PY,
    });
    const r = corral(["run", "-m", "lr=0.0,1.0,1e-3", "+scale=float(2)"], { cwd: dir });
    expect(r.stderr).toContain("3 succeeded");
    expect(r.code).toBe(0);
    const [sweep] = sweepDirs(dir);
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.runs.map((x) => x.overrides)).toEqual([
      ["lr=0.0", "+scale=2.0"],
      ["lr=1.0", "+scale=2.0"],
      ["lr=0.001", "+scale=2.0"],
    ]);
    expect(readFileSync(path.join(sweep!, "1", "config.yaml"), "utf8")).toBe('lr: 1.0\nwd: 0.0\nsteps: 1000.0\nepochs: 3\nday: "2024-01-01"\nanswer: "yes"\nscale: 2.0\n');
    const runs = [0, 1, 2].map((i) => outOf(sweep!, i));
    expect(runs.map((o) => o.argv)).toEqual([
      ["lr=0.0", "+scale=2.0"],
      ["lr=1.0", "+scale=2.0"],
      ["lr=0.001", "+scale=2.0"],
    ]);
    expect(runs.map((o) => o.cfg.lr)).toEqual(["0.0", "1.0", "0.001"]);
    expect(runs[1]!.types).toEqual({ lr: "float", wd: "float", steps: "float", epochs: "int", day: "str", answer: "str", scale: "float" });
    expect(runs[1]!.cfg).toMatchObject({ wd: "0.0", steps: "1000.0", day: "'2024-01-01'", answer: "'yes'", scale: "2.0" });

    // `corral config`: YAML and JSON, both read back as Python reads them.
    const y = corral(["config", "lr=1.0"], { cwd: dir });
    expect(y.code).toBe(0);
    expect(y.stdout).toBe('lr: 1.0\nwd: 0.0\nsteps: 1000.0\nepochs: 3\nday: "2024-01-01"\nanswer: "yes"\n');
    const j = corral(["config", "lr=1.0", "--json"], { cwd: dir });
    const py = spawnSync("python3", ["-c", "import json,sys; d=json.load(sys.stdin); print(repr(d['lr']), repr(d['steps']), repr(d['epochs']), repr(d['day']))"], { input: j.stdout, encoding: "utf8" });
    expect(py.stdout.trim()).toBe("1.0 1000.0 3 '2024-01-01'");
    // `corral run --dry-run --json`: each run's config, floats kept.
    const d = corral(["run", "-m", "lr=0.0,1.0", "--dry-run", "--json"], { cwd: dir });
    expect(d.code, d.stderr).toBe(0);
    const dpy = spawnSync("python3", ["-c", "import json,sys; print(' '.join(repr(r['config']['lr']) + '/' + repr(r['config']['steps']) for r in json.load(sys.stdin)))"], { input: d.stdout, encoding: "utf8" });
    expect(dpy.stdout.trim()).toBe("0.0/1000.0 1.0/1000.0");
  });

  it("results print metrics at full precision (table and CSV)", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 m.py\nconfig: {lr: 0.1}\n",
      "m.py": 'import json, os\nopen(os.path.join(os.environ["CORRAL_RUN_DIR"], "metrics.jsonl"), "a").write(json.dumps({"t": 1796131535.22, "acc": 0.123456789}) + "\\n")\n',
    });
    expect(corral(["run"], { cwd: dir }).code).toBe(0);
    const csv = corral(["results", "--format", "csv"], { cwd: dir });
    expect(csv.stdout).toBe("run,state,t,acc\n0,succeeded,1796131535.22,0.123456789\n");
    const table = corral(["results"], { cwd: dir });
    expect(table.stdout).toContain("1796131535.22");
    expect(table.stdout).toContain("0.123456789");
  });

  it("results print a float parameter as a float (lr=1.0, not 1), in the table, CSV and JSON", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 m.py\nconfig: {lr: 0.1, n: 1}\n",
      "m.py": 'import json, os\nopen(os.path.join(os.environ["CORRAL_RUN_DIR"], "metrics.jsonl"), "a").write(json.dumps({"acc": 0.5}) + "\\n")\n',
    });
    expect(corral(["run", "-m", "lr=1.0,2.5", "n=3,4"], { cwd: dir }).code).toBe(0);
    expect(corral(["results", "--format", "csv"], { cwd: dir }).stdout).toBe("run,lr,n,state,acc\n0,1.0,3,succeeded,0.5\n1,1.0,4,succeeded,0.5\n2,2.5,3,succeeded,0.5\n3,2.5,4,succeeded,0.5\n");
    expect(corral(["results"], { cwd: dir }).stdout).toMatch(/^0 +1\.0 +3 +succeeded/m);
    const j = corral(["results", "--format", "json"], { cwd: dir });
    const py = spawnSync("python3", ["-c", "import json,sys; print([(repr(r['lr']), repr(r['n'])) for r in json.load(sys.stdin)])"], { input: j.stdout, encoding: "utf8" });
    expect(py.stdout.trim()).toBe("[('1.0', '3'), ('1.0', '4'), ('2.5', '3'), ('2.5', '4')]");
  });
});

describe("a command that interpolates the run's config (an argparse script, unchanged)", () => {
  const MAIN_PY = `import argparse, json, sys
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--id", required=True)
p.add_argument("--name", required=True)
a = p.parse_args()
print(json.dumps({"argv": sys.argv[1:], "lr": repr(a.lr), "id": a.id, "name": a.name}))
`;

  it("python3 main.py --lr ${lr} --id=${id}: the run's values, no key=value appended", () => {
    const dir = makeProject({
      "corral.yaml": "command: python3 main.py --lr ${lr} --id=${id} --name ${name}\nconfig:\n  lr: 0.1\n  id: run-a\n  name: first try\n",
      "main.py": MAIN_PY,
    });
    const r = corral(["run", "-m", "lr=0.0,1.0,1e-3", "id=x7"], { cwd: dir });
    expect(r.stderr).toContain("3 succeeded");
    expect(r.code).toBe(0);
    const [sweep] = sweepDirs(dir);
    const outs = [0, 1, 2].map((i) => JSON.parse(readFileSync(path.join(sweep!, String(i), "stdout.log"), "utf8").trim()) as { argv: string[]; lr: string; id: string; name: string });
    expect(outs.map((o) => o.argv)).toEqual([
      ["--lr", "0.0", "--id=x7", "--name", "first try"],
      ["--lr", "1.0", "--id=x7", "--name", "first try"],
      ["--lr", "0.001", "--id=x7", "--name", "first try"],
    ]);
    expect(outs.map((o) => o.lr)).toEqual(["0.0", "1.0", "0.001"]);
    // Recorded: the overrides (for tables and resume) and the filled-in argv.
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.runs[2]!.overrides).toEqual(["lr=0.001", "id=x7"]);
    expect(m.runs[2]!.argv).toEqual(["python3", "main.py", "--lr", "0.001", "--id=x7", "--name", "first try"]);
    const dry = corral(["run", "-m", "lr=0.0,1.0", "--dry-run"], { cwd: dir });
    expect(dry.stdout).toContain("python3 main.py --lr 1.0 --id=run-a --name 'first try'");
  });

  it("an unknown key is exit 2 naming the file, line and key, before anything starts", () => {
    const dir = makeProject({ "corral.yaml": "# a comment\ncommand: python3 main.py --id=${idd}\nconfig: {id: 1}\n", "main.py": MAIN_PY });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("corral.yaml:2:1: command: no key 'idd' in the run's config");
    expect(r.stderr).toContain("did you mean 'id'?");
    expect(sweepDirs(dir)).toEqual([]);
  });
});
