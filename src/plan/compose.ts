/**
 * Hydra 1.3-style config composition: a defaults list (config groups, `_self_`, `override`,
 * `optional`, `@package`), group selection by override (`db=mysql`, `+db=mysql`, `~db`,
 * `db@backup=mysql`), then value overrides (`a.b=1`, `+a.b=1`, `++a.b=1`, `~a.b`).
 *
 * The defaults tree is built the way Hydra's `defaults_list.py` builds it: each config's defaults
 * list is visited in reverse, so an `override` in a later config (or on the command line, which
 * always wins) applies to a group chosen earlier; `_self_` is appended to a defaults list that
 * lacks it, so a config overrides what its defaults list brings in. See
 * https://hydra.cc/docs/1.3/advanced/defaults_list/
 *
 * PURE: the project layer loads every file of the config dir into a {@link ConfigRepo} first.
 */
import { CorralError, didYouMean } from "../errors.js";
import type { ErrorCode } from "../errors.js";
import { configEquals, deepClone, deletePath, getPath, isConfigMap, mergeInto, setPath, splitPath } from "./configpath.js";
import { ConfigFloat } from "./float.js";
import { pyFloatRepr, toConfigValue } from "./overrides.js";
import type { ConfigMap, ConfigValue, ElementValue, Override } from "./types.js";

/** One option of a config group: one file such as `model/resnet.yaml`. */
export interface GroupOption {
  /** The file's content, without its `defaults` key (a `defaults` key left in is used and dropped). */
  config: ConfigMap;
  /** The file's parsed defaults list, if it has one (see {@link parseDefaultsList}). */
  defaults?: DefaultsEntry[];
  /** Path of the file, for messages. */
  file: string;
  /**
   * The `# @package` header, parsed by the loader. Absolute, as in Hydra: `_global_` (or `""`) is
   * the root, `a.b` is `a.b` wherever the option is used. An explicit `group@pkg` entry wins.
   */
  package?: string;
}

/**
 * Every config of a config dir, by group path (`model`, `server/db`) then option name (`resnet`).
 * Configs at the top of the config dir (other than the primary one) are in group `""`, so that a
 * plain defaults entry such as `- base` can load them.
 */
export interface ConfigRepo {
  groups: Map<string, Map<string, GroupOption>>;
}

/** One entry of a defaults list. */
export type DefaultsEntry =
  /** `_self_`: where this config's own content is merged relative to its defaults. */
  | { kind: "self" }
  /**
   * `group: option`, `optional group: option`, `override group: option`, `group@pkg: option`.
   * `group` is relative to the containing config's group unless it starts with `/`.
   * `option` null is a placeholder; a list loads several options of the group in order.
   */
  | { kind: "group"; group: string; option: string | string[] | null; package?: string; optional?: boolean; override?: boolean }
  /** A plain config name (`db/mysql`, `base`, `/db/mysql@pkg`), loaded unconditionally. */
  | { kind: "config"; path: string; package?: string; optional?: boolean };

/** Input of {@link composeConfig}. */
export interface ComposeInput {
  repo: ConfigRepo;
  /** The primary config's content. A `defaults` key in it is used when `defaults` is not given. */
  primary?: ConfigMap;
  /** The primary config's defaults list. */
  defaults?: DefaultsEntry[];
  /** Concrete (non-sweep) overrides, applied in order. */
  overrides: Override[];
  /** The primary config's file, for messages. @default "config" */
  sourceFile?: string;
  /** Where the primary config was read from when not the project file (`conf/config.yaml`). */
  primaryFile?: string;
  /** Where the overrides came from, for messages. @default "command line" */
  overridesSource?: string;
}

/** Output of {@link composeConfig}. */
export interface ComposeResult {
  /** The composed config (interpolations not yet resolved). */
  config: ConfigMap;
  /**
   * The selected option per group, keyed as an override would name it (`db`, `server/db`,
   * `db@backup`); null for a placeholder left unset. Several options of one group read `[a,b]`.
   */
  choices: Record<string, string | null>;
  /**
   * The `hydra` node: what the configs set under `hydra:` (and options of `hydra/<group>` found in
   * the config dir), empty maps pruned. Hydra's settings, never part of the job config.
   */
  hydra: ConfigMap;
  /** The options chosen for Hydra's own groups (`hydra/launcher: basic`), as `choices`. */
  hydraChoices: Record<string, string | null>;
}

/**
 * Hydra's own defaults list (`hydra/config` in Hydra 1.3's `HydraConf`): the groups a config may
 * `override hydra/<group>: <option>` without providing a file, since Hydra or its plugins do
 * (`override hydra/job_logging: disabled`, `override hydra/launcher: submitit_slurm`). Their
 * content is Hydra's: composed by the app itself, so an option without a file here is empty.
 */
