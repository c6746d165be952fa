/**
 * The project as the app layer uses it: the loaded file plus the primary config and defaults
 * list ready for composition; or a synthetic project when only `-- COMMAND` is given.
 */
import path from "node:path";
import { CorralError } from "../errors.js";
import type { ConfigRepo, DefaultsEntry } from "../plan/compose.js";
import type { ConfigMap } from "../plan/types.js";
import { findProjectFile, loadProject, loadProjectText } from "../project/load.js";
import type { ProjectConfig } from "../project/schema.js";

export interface ProjectContext {
  file: string;
  dir: string;
  config: ProjectConfig;
  repo: ConfigRepo;
  primary: ConfigMap | undefined;
  defaults: DefaultsEntry[];
  /** No project file: built from the command line alone. */
  synthetic: boolean;
}

export async function openProject(opts: { cwd: string; file?: string; allowMissing: boolean }): Promise<ProjectContext> {
  const file = opts.file ? path.resolve(opts.cwd, opts.file) : findProjectFile(opts.cwd);
  if (!file) {
    if (!opts.allowMissing) {
      throw new CorralError("E_USAGE", `no corral.yaml (or corral.config.ts/.js) in ${opts.cwd}`, {
        hint: "run `corral init` to create one, pass --project FILE, or give the command after `--`",
      });
    }
    const loaded = loadProjectText("{}\n", path.join(opts.cwd, "corral.yaml"));
    return { ...loaded, primary: undefined, defaults: [], synthetic: true };
  }
  const loaded = await loadProject(file);
  const cfg = loaded.config;
  // The loader has already chosen the primary config (inline, or <config_dir>/config.yaml) and
  // parsed the defaults list into composition form.
  const primary = cfg.config as ConfigMap | undefined;
  const defaults = cfg.defaults as DefaultsEntry[];
  return { file: loaded.file, dir: loaded.dir, config: cfg, repo: loaded.repo, primary, defaults, synthetic: false };
}
