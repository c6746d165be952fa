/**
 * Reading a store file only when it really lies inside the store. A run folder is written by the
 * user's own command, so `stdout.log -> /etc/shadow` is one `ln -s` away: a reader that serves
 * files to someone else (the dashboard) must resolve symlinks and refuse what lands outside.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs";
import path from "node:path";

/** A read confined to a root: the bytes, or why there are none. */
export type ContainedRead =
  | { kind: "ok"; data: Buffer; size: number }
  /** No such file (yet): the usual case for a run that has not written it. */
  | { kind: "missing" }
  /** The file resolves outside the root, or is not a regular file (FIFO, device, folder). */
  | { kind: "outside" };

/** Real path of `p`, or undefined when it does not exist (or cannot be resolved). */
export function realPathOf(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/** Is `real` (a real path) `root` itself or below it? */
export const isWithin = (realRoot: string, real: string): boolean => real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);

/**
 * Where the open descriptor really points. Linux names it in /proc; elsewhere the caller's
 * path check before the open is all there is.
 */
function fdPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Classify `file` against `root` without opening it: ok (inside), missing or outside. */
export function locateWithin(root: string, file: string): "ok" | "missing" | "outside" {
  const realRoot = realPathOf(root);
  return realRoot ? locateReal(realRoot, file) : "missing";
}

function locateReal(realRoot: string, file: string): "ok" | "missing" | "outside" {
  const real = realPathOf(file);
  if (real) return isWithin(realRoot, real) ? "ok" : "outside";
  // Missing, or a dangling/looping symlink: either way nothing to read (and nothing served).
  return "missing";
}

/**
 * Read `file` (whole, or at most the bytes [start, end)) only if it is a regular file whose
 * real path lies inside `root`'s real path. Checked before the open (so nothing outside is even
 * opened: opening some devices has effects) and again on the descriptor (so a symlink swapped in
 * between the check and the open is caught too).
 */
export function readWithin(root: string, file: string, range?: { start: number; end: number }): ContainedRead {
  const realRoot = realPathOf(root);
  if (!realRoot) return { kind: "missing" };
  const where = locateReal(realRoot, file);
  if (where !== "ok") return { kind: where };
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted as stdout.log must not hang the server in open().
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return { kind: "missing" };
  }
  try {
    const real = fdPath(fd);
    if (real !== undefined && real.startsWith("/") && !isWithin(realRoot, real.replace(/ \(deleted\)$/, ""))) return { kind: "outside" };
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: "outside" };
    const size = st.size;
    const start = Math.min(range?.start ?? 0, size);
    const end = Math.max(start, Math.min(range?.end ?? size, size));
    const data = Buffer.alloc(end - start);
    let got = 0;
    while (got < data.length) {
      const n = readSync(fd, data, got, data.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return { kind: "ok", data: got === data.length ? data : data.subarray(0, got), size };
  } catch {
    return { kind: "missing" };
  } finally {
    closeSync(fd);
  }
}

/** Size of `file` if it is a regular file inside `root`; -1 when missing, "outside" otherwise. */
export function sizeWithin(root: string, file: string): number | "outside" {
  const r = readWithin(root, file, { start: 0, end: 0 });
  return r.kind === "ok" ? r.size : r.kind === "missing" ? -1 : "outside";
}

/** Parse a JSON file inside `root`; undefined when missing, unparsable or outside. */
export function readJsonWithin<T>(root: string, file: string): T | undefined {
  const r = readWithin(root, file);
  if (r.kind !== "ok") return undefined;
  try {
    return JSON.parse(r.data.toString("utf8")) as T;
  } catch {
    return undefined;
  }
}
