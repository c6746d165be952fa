/**
 * A study's trials, made one way by whoever makes them: the head (engine/study.ts), or a worker in
 * a packed allocation drawing the next trial as one of its slots frees (batch.ts, `study` batches).
 *
 * Making trial k: ask the sampler with the history the run folders give (params, states, metrics
 * of every trial so far; running ones are the sampler's constant liars), compose its run from the
 * study's recipe (the project's configs as they were when the study started), then claim number k
 * by hard-linking its `trial.json`, the one atomic step. Who loses the race asks again for k+1
 * with the winner's trial in its history. Config files are written after the claim. No server, no
 * lock: the study's state is the run folders.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify as toYaml } from "yaml";
import { planRuns, type PlannedRun, type RunPlan } from "../plan/runs.js";
import type { ConfigRepo, GroupOption } from "../plan/compose.js";
import type { ConfigMap } from "../plan/types.js";
import { configToYaml } from "../plan/serialize.js";
import { samplerOf, trialRecord, type MetricRow } from "../plan/search/study.js";
import { trialOverrides } from "../plan/search/space.js";
import type { Params, Sampler, TrialRecord } from "../plan/search/types.js";
import { RUN_CONFIG, RUN_OVERRIDES } from "../store/layout.js";
import type { RunEntry, RunSpec, StudyRecipe, SweepManifest, TrialFile } from "../store/protocol.js";
import { claimTrial, readManifest, readMetricSeries, readRunStatus, readStudyRecipe, readTrial } from "../store/store.js";
import { runSpec } from "./run-spec.js";

/** Composes one trial's run from its overrides. */
export type TrialComposer = (overrides: string[], index: number) => PlannedRun;

/** What the recipe is made from (the engine's project context, as planRuns takes it). */
export interface RecipeInput {
  command: string[];
  repo: ConfigRepo;
  primary: ConfigMap | undefined;
  defaults: StudyRecipe["defaults"];
  baseOverrides: string[];
  freeForm: boolean;
  now: Date;
  sourceFile: string;
  primaryFile?: string;
}

export function recipeOf(r: RecipeInput): StudyRecipe {
  return {
    type: "study-recipe",
    version: 1,
    command: r.command,
    repo: [...r.repo.groups].map(([g, opts]) => [g, [...opts]]),
    primary: r.primary ?? null,
    defaults: r.defaults,
    baseOverrides: r.baseOverrides,
    freeForm: r.freeForm,
    now: r.now.getTime(),
    sourceFile: r.sourceFile,
    ...(r.primaryFile !== undefined ? { primaryFile: r.primaryFile } : {}),
  };
}

/** A recipe's config repo, made once per recipe (a study composes one run per trial from it). */
const repos = new WeakMap<StudyRecipe, ConfigRepo>();
const repoOf = (r: StudyRecipe): ConfigRepo => {
  let repo = repos.get(r);
  if (!repo) repos.set(r, (repo = { groups: new Map(r.repo.map(([g, opts]) => [g, new Map<string, GroupOption>(opts)])) }));
  return repo;
};

/** A plan of one run from the recipe, with these overrides. `env`: the planning process's environment (`${oc.env:...}`). */
export function recipePlan(r: StudyRecipe, env: Record<string, string | undefined>, overrides: string[]): RunPlan {
  return planRuns({
    command: r.command,
    repo: repoOf(r),
    primary: r.primary ?? undefined,
    defaults: r.defaults,
    grids: [],
    baseOverrides: r.baseOverrides,
    overrides,
    multirun: false,
    freeForm: r.freeForm,
    env,
    now: new Date(r.now),
    sourceFile: r.sourceFile,
    ...(r.primaryFile !== undefined ? { primaryFile: r.primaryFile } : {}),
  });
}

/**
 * A trial's run composed from the recipe (deterministic: the same overrides give the same config
 * wherever it is composed).
 */
export function recipeComposer(r: StudyRecipe, env: Record<string, string | undefined>): TrialComposer {
  return (overrides, index) => {
    const run = recipePlan(r, env, overrides).run(0);
    return { ...run, index, params: Object.fromEntries(Object.entries(run.params)) };
  };
}

