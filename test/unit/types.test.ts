/**
 * Issue 12, points 4 and 5: floats stay floats (config.yaml, `corral config`, argv), strings YAML
 * would misread are quoted, and a command may interpolate the run's config.
 *
 * Expected values are Hydra's and its libraries', as facts:
 * - facebookresearch/hydra v1.3.2 tests/test_overrides_parser.py: `0.51` -> 0.51, `10e0` -> 10.0
 *   (value:float:exp), `+inf` -> math.inf, `float(10)` -> 10.0 (cast:float(10)), `1` -> 1 (an int);
 *   website/docs/advanced/override_grammar/basic.md: floats `1.0`, `1e-3`, `inf`, `nan` are floats.
 * - Hydra spells a job's float overrides with Python's repr (`lr=1.0`, `lr=0.001`), and OmegaConf
 *   writes YAML through PyYAML, whose float representer gives `1.0`, `1000.0`, `1.0e-05`, `.inf`,
 *   `-.inf`, `.nan`, `-0.0`; Python's json.dumps gives `1.0`, `1e-05`, `Infinity`, `NaN`.
 * - PyYAML (YAML 1.1) reads an unquoted `2024-01-01` as a date, `yes`/`on` as bools, `12:30` as
 *   the int 750 (sexagesimal); YAML 1.2 reads `0o17` as an int.
 */
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandInterpolates, renderCommand } from "../../src/plan/command.js";
import { composeConfig } from "../../src/plan/compose.js";
import { stableStringify } from "../../src/plan/configpath.js";
import { ConfigFloat, pyFloat, yamlFloat } from "../../src/plan/float.js";
import { parseOverrides, toConfigValue } from "../../src/plan/overrides.js";
import { planRuns, type PlanInput } from "../../src/plan/runs.js";
import { configToJson } from "../../src/plan/json.js";
import { configToYaml, floatTags } from "../../src/plan/serialize.js";
import type { ConfigMap, ElementValue } from "../../src/plan/types.js";
import { loadProjectText } from "../../src/project/load.js";
import { thrownCorralError } from "../helpers.js";

const F = (x: number) => new ConfigFloat(x);
const valueOf = (text: string) => toConfigValue(parseOverrides([`x=${text}`])[0]!.value as ElementValue);

const planInput = (over: Partial<PlanInput>): PlanInput => ({
  command: ["python", "app.py"],
  repo: { groups: new Map() },
  primary: { lr: 0.1, n: 1 },
  defaults: [],
  grids: [],
  baseOverrides: [],
  overrides: [],
  multirun: true,
  freeForm: false,
  env: {},
  now: new Date(0),
  sourceFile: "corral.yaml",
  ...over,
});

describe("override values keep their Python type (tests/test_overrides_parser.py)", () => {
  it.each([
    ["1.0", F(1)],
    ["0.0", F(0)],
    ["10e0", F(10)],
    ["1e3", F(1000)],
    ["float(2)", F(2)],
    ["float(10)", F(10)],
    ["-0.0", F(-0)],
    ["0.51", 0.51],
    ["1e-3", 0.001],
    ["+inf", Infinity],
    ["1", 1],
  ])("%s", (text, expected) => {
    const v = valueOf(text);
    expect(v).toEqual(expected);
    if (expected instanceof ConfigFloat) expect(Object.is((v as ConfigFloat).value, expected.value)).toBe(true);
  });

  it("nan is a float", () => {
    expect(Number.isNaN(valueOf("nan"))).toBe(true);
  });

  it("pyFloat boxes exactly the whole floats", () => {
    expect(pyFloat(2)).toEqual(F(2));
    expect(pyFloat(2.5)).toBe(2.5);
    expect(pyFloat(Infinity)).toBe(Infinity);
  });
});

