/**
 * Corral as a library: `import { defineConfig, launch } from "corral"`.
 *
 * @example
 * ```ts
 * import { launch } from "corral";
 * const sweep = await launch({ cwd: "./my-project", overrides: ["lr=0.1,0.01"], multirun: true });
 * const result = await sweep.wait();
 * console.log(result.counts.succeeded);
 * ```
 */
import type { CorralEvent, Reporter, RunView } from "./engine/events.js";
import { readSweepStatus, resultsTable, type ResultsTable, type SweepStatus } from "./engine/inspect.js";
import { planAll, prepareSweep, startSweep, type RunningSweep } from "./engine/launch.js";
import { makeLauncher } from "./launchers/registry.js";
import { openProject } from "./project/open.js";
import { waitForSweep, type WaitResult } from "./engine/watch.js";
import { readManifest } from "./store/store.js";
import type { SearchFlags } from "./plan/search/study.js";
import type { Sampler } from "./plan/search/types.js";
import type { ConfigValue } from "./plan/types.js";

export { ancient, defineConfig, protect, temp } from "./project/define.js";
export type { RuleContext, RuleFn } from "./plan/dag.js";
import { expandPattern } from "./plan/dag.js";

/**
 * Snakemake's `expand` for rule functions: one path per combination of the values (product, last
 * key fastest); placeholders not given stay for the job's wildcards.
 * @example expand("results/{model}_{seed}.json", { model: ["a", "b"], seed: [1, 2] })
 *   // ["results/a_1.json", "results/a_2.json", "results/b_1.json", "results/b_2.json"]
 */
export function expand(pattern: string, values: Record<string, string | number | boolean | ReadonlyArray<string | number | boolean>>): string[] {
  return expandPattern(pattern, values as Record<string, ConfigValue>);
}
export type { UserConfig, ProjectConfig } from "./project/schema.js";
export { CorralError } from "./errors.js";
// Search (issue 15): the sampler plug-in point. A sampler is a pure ask(history, trialNumber).
export { randomSampler, type RandomOptions } from "./plan/search/random.js";
export { tpeSampler, type TpeOptions } from "./plan/search/tpe.js";
export { spaceFromOverrides, spaceFromYaml } from "./plan/search/space.js";
export type { Sampler, TrialRecord, Params, ParamValue, SearchSpace, Distribution, Direction } from "./plan/search/types.js";
export type { RunState, RunStatusRecord, SweepManifest, RunSpec, BatchSpec, LaunchSettings } from "./store/protocol.js";
export type { CorralEvent, Reporter, RunView, SweepStatus, ResultsTable, WaitResult };

export interface LaunchOptions {
  /** Project folder (where corral.yaml or corral.config.ts lives). @default process.cwd() */
  cwd?: string;
  /** Project file, when not the default name. */
  project?: string;
  /** Hydra-style overrides, as on the command line. @default [] */
  overrides?: string[];
  /** Run every combination (-m). @default false */
  multirun?: boolean;
  /** Replace the project's command. */
  command?: string[];
  launcher?: "local" | "slurm";
  /** Runs at once (-j). */
  jobs?: number;
  /** Suffix of the sweep folder. */
  name?: string;
  /** Receives progress events (library code never prints). */
  reporter?: Reporter;
  /**
   * A search instead of a grid (with `multirun: true`; the space is the sweep overrides and the
   * project's `sweep:`): `{ sampler: "tpe", budget: 60, objective: "val_loss:min", seed: 1 }`.
   * `sampler` may be a {@link Sampler} of your own (the pure ask/tell interface): it is asked for
   * each trial with the history derived from the run folders. Over the project file's `search:`.
   */
  search?: { sampler?: "tpe" | "random" | "grid" | Sampler; budget?: number; objective?: string; seed?: number };
}

export interface SweepHandle {
  /** Absolute sweep folder. */
  dir: string;
  /** Wait until every run has ended. */
  wait(): Promise<WaitResult>;
  /** Current state of every run, from the store. */
  status(): Promise<SweepStatus>;
  /** Parameters x last metrics. */
  results(): Promise<ResultsTable>;
  /** Stop the runs (graceful; `force` kills at once). */
  cancel(force?: boolean): Promise<void>;
}

/** Plan and start a sweep (or one run); resolves once the runs are submitted. */
export async function launch(opts: LaunchOptions = {}): Promise<SweepHandle> {
  const cwd = opts.cwd ?? process.cwd();
  const reporter = opts.reporter ?? { emit: () => undefined };
  const project = await openProject({ cwd, ...(opts.project ? { file: opts.project } : {}), allowMissing: Boolean(opts.command?.length) });
  const prepared = prepareSweep({
    project,
    overrides: opts.overrides ?? [],
    multirun: opts.multirun ?? false,
    ...(opts.command ? { command: opts.command } : {}),
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.launcher ? { launcher: opts.launcher } : {}),
    ...(opts.jobs ? { jobs: opts.jobs } : {}),
    ...(opts.search ? { search: searchFlags(opts.search) } : {}),
    ...(opts.search && typeof opts.search.sampler === "object" ? { sampler: opts.search.sampler } : {}),
    env: process.env,
    now: new Date(),
  });
  const started = await startSweep(prepared, planAll(prepared), reporter);
  await started.submitted;
  return sweepHandle(started.manifest.dir, reporter, started);
}

/** The library's `search` as the command line spells it; a sampler of one's own searches as `random` names it in the record. */
function searchFlags(s: NonNullable<LaunchOptions["search"]>): SearchFlags {
  const sampler = typeof s.sampler === "object" ? "random" : s.sampler;
  return { ...(sampler ? { search: sampler } : {}), ...(s.budget !== undefined ? { budget: s.budget } : {}), ...(s.objective ? { objective: s.objective } : {}), ...(s.seed !== undefined ? { seed: s.seed } : {}) };
}

/** A handle on an existing sweep folder (e.g. one started by the CLI). */
export function openSweep(dir: string, reporter: Reporter = { emit: () => undefined }): SweepHandle {
  return sweepHandle(readManifest(dir).dir, reporter);
}

function sweepHandle(dir: string, reporter: Reporter, running?: RunningSweep): SweepHandle {
  const launcher = () => makeLauncher(readManifest(dir).settings);
  // A sweep this process started is driven here by the engine's loop, retries included, exactly
  // as `corral run` drives it; a sweep opened by folder is watched.
  if (running) running.done.catch(() => undefined);
  return {
    dir,
    wait: () => (running ? running.done.then((o) => ({ runs: o.runs, counts: o.counts })) : waitForSweep(dir, launcher(), reporter)),
    status: () => readSweepStatus(dir, launcher()),
    results: async () => resultsTable(await readSweepStatus(dir, launcher())),
    cancel: async (force = false) => {
      running?.stop(force);
      await launcher().cancel(readManifest(dir), force);
    },
  };
}

export type { CorralEvent as Event };
