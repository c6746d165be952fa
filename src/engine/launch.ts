/**
 * `corral run` and `corral resume`: decide (load, plan), then do (create the sweep on disk,
 * submit through a launcher, optionally wait). Planning never touches the disk; `--dry-run`
 * stops after it.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import { CorralError } from "../errors.js";
import type { LaunchPreview, LaunchSettings } from "../launchers/launcher.js";
import { containerWrap } from "../plan/container.js";
import { multinodeWrap } from "../plan/multinode.js";
import { resolveInterpolations } from "../plan/interpolate.js";
import { sweepNameProblem } from "../plan/names.js";
import { planRuns, type PlannedRun, type RunPlan } from "../plan/runs.js";
import type { ProjectContext } from "../project/open.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { RunEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import { indexSweep, readManifest, writeManifest } from "../store/store.js";
import { backgroundFileWriter } from "../store/file-writer.js";
import type { Reporter } from "./events.js";
import { driveSweep, type EngineNode, type LoopOutcome } from "./loop.js";
import { runSpecOf } from "./spec.js";
import { gitInfo } from "../project/git.js";
import { makeLauncher } from "../launchers/registry.js";
import { checkMultinode, resolveSettings, type SettingFlags } from "../launchers/settings.js";
import { RUN_CONFIG, RUN_OVERRIDES } from "../store/layout.js";

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
}

export interface PreparedSweep {
  request: RunRequest;
  command: string[];
  plan: RunPlan;
  settings: LaunchSettings;
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
  const plan = planRuns({
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
  });
  const settings = resolveSettings(cfg, req);
  checkMultinode(settings, req.project.file);
  return { request: req, command, plan, settings };
}

/**
 * Compose every run (for --dry-run and launch). Done before anything is created, so a bad
 * override in any run fails with exit 2 and nothing started.
 */
