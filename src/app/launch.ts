/**
 * `corral run` and `corral resume`: decide (load, plan), then do (create the sweep on disk,
 * submit through a launcher, optionally wait). Planning never touches the disk; `--dry-run`
 * stops after it.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import { CorralError } from "../errors.js";
import type { Launcher, LaunchSettings } from "../launchers/launcher.js";
import { containerWrap } from "../plan/container.js";
import { resolveInterpolations } from "../plan/interpolate.js";
import { planRuns, type PlannedRun, type RunPlan } from "../plan/runs.js";
import type { ProjectContext } from "./project.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { RunEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import { indexSweep, readManifest, readRunStatus, writeManifest, writeRunStatus } from "../store/store.js";
import type { Reporter } from "./events.js";
import { gitInfo } from "./git.js";
import { makeLauncher } from "./launchers.js";
import { resolveSettings, type SettingFlags } from "./settings.js";

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
  // Compose every run now (not lazily at launch) so a bad override fails before anything starts.
  const settings = resolveSettings(cfg, req);
  return { request: req, command, plan, settings };
}

/** Plan every run (for --dry-run and launch). */
export function planAll(p: PreparedSweep): PlannedRun[] {
  const out: PlannedRun[] = [];
  for (let i = 0; i < p.plan.size; i++) out.push(p.plan.run(i));
  return out;
}

export interface StartedSweep {
  manifest: SweepManifest;
  launcher: Launcher;
  lock: SweepLock;
}

/** Do: create the sweep folder, the runs' folders and the manifest, then submit. */
export async function startSweep(p: PreparedSweep, runs: PlannedRun[], reporter: Reporter): Promise<StartedSweep> {
  const { request: req, settings } = p;
  const project = req.project;
  const cfg = project.config;
  const sweepTemplate = resolveInterpolations({ dir: cfg.sweep_dir }, { env: req.env, now: req.now }, project.file).dir as string;
  let dir = path.resolve(project.dir, sweepTemplate + (req.name ? `-${req.name}` : ""));
  // Two sweeps in the same millisecond still get their own folders.
  for (let k = 2; existsDir(dir); k++) dir = path.resolve(project.dir, `${sweepTemplate}${req.name ? `-${req.name}` : ""}-${k}`);
  mkdirSync(dir, { recursive: true });
  const lock = acquireSweepLock(dir, "corral run");
  const entries: RunEntry[] = runs.map((r) => ({ index: r.index, id: r.id, dir: String(r.index), overrides: r.overrides, params: r.params }));
  const manifest: SweepManifest = {
    type: "sweep",
    version: 1,
    id: `${path.basename(path.dirname(dir))}_${path.basename(dir)}`.replace(/[^A-Za-z0-9_.-]/g, "_"),
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
    resources: { ...(cfg.resources.cpus !== undefined ? { cpus: cfg.resources.cpus } : {}), ...(cfg.resources.gpus !== undefined ? { gpus: cfg.resources.gpus } : {}), ...(cfg.resources.timeout !== undefined ? { timeout: cfg.resources.timeout } : {}) },
  };
  const git = gitInfo(project.dir);
  if (git) manifest.git = git;
  for (const r of runs) {
    const rd = path.join(dir, String(r.index));
    mkdirSync(rd, { recursive: true });
    writeFileSync(path.join(rd, "config.yaml"), toYaml(r.config));
    writeFileSync(path.join(rd, "overrides.yaml"), toYaml(r.overrides));
  }
  writeManifest(manifest);
  indexSweep(project.dir, manifest);
  reporter.emit({ type: "sweep-created", dir, runs: runs.length, launcher: settings.type });
  const launcher = makeLauncher(settings);
  const specs = entries.map((e) => runSpec(manifest, e, manifest.resources ?? {}, 1, false));
  const jobs = await launcher.submit({ sweep: manifest, runs: specs, settings, round: 0 });
  manifest.jobs.push(...jobs);
  writeManifest(manifest);
  reporter.emit({ type: "submitted", jobs: jobs.map((j) => j.jobId), runs: specs.length });
  return { manifest, launcher, lock };
}

const existsDir = (d: string): boolean => existsSync(d);

export interface RunResources {
  cpus?: number;
  gpus?: number;
  timeout?: number;
}

