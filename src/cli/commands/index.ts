/**
 * Every command, one module each. The everyday ones are registered eagerly; those with heavy
 * dependencies (HTTP server, browser, DAG engine) only when asked for (or for --help), so every
 * other command starts faster.
 */
import type { Command } from "commander";
import { registerCancel } from "./cancel.js";
import { registerConfig } from "./config.js";
import type { CommandContext } from "./context.js";
import { registerInit } from "./init.js";
import { registerLogs } from "./logs.js";
import { registerResults } from "./results.js";
import { registerResume } from "./resume.js";
import { registerRun } from "./run.js";
import { registerStatus } from "./status.js";

export type { CommandContext } from "./context.js";

/** Commands registered without a lazy import. */
const CORE_COMMANDS = new Set(["run", "resume", "status", "logs", "results", "cancel", "config", "init"]);

export async function registerCommands(program: Command, ctx: CommandContext): Promise<void> {
  registerRun(program, ctx);
  registerResume(program, ctx);
  registerStatus(program, ctx);
  registerLogs(program, ctx);
  registerResults(program, ctx);
  registerCancel(program, ctx);
  registerConfig(program, ctx);
  registerInit(program, ctx);
  const want = (...names: string[]): boolean => ctx.subcommand === undefined || !CORE_COMMANDS.has(ctx.subcommand) || names.includes(ctx.subcommand);
  if (want("ui", "plot")) (await import("./ui.js")).registerUiCommands(program, ctx);
  if (want("flow")) (await import("./flow.js")).registerFlowCommand(program, ctx);
  if (want("env", "doctor")) (await import("./env-doctor.js")).registerEnvDoctorCommands(program, ctx);
}
