/**
 * `corral flow`: decide (load rules and targets, stat the files the DAG names, read build
 * records, decide every job), then do (create a sweep of kind "flow" with one run per job that
 * must run, and drive it with a head loop that submits each job once its inputs are built).
 *
 * Everything a job needs is resolved before anything starts and stored in `<sweep>/flow.json`,
 * so neither a compute node nor `corral resume` re-reads the project file.
 */
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { planOneRun } from "./config-view.js";
import { CorralError, countOf, didYouMean } from "../errors.js";
import type { JobScheduling, LaunchPreview, LaunchSettings, ResourceAsk } from "../launchers/launcher.js";
import { makeLauncher, schedulingGpus } from "../launchers/registry.js";
import { containerWrap } from "../plan/container.js";
import { buildDag, renderArgv, renderShell, type Dag, type Job, type ResourcesSpec, type RuleContext, type RuleResources, type RuleSpec, type TargetSpec } from "../plan/dag.js";
import { resolveAgainst, type InterpolationContext } from "../plan/interpolate.js";
import { describeIssues, issueMessages, ruleResourcesSchema, type RuleConfig } from "../project/schema.js";
import { ConfigFloat } from "../plan/float.js";
import { parseOverride, toConfigValue } from "../plan/overrides.js";
import { wildcardNames } from "../plan/patterns.js";
import { sweepValues } from "../plan/sweep.js";
import type { ConfigMap, ConfigValue, ElementValue, SweepValue } from "../plan/types.js";
import { decideJobs, jobHashes, summarize, type BuildRecord, type DagSummary, type Decision, type InputStamp } from "../plan/uptodate.js";
import type { ProjectConfig, RuleResourcesConfig } from "../project/schema.js";
import { readBuildRecords, readIncompleteMarks, type IncompleteMark } from "../store/buildrecords.js";
import { readJsonSync, writeJsonAtomicSync } from "../store/fsutil.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { RunEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import { headJobId, indexSweep, isHeadJob, readManifest, readRunStatus, workOf, writeManifest } from "../store/store.js";
import { launchSettingsRecord, TERMINAL_STATES } from "../store/protocol.js";
import { pidAlive } from "../store/fsutil.js";
import { gitInfo } from "../project/git.js";
import { chooseSweepDir, makeSweepDir, sweepIdOf } from "./launch.js";
import { memToMb } from "../plan/retry.js";
import type { ProjectContext } from "../project/open.js";
import { localSettingsOf, resolveSettings, type SettingFlags } from "../launchers/settings.js";
import { FLOW_FILE, FLOW_STATE_DIR, FOLDER_DONE_MARKER, HEAD_LOG, LOCK, sweepWorkDir } from "../store/layout.js";

/** `corral flow` as typed options. */
export interface FlowRequest extends SettingFlags {
  project: ProjectContext;
  /** Command-line words: targets (paths, rule names) and `key=values` overrides of expand targets. */
  args: string[];
  forcerun?: string[];
  /** `-F`: every job runs. */
  forceall?: boolean;
  until?: string;
  rerunIncomplete: boolean;
  keepGoing: boolean;
  name?: string;
  env: Record<string, string | undefined>;
  now: Date;
}

/** The decided plan: the DAG, each job's decision, and the launch settings. */
export interface FlowPlan {
  request: FlowRequest;
  dag: Dag;
  decisions: Decision[];
  summary: DagSummary;
  settings: LaunchSettings;
  /** Project env merged with the profiles' env. */
  env: Record<string, string>;
  /** Command-line overrides (for the manifest). */
  overrides: string[];
  /** What the profiles add to rule resources, and where each key is written. */
  profiles?: ResourceProfiles;
}

export type { FlowAttempt, FlowFile, FlowJobSpec } from "../store/protocol.js";
import type { FlowAttempt, FlowFile, FlowJobSpec } from "../store/protocol.js";
import { detectCpus } from "../worker/resources.js";
export { FLOW_FILE };

// ---------------------------------------------------------------------------------------------
// Decide

/**
 * What the applied profiles add to rule resources (Snakemake's `--default-resources` and
 * `--set-resources`): `default_resources` merged project first, then each profile in order;
 * `set_resources` per rule, each profile in order.
 */
export interface ResourceProfiles {
  defaults: RuleResources;
  perRule: Record<string, RuleResources>;
  /** Where each key of `defaults` and of each rule's `perRule` entry is written (a dotted key of the project file). */
  at?: { defaults: Record<string, string>; perRule: Record<string, Record<string, string>> };
}

/**
 * Collect `default_resources` (project, then the applied profiles) and `set_resources` (applied
 * profiles) of a project. A `set_resources` entry naming no rule is an error with a did-you-mean.
 */
export function resourceProfiles(project: Pick<ProjectContext, "config" | "profiles" | "file">): ResourceProfiles {
  const cfg = project.config;
  let defaults: RuleResources = stripUndefined(cfg.default_resources ?? {});
  const perRule: Record<string, RuleResources> = {};
  const at: NonNullable<ResourceProfiles["at"]> = { defaults: {}, perRule: {} };
  for (const k of Object.keys(defaults)) at.defaults[k] = `default_resources.${k}`;
  const ruleNames = Object.keys(cfg.rules);
  // Presets (`group=option`) are applied as settings, not looked up here: they have no entry in `profiles`.
  for (const name of project.profiles) {
    const p = cfg.profiles[name];
    if (p === undefined) continue;
    if (p.default_resources) {
      defaults = { ...defaults, ...stripUndefined(p.default_resources) };
      for (const k of Object.keys(stripUndefined(p.default_resources))) at.defaults[k] = `profiles.${name}.default_resources.${k}`;
    }
    for (const [rule, r] of Object.entries(p.set_resources ?? {})) {
      if (!(rule in cfg.rules)) {
        const near = didYouMean(rule, ruleNames);
        throw new CorralError("E_CONFIG", `profile '${name}' sets resources of rule '${rule}', which the project does not have${near !== undefined ? ` (did you mean '${near}'?)` : ""}`, {
          hint: ruleNames.length ? `rules: ${ruleNames.join(", ")}` : "this project has no rules",
          location: { file: project.file, key: `profiles.${name}.set_resources.${rule}` },
        });
      }
      perRule[rule] = { ...(perRule[rule] ?? {}), ...stripUndefined(r) };
      for (const k of Object.keys(stripUndefined(r))) (at.perRule[rule] ??= {})[k] = `profiles.${name}.set_resources.${rule}.${k}`;
    }
  }
  return { defaults, perRule, at };
}

