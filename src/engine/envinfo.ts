/**
 * `corral env`: what applies on this machine and why — the chosen profiles, the resolved
 * launcher settings, paths and container, and the CPUs and GPUs this process can see.
 * Also the host facts that automatic profile choice looks at.
 */
import os from "node:os";
import type { ProjectConfig } from "../project/schema.js";
import { detectCpus } from "../worker/resources.js";
import { visibleGpus } from "../launchers/registry.js";
import type { ProjectContext } from "../project/open.js";
import { resolveSettings } from "../launchers/settings.js";

/** Everything `corral env` shows. */
export interface EnvReport {
  project: string;
  hostname: string;
  /** Applied profiles with their reasons; empty when none applies. */
  profiles: Array<{ name: string; reason: string }>;
  /** All profiles the project defines. */
  available: string[];
  launcher: ProjectConfig["launcher"] & { type: string };
  resources: ProjectConfig["resources"];
  paths: Record<string, string>;
  container: ProjectConfig["container"] | null;
  env: Record<string, string>;
  cpus: { count: number; ids: number[] };
  gpus: { ids: string[]; source: string };
  node: string;
}

/** Gather the `corral env` report (runs `nvidia-smi -L` when no GPU variable says otherwise). */
export function envReport(project: ProjectContext, env: NodeJS.ProcessEnv, opts: { launcher?: "local" | "slurm" } = {}): EnvReport {
  const cfg = project.config;
  const cpus = detectCpus();
  const settings = resolveSettings(cfg, opts.launcher ? { launcher: opts.launcher } : {});
  return {
    project: project.file,
    hostname: os.hostname(),
    profiles: project.profiles.map((name, i) => ({ name, reason: project.profileReasons[i]?.replace(`${name}: `, "") ?? "" })),
    available: Object.keys(cfg.profiles),
    launcher: { ...cfg.launcher, type: settings.type },
    resources: cfg.resources,
    paths: cfg.paths,
    container: cfg.container ?? null,
    env: cfg.env,
    cpus: { count: cpus.length, ids: cpus },
    gpus: visibleGpus(env),
    node: process.execPath,
  };
}
