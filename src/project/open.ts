/**
 * The project as the app layer uses it: the loaded file plus the primary config and defaults
 * list ready for composition; or a synthetic project when only `-- COMMAND` is given.
 */
import path from "node:path";
import { CorralError } from "../errors.js";
import type { ConfigRepo, DefaultsEntry } from "../plan/compose.js";
import type { ConfigMap } from "../plan/types.js";
import { findProjectFile, loadProject, loadProjectText } from "./load.js";
import type { Position } from "./yaml-source.js";
import { applyHydraLauncher, applyPaths, applyPresets, applyProfiles, hostFacts, loadProfileFiles, resolvePaths, selectPresets, type HostFacts, type HydraDirs } from "./profiles.js";
import type { ProjectConfig } from "./schema.js";

export interface ProjectContext {
  file: string;
  dir: string;
  config: ProjectConfig;
  repo: ConfigRepo;
  primary: ConfigMap | undefined;
  defaults: DefaultsEntry[];
  /** No project file: built from the command line alone. */
  synthetic: boolean;
  /** Profiles applied (by -P or detected), in order; empty when none. */
  profiles: string[];
  /** Why each profile applies, e.g. `cluster: hostname 'login01' matches 'login*'`. */
  profileReasons: string[];
  /** Config overrides from the applied profiles (before the command-line ones). */
  profileOverrides: string[];
  /** Where `command:` is written in the project file (YAML), for messages. */
  commandAt?: Position;
  /** A launcher preset's `wait_for_completion: false` (clusterduck): submit and return. */
  detach?: boolean;
  /** clusterduck without `total_runs_per_node`: every run of the sweep in one SLURM job. */
  allRunsInOneJob?: boolean;
  /** Where the primary config was read from when it is `<config_dir>/config.yaml`. */
  primaryFile?: string;
  /** A Hydra user's `hydra.run.dir` / `hydra.sweep.dir`: where the sweep folder goes. */
  hydraDirs?: HydraDirs;
}

/**
 * Find and load the project, then apply profiles (`profiles` names, else detection from `facts`)
 * and resolve `paths`. `facts` default to this host and `process.env`. `overrides` (the command line's)
 * select config group options whose `corral:` key adds profiles and settings (`+setup=hpc_gpu`).
 */
export async function openProject(opts: { cwd: string; file?: string; allowMissing: boolean; profiles?: string[]; facts?: HostFacts; overrides?: string[] }): Promise<ProjectContext> {
  const file = opts.file ? path.resolve(opts.cwd, opts.file) : findProjectFile(opts.cwd);
  if (!file) {
    if (!opts.allowMissing) {
      throw new CorralError("E_USAGE", `no corral.yaml (or corral.config.ts/.js) in ${opts.cwd}`, {
        hint: "run `corral init` to create one, pass --project FILE, or give the command after `--`",
      });
    }
    const loaded = loadProjectText("{}\n", path.join(opts.cwd, "corral.yaml"));
    if (opts.profiles?.length) applyProfiles(loaded.config, opts.profiles, noFacts); // unknown names still fail
    return { ...loaded, primary: undefined, defaults: [], synthetic: true, profiles: [], profileReasons: [], profileOverrides: [] };
  }
  const loaded = await loadProject(file);
  const shownDir = path.dirname(path.relative(opts.cwd, loaded.file)) || ".";
  const fromFiles = loadProfileFiles(loaded.dir, shownDir);
  const clash = Object.keys(fromFiles).find((n) => n in loaded.config.profiles);
  if (clash !== undefined) {
    throw new CorralError("E_CONFIG", `profile '${clash}' is defined both in the project file and in profiles/${clash}.yaml; keep one`, { location: { file: loaded.file, key: `profiles.${clash}` } });
  }
  const facts = opts.facts ?? hostFacts(process.env);
  // Config group options selected by overrides or the defaults list may carry `corral:` settings.
  const presets = selectPresets(loaded.repo, loaded.config.defaults, opts.overrides ?? []);
  const chosen = applyProfiles({ ...loaded.config, profiles: { ...loaded.config.profiles, ...fromFiles } }, [...(opts.profiles ?? []), ...presets.profiles], facts);
  const preset = applyPresets(chosen.config, presets);
  // Hydra launcher presets (hydra.launcher, submitit and clusterduck spelling) and corral.launcher.* overrides.
  const hl = applyHydraLauncher(preset.config, presets.repo, [...chosen.overrides, ...preset.overrides, ...(opts.overrides ?? [])], loaded.file, facts.env);
  const cfg = applyPaths(hl.config, resolvePaths(hl.config.paths, loaded.dir, facts.env, loaded.file), loaded.file);
  // The loader has already chosen the primary config (inline, or <config_dir>/config.yaml) and
  // parsed the defaults list into composition form.
  const primary = cfg.config as ConfigMap | undefined;
  const defaults = cfg.defaults as DefaultsEntry[];
  return { file: loaded.file, dir: loaded.dir, config: cfg, repo: presets.repo, primary, defaults, synthetic: false, profiles: [...chosen.applied, ...presets.patches.map((p) => p.name)], profileReasons: [...chosen.reasons, ...preset.reasons, ...hl.reasons], ...(hl.detach ? { detach: true } : {}), ...(hl.allRunsInOneJob ? { allRunsInOneJob: true } : {}), ...(hl.hydraDirs ? { hydraDirs: hl.hydraDirs } : {}), ...(loaded.primaryFile ? { primaryFile: loaded.primaryFile } : {}), profileOverrides: [...chosen.overrides, ...preset.overrides], ...(loaded.commandAt ? { commandAt: loaded.commandAt } : {}) };
}

const noFacts: HostFacts = { hostname: "", env: {}, onPath: () => false };
