/**
 * Every command, one module each, loaded when asked for.
 */
import type { Command } from "commander";
import type { CommandContext } from "./context.js";

export type { CommandContext } from "./context.js";

/** Each command's module, loaded only when that command runs (or for `--help`). */
const MODULES: Record<string, () => Promise<(program: Command, ctx: CommandContext) => void>> = {
  run: async () => (await import("./run.js")).registerRun,
  resume: async () => (await import("./resume.js")).registerResume,
  status: async () => (await import("./status.js")).registerStatus,
  logs: async () => (await import("./logs.js")).registerLogs,
  results: async () => (await import("./results.js")).registerResults,
  cancel: async () => (await import("./cancel.js")).registerCancel,
  config: async () => (await import("./config.js")).registerConfig,
  init: async () => (await import("./init.js")).registerInit,
  ui: async () => (await import("./ui.js")).registerUiCommands,
  plot: async () => (await import("./ui.js")).registerUiCommands,
  flow: async () => (await import("./flow.js")).registerFlowCommand,
  env: async () => (await import("./env-doctor.js")).registerEnvDoctorCommands,
  doctor: async () => (await import("./env-doctor.js")).registerEnvDoctorCommands,
};

/**
 * Register the commands. A known subcommand loads only its own module, so `corral status` never
 * pays for the DAG engine, the HTTP server or the browser; `--help`, no subcommand or an unknown
 * one (commander's did-you-mean needs every name) load them all.
 */
export async function registerCommands(program: Command, ctx: CommandContext): Promise<void> {
  const only = ctx.subcommand !== undefined && ctx.subcommand in MODULES ? [ctx.subcommand] : Object.keys(MODULES);
  const done = new Set<unknown>();
  for (const name of only) {
    const register = await MODULES[name]!();
    if (done.has(register)) continue;
    done.add(register);
    register(program, ctx);
  }
}
