import { describe, expect, it } from "vitest";
import { composeConfig, configOrigins, isConfigGroup, originOf, parseDefaultsList, sweepGroupOptions } from "../../src/plan/compose.js";
import type { ConfigRepo, DefaultsEntry, GroupOption } from "../../src/plan/compose.js";
import { ConfigFloat } from "../../src/plan/float.js";
import { parseOverrides } from "../../src/plan/overrides.js";
import { deepMerge, deletePath, getPath, hasPath, setPath, stableStringify } from "../../src/plan/configpath.js";
import type { ConfigMap, ElementValue, Override } from "../../src/plan/types.js";
import { thrownCorralError } from "../helpers.js";

// Hand-built overrides, so these tests do not depend on the override parser.
const change = (key: string, value: ElementValue, pkg?: string): Override => ({
  type: "change",
  key,
  value,
  isSweep: false,
  input: `${key}${pkg ? `@${pkg}` : ""}=${JSON.stringify(value)}`,
  ...(pkg ? { pkg } : {}),
});
const add = (key: string, value: ElementValue, pkg?: string): Override => ({
  ...change(key, value, pkg),
  type: "add",
  input: `+${key}${pkg ? `@${pkg}` : ""}=${JSON.stringify(value)}`,
});
const forceAdd = (key: string, value: ElementValue): Override => ({ ...change(key, value), type: "force_add", input: `++${key}=${JSON.stringify(value)}` });
const del = (key: string, value?: ElementValue): Override => ({
  type: "delete",
  key,
  isSweep: false,
  input: `~${key}${value === undefined ? "" : `=${JSON.stringify(value)}`}`,
  ...(value === undefined ? {} : { value }),
});
const dict = (o: Record<string, ElementValue>): ElementValue => ({ kind: "dict", entries: Object.entries(o) });

/** A repo from `{ "group/option": config | [config, defaults, package?] }`. */
function repo(files: Record<string, ConfigMap | [ConfigMap, DefaultsEntry[] | undefined, string?]>): ConfigRepo {
  const groups = new Map<string, Map<string, GroupOption>>();
  for (const [path, spec] of Object.entries(files)) {
    const idx = path.lastIndexOf("/");
    const group = idx === -1 ? "" : path.slice(0, idx);
    const name = path.slice(idx + 1);
    const [config, defaults, pkg] = Array.isArray(spec) ? spec : [spec, undefined, undefined];
    const opt: GroupOption = { config, file: `conf/${path}.yaml` };
    if (defaults) opt.defaults = defaults;
    if (pkg !== undefined) opt.package = pkg;
    if (!groups.has(group)) groups.set(group, new Map());
    groups.get(group)!.set(name, opt);
  }
  return { groups };
}

const g = (group: string, option: string | string[] | null, extra: Partial<DefaultsEntry & { kind: "group" }> = {}): DefaultsEntry => ({
  kind: "group",
  group,
  option,
  ...extra,
});
const SELF: DefaultsEntry = { kind: "self" };

const thrown = thrownCorralError;

const dbRepo = repo({
  "db/mysql": { driver: "mysql", port: 3306, opts: { pool: 5, ssl: false } },
  "db/postgresql": { driver: "postgresql", port: 5432, timeout: 10 },
  "model/resnet": { depth: 50, lr: 0.1 },
  "model/vit": { patch: 16, lr: 0.001 },
});

