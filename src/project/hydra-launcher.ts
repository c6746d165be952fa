/**
 * Hydra launcher presets as Corral launcher settings (issue 12, point 3). Users of
 * hydra-submitit-launcher and clusterduck keep their `hydra.launcher` settings where they wrote
 * them (the primary config, a `+platform=...` or `+setup=...` group option packaged `_global_`,
 * `hydra.launcher.timeout_min=10` on the command line); this module reads the composed
 * `hydra.launcher` node and the `hydra/launcher` choice and spells them as `launcher:` keys.
 *
 * Keys and units follow the plugins' own configs: hydra-submitit-launcher's `SlurmQueueConf`
 * (`timeout_min` minutes, `mem_gb` GB, `signal_delay_s` seconds, `additional_parameters` extra
 * `#SBATCH --key=value` lines, `setup` shell lines before the job) and clusterduck's additions
 * (`parallel_runs_per_node`, `total_runs_per_node`: all runs in one job when unset,
 * `wait_for_completion`, `resources_config: {cpu, cuda: {gpus}, stagger: {delay}}`).
 *
 * Corral's own spelling is overridable from the command line under one reserved namespace:
 * `corral.launcher.<key>=<value>` (with or without `+`), as the `launcher:` key of corral.yaml.
 */
import { CorralError } from "../errors.js";
import { isConfigMap } from "../plan/configpath.js";
import type { ConfigMap, ConfigValue } from "../plan/types.js";

/** What a `hydra.launcher` node asks of Corral, besides its launcher settings. */
export interface HydraLauncherPlan {
  /** `launcher:` keys in corral.yaml's spelling (validated by the caller's schema). */
  launcher: Record<string, unknown>;
  /** clusterduck's `wait_for_completion: false`: submit and return, as `--detach`. */
  detach?: boolean;
  /** clusterduck without `total_runs_per_node`: every run of the sweep in one job. */
  allRunsInOneJob?: boolean;
  /** The plugin the choice or `_target_` names, for messages (`submitit_slurm`, `clusterduck_slurm`). */
  plugin?: string;
  /** clusterduck's `cuda` resource: the job's GPUs split evenly among its parallel runs (`resources.gpus` per run). */
  gpusPerRun?: number;
}

/** Keys a launcher config may carry that Corral has no use for: accepted without a word. */
const IGNORED = new Set(["_target_", "submitit_folder", "stderr_to_stdout", "comment_on_timeout", "max_num_timeout_on_preemption"]);

const num = (v: ConfigValue | undefined): number | undefined => (typeof v === "number" ? v : typeof v === "object" && v !== null && "value" in v && typeof (v as { value: unknown }).value === "number" ? (v as { value: number }).value : undefined);

/** Which family the `hydra/launcher` choice or `_target_` names. */
function pluginOf(node: ConfigMap, choice: string | null | undefined): { plugin?: string; type?: "local" | "slurm" } {
  const target = typeof node._target_ === "string" ? node._target_ : "";
  const name = choice ?? "";
  const text = `${name} ${target}`.toLowerCase();
  const plugin = name || (target ? target.split(".").pop() : undefined);
  if (/clusterduck/.test(text)) return { plugin: plugin ?? "clusterduck", type: /local/.test(text) ? "local" : "slurm" };
  if (/submitit/.test(text)) return { plugin: plugin ?? "submitit", type: /local/.test(text) ? "local" : "slurm" };
  // Hydra's basic launcher (its default): runs here, one after another; Corral's launcher type stays as configured.
  if (name === "basic" || /basiclauncher/.test(text)) return { plugin: "basic" };
  return plugin ? { plugin } : {};
}

/**
 * Translate the composed `hydra.launcher` node. Unknown keys are bad input (exit 2), as in Hydra,
 * whose launcher configs are structured: a typo never passes silently.
 * @param where names the settings in messages: `hydra.launcher`.
 */
