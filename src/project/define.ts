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