describe("composition and run planning keep floats", () => {
  it("a float override on an int or float key is a float in the composed config", () => {
    const c = composeConfig({ repo: { groups: new Map() }, primary: { lr: 0.1, n: 1 }, overrides: parseOverrides(["lr=1.0", "n=float(2)", "+wd=10e0"]) });
    expect(c.config).toEqual({ lr: F(1), n: F(2), wd: F(10) });
  });

  it("a sweep over lr=0.0,1.0,1e-3: config, argv spelling (Hydra's repr) and hashes", () => {
    const plan = planRuns(planInput({ primary: { lr: 0.1, epochs: 1 }, overrides: ["lr=0.0,1.0,1e-3"] }));
    const runs = [0, 1, 2].map((i) => plan.run(i));
    expect(runs.map((r) => r.overrides)).toEqual([["lr=0.0"], ["lr=1.0"], ["lr=0.001"]]);
    expect(runs.map((r) => r.config.lr)).toEqual([F(0), F(1), 0.001]);
    expect(runs.map((r) => configToYaml(r.config))).toEqual(["lr: 0.0\nepochs: 1\n", "lr: 1.0\nepochs: 1\n", "lr: 0.001\nepochs: 1\n"]);
    // 1.0 and 1 are different configs, so different runs.
    expect(stableStringify({ lr: F(1) })).not.toBe(stableStringify({ lr: 1 }));
    expect(stableStringify({ lr: 0.5 })).toBe('{"lr":0.5}');
  });

  it("project-file grids and conf YAML read 0.0 and 1.0 as floats", () => {
    const p = loadProjectText("command: python app.py\nconfig: {lr: 0.0, n: 3, wd: 1e3}\nsweep: {lr: [0.0, 1.0, 0.5]}\nresources: {cpus: 2.0}\n", "corral.yaml");
    expect(p.config.config).toEqual({ lr: F(0), n: 3, wd: F(1000) });
    // Settings are plain numbers.
    expect(p.config.resources.cpus).toBe(2);
    const plan = planRuns(planInput({ primary: p.config.config, grids: p.config.sweep as unknown[] }));
    expect([0, 1, 2].map((i) => plan.run(i).overrides)).toEqual([["lr=0.0"], ["lr=1.0"], ["lr=0.5"]]);
    expect(plan.run(1).config).toEqual({ lr: F(1), n: 3, wd: F(1000) });
  });

  it("a float spliced into a config string reads as Python's str()", () => {
    const plan = planRuns(planInput({ primary: { lr: 0.1, name: "lr_${lr}" }, overrides: ["lr=1.0"], multirun: false }));
    expect(plan.run(0).config.name).toBe("lr_1.0");
  });
});

describe("writers: PyYAML's and json.dumps's spelling", () => {
  it.each([
    [1, "1"],
    [F(1), "1.0"],
    [F(1000), "1000.0"],
    [1e-5, "1.0e-05"],
    [F(1e16), "1.0e+16"],
    [F(-0), "-0.0"],
    [Infinity, ".inf"],
    [-Infinity, "-.inf"],
    [NaN, ".nan"],
  ])("YAML %s", (v, text) => {
    expect(configToYaml({ x: v })).toBe(`x: ${text}\n`);
  });

  it("yamlFloat adds .0 before an exponent, as PyYAML does", () => {
    expect(yamlFloat(1.5e-7)).toBe("1.5e-07");
    expect(yamlFloat(1e-7)).toBe("1.0e-07");
  });

  it("JSON as Python's json.dumps", () => {
    expect(configToJson({ a: F(1), b: 1e-5, c: Infinity, d: NaN, e: [F(2), 3], f: {} }, 0)).toBe('{"a":1.0,"b":1e-05,"c":Infinity,"d":NaN,"e":[2.0,3],"f":{}}');
    expect(configToJson({ a: 1, s: "x" })).toBe(JSON.stringify({ a: 1, s: "x" }, null, 2));
  });

  it.each(["2024-01-01", "2001-12-14t21:59:43.10-05:00", "yes", "on", "No", "1e3", "0o17", "0x1F", "12:30", "~", "null", "true", "1_000", ".5", "1.0"])(
    "quotes the string %s so that YAML 1.1 and 1.2 readers keep it a string",
    (s) => {
      const text = configToYaml({ s });
      expect(text).not.toBe(`s: ${s}\n`);
      expect(parse(text)).toEqual({ s });
      expect(parse(text, { version: "1.1" })).toEqual({ s });
    },
  );

  it("reads back what it writes (floats included)", () => {
    const cfg: ConfigMap = { lr: F(0), wd: 1e-5, big: F(1e16), day: "2024-01-01", n: 3, l: [F(1), "on"] };
    expect(parse(configToYaml(cfg), { customTags: floatTags })).toEqual(cfg);
  });
});

