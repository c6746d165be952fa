/**
 * `corral run` and `corral resume`: decide (load, plan), then do (create the sweep on disk,
 * submit through a launcher, optionally wait). Planning never touches the disk; `--dry-run`
 * stops after it.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { CorralError, countOf } from "../errors.js";
import type { LaunchPreview, LaunchSettings } from "../launchers/launcher.js";
import type { ContainerSpec } from "../plan/container.js";
import { stableStringify } from "../plan/configpath.js";
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import { fillHydraRefs, isCorralKey, overrideDirname, usesHydra } from "../plan/hydra-app.js";
import { commandInterpolates } from "../plan/command.js";
import { resolveInterpolations } from "../plan/interpolate.js";
import { sweepNameProblem } from "../plan/names.js";
import { planRuns, type PlannedRun, type RunPlan } from "../plan/runs.js";
import { configToYaml } from "../plan/serialize.js";
import type { ProjectContext } from "../project/open.js";
import { DEFAULT_SWEEP_DIR } from "../project/schema.js";
import { corralLauncherOverrides, hydraLauncherPatch, resolvedLauncher } from "../project/profiles.js";
import { isConfigMap } from "../plan/configpath.js";
import { parseOverrides } from "../plan/overrides.js";
import { appComposer } from "./app-compose.js";
import { configLineOf } from "../project/yaml-source.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import { launchSettingsRecord, type RunEntry, type SweepManifest } from "../store/protocol.js";
import { indexSweep, readManifest, readPruneRequest, writeManifest, writeStudyRecipe } from "../store/store.js";
import { backgroundFileWriter } from "../store/file-writer.js";
import type { Reporter } from "./events.js";
import { driveSweep, type EngineNode, type LoopOutcome } from "./loop.js";
import { runSpec } from "../worker/run-spec.js";
import { gitInfo } from "../project/git.js";
import { makeLauncher } from "../launchers/registry.js";
import { checkMultinode, resolveSettings, type SettingFlags } from "../launchers/settings.js";
import { RUN_CONFIG, RUN_OVERRIDES, SWEEP_WORK_DIR } from "../store/layout.js";
import { discreteGrid, studySettings, type SearchFlags, type StudySettings } from "../plan/search/study.js";
import { spaceFromOverrides, spaceFromYaml, trialOverrides } from "../plan/search/space.js";
import { randomSampler } from "../plan/search/random.js";
import type { Sampler } from "../plan/search/types.js";
import { tasksDrawTrials, type StudyRecipe, type StudyRecord } from "../store/protocol.js";
import { parseOverride } from "../plan/overrides.js";
import { reconcileStudy, studyGrow, studyWatch, type TrialComposer } from "./study.js";
import { recipeComposer, recipeOf, recipePlan } from "../worker/trials.js";

export interface RunRequest extends SettingFlags {
  project: ProjectContext;
  overrides: string[];
  multirun: boolean;
  /** `-- COMMAND...` replaces the project's command. */
  command?: string[];
  name?: string;
  /** Extra overrides from the chosen profiles. */
  profileOverrides?: string[];
  profile?: string;
  env: Record<string, string | undefined>;
  now: Date;
  /** `--search`, `--budget`, `--objective`, `--seed` (over the project file's `search:`). */
  search?: SearchFlags;
  /** A sampler of the caller's own (library), in place of the one `sampler` names. */
  sampler?: Sampler;
}

/** A study: its record, how to compose a trial, and a sampler of the caller's own. */
export interface PreparedStudy {
  record: StudyRecord;
  /** How its trials are composed: written to the sweep folder, so workers and resumes compose them alike. */
  recipe: StudyRecipe;
  compose: TrialComposer;
  sampler?: Sampler;
}

export interface PreparedSweep {
  request: RunRequest;
  command: string[];
  /** `hydra`: the command is a Hydra app (project `app`, or detected). */
  app?: "hydra";
  plan: RunPlan;
  settings: LaunchSettings;
  /** A search (`--search tpe`): its trials are made as slots free, none up front. */
  study?: PreparedStudy;
}

