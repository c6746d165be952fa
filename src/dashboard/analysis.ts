/**
 * The dashboard's analysis endpoints: per-parameter importance of a metric, two sweeps side by
 * side, and a study's progress (trials against the budget, best so far, each trial's params and
 * objective). Everything is computed from the rows the watcher read (inside the sweep folder);
 * the one file read here, a run's config.yaml for the config diff, is read only when it lies
 * inside its sweep folder.
 */
import path from "node:path";
import type { Hono } from "hono";
import { parse as parseYaml } from "yaml";
import { importanceOf, sideOf } from "../engine/analysis-view.js";
import { bestSoFar, compareSweeps, flattenConfig, type StudyTrialPoint } from "../plan/analysis.js";
import { trialRecord } from "../plan/search/study.js";
import { trialOverrides } from "../plan/search/space.js";
import { readWithin } from "../store/contain.js";
import { RUN_CONFIG } from "../store/layout.js";
import { runDirWithin, type StoreWatcher } from "./live.js";
import { likelyMode, mostInformative } from "./curves.js";
import { columnsOf } from "./table.js";

type Tracked = NonNullable<ReturnType<StoreWatcher["get"]>>;

/** The first run's config, flattened; empty when missing or outside the sweep folder. */
function firstConfig(s: Tracked): Record<string, unknown> {
  const e = s.manifest.runs[0];
  const dir = e ? runDirWithin(s.manifest, e) : undefined;
  if (!dir) return {};
  const got = readWithin(s.manifest.dir, path.join(dir, RUN_CONFIG));
  if (got.kind !== "ok") return {};
  try {
    return flattenConfig(parseYaml(got.data.toString("utf8")));
  } catch {
    return {};
  }
}

export function analysisRoutes(app: Hono, watcher: StoreWatcher): void {
  // `?metric=`: the share of its variance each parameter's means explain (plan/analysis.ts).
  app.get("/api/importance/:sweep", (c) => {
    const s = watcher.get(c.req.param("sweep"));
    if (!s) return c.json({ error: "not found" }, 404);
    const cols = columnsOf(s.rows);
    const metric = c.req.query("metric") ?? mostInformative(s.rows, cols.metrics, s.manifest).metric ?? "";
    if (!cols.metrics.includes(metric)) return c.json({ error: `no metric '${metric}' in this sweep (its metrics: ${cols.metrics.join(", ")})` }, 400);
    return c.json(importanceOf(s.rows, cols.params, metric));
  });

  // Two sweeps on one metric: summaries, best runs, means per value of shared parameters, config diff.
  app.get("/api/vs/:a/:b", (c) => {
    const a = watcher.get(c.req.param("a"));
    const b = watcher.get(c.req.param("b"));
    if (!a || !b) return c.json({ error: "not found" }, 404);
    const ca = columnsOf(a.rows);
    const cb = columnsOf(b.rows);
    const metrics = [...new Set([...ca.metrics, ...cb.metrics])];
    // Unless asked: A's study objective, else the metric most informative across A's runs (curves.ts).
    const metric = c.req.query("metric") ?? mostInformative(a.rows, metrics, a.manifest).metric ?? "";
    const objective = a.manifest.search?.objective;
    const mode = c.req.query("mode") ?? (objective?.metric === metric ? objective.mode : likelyMode(metric));
    if (mode !== "min" && mode !== "max") return c.json({ error: "mode must be min or max" }, 400);
    if (!metrics.includes(metric)) return c.json({ error: `no metric '${metric}' in either sweep (their metrics: ${metrics.join(", ")})` }, 400);
    const side = (s: Tracked) => ({ ...sideOf(s.rows, metric, undefined), config: firstConfig(s) });
    return c.json({ sweeps: [a.summary, b.summary], metrics, ...compareSweeps(side(a), side(b), metric, mode) });
  });

  // A study: trials so far / budget, the best trial, each trial's params, state and objective.
  app.get("/api/study/:sweep", (c) => {
    const s = watcher.get(c.req.param("sweep"));
    if (!s) return c.json({ error: "not found" }, 404);
    const st = s.manifest.search;
    if (!st) return c.json({ error: "not a study (no search in its sweep.json)" }, 404);
    const resource = st.early_stop?.asha.resource ?? "step";
    const trials = s.manifest.runs.map((e, i) => {
      const row = s.rows[i];
      const t = trialRecord(e.index, e.trial ?? {}, row?.state, row ? [row.metrics] : [], st.objective, resource);
      const value = t.state === "complete" ? t.value : t.state === "pruned" ? t.intermediate?.value : undefined;
      return { number: t.number, state: t.state, runState: row?.state ?? "pending", params: t.params, ...(value !== undefined ? { value } : {}), ...(t.state === "pruned" && t.intermediate ? { prunedAt: t.intermediate.step } : {}) };
    });
    const best = bestSoFar(trials as StudyTrialPoint[], st.objective.mode);
    let bestTrial: (typeof trials)[number] | undefined;
    for (const t of trials) if (t.state === "complete" && t.value !== undefined && t.value === best[best.length - 1] && !bestTrial) bestTrial = t;
    return c.json({
      sampler: st.sampler,
      budget: st.budget,
      objective: st.objective,
      params: st.space.params.map((p) => p.name),
      trials,
      complete: trials.filter((t) => t.state === "complete").length,
      pruned: trials.filter((t) => t.state === "pruned").length,
      failed: trials.filter((t) => t.state === "failed").length,
      bestSoFar: best.map((v) => v ?? null),
      ...(bestTrial ? { best: { index: bestTrial.number, value: bestTrial.value, params: bestTrial.params, overrides: trialOverrides(st.space, bestTrial.params) } } : {}),
    });
  });
}
