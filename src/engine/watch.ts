/**
 * Wait for a sweep: read the runs' own status files (only those not yet final), ask the launcher
 * at most once per round to explain the rest, with an adaptive interval.
 */
import path from "node:path";
import type { Launcher } from "../launchers/launcher.js";
import type { RunState, RunStatusRecord } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { countStates, deriveStatus, waitingFacts, type LivenessFacts } from "../store/status.js";
import { MANIFEST, readManifest, readRunStatus, runDirOf } from "../store/store.js";
import { runView } from "./inspect.js";
import { statSync } from "node:fs";

const FULL_SCAN_EVERY = 10;
const FRONTIER = 64;

const mtimeOf = (f: string): number => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return 0;
  }
};
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
  // Big sweeps poll less often: each round reads the status file of every unfinished run.
  const minPoll = opts.pollMs ?? 100;
  const maxPoll = opts.maxPollMs ?? 2000;
  let interval = minPoll;
  const final = new Map<number, RunView>();
  let lastSig = "";
  let m = readManifest(sweepDir);
  let manifestMtime = mtimeOf(path.join(sweepDir, MANIFEST));
  let entries = new Map(m.runs.map((e) => [e.index, e]));
  // Last seen non-final view of each run.
  const seen = new Map<number, RunView>();
  // What was last reported as ended, per run: a run re-read after a requeue is reported only if it changed.
  const emitted = new Map<number, string>();
  let round = 0;
  // Last reported reasons why runs wait in the queue (said again only when they change).
  let lastWaiting = "";
  for (;;) {
    // Re-read the manifest only when it changed (a resume in another shell may add jobs); a
    // 100k-run manifest is too big to parse every round.
    const mt = mtimeOf(path.join(sweepDir, MANIFEST));
    if (mt !== manifestMtime) {
      manifestMtime = mt;
      m = readManifest(sweepDir);
      entries = new Map(m.runs.map((e) => [e.index, e]));
    }
    const now = Date.now();
    // Ask "is any job alive?" BEFORE reading the status files: a worker that exits between the
    // two reads has already written its final records, so a run read as running is really lost.
    const active = final.size < m.runs.length ? await launcher.active(m) : false;
    // Which status files to read this round: all of them every FULL_SCAN_EVERY rounds and when no
    // job is alive (the final truth); otherwise the runs last seen running plus the first
    // FRONTIER unfinished ones, since workers start runs in index order. A 100k-run sweep then
    // costs a few hundred reads per round, not 100k.
    const full = !active || round % FULL_SCAN_EVERY === 0;
    round++;
    const open: Array<{ i: number; rec: RunStatusRecord | undefined; skipped: boolean }> = [];
    let frontier = 0;
    for (const e of m.runs) {
      if (final.has(e.index)) continue;
      const wasRunning = seen.get(e.index)?.state === "running";
      if (!full && !wasRunning && frontier++ >= FRONTIER) {
        open.push({ i: e.index, rec: undefined, skipped: true });
        continue;
      }
      open.push({ i: e.index, rec: readRunStatus(runDirOf(m, e)), skipped: false });
    }
    const needFacts = open.some((o) => !o.skipped && (!o.rec || !TERMINAL_STATES.has(o.rec.state)));
    // While jobs are alive only the queue's reasons are used (launchers cache their scheduler
    // answers, so asking every round costs no extra scheduler query).
    const facts: Map<number, LivenessFacts> = needFacts ? await launcher.explain(m) : new Map();
    const waiting = new Map<string, number>();
    const running: RunView[] = [];
    for (const { i, rec, skipped } of open) {
      if (skipped) {
        const prev = seen.get(i);
        if (prev?.state === "running") running.push(prev);
        continue;
      }
      const e = entries.get(i)!;
      const f = active ? waitingFacts(facts.get(i)) : (facts.get(i) ?? {});
      const state = deriveStatus(rec, now, f);
      const view = runView(m, e, rec, state, f);
      if (state === "pending" && f.reason) waiting.set(f.reason, (waiting.get(f.reason) ?? 0) + 1);
      if (TERMINAL_STATES.has(state)) {
        final.set(i, view);
        seen.delete(i);
        const key = `${state}:${view.attempt}`;
        if (emitted.get(i) !== key) reporter.emit({ type: "run-ended", run: view });
        emitted.set(i, key);
      } else {
        seen.set(i, view);
        if (state === "running") running.push(view);
      }
    }
    const counts = countStates([...final.values()].map((v) => v.state));
    counts.running += running.length;
    counts.pending += m.runs.length - final.size - running.length;
    const sig = JSON.stringify(counts);
    const why = [...waiting].map(([r, n]) => `${n} pending (${r})`).join(", ");
    if (why !== lastWaiting && why) reporter.emit({ type: "info", message: `queue: ${why}` });
    lastWaiting = why;
    reporter.emit({ type: "progress", counts, total: m.runs.length, running });
    const allFinal = final.size === m.runs.length;
    // Every run ended but a job is still alive: SLURM may have requeued it (node failure,
    // preemption) and will run the unfinished runs again, so read those again next round.
    if (allFinal && active) for (const [i, v] of final) if (v.state !== "succeeded") final.delete(i);
    // Nothing can change any more: no job alive and no run still running.
    if (!active && (allFinal || running.length === 0)) {
      const runs = m.runs.map((e) => final.get(e.index) ?? runView(m, e, undefined, "pending"));
      return { runs, counts };
    }
    if (opts.signal?.aborted) {
      const runs = m.runs.map((e) => final.get(e.index) ?? running.find((r) => r.index === e.index) ?? runView(m, e, undefined, "pending"));
      return { runs, counts };
    }
    const floor = Math.min(maxPoll, minPoll + Math.floor(open.length / 10));
    interval = sig === lastSig ? Math.min(maxPoll, Math.round(interval * 1.5)) : floor;
    lastSig = sig;
    await sleep(interval, opts.signal);
  }
}