/** Decide: load and plan, nothing on disk. Bad input throws before anything starts. */
export function prepareSweep(req: RunRequest): PreparedSweep {
  const cfg = req.project.config;
  const command = req.command && req.command.length ? req.command : cfg.command;
  if (!command || command.length === 0) {
    throw new CorralError("E_USAGE", "no command to run", {
      hint: "set `command:` in corral.yaml or pass it after `--` (corral run -- python train.py)",
      location: { file: req.project.file, key: "command" },
    });
  }
  const search = studySettings(cfg.search, req.search ?? {}, req.project.file);
  if (search) {
    const prepared = prepareStudy(req, command, search);
    if (prepared) return prepared;
  }
  // A distribution map is a search's: a grid cannot run it.
  (cfg.sweep as unknown[]).forEach((g, k) => {
    for (const [key, v] of Object.entries(g as Record<string, unknown>)) {
      if (typeof v === "object" && v !== null && !Array.isArray(v) && key !== "zip" && "type" in v) {
        const at = (cfg.sweep as unknown[]).length > 1 ? `sweep[${k}].${key}` : `sweep.${key}`;
        throw new CorralError("E_CONFIG", `${at}: a distribution ({type: ...}) is for a search, and this is a grid`, { location: { file: req.project.file, key: at }, hint: "add search: {sampler: tpe, budget: ..., objective: ...} or --search tpe --budget N --objective METRIC:min; or give a list of values", exitCode: 2 });
      }
    }
  });
  const app = appOf(cfg.app, command, req.project.dir);
  // A Hydra app whose configs live in Python (no YAML here to compose): ask the app for each run's config.
  const fromApp = app === "hydra" && hasNoYaml(req.project) ? appComposer(command, req.project.dir, req.env) : undefined;
  const plan = planRuns({
    ...(fromApp ? { appCompose: fromApp } : {}),
    lineOf: configLineOf(),
    command,
    repo: req.project.repo,
    primary: req.project.primary,
    defaults: req.project.defaults,
    grids: cfg.sweep as unknown[],
    baseOverrides: req.profileOverrides ?? req.project.profileOverrides,
    overrides: req.overrides,
    multirun: req.multirun,
    freeForm: req.project.synthetic,
    env: req.env,
    now: req.now,
    sourceFile: req.project.file,
    ...(req.project.primaryFile ? { primaryFile: req.project.primaryFile } : {}),
    commandSource: req.command && req.command.length ? { file: "<command line>" } : { file: req.project.file, ...(req.project.commandAt ? { line: req.project.commandAt.line, column: req.project.commandAt.column } : {}) },
  });
  // The app's own hydra.launcher (its +setup=... presets, submitit's defaults) as launcher settings,
  // composed for the first run, as Hydra composes its launcher once; corral.launcher.* still wins.
  const project = fromApp && plan.size > 0 ? withAppLauncher(req.project, plan.run(0), req.overrides, req.env) : req.project;
  const pcfg = project.config;
  let settings = resolveSettings(pcfg, req);
  // clusterduck without total_runs_per_node: every run of the sweep in one job.
  if (project.allRunsInOneJob && settings.type === "slurm" && pcfg.launcher.per_job === undefined) settings = { ...settings, perJob: Math.max(1, plan.size) };
  checkMultinode(settings, project.file);
  return { request: project === req.project ? req : { ...req, project }, command, plan, settings, ...(app ? { app } : {}) };
}

/**
 * A study's plan: the space from the sweep overrides and the project's `sweep:`, the other
 * overrides given to every trial. A space of discrete parameters only that the budget covers
 * runs as the grid (undefined is returned after rewriting the request: the caller plans a grid).
 */