export const HYDRA_DEFAULTS: ReadonlyArray<[string, string | null]> = [
  ["output", "default"],
  ["launcher", "basic"],
  ["sweeper", "basic"],
  ["help", "default"],
  ["hydra_help", "default"],
  ["hydra_logging", "default"],
  ["job_logging", "default"],
  ["callbacks", null],
  ["env", "default"],
];
const HYDRA_DEFAULTS_FILE = "Hydra's defaults (hydra/config)";

// ---------------------------------------------------------------------------------------------
// Defaults list parsing (YAML shape -> DefaultsEntry)

/**
 * Parse a `defaults:` value as read from YAML into entries. Accepted items: `_self_`,
 * `group/name`, `group/name@pkg`, `{group: option}`, `{"group@pkg": option}`,
 * `{"optional group": option}`, `{"override group": option}`, option a string, list or null.
 */
export function parseDefaultsList(raw: ConfigValue | undefined, file: string): DefaultsEntry[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    throw new CorralError("E_CONFIG", "The defaults list must be a list", { location: { file, key: "defaults" } });
  }
  return raw.map((item, i) => parseDefaultsItem(item, file, `defaults.${i}`));
}

function parseDefaultsItem(item: ConfigValue, file: string, key: string): DefaultsEntry {
  const bad = (why: string): CorralError =>
    new CorralError("E_CONFIG", `Invalid defaults list entry: ${why}`, {
      location: { file, key },
      hint: "entries look like `- _self_`, `- db: mysql`, `- optional db: mysql`, `- override db: pg`, `- db@backup: mysql` or `- db/mysql`",
    });
  if (typeof item === "string") {
    const text = item.trim();
    if (text === "_self_") return { kind: "self" };
    if (text === "") throw bad("empty entry");
    let optional = false;
    let rest = text;
    if (rest.startsWith("optional ")) {
      optional = true;
      rest = rest.slice("optional ".length).trim();
    }
    const [path, pkg] = splitAt(rest);
    return { kind: "config", path, ...(pkg !== undefined ? { package: pkg } : {}), ...(optional ? { optional } : {}) };
  }
  if (!isConfigMap(item)) throw bad(`expected a string or a one-key mapping, got ${JSON.stringify(item)}`);
  // Hydra allows `optional: true` beside the key in the mapping form.
  const keys = Object.keys(item).filter((k) => k !== "optional");
  if (keys.length !== 1) throw bad(`expected one key, got ${keys.length === 0 ? "none" : keys.join(", ")}`);
  const k = keys[0]!;
  const words = k.trim().split(/\s+/);
  let optional = item.optional === true;
  let override = false;
  while (words.length > 1) {
    const w = words.shift()!;
    if (w === "optional") optional = true;
    else if (w === "override") override = true;
    else throw bad(`unknown keyword '${w}' in '${k}'`);
  }
  const [group, pkg] = splitAt(words[0]!);
  if (group === "" || group === "/") throw bad(`empty group name in '${k}'`);
  const v = item[k]!;
  let option: string | string[] | null;
  if (v === null) option = null;
  else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v instanceof ConfigFloat) option = String(v);
  else if (Array.isArray(v) && v.every((x) => typeof x === "string")) option = v;
  else throw bad(`the option of '${k}' must be a name, a list of names or null`);
  return {
    kind: "group",
    group,
    option,
    ...(pkg !== undefined ? { package: pkg } : {}),
    ...(optional ? { optional } : {}),
    ...(override ? { override } : {}),
  };
}