describe("composeConfig: defaults list", () => {
  it("places group options at their group's package and records choices", () => {
    const r = composeConfig({ repo: dbRepo, primary: { seed: 1 }, defaults: [g("db", "mysql"), g("model", "resnet")], overrides: [] });
    expect(r.config).toEqual({ db: { driver: "mysql", port: 3306, opts: { pool: 5, ssl: false } }, model: { depth: 50, lr: 0.1 }, seed: 1 });
    expect(r.choices).toEqual({ db: "mysql", model: "resnet" });
  });

  it("merges the primary config last when _self_ is absent (Hydra 1.1+), first when _self_ leads", () => {
    const primary = { model: { lr: 0.5 } };
    const last = composeConfig({ repo: dbRepo, primary, defaults: [g("model", "resnet")], overrides: [] });
    expect(last.config.model).toEqual({ depth: 50, lr: 0.5 });
    const first = composeConfig({ repo: dbRepo, primary, defaults: [SELF, g("model", "resnet")], overrides: [] });
    expect(first.config.model).toEqual({ depth: 50, lr: 0.1 });
    // Key order follows composition order too.
    expect(Object.keys(first.config)).toEqual(["model"]);
  });

  it("reads a defaults key left in the primary config and drops it from the output", () => {
    const r = composeConfig({ repo: dbRepo, primary: { defaults: ["_self_", { db: "postgresql" }], x: 1 }, overrides: [] });
    expect(r.config).toEqual({ x: 1, db: { driver: "postgresql", port: 5432, timeout: 10 } });
  });

  it("expands nested defaults relative to the containing group (Hydra's server/apache example)", () => {
    const rp = repo({
      "server/apache": [{ name: "apache" }, [g("db", "mysql")]],
      "server/db/mysql": { name: "mysql" },
      "server/db/sqlite": { name: "sqlite" },
    });
    const r = composeConfig({ repo: rp, primary: { debug: false }, defaults: [{ kind: "config", path: "server/apache" }], overrides: [] });
    expect(r.config).toEqual({ server: { db: { name: "mysql" }, name: "apache" }, debug: false });
    expect(r.choices).toEqual({ "server/db": "mysql" });
    const r2 = composeConfig({ repo: rp, primary: {}, defaults: [{ kind: "config", path: "server/apache" }], overrides: [change("server/db", "sqlite")] });
    expect(r2.config.server).toEqual({ db: { name: "sqlite" }, name: "apache" });
  });

  it("applies a nested config's _self_ position to its own defaults", () => {
    const rp = repo({
      "db/mysql": [{ engine: { name: "mine" }, v: 1 }, [g("engine", "innodb"), SELF]],
      "db/engine/innodb": { name: "innodb", fast: true },
      "db/other": [{ engine: { name: "mine" } }, [SELF, g("engine", "innodb")]],
    });
    const selfLast = composeConfig({ repo: rp, defaults: [g("db", "mysql")], overrides: [] });
    expect(selfLast.config).toEqual({ db: { engine: { name: "mine", fast: true }, v: 1 } });
    const selfFirst = composeConfig({ repo: rp, defaults: [g("db", "other")], overrides: [] });
    expect(selfFirst.config).toEqual({ db: { engine: { name: "innodb", fast: true } } });
  });

  it("lets an `override` entry in a later group's defaults change an earlier choice", () => {
    const rp = repo({
      "db/mysql": { driver: "mysql" },
      "db/sqlite": { driver: "sqlite" },
      "experiment/small": [{ epochs: 1 }, [g("/db", "sqlite", { override: true })], "_global_"],
    });
    const r = composeConfig({ repo: rp, defaults: [g("db", "mysql"), g("experiment", "small")], overrides: [] });
    expect(r.config).toEqual({ db: { driver: "sqlite" }, epochs: 1 });
    expect(r.choices).toEqual({ db: "sqlite", experiment: "small" });
    // The command line still beats the override in the config.
    const r2 = composeConfig({ repo: rp, defaults: [g("db", "mysql"), g("experiment", "small")], overrides: [change("db", "mysql")] });
    expect(r2.config.db).toEqual({ driver: "mysql" });
  });

  it("rejects an override entry that matches nothing, naming the file", () => {
    const rp = repo({ "db/sqlite": { a: 1 }, "experiment/x": [{}, [g("/db", "sqlite", { override: true })], "_global_"] });
    const e = thrown(() => composeConfig({ repo: rp, defaults: [g("experiment", "x")], overrides: [] }));
    expect(e.code).toBe("E_CONFIG");
    expect(e.message).toContain("Could not override 'db'");
    expect(e.location?.file).toBe("conf/experiment/x.yaml");
  });

  it("skips a null placeholder until an override fills it", () => {
    const defaults = [g("db", null), g("model", "vit")];
    const r = composeConfig({ repo: dbRepo, defaults, overrides: [] });
    expect(r.config).toEqual({ model: { patch: 16, lr: 0.001 } });
    expect(r.choices).toEqual({ db: null, model: "vit" });
    const r2 = composeConfig({ repo: dbRepo, defaults, overrides: [change("db", "postgresql")] });
    expect(r2.config.db).toEqual({ driver: "postgresql", port: 5432, timeout: 10 });
    expect(r2.choices.db).toBe("postgresql");
  });

  it("ignores a missing optional entry and fails on a missing required one with options", () => {
    const r = composeConfig({ repo: dbRepo, defaults: [g("db", "oracle", { optional: true })], overrides: [] });
    expect(r.config).toEqual({});
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults: [g("db", "mysqll")], overrides: [], sourceFile: "conf/config.yaml" }));
    expect(e.code).toBe("E_CONFIG");
    expect(e.message).toContain("Available options: mysql, postgresql");
    expect(e.hint).toBe("did you mean 'mysql'?");
    expect(e.location).toEqual({ file: "conf/config.yaml", key: "db" });
  });

  it("places `group@pkg` entries, `_here_` and `_global_` packages", () => {
    const r = composeConfig({ repo: dbRepo, defaults: [g("db", "mysql"), g("db", "postgresql", { package: "backup" })], overrides: [] });
    expect(r.config.db).toMatchObject({ driver: "mysql" });
    expect(r.config.backup).toMatchObject({ driver: "postgresql" });
    expect(r.choices).toEqual({ db: "mysql", "db@backup": "postgresql" });
    const here = composeConfig({ repo: dbRepo, defaults: [g("model", "vit", { package: "_here_" })], overrides: [] });
    expect(here.config).toEqual({ patch: 16, lr: 0.001 });
    const glob = composeConfig({ repo: dbRepo, defaults: [g("model", "vit", { package: "_global_.m" })], overrides: [] });
    expect(glob.config).toEqual({ m: { patch: 16, lr: 0.001 } });
  });

  it("honours a package header given by the loader, unless the entry names a package", () => {
    const rp = repo({ "exp/a": [{ lr: 1 }, undefined, "_global_"], "exp/b": [{ lr: 2 }, undefined, "train.opt"] });
    expect(composeConfig({ repo: rp, defaults: [g("exp", "a")], overrides: [] }).config).toEqual({ lr: 1 });
    expect(composeConfig({ repo: rp, defaults: [g("exp", "b")], overrides: [] }).config).toEqual({ train: { opt: { lr: 2 } } });
    expect(composeConfig({ repo: rp, defaults: [g("exp", "b", { package: "x" })], overrides: [] }).config).toEqual({ x: { lr: 2 } });
  });

  it("loads plain config entries and root-level configs unconditionally", () => {
    const rp = repo({ agent: { name: "???", agency: "mi6" }, "db/mysql": { d: 1 } });
    const r = composeConfig({ repo: rp, primary: { name: "Bond" }, defaults: [{ kind: "config", path: "agent" }, { kind: "config", path: "db/mysql" }], overrides: [] });
    expect(r.config).toEqual({ name: "Bond", agency: "mi6", db: { d: 1 } });
    expect(r.choices).toEqual({});
  });

  it("loads a list of options of one group in order", () => {
    const rp = repo({ "aug/flip": { aug: { flip: true }, n: 1 }, "aug/crop": { aug: { crop: 4 }, n: 2 } });
    const r = composeConfig({ repo: rp, defaults: [g("aug", ["flip", "crop"])], overrides: [] });
    expect(r.config).toEqual({ aug: { aug: { flip: true, crop: 4 }, n: 2 } });
    expect(r.choices).toEqual({ aug: "[flip,crop]" });
  });

  it("resolves ${group} interpolations in the defaults list after the other choices (specializing configs)", () => {
    const rp = repo({
      "dataset/imagenet": { ds: "imagenet" },
      "dataset/cifar": { ds: "cifar" },
      "model/alexnet": { m: "alexnet", lr: 0.1 },
      "dataset_model/imagenet_alexnet": [{ model: { lr: 0.01 } }, undefined, "_global_"],
    });
    const defaults = [g("dataset", "imagenet"), g("model", "alexnet"), g("dataset_model", "${dataset}_${model}", { optional: true })];
    const r = composeConfig({ repo: rp, defaults, overrides: [] });
    expect(r.config.model).toEqual({ m: "alexnet", lr: 0.01 });
    expect(r.choices.dataset_model).toBe("imagenet_alexnet");
    // The command-line choice of dataset feeds the interpolation; the optional entry then finds nothing.
    const r2 = composeConfig({ repo: rp, defaults, overrides: [change("dataset", "cifar")] });
    expect(r2.config.model).toEqual({ m: "alexnet", lr: 0.1 });
    const e = thrown(() => composeConfig({ repo: rp, defaults: [g("dataset_model", "${nope}_x")], overrides: [] }));
    expect(e.message).toContain("no choice for 'nope'");
  });

  it("asks for a value when the default is ??? ", () => {
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults: [g("db", "???")], overrides: [] }));
    expect(e.message).toContain("You must specify 'db'");
    expect(e.hint).toContain("mysql, postgresql");
    expect(composeConfig({ repo: dbRepo, defaults: [g("db", "???")], overrides: [change("db", "mysql")] }).choices.db).toBe("mysql");
  });

  it("rejects two values for one group and a duplicate _self_", () => {
    expect(thrown(() => composeConfig({ repo: dbRepo, defaults: [g("db", "mysql"), g("db", "postgresql")], overrides: [] })).message).toContain("Multiple values for db");
    expect(thrown(() => composeConfig({ repo: dbRepo, defaults: [SELF, SELF], overrides: [] })).message).toContain("Duplicate _self_");
  });

  it("rejects an override entry placed before ordinary entries", () => {
    const rp = repo({ "db/a": {}, "db/b": {}, "x/y": [{}, [g("/db", "b", { override: true }), g("/db", "a")], "_global_"] });
    const e = thrown(() => composeConfig({ repo: rp, defaults: [g("x", "y")], overrides: [] }));
    expect(e.message).toContain("overrides must be at the end of the defaults list");
  });
});