function prepareStudy(req: RunRequest, command: string[], s: StudySettings): PreparedSweep | undefined {
  const file = req.project.file;
  if (!req.multirun) throw new CorralError("E_USAGE", "--search runs many trials: add -m (--multirun)", { location: { file: "<command line>", key: "--search" }, hint: "corral run -m --search tpe --budget 30 --objective loss:min 'x=interval(0,1)'" });
  const parsed = req.overrides.map((o) => parseOverride(o));
  const sweepy = parsed.filter((o) => o.isSweep && !isCorralKey(o.key));
  const base = parsed.filter((o) => !sweepy.includes(o)).map((o) => o.input);
  const grids = req.project.config.sweep as unknown[];
  if (grids.length > 1) throw new CorralError("E_CONFIG", "sweep: a search takes one space, not a list of grids", { location: { file, key: "sweep" }, hint: "merge the grids into one map of key -> distribution" });
  const fromCli = spaceFromOverrides(sweepy);
  const fromFile = grids.length === 1 ? spaceFromYaml(grids[0], { file, key: "sweep" }) : { params: [], fixed: [] };
  const space = { params: [...fromFile.params.filter((p) => !fromCli.params.some((q) => q.name === p.name)), ...fromCli.params], fixed: [...fromFile.fixed, ...fromCli.fixed] };
  if (space.params.length === 0) throw new CorralError("E_USAGE", "a search needs a space: no parameter to search", { location: { file: "<command line>", key: "--search" }, hint: "add e.g. 'lr=tag(log, interval(1e-5, 1e-1))' or a sweep: map in the project file" });
  const grid = discreteGrid(space);
  if (grid && grid.size <= s.budget && !req.sampler) {
    // Every point fits in the budget: the grid itself, each point once.
    return prepareSweep({ ...req, search: { search: "grid" }, overrides: [...base, ...grid.overrides], project: { ...req.project, config: { ...req.project.config, sweep: [], search: undefined } } });
  }
  const record: StudyRecord = {
    sampler: req.sampler ? "custom" : s.sampler,
    budget: s.budget,
    objective: s.objective,
    seed: s.seed,
    ...(s.earlyStop ? { early_stop: { asha: { resource: s.earlyStop.resource, min: s.earlyStop.min, max: s.earlyStop.max, reduction_factor: s.earlyStop.reductionFactor } } } : {}),
    ...(s.tpe ? { tpe: s.tpe } : {}),
    space,
    base,
    ...(s.nJobs !== undefined ? { n_jobs: s.nJobs } : {}),
  };
  const recipe = recipeOf({ command, repo: req.project.repo, primary: req.project.primary, defaults: req.project.defaults, baseOverrides: req.profileOverrides ?? req.project.profileOverrides, freeForm: req.project.synthetic, now: req.now, sourceFile: file, ...(req.project.primaryFile ? { primaryFile: req.project.primaryFile } : {}) });
  const compose = recipeComposer(recipe, req.env);
  // Bad overrides fail now (exit 2, nothing started): the first trial the seed gives is composed.
  const plan = recipePlan(recipe, req.env, [...base, ...trialOverrides(space, randomSampler(space, { seed: s.seed }).ask([], 0))]);
  plan.run(0);
  let settings = resolveSettings(req.project.config, req);
  checkMultinode(settings, file);
  // On SLURM each array task keeps `parallel` trials going, drawing new ones as they end.
  if (settings.type === "slurm") settings = { ...settings, perJob: settings.parallel };
  const app = appOf(req.project.config.app, command, req.project.dir);
  return { request: req, command, plan, settings, study: { record, recipe, compose, ...(req.sampler ? { sampler: req.sampler } : {}) }, ...(app ? { app } : {}) };
}

/**
 * Run folder names: the index, or a Hydra user's `hydra.sweep.subdir` in a multirun
 * (`${hydra.job.num}` the index, `${hydra.job.id}` the run id, `${hydra.job.override_dirname}` the
 * run's overrides as Hydra joins them). Always inside the sweep folder; a name two runs would share
 * gets `_<index>`.
 */
function runFolders(p: PreparedSweep, runs: PlannedRun[]): string[] {
  const h = p.request.project.hydraDirs;
  if (!p.request.multirun || h?.subdir === undefined) return runs.map((r) => String(r.index));
  const used = new Set<string>();
  return runs.map((r) => {
    const filled = fillHydraRefs(h.subdir!, { "job.num": String(r.index), "job.id": r.id, "job.name": h.jobName ?? "app", "job.override_dirname": overrideDirname(r.overrides, h.rule) }, () => {
      throw new CorralError("E_CONFIG", "hydra.sweep.subdir: unknown reference", { location: { file: p.request.project.file, key: "hydra.sweep.subdir" } });
    });
    let name = path.normalize(filled === "" ? String(r.index) : filled).replace(/^(\.\/)+/, "");
    if (path.isAbsolute(name) || name === "." || name.split(path.sep).includes("..") || name.split(path.sep)[0] === SWEEP_WORK_DIR) {
      throw new CorralError("E_CONFIG", `hydra.sweep.subdir gives run ${r.index} the folder '${filled}', which is not inside the sweep folder`, { location: { file: p.request.project.file, key: "hydra.sweep.subdir" }, hint: "use a relative name such as ${hydra.job.num} or ${hydra.job.override_dirname}" });
    }
    if (used.has(name)) name = `${name}_${r.index}`;
    used.add(name);
    return name;
  });
}

/** A project with no config to compose here: no `config:`, no config_dir groups, no defaults list. */
export function hasNoYaml(p: ProjectContext): boolean {
  const own = p.primary ? Object.keys(p.primary).filter((k) => k !== "defaults") : [];
  return own.length === 0 && p.repo.groups.size === 0 && p.defaults.length === 0;
}

