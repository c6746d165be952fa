/**
 * What a Hydra app gets besides a run's overrides, so that it behaves as in a Hydra multirun
 * while Corral drives each run (hydra.cc, "Customizing working directory pattern" and "Job
 * Configuration": `hydra.run.dir` is a single run's output folder; `hydra.job.num` is "the job
 * number if the job is part of a sweep", `hydra.job.id` "the job id in the underlying scheduling
 * system"). PURE.
 */

/** A value as Hydra's override grammar reads it back unchanged: plain when safe, else quoted. */
export function hydraValue(s: string): string {
  if (/^[A-Za-z0-9_/.\-+]+$/.test(s)) return s;
  // Inside single quotes Hydra unescapes \' and \\ (its QuotedString rule).
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * The Hydra overrides of one run: its output folder is its Corral run folder (`.hydra/`, the job
 * log, and with `hydra.job.chdir=true` its working directory), its job number its index, its job
 * id its Corral id.
 */
export function hydraRunArgs(run: { index: number; id: string; dir: string }): string[] {
  return [`hydra.run.dir=${hydraValue(run.dir)}`, `hydra.job.num=${run.index}`, `hydra.job.id=${hydraValue(run.id)}`];
}

/** Does this Python source use Hydra (`@hydra.main`, `hydra.main(`, `from hydra`, `import hydra`)? */
export function usesHydra(source: string): boolean {
  return /@hydra\.main|hydra\.main\(|^\s*from hydra\b|^\s*import hydra\b/m.test(source);
}