describe("composeConfig: group overrides", () => {
  const defaults = [g("db", "mysql")];

  it("db=option changes the choice before merging", () => {
    const r = composeConfig({ repo: dbRepo, primary: { db: { port: 1 } }, defaults, overrides: [change("db", "postgresql")] });
    expect(r.config).toEqual({ db: { driver: "postgresql", port: 1, timeout: 10 } });
    expect(r.choices).toEqual({ db: "postgresql" });
  });

  it("an unknown option lists the available ones with a did-you-mean, as E_OVERRIDE", () => {
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults, overrides: [change("db", "postgres")] }));
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toBe("Could not find 'db/postgres': no option 'postgres' in config group 'db'. Available options: mysql, postgresql");
    expect(e.hint).toBe("did you mean 'postgresql'?");
    expect(e.location).toEqual({ file: "command line", key: "db" });
  });

  it("db=option without db in the defaults list points to +db", () => {
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults: [], overrides: [change("db", "mysql")] }));
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toContain("Could not override 'db': no match in the defaults list. To append to your defaults list use +db=");
  });

  it("+db=option appends a group after the primary config", () => {
    const r = composeConfig({ repo: dbRepo, primary: { db: { port: 1 } }, defaults: [], overrides: [add("db", "mysql")] });
    // _self_ is appended before external appends, so the group overrides the primary here.
    expect(r.config.db).toEqual({ port: 3306, driver: "mysql", opts: { pool: 5, ssl: false } });
    expect(r.choices).toEqual({ db: "mysql" });
  });

  it("+db=option when db is already chosen is an error pointing to db=option", () => {
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults, overrides: [add("db", "postgresql")] }));
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toContain("'db' is already in the defaults list");
    expect(e.hint).toBe("use db=postgresql to change the choice");
  });

  it("~db removes the group; ~db=option only when it matches; unmatched deletes fail", () => {
    expect(composeConfig({ repo: dbRepo, primary: { a: 1 }, defaults, overrides: [del("db")] }).config).toEqual({ a: 1 });
    expect(composeConfig({ repo: dbRepo, defaults, overrides: [del("db", "mysql")] }).choices).toEqual({});
    const e = thrown(() => composeConfig({ repo: dbRepo, defaults, overrides: [del("db", "postgresql")] }));
    expect(e.message).toBe("Could not delete 'db=postgresql': no match in the defaults list");
    expect(thrown(() => composeConfig({ repo: dbRepo, defaults: [], overrides: [del("db")] })).code).toBe("E_OVERRIDE");
  });

  it("db@pkg=option selects the option of a moved group; +db@pkg adds one", () => {
    const ds = [g("db", "mysql"), g("db", "mysql", { package: "backup" })];
    const r = composeConfig({ repo: dbRepo, defaults: ds, overrides: [change("db", "postgresql", "backup")] });
    expect(r.config.db).toMatchObject({ driver: "mysql" });
    expect(r.config.backup).toMatchObject({ driver: "postgresql" });
    const r2 = composeConfig({ repo: dbRepo, defaults, overrides: [add("db", "postgresql", "replica")] });
    expect(r2.choices).toEqual({ db: "mysql", "db@replica": "postgresql" });
    expect(r2.config.replica).toMatchObject({ driver: "postgresql" });
  });

  it("++db is refused for groups, as in Hydra", () => {
    expect(thrown(() => composeConfig({ repo: dbRepo, defaults, overrides: [forceAdd("db", "mysql")] })).message).toContain("Force-add of a config group");
  });

  it("a dict value for a group name is a value override, not a selection", () => {
    const r = composeConfig({ repo: dbRepo, defaults, overrides: [change("db", dict({ port: 1 }))] });
    expect(r.config.db).toMatchObject({ driver: "mysql", port: 1 });
  });

  it("refuses a sweep override", () => {
    const sweep: Override = { type: "change", key: "lr", value: { kind: "choice", values: [1, 2], simpleForm: true }, isSweep: true, input: "lr=1,2" };
    expect(thrown(() => composeConfig({ repo: dbRepo, overrides: [sweep] })).message).toContain("must be expanded");
  });
});