export function launcherFromHydra(node: ConfigMap, choice: string | null | undefined, file: string): HydraLauncherPlan | undefined {
  const { plugin, type } = pluginOf(node, choice);
  const keys = Object.keys(node).filter((k) => !IGNORED.has(k));
  if (keys.length === 0 && type === undefined) return undefined;
  const l: Record<string, unknown> = {};
  const sbatch: string[] = [];
  const out: HydraLauncherPlan = { launcher: l, ...(plugin ? { plugin } : {}) };
  if (type) l.type = type;
  let splitGpus = false;
  const bad = (key: string, why: string): never => {
    throw new CorralError("E_CONFIG", `hydra.launcher.${key} ${why}`, { location: { file, key: `hydra.launcher.${key}` } });
  };
  const wantNum = (key: string, v: ConfigValue | undefined): number => {
    const n = num(v);
    if (n === undefined || !Number.isFinite(n) || n < 0) bad(key, `must be a non-negative number, got ${JSON.stringify(v)}`);
    return n!;
  };
  const wantStr = (key: string, v: ConfigValue | undefined): string => {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    const n = num(v);
    if (n !== undefined) return String(n);
    return bad(key, `must be a string, got ${JSON.stringify(v)}`);
  };
  for (const key of keys) {
    const v = node[key];
    if (v === null || v === undefined) continue; // submitit's defaults: unset
    switch (key) {
      // hydra-submitit-launcher (SlurmQueueConf, LocalQueueConf)
      case "timeout_min":
        l.time = `${wantNum(key, v)}m`;
        break;
      case "cpus_per_task":
        l.cpus_per_task = wantNum(key, v);
        break;
      case "gpus_per_node":
        l.gpus = wantNum(key, v);
        break;
      case "tasks_per_node": {
        const n = wantNum(key, v);
        if (n > 1) l.procs_per_node = n;
        break;
      }
      case "mem_gb":
        l.mem = `${wantNum(key, v)}G`;
        break;
      case "nodes":
        l.nodes = wantNum(key, v);
        break;
      case "name": {
        // submitit's default is `${hydra.job.name}`, a value only Hydra resolves: Corral names the job then.
        const n = wantStr(key, v);
        if (!n.includes("${")) l.job_name = n;
        break;
      }
      case "partition":
      case "qos":
      case "constraint":
      case "account":
      case "gres":
        l[key] = wantStr(key, v);
        break;
      case "mem_per_cpu":
        l.mem_per_cpu = typeof v === "string" ? v : `${wantNum(key, v)}M`;
        break;
      case "comment":
      case "exclude":
      case "cpus_per_gpu":
      case "gpus_per_task":
      case "mem_per_gpu":
        sbatch.push(`--${key.replace(/_/g, "-")}=${wantStr(key, v)}`);
        break;
      case "signal_delay_s":
        l.signal_grace = wantNum(key, v);
        break;
      case "max_num_timeout":
        l.retries = wantNum(key, v);
        break;
      case "array_parallelism":
        l.array_throttle = wantNum(key, v);
        break;
      case "additional_parameters": {
        if (!isConfigMap(v)) bad(key, "must be a map of sbatch options");
        for (const [k, x] of Object.entries(v as ConfigMap)) sbatch.push(`--${k}=${wantStr(`${key}.${k}`, x)}`);
        break;
      }
      case "setup": {
        if (!Array.isArray(v)) bad(key, "must be a list of shell lines");
        l.setup = (v as ConfigValue[]).map((x, i) => wantStr(`${key}[${i}]`, x));
        break;
      }
      // clusterduck
      case "parallel_runs_per_node":
        // Runs at once in one job (SLURM's `parallel`), or on this machine (the local launcher's `jobs`).
        if (type !== "slurm") l.jobs = wantNum(key, v);
        if (type !== "local") l.parallel = wantNum(key, v);
        break;
      case "total_runs_per_node":
        l.per_job = wantNum(key, v);
        break;
      case "wait_for_completion":
        if (typeof v !== "boolean") bad(key, `must be true or false, got ${JSON.stringify(v)}`);
        if (v === false) out.detach = true;
        break;
      case "resources_config": {
        // A map ({cpu:, cuda: {gpus}, stagger: {delay}}) or clusterduck's list form ([cpu:, cuda:]).
        const items: Array<[string, ConfigValue]> = isConfigMap(v) ? Object.entries(v) : Array.isArray(v) ? v.flatMap((x) => (isConfigMap(x) ? Object.entries(x) : typeof x === "string" ? [[x, null] as [string, ConfigValue]] : [])) : bad(key, "must be a map of resources (cpu, cuda, stagger)");
        for (const [k, x] of items) {
          const ids = (field: string): string[] | undefined => {
            const list = isConfigMap(x) ? x[field] : undefined;
            if (list === undefined || list === null) return undefined; // auto-detected, as clusterduck does
            if (!Array.isArray(list)) bad(`${key}.${k}.${field}`, "must be a list of ids");
            return (list as ConfigValue[]).map((g, i) => wantStr(`${key}.${k}.${field}[${i}]`, g));
          };
          if (k === "cuda") {
            const gpus = ids("gpus");
            if (gpus) l.gpu_ids = gpus;
            splitGpus = true;
          } else if (k === "cpu") {
            const cpus = ids("cpus");
            if (cpus) l.cpu_ids = cpus.map(Number);
          } else if (k === "stagger") {
            const delay = isConfigMap(x) ? x.delay : undefined;
            if (delay !== undefined && delay !== null) l.stagger = wantNum(`${key}.stagger.delay`, delay);
          }
          // Other clusterduck resources (rendering GPUs) are split by the app's own code: nothing for Corral to do.
        }
        break;
      }
      case "verbose":
        if (typeof v !== "boolean") bad(key, `must be true or false, got ${JSON.stringify(v)}`);
        l.verbose = v;
        break;
      default:
        bad(key, `is not a setting Corral knows for the ${plugin ?? "Hydra"} launcher`);
    }
  }
  if (sbatch.length) l.sbatch_args = sbatch;
  if (splitGpus) {
    // The job's GPUs: the listed ids, else gpus_per_node, else a `gpu:N` gres.
    const gres = typeof l.gres === "string" ? /^gpu(?::[^:]+)?:(\d+)$/.exec(l.gres) : null;
    const total = Array.isArray(l.gpu_ids) ? l.gpu_ids.length : typeof l.gpus === "number" ? l.gpus : gres ? Number(gres[1]) : undefined;
    const parallel = typeof l.parallel === "number" ? l.parallel : typeof l.jobs === "number" ? l.jobs : 1;
    if (total !== undefined && total > 0) out.gpusPerRun = Math.max(1, Math.floor(total / parallel));
  }
  if (/clusterduck/.test(plugin ?? "") && l.per_job === undefined && type === "slurm") out.allRunsInOneJob = true;
  return out;
}

/** `corral.launcher.<key>=<value>` overrides: Corral's own launcher spelling from the command line. */
export const CORRAL_LAUNCHER_PREFIX = "corral.launcher.";
