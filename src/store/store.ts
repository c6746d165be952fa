/**
 * The on-disk record of sweeps and runs (see DESIGN.md "On disk"). Any command, in any shell,
 * on any node sharing the filesystem, reads the same files; nothing needs a server.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { CorralError } from "../errors.js";
import { readJsonSync, writeJsonAtomicSync } from "./fsutil.js";
import { readLaunchSettings, RUN_STATES, type JobEntry, type RunEntry, type RunState, type RunStatusRecord, type StudyRecipe, type SweepManifest, type TrialFile } from "./protocol.js";
import { MANIFEST, METRICS, PROJECT_INDEX_DIR, PRUNE_REQUEST, runExitFile, STATUS, studyRecipeFile, SWEEP_INDEX_DIR, TRIAL } from "./layout.js";

export { MANIFEST, METRICS, PROJECT_INDEX_DIR, STATUS } from "./layout.js";

/** A run's metric lines (JSON lines appended by the run itself). */

/**
 * A process that drives a sweep (a detached flow head) is recorded among its jobs as `head-<pid>`,
 * so any command can tell whether something still drives it.
 */
export const headJobId = (pid: number): string => `head-${pid}`;
export const isHeadJob = (j: JobEntry): boolean => j.jobId.startsWith("head-");
/** The manifest as a launcher acts on it: without head entries (a cancel must not signal the head). */
export const workOf = (m: SweepManifest): SweepManifest => ({ ...m, jobs: m.jobs.filter((j) => !isHeadJob(j)) });

/** Absolute run folder of an entry. */
export const runDirOf = (sweep: SweepManifest, run: RunEntry): string => path.join(sweep.dir, run.dir);

export function readManifest(sweepDir: string): SweepManifest {
  const file = path.join(sweepDir, MANIFEST);
  const m = readJsonSync<SweepManifest>(file);
  if (!m || m.type !== "sweep") {
    throw new CorralError("E_NOT_FOUND", `no sweep at ${sweepDir} (missing or unreadable ${MANIFEST})`, {
      hint: "run `corral status` with no argument to see the latest sweep",
    });
  }
  const damaged = manifestProblem(m);
  if (damaged) {
    throw new CorralError("E_STORAGE", `${file} is damaged: ${damaged}`, {
      hint: "restore it from a backup, or start the sweep again; the runs' own folders (status.json, logs, metrics) are untouched",
      exitCode: 1,
    });
  }
  // The folder may have moved (or be mounted elsewhere on a compute node): trust where we found it.
  m.dir = path.resolve(sweepDir);
  // Settings written by an older corral read as this one's (the next write stores them so).
  const settings = readLaunchSettings(m.settings, m.launcher);
  if (settings) m.settings = settings;
  else delete m.settings;
  return m;
}

export function writeManifest(m: SweepManifest): void {
  writeJsonAtomicSync(path.join(m.dir, MANIFEST), m);
}

/**
 * A run's status record; undefined when it has none yet. A record that exists but cannot be
 * read (empty, garbage, wrong types) comes back as state `unknown` with the reason: it must never
 * pass for "not started", or a succeeded run would run again.
 */
export function readRunStatus(runDir: string): RunStatusRecord | undefined {
  const file = path.join(runDir, STATUS);
  let text: string;
  try {
    // Not there yet (a run not started) is the common case of a sweep in progress: a stat that
    // says so costs a tenth of the ENOENT error (and its stack) a read would throw.
    if (statSync(file, { throwIfNoEntry: false }) === undefined) return undefined;
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    return unknownRecord(`cannot read ${file}: ${code ?? (e as Error).message}`);
  }
  return parseRunStatus(text, file);
}

/** A status record from the text of `file`: one that cannot be read comes back as state `unknown` with the reason (see {@link readRunStatus}). */
export function parseRunStatus(text: string, file: string): RunStatusRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return unknownRecord(text.trim() === "" ? `${file} is empty` : `${file} is not valid JSON`);
  }
  const why = statusProblem(rec);
  return why ? unknownRecord(`${file}: ${why}`) : (rec as RunStatusRecord);
}

/** What the spawn helper recorded of an attempt's exit (`<run>/exit-<attempt>.json`). */
export interface RunExitRecord {
  pid: number;
  code: number | null;
  signal: string | null;
  /** Stopped by the helper because its worker died. */
  orphaned: boolean;
  at: number;
}

export function readRunExit(runDir: string, attempt: number): RunExitRecord | undefined {
  const r = readJsonSync<RunExitRecord>(runExitFile(runDir, attempt));
  return r && typeof r.pid === "number" ? r : undefined;
}

