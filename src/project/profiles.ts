/**
 * Profiles: named bundles of settings (launcher, resources, container, setup, env, paths,
 * overrides) applied over the project config, chosen by name (`-P cluster,gpu`) or detected
 * through `when` (host name globs, environment variables, a program on PATH).
 *
 * `applyProfiles` is pure: the host's facts come in as data. `loadProfileFiles` reads
 * `profiles/<name>.yaml` beside the project file; `resolvePaths` turns the `paths:` map into
 * absolute paths; `substitutePaths` expands `${paths.name}` in commands and rule patterns.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import picomatch from "picomatch";
import { z } from "zod";
import { CorralError, didYouMean } from "../errors.js";
import { composeConfig, type ConfigRepo, type DefaultsEntry, type GroupOption } from "../plan/compose.js";
import { isConfigMap } from "../plan/configpath.js";
import { markerOf } from "../plan/dag.js";
import { withoutFloats } from "../plan/float.js";
import { fillHydraRefs, hydraSettings, isCorralKey, isHydraKey, overrideDirname, type OverrideDirnameRule } from "../plan/hydra-app.js";
import { parseOverrides, toConfigValue } from "../plan/overrides.js";
import type { ConfigMap, ElementValue, Override } from "../plan/types.js";
import { CORRAL_LAUNCHER_PREFIX, launcherFromHydra } from "./hydra-launcher.js";
import { resolveInterpolations } from "../plan/interpolate.js";
import { containerSchema, describeIssues, issueMessages, profileSchema, sweepSchema } from "./schema.js";
import type { ContainerConfig, ProfileConfig, ProjectConfig, RuleConfig } from "./schema.js";
import { locate, parseYamlSource } from "./yaml-source.js";

/** What automatic profile choice may look at; injected so choice is testable without a host. */
export interface HostFacts {
  hostname: string;
  env: Record<string, string | undefined>;
  /** Whether a program is on PATH. */
  onPath: (cmd: string) => boolean;
}

/** The project config with profiles applied. */
export interface AppliedProfiles {
  config: ProjectConfig;
  /** Profile names applied, in order. */
  applied: string[];
  /** Why each was applied, one line per profile (same order as `applied`). */
  reasons: string[];
  /** The profiles' config overrides, concatenated in order (applied before command-line ones). */
  overrides: string[];
}

/** Absolute path of `cmd` found on `PATH` (or `cmd` itself when it contains a slash), else undefined. */
export function findOnPath(cmd: string, env: Record<string, string | undefined>): string | undefined {
  const isExe = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes("/")) return isExe(cmd) ? path.resolve(cmd) : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (isExe(p)) return p;
  }
  return undefined;
}

/** The facts automatic profile choice reads, from this host and the given environment. */
export function hostFacts(env: Record<string, string | undefined>): HostFacts {
  return { hostname: os.hostname(), env, onPath: (cmd) => findOnPath(cmd, env) !== undefined };
}

/**
 * Apply profiles to a project config. With `names`, exactly those, in order (later ones win);
 * without, the first profile in file order whose `when` holds, if any.
 *
 * Merging: `launcher`, `resources`, `env`, `paths` and `container` maps merge key by key;
 * `setup` lines, `launcher.sbatch_args`, `container.binds` and `container.options` append;
 * `overrides` concatenate.
 * @throws CorralError E_USAGE for an unknown profile name (with the available ones),
 *   E_CONFIG when a profile leaves the container without a runtime or image.
 */
