/**
 * Each run's composed config asked of the Hydra app itself, for apps whose configs live in Python
 * (structured configs in Hydra's ConfigStore, hydra-zen's `store`) and so have no YAML for Corral
 * to compose (issue 12, point 7). One `<command> <the run's overrides> --cfg all` per distinct set
 * of overrides, cached: Hydra prints the job config and the `hydra` node as it composed them,
 * interpolations unresolved, as it saves them in `.hydra/`. It costs one start of the app per run
 * (about 0.9 s for Hydra 1.3 on a laptop), before any run starts.
 */
import { spawnSync } from "node:child_process";
import { CorralError } from "../errors.js";
import type { AppComposed } from "../plan/runs.js";
import type { ConfigMap } from "../plan/types.js";
import { parseYamlSource } from "../project/yaml-source.js";
import { isConfigMap } from "../plan/configpath.js";

export function appComposer(command: readonly string[], cwd: string, env: Record<string, string | undefined>): (overrides: readonly string[]) => AppComposed {
  const cache = new Map<string, AppComposed>();
  return (overrides) => {
    const key = JSON.stringify([...overrides].sort());
    const hit = cache.get(key);
    if (hit) return hit;
    const [exe, ...args] = command;
    const shown = [...command, ...overrides, "--cfg", "all"].join(" ");
    const r = spawnSync(exe!, [...args, ...overrides, "--cfg", "all"], { cwd, env: env as NodeJS.ProcessEnv, encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.error || r.status !== 0) {
      const lines = `${r.stderr ?? ""}`.split("\n").map((l) => l.trim()).filter((l) => l && !/HYDRA_FULL_ERROR/.test(l));
      const why = r.error ? r.error.message : (lines.find((l) => /error|could not|exception/i.test(l)) ?? lines.pop() ?? `exit ${r.status}`);
      throw new CorralError("E_CONFIG", `the app could not compose a run's config: ${why}`, {
        location: { file: "<command line>" },
        hint: `the project has no config_dir, so Corral asks the Hydra app for each run's config; run \`${shown}\` to see the app's own message`,
      });
    }
    const value = parseYamlSource(r.stdout, shown).value;
    if (!isConfigMap(value)) throw new CorralError("E_CONFIG", `\`${shown}\` printed no config`, { location: { file: "<command line>" } });
    const { hydra, ...config } = value;
    const out: AppComposed = { config: config as ConfigMap, hydra: isConfigMap(hydra) ? hydra : {} };
    cache.set(key, out);
    return out;
  };
}
