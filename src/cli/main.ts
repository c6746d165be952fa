#!/usr/bin/env node
/**
 * The command line: flags -> typed options -> one core call. The only place that prints or exits.
 */
import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CorralError } from "../errors.js";
import type { GlobalOpts } from "./args.js";
import { exitCodeOfError } from "./exit.js";

const pkg = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../package.json"), "utf8")) as { version: string };

/** Where to look when an error has no hint of its own (every message: docs/messages.md). */
const DEFAULT_HINT: Partial<Record<CorralError["code"], string>> = {
  E_USAGE: "see `corral <command> --help`",
  E_WORKFLOW: "see docs/pipelines.md (rules, wildcards, targets)",
};

/** Render any error at the one boundary: known errors one line plus hint, unknown ones a stack. */
export function reportError(e: unknown): number {
  if (e instanceof CorralError) {
    // One line, whatever a hostile value held: control characters are shown escaped.
    process.stderr.write(`corral: error: ${e.format().replace(/[\n\r\t\v\f\0]/g, (c) => JSON.stringify(c).slice(1, -1))}\n`);
    // Every known error gets a hint: its own, else where to look.
    process.stderr.write(`  hint: ${e.hint ?? DEFAULT_HINT[e.code] ?? "see docs/configuration.md and docs/overrides.md"}\n`);
  } else if (e instanceof CommanderError) {
    process.stderr.write("  hint: see `corral <command> --help`\n");
  } else {
    process.stderr.write(`corral: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  return exitCodeOfError(e);
}

/**
 * A closed pipe (`corral status | head -1`) ends any command quietly, with the exit code it has
 * so far: the reader has what it wanted. Node reports it as an EPIPE error on the stream; left
 * unhandled, that is a stack trace. Work already handed to a launcher goes on (`corral status`
 * and `corral resume` find it), as after any other exit of the login-node process.
 */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
      // Any other output error: say so on the other stream, if it still works.
      const other = stream === process.stdout ? process.stderr : process.stdout;
      other.write(`corral: cannot write output: ${e.message}\n`, () => process.exit(1));
    });
  }
}

/** The first word that is not an option or an option's value. */
function findSubcommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-C" || a === "--cwd" || a === "--project") {
      i++;
      continue;
    }
    if (!a.startsWith("-")) return a;
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  // Everything after `--` is the command to run, untouched by option parsing.
  const dd = argv.indexOf("--");
  const command = dd >= 0 ? argv.slice(dd + 1) : undefined;
  const args = dd >= 0 ? argv.slice(0, dd) : argv;
  const program = new Command("corral")
    .description("Run ML experiment sweeps and pipelines, locally or on SLURM.")
    .version(pkg.version)
    .addOption(new Option("--project <file>", "project file (default: ./corral.yaml or corral.config.ts/.js)"))
    .addOption(new Option("-C, --cwd <dir>", "run as if started in <dir>"))
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `corral: ${s}` : s) })
    .showSuggestionAfterError(true);
  let code = 0;
  const subcommand = findSubcommand(args);
  // `corral --version` needs no command modules: skip loading them.
  if (subcommand !== undefined || !args.some((a) => a === "-V" || a === "--version")) {
    const { registerCommands } = await import("./commands/index.js");
    await registerCommands(program, {
      command,
      subcommand,
      globals: () => program.opts<GlobalOpts>(),
      setExit: (c: number) => {
        code = c;
      },
    });
  }
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")) return 0;
    return reportError(e);
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