export function applyProfiles(cfg: ProjectConfig, names: string[], facts: HostFacts): AppliedProfiles {
  const available = Object.keys(cfg.profiles);
  const chosen: Array<[string, string]> = [];
  if (names.length > 0) {
    for (const name of names) {
      if (!(name in cfg.profiles)) {
        const guess = didYouMean(name, available);
        throw new CorralError("E_USAGE", `unknown profile '${name}'${guess ? ` (did you mean '${guess}'?)` : ""}`, {
          hint: available.length ? `available profiles: ${available.join(", ")}` : "this project defines no profiles (add `profiles:` to corral.yaml or a profiles/<name>.yaml file)",
          location: { file: "<command line>", key: "profile" },
        });
      }
      chosen.push([name, "chosen with -P"]);
    }
  } else {
    for (const name of available) {
      const why = matchWhen(cfg.profiles[name]!, facts);
      if (why !== undefined) {
        chosen.push([name, why]);
        break;
      }
    }
  }
  let config = cfg;
  const overrides: string[] = [];
  for (const [name, _] of chosen) {
    const p = cfg.profiles[name]!;
    config = mergeProfile(config, p, name);
    overrides.push(...(p.overrides ?? []));
  }
  return { config, applied: chosen.map(([n]) => n), reasons: chosen.map(([n, r]) => `${n}: ${r}`), overrides };
}

/**
 * Why a profile's `when` holds (e.g. `hostname 'login01' matches 'login*'`), or undefined when it
 * does not or has no conditions. All given conditions must hold; any hostname glob may match.
 */
export function matchWhen(p: ProfileConfig, facts: HostFacts): string | undefined {
  const w = p.when;
  if (!w) return undefined;
  const why: string[] = [];
  if (w.hostname) {
    const hit = w.hostname.find((g) => picomatch.isMatch(facts.hostname, g, { nocase: true, dot: true }));
    if (hit === undefined) return undefined;
    why.push(`hostname '${facts.hostname}' matches '${hit}'`);
  }
  for (const cond of w.env ?? []) {
    const eq = cond.indexOf("=");
    const name = eq < 0 ? cond : cond.slice(0, eq);
    const value = facts.env[name];
    if (eq < 0) {
      if (value === undefined || value === "") return undefined;
      why.push(`${name} is set`);
    } else {
      if (value !== cond.slice(eq + 1)) return undefined;
      why.push(`${name}=${value}`);
    }
  }
  if (w.command !== undefined) {
    if (!facts.onPath(w.command)) return undefined;
    why.push(`'${w.command}' is on PATH`);
  }
  return why.length ? why.join(" and ") : undefined;
}

