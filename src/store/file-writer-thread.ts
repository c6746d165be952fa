/** The thread of file-writer.ts: writes [file, data, ...] batches in order; stops at the first failure. */
import { writeFileSync } from "node:fs";
import { parentPort } from "node:worker_threads";

let failed = false;
parentPort!.on("message", (batch: string[] | null) => {
  if (batch === null) {
    parentPort!.postMessage("done");
    return;
  }
  if (failed) return;
  for (let i = 0; i < batch.length; i += 2) {
    try {
      writeFileSync(batch[i]!, batch[i + 1]!);
    } catch (e) {
      failed = true;
      const err = e as NodeJS.ErrnoException;
      parentPort!.postMessage({ error: { message: err.message, ...(err.code ? { code: err.code } : {}), path: err.path ?? batch[i]! } });
      return;
    }
  }
});
