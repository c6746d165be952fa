/** What every command module gets from the program: the global options and the exit code setter. */
import type { GlobalOpts } from "../args.js";

export interface CommandContext {
  /** Words after `--`. */
  command: string[] | undefined;
  /** The subcommand named on the command line, if any (decides which modules load). */
  subcommand: string | undefined;
  /** `--project` and `-C`, read when the action runs. */
  globals(): GlobalOpts;
  /** The exit code, computed with `exitCodeOf` (exit.ts). */
  setExit(code: number): void;
}