export function planAll(p: PreparedSweep): PlannedRun[] {
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
function newManifest(p: PreparedSweep, runs: PlannedRun[], dir: string): SweepManifest {
  const { request: req, settings } = p;
  const project = req.project;
  const cfg = project.config;
  const entries: RunEntry[] = runs.map((r) => ({ index: r.index, id: r.id, dir: String(r.index), overrides: r.overrides, params: r.params }));
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
    overrides: req.overrides,
    launcher: settings.type,
    ...(req.profile || project.profiles.length ? { profile: req.profile ?? project.profiles.join(",") } : {}),
    ...(cfg.container ? { container: cfg.container } : {}),
    runs: entries,
    jobs: [],
    settings,
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
  const manifest = newManifest(p, runs, chooseSweepDir(p.request.project, p.request.now, p.request.env, p.request.name));
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
  const dir = chooseSweepDir(project, req.now, req.env, req.name);
  makeSweepDir(dir, project.file);
  const lock = acquireSweepLock(dir, "corral run");
  const manifest = newManifest(p, runs, dir);
  const git = gitInfo(project.dir);
  if (git) manifest.git = git;
  try {
    // The files go to a second thread while this one renders the next and creates its folder.
    const files = runs.length >= 256 ? backgroundFileWriter() : undefined;
    try {
      for (const r of runs) {
        const rd = path.join(dir, String(r.index));
        mkdirSync(rd, { recursive: true });
        const config = toYaml(r.config);
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
  reporter.emit({ type: "sweep-created", dir, runs: runs.length, launcher: settings.type });
  return driveGrid(manifest, lock, reporter, { ...opts });
}

/** Every run of a sweep without edges is this node: the project's `resources`, the launcher's `retries`. */
function gridNode(m: SweepManifest): EngineNode {
  const res = m.resources ?? {};
  return {
    deps: [],
    need: { cpus: res.cpus ?? 0, gpus: res.gpus ?? 0, memMB: 0 },
    priority: 0,
    batchKey: "",
    retries: (m.settings as LaunchSettings).retries ?? 0,
    timeoutS: res.timeout,
  };
}

/**
 * Drive a sweep without edges through the engine's loop: every run is ready at once, and the
 * launcher packs them (a local worker with `-j` slots; SLURM arrays of `per_job` runs).
 */
function driveGrid(manifest: SweepManifest, lock: SweepLock, reporter: Reporter, opts: DriveOptions & { retryFailed?: boolean; retryUnknown?: boolean; jobs?: number }): RunningSweep {
  const res = manifest.resources ?? {};
  const node = gridNode(manifest);
  const drive = driveSweep({
    manifest,
    nodes: manifest.runs.map(() => node),
    hooks: { spec: (i, attempt, resumed) => runSpec(manifest, manifest.runs[i]!, res, attempt, resumed) },
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
export function chooseSweepDir(project: Pick<ProjectContext, "dir" | "file" | "config">, now: Date, env: Record<string, string | undefined>, name?: string): string {
  // The name becomes part of one folder name: `--name ../../x` must not place the sweep anywhere.
  const bad = name === undefined ? undefined : sweepNameProblem(name);
  if (bad) throw new CorralError("E_USAGE", `--name must be one folder name: '${name}' ${bad}`, { hint: "use letters, digits and . _ - + = , @, e.g. --name lr-sweep_v2" });
  const template = resolveInterpolations({ dir: project.config.sweep_dir }, { env, now }, project.file).dir as string;
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
  const fail = (why: string): never => {
    throw new CorralError("E_CONFIG", `cannot create the sweep folder ${dir}: ${why}`, {
      location: { file: projectFile, key: "sweep_dir" },
      hint: "point sweep_dir at a writable folder (it is relative to the project folder)",
      exitCode: 2,
    });
  };
  if (!statSync(d).isDirectory()) fail(`${d} is not a folder`);
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      fail(`${(e as NodeJS.ErrnoException).code ?? "error"} at ${m}`);
    }
  }
}

export interface RunResources {
  cpus?: number;
  gpus?: number;
  timeout?: number;
  estimate?: number;
}

/** Everything a worker needs to execute one run of a sweep, with no access to the project. */
export function runSpec(m: SweepManifest, e: RunEntry, res: RunResources, attempt: number, resumed: boolean): RunSpec {
  const dir = path.join(m.dir, e.dir);
  const argv = [...m.command, ...e.overrides];
  const container = m.container && containerWrap(m.container, { projectDir: m.projectDir, runDir: dir, gpu: (res.gpus ?? 0) > 0, argv, passEnv: Object.keys(m.baseEnv ?? {}) });
  // Multi-node outermost (srun from the batch node), the container inside each node's process.
  const settings = m.launcher === "slurm" ? (m.settings as LaunchSettings | undefined) : undefined;
  const mn = settings?.multinode;
  const cpusPerTask = settings?.slurm?.cpusPerTask;
  const wrap =
    mn && mn.nodes > 1
      ? multinodeWrap({
          mode: mn.mode,
          nodes: mn.nodes,
          ...(mn.procsPerNode !== undefined ? { procsPerNode: mn.procsPerNode } : {}),
          ...(cpusPerTask !== undefined ? { cpusPerTask } : {}),
          ...(container ? { inner: container } : {}),
        })
      : container;
  return runSpecOf(m, e, {
    argv,
    ...(wrap ? { wrap } : {}),
    config: true,
    cpus: res.cpus ?? 0,
    gpus: res.gpus ?? Number.NaN,
    ...(res.timeout !== undefined ? { timeoutS: res.timeout } : {}),
    ...(res.estimate !== undefined ? { estimateS: res.estimate } : {}),
    attempt,
    resumed,
  });
}

export interface ResumeRequest {
  sweepDir: string;
  retryFailed: boolean;
  /** Also rerun runs whose status record cannot be read (they may have succeeded). */
  retryUnknown?: boolean;
  /** Override the recorded settings for this round (e.g. -j). */
  jobs?: number;
}

/**
 * Resume: runs that succeeded are never run again; runs still running or queued are adopted
 * (not resubmitted); the rest are submitted again with their attempt counted. The same loop as
 * the first start, which begins by reading what the status files say.
 */
export async function resumeSweep(req: ResumeRequest, reporter: Reporter, opts: DriveOptions = {}): Promise<RunningSweep> {
  const manifest = readManifest(req.sweepDir);
  const lock = acquireSweepLock(manifest.dir, "corral resume");
  return driveGrid(manifest, lock, reporter, { ...opts, ...(req.retryFailed ? { retryFailed: true } : {}), ...(req.retryUnknown ? { retryUnknown: true } : {}), ...(req.jobs !== undefined ? { jobs: req.jobs } : {}) });
}
