/**
 * The one place that turns a sweep's run entry into what a worker executes: argv, the container
 * or multi-node wrap, the working folder, the `CORRAL_*` environment. Sweeps and pipelines alike.
 * In worker/ because a study's workers make their own trials' specs (worker/trials.ts); the
 * head's engine uses the same functions.
 */
import path from "node:path";
import { containerWrap } from "../plan/container.js";
import { multinodeWrap } from "../plan/multinode.js";
import { hydraRunArgs } from "../plan/hydra-app.js";
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

export interface RunResources {
  cpus?: number;
  gpus?: number;
  timeout?: number;
  estimate?: number;
}

/** Everything a worker needs to execute one run of a sweep, with no access to the project. */
export function runSpec(m: SweepManifest, e: RunEntry, res: RunResources, attempt: number, resumed: boolean): RunSpec {
  const dir = path.join(m.dir, e.dir);
  // A command that interpolates the config (`--lr ${lr}`) was filled in at planning; else Hydra style.
  const argv = e.argv ?? [...m.command, ...e.overrides, ...(m.app === "hydra" ? hydraRunArgs({ index: e.index, id: e.id, dir }, e.overrides) : [])];
  const container = m.container && containerWrap(m.container, { projectDir: m.projectDir, runDir: dir, gpu: (res.gpus ?? 0) > 0, argv, passEnv: Object.keys(m.baseEnv ?? {}) });
  // Multi-node outermost (srun from the batch node), the container inside each node's process.
  const settings = m.settings?.type === "slurm" ? m.settings : undefined;
  const mn = settings?.multinode;
  const cpusPerTask = settings?.slurm.cpusPerTask;
  const wrap =
    mn && mn.nodes > 1
      ? multinodeWrap({
          mode: mn.mode,
          nodes: mn.nodes,
          ...(mn.procsPerNode !== undefined ? { procsPerNode: mn.procsPerNode } : {}),
          ...(cpusPerTask !== undefined ? { cpusPerTask } : {}),
          ...(container ? { inner: container } : {}),
        })
      : container;
  return runSpecOf(m, e, {
    argv,
    ...(wrap ? { wrap } : {}),
    config: true,
    cpus: res.cpus ?? 0,
    gpus: res.gpus ?? Number.NaN,
    ...(res.timeout !== undefined ? { timeoutS: res.timeout } : {}),
    ...(res.estimate !== undefined ? { estimateS: res.estimate } : {}),
    attempt,
    resumed,
  });
}
