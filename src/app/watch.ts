/**
 * Wait for a sweep: read the runs' own status files (only those not yet final), ask the launcher
 * at most once per round to explain the rest, with an adaptive interval.
 */
import path from "node:path";
import type { Launcher } from "../launchers/launcher.js";
import type { RunState, RunStatusRecord } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus, type LivenessFacts } from "../store/status.js";
import { readManifest, readRunStatus } from "../store/store.js";
import type { Reporter, RunView } from "./events.js";

export interface WaitOptions {
  /** First poll interval; grows to maxPollMs while nothing changes. */
  pollMs?: number;
  maxPollMs?: number;
  /** Resolve early (e.g. after Ctrl+C handling decided to stop waiting). */
  signal?: AbortSignal;
}

export interface WaitResult {
  runs: RunView[];
  counts: Record<RunState, number>;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export async function waitForSweep(sweepDir: string, launcher: Launcher, reporter: Reporter, opts: WaitOptions = {}): Promise<WaitResult> {
  const minPoll = opts.pollMs ?? 100;
  const maxPoll = opts.maxPollMs ?? 2000;
  let interval = minPoll;
  const final = new Map<number, RunView>();
  let lastSig = "";
  for (;;) {
    // Re-read the manifest each round: a resume in another shell may add jobs.
    const m = readManifest(sweepDir);
    const now = Date.now();
    // Ask "is any job alive?" BEFORE reading the status files: a worker that exits between the
    // two reads has already written its final records, so a run read as running is really lost.
    const active = final.size < m.runs.length ? await launcher.active(m) : false;
    const open: Array<{ i: number; rec: RunStatusRecord | undefined }> = [];
    for (const e of m.runs) {
      if (final.has(e.index)) continue;
      open.push({ i: e.index, rec: readRunStatus(path.join(m.dir, e.dir)) });
    }
    const needFacts = open.some((o) => !o.rec || !TERMINAL_STATES.has(o.rec.state));
    const facts: Map<number, LivenessFacts> = needFacts && !active ? await launcher.explain(m) : new Map();
    const running: RunView[] = [];
    for (const { i, rec } of open) {
      const e = m.runs.find((r) => r.index === i)!;
      const state = deriveStatus(rec, now, active ? {} : (facts.get(i) ?? {}));
      const view: RunView = {
        index: i,
        id: e.id,
        dir: path.join(m.dir, e.dir),
        state,
        overrides: e.overrides,
        attempt: rec?.attempt ?? 0,
        ...(rec?.exitCode !== undefined ? { exitCode: rec.exitCode } : {}),
        ...(rec?.host ? { host: rec.host } : {}),
        ...(rec?.jobId ? { jobId: rec.jobId } : {}),
        ...(rec?.gpus ? { gpus: rec.gpus } : {}),
        ...(rec?.startedAt ? { startedAt: rec.startedAt } : {}),
        ...(rec?.endedAt ? { endedAt: rec.endedAt } : {}),
        ...(rec?.message ? { message: rec.message } : {}),
        ...(e.job ? { job: e.job } : {}),
      };
      if (TERMINAL_STATES.has(state)) {
        final.set(i, view);
        reporter.emit({ type: "run-ended", run: view });
      } else if (state === "running") running.push(view);
    }
    const states: RunState[] = m.runs.map((e) => final.get(e.index)?.state ?? (running.some((r) => r.index === e.index) ? "running" : "pending"));
    const counts = countStates(states);
    const sig = JSON.stringify(counts);
    reporter.emit({ type: "progress", counts, total: m.runs.length, running });
    const allFinal = final.size === m.runs.length;
    // Nothing can change any more: no job alive and no run still running.
    if (allFinal || (!active && running.length === 0)) {
      const runs = m.runs.map((e) => final.get(e.index) ?? { index: e.index, id: e.id, dir: path.join(m.dir, e.dir), state: "pending" as RunState, overrides: e.overrides, attempt: 0 });
      return { runs, counts };
    }
    if (opts.signal?.aborted) {
      const runs = m.runs.map((e) => final.get(e.index) ?? running.find((r) => r.index === e.index) ?? { index: e.index, id: e.id, dir: path.join(m.dir, e.dir), state: "pending" as RunState, overrides: e.overrides, attempt: 0 });
      return { runs, counts };
    }
    interval = sig === lastSig ? Math.min(maxPoll, Math.round(interval * 1.5)) : minPoll;
    lastSig = sig;
    await sleep(interval, opts.signal);
  }
}