describe("composeConfig: value overrides", () => {
  const base = (overrides: Override[]) =>
    composeConfig({ repo: dbRepo, primary: { train: { lr: 0.1, epochs: 3, layers: [1, 2] }, name: "x" }, defaults: [g("db", "mysql")], overrides });

  it("a.b=v changes an existing key; dicts merge, lists replace", () => {
    const r = base([change("train.lr", 0.01), change("db.opts", dict({ ssl: true })), change("train.layers", [4])]);
    expect(r.config.train).toEqual({ lr: 0.01, epochs: 3, layers: [4] });
    expect(getPath(r.config, "db.opts")).toEqual({ pool: 5, ssl: true });
  });

  it("a.b=v on a missing key fails with the +hint and a did-you-mean", () => {
    const e = thrown(() => base([change("train.lrr", 0.01)]));
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toBe("Could not override 'train.lrr': key not in config. To append to your config use +train.lrr=0.01");
    expect(e.hint).toBe("did you mean 'train.lr'?");
    expect(e.location).toEqual({ file: "command line", key: "train.lrr" });
    expect(thrown(() => base([change("trian.lr", 1)])).hint).toBe("did you mean 'train.lr'?");
  });

  it("+a.b=v adds (creating parents) and refuses an existing key", () => {
    const r = base([add("train.wd", 0.1), add("extra.deep.x", "y")]);
    expect(r.config.train).toMatchObject({ wd: 0.1 });
    expect(r.config.extra).toEqual({ deep: { x: "y" } });
    const e = thrown(() => base([add("train.lr", 0.2)]));
    expect(e.message).toContain("'train.lr' is already in the config");
    expect(e.message).toContain("use ++train.lr=0.2 to force");
  });

  it("++a.b=v sets whether or not the key exists", () => {
    const r = base([forceAdd("train.lr", 0.3), forceAdd("train.new", true)]);
    expect(r.config.train).toMatchObject({ lr: 0.3, new: true });
  });

  it("~a.b deletes, ~a.b=v only when the value matches, and a missing key fails", () => {
    expect(base([del("train.epochs")]).config.train).toEqual({ lr: 0.1, layers: [1, 2] });
    expect(base([del("train.epochs", 3)]).config.train).not.toHaveProperty("epochs");
    expect(base([del("train.layers.0")]).config.train).toMatchObject({ layers: [2] });
    const e = thrown(() => base([del("train.epochs", 4)]));
    expect(e.message).toBe("Could not delete from config: the value of 'train.epochs' is 3, not 4");
    expect(thrown(() => base([del("train.nope")])).message).toBe("Could not delete from config: 'train.nope' does not exist");
  });

  it("applies overrides in order and converts quoted strings", () => {
    const r = base([change("name", { kind: "quoted", text: "1", quote: "'" }), change("train.lr", 1), change("train.lr", 2)]);
    expect(r.config.name).toBe("1");
    expect(getPath(r.config, "train.lr")).toBe(2);
  });

  it("sets list elements by index and reports a bad intermediate", () => {
    expect(getPath(base([change("train.layers.1", 9)]).config, "train.layers")).toEqual([1, 9]);
    expect(thrown(() => base([add("name.sub", 1)])).message).toContain("is not a mapping or list");
  });
});

