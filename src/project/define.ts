import type { UserConfig } from "./schema.js";

/**
 * Type a project config in `corral.config.ts`: `export default defineConfig({ command: ... })`.
 * Returns its argument unchanged; validation happens when the project is loaded.
 */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

export type { UserConfig };
