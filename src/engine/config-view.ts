/** `corral config`: the composed config of one run, or that plus the settings in force. */
import { CorralError } from "../errors.js";
import { getPath } from "../plan/configpath.js";
import { planRuns, type RunPlan } from "../plan/runs.js";
import type { ConfigValue } from "../plan/types.js";
import type { ProjectContext } from "../project/open.js";
import { resolveSettings, settingsAsWritten } from "../launchers/settings.js";
import { appComposer } from "./app-compose.js";
import { configLineOf } from "../project/yaml-source.js";
import { appOf, hasNoYaml, withAppLauncher } from "./launch.js";

/**
 * One run of the project composed as `corral run` composes it: inline `config:` or `config_dir`
 * with its defaults list, the profiles' overrides first, then `overrides`; interpolations
 * resolved. Shared by `corral config` and the flow's config.
 */
export function planOneRun(
  project: ProjectContext,
  overrides: string[],
  env: Record<string, string | undefined>,
  now: Date,
  appCompose?: ReturnType<typeof appComposer>,
): RunPlan {
  return planRuns({
    ...(appCompose ? { appCompose } : {}),
    lineOf: configLineOf(),
    command: project.config.command ?? [],
    repo: project.repo,
    primary: project.primary,
    defaults: project.defaults,
    grids: [],
    baseOverrides: project.profileOverrides,
    overrides,
    multirun: false,
    freeForm: project.synthetic,
    env,
    now,
    sourceFile: project.file,
    ...(project.primaryFile ? { primaryFile: project.primaryFile } : {}),
  });
}

export function composeForDisplay(
  project: ProjectContext,
  overrides: string[],
  opts: { cfg: "job" | "hydra" | "all"; key?: string; env: Record<string, string | undefined>; now: Date },
): ConfigValue {
  const command = project.config.command ?? [];
  // A Hydra app whose configs live in Python: the app composes, as for `corral run`.
  const fromApp = appOf(project.config.app, command, project.dir) === "hydra" && hasNoYaml(project) ? appComposer(command, project.dir, opts.env) : undefined;
  const plan = planOneRun(project, overrides, opts.env, opts.now, fromApp);
  const run = plan.run(0);
  const job = run.config;
  const cfg = (fromApp ? withAppLauncher(project, run, overrides, opts.env) : project).config;
  const value: ConfigValue =
    opts.cfg === "job"
      ? job
      : opts.cfg === "hydra"
        ? { hydra: run.hydra }
        : ({
          ...job,
          hydra: run.hydra,
          corral: {
            command: cfg.command ?? null,
            launcher: JSON.parse(JSON.stringify(settingsAsWritten(resolveSettings(cfg, {})))) as ConfigValue,
            resources: JSON.parse(JSON.stringify(cfg.resources)) as ConfigValue,
            sweep_dir: cfg.sweep_dir,
            paths: cfg.paths,
            profile: project.profiles.length ? project.profiles.join(",") : null,
            profiles: Object.keys(cfg.profiles),
          },
        } as ConfigValue);
  if (!opts.key) return value;
  // `-p launcher` also finds the corral settings, as Hydra's `-p hydra.launcher` does.
  const hit = getPath(value, opts.key) ?? (opts.cfg === "all" ? getPath(value, `corral.${opts.key}`) : undefined);
  if (hit === undefined) {
    const hint = opts.cfg === "job" ? (opts.key === "hydra" || opts.key.startsWith("hydra.") ? "Hydra's settings are not part of the job config: use --cfg hydra (or --cfg all)" : "use --cfg all to include the corral settings") : undefined;
    throw new CorralError("E_USAGE", `no key '${opts.key}' in the ${opts.cfg === "job" ? "run's config" : opts.cfg === "hydra" ? "Hydra settings" : "config"}`, hint ? { hint } : {});
  }
  return hit;
}
