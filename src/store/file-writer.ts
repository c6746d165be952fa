/**
 * Many small files written beside the caller's own work: a worker thread writes them, in order,
 * while the caller goes on (rendering them, creating folders). Creating a file is kernel work, and
 * on a disk where many files were deleted a moment ago (the previous sweep's, a test suite's) ext4
 * without a journal scans its inode table for each one: there a second thread takes a third or
 * more off a sweep's set-up. Where no thread can start (the TypeScript sources run by a test
 * runner), the caller's thread writes them.
 */
import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { storageError } from "./fsutil.js";

export interface FileWriter {
  /** Write `data` to `file` (created or replaced), some time before done() resolves. */
  write(file: string, data: string): void;
  /** Every file written; rejects with the first failure (a one-line storage error where known). */
  done(): Promise<void>;
  /** Stop at once (the caller failed before done()): what was not written yet is not. */
  close(): void;
}

/** Files handed to the thread at once. */
const BATCH = 64;

export function backgroundFileWriter(): FileWriter {
  const script = new URL("./file-writer-thread.js", import.meta.url);
  if (!existsSync(fileURLToPath(script))) return inline();
  let worker: Worker;
  try {
    worker = new Worker(script);
  } catch {
    return inline();
  }
  let batch: string[] = [];
  let failure: unknown;
  const finished = new Promise<void>((resolve) => {
    worker.on("message", (m: { error?: { code?: string; path?: string; message: string } } | "done") => {
      if (m !== "done" && m.error) failure = storageError(Object.assign(new Error(m.error.message), m.error), m.error.path ?? "");
      if (m === "done") resolve();
    });
    worker.on("error", (e) => {
      failure ??= e;
      resolve();
    });
    worker.on("exit", () => resolve());
  });
  return {
    write(file, data) {
      batch.push(file, data);
      if (batch.length >= BATCH * 2) {
        worker.postMessage(batch);
        batch = [];
      }
    },
    async done() {
      worker.postMessage(batch);
      worker.postMessage(null);
      batch = [];
      await finished;
      await worker.terminate();
      if (failure !== undefined) throw failure;
    },
    close() {
      void worker.terminate();
    },
  };
}

function inline(): FileWriter {
  return {
    write(file, data) {
      try {
        writeFileSync(file, data);
      } catch (e) {
        throw storageError(e, file);
      }
    },
    done: () => Promise.resolve(),
    close: () => undefined,
  };
}