function unknownRecord(message: string): RunStatusRecord {
  return { type: "run-status", version: 1, runId: "", index: -1, state: "unknown", attempt: 0, updatedAt: 0, message, history: [] };
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** What is wrong with a parsed status record (undefined: nothing the readers rely on). */
function statusProblem(r: unknown): string | undefined {
  if (!r || typeof r !== "object" || Array.isArray(r)) return "not a status record";
  const o = r as Record<string, unknown>;
  if (o.type !== "run-status") return "not a status record (type)";
  if (typeof o.state !== "string" || !RUN_STATES.includes(o.state as RunState) || o.state === "unknown") return `state ${JSON.stringify(o.state)} is not a run state`;
  if (!isNum(o.attempt)) return "attempt is not a number";
  if (!isNum(o.updatedAt)) return "updatedAt is not a number";
  if (!Array.isArray(o.history)) return "history is not a list";
  if (o.message !== undefined && typeof o.message !== "string") return "message is not text";
  return undefined;
}

/** What is wrong with a parsed manifest (undefined: nothing the readers rely on). */
function manifestProblem(m: SweepManifest): string | undefined {
  const o = m as unknown as Record<string, unknown>;
  if (!Array.isArray(o.runs)) return "it has no list of runs";
  if (!Array.isArray(o.jobs)) return "it has no list of jobs";
  if (!Array.isArray(o.command)) return "it has no command";
  for (const [k, r] of (o.runs as unknown[]).entries()) {
    const e = r as Record<string, unknown> | null;
    if (!e || typeof e !== "object" || !isNum(e.index) || typeof e.id !== "string" || typeof e.dir !== "string" || !Array.isArray(e.overrides)) return `runs[${k}] is not a run entry`;
  }
  return undefined;
}

export function writeRunStatus(runDir: string, rec: RunStatusRecord): void {
  writeJsonAtomicSync(path.join(runDir, STATUS), rec);
}

/** Record a sweep in the project index (one small file per sweep: no shared appends over NFS). */
export function indexSweep(projectDir: string, m: SweepManifest): void {
  const dir = path.join(projectDir, SWEEP_INDEX_DIR);
  mkdirSync(dir, { recursive: true });
  writeJsonAtomicSync(path.join(dir, `${m.id}.json`), {
    id: m.id,
    name: m.name,
    dir: m.dir,
    kind: m.kind,
    createdAt: m.createdAt,
  });
}

/**
 * Remove a sweep that never started anything (a refused command): its folder and its index
 * entry. Refuses (returns false) once any job was recorded, so nothing a user ran is lost.
 */
export function discardUnstartedSweep(m: SweepManifest): boolean {
  const now = readJsonSync<SweepManifest>(path.join(m.dir, MANIFEST));
  if (!now || !Array.isArray(now.jobs) || now.jobs.length > 0) return false;
  rmSync(m.dir, { recursive: true, force: true });
  rmSync(path.join(m.projectDir, SWEEP_INDEX_DIR, `${m.id}.json`), { force: true });
  return true;
}

export interface SweepRef {
  id: string;
  name?: string;
  dir: string;
  kind: "sweep" | "flow";
  createdAt: number;
}

/** Sweeps of a project, newest first. */
export function listSweeps(projectDir: string): SweepRef[] {
  const dir = path.join(projectDir, SWEEP_INDEX_DIR);
  if (!existsSync(dir)) return [];
  const refs: SweepRef[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".json")) continue;
    const r = readJsonSync<SweepRef>(path.join(dir, f));
    if (r && existsSync(path.join(r.dir, MANIFEST))) refs.push(r);
  }
  return refs.sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * Find a sweep by folder path, id, name or `latest` (default). Throws E_NOT_FOUND with the
 * choices when nothing matches.
 */
export function resolveSweep(projectDir: string, ref: string | undefined): string {
  if (ref && existsSync(path.join(ref, MANIFEST))) return path.resolve(ref);
  const sweeps = listSweeps(projectDir);
  if (!ref || ref === "latest") {
    const s = sweeps[0];
    if (!s) {
      throw new CorralError("E_NOT_FOUND", `no sweeps recorded in ${path.join(projectDir, PROJECT_INDEX_DIR)}`, {
        hint: "start one with `corral run -m ...`, or pass the sweep folder",
      });
    }
    return s.dir;
  }
  let hit = sweeps.find((s) => s.id === ref || s.name === ref);
  if (!hit && ref.length >= MIN_ID_PREFIX) {
    const matches = sweeps.filter((s) => s.id.startsWith(ref));
    if (matches.length > 1) {
      throw new CorralError("E_USAGE", `'${ref}' names ${matches.length} sweeps: ${matches.slice(0, 10).map((s) => s.name ?? s.id).join(", ")}${matches.length > 10 ? ", ..." : ""}`, {
        hint: "give more of the sweep's id, its name or its folder",
      });
    }
    hit = matches[0];
  }
  if (!hit) {
    const names = sweeps.slice(0, 5).map((s) => s.name ?? s.id);
    throw new CorralError("E_NOT_FOUND", `no sweep '${ref}'`, {
      hint: names.length ? `recent sweeps: ${names.join(", ")}` : "no sweeps recorded yet",
    });
  }
  return hit.dir;
}

/** The shortest id prefix that names a run or a sweep (shorter ones match too much by chance). */
export const MIN_ID_PREFIX = 4;