/** A rule's scheduler settings (`partition` ... `slurm_extra`) among its resolved resources; undefined when it sets none. */
export function schedulingOf(resources: RuleResources): JobScheduling | undefined {
  const r = resources as RuleResourcesConfig;
  const out: JobScheduling = {
    ...(r.partition !== undefined ? { partition: r.partition } : {}),
    ...(r.account !== undefined ? { account: r.account } : {}),
    ...(r.qos !== undefined ? { qos: r.qos } : {}),
    ...(r.constraint !== undefined ? { constraint: r.constraint } : {}),
    ...(r.gres !== undefined ? { gres: r.gres } : {}),
    ...(r.nodes !== undefined ? { nodes: r.nodes } : {}),
    ...(r.slurm_extra !== undefined && r.slurm_extra.length > 0 ? { extra: r.slurm_extra } : {}),
  };
  return Object.keys(out).length > 0 ? out : undefined;
}

const SCHEDULING_KEYS = ["partition", "account", "qos", "constraint", "gres", "nodes", "slurm_extra"] as const;

/** Where each scheduler key of a rule is written, following the precedence of `rulesOf`. */
function schedulingAt(cfg: ProjectConfig, profiles: ResourceProfiles | undefined, rule: string): Record<string, string> {
  const out: Record<string, string> = {};
  const own = (cfg.rules[rule]?.resources ?? {}) as Record<string, unknown>;
  for (const k of SCHEDULING_KEYS) {
    const where = profiles?.at?.perRule[rule]?.[k] ?? (own[k] !== undefined ? `rules.${rule}.resources.${k}` : profiles?.at?.defaults[k]);
    if (where !== undefined) out[k] = where;
  }
  return out;
}

/**
 * The rules whose jobs run on the head's machine: top-level `localrules` (Snakemake's directive)
 * and rules with `local: true`. A name in `localrules` that is no rule is an error (exit 2).
 */
export function localRulesOf(cfg: ProjectConfig, file: string): Set<string> {
  const names = Object.keys(cfg.rules);
  const out = new Set<string>();
  (cfg.localrules ?? []).forEach((name, i) => {
    if (!(name in cfg.rules)) {
      const near = didYouMean(name, names);
      throw new CorralError("E_CONFIG", `localrules names rule '${name}', which the project does not have${near !== undefined ? ` (did you mean '${near}'?)` : ""}`, {
        hint: names.length ? `rules: ${names.join(", ")}` : "this project has no rules",
        location: { file, key: `localrules[${i}]` },
      });
    }
    out.add(name);
  });
  for (const [name, r] of Object.entries(cfg.rules)) if (r.local === true) out.add(name);
  return out;
}

/**
 * The key of the jobs the head may hand to the launcher in one submission (one SLURM array):
 * equal resources, scheduler settings and place, any rule, so one request fits them all.
 */
export function flowBatchKey(j: FlowJobSpec): string {
  return `${j.cpus}|${j.gpus}|${j.memMB}|${j.timeoutS ?? ""}|${j.local ? "local" : ""}|${j.scheduling ? JSON.stringify(j.scheduling) : ""}`;
}

/** What `${key}` in a YAML rule or target reads: the flow's config. */
export interface FlowInterpolation {
  config: ConfigMap;
  ctx: InterpolationContext;
  file: string;
}

/**
 * Rules of the project as the planner takes them. Each resource key comes from the first that
 * sets it of: a profile's `set_resources` for the rule, the rule's own `resources`,
 * `default_resources` (profiles over project), the project's `resources` (patched by profiles).
 * As in Snakemake, `set_resources` overrides the rule; `default_resources` only fills gaps.
 * With `interp`, `${key}` in params, inputs and targets reads the flow's config; a TS rule's
 * functions stay functions (the DAG calls them per job), and their source is the rule's `code`.
 */
export function rulesOf(cfg: ProjectConfig, extra: ResourceProfiles = { defaults: stripUndefined(cfg.default_resources ?? {}), perRule: {} }, interp?: FlowInterpolation): RuleSpec[] {
  return Object.entries(cfg.rules).map(([name, r0]) => {
    const r = interp ? interpolateRule(name, r0, interp) : r0;
    const base = { ...stripUndefined(cfg.resources), ...extra.defaults };
    const over = extra.perRule[name] ?? {};
    const own = r.resources;
    const resources: ResourcesSpec =
      typeof own === "function" ? (ctx: RuleContext) => ({ ...base, ...(own(ctx) as object), ...over }) : { ...base, ...stripUndefined((own ?? {}) as object), ...over };
    const code = codeOf(r0);
    // Global constraints fill in what the rule does not constrain itself (Snakemake's order).
    const constraints = cfg.wildcard_constraints ? { ...cfg.wildcard_constraints, ...(r.wildcard_constraints ?? {}) } : r.wildcard_constraints;
    // The effective container (the rule's own, else the project's as patched by profiles): its change reruns the rule.
    const container = r.container ?? cfg.container;
    return {
      ...r,
      name,
      input: r.input ?? [],
      resources,
      ...(container !== undefined ? { container } : {}),
      ...(constraints ? { wildcard_constraints: constraints } : {}),
      ...(code !== undefined ? { code } : {}),
    } as RuleSpec;
  });
}

/** The source text of a rule's functions, in key order; undefined when it has none. */
function codeOf(rule: object): string | undefined {
  const fns: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "function") fns.push(v.toString());
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
  };
  for (const v of Object.values(rule)) walk(v);
  return fns.length > 0 ? fns.join("\n") : undefined;
}

