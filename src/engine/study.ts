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
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import type { PlannedRun } from "../plan/runs.js";
import { configToYaml } from "../plan/serialize.js";
import { ashaCheck, rungValues, samplerOf, trialRecord, type MetricRow } from "../plan/search/study.js";
import { trialOverrides } from "../plan/search/space.js";
import type { Sampler, TrialRecord } from "../plan/search/types.js";
import type { AshaConfig } from "../plan/search/asha.js";
import { RUN_CONFIG, RUN_OVERRIDES } from "../store/layout.js";
import type { RunEntry, RunStatusRecord, SweepManifest } from "../store/protocol.js";
import { readMetricSeries, readPruneRequest, readRunStatus, readTrial, writeManifest, writePruneRequest, writeTrial } from "../store/store.js";
import type { EngineNode, GrowHook } from "./loop.js";
import type { Reporter } from "./events.js";

/** Composes one trial's run from its overrides (the project's config with them applied). */
export type TrialComposer = (overrides: string[], index: number) => PlannedRun;

const runDir = (m: SweepManifest, i: number): string => path.join(m.dir, m.runs[i]!.dir);

/** Trials recorded in their folders but not in sweep.json (a crash between the two): adopted, in order. */
export function reconcileStudy(m: SweepManifest): number {
  let added = 0;
  for (let k = m.runs.length; ; k++) {
    const t = readTrial(path.join(m.dir, String(k)));
    if (t === undefined || t.number !== k) break;
    m.runs.push(t.entry);
    added++;
  }
  if (added > 0) writeManifest(m);
  return added;
}

const asha = (m: SweepManifest): AshaConfig | undefined => {
  const a = m.search?.early_stop?.asha;
  return a ? { resource: a.resource, min: a.min, max: a.max, reductionFactor: a.reduction_factor } : undefined;
};

/** Every trial as the sampler sees it, from the run folders. */
export function studyHistory(m: SweepManifest): TrialRecord[] {
  const s = m.search!;
  const resource = s.early_stop?.asha.resource ?? "step";
  return m.runs.map((e, i) => {
    const rec = readRunStatus(runDir(m, i));
    return trialRecord(i, e.trial ?? {}, rec?.state, readMetricSeries(runDir(m, i)) as MetricRow[], s.objective, resource);
  });
}

/** The loop's grow hook of a study: its next trial whenever a slot frees, up to the budget. */
export function studyGrow(m: SweepManifest, compose: TrialComposer, node: EngineNode, capacity: number, reporter: Reporter, custom?: Sampler): GrowHook {
  const s = m.search!;
  const sampler = custom ?? samplerOf(s, s.space);
  return {
    capacity,
    total: s.budget,
    next(): EngineNode | undefined {
      const k = m.runs.length;
      if (k >= s.budget) return undefined;
      const params = sampler.ask(studyHistory(m), k);
      const planned = compose([...s.base, ...trialOverrides(s.space, params)], k);
      const dir = path.join(m.dir, String(k));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, RUN_CONFIG), configToYaml(planned.config));
      writeFileSync(path.join(dir, RUN_OVERRIDES), toYaml(planned.overrides));
      const entry: RunEntry = { index: k, id: planned.id, dir: String(k), overrides: planned.overrides, ...(planned.argv ? { argv: planned.argv } : {}), params: { ...params }, trial: params };
      // The commit point: from here on trial k has these params, whatever happens next.
      writeTrial(dir, { type: "trial", version: 1, number: k, params, entry });
      m.runs.push(entry);
      writeManifest(m);
      reporter.emit({ type: "info", message: `trial ${k}: ${trialOverrides(s.space, params).join(" ")}` });
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
  const history = studyHistory(m);
  let best: StudySummary["best"];
  for (const t of history) {
    if (t.state !== "complete") continue;
    if (best === undefined || (s.objective.mode === "min" ? t.value < best.value : t.value > best.value)) best = { index: t.number, value: t.value, params: t.params, overrides: trialOverrides(s.space, t.params) };
  }
  return {
    sampler: s.sampler,
    budget: s.budget,
    trials: m.runs.length,
    complete: history.filter((t) => t.state === "complete").length,
    pruned: history.filter((t) => t.state === "pruned").length,
    objective: s.objective,
    ...(best ? { best } : {}),
  };
}