/**
 * Find a run by index, folder path, full id, id prefix of at least {@link MIN_ID_PREFIX}
 * characters, or pipeline job name. A number is an index only: `99` in a 24-run sweep is no run,
 * not a run whose id starts with 99. Throws E_NOT_FOUND (exit 2) when nothing matches and
 * E_USAGE (exit 2) listing the matches when a prefix names more than one run.
 */
export function resolveRun(sweep: SweepManifest, ref: string): RunEntry {
  const last = sweep.runs.at(-1)?.index ?? -1;
  const hint = `name a run by its index (0-${last}), its id or an id prefix of at least ${MIN_ID_PREFIX} characters, as \`corral status --all\` lists them`;
  if (/^\d+$/.test(ref)) {
    const byIndex = sweep.runs.find((r) => r.index === Number(ref));
    if (byIndex) return byIndex;
    throw new CorralError("E_NOT_FOUND", `no run ${ref} in sweep ${sweep.dir}: it has ${sweep.runs.length} run${sweep.runs.length === 1 ? "" : "s"} (0-${last})`, { hint });
  }
  const abs = path.resolve(ref);
  const exact = sweep.runs.find((r) => path.join(sweep.dir, r.dir) === abs || r.id === ref || r.job === ref);
  if (exact) return exact;
  const matches = ref.length >= MIN_ID_PREFIX ? sweep.runs.filter((r) => r.id.startsWith(ref)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const shown = matches.slice(0, 10).map((r) => `run ${r.index} (${r.id})`).join(", ");
    throw new CorralError("E_USAGE", `'${ref}' names ${matches.length} runs: ${shown}${matches.length > 10 ? ", ..." : ""}`, { hint: "give more characters of the id, or the run's index" });
  }
  const why = ref.length < MIN_ID_PREFIX && /^[0-9a-f]+$/.test(ref) ? ` (an id prefix needs at least ${MIN_ID_PREFIX} characters)` : "";
  throw new CorralError("E_NOT_FOUND", `no run '${ref}' in sweep ${sweep.dir}${why}`, { hint });
}

/**
 * Every line of a run's `metrics.jsonl` as a row (a partial last line is skipped): what a study
 * reads for its objective and ASHA's rungs. Charts and results use the incremental readers of
 * src/store/metrics.ts.
 */
export function readMetricSeries(runDir: string): Array<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path.join(runDir, METRICS), "utf8");
  } catch {
    return [];
  }
  const rows: Array<Record<string, unknown>> = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const obj = JSON.parse(line) as unknown;
      if (obj && typeof obj === "object" && !Array.isArray(obj)) rows.push(obj as Record<string, unknown>);
    } catch {
      /* partial line */
    }
  }
  return rows;
}

/** The last `n` non-empty lines of a text file (reads at most its last `bytes`). */
export function tailLines(file: string, n = 5, bytes = 8192): string[] {
  let fd: number | undefined;
  try {
    const size = statSync(file).size;
    fd = openSync(file, "r");
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString("utf8").split("\n").filter((l) => l.trim()).slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A study's trial record in its run folder (see {@link TrialFile}); undefined when absent or unreadable. */
export function readTrial(runDir: string): TrialFile | undefined {
  const t = readJsonSync<TrialFile>(path.join(runDir, TRIAL));
  return t !== undefined && t.type === "trial" && typeof t.number === "number" && t.entry !== undefined ? t : undefined;
}

/**
 * Claim trial `t.number` in its run folder: its record is written whole to a file of its own, then
 * hard-linked to `trial.json`, which succeeds for exactly one claimer (also on NFS, where link is
 * atomic). False: another head or worker made this trial first. The commit point of a new trial.
 */
export function claimTrial(runDir: string, t: TrialFile): boolean {
  mkdirSync(runDir, { recursive: true });
  const tmp = path.join(runDir, `.${TRIAL}.${process.pid}.${randomBytes(4).toString("hex")}`);
  const fd = openSync(tmp, "wx");
  try {
    writeSync(fd, JSON.stringify(t) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path.join(runDir, TRIAL));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** A study's recipe (protocol.ts StudyRecipe); undefined for a study made before recipes, or unreadable. */
export function readStudyRecipe(sweepDir: string): StudyRecipe | undefined {
  const r = readJsonSync<StudyRecipe>(studyRecipeFile(sweepDir));
  return r !== undefined && r.type === "study-recipe" ? r : undefined;
}

export function writeStudyRecipe(sweepDir: string, r: StudyRecipe): void {
  mkdirSync(path.dirname(studyRecipeFile(sweepDir)), { recursive: true });
  writeJsonAtomicSync(studyRecipeFile(sweepDir), r);
}

/** The head's request that a run be stopped early (ASHA), read by the worker running it. */
export function writePruneRequest(runDir: string, why: { rung: number; resource: number; value: number }): void {
  writeJsonAtomicSync(path.join(runDir, PRUNE_REQUEST), { type: "prune-request", version: 1, ...why, at: Date.now() });
}

export function readPruneRequest(runDir: string): { rung: number; resource: number; value: number } | undefined {
  return readJsonSync<{ rung: number; resource: number; value: number }>(path.join(runDir, PRUNE_REQUEST));
}
