/**
 * The flow head: a pipeline driven by the engine's one loop (loop.ts), with the hooks that make
 * it a pipeline: outputs removed before a job and checked after it, incomplete marks, build
 * records. The loop submits each job as soon as every job it needs has succeeded, retries, and
 * stops dependents of failures. It runs inside `corral flow`, or detached
 * (`corral flow --head DIR`), and again for `corral resume`: the first start and a resume are the
 * same code, since it begins by reading what the status files already say.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import type { BuildRecord, InputStamp } from "../plan/uptodate.js";
import { clearIncomplete, compactBuildRecords, markIncomplete, writeBuildRecords } from "../store/buildrecords.js";
import { acquireSweepLock, type SweepLock } from "../store/lock.js";
import type { RunState, SweepManifest } from "../store/protocol.js";
import { discardUnstartedSweep, readManifest } from "../store/store.js";
import type { Reporter, RunView } from "./events.js";
import { acquireFlowLock, FLOW_FILE, flowBatchKey, inputStamps, markFoldersDone, protectOutputs, recordOf, removeOutputs, type FlowFile } from "./flow.js";
import { driveSweep, type EngineNode, type LoopHooks } from "./loop.js";
import { runSpecOf } from "../worker/run-spec.js";

/** Options of one head. */
export interface HeadOptions {
  /** Run jobs that failed before again (resume --retry-failed). */
  retryFailed?: boolean;
  /** `-j` for this head (resume); default: the sweep's settings. */
  jobs?: number;
  /** @default 100 */
  pollMs?: number;
  /** @default 200 locally, 2000 otherwise */
  maxPollMs?: number;
  env: NodeJS.ProcessEnv;
}

/** How the flow ended. */
export interface FlowOutcome {
  manifest: SweepManifest;
  runs: RunView[];
  counts: Record<RunState, number>;
  /** Stopped by `stop()` (Ctrl+C, SIGTERM, `corral cancel`). */
  interrupted: boolean;
}

/** A running head. */
export interface FlowHead {
  done: Promise<FlowOutcome>;
  /** Start nothing more and stop running jobs (gracefully; `force` kills at once). Safe to repeat. */
  stop(force: boolean): void;
}

/** Read `<sweep>/flow.json`. */
export function readFlowFile(sweepDir: string): FlowFile {
  let f: FlowFile | undefined;
  try {
    f = JSON.parse(readFileSync(path.join(sweepDir, FLOW_FILE), "utf8")) as FlowFile;
  } catch {
    f = undefined;
  }
  if (!f || f.type !== "flow") throw new CorralError("E_NOT_FOUND", `${sweepDir} is not a flow sweep (no readable ${FLOW_FILE})`);
  return f;
}