describe("composeConfig with parsed overrides", () => {
  const compose = (...texts: string[]) =>
    composeConfig({
      repo: dbRepo,
      primary: { train: { lr: 0.1, epochs: 3, tags: ["a"] }, name: "x" },
      defaults: [g("db", "mysql"), SELF],
      overrides: parseOverrides(texts),
    });

  it("applies every override form from its command-line spelling", () => {
    const r = compose("db=postgresql", "+model=vit", "train.lr=1.0", "+train.wd=1e-4", "++name='007'", "~train.epochs", "train.tags=[b,c]", "db={timeout: 20}");
    expect(r.choices).toEqual({ db: "postgresql", model: "vit" });
    expect(r.config).toEqual({
      db: { driver: "postgresql", port: 5432, timeout: 20 },
      // Hydra types `1.0` as a float (tests/test_overrides_parser.py, v1.3.2): it stays 1.0, not the int 1.
      train: { lr: new ConfigFloat(1), wd: 1e-4, tags: ["b", "c"] },
      name: "007",
      model: { patch: 16, lr: 0.001 },
    });
  });

  it("deletes and moves groups from their spelling", () => {
    expect(compose("~db").config).not.toHaveProperty("db");
    expect(compose("~db=mysql").choices).toEqual({});
    const r = compose("+db@replica=postgresql");
    expect(r.config.replica).toMatchObject({ driver: "postgresql" });
  });

  it("keeps the user's spelling in error messages", () => {
    expect(thrown(() => compose("train.lrr=0.5")).message).toBe("Could not override 'train.lrr': key not in config. To append to your config use +train.lrr=0.5");
    expect(thrown(() => compose("+train.lr=0.5")).message).toContain("use ++train.lr=0.5 to force");
    expect(thrown(() => compose("~train.epochs=4")).message).toContain("is 3, not 4");
    expect(thrown(() => compose("db=sqlite")).message).toContain("Available options: mysql, postgresql");
  });
});