/** `a/b@pkg` -> [`a/b`, `pkg`]. */
function splitAt(text: string): [string, string | undefined] {
  const at = text.indexOf("@");
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

// ---------------------------------------------------------------------------------------------
// The defaults tree

/** A node of the defaults tree: the primary config, a group default or a plain config entry. */
interface TreeNode {
  kind: "primary" | "group" | "config";
  /** As written: group (`db`, `/db`) or config path (`db/mysql`). */
  written: string;
  option: string | string[] | null;
  /** Explicit `@pkg`, `_here_` already mapped to "". */
  explicitPackage: string | undefined;
  optional: boolean;
  override: boolean;
  externalAppend: boolean;
  /** Filled by `attach`: the containing config's group path and final package. */
  parentBase: string;
  parentPackage: string;
  /** The loaded option, once known. */
  loaded?: GroupOption;
  /** File of the config whose defaults list holds this entry. */
  containerFile: string;
  deleted: boolean;
  /** undefined: a leaf (merged as itself); otherwise its expanded defaults, `self` standing for itself. */
  children?: Array<TreeNode | "self">;
}

type Deletion = { option: string | undefined; used: boolean; input: string };
type OverrideChoice = { option: string | string[] | null; used: boolean; external: boolean; input: string; file: string };

const OVERRIDES_FILE = "command line";

function newNode(entry: DefaultsEntry & { kind: "group" | "config" }, containerFile: string, externalAppend = false): TreeNode {
  const pkg = entry.package === "_here_" ? "" : entry.package;
  return {
    kind: entry.kind,
    written: entry.kind === "group" ? entry.group : entry.path,
    option: entry.kind === "group" ? entry.option : null,
    explicitPackage: pkg,
    optional: entry.optional === true,
    override: entry.kind === "group" && entry.override === true,
    externalAppend,
    parentBase: "",
    parentPackage: "",
    containerFile,
    deleted: false,
  };
}

function stripSlash(s: string): [string, boolean] {
  return s.startsWith("/") ? [s.slice(1), true] : [s, false];
}

/** Absolute group path of a node (for a config entry: the folder of its path). */
function groupPath(n: TreeNode): string {
  if (n.kind === "primary") return "";
  const [path, absolute] = stripSlash(n.written);
  let group = path;
  if (n.kind === "config") {
    const idx = path.lastIndexOf("/");
    group = idx === -1 ? "" : path.slice(0, idx);
  }
  if (absolute || n.parentBase === "") return group;
  return group === "" ? n.parentBase : `${n.parentBase}/${group}`;
}

/** The option name of a node: the chosen option, or a config entry's file name. */
function nodeName(n: TreeNode): string | null {
  if (n.kind === "config") {
    const [path] = stripSlash(n.written);
    return path.slice(path.lastIndexOf("/") + 1);
  }
  return typeof n.option === "string" ? n.option : null;
}

function relativeGroupPath(n: TreeNode): string {
  const [path] = stripSlash(n.written);
  if (n.kind === "group") return path;
  const idx = path.lastIndexOf("/");
  return idx === -1 ? "" : path.slice(0, idx);
}

/** Hydra's `_get_final_package`: relative to the parent's package; `_global_` restarts at the root. */
function finalPackage(n: TreeNode, withHeader = true): string {
  if (n.kind === "primary") return "";
  let pkg = n.explicitPackage;
  if (pkg === undefined && withHeader && n.loaded?.package !== undefined) {
    const h = n.loaded.package;
    // A package header is absolute.
    pkg = h === "" || h === "_global_" ? "_global_" : h.startsWith("_global_.") ? h : `_global_.${h}`;
  }
  if (pkg === undefined) pkg = relativeGroupPath(n).replace(/\//g, ".");
  let ret = n.parentPackage === "" ? pkg : pkg === "" ? n.parentPackage : `${n.parentPackage}.${pkg}`;
  const g = ret.lastIndexOf("_global_");
  if (g !== -1) ret = ret.slice(g + "_global_".length + 1);
  return ret;
}

/** The key an override uses for this group default: `db`, or `db@pkg` when moved. */
function overrideKey(n: TreeNode): string {
  const group = groupPath(n);
  const def = group.replace(/\//g, ".");
  const pkg = finalPackage(n, false);
  return pkg === def ? group : `${group}@${pkg === "" ? "_global_" : pkg}`;
}

function choiceText(option: string | string[] | null): string | null {
  return Array.isArray(option) ? `[${option.join(",")}]` : option;
}

class Composer {
  readonly overrideChoices = new Map<string, OverrideChoice>();
  readonly deletions = new Map<string, Deletion>();
  readonly appends: TreeNode[] = [];
  readonly configOverrides: Override[] = [];
  readonly knownChoices = new Map<string, { option: string | string[] | null; file: string; external: boolean }>();
  readonly primaryFile: string;
  readonly overridesFile: string;

  constructor(
    readonly input: ComposeInput,
    readonly primaryContent: ConfigMap,
    readonly primaryDefaults: DefaultsEntry[],
  ) {
    this.primaryFile = input.primaryFile ?? input.sourceFile ?? "config";
    this.overridesFile = input.overridesSource ?? OVERRIDES_FILE;
  }

  err(code: ErrorCode, message: string, file: string, key: string | undefined, hint?: string): CorralError {
    return new CorralError(code, message, { location: { file, ...(key ? { key } : {}) }, ...(hint ? { hint } : {}) });
  }

  /** Split the overrides into group selections (applied to the defaults list) and value overrides. */
  classify(): void {
    for (const o of this.input.overrides) {
      if (o.isSweep) {
        throw this.err("E_OVERRIDE", `Sweep override '${o.input}' must be expanded before composing one run`, this.overridesFile, o.key);
      }
      const value = o.value as ElementValue | undefined;
      const isDict = typeof value === "object" && value !== null && !Array.isArray(value) && "kind" in value && value.kind === "dict";
      if (isDict || !isConfigGroup(this.input.repo, o.key)) {
        // `key@pkg=value` moves a config group's option; a plain key has no package (Hydra refuses it too).
        if (o.pkg !== undefined) {
          throw this.err("E_OVERRIDE", `Override '${o.input}' looks like a config group override, but config group '${o.key}' does not exist`, this.overridesFile, o.key, "a value override has no @package: drop it, or name a config group");
        }
        this.configOverrides.push(o);
        continue;
      }
      const key = o.pkg !== undefined ? `${o.key}@${o.pkg}` : o.key;
      if (o.type === "force_add") {
        // Hydra refuses this too, and the run's own Hydra app gets the same overrides.
        throw this.err("E_OVERRIDE", `Force-add of a config group is not supported: '${o.input}'`, this.overridesFile, key, `use +${o.input.replace(/^\+\+/, "")} to add the group or ${o.input.replace(/^\+\+/, "")} to change it`);
      }
      if (o.type === "delete") {
        const opt = value === undefined ? undefined : optionOf(value);
        if (Array.isArray(opt)) throw this.err("E_OVERRIDE", `Deleting a config group takes one option name: '${o.input}'`, this.overridesFile, key);
        this.deletions.set(key, { option: opt ?? undefined, used: false, input: o.input });
        continue;
      }
      const option = value === undefined ? null : optionOf(value);
      if (option === undefined) {
        throw this.err("E_OVERRIDE", `A config group option must be a name or a list of names: '${o.input}'`, this.overridesFile, key, `options of '${o.key}': ${sweepGroupOptions(this.input.repo, o.key).join(", ")}`);
      }
      if (o.type === "add") {
        const n = newNode({ kind: "group", group: o.key, option, ...(o.pkg !== undefined ? { package: o.pkg } : {}) }, this.overridesFile, true);
        this.appends.push(n);
      } else {
        this.overrideChoices.set(key, { option, used: false, external: true, input: o.input, file: this.overridesFile });
      }
    }
  }

  /** Build the tree under the primary config. */
  buildRoot(): TreeNode {
    const root: TreeNode = {
      kind: "primary",
      written: "",
      option: null,
      explicitPackage: "",
      optional: false,
      override: false,
      externalAppend: false,
      parentBase: "",
      parentPackage: "",
      containerFile: this.primaryFile,
      deleted: false,
      loaded: { config: this.primaryContent, defaults: this.primaryDefaults, file: this.primaryFile },
    };
    this.expand(root, true);
    return root;
  }

  /** Load `n`'s config and expand its defaults list into children (Hydra's `_create_defaults_tree_impl`). */
  expand(n: TreeNode, isRoot: boolean): void {
    if (n.kind === "group") {
      const key = overrideKey(n);
      const del = this.deletions.get(key);
      if (del && (del.option === undefined || del.option === nodeName(n))) {
        del.used = true;
        n.deleted = true;
        return;
      }
      this.setKnownChoice(n, key);
      if (n.option === null) return;
      if (n.option === "???") {
        throw this.err("E_CONFIG", `You must specify '${key}', e.g. ${key}=<OPTION>`, n.containerFile, key, `available options: ${sweepGroupOptions(this.input.repo, groupPath(n)).join(", ")}`);
      }
    }
    if (n.kind !== "primary") {
      const loaded = this.load(n);
      if (!loaded) {
        n.deleted = true; // an optional entry whose config does not exist
        return;
      }
      n.loaded = loaded;
    }
    const loaded = n.loaded!;
    const own = loaded.defaults ?? (loaded.config.defaults !== undefined ? parseDefaultsList(loaded.config.defaults, loaded.file) : []);
    const defaults: Array<TreeNode | "self"> = [];
    // Hydra's own groups come first, as its `hydra/config` does before the primary config.
    if (isRoot) for (const [g, o] of HYDRA_DEFAULTS) defaults.push(newNode({ kind: "group", group: `/hydra/${g}`, option: o }, HYDRA_DEFAULTS_FILE));
    for (const e of own) defaults.push(e.kind === "self" ? "self" : newNode(e, loaded.file));
    if (defaults.length > 0 || (isRoot && this.appends.length > 0)) this.validateSelf(defaults, loaded.file);
    if (isRoot) defaults.push(...this.appends);
    if (defaults.length === 0) return;

    const base = groupPath(n);
    const pkg = finalPackage(n);
    let lastOverride: TreeNode | undefined;
    for (const d of defaults) {
      if (d === "self") continue;
      d.parentBase = base;
      d.parentPackage = pkg;
      if (lastOverride && !d.override && !d.externalAppend) {
        throw this.err("E_CONFIG", `Override '${overrideKey(lastOverride)}: ${choiceText(lastOverride.option)}' comes before '${d.kind === "group" ? overrideKey(d) : d.written}'; overrides must be at the end of the defaults list`, loaded.file, "defaults");
      }
      if (d.override) {
        lastOverride = d;
        const key = overrideKey(d);
        // The first registration wins: the command line first, then later configs (visited first).
        if (!this.overrideChoices.has(key)) {
          this.overrideChoices.set(key, { option: d.option, used: false, external: false, input: `override ${d.written}: ${choiceText(d.option)}`, file: loaded.file });
        }
      }
    }

    const children: Array<TreeNode | "self"> = [];
    const deferred: TreeNode[] = [];
    // Reverse order, as Hydra: overrides registered by later entries reach earlier ones.
    for (let i = defaults.length - 1; i >= 0; i--) {
      const d = defaults[i]!;
      if (d === "self") {
        children.push("self");
        continue;
      }
      if (d.override) continue;
      if (d.kind === "group") {
        const oc = this.overrideChoices.get(overrideKey(d));
        if (oc) {
          d.option = oc.option;
          oc.used = true;
        }
      }
      if (d.kind === "group" && Array.isArray(d.option)) {
        // Several options of one group: each is loaded as a plain config entry, in order.
        this.setKnownChoice(d, overrideKey(d));
        for (let j = d.option.length - 1; j >= 0; j--) {
          const item: TreeNode = {
            ...d,
            kind: "config",
            written: `${d.written}/${d.option[j]!}`,
            option: null,
          };
          this.expand(item, false);
          children.push(item);
        }
        continue;
      }
      if (d.kind === "group" && typeof d.option === "string" && d.option.includes("${")) {
        // Hydra defers `${group}` interpolations until every other choice of this list is known.
        deferred.push(d);
        children.push(d);
        continue;
      }
      this.expand(d, false);
      children.push(d);
    }
    for (const d of deferred) {
      d.option = this.interpolateOption(d.option as string, loaded.file, overrideKey(d));
      this.expand(d, false);
    }
    n.children = children.reverse();
  }

  /** Resolve `${group}` references in a defaults-list option against the choices made so far. */
  interpolateOption(option: string, file: string, key: string): string {
    return option.replace(/\$\{([^}]*)\}/g, (_all, ref: string) => {
      const name = ref.trim();
      const known = this.knownChoices.get(name);
      if (known === undefined || typeof known.option !== "string") {
        const keys = [...this.knownChoices.keys()].sort();
        throw this.err("E_CONFIG", `Error resolving interpolation '${option}' in the defaults list: no choice for '${name}'`, file, key, keys.length > 0 ? `known choices: ${keys.join(", ")}` : undefined);
      }
      return known.option;
    });
  }

  /** `_self_` at most once; appended at the end when missing (Hydra 1.1+ order). */
  validateSelf(defaults: Array<TreeNode | "self">, file: string): void {
    const selfs = defaults.filter((d) => d === "self").length;
    if (selfs > 1) throw this.err("E_CONFIG", "Duplicate _self_ in the defaults list", file, "defaults");
    if (selfs === 0) defaults.push("self");
  }

  setKnownChoice(n: TreeNode, key: string): void {
    const prev = this.knownChoices.get(key);
    if (!prev) {
      this.knownChoices.set(key, { option: n.option, file: n.containerFile, external: n.externalAppend });
      return;
    }
    if (prev.external || n.externalAppend) {
      const added = prev.external ? prev.option : n.option;
      throw this.err("E_OVERRIDE", `Could not append '+${key}=${choiceText(added)}': '${key}' is already in the defaults list`, this.overridesFile, key, `use ${key}=${choiceText(added)} to change the choice`);
    }
    if (choiceText(prev.option) !== choiceText(n.option)) {
      throw this.err("E_CONFIG", `Multiple values for ${key}: '${choiceText(prev.option)}' and '${choiceText(n.option)}'`, n.containerFile, key, `to change the choice use 'override ${key}: ${choiceText(n.option)}'`);
    }
  }

  load(n: TreeNode): GroupOption | undefined {
    const group = groupPath(n);
    const name = nodeName(n)!;
    const opts = this.input.repo.groups.get(group);
    const found = opts?.get(name);
    if (found) return found;
    if (n.optional) return undefined;
    // Options of Hydra's groups that Hydra or a plugin provides: the app composes them.
    if (group.startsWith("hydra/")) return { config: {}, file: `${group}/${name} (provided by Hydra or a plugin)` };
    const fromCli = n.kind === "group" && (this.overrideChoices.get(overrideKey(n))?.external === true || n.externalAppend);
    const code: ErrorCode = fromCli ? "E_OVERRIDE" : "E_CONFIG";
    const file = fromCli ? this.overridesFile : n.containerFile;
    const key = n.kind === "group" ? overrideKey(n) : `defaults`;
    if (!opts || opts.size === 0) {
      const g = didYouMean(group, [...this.input.repo.groups.keys()].filter((k) => k !== ""));
      return this.fail(code, `Could not find config '${group ? `${group}/` : ""}${name}': there is no config group '${group}'`, file, key, g ? `did you mean group '${g}'?` : undefined);
    }
    const names = [...opts.keys()].sort();
    const dym = didYouMean(name, names);
    const where = group === "" ? "the config dir" : `config group '${group}'`;
    return this.fail(code, `Could not find '${group ? `${group}/` : ""}${name}': no option '${name}' in ${where}. Available options: ${names.join(", ")}`, file, key, dym ? `did you mean '${dym}'?` : undefined);
  }

  fail(code: ErrorCode, message: string, file: string, key: string, hint?: string): never {
    throw this.err(code, message, file, key, hint);
  }

  ensureUsed(): void {
    for (const [key, oc] of this.overrideChoices) {
      if (oc.used) continue;
      const group = key.split("@")[0]!;
      const sameGroup = [...this.knownChoices.keys()].filter((k) => k.split("@")[0] === group);
      let msg = `Could not override '${key}': no match in the defaults list`;
      let hint: string | undefined;
      if (sameGroup.length > 0) hint = `did you mean to override ${sameGroup.sort().join(" or ")}?`;
      else {
        const near = didYouMean(key, [...this.knownChoices.keys()]);
        if (near) hint = `did you mean '${near}'?`;
      }
      if (oc.external) {
        msg += `. To append to your defaults list use +${oc.input}`;
      } else {
        msg = `In '${oc.file}': ${msg}`;
      }
      throw this.err(oc.external ? "E_OVERRIDE" : "E_CONFIG", msg, oc.file, key, hint);
    }
    for (const [key, d] of this.deletions) {
      if (!d.used) {
        throw this.err("E_OVERRIDE", `Could not delete '${d.option === undefined ? key : `${key}=${d.option}`}': no match in the defaults list`, this.overridesFile, key);
      }
    }
  }

  /** Depth-first list of (config, package) to merge, with duplicate group check. */
  flatten(root: TreeNode): Array<{ node: TreeNode }> {
    const out: Array<{ node: TreeNode }> = [];
    const seen = new Map<string, TreeNode>();
    const walk = (n: TreeNode): void => {
      if (n.deleted) return;
      if (n.kind === "group") {
        const key = overrideKey(n);
        if (seen.has(key)) {
          const viaCli = n.externalAppend ? ` (added by '+${key}=${choiceText(n.option)}'; use ${key}=${choiceText(n.option)} to change the choice)` : "";
          throw this.err(n.externalAppend ? "E_OVERRIDE" : "E_CONFIG", `${key} appears more than once in the final defaults list${viaCli}`, n.externalAppend ? this.overridesFile : n.containerFile, key);
        }
        seen.set(key, n);
      }
      if (!n.children) {
        if (n.loaded) out.push({ node: n });
        return;
      }
      for (const c of n.children) {
        if (c === "self") out.push({ node: n });
        else walk(c);
      }
    };
    walk(root);
    return out;
  }

  merge(items: Array<{ node: TreeNode }>, origins?: Map<string, string>): ConfigMap {
    const config: ConfigMap = {};
    for (const { node } of items) {
      const content = node.loaded!.config;
      const pkg = finalPackage(node);
      if (origins) recordOrigins(origins, pkg, content, node.loaded!.file);
      let target: ConfigMap = config;
      for (const seg of pkg === "" ? [] : pkg.split(".")) {
        const cur = target[seg];
        if (isConfigMap(cur)) target = cur;
        else {
          const fresh: ConfigMap = {};
          target[seg] = fresh;
          target = fresh;
        }
      }
      for (const k of Object.keys(content)) {
        if (k === "defaults") continue; // the defaults list is never part of the output
        const ov = content[k]!;
        const cur = target[k];
        if (isConfigMap(ov) && isConfigMap(cur)) mergeInto(cur, ov);
        else target[k] = deepClone(ov);
      }
    }
    return config;
  }

  choices(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const [k, v] of [...this.knownChoices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = choiceText(v.option);
    return out;
  }

  applyValueOverride(config: ConfigMap, o: Override): void {
    // A `sweep:` grid entry is named where the project file writes it, not as the command line.
    const file = o.source?.file ?? this.overridesFile;
    const segs = splitPath(o.key);
    if (o.key === "" || segs.some((s) => s === "")) throw this.err("E_OVERRIDE", `Invalid key '${o.key}' in '${o.input}'`, file, o.key);
    const exists = getPath(config, segs) !== undefined;
    const value = o.value === undefined ? undefined : toConfigValue(o.value as ElementValue);
    const setOrMerge = (): void => {
      const cur = getPath(config, segs);
      if (isConfigMap(cur) && isConfigMap(value)) mergeInto(cur, value);
      else this.set(config, segs, value ?? null, o);
    };
    switch (o.type) {
      case "change": {
        if (!exists) {
          const hint = this.didYouMeanKey(config, segs);
          throw this.err("E_OVERRIDE", `Could not override '${o.key}': key not in config. To append to your config use +${o.input}`, file, o.source?.key ?? o.key, o.source ? (hint ?? `in ${o.source.key.replace(/\.[^.]*$/, "")}, write the key as '+${o.key}' to add it`) : hint);
        }
        // Hydra composes in struct mode: a map merged into a map may change its keys, not add new ones.
        const cur = getPath(config, segs);
        const extra = isConfigMap(cur) && isConfigMap(value) ? newKey(cur, value) : undefined;
        if (extra !== undefined) {
          throw this.err("E_OVERRIDE", `Could not override '${o.key}': key '${o.key}.${extra}' is not in the config. To append to your config use +${o.input}`, file, `${o.key}.${extra}`);
        }
        setOrMerge();
        return;
      }
      case "add":
        if (exists) {
          const cur = getPath(config, segs);
          // As Hydra: `+key={...}` or `+key=[...]` on an existing key merges (its keys may be new).
          if (value !== null && value !== undefined && typeof value === "object" && (isConfigMap(value) || Array.isArray(value))) {
            if (isConfigMap(cur) && isConfigMap(value)) mergeInto(cur, value);
            else this.set(config, segs, value, o);
            return;
          }
          throw this.err("E_OVERRIDE", `Could not append to config: '${o.key}' is already in the config (value ${JSON.stringify(cur)}); use ++${o.input.replace(/^\+/, "")} to force, or ${o.input.replace(/^\+/, "")} to change it`, file, o.key);
        }
        this.set(config, segs, value ?? null, o);
        return;
      case "force_add":
        setOrMerge();
        return;
      case "delete": {
        if (!exists) {
          const hint = this.didYouMeanKey(config, segs);
          throw this.err("E_OVERRIDE", `Could not delete from config: '${o.key}' does not exist`, file, o.key, hint);
        }
        const cur = getPath(config, segs)!;
        if (value !== undefined && !configEquals(cur, value)) {
          throw this.err("E_OVERRIDE", `Could not delete from config: the value of '${o.key}' is ${JSON.stringify(cur)}, not ${JSON.stringify(value)}`, file, o.key);
        }
        deletePath(config, segs);
        return;
      }
    }
  }

  set(config: ConfigMap, segs: string[], value: ConfigValue, o: Override): void {
    try {
      setPath(config, segs, value);
    } catch (e) {
      throw this.err("E_OVERRIDE", `Could not apply '${o.input}': ${(e as Error).message}`, this.overridesFile, o.key);
    }
  }

  /** A hint naming the closest existing key, replacing the first missing segment. */
  didYouMeanKey(config: ConfigMap, segs: string[]): string | undefined {
    let node: ConfigValue = config;
    for (let k = 0; k < segs.length; k++) {
      const seg = segs[k]!;
      if (!isConfigMap(node)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(node, seg)) {
        const best = didYouMean(seg, Object.keys(node));
        return best === undefined ? undefined : `did you mean '${[...segs.slice(0, k), best, ...segs.slice(k + 1)].join(".")}'?`;
      }
      node = node[seg]!;
    }
    return undefined;
  }
}

/** A group option from an override value: a name (string, number, bool), a list of names, null; undefined if neither. */
function optionOf(v: ElementValue): string | string[] | null | undefined {
  if (v === null) return null;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) {
    const names = v.map((x) => optionOf(x));
    return names.every((x): x is string => typeof x === "string") ? names : undefined;
  }
  if (v.kind === "quoted") return v.text;
  if (v.kind === "float") return pyFloatRepr(v.value);
  return undefined;
}

/** True when `key` names a config group of `repo` (a group, or a folder holding groups). */
export function isConfigGroup(repo: ConfigRepo, key: string): boolean {
  if (key === "" || key.includes(".")) return false;
  if (repo.groups.has(key)) return true;
  const prefix = `${key}/`;
  for (const g of repo.groups.keys()) if (g.startsWith(prefix)) return true;
  return false;
}

/**
 * Sorted option names of a config group, for `glob(...)` sweeps over a group. Throws
 * `E_OVERRIDE` (with a did-you-mean of group names) for an unknown group.
 */
export function sweepGroupOptions(repo: ConfigRepo, group: string): string[] {
  const opts = repo.groups.get(group.replace(/^\//, ""));
  if (!opts) {
    const dym = didYouMean(group, [...repo.groups.keys()].filter((k) => k !== ""));
    throw new CorralError("E_OVERRIDE", `Unknown config group '${group}'`, {
      location: { file: OVERRIDES_FILE, key: group },
      ...(dym ? { hint: `did you mean '${dym}'?` } : {}),
    });
  }
  return [...opts.keys()].sort();
}

/**
 * Compose one run's config: build the defaults tree (group selections from `overrides` applied
 * first), merge its configs in order at their packages, then apply the value overrides in order.
 * Interpolations are left as they are (see `resolveInterpolations`). Throws `CorralError`
 * (`E_OVERRIDE` for a bad override, `E_CONFIG` for a bad config) with file and key.
 */
/** The first key path of `value` that `cur` lacks (nested maps followed), if any. */
function newKey(cur: ConfigMap, value: ConfigMap): string | undefined {
  for (const [k, v] of Object.entries(value)) {
    if (!Object.prototype.hasOwnProperty.call(cur, k)) return k;
    const c = cur[k];
    if (isConfigMap(c) && isConfigMap(v)) {
      const deeper = newKey(c, v);
      if (deeper !== undefined) return `${k}.${deeper}`;
    }
  }
  return undefined;
}

/** Every leaf key of `content` (placed at `pkg`) as written in `file`: later files win, as in the merge. */
function recordOrigins(origins: Map<string, string>, pkg: string, content: ConfigMap, file: string): void {
  for (const [k, v] of Object.entries(content)) {
    if (k === "defaults" && pkg === "") continue;
    const key = pkg === "" ? k : `${pkg}.${k}`;
    origins.set(key, file);
    if (isConfigMap(v)) recordOrigins(origins, key, v, file);
  }
}

/**
 * The file that set each key of the composed config (`model.hidden` -> `conf/model/big.yaml`;
 * value overrides -> "command line"), for messages about a value: composition run again, with
 * its bookkeeping, only when a message needs it.
 */
export function configOrigins(input: ComposeInput): Map<string, string> {
  const primary = input.primary ?? {};
  const defaults = input.defaults ?? parseDefaultsList(primary.defaults, input.sourceFile ?? "config");
  const c = new Composer(input, primary, defaults);
  c.classify();
  const root = c.buildRoot();
  const origins = new Map<string, string>();
  c.merge(c.flatten(root), origins);
  for (const o of c.configOverrides) origins.set(o.key.replace(/^[+~]+/, ""), OVERRIDES_FILE);
  return origins;
}

/** The file a dotted key (or its nearest parent) came from, per {@link configOrigins}. */
export function originOf(origins: Map<string, string>, key: string): string | undefined {
  for (let k = key; k !== ""; k = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "") {
    const f = origins.get(k);
    if (f !== undefined) return f;
  }
  return undefined;
}

export function composeConfig(input: ComposeInput): ComposeResult {
  const primary = input.primary ?? {};
  let defaults = input.defaults;
  if (defaults === undefined) defaults = parseDefaultsList(primary.defaults, input.sourceFile ?? "config");
  const c = new Composer(input, primary, defaults);
  c.classify();
  const root = c.buildRoot();
  c.ensureUsed();
  const config = c.merge(c.flatten(root));
  for (const o of c.configOverrides) c.applyValueOverride(config, o);
  const hydra = isConfigMap(config.hydra) ? pruneEmpty(config.hydra) : {};
  delete config.hydra;
  const all = c.choices();
  const choices: Record<string, string | null> = {};
  const hydraChoices: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(all)) (k.startsWith("hydra/") ? hydraChoices : choices)[k] = v;
  return { config, choices, hydra, hydraChoices };
}

/** `m` without the maps left empty (the groups Hydra provides add one each). */
function pruneEmpty(m: ConfigMap): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(m)) {
    if (!isConfigMap(v)) out[k] = v;
    else {
      const inner = pruneEmpty(v);
      if (Object.keys(inner).length > 0) out[k] = inner;
    }
  }
  return out;
}