/** `${key}` in a value (functions and values without `${` untouched), resolved against the flow's config. */
function interpolated<T>(v: T, at: string, interp: FlowInterpolation): T {
  if (typeof v === "function" || !JSON.stringify(v ?? null).includes("${")) return v;
  return resolveAgainst(v as ConfigValue, interp.config, interp.ctx, interp.file, at) as T;
}

/** A rule with `${key}` resolved in its params and inputs (not in outputs, logs or commands). */
function interpolateRule(name: string, r: RuleConfig, interp: FlowInterpolation): RuleConfig {
  const k = `rules.${name}`;
  const item = (x: unknown, at: string): unknown => {
    const v = interpolated(x, at, interp);
    if (typeof x === "string" && typeof v !== "string") {
      throw new CorralError("E_INTERPOLATION", `${at}: '${x}' must give a path, got ${JSON.stringify(v)}`, { location: { file: interp.file, key: at }, hint: "use {expand: pattern, key: ${list}} to turn a config list into paths" });
    }
    return v;
  };
  let input = r.input;
  if (input !== undefined && typeof input !== "function") {
    const inp = input as unknown;
    if (Array.isArray(inp)) input = inp.map((x, i) => item(x, `${k}.input[${i}]`)) as typeof input;
    else if (typeof inp === "string" || (typeof inp === "object" && inp !== null && "expand" in inp)) input = item(inp, `${k}.input`) as typeof input;
    else input = Object.fromEntries(Object.entries(inp as object).map(([n, x]) => [n, Array.isArray(x) ? x.map((y, i) => item(y, `${k}.input.${n}[${i}]`)) : item(x, `${k}.input.${n}`)])) as typeof input;
  }
  let params = r.params;
  if (params !== undefined && typeof params !== "function") params = Object.fromEntries(Object.entries(params).map(([n, v]) => [n, interpolated(v, `${k}.params.${n}`, interp)]));
  let resources = r.resources;
  if (resources !== undefined && typeof resources !== "function" && !Object.values(resources).some((v) => typeof v === "function") && JSON.stringify(resources).includes("${")) {
    const raw = Object.fromEntries(Object.entries(resources).map(([n, v]) => [n, interpolated(v, `${k}.resources.${n}`, interp)]));
    try {
      resources = normalizeResources(raw);
    } catch (e) {
      throw new CorralError("E_CONFIG", `rule '${name}': ${(e as Error).message}`, { location: { file: interp.file, key: `${k}.resources` } });
    }
  }
  return { ...r, ...(input !== undefined ? { input } : {}), ...(params !== undefined ? { params } : {}), ...(resources !== undefined ? { resources } : {}) };
}

/** Targets with `${key}` resolved against the flow's config (`{expand: ..., model: ${models}}`). */
function interpolateTargets(targets: readonly TargetSpec[], interp: FlowInterpolation): TargetSpec[] {
  return targets.map((t, i) => interpolated(t, `targets[${i}]`, interp));
}

/** Check and normalise resources a rule function returned, as the project file's are. */
function normalizeResources(raw: Record<string, unknown>): RuleResources {
  const r = ruleResourcesSchema.safeParse(stripUndefined(raw), { reportInput: true, error: issueMessages });
  if (!r.success) throw new Error(describeIssues(r.error.issues, ["resources"]).map((p) => p.message)[0] ?? "invalid resources");
  return stripUndefined(r.data) as RuleResources;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const elementText = (e: ElementValue): string => {
  const v = toConfigValue(e);
  return v !== null && typeof v === "object" && !(v instanceof ConfigFloat) ? JSON.stringify(v) : String(v);
};

/**
 * Split command-line words into targets and overrides. An override naming a wildcard of an expand
 * target gives its values (`model=a,b seed='range(3)'`); any other is a config override in Hydra
 * grammar (`lr=0.05`, `+extra=1`, `~key`), one value per key, applied to the flow's config.
 */
export function resolveTargets(
  configTargets: readonly TargetSpec[],
  args: readonly string[],
  projectDir: string,
  cwd: string,
): { targets: TargetSpec[]; overrides: string[]; configOverrides: string[]; wildcards: string[] } {
  const overrides = args.filter((a) => a.includes("=") || a.startsWith("~"));
  const named = args
    .filter((a) => !overrides.includes(a))
    .map((a) => {
      // A path typed from a subfolder (or absolute) is made relative to the project.
      if (!a.includes("/") && !path.isAbsolute(a)) return a;
      const rel = path.relative(projectDir, path.resolve(cwd, a));
      return rel.startsWith("..") ? a : rel;
    });
  const base: TargetSpec[] = named.length > 0 ? named : [...configTargets];
  if (base.length === 0) {
    throw new CorralError("E_USAGE", "no targets: name files or rules on the command line, or list them under `targets:` in the project file");
  }
  // Wildcards of the expand targets (a `${key}` of the config is not one).
  const known = new Set<string>();
  for (const t of base) {
    if (typeof t !== "string") for (const w of wildcardNames(t.expand.replace(/\$\{[^}]*\}/g, ""), `Target expand '${t.expand}'`)) known.add(w);
  }
  const values = new Map<string, string[]>();
  const configOverrides: string[] = [];
  for (const text of overrides) {
    const o = parseOverride(text);
    if (o.type === "change" && o.value !== undefined && o.pkg === undefined && known.has(o.key)) {
      const els = o.isSweep ? sweepValues(o.value as SweepValue, o.key) : [o.value as ElementValue];
      values.set(o.key, els.flatMap((e) => (Array.isArray(e) ? e.map(elementText) : [elementText(e)])));
      continue;
    }
    const near = didYouMean(o.key, known);
    if (o.isSweep && near !== undefined) {
      throw new CorralError("E_USAGE", `override '${o.key}=...' names no wildcard of an expand target`, { hint: `Did you mean '${near}'?` });
    }
    if (o.isSweep) {
      throw new CorralError("E_USAGE", `override '${text}': a flow takes one value per config key`, {
        hint: known.size ? `sweep over a wildcard of an expand target instead (${[...known].join(", ")}), or give the values as a list: ${o.key}=[a,b]` : `give the values as a list (${o.key}=[a,b]) and aggregate over it in a rule's input`,
        location: { file: "<command line>", key: o.key },
      });
    }
    configOverrides.push(text);
  }
  const targets = base.map((t): TargetSpec => {
    if (typeof t === "string") return t;
    const copy: { expand: string; [w: string]: ConfigValue } = { ...t };
    for (const w of wildcardNames(t.expand.replace(/\$\{[^}]*\}/g, ""), `Target expand '${t.expand}'`)) {
      const v = values.get(w);
      if (v !== undefined) copy[w] = v;
    }
    return copy;
  });
  return { targets, overrides, configOverrides, wildcards: [...known] };
}

