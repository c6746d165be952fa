/** `corral init`: write a starter project. */
import type { Command } from "commander";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../../errors.js";
import { cwdOf } from "../args.js";
import { INIT_FILES } from "../init-template.js";
import type { CommandContext } from "./context.js";

export function registerInit(program: Command, ctx: CommandContext): void {
  program
    .command("init")
    .description("create a starter project (corral.yaml, a config group, a train script, a debug profile)")
    .argument("[dir]", "folder", ".")
    .option("--force", "overwrite existing files")
    .action((dir: string, o: { force?: boolean }) => {
      const root = path.resolve(cwdOf(ctx.globals()), dir);
      const clash = Object.keys(INIT_FILES).filter((f) => existsSync(path.join(root, f)));
      if (clash.length && !o.force) throw new CorralError("E_USAGE", `${clash.join(", ")} already exist${clash.length === 1 ? "s" : ""} in ${root}`, { hint: "use --force to overwrite" });
      for (const [f, text] of Object.entries(INIT_FILES)) {
        mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        writeFileSync(path.join(root, f), text);
      }
      // `cd` only when the project is elsewhere, spelled as the user can paste it.
      const rel = path.relative(cwdOf(ctx.globals()), root);
      const cd = rel === "" ? "" : `cd ${/^[\w./@%+=:,-]+$/.test(rel) ? rel : `'${rel.replace(/'/g, `'\\''`)}'`} && `;
      process.stdout.write(`created ${Object.keys(INIT_FILES).join(", ")} in ${root}\nnext: ${cd}corral run -m && corral results --best val_acc\n`);
    });
}