function mergeProfile(cfg: ProjectConfig, p: ProfileConfig, name: string): ProjectConfig {
  const out: ProjectConfig = { ...cfg };
  if (p.launcher || p.setup) {
    const l = p.launcher ?? {};
    const base = cfg.launcher;
    const merged = { ...base };
    for (const [k, v] of Object.entries(l)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    const setup = [...(base.setup ?? []), ...(l.setup ?? []), ...(p.setup ?? [])];
    if (setup.length) merged.setup = setup;
    if (l.sbatch_args) merged.sbatch_args = [...(base.sbatch_args ?? []), ...l.sbatch_args];
    if (l.env) merged.env = { ...(base.env ?? {}), ...l.env };
    out.launcher = merged;
  }
  if (p.resources) out.resources = { ...cfg.resources, ...defined(p.resources) };
  if (p.env) out.env = { ...cfg.env, ...p.env };
  if (p.paths) out.paths = { ...cfg.paths, ...p.paths };
  if (p.container) {
    const b = cfg.container;
    const c = p.container;
    const merged = {
      ...(b ?? {}),
      ...defined(c),
      ...(b?.binds || c.binds ? { binds: [...(b?.binds ?? []), ...(c.binds ?? [])] } : {}),
      ...(b?.options || c.options ? { options: [...(b?.options ?? []), ...(c.options ?? [])] } : {}),
      ...(b?.env || c.env ? { env: { ...(b?.env ?? {}), ...(c.env ?? {}) } } : {}),
    };
    if (merged.runtime === undefined) {
      throw new CorralError("E_CONFIG", `profiles.${name}.container.runtime is required: the project has no container for it to patch`, {
        hint: "set container.runtime (charliecloud, apptainer, singularity, podman or docker) in the profile or the project",
        location: { file: "<profile>", key: `profiles.${name}.container.runtime` },
      });
    }
    const checked = containerSchema.safeParse(merged, { reportInput: true, error: issueMessages });
    if (!checked.success) {
      const first = describeIssues(checked.error.issues, ["profiles", name, "container"])[0]!;
      throw new CorralError("E_CONFIG", first.message, {
        hint: "a profile's container patches the project's `container`; without one it needs `runtime` and `image`",
        location: { file: "<profile>", key: first.key },
      });
    }
    out.container = checked.data as ContainerConfig;
  }
  return out;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Read `profiles/<name>.yaml` files in `projectDir` (each one profile, same keys as under
 * `profiles:`). Errors name the file, line and key.
 * @param shownDir how the project folder is written in messages.
 */
export function loadProfileFiles(projectDir: string, shownDir = projectDir): Record<string, ProfileConfig> {
  const dir = path.join(projectDir, "profiles");
  const out: Record<string, ProfileConfig> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)\.ya?ml$/.exec(f);
    if (!m || f.startsWith(".")) continue;
    const shown = path.join(shownDir, "profiles", f);
    const src = parseYamlSource(readFileSync(path.join(dir, f), "utf8"), shown);
    const parsed = profileSchema.safeParse(withoutFloats(src.value ?? {}), { reportInput: true, error: issueMessages });
    if (!parsed.success) {
      const first = describeIssues(parsed.error.issues)[0]!;
      const pos = locate(src, first.path);
      throw new CorralError("E_CONFIG", first.message, { location: { file: shown, ...(pos ? { line: pos.line, column: pos.column } : {}), key: first.key } });
    }
    out[m[1]!] = parsed.data;
  }
  return out;
}

/**
 * The `paths:` map made absolute: `${oc.env:USER}` and other interpolations resolved, relative
 * paths taken from the project folder.
 */
export function resolvePaths(paths: Record<string, string>, projectDir: string, env: Record<string, string | undefined>, file: string): Record<string, string> {
  const resolved = resolveInterpolations({ paths }, { env, now: new Date(0) }, file).paths as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(resolved)) out[k] = path.resolve(projectDir, String(v));
  return out;
}

const PATH_REF = /\$\{paths\.([A-Za-z0-9_-]+)\}/g;

/**
 * Replace `${paths.name}` in a string. Other `${...}` are left for later stages.
 * @throws CorralError E_CONFIG for an unknown path name (with a did-you-mean).
 */
export function substitutePaths(text: string, paths: Record<string, string>, where: { file: string; key: string }): string {
  if (!text.includes("${paths.")) return text;
  return text.replace(PATH_REF, (_, name: string) => {
    const v = paths[name];
    if (v === undefined) {
      const guess = didYouMean(name, Object.keys(paths));
      throw new CorralError("E_CONFIG", `unknown path '\${paths.${name}}'${guess ? ` (did you mean 'paths.${guess}'?)` : ""}`, {
        hint: Object.keys(paths).length ? `defined paths: ${Object.keys(paths).join(", ")}` : "define it under `paths:` in corral.yaml or a profile",
        location: where,
      });
    }
    return v;
  });
}

type FileSpec = RuleConfig["output"];
type InputConfig = NonNullable<RuleConfig["input"]>;
const isMarked = (v: unknown): boolean => markerOf(v) !== undefined;
type FileItemSpec = string | { temp: string } | { protected: string } | { ancient: string };

/** Apply `f` to the path of one file item, plain or marked (`{temp: path}`). */
function mapItem(item: FileItemSpec, f: (s: string) => string): FileItemSpec {
  if (typeof item === "string") return f(item);
  const [k, v] = Object.entries(item)[0]!;
  return { [k]: f(v as string) } as FileItemSpec;
}

