/**
 * Atomic, whole-file writes: every file another process may read is written to a temporary
 * name in the same folder and renamed into place (rename is atomic on POSIX and NFS).
 */
import { hostname } from "node:os";
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { CorralError } from "../errors.js";
import path from "node:path";

let counter = 0;
// Host + pid + counter is unique across every process writing to a shared filesystem.
const tag = `${hostname()}.${process.pid}`;
const tmpName = (file: string): string => path.join(path.dirname(file), `.${path.basename(file)}.${tag}.${(counter++).toString(36)}.tmp`);

/** Write `data` to `file` atomically (sync; used by the worker in signal paths). */
export function writeFileAtomicSync(file: string, data: string): void {
  const tmp = tmpName(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never made */
    }
    throw storageError(e, file);
  }
}

const STORAGE_WHY: Record<string, [string, string]> = {
  ENOSPC: ["no space left on the device", "free space on that filesystem, then `corral resume`: runs that finished keep their records"],
  EDQUOT: ["disk quota exceeded", "free space within your quota, then `corral resume`: runs that finished keep their records"],
  EROFS: ["the filesystem is read-only", "put the sweep on a writable filesystem (sweep_dir), or remount it read-write; reading (status, results) still works"],
  EACCES: ["permission denied", "check the folder's owner and mode; another user's sweep can be read but not driven"],
  EPERM: ["operation not permitted", "check the folder's owner and mode"],
  EIO: ["an input/output error", "the filesystem or disk reports errors; check it (dmesg) before going on"],
};

/**
 * A filesystem failure of the store as one line a user can act on (file, what happened, what to
 * do); anything else is returned unchanged.
 */
export function storageError(e: unknown, file: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = code ? STORAGE_WHY[code] : undefined;
  if (!why) return e;
  return new CorralError("E_STORAGE", `cannot write ${file}: ${why[0]} (${code})`, { hint: why[1], exitCode: 1, cause: e });
}

/** Is `e` (or the error it wraps) a full disk or an exhausted quota? */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const cause = ((e as { cause?: unknown } | undefined)?.cause as NodeJS.ErrnoException | undefined)?.code;
  return [code, cause].some((c) => c === "ENOSPC" || c === "EDQUOT");
}

/**
 * Room kept in reserve: a file of `bytes` written while there is space, removed when a write
 * finds the disk full, so the records that matter most (the outcome of a run that finished) can
 * still be written. One per worker.
 */
export class Ballast {
  private held = false;
  constructor(
    readonly file: string,
    bytes = 256 * 1024,
  ) {
    try {
      writeFileSync(file, Buffer.alloc(bytes));
      this.held = true;
    } catch {
      try {
        unlinkSync(file);
      } catch {
        /* never made */
      }
    }
  }

  /** Free the room; true when there was any to free. */
  release(): boolean {
    if (!this.held) return false;
    this.held = false;
    try {
      unlinkSync(this.file);
      return true;
    } catch {
      return false;
    }
  }
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

/**
 * The arguments of a live process on this host (Linux `/proc/<pid>/cmdline`), to tell a worker
 * from a process that reused its pid; undefined where they cannot be read (no /proc, gone).
 */
export function cmdlineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
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