export function withAppLauncher(project: ProjectContext, run0: PlannedRun, overrides: string[], env: Record<string, string | undefined>): ProjectContext {
  const h = run0.hydra;
  const node = isConfigMap(h.launcher) ? resolvedLauncher(h.launcher, run0.config, h, env) : undefined;
  const choices = isConfigMap(h.runtime) && isConfigMap(h.runtime.choices) ? h.runtime.choices : {};
  const choice = choices["hydra/launcher"];
  const patched = hydraLauncherPatch(project.config, node, typeof choice === "string" ? choice : null, "the app's hydra.launcher");
  const own = corralLauncherOverrides(patched.config, parseOverrides(overrides));
  return {
    ...project,
    config: own.config,
    profileReasons: [...project.profileReasons, ...patched.reasons],
    ...(patched.detach ? { detach: true } : {}),
    ...(patched.allRunsInOneJob ? { allRunsInOneJob: true } : {}),
  };
}

/**
 * Is `command` a Hydra app? `app: hydra|plain` says; `auto` looks at the Python file the command
 * runs (the first argument ending in `.py`) for Hydra's entry point. A command that interpolates
 * the config (`--lr ${lr}`) is never handed Hydra overrides.
 */
export function appOf(setting: "auto" | "hydra" | "plain" | undefined, command: string[], projectDir: string): "hydra" | undefined {
  if (setting === "plain" || commandInterpolates(command)) return undefined;
  if (setting === "hydra") return "hydra";
  const script = command.find((a) => a.endsWith(".py"));
  if (!script) return undefined;
  try {
    const file = path.resolve(projectDir, script);
    if (statSync(file).size > 4 * 1024 * 1024) return undefined;
    return usesHydra(readFileSync(file, "utf8")) ? "hydra" : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Compose every run (for --dry-run and launch). Done before anything is created, so a bad
 * override in any run fails with exit 2 and nothing started.
 */
export function planAll(p: PreparedSweep): PlannedRun[] {
  // A study makes its trials as slots free.
  if (p.study) return [];
  const out: PlannedRun[] = [];
  for (let i = 0; i < p.plan.size; i++) out.push(p.plan.run(i));
  return out;
}

/** A sweep being driven by the engine's loop. */
export interface RunningSweep {
  manifest: SweepManifest;
  /** Resolves once the first submissions are made (a detached sweep is then fully submitted). */
  submitted: Promise<{ found: LoopOutcome["found"]; resubmitted: number }>;
  /** The drive's end; the sweep's lock is released then. */
  done: Promise<LoopOutcome>;
  /** Start nothing more and stop running runs (graceful; `force` kills at once). */
  stop(force: boolean): void;
}

export interface DriveOptions {
  /** Submit, then return without waiting (the runs go on in their workers or jobs). */
  detach?: boolean;
  pollMs?: number;
  maxPollMs?: number;
}

/** The manifest of a new sweep in `dir` (in memory; `startSweep` writes it, `previewSweep` only reads it). */
function newManifest(p: PreparedSweep, runs: PlannedRun[], dir: string, folders: string[] = runFolders(p, runs)): SweepManifest {
  const { request: req, settings } = p;
  const project = req.project;
  const cfg = project.config;
  const entries: RunEntry[] = runs.map((r, k) => ({ index: r.index, id: r.id, dir: folders[k]!, overrides: r.overrides, ...(r.argv ? { argv: r.argv } : {}), params: r.params }));
  return {
    type: "sweep",
    version: 1,
    id: sweepIdOf(dir),
    kind: "sweep",
    ...(req.name ? { name: req.name } : {}),
    createdAt: req.now.getTime(),
    dir,
    projectDir: project.dir,
    command: p.command,
    ...(req.command?.length ? { commandFrom: "command line" as const } : {}),
    ...(p.app ? { app: p.app } : {}),
    overrides: req.overrides,
    launcher: settings.type,
    ...(req.profile || project.profiles.length ? { profile: req.profile ?? project.profiles.join(",") } : {}),
    ...(cfg.container ? { container: cfg.container } : {}),
    runs: entries,
    jobs: [],
    settings: launchSettingsRecord(settings),
    baseEnv: { ...cfg.env },
    resources: { ...(cfg.resources.cpus !== undefined ? { cpus: cfg.resources.cpus } : {}), ...(cfg.resources.gpus !== undefined ? { gpus: cfg.resources.gpus } : {}), ...(cfg.resources.timeout !== undefined ? { timeout: cfg.resources.timeout } : {}), ...(cfg.resources.estimate !== undefined ? { estimate: cfg.resources.estimate } : {}) },
  };
}

/**
 * What `startSweep` would submit, for `--dry-run`: the launcher's rendered files (SLURM: the
 * sbatch script of each chunk and any multi-node wrapper). Nothing is created or queued.
 */
export async function previewSweep(p: PreparedSweep, runs: PlannedRun[]): Promise<LaunchPreview[]> {
  const launcher = makeLauncher(p.settings);
  if (!launcher.preview) return [];
  const manifest = newManifest(p, runs, chooseSweepDir(p.request.project, p.request.now, p.request.env, p.request.name, p.request.multirun));
  const specs = manifest.runs.map((e) => runSpec(manifest, e, manifest.resources ?? {}, 1, false));
  // Sized as the engine sizes the real submission (one submission of every run).
  const node = gridNode(manifest);
  const settings = launcher.size ? launcher.size(p.settings, { ...node.need, timeoutS: node.timeoutS }, specs.length) : p.settings;
  return launcher.preview({ sweep: manifest, runs: specs, settings, round: 0 });
}

/** Do: create the sweep folder, the runs' folders and the manifest, then drive it. */
export async function startSweep(p: PreparedSweep, runs: PlannedRun[], reporter: Reporter, opts: DriveOptions = {}): Promise<RunningSweep> {
  const { request: req, settings } = p;
  const project = req.project;
  const cfg = project.config;
  const launcher = makeLauncher(settings);
  // A request that can never run here is bad input: say so before anything is created or queued.
  await launcher.validate({ settings, env: req.env, asks: [{ cpus: cfg.resources.cpus, gpus: cfg.resources.gpus, who: "each run", location: { file: project.file, key: "resources" } }] });
  // Run folder names (hydra.sweep.subdir) are checked before anything is created.
  const folders = runFolders(p, runs);
  const dir = chooseSweepDir(project, req.now, req.env, req.name, req.multirun);
  makeSweepDir(dir, project.file);
  const lock = acquireSweepLock(dir, "corral run");
  const manifest = newManifest(p, runs, dir, folders);
  if (p.study) {
    manifest.search = p.study.record;
    writeStudyRecipe(dir, p.study.recipe);
  }
  const git = gitInfo(project.dir);
  if (git) manifest.git = git;
  try {
    // The files go to a second thread while this one renders the next and creates its folder.
    const files = runs.length >= 256 ? backgroundFileWriter() : undefined;
    try {
      for (const r of runs) {
        const rd = path.join(dir, manifest.runs[r.index]!.dir);
        mkdirSync(rd, { recursive: true });
        const config = configToYaml(r.config);
        const overrides = toYaml(r.overrides);
        if (files) {
          files.write(path.join(rd, RUN_CONFIG), config);
          files.write(path.join(rd, RUN_OVERRIDES), overrides);
        } else {
          writeFileSync(path.join(rd, RUN_CONFIG), config);
          writeFileSync(path.join(rd, RUN_OVERRIDES), overrides);
        }
      }
      await files?.done();
    } finally {
      files?.close();
    }
    // Index first: a crash between the two leaves an index entry without a manifest (skipped by
    // readers), never a recorded sweep that `corral resume` cannot find.
    indexSweep(project.dir, manifest);
    writeManifest(manifest);
  } catch (e) {
    lock.release();
    throw e;
  }
  reporter.emit({ type: "sweep-created", dir, runs: p.study ? p.study.record.budget : runs.length, launcher: settings.type });
  return driveGrid(manifest, lock, reporter, { ...opts, ...(p.study ? { study: p.study } : {}) });
}

/** Every run of a sweep without edges is this node: the project's `resources`, the launcher's `retries`. */
function gridNode(m: SweepManifest): EngineNode {
  const res = m.resources ?? {};
  return {
    deps: [],
    need: { cpus: res.cpus ?? 0, gpus: res.gpus ?? 0, memMB: 0 },
    priority: 0,
    batchKey: "",
    retries: m.settings?.retries ?? 0,
    timeoutS: res.timeout,
  };
}

/**
 * Drive a sweep without edges through the engine's loop: every run is ready at once, and the
 * launcher packs them (a local worker with `-j` slots; SLURM arrays of `per_job` runs).
 */
function driveGrid(manifest: SweepManifest, lock: SweepLock, reporter: Reporter, opts: DriveOptions & { retryFailed?: boolean; retryUnknown?: boolean; jobs?: number; onSubmit?: (i: number) => void; study?: Pick<PreparedStudy, "compose" | "sampler"> }): RunningSweep {
  const res = manifest.resources ?? {};
  const node = gridNode(manifest);
  // A study: trials recorded in their folders but not yet in sweep.json first, then one more per free slot.
  const study = manifest.search && opts.study ? opts.study : undefined;
  try {
    if (manifest.search) reconcileStudy(manifest, study?.compose);
  } catch (e) {
    lock.release();
    throw e;
  }
  const prunable = manifest.search?.early_stop !== undefined;
  const watch = manifest.search ? studyWatch(manifest, reporter) : undefined;
  const drive = driveSweep({
    manifest,
    nodes: manifest.runs.map(() => node),
    ...(study ? { grow: studyGrow(manifest, study.compose, node, opts.jobs ?? manifest.search?.n_jobs ?? manifest.settings?.parallel ?? 1, reporter, study.sampler, study.sampler === undefined && tasksDrawTrials(manifest)) } : {}),
    hooks: {
      spec: (i, attempt, resumed) => {
        opts.onSubmit?.(i);
        const spec = runSpec(manifest, manifest.runs[i]!, res, attempt, resumed);
        return prunable ? { ...spec, prunable: true } : spec;
      },
      ...(watch ? { watch, pruneRequested: (i: number) => readPruneRequest(path.join(manifest.dir, manifest.runs[i]!.dir)) !== undefined } : {}),
    },
    reporter,
    keepGoing: true,
    packing: "launcher",
    ...(opts.detach ? { detach: true } : {}),
    ...(opts.retryFailed ? { retryFailed: true } : {}),
    ...(opts.retryUnknown ? { retryUnknown: true } : {}),
    ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.maxPollMs !== undefined ? { maxPollMs: opts.maxPollMs } : {}),
    env: process.env,
  });
  const submitted = drive.started.then((r) => ({ found: r.found, resubmitted: r.submitted }));
  return { manifest, submitted, done: drive.done.finally(() => lock.release()), stop: drive.stop };
}

/** A new sweep folder from the project's `sweep_dir` template (and `--name`), never an existing one. */
export function chooseSweepDir(project: Pick<ProjectContext, "dir" | "file" | "config" | "hydraDirs">, now: Date, env: Record<string, string | undefined>, name?: string, multirun = true): string {
  // The name becomes part of one folder name: `--name ../../x` must not place the sweep anywhere.
  const bad = name === undefined ? undefined : sweepNameProblem(name);
  if (bad) throw new CorralError("E_USAGE", `--name must be one folder name: '${name}' ${bad}`, { hint: "use letters, digits and . _ - + = , @, e.g. --name lr-sweep_v2" });
  // A Hydra user's hydra.sweep.dir (multirun) or hydra.run.dir (one run) places the sweep folder,
  // unless corral.yaml sets sweep_dir (the command line's hydra.*.dir wins over both).
  const h = project.hydraDirs;
  const hydraDir = multirun ? h?.sweep : h?.run;
  const useHydra = hydraDir !== undefined && (h!.fromCommandLine || project.config.sweep_dir === DEFAULT_SWEEP_DIR);
  const key = useHydra ? (multirun ? "hydra.sweep.dir" : "hydra.run.dir") : "sweep_dir";
  const template = resolveInterpolations({ [key]: useHydra ? hydraDir : project.config.sweep_dir }, { env, now }, project.file)[key] as string;
  const base = template + (name ? `-${name}` : "");
  let dir = path.resolve(project.dir, base);
  // Two sweeps in the same millisecond still get their own folders.
  for (let k = 2; existsSync(dir); k++) dir = path.resolve(project.dir, `${base}-${k}`);
  return dir;
}

/** The sweep's id: its date and time folders, e.g. `2026-11-21_14-03-12-345000`. */
export const sweepIdOf = (dir: string): string => `${path.basename(path.dirname(dir))}_${path.basename(dir)}`.replace(/[^A-Za-z0-9_.-]/g, "_");

/**
 * Create the sweep folder one level at a time: a recursive mkdir under /proc or below a file can
 * spin for ever in Node, and each failure here is bad input (exit 2) naming `sweep_dir`.
 */
export function makeSweepDir(dir: string, projectFile: string): void {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d) && path.dirname(d) !== d) {
    missing.unshift(d);
    d = path.dirname(d);
  }
  const WRITABLE = "point sweep_dir at a writable folder (it is relative to the project folder)";
  const fail = (why: string, hint = WRITABLE): never => {
    throw new CorralError("E_CONFIG", `cannot create the sweep folder ${dir}: ${why}`, {
      location: { file: projectFile, key: "sweep_dir" },
      hint,
      exitCode: 2,
    });
  };
  if (!statSync(d).isDirectory()) fail(`${d} is not a folder`, "point sweep_dir below a folder, or move that file away");
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      if (code === "EEXIST") {
        // existsSync said no, mkdir says it is there: a symbolic link to nothing (or a race).
        const link = lstatSync(m, { throwIfNoEntry: false });
        if (link?.isSymbolicLink()) fail(`${m} is a symbolic link to ${readlinkSync(m)}, which does not exist`, "create the link's target folder, or point sweep_dir elsewhere");
        if (link?.isDirectory()) continue;
        fail(`${m} exists and is not a folder`, "move it away, or point sweep_dir elsewhere");
      }
      if (code === "EACCES" || code === "EPERM") fail(`no permission to create ${m}`);
      if (code === "EROFS") fail(`${path.dirname(m)} is on a read-only file system`);
      if (code === "ENOSPC") fail(`no space left on the device of ${path.dirname(m)}`, "free some space, or point sweep_dir at another disk");
      fail(`${code} at ${m}`);
    }
  }
}

