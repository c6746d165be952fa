import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CorralError } from "../../src/errors.js";
import { defineConfig } from "../../src/project/define.js";
import { configTimeoutMs, DEFAULT_CONFIG_TIMEOUT_MS, findProjectFile, loadConfigRepo, loadProject, loadProjectText } from "../../src/project/load.js";
import { MAX_NESTING_DEPTH } from "../../src/plan/limits.js";
import { thrownCorralError } from "../helpers.js";
import { DEFAULT_SWEEP_DIR, parseDuration, splitCommand } from "../../src/project/schema.js";
import { locate, packageHeader, parseYamlSource } from "../../src/project/yaml-source.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/projects");

const tmpRoots: string[] = [];
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** A temporary project folder holding `files` (relative path -> content). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-project-"));
  tmpRoots.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** The CorralError that loading this YAML text as `corral.yaml` throws. */
function yamlError(text: string): CorralError {
  try {
    loadProjectText(text, "corral.yaml");
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error("expected the project to be rejected");
}

async function loadError(file: string): Promise<CorralError> {
  try {
    await loadProject(file);
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error("expected the project to be rejected");
}

describe("splitCommand", () => {
  it("splits on whitespace and honours quotes and escapes", () => {
    expect(splitCommand("python train.py")).toEqual(["python", "train.py"]);
    expect(splitCommand("  python   -u\ttrain.py  ")).toEqual(["python", "-u", "train.py"]);
    expect(splitCommand(`echo 'a b' "c d" e\\ f`)).toEqual(["echo", "a b", "c d", "e f"]);
    expect(splitCommand(`echo "say \\"hi\\" \\$HOME \\n"`)).toEqual(["echo", 'say "hi" $HOME \\n']);
    expect(splitCommand(`echo 'it''s' x"y"z`)).toEqual(["echo", "its", "xyz"]);
    expect(splitCommand(`echo '' ""`)).toEqual(["echo", "", ""]);
    expect(splitCommand(`echo 'single \\ stays'`)).toEqual(["echo", "single \\ stays"]);
    expect(splitCommand("python x.py 'a>b' \"c|d\" lr=${oc.env:LR}")).toEqual(["python", "x.py", "a>b", "c|d", "lr=${oc.env:LR}"]);
  });

  it("rejects unterminated quotes and unquoted shell operators", () => {
    expect(() => splitCommand("echo 'oops")).toThrow(/unterminated ' quote/);
    expect(() => splitCommand('echo "oops')).toThrow(/unterminated " quote/);
    expect(() => splitCommand("echo oops\\")).toThrow(/trailing backslash/);
    expect(() => splitCommand("python a.py | tee log")).toThrow(/shell operator '\|'/);
    expect(() => splitCommand("python a.py > log")).toThrow(/shell operator '>'/);
    expect(() => splitCommand("a && b")).toThrow(/shell operator '&'/);
  });
});

describe("parseDuration", () => {
  it("reads numbers as seconds, unit strings, and SLURM clock forms as SLURM does", () => {
    expect(parseDuration(90)).toBe(90);
    expect(parseDuration(0.5)).toBe(0.5);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("10m")).toBe(600);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1d12h")).toBe(129600);
    expect(parseDuration("2d")).toBe(172800);
    expect(parseDuration("1.5h")).toBe(5400);
    expect(parseDuration("01:30:00")).toBe(5400);
    // SLURM: a bare number and M:S are minutes-based.
    expect(parseDuration("90")).toBe(5400);
    expect(parseDuration("05:30")).toBe(330);
    expect(parseDuration("1-02:00:00")).toBe(93600);
    expect(parseDuration("1-02")).toBe(93600);
  });
  it("rejects nonsense", () => {
    for (const bad of ["", "abc", "1x", "-5", "1:2:3:4", "h", "m5", "1h 30m"]) expect(parseDuration(bad)).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
  });
});

describe("findProjectFile", () => {
  it("finds the first project file in order", () => {
    expect(findProjectFile(path.join(FIXTURES, "yaml-basic"))).toBe(path.join(FIXTURES, "yaml-basic", "corral.yaml"));
    expect(findProjectFile(path.join(FIXTURES, "ts-basic"))).toBe(path.join(FIXTURES, "ts-basic", "corral.config.ts"));
    const dir = project({ "corral.config.js": "export default {}", "corral.yml": "{}" });
    expect(findProjectFile(dir)).toBe(path.join(dir, "corral.yml"));
    expect(findProjectFile(project({ "other.yaml": "" }))).toBeUndefined();
  });
});

describe("loading valid projects", () => {
  it("loads a full YAML project with defaults applied and values normalised", async () => {
    const p = await loadProject(path.join(FIXTURES, "yaml-basic", "corral.yaml"));
    const c = p.config;
    expect(p.dir).toBe(path.join(FIXTURES, "yaml-basic"));
    expect(c.name).toBe("demo");
    expect(c.command).toEqual(["python", "train.py", "--flag", "two words"]);
    expect(c.config).toEqual({ lr: 0.1, model: { depth: 4 } });
    expect(c.sweep).toEqual([{ lr: [0.1, 0.01], seed: "range(3)", zip: { a: [1, 2], b: ["x", "y"] } }]);
    expect(c.sweep_dir).toBe(DEFAULT_SWEEP_DIR);
    expect(c.resources).toEqual({ cpus: 2, gpus: 0.5, mem: "4G", timeout: 5400 });
    expect(c.launcher).toMatchObject({ type: "slurm", partition: "gpu", time: 3600, parallel: 4, per_job: 16, kill_grace: 10 });
    expect(c.launcher.setup).toEqual(["module load cuda"]);
    expect(c.launcher.env).toEqual({ OMP_PROC_BIND: "true" });
    expect(c.profiles.laptop).toEqual({
      launcher: { type: "local", jobs: 2 },
      overrides: ["trainer.fast_dev_run=true"],
      when: { hostname: ["*.local"] },
    });
    expect(c.rules.train).toMatchObject({
      input: "data/{dataset}.csv",
      output: { model: "models/{dataset}/{seed}.pt" },
      resources: { gpus: 1, timeout: 600 },
      wildcard_constraints: { seed: "\\d+" },
      retries: 1,
    });
    expect(c.targets).toEqual(["results/summary.csv", { expand: "models/{dataset}/{seed}.pt", dataset: ["mnist", "cifar"], seed: [0, 1] }]);
    expect(c.env).toEqual({ WANDB_MODE: "offline" });
    expect(c.defaults).toEqual([]);
    expect(p.repo.groups.size).toBe(0);
  });

  it("fills defaults for an empty project file", () => {
    const dir = project({ "corral.yaml": "# nothing yet\n" });
    const p = loadProjectText("# nothing yet\n", path.join(dir, "corral.yaml"));
    expect(p.config).toEqual({
      name: path.basename(dir),
      config: {},
      defaults: [],
      sweep: [],
      sweep_dir: DEFAULT_SWEEP_DIR,
      resources: {},
      launcher: { type: "local", kill_grace: 10 },
      profiles: {},
      paths: {},
      rules: {},
      targets: [],
      env: {},
    });
  });

  it("normalises a list of grids, argv commands, durations and memory sizes", () => {
    const c = loadProjectText(
      [
        "command: [python, -c, 'print(1)']",
        "sweep:",
        "  - {model: [a, b]}",
        "  - {model: c, lr: 0.5}",
        "resources: {mem: 512, timeout: '00:10:00'}",
        "launcher: {kill_grace: 30s, stagger: 1.5, gpus_available: [0, 1, GPU-abc]}",
        "defaults: [_self_, {db: mysql}, {override server: big}, {optional cache: null}]",
      ].join("\n"),
      "corral.yaml",
    ).config;
    expect(c.command).toEqual(["python", "-c", "print(1)"]);
    expect(c.sweep).toEqual([{ model: ["a", "b"] }, { model: "c", lr: 0.5 }]);
    expect(c.resources).toEqual({ mem: "512M", timeout: 600 });
    expect(c.launcher).toMatchObject({ kill_grace: 30, stagger: 1.5, gpus_available: ["0", "1", "GPU-abc"] });
    expect(c.defaults).toEqual([
      { kind: "self" },
      { kind: "group", group: "db", option: "mysql" },
      { kind: "group", group: "server", option: "big", override: true },
      { kind: "group", group: "cache", option: null, optional: true },
    ]);
  });

  it("loads corral.config.ts through defineConfig", async () => {
    const p = await loadProject(path.join(FIXTURES, "ts-basic", "corral.config.ts"));
    expect(p.config.name).toBe("ts-demo");
    expect(p.config.command).toEqual(["python", "train.py"]);
    expect(p.config.sweep).toEqual([{ seed: [0, 1, 2], lr: "0.1,0.01" }]);
    expect(p.config.launcher).toEqual({ type: "local", kill_grace: 10, jobs: 2 });
    expect(p.config.resources.timeout).toBe(90);
  });

  it("loads corral.config.js", async () => {
    const p = await loadProject(path.join(FIXTURES, "js-basic", "corral.config.js"));
    expect(p.config.name).toBe("js-basic");
    expect(p.config.launcher).toEqual({ type: "slurm", partition: "cpu", kill_grace: 10 });
  });

  it("validates a .mjs default-export function's result, naming the file", async () => {
    const e = await loadError(path.join(FIXTURES, "mjs-basic", "corral.config.mjs"));
    expect(e.code).toBe("E_CONFIG");
    expect(e.message).toBe("launcher.jobs must be a positive integer (got 0)");
    expect(e.location).toMatchObject({ file: path.join(FIXTURES, "mjs-basic", "corral.config.mjs"), key: "launcher.jobs" });
    expect(e.location?.line).toBeUndefined();
  });

  it("reports a TS file that does not compile, and one without a default export", async () => {
    const dir = project({ "corral.config.ts": "export default {{ command: ;\n", "b/corral.config.mjs": "export const x = 1;\n" });
    const e1 = await loadError(path.join(dir, "corral.config.ts"));
    expect(e1.message).toMatch(/^cannot load the project file: /);
    expect(e1.location?.file).toBe(path.join(dir, "corral.config.ts"));
    const e2 = await loadError(path.join(dir, "b", "corral.config.mjs"));
    expect(e2.message).toBe("the project file has no default export");
  });

  it("defineConfig is the identity", () => {
    const c = { command: "x" };
    expect(defineConfig(c)).toBe(c);
  });
});

describe("errors name file, line and key", () => {
  it("YAML syntax errors: one line with file:line:column", () => {
    const e = yamlError("command: python\nsweep:\n  lr: [0.1, 0.01\nname: x\n");
    expect(e.code).toBe("E_CONFIG");
    expect(e.location).toMatchObject({ file: "corral.yaml", line: 4, column: 1 });
    expect(e.format()).toMatch(/^corral\.yaml:4:1: invalid YAML: Flow sequence .* end with a \]$/);
    expect(e.format()).not.toContain("\n");
    expect(yamlError("a: 'x\n").format()).toBe("corral.yaml:2:1: invalid YAML: Missing closing 'quote");
  });

  it("duplicate keys are an error at the second occurrence", () => {
    const e = yamlError("launcher:\n  type: local\n  jobs: 2\n  jobs: 3\n");
    expect(e.format()).toBe("corral.yaml:4:3: invalid YAML: duplicate key 'jobs'");
  });

  it("rejects several documents and unresolved aliases", () => {
    expect(yamlError("name: a\n---\nname: b\n").message).toMatch(/more than one YAML document/);
    expect(yamlError("a: *nope\n").message).toMatch(/^invalid YAML: .*alias/i);
  });

  it("unknown top-level key with did-you-mean, at its line", () => {
    const e = yamlError("command: python train.py\n\nlancher:\n  type: slurm\n");
    expect(e.message).toBe("unknown key 'lancher' (did you mean 'launcher'?)");
    expect(e.location).toMatchObject({ line: 3, column: 1, key: "lancher" });
    expect(e.format()).toBe("corral.yaml:3:1: unknown key 'lancher' (did you mean 'launcher'?)");
  });

  it("unknown nested keys name their parent and suggest within it", () => {
    const e = yamlError("launcher:\n  type: slurm\n  partiton: gpu\n");
    expect(e.format()).toBe("corral.yaml:3:3: unknown key 'launcher.partiton' (did you mean 'launcher.partition'?)");
    const r = yamlError("rules:\n  train:\n    output: a.txt\n    inputs: b.txt\n");
    expect(r.format()).toBe("corral.yaml:4:5: unknown key 'rules.train.inputs' (did you mean 'rules.train.input'?)");
    const far = yamlError("xyzzy_plugh: 1\n");
    expect(far.message).toBe("unknown key 'xyzzy_plugh'");
  });

  it("wrong types point at the key and say what was expected", () => {
    const e = yamlError("command: python train.py\nlauncher:\n  type: local\n  jobs: 2\n  gpus: -1\n");
    expect(e.format()).toBe("corral.yaml:5:3: launcher.gpus must be a non-negative integer (got -1)");
    expect(yamlError("resources:\n  gpus: two\n").format()).toBe("corral.yaml:2:3: resources.gpus must be a non-negative number (got 'two')");
    expect(yamlError("resources:\n  gpus: -0.5\n").format()).toBe("corral.yaml:2:3: resources.gpus must be a non-negative number (got -0.5)");
    expect(yamlError("launcher:\n  jobs: 1.5\n").message).toBe("launcher.jobs must be a positive integer (got 1.5)");
    expect(yamlError("launcher: {type: slrum}\n").message).toBe("launcher.type must be one of 'local', 'slurm' (did you mean 'slurm'?) (got 'slrum')");
    expect(yamlError("resources:\n  timeout: soon\n").message).toMatch(/^resources\.timeout must be a positive number of seconds or a duration .* \(got .soon.\)$/);
    expect(yamlError("resources:\n  mem: lots\n").message).toMatch(/^resources\.mem must be a memory size/);
    expect(yamlError("resources:\n  timeout: 0\n").message).toMatch(/^resources\.timeout must be a positive number of seconds/);
    expect(yamlError("sweep:\n  lr: []\n").format()).toBe("corral.yaml:2:3: sweep.lr must not be an empty list (it would sweep over nothing) (got a list)");
    expect(yamlError("env: [A, B]\n").message).toBe("env must be a map of variable names to values (got a list)");
    expect(yamlError("command: 'python a.py | tee x'\n").message).toMatch(/^command is not a valid command: contains the shell operator '\|'/);
    expect(yamlError("command: ''\n").message).toBe("command must not be empty (got '')");
    expect(yamlError("- a\n- b\n").message).toMatch(/^the project must be a map of settings/);
  });

  it("nested keys in rules, profiles and sweeps point at the right line", () => {
    const rules = yamlError(
      ["rules:", "  train:", "    output: m.pt", "    resources:", "      cpus: 2", "      gpus: many"].join("\n"),
    );
    expect(rules.format()).toBe("corral.yaml:6:7: rules.train.resources.gpus must be a non-negative number (got 'many')");
    const prof = yamlError(["profiles:", "  cluster:", "    launcher:", "      type: slurm", "      parallel: 0"].join("\n"));
    expect(prof.format()).toBe("corral.yaml:5:7: profiles.cluster.launcher.parallel must be a positive integer (got 0)");
    const profKey = yamlError(["profiles:", "  cluster:", "    launchr: {}"].join("\n"));
    expect(profKey.format()).toBe("corral.yaml:3:5: unknown key 'profiles.cluster.launchr' (did you mean 'profiles.cluster.launcher'?)");
    const input = yamlError(["rules:", "  a:", "    output: x", "    input:", "      - ok.txt", "      - 3"].join("\n"));
    expect(input.format()).toBe("corral.yaml:6:9: rules.a.input[1] must be a path pattern, {ancient: pattern}, an {expand: pattern, key: values} map, or a function of the job (got 3)");
    const target = yamlError(["targets:", "  - a.txt", "  - expand: 5"].join("\n"));
    expect(target.format()).toBe("corral.yaml:3:5: targets[1].expand must be a path pattern with {wildcards} (got 5)");
  });

  it("a missing required key points at its parent", () => {
    const e = yamlError(["name: x", "rules:", "  train:", "    shell: echo hi"].join("\n"));
    expect(e.format()).toBe("corral.yaml:3:3: rules.train.output is required");
  });

  it("bad regular expressions in wildcard_constraints", () => {
    const e = yamlError(["rules:", "  t:", "    output: '{a}.txt'", "    wildcard_constraints:", "      a: '[0-9'"].join("\n"));
    expect(e.format()).toMatch(/^corral\.yaml:5:7: rules\.t\.wildcard_constraints\.a is not a valid regular expression: .*class/);
  });

  it("zip lists of unequal length", () => {
    const e = yamlError(["sweep:", "  zip:", "    a: [1, 2, 3]", "    b: [x, y]"].join("\n"));
    expect(e.format()).toBe("corral.yaml:4:5: sweep.zip.b has 2 values but zip.a has 3; zipped lists must have the same length");
    const inList = yamlError(["sweep:", "  - {a: [1]}", "  - zip: {a: [1], b: [1, 2]}"].join("\n"));
    expect(inList.location).toMatchObject({ line: 3, key: "sweep[1].zip.b" });
  });

  it("other semantic checks: shell and run together, container without image, bad defaults entry", () => {
    expect(yamlError("rules:\n  a:\n    output: x\n    shell: echo\n    run: [echo]\n").format()).toBe(
      "corral.yaml:2:3: rules.a has both 'shell' and 'run'; give one",
    );
    expect(yamlError("container:\n  runtime: docker\n").format()).toBe("corral.yaml:1:1: container needs an 'image' (or a 'wrap' template)");
    expect(yamlError("container: {runtime: docker, image: x, wrap: 'run it'}\n").message).toBe(
      "container.wrap must contain the placeholder {command} (got 'run it')",
    );
    expect(yamlError("defaults:\n  - _self_\n  - {a: x, b: y}\n").format()).toBe(
      "corral.yaml:3:5: defaults[1] must be a map with exactly one key, such as {db: mysql}",
    );
    expect(yamlError("rules:\n  1bad:\n    output: x\n").message).toMatch(/^rules\.1bad is not a valid rule name/);
  });

  it("reports the first problem in file order and counts the rest", () => {
    const e = yamlError(["resources: {gpus: x}", "lancher: {}", "launcher: {jobs: 0}"].join("\n"));
    expect(e.format()).toBe("corral.yaml:1:13: resources.gpus must be a non-negative number (got 'x') (and 2 more problems)");
    const one = yamlError(["name: ok", "launcher: {jobs: 0, debug: 3}"].join("\n"));
    expect(one.message).toMatch(/\(and 1 more problem\)$/);
  });
});

describe("config groups", () => {
  it("reads nested groups, @package headers, group defaults, and config.yaml as primary", async () => {
    const p = await loadProject(path.join(FIXTURES, "groups", "corral.yaml"));
    expect(p.configDir).toBe(path.join(FIXTURES, "groups", "conf"));
    expect(p.primaryFile).toBe(path.join(FIXTURES, "groups", "conf", "config.yaml"));
    expect(p.config.config).toEqual({ debug: false });
    expect(p.config.defaults).toEqual([
      { kind: "group", group: "db", option: "mysql" },
      { kind: "group", group: "server/db", option: "pg", optional: true },
      { kind: "self" },
    ]);
    expect([...p.repo.groups.keys()].sort()).toEqual(["db", "server/db"]);
    const db = p.repo.groups.get("db")!;
    expect([...db.keys()].sort()).toEqual(["mysql", "postgres"]);
    expect(db.get("mysql")).toEqual({ config: { driver: "mysql", port: 3306 }, file: path.join(FIXTURES, "groups", "conf", "db", "mysql.yaml") });
    expect(db.get("postgres")?.config).toEqual({ driver: "postgres", port: 5432 });
    expect(db.get("postgres")?.defaults).toEqual([{ kind: "group", group: "/server/db", option: "pg", override: true }]);
    const pg = p.repo.groups.get("server/db")!.get("pg")!;
    expect(pg.package).toBe("_global_");
    expect(pg.config).toEqual({ pool: 8 });
  });

  it("inline config wins over config.yaml, and the project's defaults stay", () => {
    const dir = project({
      "corral.yaml": "config_dir: conf\nconfig: {a: 1}\ndefaults: [{db: x}]\n",
      "conf/config.yaml": "b: 2\n",
      "conf/db/x.yaml": "x: 1\n",
    });
    const p = loadProjectText("config_dir: conf\nconfig: {a: 1}\ndefaults: [{db: x}]\n", path.join(dir, "corral.yaml"));
    expect(p.config.config).toEqual({ a: 1 });
    expect(p.primaryFile).toBeUndefined();
    expect(p.config.defaults).toEqual([{ kind: "group", group: "db", option: "x" }]);
  });

  it("errors in group files name the group file and line", async () => {
    const e = await loadError(path.join(FIXTURES, "group-errors", "corral.yaml"));
    expect(e.location?.file).toBe(path.join(FIXTURES, "group-errors", "conf", "db", "bad.yaml"));
    expect(e.location?.line).toBe(4);
    expect(e.message).toMatch(/^invalid YAML: /);

    const dir = project({ "conf/db/a.yaml": "x: 1\ndefaults:\n  - 5\n", "conf/model/m.yaml": "- 1\n" });
    expect(() => loadConfigRepo(path.join(dir, "conf"), "conf")).toThrow(CorralError);
    const bad = (() => {
      try {
        loadConfigRepo(path.join(dir, "conf"), "conf");
      } catch (err) {
        return err as CorralError;
      }
      return undefined;
    })();
    expect(bad?.format()).toBe("conf/db/a.yaml:3:5: defaults[0] must be a config name or a single-key map such as {db: mysql} (got 5)");
  });

  it("a group file must be a map, and one option must not have two files", () => {
    const d1 = project({ "conf/model/m.yaml": "- 1\n" });
    expect(() => loadConfigRepo(path.join(d1, "conf"), "conf")).toThrow(/conf\/model\/m\.yaml|must hold a map/);
    const d2 = project({ "conf/db/a.yaml": "x: 1\n", "conf/db/a.yml": "x: 2\n" });
    expect(() => loadConfigRepo(path.join(d2, "conf"))).toThrow(/two files for option 'a'/);
  });

  it("a missing config_dir is an error at the config_dir line", () => {
    const dir = project({});
    const text = "name: x\nconfig_dir: nope\n";
    try {
      loadProjectText(text, path.join(dir, "corral.yaml"));
      expect.unreachable();
    } catch (e) {
      expect((e as CorralError).location).toMatchObject({ line: 2, key: "config_dir" });
      expect((e as CorralError).message).toMatch(/^config_dir 'nope' is not a folder/);
    }
  });

  it("defaults in both the project file and config.yaml are refused", () => {
    const dir = project({ "conf/config.yaml": "defaults: [_self_]\n" });
    expect(() => loadProjectText("config_dir: conf\ndefaults: [_self_]\n", path.join(dir, "corral.yaml"))).toThrow(
      /defaults is set both here and in .*config\.yaml; keep one/,
    );
  });
});

describe("yaml-source", () => {
  it("locates keys, list items and the nearest existing parent", () => {
    const src = parseYamlSource("a:\n  b:\n    - x\n    - {c: 1}\nd: 2\n", "f.yaml");
    expect(locate(src, ["a", "b"])).toEqual({ line: 2, column: 3 });
    expect(locate(src, ["a", "b", 1, "c"])).toEqual({ line: 4, column: 8 });
    expect(locate(src, ["a", "b", 0])).toEqual({ line: 3, column: 7 });
    expect(locate(src, ["a", "zzz", "q"])).toEqual({ line: 1, column: 1 });
    expect(locate(src, ["d"])).toEqual({ line: 5, column: 1 });
    expect(locate(src, [])).toEqual({ line: 1, column: 1 });
  });

  it("reads the @package header only from the leading comment block", () => {
    expect(packageHeader("# @package _global_\na: 1\n")).toBe("_global_");
    expect(packageHeader("\n# comment\n#@package db.primary\na: 1\n")).toBe("db.primary");
    expect(packageHeader("a: 1\n# @package late\n")).toBeUndefined();
  });
});

describe("x- keys (the user's own, for YAML anchors)", () => {
  it("top-level x- keys are read for their anchors and left out; other unknown keys still fail", () => {
    const p = loadProjectText("x-gpu: &gpu {gpus: 1, cpus: 4}\ncommand: echo\nresources: *gpu\n", "corral.yaml");
    expect(p.config.resources).toMatchObject({ gpus: 1, cpus: 4 });
    expect(p.config).not.toHaveProperty("x-gpu");
    expect(() => loadProjectText("y-gpu: 1\ncommand: echo\n", "corral.yaml")).toThrow(/unknown key 'y-gpu'/);
  });
});

describe("docs/configuration.md", () => {
  it("every YAML example validates (the reference cannot drift from the schema)", () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(15);
    for (const text of blocks) {
      if (text.includes("config_dir:")) continue; // needs a folder of groups on disk
      if (/^# (?!corral\.ya?ml)\S+\.ya?ml\n/.test(text)) continue; // a conf/ file, not a project file (test/e2e/docs.test.ts loads it in its project)
      expect(() => loadProjectText(text, "corral.yaml"), text).not.toThrow();
    }
  });
});

describe("input limits (issue 11)", () => {
  it.each([
    ["flow maps", "command: echo\nconfig:\n  a: " + "{a: ".repeat(5000) + "1" + "}".repeat(5000) + "\n"],
    ["block lists", "command: echo\nconfig:\n  a:\n" + Array.from({ length: 5000 }, (_, i) => " ".repeat(4 + 2 * i) + "-\n").join("")],
    ["flow lists just past the limit", "command: echo\nconfig:\n  a: " + "[".repeat(MAX_NESTING_DEPTH) + "]".repeat(MAX_NESTING_DEPTH) + "\n"],
  ])("refuses YAML nested too deep (%s) with one E_CONFIG error", (_what, text) => {
    const e = yamlError(text);
    expect(e.code).toBe("E_CONFIG");
    expect(e.location?.file).toBe("corral.yaml");
    expect(e.message).toMatch(new RegExp(`^the YAML nests more than ${MAX_NESTING_DEPTH} levels`));
    expect(e.format().length).toBeLessThan(300);
  });

  it("names the line and key of YAML that parses but nests too deep", () => {
    const e = yamlError("command: echo\nconfig:\n  x: 1\n  a: " + "{b: ".repeat(400) + "1" + "}".repeat(400) + "\n");
    expect(e.location?.line).toBe(4);
    expect(e.location?.key).toMatch(/^config\.a\.b\.b\.\.\.b\.b\.b\.b \(\d+ levels\)$/);
  });

  it("accepts YAML nested up to the limit", () => {
    const depth = MAX_NESTING_DEPTH - 3; // the document, `config` and `a` are levels too
    expect(() => loadProjectText("command: echo\nconfig:\n  a: " + "{b: ".repeat(depth) + "1" + "}".repeat(depth) + "\n", "corral.yaml")).not.toThrow();
  });

  it.each([
    ["corral.config.js", 'export default () => { throw new Error("boom"); };\n', /^the config function passed to defineConfig failed: boom$/],
    ["corral.config.mjs", 'export default async () => { throw new Error("async boom"); };\n', /^the config function passed to defineConfig failed: async boom$/],
    ["corral.config.js", 'export default Promise.reject(new Error("rejected"));\n', /^the config promise passed to defineConfig failed: rejected$/],
    ["corral.config.ts", `import { defineConfig } from ${JSON.stringify(path.resolve(import.meta.dirname, "../../src/project/define.js"))};\nexport default defineConfig(() => { throw new Error("ts boom"); });\n`, /failed: ts boom$/],
  ])("a throwing factory or rejected promise in %s is one E_CONFIG error naming the file", async (name, text, message) => {
    const dir = project({ [name]: text });
    const e = await loadError(path.join(dir, name));
    expect(e.code).toBe("E_CONFIG");
    expect(e.exitCode).toBe(2);
    expect(e.location?.file).toBe(path.join(dir, name));
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(/defineConfig/);
  });

  it.each([
    ["a promise that never settles", "export default new Promise(() => {});\n"],
    ["an async factory that never settles", "export default async () => { await new Promise(() => {}); return {}; };\n"],
    ["a module whose top-level await never settles", "await new Promise(() => {});\nexport default {};\n"],
  ])("%s times out with an E_CONFIG error naming the file", async (_what, text) => {
    const dir = project({ "corral.config.mjs": text });
    const file = path.join(dir, "corral.config.mjs");
    const t0 = Date.now();
    const e = await loadProject(file, { timeoutMs: 300 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(CorralError);
    expect((e as CorralError).location?.file).toBe(file);
    expect((e as CorralError).message).toMatch(/did not settle within 0\.3 s/);
    expect((e as CorralError).hint).toMatch(/CORRAL_CONFIG_TIMEOUT_MS/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("reads the timeout from CORRAL_CONFIG_TIMEOUT_MS, else 30 s", () => {
    expect(configTimeoutMs({ CORRAL_CONFIG_TIMEOUT_MS: "1500" })).toBe(1500);
    expect(configTimeoutMs({})).toBe(DEFAULT_CONFIG_TIMEOUT_MS);
    expect(configTimeoutMs({ CORRAL_CONFIG_TIMEOUT_MS: "soon" })).toBe(30_000);
  });

  it("refuses a JS config that contains itself", async () => {
    const dir = project({ "corral.config.js": "const c = { command: 'echo', config: {} };\nc.config.self = c;\nexport default c;\n" });
    const e = await loadError(path.join(dir, "corral.config.js"));
    expect(e.message).toMatch(/nests more than \d+ levels deep \(or refers to itself\) at 'config\.self\.config\.self\.\.\./);
  });

  it("refuses a symlink loop in config_dir, naming the looping folder", () => {
    const dir = project({ "conf/db/a.yaml": "x: 1\n", "conf/model/m.yaml": "y: 1\n" });
    symlinkSync("..", path.join(dir, "conf/db/loop"));
    symlinkSync("../db", path.join(dir, "conf/db/loop2"));
    const e = thrownCorralError(() => loadConfigRepo(path.join(dir, "conf"), "conf"));
    expect(e.code).toBe("E_CONFIG");
    expect(e.location?.file).toBe(path.join("conf", "db", "loop"));
    expect(e.message).toBe("config_dir has a symlink loop: this folder is conf again");
  });

  it("still follows a symlink to a sibling folder (not a loop)", () => {
    const dir = project({ "conf/db/a.yaml": "x: 1\n" });
    symlinkSync("db", path.join(dir, "conf/db2"));
    const repo = loadConfigRepo(path.join(dir, "conf"), "conf");
    expect([...repo.groups.keys()].sort()).toEqual(["db", "db2"]);
  });
});
