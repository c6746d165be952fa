/**
 * A study drives through the engine's one loop as a sweep whose runs are made as slots free:
 * `studyGrow` is the loop's grow hook (ask the sampler for trial n with the history derived from
 * the run folders, record the trial in its folder, then hand it to the loop), `studyWatch` its
 * watch hook (ASHA: read a running trial's metrics, ask the worker to stop it at a rung).
 *
 * No database: the study's state is the run folders. A trial is recorded (its `trial.json`,
 * written atomically, after its config and overrides) before it is submitted, so a crash never
 * asks twice for the same trial number; `reconcileStudy` adopts trials recorded in their folder
 * but missing from sweep.json.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { ashaCheck, rungValues, samplerOf, type MetricRow } from "../plan/search/study.js";
import { trialOverrides } from "../plan/search/space.js";
import type { Sampler } from "../plan/search/types.js";
import type { AshaConfig } from "../plan/search/asha.js";
import { RUN_CONFIG } from "../store/layout.js";
import type { RunStatusRecord, SweepManifest, TrialFile } from "../store/protocol.js";
import { readMetricSeries, readPruneRequest, writeManifest, writePruneRequest } from "../store/store.js";
import { historyOf, makeTrial, trialsFrom, writeTrialFiles, type TrialComposer } from "../worker/trials.js";
import type { EngineNode, GrowHook } from "./loop.js";
import type { Reporter } from "./events.js";

export type { TrialComposer } from "../worker/trials.js";

const runDir = (m: SweepManifest, i: number): string => path.join(m.dir, m.runs[i]!.dir);

/**
 * Trials recorded in their folders but not in sweep.json, in order: made by a worker drawing
 * trials (named in its batch's runs, so the launcher answers for it), or left by a crash between
 * a trial's claim and sweep.json. A trial whose config files a crash left unwritten gets them.
 */
export function reconcileStudy(m: SweepManifest, compose?: TrialComposer): TrialFile[] {
  const found = trialsFrom(m, m.runs.length);
  for (const t of found) {
    m.runs.push(t.entry);
    if (t.drawnBy) {
      const b = m.jobs.flatMap((j) => j.batches).find((x) => x.batchId === t.drawnBy!.batchId);
      if (b && !b.runs.includes(t.number)) b.runs.push(t.number);
    }
    const dir = path.join(m.dir, t.entry.dir);
    if (compose && !existsSync(path.join(dir, RUN_CONFIG))) writeTrialFiles(dir, compose([...m.search!.base, ...trialOverrides(m.search!.space, t.params)], t.number));
  }
  if (found.length > 0) writeManifest(m);
  return found;
}

const asha = (m: SweepManifest): AshaConfig | undefined => {
  const a = m.search?.early_stop?.asha;
  return a ? { resource: a.resource, min: a.min, max: a.max, reductionFactor: a.reduction_factor } : undefined;
};

/**
 * The loop's grow hook of a study: its next trial whenever a slot frees, up to the budget. With
 * `drawing` (a study on SLURM), the array tasks draw trials themselves as their slots free; the
 * head makes trials only while none of its jobs lives, and adopts the ones the tasks drew.
 */
export function studyGrow(m: SweepManifest, compose: TrialComposer, node: EngineNode, capacity: number, reporter: Reporter, custom: Sampler | undefined, drawing: boolean): GrowHook {
  const s = m.search!;
  const sampler = custom ?? samplerOf({ ...s, sampler: s.sampler === "custom" ? "random" : s.sampler }, s.space);
  return {
    capacity,
    total: s.budget,
    drawing,
    adopt() {
      return reconcileStudy(m, compose).map((t) => {
        if (t.drawnBy) reporter.emit({ type: "info", message: `trial ${t.number}: ${trialOverrides(s.space, t.params).join(" ")} (drawn by task ${t.drawnBy.batchId})` });
        return { node, running: t.drawnBy !== undefined };
      });
    },
    next(): EngineNode | undefined | "taken" {
      const k = m.runs.length;
      if (k >= s.budget) return undefined;
      // Made here with the history as the folders give it: trials others made are in it.
      const t = makeTrial(m, compose, sampler);
      if (t === undefined) return trialsFrom(m, k).length > 0 ? "taken" : undefined;
      if (t.number !== k) {
        // Workers made trials k.. first: those are adopted before this one.
        return "taken";
      }
      m.runs.push(t.entry);
      writeManifest(m);
      reporter.emit({ type: "info", message: `trial ${k}: ${trialOverrides(s.space, t.params).join(" ")}` });
      return node;
    },
  };
}

/**
 * The loop's watch hook of a study with ASHA: for a running trial, the rungs it reached since the
 * last look, each against what the other trials reported there; a trial to stop gets a prune
 * request (the worker stops it with SIGTERM and its kill grace, and records it `pruned`).
 */
export function studyWatch(m: SweepManifest, reporter: Reporter): ((i: number, rec: RunStatusRecord) => void) | undefined {
  const cfg = asha(m);
  if (!cfg) return undefined;
  const s = m.search!;
  const passed = new Map<number, number>();
  const asked = new Set<number>();
  return (i) => {
    if (asked.has(i)) return;
    const mine = readMetricSeries(runDir(m, i)) as MetricRow[];
    if (mine.length === 0) return;
    if (readPruneRequest(runDir(m, i)) !== undefined) {
      asked.add(i);
      return;
    }
    const others: Array<Array<number | undefined>> = [];
    for (let j = 0; j < m.runs.length; j++) if (j !== i) others.push(rungValues(cfg, readMetricSeries(runDir(m, j)) as MetricRow[], s.objective.metric));
    const out = ashaCheck(cfg, s.objective.mode, mine, others, s.objective.metric, passed.get(i) ?? 0);
    passed.set(i, out.passed);
    if (out.decision === "stop") {
      asked.add(i);
      writePruneRequest(runDir(m, i), { rung: out.rung!, resource: out.resource!, value: out.value! });
      reporter.emit({ type: "info", message: `trial ${i}: pruned at rung ${out.rung} (${cfg.resource} ${out.resource}, ${s.objective.metric} ${out.value})` });
    }
  };
}

/** What `corral status` says of a study: trials so far against the budget, and the best trial. */
export interface StudySummary {
  sampler: string;
  budget: number;
  trials: number;
  complete: number;
  pruned: number;
  objective: { metric: string; mode: "min" | "max" };
  best?: { index: number; value: number; params: Record<string, unknown>; overrides: string[] };
}

export function studySummary(m: SweepManifest): StudySummary | undefined {
  const s = m.search;
  if (!s) return undefined;
  // Trials a study's SLURM tasks drew that no head has adopted yet (its head is gone) count too.
  const history = historyOf(m, [...m.runs.map((e) => ({ params: e.trial ?? {} })), ...trialsFrom(m, m.runs.length)]);
  let best: StudySummary["best"];
  for (const t of history) {
    if (t.state !== "complete") continue;
    if (best === undefined || (s.objective.mode === "min" ? t.value < best.value : t.value > best.value)) best = { index: t.number, value: t.value, params: t.params, overrides: trialOverrides(s.space, t.params) };
  }
  return {
    sampler: s.sampler,
    budget: s.budget,
    trials: history.length,
    complete: history.filter((t) => t.state === "complete").length,
    pruned: history.filter((t) => t.state === "pruned").length,
    objective: s.objective,
    ...(best ? { best } : {}),
  };
}
