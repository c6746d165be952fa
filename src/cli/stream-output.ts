/**
 * A single `corral run` (no -m, local) shows its script's own output as Hydra's single run does:
 * the run's stdout.log and stderr.log are followed as they grow and copied to this process's
 * stdout and stderr. The run still writes its log files; this only reads them.
 */
import { closeSync, openSync, readSync, fstatSync } from "node:fs";
import path from "node:path";
import { STDERR, STDOUT } from "../store/layout.js";

/** Follows one file from its start, copying what it gains to `out`. */
function follower(file: string, out: NodeJS.WritableStream): () => void {
  let offset = 0;
  const buf = Buffer.alloc(1 << 16);
  return () => {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return; // not created yet
    }
    try {
      // A retried attempt may start the file again.
      if (fstatSync(fd).size < offset) offset = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        out.write(Buffer.from(buf.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  };
}

/** Copy a run's output to the terminal until `stop()`, which copies what is left. */
export function streamRunOutput(runDir: string, everyMs = 100): { stop(): void } {
  const steps = [follower(path.join(runDir, STDOUT), process.stdout), follower(path.join(runDir, STDERR), process.stderr)];
  const tick = (): void => steps.forEach((s) => s());
  const timer = setInterval(tick, everyMs);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      tick();
    },
  };
}