/** What the project as it is now gives the runs a resume would start again. */
export interface CurrentRecipe {
  command: string[];
  baseEnv: Record<string, string>;
  container?: ContainerSpec;
  resources: NonNullable<SweepManifest["resources"]>;
  /** The runs compared (those the resume starts again). */
  runs: number[];
  /** The configs that changed: each run's config composed from the current files with its own overrides. */
  configs: Map<number, ConfigMap>;
}

/** How the project differs from what a sweep recorded, in words, with what it would give now. */
export interface ProjectDrift {
  /** One line per difference, e.g. `command: python3 trian.py -> python3 train.py`; empty when none. */
  changes: string[];
  /** The runs (of those checked) whose config differs. */
  configRuns: number[];
  current: CurrentRecipe;
}

const oneLine = (v: unknown): string => (v === undefined ? "none" : JSON.stringify(v));

/** The dotted keys whose values differ between two configs (at most `max`). */
function changedKeys(a: ConfigValue, b: ConfigValue, prefix = "", out: string[] = [], max = 5): string[] {
  if (out.length >= max) return out;
  const isMap = (v: ConfigValue): v is ConfigMap => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isMap(a) && isMap(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) changedKeys(a[k] ?? null, b[k] ?? null, prefix ? `${prefix}.${k}` : k, out, max);
    return out;
  }
  if (stableStringify(a) !== stableStringify(b)) out.push(`${prefix || "(root)"}: ${oneLine(a)} -> ${oneLine(b)}`);
  return out;
}