/** Start the head on a flow sweep. Takes the sweep's lock (throws E_LOCKED when another head holds it). */
export function runFlowHead(sweepDir: string, reporter: Reporter, opts: HeadOptions): FlowHead {
  const manifest = readManifest(sweepDir);
  const flow = readFlowFile(manifest.dir);
  const lock = acquireSweepLock(manifest.dir, "corral flow (head)");
  let flowLock: SweepLock;
  try {
    flowLock = acquireFlowLock(manifest.projectDir, `corral flow head of ${path.relative(manifest.projectDir, manifest.dir) || manifest.dir}`);
  } catch (e) {
    lock.release();
    // A flow refused before it started anything leaves nothing behind (no ghost sweep that a
    // later resume would run).
    if (e instanceof CorralError && e.code === "E_LOCKED") discardUnstartedSweep(manifest);
    throw e;
  }
  const projectDir = manifest.projectDir;
  const jobs = flow.jobs;
  const stat = (p: string): boolean => existsSync(path.resolve(projectDir, p));
  const pendingRecords: Array<[string, BuildRecord]> = [];
  const stampCache = new Map<string, InputStamp>();
  // Temp file -> the jobs of this flow that read it and have not succeeded yet.
  const tempReaders = new Map<string, Set<number>>();
  for (const j of jobs) for (const f of j.temp ?? []) if (!tempReaders.has(f)) tempReaders.set(f, new Set());
  jobs.forEach((j, i) => {
    for (const f of j.inputs ?? []) tempReaders.get(f)?.add(i);
  });
  const isTempOf = (i: number, o: string): boolean => jobs[i]!.temp?.includes(o) ?? false;

  const nodes: EngineNode[] = jobs.map((j) => ({
    deps: j.deps,
    need: { cpus: j.cpus, gpus: j.gpus, memMB: j.memMB },
    priority: j.priority,
    batchKey: flowBatchKey(j),
    retries: j.retries,
    timeoutS: j.timeoutS,
    ...(j.scheduling ? { scheduling: j.scheduling } : {}),
    ...(j.local ? { local: true } : {}),
  }));
  const hooks: LoopHooks = {
    spec(i, att, resumed, place) {
      const j = jobs[i]!;
      const e = manifest.runs[i]!;
      // A later attempt's own command and resources (a rule's functions of `attempt`), as flow.json keeps them.
      const a = att >= 2 ? j.attempts?.[att - 2] : undefined;
      const timeoutS = a?.timeoutS ?? j.timeoutS;
      return runSpecOf(manifest, e, {
        argv: a?.argv ?? j.argv,
        ...(j.wrap ? { wrap: j.wrap } : {}),
        env: { CORRAL_JOB: j.key, CORRAL_RULE: j.rule },
        cpus: place ? place.cpus : (a?.cpus ?? j.cpus),
        gpus: place && place.gpuIds.length === 0 ? 0 : j.gpus,
        ...(timeoutS !== undefined ? { timeoutS } : {}),
        attempt: att,
        resumed,
      });
    },
    prepare(i) {
      const j = jobs[i]!;
      for (const f of [...j.outputs, ...j.log]) mkdirSync(path.dirname(path.resolve(projectDir, f)), { recursive: true });
      removeOutputs(projectDir, j.outputs);
      if (j.outputs.length > 0) markIncomplete(projectDir, { jobKey: j.key, outputs: j.outputs, sweep: manifest.dir, since: Date.now() });
    },
    check(i) {
      const missing = jobs[i]!.outputs.filter((o) => !stat(o));
      if (missing.length === 0) return undefined;
      return `finished but did not make its output '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ""}`;
    },
    succeeded(i) {
      const j = jobs[i]!;
      markFoldersDone(projectDir, j.outputs);
      const rec = recordOf(j, j.inputs !== undefined ? inputStamps(projectDir, j.inputs, stampCache) : undefined);
      for (const o of j.outputs) pendingRecords.push([o, rec]);
      if (j.protected !== undefined) protectOutputs(projectDir, j.protected);
      clearIncomplete(projectDir, j.key);
      // Temp files (read or written by this job) that no job of this flow still needs go.
      for (const f of j.temp ?? []) {
        const readers = tempReaders.get(f)!;
        readers.delete(i);
        if (readers.size === 0) removeOutputs(projectDir, [f]);
      }
    },
    unsucceeded(i) {
      const j = jobs[i]!;
      // A folder that cannot be removed (outside the project) stays marked: never trusted.
      if (removeOutputs(projectDir, j.outputs).length === 0) clearIncomplete(projectDir, j.key);
    },
    // A temp output is gone once its readers succeeded: the job stays done.
    stillDone: (i) => jobs[i]!.outputs.every((o) => stat(o) || isTempOf(i, o)),
    flush(final) {
      if (pendingRecords.length > 0) writeBuildRecords(projectDir, pendingRecords.splice(0));
      if (final) compactBuildRecords(projectDir);
    },
    label: (i) => jobs[i]!.key,
  };
  const drive = driveSweep({
    manifest,
    nodes,
    hooks,
    reporter,
    keepGoing: flow.keepGoing,
    packing: "head",
    recordHead: true,
    ...(opts.retryFailed ? { retryFailed: true } : {}),
    ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
    env: opts.env,
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.maxPollMs !== undefined ? { maxPollMs: opts.maxPollMs } : {}),
  });
  const done = (async (): Promise<FlowOutcome> => {
    try {
      const out = await drive.done;
      return { manifest: out.manifest, runs: out.runs, counts: out.counts, interrupted: out.interrupted };
    } finally {
      flowLock.release();
      lock.release();
    }
  })();
  return { done, stop: drive.stop };
}