describe("parseDefaultsList", () => {
  it("parses every entry form", () => {
    expect(
      parseDefaultsList(
        ["_self_", "db/mysql", "/base@_global_", { db: "mysql" }, { "db@backup": null }, { "optional x": "y" }, { "override /hydra/launcher": "slurm" }, { aug: ["a", "b"] }],
        "c.yaml",
      ),
    ).toEqual([
      { kind: "self" },
      { kind: "config", path: "db/mysql" },
      { kind: "config", path: "/base", package: "_global_" },
      { kind: "group", group: "db", option: "mysql" },
      { kind: "group", group: "db", option: null, package: "backup" },
      { kind: "group", group: "x", option: "y", optional: true },
      { kind: "group", group: "/hydra/launcher", option: "slurm", override: true },
      { kind: "group", group: "aug", option: ["a", "b"] },
    ]);
  });

  it("rejects malformed entries with file and index", () => {
    const e = thrown(() => parseDefaultsList([{ db: "a" }, { a: 1, b: 2 }], "c.yaml"));
    expect(e.code).toBe("E_CONFIG");
    expect(e.location).toEqual({ file: "c.yaml", key: "defaults.1" });
    expect(thrown(() => parseDefaultsList({ db: "a" }, "c.yaml")).message).toContain("must be a list");
    expect(thrown(() => parseDefaultsList([{ "overide db": "a" }], "c.yaml")).message).toContain("unknown keyword 'overide'");
  });
});

describe("group helpers", () => {
  it("sweepGroupOptions lists sorted options and rejects unknown groups", () => {
    const rp = repo({ "m/z": {}, "m/a": {}, "m/k": {} });
    expect(sweepGroupOptions(rp, "m")).toEqual(["a", "k", "z"]);
    const e = thrown(() => sweepGroupOptions(dbRepo, "modle"));
    expect(e.hint).toBe("did you mean 'model'?");
  });

  it("isConfigGroup knows groups and folders of groups, not dotted keys", () => {
    const rp = repo({ "server/db/a": {}, "m/x": {} });
    expect(isConfigGroup(rp, "server")).toBe(true);
    expect(isConfigGroup(rp, "server/db")).toBe(true);
    expect(isConfigGroup(rp, "m.x")).toBe(false);
    expect(isConfigGroup(rp, "lr")).toBe(false);
  });
});