/**
 * Compare a sweep's record with the project as it is now, for the runs `runs` (those a resume
 * would start again): the command (unless it came after `--`), `env`, `container`, `resources`
 * and each run's config composed from the current files with the run's own overrides (at the
 * sweep's creation time, so `${now:}` does not count as a change). Composition errors (an
 * override the current config no longer accepts) throw, naming the run.
 */
export function projectDrift(m: SweepManifest, project: ProjectContext, runs: number[], env: Record<string, string | undefined>): ProjectDrift {
  const cfg = project.config;
  const command = m.commandFrom === "command line" ? m.command : (cfg.command ?? m.command);
  const resources: NonNullable<SweepManifest["resources"]> = { ...(cfg.resources.cpus !== undefined ? { cpus: cfg.resources.cpus } : {}), ...(cfg.resources.gpus !== undefined ? { gpus: cfg.resources.gpus } : {}), ...(cfg.resources.timeout !== undefined ? { timeout: cfg.resources.timeout } : {}), ...(cfg.resources.estimate !== undefined ? { estimate: cfg.resources.estimate } : {}) };
  const current: CurrentRecipe = { command, baseEnv: { ...cfg.env }, ...(cfg.container ? { container: cfg.container } : {}), resources, runs, configs: new Map() };
  const changes: string[] = [];
  if (JSON.stringify(command) !== JSON.stringify(m.command)) changes.push(`command: ${m.command.join(" ")} -> ${command.join(" ")}`);
  if (stableStringify((m.baseEnv ?? {}) as ConfigValue) !== stableStringify(current.baseEnv as ConfigValue)) changes.push(`env: ${oneLine(m.baseEnv ?? {})} -> ${oneLine(current.baseEnv)}`);
  if (stableStringify((m.container ?? null) as ConfigValue) !== stableStringify((current.container ?? null) as ConfigValue)) changes.push(`container: ${oneLine(m.container)} -> ${oneLine(current.container)}`);
  if (stableStringify((m.resources ?? {}) as ConfigValue) !== stableStringify(resources as ConfigValue)) changes.push(`resources: ${oneLine(m.resources ?? {})} -> ${oneLine(resources)}`);
  const configRuns: number[] = [];
  let example: string[] = [];
  for (const i of runs) {
    const e = m.runs[i]!;
    let config: ConfigMap;
    try {
      config = planRuns({ command, repo: project.repo, primary: project.primary, defaults: project.defaults, grids: [], baseOverrides: [], overrides: e.overrides, multirun: false, freeForm: project.synthetic, env, now: new Date(m.createdAt), sourceFile: project.file, ...(project.primaryFile ? { primaryFile: project.primaryFile } : {}) }).run(0).config;
    } catch (err) {
      if (err instanceof CorralError) throw new CorralError(err.code, `run ${e.index} [${e.overrides.join(" ")}] cannot be composed with the current project: ${err.message}`, { ...(err.hint ? { hint: err.hint } : {}), ...(err.location ? { location: err.location } : {}) });
      throw err;
    }
    let recorded: ConfigValue | undefined;
    try {
      recorded = parseYaml(readFileSync(path.join(m.dir, e.dir, RUN_CONFIG), "utf8")) as ConfigValue;
    } catch {
      recorded = undefined;
    }
    if (recorded !== undefined && stableStringify(recorded) === stableStringify(config)) continue;
    current.configs.set(i, config);
    configRuns.push(i);
    if (!example.length && recorded !== undefined) example = changedKeys(recorded, config);
  }
  if (configRuns.length) {
    const which = configRuns.slice(0, 5).join(", ") + (configRuns.length > 5 ? ", ..." : "");
    changes.push(`config of ${countOf(configRuns.length, "run")} (${which})${example.length ? `, e.g. run ${configRuns[0]}: ${example.join("; ")}` : ""}`);
  }
  return { changes, configRuns, current };
}

