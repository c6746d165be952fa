import type { UserConfig } from "./schema.js";

/** What `defineConfig` accepts: a config, a promise of one, or a (possibly async) function returning one. */
export type ConfigInput = UserConfig | Promise<UserConfig> | (() => UserConfig | Promise<UserConfig>);

/**
 * Type a project config in `corral.config.ts`: `export default defineConfig({ command: ... })`.
 * Also takes a promise or a factory (`defineConfig(async () => ({ ... }))`); the loader awaits
 * it (up to CORRAL_CONFIG_TIMEOUT_MS, default 30 s) and reports a throw as a config error.
 * Returns its argument unchanged; validation happens when the project is loaded.
 */
export function defineConfig(config: UserConfig): UserConfig;
export function defineConfig(config: Promise<UserConfig>): Promise<UserConfig>;
export function defineConfig(config: () => UserConfig | Promise<UserConfig>): () => UserConfig | Promise<UserConfig>;
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}

export type { UserConfig };

/**
 * Mark a rule output as temporary (Snakemake's `temp()`): deleted as soon as every job of the flow
 * that reads it has succeeded, unless a target names it. `output: temp("work/{s}.tmp")`.
 */
export function temp(pattern: string): { temp: string } {
  return { temp: pattern };
}

/**
 * Mark a rule output as protected (Snakemake's `protected()`; `protected` is a reserved word in
 * TS): made read-only after its job succeeds, and never overwritten (the flow is refused).
 * The object `{protected: pattern}` works as well.
 */
export function protect(pattern: string): { protected: string } {
  return { protected: pattern };
}

/**
 * Mark a rule input as ancient (Snakemake's `ancient()`): its modification time never makes the
 * job stale, and a rebuild of it does not rerun the job.
 */
export function ancient(pattern: string): { ancient: string } {
  return { ancient: pattern };
}