describe("configpath", () => {
  it("gets, sets, checks and deletes dotted paths with list indexes", () => {
    const m: ConfigMap = { a: { b: [10, { c: null }] } };
    expect(getPath(m, "a.b.1.c")).toBeNull();
    expect(hasPath(m, "a.b.1.c")).toBe(true);
    expect(getPath(m, "a[1]")).toBeUndefined();
    expect(getPath(m, "a.b[0]")).toBe(10);
    expect(hasPath(m, "a.b.2")).toBe(false);
    setPath(m, "x.y.z", 1);
    expect(m.x).toEqual({ y: { z: 1 } });
    setPath(m, "a.b.0", 11);
    expect(getPath(m, "a.b")).toEqual([11, { c: null }]);
    expect(() => setPath(m, "a.b.5", 1)).toThrow(/out of range/);
    expect(deletePath(m, "a.b.0")).toBe(true);
    expect(getPath(m, "a.b")).toEqual([{ c: null }]);
    expect(deletePath(m, "a.nope")).toBe(false);
  });

  it("deepMerge merges dicts, replaces lists and scalars, and does not alias inputs", () => {
    const base: ConfigMap = { a: { x: 1, l: [1, 2] }, s: 1 };
    const over: ConfigMap = { a: { y: 2, l: [3] }, s: { now: "dict" } };
    const out = deepMerge(base, over);
    expect(out).toEqual({ a: { x: 1, y: 2, l: [3] }, s: { now: "dict" } });
    (out.a as ConfigMap).x = 5;
    ((out.a as ConfigMap).l as number[]).push(4);
    expect(base).toEqual({ a: { x: 1, l: [1, 2] }, s: 1 });
    expect(over.a).toEqual({ y: 2, l: [3] });
  });

  it("stableStringify sorts keys at every depth and keeps non-finite numbers distinct", () => {
    expect(stableStringify({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: "s" } })).toBe('{"a":{"c":"s","d":[1,{"y":1,"z":0}]},"b":1}');
    expect(stableStringify({ x: 1, y: 2 })).toBe(stableStringify({ y: 2, x: 1 }));
    expect(stableStringify([NaN, Infinity, null])).toBe("[NaN,Infinity,null]");
  });
});

// Hydra 1.3's own defaults list (hydra/conf/__init__.py, HydraConf.defaults): output, launcher,
// sweeper, help, hydra_help, hydra_logging, job_logging (all `default`/`basic`), callbacks (null),
// env. Hydra's docs ("Customizing logging": `override hydra/job_logging: disabled`) override them
// from the primary config's defaults list without any file of the user's.
describe("composeConfig: Hydra's own groups and the hydra node", () => {
  it("`override hydra/<group>: <option>` needs no file (Hydra or a plugin provides it); the choice is recorded", () => {
    const r = composeConfig({ repo: dbRepo, primary: { seed: 1 }, defaults: [g("db", "mysql"), g("hydra/job_logging", "disabled", { override: true }), g("hydra/launcher", "submitit_slurm", { override: true })], overrides: [] });
    expect(r.config).toEqual({ db: { driver: "mysql", port: 3306, opts: { pool: 5, ssl: false } }, seed: 1 });
    expect(r.choices).toEqual({ db: "mysql" });
    expect(r.hydraChoices).toEqual({
      "hydra/output": "default",
      "hydra/launcher": "submitit_slurm",
      "hydra/sweeper": "basic",
      "hydra/help": "default",
      "hydra/hydra_help": "default",
      "hydra/hydra_logging": "default",
      "hydra/job_logging": "disabled",
      "hydra/callbacks": null,
      "hydra/env": "default",
    });
    expect(r.hydra).toEqual({});
  });

  it("a misspelt Hydra group is still an error, as in Hydra (no match in the defaults list)", () => {
    const e = thrown(() => composeConfig({ repo: dbRepo, primary: {}, defaults: [g("hydra/job_loging", "disabled", { override: true })], overrides: [] }));
    expect(e.code).toBe("E_CONFIG");
    expect(e.message).toContain("Could not override 'hydra/job_loging'");
    expect(e.hint).toContain("hydra/job_logging");
  });

  it("the primary's `hydra:` block and a hydra/<group> option the user wrote form the hydra node, never the job config", () => {
    const rp = repo({ "hydra/launcher/mine": { partition: "gpu", timeout_min: 10 }, "model/small": { hidden: 8 } });
    const r = composeConfig({
      repo: rp,
      primary: { lr: 0.1, hydra: { job: { chdir: true } } },
      defaults: [g("model", "small"), g("hydra/launcher", "mine", { override: true })],
      overrides: [],
    });
    expect(r.config).toEqual({ model: { hidden: 8 }, lr: 0.1 });
    expect(r.hydra).toEqual({ launcher: { partition: "gpu", timeout_min: 10 }, job: { chdir: true } });
    expect(r.hydraChoices["hydra/launcher"]).toBe("mine");
  });

  it("a group file packaged _global_ may set hydra.* (a clusterduck-style +platform preset)", () => {
    const rp = repo({ "platform/horeka": [{ hydra: { launcher: { partition: "accelerated", timeout_min: 60 } } }, undefined, "_global_"] });
    const r = composeConfig({ repo: rp, primary: { lr: 0.1 }, defaults: [], overrides: [add("platform", "horeka")] });
    expect(r.config).toEqual({ lr: 0.1 });
    expect(r.choices).toEqual({ platform: "horeka" });
    expect(r.hydra).toEqual({ launcher: { partition: "accelerated", timeout_min: 60 } });
  });
});