/** The runs a resume would start again: not succeeded, not running; failed only with `retryFailed`, unknown only with `retryUnknown`. */
export function rerunCandidates(states: ReadonlyArray<{ index: number; state: string }>, opts: { retryFailed: boolean; retryUnknown: boolean }): number[] {
  return states
    .filter((r) => r.state !== "succeeded" && r.state !== "pruned" && r.state !== "running" && (r.state !== "failed" || opts.retryFailed) && (r.state !== "unknown" || opts.retryUnknown))
    .map((r) => r.index);
}

export interface ResumeRequest {
  sweepDir: string;
  /** Rerun with the project as it is now (`projectDrift`'s `current`): new attempts, same overrides. */
  current?: CurrentRecipe;
  retryFailed: boolean;
  /** Also rerun runs whose status record cannot be read (they may have succeeded). */
  retryUnknown?: boolean;
  /** Override the recorded settings for this round (e.g. -j). */
  jobs?: number;
  /** A study: how to compose its further trials (the project as recorded). */
  compose?: TrialComposer;
}

/**
 * Resume: runs that succeeded are never run again; runs still running or queued are adopted
 * (not resubmitted); the rest are submitted again with their attempt counted. The same loop as
 * the first start, which begins by reading what the status files say.
 */
export async function resumeSweep(req: ResumeRequest, reporter: Reporter, opts: DriveOptions = {}): Promise<RunningSweep> {
  const manifest = readManifest(req.sweepDir);
  const lock = acquireSweepLock(manifest.dir, "corral resume");
  let onSubmit: ((i: number) => void) | undefined;
  const cur = req.current;
  if (cur) {
    // The sweep's recipe becomes the current project's; the replaced one stays on record.
    try {
      manifest.replaced = [
        ...(manifest.replaced ?? []),
        { at: Date.now(), command: manifest.command, ...(manifest.baseEnv ? { baseEnv: manifest.baseEnv } : {}), ...(manifest.container ? { container: manifest.container } : {}), ...(manifest.resources ? { resources: manifest.resources } : {}), runs: cur.runs },
      ];
      manifest.command = cur.command;
      manifest.baseEnv = cur.baseEnv;
      if (cur.container) manifest.container = cur.container;
      else delete manifest.container;
      manifest.resources = cur.resources;
      writeManifest(manifest);
    } catch (e) {
      lock.release();
      throw e;
    }
    // A run's config.yaml is rewritten when it is submitted again, never while it may still run.
    const pending = new Map(cur.configs);
    onSubmit = (i) => {
      const config = pending.get(i);
      if (!config) return;
      writeFileSync(path.join(manifest.dir, manifest.runs[i]!.dir, RUN_CONFIG), toYaml(config));
      pending.delete(i);
    };
  }
  return driveGrid(manifest, lock, reporter, { ...(onSubmit ? { onSubmit } : {}), ...(req.compose ? { study: { compose: req.compose } } : {}), ...opts, ...(req.retryFailed ? { retryFailed: true } : {}), ...(req.retryUnknown ? { retryUnknown: true } : {}), ...(req.jobs !== undefined ? { jobs: req.jobs } : {}) });
}