/**
 * The config with `${paths.name}` expanded in the command, rule inputs/outputs/logs/commands and
 * targets, and the resolved paths stored back. The primary config gets a `paths` key (unless the
 * user's config already has one) so `${paths.data}` also resolves inside run configs.
 */
export function applyPaths(cfg: ProjectConfig, paths: Record<string, string>, file: string): ProjectConfig {
  const sub = (s: string, key: string): string => substitutePaths(s, paths, { file, key });
  const subSpec = <S extends FileSpec>(v: S, key: string): S => {
    const one = (x: FileItemSpec, k: string): FileItemSpec => mapItem(x, (t) => sub(t, k));
    if (typeof v === "string" || isMarked(v)) return one(v as FileItemSpec, key) as S;
    if (Array.isArray(v)) return v.map((x: FileItemSpec, i) => one(x, `${key}[${i}]`)) as S;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Array.isArray(x) ? x.map((y: FileItemSpec) => one(y, `${key}.${k}`)) : one(x as FileItemSpec, `${key}.${k}`)])) as S;
  };
  type Item = unknown;
  const subItem = (x: Item, key: string): Item =>
    typeof x === "string" || isMarked(x)
      ? mapItem(x as FileItemSpec, (t) => sub(t, key))
      : typeof x === "object" && x !== null && "expand" in x && typeof x.expand === "string"
        ? { ...x, expand: sub(x.expand, `${key}.expand`) }
        : x;
  const subInput = (v: InputConfig, key: string): InputConfig => {
    if (typeof v === "function") return v;
    if (Array.isArray(v)) return v.map((x, i) => subItem(x, `${key}[${i}]`)) as InputConfig;
    if (typeof v === "string" || isMarked(v) || "expand" in v) return subItem(v, key) as InputConfig;
    return Object.fromEntries(Object.entries(v).map(([n, x]) => [n, Array.isArray(x) ? x.map((y) => subItem(y, `${key}.${n}`)) : subItem(x, `${key}.${n}`)])) as InputConfig;
  };
  const rules: Record<string, RuleConfig> = {};
  for (const [name, r] of Object.entries(cfg.rules)) {
    const k = `rules.${name}`;
    rules[name] = {
      ...r,
      output: subSpec(r.output, `${k}.output`),
      ...(r.input !== undefined ? { input: subInput(r.input, `${k}.input`) } : {}),
      ...(typeof r.log === "string" ? { log: sub(r.log, `${k}.log`) } : r.log ? { log: Object.fromEntries(Object.entries(r.log).map(([n, x]) => [n, sub(x, `${k}.log.${n}`)])) } : {}),
      // A function's result is the user's own: paths in it are not rewritten.
      ...(typeof r.shell === "string" ? { shell: sub(r.shell, `${k}.shell`) } : {}),
      ...(Array.isArray(r.run) ? { run: r.run.map((w) => sub(w, `${k}.run`)) } : {}),
    };
  }
  const targets = cfg.targets.map((t, i) => (typeof t === "string" ? sub(t, `targets[${i}]`) : { ...t, expand: sub(t.expand, `targets[${i}].expand`) }));
  const hasPaths = Object.keys(paths).length > 0;
  const config = hasPaths && !("paths" in cfg.config) ? { ...cfg.config, paths: { ...paths } } : cfg.config;
  return {
    ...cfg,
    paths,
    config,
    rules,
    targets,
    ...(cfg.command ? { command: cfg.command.map((w) => sub(w, "command")) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Hydra habit: a config group option that carries Corral settings (`+setup=hpc_gpu`)

/** The `corral:` key of a config group option: profile settings plus `profile` and `sweep_dir`. */
export const presetSchema = profileSchema.omit({ when: true }).extend({
  /** Profiles to apply (after any `-P` ones). */
  profile: z.union([z.string(), z.array(z.string())], { error: "must be a profile name or a list of names" }).optional(),
  /** Sweep folder template. */
  sweep_dir: z.string().min(1).optional(),
});
/** Resolved `corral:` settings of a config group option. */
export type PresetConfig = z.output<typeof presetSchema>;

/** What the selected presets contribute. */
export interface SelectedPresets {
  /** Profile names the presets ask for, in order. */
  profiles: string[];
  /** Their other settings, as profiles to apply after those. */
  patches: Array<{ name: string; profile: ProfileConfig; sweepDir?: string }>;
  /** The repo with every option's `corral:` key removed, so none reaches a run's config. */
  repo: ConfigRepo;
}

/**
 * Find the config group options selected by the defaults list (`{group: option}` entries) and by
 * `group=option` / `+group=option` overrides whose file has a `corral:` key, validate those keys,
 * and strip them from the repo.
 * @throws CorralError E_CONFIG naming the option's file and key when a `corral:` key is invalid.
 */
export function selectPresets(repo: ConfigRepo, defaults: DefaultsEntry[], overrides: string[]): SelectedPresets {
  const chosen: Array<[string, string]> = [];
  for (const d of defaults) {
    if (d.kind === "group" && typeof d.option === "string") chosen.push([d.group.replace(/^\//, ""), d.option]);
  }
  for (const o of overrides) {
    // Only simple selections; a sweep over presets would need one launcher per run.
    const m = /^\+{0,2}([A-Za-z0-9_./-]+)=([A-Za-z0-9_.-]+)$/.exec(o);
    if (m && repo.groups.has(m[1]!)) {
      const i = chosen.findIndex(([g]) => g === m[1]);
      if (i >= 0) chosen.splice(i, 1);
      chosen.push([m[1]!, m[2]!]);
    }
  }
  const out: SelectedPresets = { profiles: [], patches: [], repo: { ...repo, groups: new Map() } };
  for (const [group, options] of repo.groups) {
    const copy = new Map<string, GroupOption>();
    for (const [name, opt] of options) {
      if (!("corral" in opt.config)) {
        copy.set(name, opt);
        continue;
      }
      const { corral, ...rest } = opt.config;
      copy.set(name, { ...opt, config: rest });
      if (!chosen.some(([g, n]) => g === group && n === name)) continue;
      const parsed = presetSchema.safeParse(withoutFloats(corral), { reportInput: true, error: issueMessages });
      if (!parsed.success) {
        const first = describeIssues(parsed.error.issues, ["corral"])[0]!;
        throw new CorralError("E_CONFIG", first.message, { location: { file: opt.file, key: first.key } });
      }
      const { profile, sweep_dir, ...settings } = parsed.data;
      if (profile !== undefined) out.profiles.push(...(typeof profile === "string" ? [profile] : profile));
      out.patches.push({ name: `${group}=${name}`, profile: settings, ...(sweep_dir !== undefined ? { sweepDir: sweep_dir } : {}) });
    }
    out.repo.groups.set(group, copy);
  }
  return out;
}

/** Apply the presets' own settings (after the profiles), as `applyProfiles` merges a profile. */
export function applyPresets(cfg: ProjectConfig, presets: SelectedPresets): { config: ProjectConfig; overrides: string[]; reasons: string[] } {
  let config = cfg;
  const overrides: string[] = [];
  for (const p of presets.patches) {
    config = mergeProfile(config, p.profile, p.name);
    if (p.sweepDir !== undefined) config = { ...config, sweep_dir: p.sweepDir };
    overrides.push(...(p.profile.overrides ?? []));
  }
  return { config, overrides, reasons: presets.patches.map((p) => `${p.name}: corral settings of the config group option`) };
}

// ---------------------------------------------------------------------------------------------
// Hydra habit: launcher presets under `hydra.launcher`, and `corral.launcher.*` overrides

/**
 * The launcher settings a Hydra user wrote under `hydra.launcher` (the composed node of the
 * invocation: primary config, chosen group options such as `+platform=horeka`, the
 * `hydra.launcher.*` overrides; sweep overrides do not choose a launcher, as in Hydra), then
 * `corral.launcher.<key>=<value>` overrides, applied over the project's `launcher:` as a profile is.
 * @throws CorralError E_CONFIG / E_OVERRIDE naming the key of a setting Corral cannot use.
 */
export function applyHydraLauncher(cfg: ProjectConfig, repo: ConfigRepo, overrides: string[], file: string, env: Record<string, string | undefined> = {}): { config: ProjectConfig; reasons: string[]; detach?: boolean; allRunsInOneJob?: boolean; hydraDirs?: HydraDirs } {
  let parsed: Override[];
  try {
    parsed = parseOverrides(overrides);
  } catch {
    return { config: cfg, reasons: [] }; // reported, with its column, when the runs are planned
  }
  const fixed = parsed.filter((o) => !o.isSweep);
  const reasons: string[] = [];
  let config = cfg;
  let node: ConfigMap | undefined;
  let choice: string | null | undefined;
  let hydraNode: ConfigMap | undefined;
  try {
    const composed = composeConfig({ repo, ...(cfg.config ? { primary: cfg.config as ConfigMap } : {}), defaults: cfg.defaults as DefaultsEntry[], overrides: fixed.filter((o) => !isHydraKey(o.key) && !isCorralKey(o.key)), sourceFile: file });
    const hydra = hydraSettings(composed.hydra, composed.hydraChoices, fixed.filter((o) => isHydraKey(o.key)));
    node = isConfigMap(hydra.launcher) ? resolvedLauncher(hydra.launcher, composed.config, hydra, env) : undefined;
    hydraNode = hydra;
    const choices = (hydra.runtime as ConfigMap).choices as Record<string, string | null>;
    choice = choices["hydra/launcher"];
  } catch {
    // A config that cannot be composed is reported when the runs are planned, naming its key.
  }
  const hydraDirs = hydraNode ? hydraDirsOf(hydraNode, fixed, cfg.command ?? [], file) : undefined;
  // Hydra's basic sweeper: hydra.sweeper.params is the sweep of `-m` (in the override grammar, as
  // corral.yaml's `sweep:`), unless corral.yaml has one; sweep overrides on the command line still win per key.
  const params = hydraNode && isConfigMap(hydraNode.sweeper) && isConfigMap(hydraNode.sweeper.params) ? hydraNode.sweeper.params : undefined;
  if (params && Object.keys(params).length > 0 && cfg.sweep.length === 0) {
    const grid = sweepSchema.safeParse(withoutFloats(params), { reportInput: true, error: issueMessages });
    if (!grid.success) {
      const first = describeIssues(grid.error.issues, ["hydra", "sweeper", "params"])[0]!;
      throw new CorralError("E_CONFIG", first.message, { location: { file, key: first.key } });
    }
    config = { ...config, sweep: grid.data };
    reasons.push("hydra.sweeper.params: the sweep");
  }
  const fromHydra = hydraLauncherPatch(config, node, choice, file);
  config = fromHydra.config;
  reasons.push(...fromHydra.reasons);
  const own = corralLauncherOverrides(config, fixed);
  config = own.config;
  reasons.push(...own.reasons);
  return { config, reasons, ...(fromHydra.detach ? { detach: true } : {}), ...(fromHydra.allRunsInOneJob ? { allRunsInOneJob: true } : {}), ...(hydraDirs ? { hydraDirs } : {}) };
}

/**
 * A composed `hydra.launcher` node (and the `hydra/launcher` choice) as launcher settings over the
 * project's, as a profile's: submitit's and clusterduck's keys (project/hydra-launcher.ts).
 */
export function hydraLauncherPatch(cfg: ProjectConfig, node: ConfigMap | undefined, choice: string | null | undefined, file: string): { config: ProjectConfig; reasons: string[]; detach?: boolean; allRunsInOneJob?: boolean } {
  const plan = launcherFromHydra(node ?? {}, choice, file);
  if (!plan) return { config: cfg, reasons: [] };
  let config = patchLauncher(cfg, plan.launcher, "hydra.launcher", file);
  // clusterduck's cuda resource: each parallel run gets its share of the job's GPUs, unless the project says.
  if (plan.gpusPerRun !== undefined && config.resources.gpus === undefined) config = { ...config, resources: { ...config.resources, gpus: plan.gpusPerRun } };
  return { config, reasons: [`hydra.launcher${plan.plugin ? ` (${plan.plugin})` : ""}: launcher settings`], ...(plan.detach ? { detach: true } : {}), ...(plan.allRunsInOneJob ? { allRunsInOneJob: true } : {}) };
}

/** `corral.launcher.<key>=<value>` overrides (Corral's reserved namespace) over the launcher settings. */
export function corralLauncherOverrides(cfg: ProjectConfig, overrides: Override[]): { config: ProjectConfig; reasons: string[] } {
  const own: Record<string, unknown> = {};
  for (const o of overrides) {
    if (!isCorralKey(o.key) || o.isSweep) continue;
    const key = o.key.replace(/^\+{1,2}/, "");
    if (!key.startsWith(CORRAL_LAUNCHER_PREFIX) || o.type === "delete" || o.value === undefined) {
      throw new CorralError("E_OVERRIDE", `'${o.input}': only corral.launcher.<key>=<value> sets Corral's settings from the command line`, {
        location: { file: "<command line>", key: o.key },
        hint: "corral.launcher.<key> takes the launcher keys of corral.yaml (corral.launcher.parallel=2); other settings belong in corral.yaml or a profile (-P)",
      });
    }
    own[key.slice(CORRAL_LAUNCHER_PREFIX.length)] = withoutFloats(toConfigValue(o.value as ElementValue));
  }
  if (Object.keys(own).length === 0) return { config: cfg, reasons: [] };
  return { config: patchLauncher(cfg, own, "corral.launcher", "<command line>"), reasons: ["corral.launcher.* overrides: launcher settings"] };
}

/**
 * Where a Hydra user's `hydra.run.dir` (a single run) and `hydra.sweep.dir` (a multirun) put
 * Corral's sweep folder: templates with Hydra's `${hydra.job.name}` and
 * `${hydra.job.override_dirname}` filled in (`${now:...}` is left to the sweep folder's resolver).
 */
export interface HydraDirs {
  run?: string;
  sweep?: string;
  /** Set on the command line (`hydra.sweep.dir=...`): wins over corral.yaml's `sweep_dir`. */
  fromCommandLine: boolean;
  /** `hydra.sweep.subdir`: each run's folder name, filled per run (`${hydra.job.num}` is the index). */
  subdir?: string;
  jobName?: string;
  rule?: OverrideDirnameRule;
}

function hydraDirsOf(hydra: ConfigMap, fixed: Override[], command: string[], file: string): HydraDirs | undefined {
  const run = isConfigMap(hydra.run) && typeof hydra.run.dir === "string" ? hydra.run.dir : undefined;
  const sweep = isConfigMap(hydra.sweep) && typeof hydra.sweep.dir === "string" ? hydra.sweep.dir : undefined;
  if (run === undefined && sweep === undefined && !(isConfigMap(hydra.sweep) && typeof hydra.sweep.subdir === "string")) return undefined;
  // Hydra's job name: the app's script without .py (hydra.job.name when set).
  const job = isConfigMap(hydra.job) ? hydra.job : {};
  const script = command.find((a) => a.endsWith(".py")) ?? command[0] ?? "app";
  const name = typeof job.name === "string" ? job.name : path.basename(script).replace(/\.py$/, "");
  // Hydra's override_dirname: the task overrides as typed, sorted, joined (hydra.job.config.override_dirname).
  const od = isConfigMap(job.config) && isConfigMap(job.config.override_dirname) ? job.config.override_dirname : {};
  const rule = {
    kvSep: typeof od.kv_sep === "string" ? od.kv_sep : "=",
    itemSep: typeof od.item_sep === "string" ? od.item_sep : ",",
    exclude: Array.isArray(od.exclude_keys) ? od.exclude_keys.map(String) : [],
  };
  const dirname = overrideDirname(fixed.filter((o) => !isCorralKey(o.key)).map((o) => o.input), rule);
  // Named where it was written: the command line (`hydra.sweep.dir=...`) or the project's configs.
  const given = (key: string): boolean => fixed.some((o) => o.key.replace(/^\+{1,2}/, "") === key);
  const fill = (t: string, key: string): string =>
    fillHydraRefs(t, { "job.name": name, "job.override_dirname": dirname }, (_ref, all) => {
      throw new CorralError(given(key) ? "E_OVERRIDE" : "E_CONFIG", `${key}: '${all}' is not known before the runs start (Corral fills in \${hydra.job.name} and \${hydra.job.override_dirname})`, { location: { file: given(key) ? "<command line>" : file, key } });
    });
  // The run folders' names (hydra.sweep.subdir), checked now; filled per run when the sweep is created.
  const subdir = isConfigMap(hydra.sweep) && typeof hydra.sweep.subdir === "string" ? hydra.sweep.subdir : undefined;
  if (subdir !== undefined) {
    fillHydraRefs(subdir, { "job.name": "", "job.num": "", "job.id": "", "job.override_dirname": "" }, (_ref, all) => {
      throw new CorralError("E_CONFIG", `hydra.sweep.subdir: '${all}' is not known before the runs start (Corral fills in \${hydra.job.num}, \${hydra.job.id}, \${hydra.job.name} and \${hydra.job.override_dirname})`, { location: { file, key: "hydra.sweep.subdir" } });
    });
  }
  const fromCommandLine = fixed.some((o) => /^\+{0,2}hydra\.(run|sweep)\.dir$/.test(o.key));
  return {
    ...(run !== undefined ? { run: fill(run, "hydra.run.dir") } : {}),
    ...(sweep !== undefined ? { sweep: fill(sweep, "hydra.sweep.dir") } : {}),
    ...(subdir !== undefined ? { subdir, jobName: name, rule } : {}),
    fromCommandLine,
  };
}

/**
 * `hydra.launcher` values that interpolate the config (`tasks_per_node: ${trainer.devices}`), each
 * resolved as Hydra would, against the job config and the hydra node; a value that refers to what
 * only Hydra knows at run time (`${hydra.job.name}`) is left as written.
 */
export function resolvedLauncher(launcher: ConfigMap, job: ConfigMap, hydra: ConfigMap, env: Record<string, string | undefined>): ConfigMap {
  const out: ConfigMap = { ...launcher };
  for (const [k, v] of Object.entries(launcher)) {
    if (typeof v !== "string" || !v.includes("${")) continue;
    try {
      const r = resolveInterpolations({ ...job, hydra: { ...hydra, launcher: { [k]: v } } }, { env, now: new Date() }, "hydra.launcher");
      out[k] = ((r.hydra as ConfigMap).launcher as ConfigMap)[k]!;
    } catch {
      /* kept as written */
    }
  }
  return out;
}

/** Validate `launcher` keys (corral.yaml spelling) and merge them over the project's, as a profile's. */
function patchLauncher(cfg: ProjectConfig, raw: Record<string, unknown>, prefix: string, file: string): ProjectConfig {
  const parsed = presetSchema.safeParse({ launcher: raw }, { reportInput: true, error: issueMessages });
  if (!parsed.success) {
    const first = describeIssues(parsed.error.issues, [])[0]!;
    const key = first.key.replace(/^launcher/, prefix);
    throw new CorralError(file === "<command line>" ? "E_OVERRIDE" : "E_CONFIG", first.message.replace(/^launcher/, prefix), { location: { file, key } });
  }
  return mergeProfile(cfg, parsed.data, prefix);
}