/**
 * The flow's config: the project's config composed as `corral run` composes it (inline `config:`
 * or `config_dir` with its defaults list, the profiles' overrides, then `overrides`), with its
 * interpolations resolved. An override of an unknown key (without `+`) fails as for `corral run`.
 */
export function flowConfig(project: ProjectContext, overrides: string[], env: Record<string, string | undefined>, now: Date): ConfigMap {
  return planOneRun(project, overrides, env, now).run(0).config;
}

/**
 * A stat cache over the project folder: each path is stat'ed at most once. Files have a size;
 * a folder's time is its completion marker's (when its job wrote one) and it has no size.
 */
export function makeStatter(projectDir: string): (p: string) => { mtimeMs: number; size?: number } | undefined {
  const cache = new Map<string, { mtimeMs: number; size?: number } | null>();
  const prefix = projectDir.endsWith("/") ? projectDir : projectDir + "/";
  return (p) => {
    let v = cache.get(p);
    if (v === undefined) {
      let st: { mtimeMs: number; size: number; isDirectory(): boolean } | undefined;
      const abs = p.startsWith("/") ? p : prefix + p;
      try {
        st = statSync(abs, { throwIfNoEntry: false });
      } catch (e) {
        // A file where a folder is expected (ENOTDIR), a name too long: the output does not exist.
        if (!["ENOTDIR", "ENAMETOOLONG", "EACCES"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
      }
      // A folder's time is its completion marker's, when its job wrote one.
      const marker = st?.isDirectory() ? statSync(path.join(abs, FOLDER_DONE_MARKER), { throwIfNoEntry: false }) : undefined;
      v = st ? (st.isDirectory() ? { mtimeMs: (marker ?? st).mtimeMs } : { mtimeMs: st.mtimeMs, size: st.size }) : null;
      cache.set(p, v);
    }
    return v ?? undefined;
  };
}

/** sha256 (hex) of a file's content, read in chunks; undefined for a folder or an unreadable file. */
export function fileSha256(abs: string): string | undefined {
  let fd: number;
  try {
    if (statSync(abs).isDirectory()) return undefined;
    fd = openSync(abs, "r");
  } catch {
    return undefined;
  }
  try {
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(n === buf.length ? buf : buf.subarray(0, n));
    }
    return h.digest("hex");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A content-hash cache over the project folder (one plan): each path is hashed at most once. */
export function makeChecksummer(projectDir: string): (p: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (p) => {
    if (!cache.has(p)) cache.set(p, fileSha256(path.resolve(projectDir, p)));
    return cache.get(p);
  };
}

/**
 * Stamps of a finished job's inputs for its build record: mtime, size and sha256 of each file;
 * a folder's time is its completion marker's and it is not hashed; a missing input gets a stamp
 * without checksum (judged by mtime). `cache` (per head) keeps each hash while mtime and size stay.
 */
export function inputStamps(projectDir: string, inputs: readonly string[], cache: Map<string, InputStamp>): Record<string, InputStamp> {
  const stat = makeStatter(projectDir);
  const out: Record<string, InputStamp> = {};
  for (const i of inputs) {
    const st = stat(i);
    if (st === undefined) {
      out[i] = { mtimeMs: 0, size: -1 };
      continue;
    }
    if (st.size === undefined) {
      out[i] = { mtimeMs: st.mtimeMs, size: -1 };
      continue;
    }
    const had = cache.get(i);
    if (had !== undefined && had.mtimeMs === st.mtimeMs && had.size === st.size) {
      out[i] = had;
      continue;
    }
    const sha256 = fileSha256(path.resolve(projectDir, i));
    const stamp: InputStamp = { mtimeMs: st.mtimeMs, size: st.size, ...(sha256 !== undefined ? { sha256 } : {}) };
    cache.set(i, stamp);
    out[i] = stamp;
  }
  return out;
}

/** Decide: load, build the DAG, decide each job. Reads the disk (stats, records); writes nothing. */
export async function planFlow(req: FlowRequest, cwd = req.project.dir): Promise<FlowPlan> {
  const project = req.project;
  // Profiles (-P, or the automatic choice) were applied by openProject, as for `corral run`.
  const cfg = project.config;
  const split = resolveTargets(cfg.targets as TargetSpec[], req.args, project.dir, cwd);
  const { overrides } = split;
  let config: ConfigMap;
  try {
    config = flowConfig(project, split.configOverrides, req.env, req.now);
  } catch (e) {
    // `corral flow mdoel=a`: a typo of a target's wildcard reads as an unknown config key.
    const key = e instanceof CorralError ? e.location?.key : undefined;
    const near = key !== undefined ? didYouMean(key, split.wildcards) : undefined;
    if (!(e instanceof CorralError) || near === undefined || !split.configOverrides.some((o) => parseOverride(o).key === key)) throw e;
    throw new CorralError(e.code, e.message, { ...(e.location ? { location: e.location } : {}), hint: `a config override; did you mean the wildcard '${near}' of an expand target?`, exitCode: e.exitCode, cause: e });
  }
  const interp: FlowInterpolation = { config, ctx: { env: req.env, now: req.now }, file: project.file };
  const targets = interpolateTargets(split.targets, interp);
  const stat = makeStatter(project.dir);
  const profiles = resourceProfiles(project);
  localRulesOf(cfg, project.file);
  const dag = buildDag({
    rules: rulesOf(cfg, profiles, interp),
    targets,
    exists: (p) => stat(p) !== undefined,
    config,
    file: project.file,
    normalizeResources,
  });
  const records = readBuildRecords(project.dir);
  const incomplete = new Set<string>();
  // "Incomplete" means its writer is dead: a job of an earlier flow whose worker still runs it
  // (its head was killed) is never started a second time beside it.
  const { dead, live } = await splitByWriter(readIncompleteMarks(project.dir));
  if (live.length > 0) {
    const sweeps = [...new Set(live.map((m) => m.sweep))];
    const outs = live.flatMap((m) => m.outputs);
    throw new CorralError("E_LOCKED", `${outs.length} output${outs.length === 1 ? " is" : "s are"} still being written by a running job of an earlier flow (${outs.slice(0, 3).map((o) => `'${o}'`).join(", ")}${outs.length > 3 ? ", ..." : ""})`, {
      hint: `corral resume ${sweeps[0]} continues that flow and adopts its running jobs; or wait for them, or stop them with corral cancel ${sweeps[0]}`,
      exitCode: 2,
    });
  }
  for (const m of dead) for (const o of m.outputs) incomplete.add(o);
  const decisions = decideJobs(
    dag,
    { stat, records: (o) => records.get(o), incomplete: (o) => incomplete.has(o), checksum: makeChecksummer(project.dir) },
    { ...(req.forcerun ? { forcerun: req.forcerun } : {}), ...(req.forceall ? { forceall: true } : {}), ...(req.until !== undefined ? { until: req.until } : {}), rerunIncomplete: req.rerunIncomplete },
  );
  const settings = resolveSettings(cfg, req);
  return { request: req, dag, decisions, summary: summarize(dag, decisions), settings, env: { ...cfg.env }, overrides, profiles };
}

/**
 * Split incomplete marks by whether the job that writes the outputs may still be running: its
 * flow's worker or scheduler job is alive (asked through the launcher of the flow that started
 * it, after recovering workers that flow never recorded). A flow that is gone has dead writers.
 */
async function splitByWriter(marks: IncompleteMark[]): Promise<{ dead: IncompleteMark[]; live: IncompleteMark[] }> {
  const dead: IncompleteMark[] = [];
  const live: IncompleteMark[] = [];
  const bySweep = new Map<string, IncompleteMark[]>();
  for (const m of marks) bySweep.set(m.sweep, [...(bySweep.get(m.sweep) ?? []), m]);
  for (const [sweep, ms] of bySweep) {
    let manifest: SweepManifest;
    try {
      manifest = readManifest(sweep);
    } catch {
      dead.push(...ms);
      continue;
    }
    // A live head of that flow holds the flow lock: the lock refuses with a better message.
    const here = hostname();
    if (manifest.jobs.some((j) => isHeadJob(j) && j.host === here && j.pid !== undefined && pidAlive(j.pid))) continue;
    const launcher = makeLauncher(manifest.settings);
    const work = workOf(manifest);
    work.jobs.push(...(launcher.recover ? await launcher.recover(work) : []));
    const facts = await launcher.explain(work);
    const indexOf = new Map(manifest.runs.map((r) => [r.job, r.index]));
    for (const m of ms) {
      const i = indexOf.get(m.jobKey);
      const f = i === undefined ? undefined : facts.get(i);
      // A final record: its writer is done (dead or on its way out), whatever its process does now.
      const rec = i === undefined ? undefined : readRunStatus(path.join(manifest.dir, manifest.runs[i]!.dir));
      const alive = (rec === undefined || !TERMINAL_STATES.has(rec.state)) && f !== undefined && (f.workerAlive === true || f.scheduler === "running" || (f.scheduler === "pending" && f.workerAlive !== false));
      (alive ? live : dead).push(m);
    }
  }
  return { dead, live };
}

/** `4G` / `500M` / `1.5T` / `4GiB` in whole megabytes; 0 when unset or unreadable. */
export const memToMB = (mem: string | undefined): number => Math.ceil((mem === undefined ? undefined : memToMb(mem)) ?? 0);

/** The jobs that will run, resolved for the head (commands rendered, deps as run indexes). */
export function flowJobs(plan: FlowPlan): FlowJobSpec[] {
  const { dag, decisions } = plan;
  const project = plan.request.project;
  // Under a scheduler: localrules run on this machine; the others carry their rule's scheduler
  // settings (a gres naming GPUs gives each job that many when the rule sets no `gpus`).
  // The local launcher has no use for either.
  const scheduler = plan.settings.type !== "local";
  const localRules = scheduler ? localRulesOf(project.config, project.file) : new Set<string>();
  // Static rules share one resources object; a rule whose resources are a function has one per job.
  const schedulingOfResources = new WeakMap<RuleResources, JobScheduling | undefined>();
  const runIndex = new Int32Array(dag.jobs.length).fill(-1);
  const out: FlowJobSpec[] = [];
  // Temp files are kept when a target names them (as in Snakemake).
  const targetFiles = new Set(dag.targets.flatMap((t) => t.files));
  const isTemp = (f: string): boolean => {
    if (targetFiles.has(f)) return false;
    const p = dag.byOutput.get(f);
    return p !== undefined && dag.jobs[p]!.temp.includes(f);
  };
  for (const job of dag.jobs) {
    const d = decisions[job.id]!;
    if (!d.run) continue;
    const index = out.length;
    runIndex[job.id] = index;
    const spec = job.spec;
    const argvOf = (j: Job): string[] =>
      j.spec.shell !== undefined ? ["/bin/sh", "-c", renderShell(j.spec.shell, j)] : j.spec.run !== undefined ? renderArgv(j.spec.run, j) : ["/bin/sh", "-c", ":"];
    const argv = argvOf(job);
    const deps: number[] = [];
    for (const dep of job.deps) if (runIndex[dep]! >= 0) deps.push(runIndex[dep]!);
    const r = job.resources;
    const local = localRules.has(job.rule);
    if (!schedulingOfResources.has(r)) schedulingOfResources.set(r, scheduler ? schedulingOf(r) : undefined);
    const scheduling = local ? undefined : schedulingOfResources.get(r);
    // Later attempts whose resources or command are functions of `attempt`: only what differs.
    const attempts = job.attempts?.map((a): FlowAttempt | null => {
      if (a === null) return null;
      const view: Job = { ...job, resources: a.resources, spec: { ...spec, ...(a.shell !== undefined ? { shell: a.shell } : {}), ...(a.run !== undefined ? { run: a.run } : {}) } };
      const av = argvOf(view);
      const out: FlowAttempt = {};
      if (JSON.stringify(av) !== JSON.stringify(argv)) out.argv = av;
      if ((a.resources.cpus ?? 1) !== (r.cpus ?? 1)) out.cpus = a.resources.cpus ?? 1;
      if (memToMB(a.resources.mem) !== memToMB(r.mem)) out.memMB = memToMB(a.resources.mem);
      if (a.resources.timeout !== r.timeout && a.resources.timeout !== undefined) out.timeoutS = a.resources.timeout;
      return Object.keys(out).length > 0 ? out : null;
    });
    out.push({
      index,
      key: job.key,
      rule: job.rule,
      wildcards: job.wildcards,
      argv,
      inputs: job.inputs,
      outputs: job.outputs,
      log: job.log,
      deps,
      cpus: r.cpus ?? 1,
      gpus: r.gpus ?? (scheduling ? schedulingGpus(scheduling) : undefined) ?? 0,
      memMB: memToMB(r.mem),
      ...(r.timeout !== undefined ? { timeoutS: r.timeout } : {}),
      retries: spec.retries ?? 0,
      ...(attempts?.some((a) => a !== null) ? { attempts } : {}),
      priority: job.priority,
      hashes: jobHashes(job),
      reason: d.detail ? `${d.reason}: ${d.detail}` : d.reason,
      ...(scheduling ? { scheduling } : {}),
      ...(local ? { local: true as const } : {}),
    });
    const temp = [...job.outputs, ...job.inputs].filter(isTemp);
    if (temp.length > 0) out[index]!.temp = temp;
    if (job.protected.length > 0) out[index]!.protected = job.protected;
  }
  return out;
}

/**
 * What a flow would hand its launcher, for `--dry-run`: one preview (SLURM: an sbatch script per
 * array chunk) per group of jobs the head may submit together (equal resources and scheduler
 * settings), and a line for the jobs that run on this machine (localrules). Creates nothing.
 */
export async function previewFlow(plan: FlowPlan): Promise<LaunchPreview[]> {
  const launcher = makeLauncher(plan.settings);
  if (!launcher.preview) return [];
  const req = plan.request;
  const project = req.project;
  const jobs = flowJobs(plan);
  const groups = new Map<string, FlowJobSpec[]>();
  for (const j of jobs) {
    const k = flowBatchKey(j);
    const g = groups.get(k);
    if (g) g.push(j);
    else groups.set(k, [j]);
  }
  const dir = chooseSweepDir(project, req.now, req.env, req.name);
  const sweep: SweepManifest = {
    type: "sweep",
    version: 1,
    id: sweepIdOf(dir),
    kind: "flow",
    createdAt: req.now.getTime(),
    dir,
    projectDir: project.dir,
    command: ["corral", "flow", ...req.args],
    overrides: plan.overrides,
    launcher: plan.settings.type,
    runs: [],
    jobs: [],
    settings: launchSettingsRecord(plan.settings),
  };
  const out: LaunchPreview[] = [];
  let chunk = 0;
  for (const group of groups.values()) {
    const j = group[0]!;
    const rules = [...new Set(group.map((g) => g.rule))].map((r) => `'${r}'`).join(", ");
    const what = `${countOf(group.length, "job")} of rule${rules.includes(",") ? "s" : ""} ${rules}`;
    if (j.local) {
      out.push({ name: `${what}: run on this machine (localrules), no sbatch script`, text: "" });
      continue;
    }
    const need = { cpus: j.cpus, gpus: j.gpus, memMB: j.memMB, timeoutS: j.timeoutS, ...(j.scheduling ? { scheduling: j.scheduling } : {}) };
    const settings = launcher.size ? launcher.size(plan.settings, need, group.length) : plan.settings;
    const runs: RunSpec[] = group.map((g) => ({ index: g.index, id: "", dir: path.join(dir, String(g.index)), argv: g.argv, cwd: project.dir, env: {}, cpus: g.cpus, gpus: g.gpus, attempt: 1 }));
    const files = await launcher.preview({ sweep, runs, settings, round: 0 });
    for (const f of files) out.push({ name: `${f.name} (${what})`, text: f.text });
    // The next group's chunks are numbered after these, as the head numbers them.
    sweep.jobs.push({ jobId: "preview", launcher: launcher.type, submittedAt: 0, batches: files.map(() => ({ batchId: `${chunk++}-0`, runs: [] })) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Do

/** A created flow sweep (nothing submitted yet: the head does that). */
export interface CreatedFlow {
  manifest: SweepManifest;
  flow: FlowFile;
  /** What was adjusted to fit this machine (a rule's CPUs scaled down), one line each. */
  warnings: string[];
}

/**
 * The local launcher, as Snakemake scales a rule's threads down to the cores it has: a job asking
 * more CPUs than this machine offers (or than `--cores`) runs with what there is. One line per rule.
 */
export function scaleDownCpus(plan: FlowPlan, jobs: FlowJobSpec[]): string[] {
  // Under a scheduler only the jobs of localrules run here.
  const allHere = plan.settings.type === "local";
  if (!allHere && !jobs.some((j) => j.local)) return [];
  const machine = (allHere ? plan.settings.cpuIds?.length : undefined) ?? detectCpus().length;
  const cap = Math.max(1, allHere ? Math.min(machine, plan.settings.parallel) : machine);
  const said = new Map<string, number>();
  for (const j of jobs) {
    for (const a of j.attempts ?? []) {
      if (a?.cpus === undefined || a.cpus <= cap || !(allHere || j.local)) continue;
      if (!said.has(j.rule)) said.set(j.rule, a.cpus);
      a.cpus = cap;
    }
    if (j.cpus <= cap || !(allHere || j.local)) continue;
    if (!said.has(j.rule)) said.set(j.rule, j.cpus);
    j.cpus = cap;
  }
  return [...said].map(([rule, asked]) => `rule '${rule}' asks for ${asked} CPUs; this machine offers ${cap}${cap < machine ? " (--cores)" : ""}: its jobs run with ${cap}`);
}

/**
 * Refuse a flow that would overwrite an existing `protected` output (Snakemake's "Write-protected
 * output files"), before anything starts.
 * @throws CorralError E_WORKFLOW (exit 2) naming the rule and the files.
 */
export function refuseProtected(projectDir: string, jobs: readonly FlowJobSpec[]): void {
  for (const j of jobs) {
    const there = (j.protected ?? []).filter((o) => lstatSync(path.resolve(projectDir, o), { throwIfNoEntry: false }) !== undefined);
    if (there.length === 0) continue;
    throw new CorralError("E_WORKFLOW", `Write-protected output files for rule '${j.rule}' (${j.key}): ${there.map((o) => `'${o}'`).join(", ")}; ${j.reason}`, {
      hint: "A protected output is never overwritten: remove it yourself (rm -f) if it should be rebuilt.",
    });
  }
}

/** After a job succeeded: its `protected` outputs become read-only (chmod a-w), folders with everything in them. */
export function protectOutputs(projectDir: string, outputs: readonly string[]): void {
  const strip = (p: string): void => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined || st.isSymbolicLink()) return;
    if (st.isDirectory()) for (const e of readdirSync(p)) strip(path.join(p, e));
    chmodSync(p, st.mode & ~0o222);
  };
  for (const o of outputs) strip(path.resolve(projectDir, o));
}

/**
 * Create the sweep folder, `sweep.json` (kind "flow", one run per job, DAG edges) and
 * `flow.json`. Renders every command first, so a bad placeholder fails before anything exists.
 */
export async function createFlowSweep(plan: FlowPlan): Promise<CreatedFlow> {
  const req = plan.request;
  const project = req.project;
  const jobs = flowJobs(plan);
  refuseProtected(project.dir, jobs);
  const warnings = scaleDownCpus(plan, jobs);
  // Each distinct ask once: a 100,000-job DAG has a handful of resource shapes (and each rule
  // with its own scheduler settings once). Jobs of localrules ask this machine.
  const asks = new Map<string, ResourceAsk>();
  const localAsks = new Map<string, ResourceAsk>();
  for (const j of jobs) {
    const ask: ResourceAsk = { cpus: j.cpus, gpus: j.gpus, memMB: j.memMB, who: `rule '${j.rule}'`, location: { file: project.file, key: `rules.${j.rule}.resources` } };
    if (j.local) localAsks.set(`${j.cpus}|${j.gpus}|${j.memMB}`, ask);
    else if (j.scheduling) asks.set(`rule:${j.rule}`, { ...ask, scheduling: j.scheduling, schedulingAt: schedulingAt(project.config, plan.profiles, j.rule) });
    else asks.set(`${j.cpus}|${j.gpus}|${j.memMB}`, ask);
  }
  const launcher = makeLauncher(plan.settings);
  await launcher.validate({ settings: plan.settings, env: req.env, asks: [...asks.values()] });
  if (localAsks.size > 0) await launcher.validate({ settings: localSettingsOf(plan.settings), env: req.env, asks: [...localAsks.values()] });
  const cfg = project.config;
  const dir = chooseSweepDir(project, req.now, req.env, req.name);
  // Refuse before anything exists when another head builds here (the head takes the lock itself).
  acquireFlowLock(project.dir, `corral flow creating ${path.relative(project.dir, dir)}`).release();
  for (const j of jobs) {
    // A rule's own container wins over the project's (as patched by the profiles).
    const c = cfg.rules[j.rule]?.container ?? cfg.container;
    if (c === undefined) continue;
    try {
      j.wrap = containerWrap(c, { projectDir: project.dir, runDir: path.join(dir, String(j.index)), gpu: j.gpus > 0, argv: j.argv, passEnv: Object.keys(plan.env) });
    } catch (e) {
      throw new CorralError("E_CONFIG", `rule '${j.rule}': ${(e as Error).message}`, { location: { file: project.file, key: `rules.${j.rule}.container` } });
    }
  }
  makeSweepDir(dir, project.file);
  const lock = acquireSweepLock(dir, "corral flow");
  try {
    const runs: RunEntry[] = jobs.map((j) => ({
      index: j.index,
      id: createHash("sha256").update(j.key + "\0" + JSON.stringify(j.argv)).digest("hex").slice(0, 12),
      dir: String(j.index),
      overrides: [],
      params: { ...j.wildcards },
      job: j.key,
      rule: j.rule,
    }));
    const edges: Array<[number, number]> = [];
    for (const j of jobs) for (const d of j.deps) edges.push([d, j.index]);
    const manifest: SweepManifest = {
      type: "sweep",
      version: 1,
      id: sweepIdOf(dir),
      kind: "flow",
      ...(req.name ? { name: req.name } : {}),
      createdAt: req.now.getTime(),
      dir,
      projectDir: project.dir,
      command: ["corral", "flow", ...req.args],
      overrides: plan.overrides,
      launcher: plan.settings.type,
      ...(cfg.container ? { container: cfg.container } : {}),
      ...(project.profiles.length ? { profile: project.profiles.join(",") } : {}),
      runs,
      jobs: [],
      settings: launchSettingsRecord(plan.settings),
      baseEnv: plan.env,
      edges,
    };
    const git = gitInfo(project.dir);
    if (git) manifest.git = git;
    const flow: FlowFile = { type: "flow", version: 1, keepGoing: req.keepGoing, jobs };
    writeJsonAtomicSync(path.join(dir, FLOW_FILE), flow);
    indexSweep(project.dir, manifest);
    writeManifest(manifest);
    return { manifest, flow, warnings };
  } finally {
    lock.release();
  }
}

/**
 * The project's flow lock (`.corral/flow/.lock`, the sweep lock of src/store/lock.ts on that
 * folder): one head builds in a project at a time, as Snakemake locks its working directory, so
 * two heads never write the same outputs and build records at once. A lock whose process is gone
 * (same host) is taken over.
 * @throws CorralError E_LOCKED (exit 2) naming the head that holds it.
 */
export function acquireFlowLock(projectDir: string, what: string): SweepLock {
  const dir = path.join(projectDir, FLOW_STATE_DIR);
  mkdirSync(dir, { recursive: true });
  try {
    return acquireSweepLock(dir, what);
  } catch (e) {
    if (!(e instanceof CorralError) || e.code !== "E_LOCKED") throw e;
    const held = readJsonSync<{ pid: number; host: string; what: string }>(path.join(dir, LOCK));
    const who = held ? `pid ${held.pid} on ${held.host}: ${held.what}` : "another process";
    throw new CorralError("E_LOCKED", `another corral flow is building in ${projectDir} (${who})`, {
      hint: held && held.host !== thisHost()
        ? `wait for it to finish; if that process is gone, remove ${path.join(dir, LOCK)}`
        : `wait for it to finish (corral status), or stop it (corral cancel${held ? `, or kill ${held.pid}` : ""}); one flow at a time per project`,
      exitCode: 2,
    });
  }
}

/** What `corral flow --unlock` found: no lock, or the lock it removed and who held it. */
export type FlowUnlock = { removed: false } | { removed: true; file: string; held?: { pid: number; host: string; what: string }; otherHost: boolean };

/**
 * `corral flow --unlock` (Snakemake's `--unlock`): remove the project's flow lock when its holder
 * is gone. A holder alive on this host is refused; one on another host cannot be checked from
 * here, and removing it is what the user asks for.
 * @throws CorralError E_LOCKED (exit 2) naming a head that is alive on this host.
 */
export function unlockFlow(projectDir: string): FlowUnlock {
  const file = path.join(projectDir, FLOW_STATE_DIR, LOCK);
  let held: { pid: number; host: string; what: string } | undefined;
  try {
    held = readJsonSync<{ pid: number; host: string; what: string }>(file);
  } catch {
    held = undefined; // unreadable (cut short): nobody can be holding it
  }
  if (held === undefined && !existsSync(file)) return { removed: false };
  const valid = held !== undefined && typeof held.pid === "number" && typeof held.host === "string";
  if (valid && held!.host === thisHost() && pidAlive(held!.pid)) {
    throw new CorralError("E_LOCKED", `the flow lock of ${projectDir} is held by a running head (pid ${held!.pid} on ${held!.host}: ${held!.what})`, {
      hint: `wait for it to finish (corral status), or stop it (corral cancel, or kill ${held!.pid}); --unlock removes only a lock whose process is gone`,
      exitCode: 2,
    });
  }
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    return { removed: false };
  }
  return { removed: true, file, ...(valid ? { held: held! } : {}), otherHost: valid && held!.host !== thisHost() };
}

/**
 * Start the head in its own detached process (`argv`, e.g. `node main.js flow --head DIR`), so
 * the submitting shell may exit. Its output goes to `<sweep>/.corral/head.log`.
 */
export function spawnDetachedHead(sweepDir: string, argv: readonly string[]): { pid: number; log: string } {
  const logDir = sweepWorkDir(sweepDir);
  mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, HEAD_LOG);
  const fd = openSync(log, "a");
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], env: { ...process.env, NO_COLOR: "1" } });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start the flow head (${argv.join(" ")})`);
  return { pid: child.pid, log };
}

/**
 * Wait until the detached head `pid` has registered itself in the sweep's manifest (it then holds
 * the flow lock too), or has exited, or `timeoutMs` passed. So `corral flow --detach` returns with
 * the flow driven: a `corral status --watch` right after it sees a live head, and a second
 * `corral flow` is refused, instead of racing the head's start.
 */
export async function waitForHead(sweepDir: string, pid: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const id = headJobId(pid);
  while (Date.now() < until && pidAlive(pid)) {
    try {
      if (readManifest(sweepDir).jobs.some((j) => isHeadJob(j) && j.jobId === id)) return;
    } catch {
      /* being rewritten: read again */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Shared with the head (flow-head.ts).

/** Remove a job's old output files (not folders) before it runs and after it fails, as Snakemake does. */
/**
 * Remove a job's outputs (before it starts, and after it fails), as Snakemake does: files, and
 * folders inside the project with everything in them. A folder output outside the project is
 * never deleted; it is returned, so the caller keeps it marked incomplete (never trusted).
 */
export function removeOutputs(projectDir: string, outputs: readonly string[]): string[] {
  const kept: string[] = [];
  const root = path.resolve(projectDir);
  for (const o of outputs) {
    const p = path.resolve(projectDir, o);
    try {
      const st = lstatSync(p);
      if (!st.isDirectory()) unlinkSync(p);
      else if (p.startsWith(root + path.sep)) rmSync(p, { recursive: true, force: true });
      else kept.push(o);
    } catch {
      /* not there */
    }
  }
  return kept;
}

/** After a job succeeded: each of its folder outputs gets its completion marker. */
export function markFoldersDone(projectDir: string, outputs: readonly string[]): void {
  for (const o of outputs) {
    const p = path.resolve(projectDir, o);
    try {
      if (lstatSync(p).isDirectory()) closeSync(openSync(path.join(p, FOLDER_DONE_MARKER), "w"));
    } catch {
      /* not a folder, or gone: the check of its outputs says so */
    }
  }
}

/** The build record of one output of a finished job (with its input stamps, when known). */
export const recordOf = (j: FlowJobSpec, inputs?: Record<string, InputStamp>): BuildRecord => ({ ...j.hashes, jobKey: j.key, ...(inputs !== undefined ? { inputs } : {}) });

export const thisHost = (): string => hostname();
