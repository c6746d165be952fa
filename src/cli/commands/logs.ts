/** `corral logs`: print a run's stdout or stderr, and follow it with -f until the run ends. */
import type { Command } from "commander";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { TERMINAL_STATES } from "../../store/protocol.js";
import { readManifest, readRunStatus, resolveRun, resolveSweep } from "../../store/store.js";
import { projectDirOf } from "../args.js";
import type { CommandContext } from "./context.js";
import { STDERR, STDOUT } from "../../store/layout.js";

export function registerLogs(program: Command, ctx: CommandContext): void {
  program
    .command("logs")
    .description("print a run's stdout (or stderr)")
    .argument("<run>", "run index, id or folder")
    .option("--sweep <sweep>", "sweep folder, id or name (default: the latest)")
    .option("--stderr", "stderr instead of stdout")
    .option("-f, --follow", "keep printing as the run writes, until it ends")
    .action(async (run: string, o: { sweep?: string; stderr?: boolean; follow?: boolean }) => {
      const dir = resolveSweep(projectDirOf(ctx.globals()), o.sweep);
      const m = readManifest(dir);
      const entry = resolveRun(m, run);
      const file = path.join(m.dir, entry.dir, o.stderr ? STDERR : STDOUT);
      await followFile(file, Boolean(o.follow), path.join(m.dir, entry.dir));
    });
}

async function followFile(file: string, follow: boolean, runDir: string): Promise<void> {
  let pos = 0;
  const flush = (): void => {
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size < pos) pos = 0;
    if (size === pos) return;
    const fd = openSync(file, "r");
    const buf = Buffer.alloc(size - pos);
    readSync(fd, buf, 0, buf.length, pos);
    closeSync(fd);
    pos = size;
    process.stdout.write(buf);
  };
  flush();
  if (!follow) return;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    flush();
    const st = readRunStatus(runDir);
    if (st && TERMINAL_STATES.has(st.state)) {
      flush();
      return;
    }
  }
}
