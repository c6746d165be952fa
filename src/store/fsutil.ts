/**
 * Atomic, whole-file writes: every file another process may read is written to a temporary
 * name in the same folder and renamed into place (rename is atomic on POSIX and NFS).
 */
import { hostname } from "node:os";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

let counter = 0;
// Host + pid + counter is unique across every process writing to a shared filesystem.
const tag = `${hostname()}.${process.pid}`;
const tmpName = (file: string): string => path.join(path.dirname(file), `.${path.basename(file)}.${tag}.${(counter++).toString(36)}.tmp`);

/** Write `data` to `file` atomically (sync; used by the worker in signal paths). */
export function writeFileAtomicSync(file: string, data: string): void {
  const tmp = tmpName(file);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export const writeJsonAtomicSync = (file: string, value: unknown): void =>
  writeFileAtomicSync(file, JSON.stringify(value, null, 2) + "\n");

/** Parse a JSON file; undefined when it does not exist (or is mid-replace on a weak FS). */
export function readJsonSync<T>(file: string): T | undefined {
  // existsSync first: a missing file is the common case for pending runs, and a thrown ENOENT
  // (with its stack) costs far more than one extra syscall.
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Is a process with this pid alive on this host? (EPERM means alive but not ours.) */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
