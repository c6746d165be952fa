/**
 * `corral run` and `corral resume`: decide (load, plan), then do (create the sweep on disk,
 * submit through a launcher, optionally wait). Planning never touches the disk; `--dry-run`
 * stops after it.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import { CorralError } from "../errors.js";
import type { Launcher, LaunchPreview, LaunchSettings } from "../launchers/launcher.js";
import { containerWrap } from "../plan/container.js";
import { multinodeWrap } from "../plan/multinode.js";
import { resolveInterpolations } from "../plan/interpolate.js";
import { planRuns, type PlannedRun, type RunPlan } from "../plan/runs.js";
import type { ProjectContext } from "../project/open.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { RunEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import { indexSweep, readManifest, readRunStatus, writeManifest, writeRunStatus } from "../store/store.js";
import type { Reporter } from "./events.js";
import { gitInfo } from "../project/git.js";
import { makeLauncher } from "../launchers/registry.js";
import { planResubmissions, type RunOutcome } from "../plan/retry.js";
import { policyOf, settingsForAttempt } from "../launchers/settings.js";
import { checkMultinode, resolveSettings, type SettingFlags } from "../launchers/settings.js";

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

export interface StartedSweep {
  manifest: SweepManifest;
  launcher: Launcher;
  lock: SweepLock;
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
  return launcher.preview({ sweep: manifest, runs: specs, settings: p.settings, round: 0 });
}

/** Do: create the sweep folder, the runs' folders and the manifest, then submit. */
export async function startSweep(p: PreparedSweep, runs: PlannedRun[], reporter: Reporter): Promise<StartedSweep> {
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
  const entries = manifest.runs;
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
  const specs = entries.map((e) => runSpec(manifest, e, manifest.resources ?? {}, 1, false));
  const jobs = await launcher.submit({ sweep: manifest, runs: specs, settings, round: 0 });
  manifest.jobs.push(...jobs);
  writeManifest(manifest);
  reporter.emit({ type: "submitted", jobs: jobs.map((j) => j.jobId), runs: specs.length });
  return { manifest, launcher, lock };
}

/** A new sweep folder from the project's `sweep_dir` template (and `--name`), never an existing one. */
export function chooseSweepDir(project: Pick<ProjectContext, "dir" | "file" | "config">, now: Date, env: Record<string, string | undefined>, name?: string): string {
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

/** Everything a worker needs to execute one run, with no access to the project. */
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
    ...(res.estimate !== undefined ? { estimateS: res.estimate } : {}),
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
    // Jobs submitted by a process that died before recording them: adopt, never submit twice.
    const recovered = launcher.recover ? await launcher.recover(manifest) : [];
    if (recovered.length) {
      manifest.jobs.push(...recovered);
      writeManifest(manifest);
      reporter.emit({ type: "info", message: `adopted ${recovered.length} job(s) missing from the manifest: ${recovered.map((j) => j.jobId).join(", ")}` });
    }
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
    await resubmit(manifest, launcher, settings, todo, reporter);
    return { manifest, launcher, lock, resubmitted: todo.map((t) => t.index), alreadyDone, stillRunning };
  } catch (e) {
    lock.release();
    throw e;
  }
}


/**
 * Submit runs again: mark them pending first (so no reader, this one included, mistakes the
 * previous attempt's final state for this one's), then one submission per attempt number, each
 * with that attempt's resources (`retry_scaling`), recording the jobs in the manifest.
 */
export async function resubmit(manifest: SweepManifest, launcher: Launcher, settings: LaunchSettings, todo: RunSpec[], reporter: Reporter): Promise<void> {
  if (todo.length === 0) return;
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
  const policy = policyOf(settings);
  const byAttempt = new Map<number, RunSpec[]>();
  for (const spec of todo) byAttempt.set(spec.attempt, [...(byAttempt.get(spec.attempt) ?? []), spec]);
  for (const [attempt, specs] of [...byAttempt].sort((a, b) => a[0] - b[0])) {
    const jobs = await launcher.submit({ sweep: manifest, runs: specs, settings: settingsForAttempt(settings, attempt, policy), round: manifest.jobs.length });
    manifest.jobs.push(...jobs);
    writeManifest(manifest);
    reporter.emit({ type: "submitted", jobs: jobs.map((j) => j.jobId), runs: specs.length });
  }
}

/**
 * After a wait: resubmit what the policy (launcher.max_attempts, retries) says should go again.
 * Returns the resubmitted run indexes (empty: nothing more to wait for). The caller holds the lock.
 */
export async function retryRound(sweepDir: string, launcher: Launcher, outcomes: readonly RunOutcome[], reporter: Reporter): Promise<number[]> {
  const manifest = readManifest(sweepDir);
  const settings = manifest.settings as LaunchSettings;
  const entries = new Map(manifest.runs.map((e) => [e.index, e]));
  const recs = new Map(outcomes.map((o) => [o.index, readRunStatus(path.join(manifest.dir, entries.get(o.index)?.dir ?? String(o.index)))]));
  const decisions = planResubmissions(
    outcomes.map((o) => (recs.get(o.index)?.stopCause === "run-timeout" ? { ...o, runTimeout: true } : o)),
    policyOf(settings),
  );
  if (decisions.length === 0) return [];
  const todo: RunSpec[] = [];
  for (const d of decisions) {
    const e = entries.get(d.index);
    // Never rerun a run whose own record says it succeeded, whatever the wait saw.
    if (!e || recs.get(d.index)?.state === "succeeded") continue;
    todo.push(runSpec(manifest, e, manifest.resources ?? {}, d.attempt, d.resumed));
  }
  if (todo.length === 0) return [];
  const why = [...new Set(decisions.map((d) => d.after))].join("/");
  reporter.emit({ type: "info", message: `resubmitting ${todo.length} run(s) after ${why} (attempts ${Math.min(...todo.map((t) => t.attempt))}-${Math.max(...todo.map((t) => t.attempt))} of ${policyOf(settings).maxAttempts})` });
  await resubmit(manifest, launcher, settings, todo, reporter);
  return todo.map((t) => t.index);
}
