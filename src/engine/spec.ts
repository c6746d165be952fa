/**
 * The one place that turns a sweep's run entry into what a worker executes: argv, the container
 * or multi-node wrap, the working folder, the `CORRAL_*` environment. Sweeps and pipelines alike.
 */
import path from "node:path";
import type { RunEntry, RunSpec, SweepManifest } from "../store/protocol.js";
import { RUN_CONFIG } from "../store/layout.js";

export interface SpecParts {
  argv: string[];
  wrap?: string[];
  /** Extra environment of this kind of run (pipelines: CORRAL_JOB, CORRAL_RULE). */
  env?: Record<string, string>;
  /** CORRAL_CONFIG points at the run's config.yaml (sweeps; pipeline jobs have none). */
  config?: boolean;
  cpus: number;
  gpus: number;
  timeoutS?: number;
  estimateS?: number;
  attempt: number;
  /** CORRAL_RESUMED=1: stopped from outside before, it may carry on from a checkpoint. */
  resumed: boolean;
}

export function runSpecOf(m: SweepManifest, e: RunEntry, p: SpecParts): RunSpec {
  const dir = path.join(m.dir, e.dir);
  return {
    index: e.index,
    id: e.id,
    dir,
    argv: p.argv,
    ...(p.wrap ? { wrap: p.wrap } : {}),
    cwd: m.projectDir,
    env: {
      ...(m.baseEnv ?? {}),
      CORRAL_RUN_ID: e.id,
      CORRAL_RUN_DIR: dir,
      CORRAL_SWEEP_DIR: m.dir,
      ...(p.config ? { CORRAL_CONFIG: path.join(dir, RUN_CONFIG) } : {}),
      ...(p.resumed ? { CORRAL_RESUMED: "1" } : {}),
      ...p.env,
    },
    cpus: p.cpus,
    gpus: p.gpus,
    ...(p.timeoutS !== undefined ? { timeoutS: p.timeoutS } : {}),
    ...(p.estimateS !== undefined ? { estimateS: p.estimateS } : {}),
    attempt: p.attempt,
  };
}
