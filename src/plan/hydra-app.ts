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

/** `hydra.*` overrides are Hydra's own settings: handed to the app, never composed into the job config. */
export const isHydraKey = (key: string): boolean => key === "hydra" || key.startsWith("hydra.");

/**
 * The Hydra overrides of one run: its output folder is its Corral run folder (`.hydra/`, the job
 * log, and with `hydra.job.chdir=true` its working directory), its job number its index, its job
 * id its Corral id.
 */
export function hydraRunArgs(run: { index: number; id: string; dir: string }, given: readonly string[] = []): string[] {
  // What the user set on the command line wins (theirs then places the outputs).
  const set = new Set(given.map((o) => o.replace(/^\+{1,2}/, "").split("=")[0]));
  const mine: Array<[string, string]> = [
    ["hydra.run.dir", hydraValue(run.dir)],
    ["hydra.job.num", String(run.index)],
    ["hydra.job.id", hydraValue(run.id)],
  ];
  return mine.filter(([k]) => !set.has(k)).map(([k, v]) => `${k}=${v}`);
}

/** Does this Python source use Hydra (`@hydra.main`, `hydra.main(`, `from hydra`, `import hydra`)? */
export function usesHydra(source: string): boolean {
  return /@hydra\.main|hydra\.main\(|^\s*from hydra\b|^\s*import hydra\b/m.test(source);
}