describe("configOrigins: which file set each key (for messages about a value)", () => {
  it("names the group option, the primary config and the command line, later writers winning", () => {
    const rp = repo({ "model/big": { hidden: 64, act: "relu" } });
    const o = configOrigins({ repo: rp, primary: { lr: 0.1, model: { act: "gelu" } }, defaults: [g("model", "big")], overrides: [change("lr", 0.5)], sourceFile: "corral.yaml", primaryFile: "conf/config.yaml" });
    expect(originOf(o, "model.hidden")).toBe("conf/model/big.yaml");
    expect(originOf(o, "model.act")).toBe("conf/config.yaml");
    expect(originOf(o, "lr")).toBe("command line");
    expect(originOf(o, "nosuch")).toBeUndefined();
  });
});

// Hydra 1.3 composes in struct mode (config_loader_impl.py, _apply_overrides_to_config): a plain
// override merges with OmegaConf.update(merge=True), which refuses keys a struct node lacks ("Could
// not override ... To append to your config use +..."); `+key=<dict or list>` on an existing key
// merges with force_add; a `key@pkg=value` on a key that is no config group is refused.
describe("composeConfig: struct-mode semantics of dict-valued and package overrides (Hydra 1.3)", () => {
  const compose = (...texts: string[]) =>
    composeConfig({ repo: dbRepo, primary: { data: { crop: 64, aug: { flip: true } }, x: 1 }, defaults: [SELF], overrides: parseOverrides(texts) });

  it("key={...} may change keys of an existing map, not add new ones (naming the new key)", () => {
    expect(compose("data={crop: 128}").config.data).toEqual({ crop: 128, aug: { flip: true } });
    const e = thrown(() => compose("data={crop: 128, jitter: 0.4}"));
    expect(e.message).toBe("Could not override 'data': key 'data.jitter' is not in the config. To append to your config use +data={crop: 128, jitter: 0.4}");
    expect(e.location?.key).toBe("data.jitter");
    expect(thrown(() => compose("data={aug: {rotate: 5}}")).location?.key).toBe("data.aug.rotate");
  });

  it("+key={...} on an existing map merges, new keys included; ++key={...} too; +key=value on an existing key is refused", () => {
    expect(compose("+data={jitter: 0.4}").config.data).toEqual({ crop: 64, aug: { flip: true }, jitter: 0.4 });
    expect(compose("++data={jitter: 0.4}").config.data).toEqual({ crop: 64, aug: { flip: true }, jitter: 0.4 });
    expect(thrown(() => compose("+x=2")).message).toContain("'x' is already in the config");
  });

  it("x@pkg=10 on a plain key is refused: only a config group has a package", () => {
    const e = thrown(() => compose("x@foo=10"));
    expect(e.code).toBe("E_OVERRIDE");
    expect(e.message).toContain("config group 'x' does not exist");
  });
});