const trialDir = (m: SweepManifest, k: number): string => path.join(m.dir, String(k));

/** Trial records on disk from number `from` on, in order, up to the first number not made yet. */
export function trialsFrom(m: SweepManifest, from: number): TrialFile[] {
  const out: TrialFile[] = [];
  for (let k = from; ; k++) {
    const t = readTrial(trialDir(m, k));
    if (t === undefined || t.number !== k) return out;
    out.push(t);
  }
}

/** Every trial as the sampler sees it: its params, and what its run folder says of it. */
export function historyOf(m: SweepManifest, trials: ReadonlyArray<{ params: Params }>): TrialRecord[] {
  const s = m.search!;
  const resource = s.early_stop?.asha.resource ?? "step";
  return trials.map((t, k) => trialRecord(k, t.params, readRunStatus(trialDir(m, k))?.state, readMetricSeries(trialDir(m, k)) as MetricRow[], s.objective, resource));
}

/** A trial's config files (after its claim; again where a crash left them unwritten). */
export function writeTrialFiles(dir: string, planned: Pick<PlannedRun, "config" | "overrides">): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, RUN_CONFIG), configToYaml(planned.config));
  writeFileSync(path.join(dir, RUN_OVERRIDES), toYaml(planned.overrides));
}

export interface MadeTrial {
  number: number;
  entry: RunEntry;
  params: Params;
}

/**
 * Make the study's next trial: undefined once `budget` trials exist. A trial another maker
 * claimed first is read, and the next number asked for.
 */
export function makeTrial(m: SweepManifest, compose: TrialComposer, sampler: Sampler, drawnBy?: TrialFile["drawnBy"]): MadeTrial | undefined {
  const s = m.search!;
  const trials = trialsFrom(m, 0);
  for (;;) {
    const k = trials.length;
    if (k >= s.budget) return undefined;
    const params = sampler.ask(historyOf(m, trials), k);
    const planned = compose([...s.base, ...trialOverrides(s.space, params)], k);
    const entry: RunEntry = { index: k, id: planned.id, dir: String(k), overrides: planned.overrides, ...(planned.argv ? { argv: planned.argv } : {}), params: { ...params }, trial: params };
    const file: TrialFile = { type: "trial", version: 1, number: k, params, entry, ...(drawnBy ? { drawnBy } : {}) };
    if (claimTrial(trialDir(m, k), file)) {
      writeTrialFiles(trialDir(m, k), planned);
      return { number: k, entry, params };
    }
    // Another head or worker made trial k first: it joins the history, and k+1 is asked for.
    trials.push(...trialsFrom(m, k));
  }
}

/**
 * A worker's drawer of a study's trials (a `study` batch): each call makes the next trial and
 * returns what the worker runs, or undefined when the budget is spent (or the study cannot be
 * drawn from: a sampler only its library caller has, or no recipe). Reads the sweep's record and
 * recipe once, at the first draw.
 */
export function trialDrawer(sweepDir: string, by: NonNullable<TrialFile["drawnBy"]>, env: Record<string, string | undefined>): () => RunSpec | undefined {
  let made: { m: SweepManifest; compose: TrialComposer; sampler: Sampler } | null | undefined;
  return () => {
    if (made === undefined) {
      const m = readManifest(sweepDir);
      const recipe = readStudyRecipe(sweepDir);
      made = m.search && m.search.sampler !== "custom" && recipe ? { m, compose: recipeComposer(recipe, env), sampler: samplerOf({ ...m.search, sampler: m.search.sampler }, m.search.space) } : null;
    }
    if (made === null) return undefined;
    const t = makeTrial(made.m, made.compose, made.sampler, by);
    if (t === undefined) return undefined;
    const spec = runSpec(made.m, t.entry, made.m.resources ?? {}, 1, false);
    return made.m.search!.early_stop ? { ...spec, prunable: true } : spec;
  };
}
