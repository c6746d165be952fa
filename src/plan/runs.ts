/**
 * Plan the runs of a sweep: expand the sweep, compose and resolve each run's config, hash it
 * into the run id. PURE: the project, the environment and the clock come in as data.
 */
import { createHash } from "node:crypto";
import { CorralError } from "../errors.js";
import { composeConfig, sweepGroupOptions, type ConfigRepo, type DefaultsEntry } from "./compose.js";
import { stableStringify } from "./configpath.js";
import { resolveInterpolations } from "./interpolate.js";
import { parseOverrides } from "./overrides.js";
import { expandSweep, type SweepPlan } from "./sweep.js";
import type { ConfigMap, ConfigValue, Override } from "./types.js";

export interface PlanInput {
  command: string[];
  repo: ConfigRepo;
  primary: ConfigMap | undefined;
  defaults: DefaultsEntry[];
  /** Project-file sweep grids (used with multirun only). */
  grids: unknown[];
  /** Overrides from profiles, applied before the command-line ones. */
  baseOverrides: string[];
  /** Command-line overrides. */
  overrides: string[];
  multirun: boolean;
  /** No project file: the command's own config is unknown, so every override is added. */
  freeForm: boolean;
  env: Record<string, string | undefined>;
  now: Date;
  sourceFile: string;
}

export interface PlannedRun {
  index: number;
  id: string;
  /** Hydra-spelled overrides handed to the command. */
  overrides: string[];
  params: ConfigMap;
  config: ConfigMap;
}

export interface RunPlan {
  sweep: SweepPlan;
  size: number;
  /** Compose run i (lazy: a million-run sweep composes at launch, one run at a time). */
  run(i: number): PlannedRun;
}

/** Content hash of command + resolved config: the run's identity. */
export function runId(command: string[], config: ConfigValue): string {
  return createHash("sha256").update(JSON.stringify(command)).update("\0").update(stableStringify(config)).digest("hex").slice(0, 12);
}

export function planRuns(input: PlanInput): RunPlan {
  const base = parseOverrides(input.baseOverrides);
  const cli = parseOverrides(input.overrides);
  const all = [...base, ...cli];
  const sweepy = all.filter((o) => o.isSweep);
  if (!input.multirun && sweepy.length > 0) {
    throw new CorralError("E_OVERRIDE", `'${sweepy[0]!.input}' is a sweep, but this is a single run`, {
      hint: "add -m (--multirun) to run every combination",
      location: { file: "<command line>", key: sweepy[0]!.key },
    });
  }
  const sweep = expandSweep({
    overrides: all,
    grids: input.multirun ? input.grids : [],
    groupOptions: (g) => sweepGroupOptions(input.repo, g),
  });
  const freeForm = (ovs: Override[]): Override[] => (input.freeForm ? ovs.map((o) => (o.type === "change" ? { ...o, type: "force_add" as const } : o)) : ovs);
  return {
    sweep,
    size: sweep.size,
    run(i: number): PlannedRun {
      const ovs = freeForm(sweep.run(i));
      const composed = composeConfig({
        repo: input.repo,
        ...(input.primary ? { primary: input.primary } : {}),
        defaults: input.defaults,
        overrides: ovs,
        sourceFile: input.sourceFile,
      });
      const config = resolveInterpolations(composed.config, { env: input.env, now: input.now }, input.sourceFile);
      return { index: i, id: runId(input.command, config), overrides: sweep.spelled(i), params: sweep.params(i), config };
    },
  };
}