/** Everything a worker needs to execute one run, with no access to the project. */
export function runSpec(m: SweepManifest, e: RunEntry, res: RunResources, attempt: number, resumed: boolean): RunSpec {
  const dir = path.join(m.dir, e.dir);
  const argv = [...m.command, ...e.overrides];
  const wrap = m.container && containerWrap(m.container, { projectDir: m.projectDir, runDir: dir, gpu: (res.gpus ?? 0) > 0, argv, passEnv: Object.keys(m.baseEnv ?? {}) });
  return {
    index: e.index,
    id: e.id,
    dir,
    argv,
    ...(wrap ? { wrap } : {}),
    cwd: m.projectDir,
    env: {
      ...(m.baseEnv ?? {}),
      CORRAL_RUN_ID: e.id,
      CORRAL_RUN_DIR: dir,
      CORRAL_SWEEP_DIR: m.dir,
      CORRAL_CONFIG: path.join(dir, "config.yaml"),
      ...(resumed ? { CORRAL_RESUMED: "1" } : {}),
    },
    cpus: res.cpus ?? 0,
    gpus: res.gpus ?? Number.NaN,
    ...(res.timeout !== undefined ? { timeoutS: res.timeout } : {}),
    attempt,
  };
}

export interface ResumeRequest {
  sweepDir: string;
  retryFailed: boolean;
  /** Override the recorded settings for this round (e.g. -j). */
  jobs?: number;
}

export interface ResumeOutcome {
  manifest: SweepManifest;
  launcher: Launcher;
  lock: SweepLock;
  resubmitted: number[];
  alreadyDone: number;
  stillRunning: number[];
}

/**
 * Resume: runs that succeeded are never run again; runs still running or queued are adopted
 * (not resubmitted); the rest are submitted again with their attempt counted.
 */
export async function resumeSweep(req: ResumeRequest, reporter: Reporter): Promise<ResumeOutcome> {
  const manifest = readManifest(req.sweepDir);
  const lock = acquireSweepLock(manifest.dir, "corral resume");
  try {
    const settings: LaunchSettings = { ...(manifest.settings as LaunchSettings) };
    if (req.jobs !== undefined) settings.parallel = req.jobs;
    const launcher = makeLauncher(settings);
    const facts = await launcher.explain(manifest);
    const todo: RunSpec[] = [];
    const stillRunning: number[] = [];
    let alreadyDone = 0;
    for (const e of manifest.runs) {
      const rec = readRunStatus(path.join(manifest.dir, e.dir));
      const f = facts.get(e.index) ?? {};
      if (rec?.state === "succeeded") {
        alreadyDone++;
        continue;
      }
      const queuedOrRunning = f.workerAlive === true || f.scheduler === "pending" || f.scheduler === "running";
      if (queuedOrRunning) {
        stillRunning.push(e.index);
        continue;
      }
      if (rec?.state === "failed" && !req.retryFailed) continue;
      const attempt = (rec?.attempt ?? 0) + 1;
      const resumed = rec?.state === "timeout" || rec?.state === "preempted";
      todo.push(runSpec(manifest, e, manifest.resources ?? {}, attempt, resumed));
    }
    if (todo.length > 0) {
      // Mark them queued again before submitting, so no reader (this one included) mistakes the
      // previous attempt's final state for the outcome of this one.
      const t = Date.now();
      for (const spec of todo) {
        const old = readRunStatus(spec.dir);
        writeRunStatus(spec.dir, {
          type: "run-status",
          version: 1,
          runId: spec.id,
          index: spec.index,
          state: "pending",
          attempt: spec.attempt,
          updatedAt: t,
          ...(old?.message ? { message: `previous attempt: ${old.state}: ${old.message}` } : {}),
          history: [...(old?.history ?? []), { state: "pending", at: t, attempt: spec.attempt }],
        });
      }
      const round = manifest.jobs.length;
      const jobs = await launcher.submit({ sweep: manifest, runs: todo, settings, round });
      manifest.jobs.push(...jobs);
      writeManifest(manifest);
      reporter.emit({ type: "submitted", jobs: jobs.map((j) => j.jobId), runs: todo.length });
    }
    return { manifest, launcher, lock, resubmitted: todo.map((t) => t.index), alreadyDone, stillRunning };
  } catch (e) {
    lock.release();
    throw e;
  }
}