describe("a command that interpolates the run's config", () => {
  const cfg: ConfigMap = { lr: F(1), id: 7, name: "a b", model: { depth: 18 }, tags: ["x", "y"], on: true, none: null, small: 1e-5 };

  it("fills each placeholder; a whole-word placeholder is one argument", () => {
    const argv = ["python3", "main.py", "--lr", "${lr}", "--id=${id}", "--name", "${name}", "${model.depth}", "--tags=${tags}", "${on}", "${none}", "${small}", "${tags.1}"];
    expect(commandInterpolates(argv)).toBe(true);
    expect(renderCommand(argv, cfg, { file: "corral.yaml" })).toEqual(["python3", "main.py", "--lr", "1.0", "--id=7", "--name", "a b", "18", '--tags=["x","y"]', "true", "null", "1e-05", "y"]);
  });

  it("\\${ is a literal ${; a command without placeholders is not interpolating", () => {
    expect(commandInterpolates(["echo", "\\${lr}", "$HOME"])).toBe(false);
    expect(renderCommand(["echo", "\\${lr}=${lr}"], cfg, { file: "f" })).toEqual(["echo", "${lr}=1.0"]);
  });

  it("an unknown key is E_CONFIG (exit 2) naming the file, line and key", () => {
    const e = thrownCorralError(() => renderCommand(["python", "--id=${idd}"], cfg, { file: "corral.yaml", line: 3, column: 1 }));
    expect(e.code).toBe("E_CONFIG");
    expect(e.exitCode).toBe(2);
    expect(e.location).toEqual({ file: "corral.yaml", line: 3, column: 1, key: "idd" });
    expect(e.message).toBe("command: no key 'idd' in the run's config");
    expect(e.hint).toBe("did you mean 'id'?");
    expect(thrownCorralError(() => renderCommand(["${model.dept}"], cfg, { file: "f" })).hint).toBe("did you mean 'model.depth'?");
    expect(thrownCorralError(() => renderCommand(["sh", "-c", "echo ${HOME}"], cfg, { file: "f" })).hint).toBe("did you mean 'name'?; a shell variable in `sh -c` is written $NAME or \\${NAME}");
  });

  it("a ${...} that is not a config key (a shell's expansion in sh -c) is left as written", () => {
    const argv = ["sh", "-c", 'exec sh "${1#+script=}" "${x:-d}" ${oc.env:HOME} $HOME ${lr', "sh"];
    expect(commandInterpolates(argv)).toBe(false);
    expect(renderCommand(argv, cfg, { file: "f" })).toEqual(argv);
    expect(renderCommand(["sh", "-c", 'echo "${1#x}" ${lr}'], cfg, { file: "f" })).toEqual(["sh", "-c", 'echo "${1#x}" 1.0']);
  });

  it("planRuns: argv is the filled command, no key=value appended; overrides are still recorded", () => {
    const plan = planRuns(planInput({ command: ["python3", "main.py", "--lr", "${lr}", "--n=${n}"], overrides: ["lr=0.0,1.0,1e-3"] }));
    expect([0, 1, 2].map((i) => plan.run(i).argv)).toEqual([
      ["python3", "main.py", "--lr", "0.0", "--n=1"],
      ["python3", "main.py", "--lr", "1.0", "--n=1"],
      ["python3", "main.py", "--lr", "0.001", "--n=1"],
    ]);
    expect(plan.run(1).overrides).toEqual(["lr=1.0"]);
    expect(planRuns(planInput({})).run(0).argv).toBeUndefined();
    const e = thrownCorralError(() => planRuns(planInput({ command: ["python3", "${nope}"], commandSource: { file: "corral.yaml", line: 1, column: 1 } })).run(0));
    expect(e.location).toMatchObject({ file: "corral.yaml", line: 1, key: "nope" });
  });

  it("the docs/configuration.md example gives the runs it describes", () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");
    const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("--lr ${lr}"))!;
    const p = loadProjectText(block, "corral.yaml");
    const plan = planRuns(planInput({ command: p.config.command!, primary: p.config.config, overrides: ["lr=0.0,1.0,1e-3"] }));
    expect(plan.run(0).argv).toEqual(["python3", "main.py", "--lr", "0.0", "--id=7", "--name", "first try"]);
    expect(plan.run(1).argv![3]).toBe("1.0");
    expect(plan.run(2).argv![3]).toBe("0.001");
    expect(doc).toContain('`corral run -m lr=0.0,1.0,1e-3` runs `python3 main.py --lr 0.0 --id=7 --name "first try"`');
  });
});
