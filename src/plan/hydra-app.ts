/**
 * What a Hydra app gets besides a run's overrides, so that it behaves as in a Hydra multirun
 * while Corral drives each run (hydra.cc, "Customizing working directory pattern" and "Job
 * Configuration": `hydra.run.dir` is a single run's output folder; `hydra.job.num` is "the job
 * number if the job is part of a sweep", `hydra.job.id` "the job id in the underlying scheduling
 * system"). PURE.
 */

import { deepClone, deletePath, isConfigMap, setPath, splitPath } from "./configpath.js";
import { toConfigValue } from "./overrides.js";
import type { ConfigRepo, GroupOption } from "./compose.js";
import type { ConfigMap, ElementValue, Override } from "./types.js";

/** A value as Hydra's override grammar reads it back unchanged: plain when safe, else quoted. */
export function hydraValue(s: string): string {
  if (/^[A-Za-z0-9_/.\-+]+$/.test(s)) return s;
  // Inside single quotes Hydra unescapes \' and \\ (its QuotedString rule).
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * `hydra.*` overrides and `hydra/<group>=<option>` choices are Hydra's own settings: handed to the
 * app, never composed into the job config.
 */
export const isHydraKey = (key: string): boolean => key === "hydra" || key.startsWith("hydra.") || key.startsWith("hydra/") || key.startsWith("/hydra/");

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

/**
 * Hydra's settings of one run, as `corral config --cfg hydra` shows them: the `hydra:` node the
 * configs composed, the run's `hydra.*` overrides applied, and `runtime.choices` (every group's
 * option, Hydra's `hydra/<group>` ones included, as Hydra records them).
 */
export function hydraSettings(node: ConfigMap, choices: Record<string, string | null>, overrides: readonly Override[]): ConfigMap {
  const out = deepClone(node);
  const chosen: Record<string, string | null> = { ...choices };
  for (const o of overrides) {
    const key = o.key.replace(/^\//, "");
    if (key.startsWith("hydra/")) {
      const v = o.value;
      if (o.type === "delete") delete chosen[key];
      else if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") chosen[key] = v === null ? null : String(v);
      else if (v !== undefined && !Array.isArray(v) && v.kind === "quoted") chosen[key] = v.text;
      continue;
    }
    if (!key.startsWith("hydra.")) continue;
    const segs = splitPath(key.slice("hydra.".length));
    if (o.type === "delete") deletePath(out, segs);
    else if (o.value !== undefined && !o.isSweep) setPath(out, segs, toConfigValue(o.value as ElementValue));
  }
  const runtime = isConfigMap(out.runtime) ? out.runtime : {};
  runtime.choices = Object.fromEntries(Object.entries(chosen).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  out.runtime = runtime;
  return out;
}

/** The key of an override as spelled for the command (`+setup=hpc_gpu` -> `setup`, `db@pkg=x` -> `db`). */
export const spelledKey = (o: string): string => o.replace(/^[+~]{0,2}/, "").replace(/[=@].*$/s, "");

/** `corral.*` overrides are Corral's own settings (`corral.launcher.parallel=2`), never the job's. */
export const isCorralKey = (key: string): boolean => key.replace(/^\+{1,2}/, "").startsWith("corral.");

/**
 * A config group option that only sets Hydra's settings: packaged `_global_`, its content a
 * `hydra:` block (a clusterduck `+platform=...` or submitit `+setup=...` launcher preset).
 */
export function isHydraOnlyOption(opt: GroupOption): boolean {
  const pkg = opt.package;
  if (pkg !== "_global_" && pkg !== "") return false;
  const keys = Object.keys(opt.config).filter((k) => k !== "defaults");
  if (keys.length === 0 || keys.some((k) => k !== "hydra")) return false;
  return (opt.defaults ?? []).every((d) => d.kind === "self" || (d.kind === "group" && d.group.replace(/^\//, "").startsWith("hydra/")));
}

/**
 * Overrides that only choose launcher or sweep settings, never handed to the command: Corral's
 * `corral.*`, Hydra's `hydra.launcher.*`, `hydra.sweeper.*`, `hydra/launcher=`, `hydra/sweeper=`,
 * `hydra.run.dir`, `hydra.sweep.dir`, `hydra.sweep.subdir` (they place the sweep folder),
 * and a group choice whose option only sets Hydra's settings (`+platform=horeka`). `spelled` is
 * one override as handed to the command (`+platform=horeka`).
 */
export function isSettingsOnly(spelled: string, repo: ConfigRepo): boolean {
  const m = /^[+~]{0,2}([^=@]+)(?:@[^=]*)?(?:=(.*))?$/s.exec(spelled);
  if (!m) return false;
  const key = m[1]!.replace(/^\//, "");
  if (key.startsWith("corral.")) return true;
  if (/^hydra[./](launcher|sweeper)([./]|$)/.test(key)) return true;
  // They place Corral's sweep folder; the app is handed its run folder as hydra.run.dir.
  if (/^hydra\.(run\.dir|sweep\.dir|sweep\.subdir)$/.test(key)) return true;
  const opt = m[2] !== undefined ? repo.groups.get(key)?.get(m[2]) : undefined;
  return opt !== undefined && isHydraOnlyOption(opt);
}

/** Hydra's `hydra.job.config.override_dirname` settings. */
export interface OverrideDirnameRule {
  kvSep: string;
  itemSep: string;
  exclude: string[];
}

/**
 * Hydra's `hydra.job.override_dirname` of a job: its task overrides as typed, those of excluded
 * keys left out, sorted, joined by `itemSep`, `=` written as `kvSep` (Hydra's default rule:
 * `lr=0.1,model=big`).
 */
export function overrideDirname(overrides: readonly string[], rule: OverrideDirnameRule = { kvSep: "=", itemSep: ",", exclude: [] }): string {
  return overrides
    .filter((o) => !isHydraKey(spelledKey(o)) && !rule.exclude.includes(spelledKey(o)))
    .sort()
    .join(rule.itemSep)
    .replace(/=/g, rule.kvSep);
}

/**
 * Fill `${hydra.<ref>}` / `${hydra:<ref>}` in a folder template from `values` (`job.name`,
 * `job.num`, ...); `unknown` is called for any other reference (and must throw).
 */
export function fillHydraRefs(template: string, values: Record<string, string>, unknown: (ref: string, written: string) => never): string {
  return template.replace(/\$\{hydra[.:]([A-Za-z0-9_.]+)\}/g, (all, ref: string) => (ref in values ? values[ref]! : unknown(ref, all)));
}
