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

/** An open regular file inside a root: its descriptor (the caller closes it) and its size. */
export type ContainedOpen = { kind: "ok"; fd: number; size: number } | { kind: "missing" } | { kind: "outside" };

/** Where an open descriptor points can be asked of the kernel (Linux's /proc). */
const FD_PATHS = process.platform === "linux";

/**
 * Open `file` for reading only if it is a regular file whose real path lies inside `realRoot`
 * (a real path, from {@link realPathOf}). Checked before the open (so nothing outside is even
 * opened: opening some devices has effects) and again on the descriptor (so a symlink swapped in
 * between the check and the open is caught too).
 *
 * `listed`: the caller has just listed the file's folder and found the file a plain file (not a
 * link), in a folder that lies inside the root by a path without links. Then no path is resolved
 * before the open (a realpath costs a readlink per path component: 100,000 runs made that most of
 * the dashboard's first poll): the file is opened with O_NOFOLLOW, and the check on the
 * descriptor alone decides. A folder swapped for a link between the listing and the open can
 * then make the open reach a file of the same name outside, which is refused unread; O_NONBLOCK
 * keeps a FIFO from hanging the open. Without /proc the full check runs.
 */
export function openWithin(realRoot: string, file: string, opts: { listed?: boolean } = {}): ContainedOpen {
  const fast = opts.listed === true && FD_PATHS;
  if (!fast) {
    const where = locateReal(realRoot, file);
    if (where !== "ok") return { kind: where };
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (fast ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    // A link where a plain file was listed: judge it the slow way.
    if (fast && (e as NodeJS.ErrnoException).code === "ELOOP") return openWithin(realRoot, file);
    return { kind: "missing" };
  }
  try {
    const real = fdPath(fd);
    if (fast && real === undefined) throw new Error("no descriptor path");
    if (real !== undefined && real.startsWith("/") && !isWithin(realRoot, real.replace(/ \(deleted\)$/, ""))) {
      closeSync(fd);
      return { kind: "outside" };
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return { kind: "outside" };
    }
    return { kind: "ok", fd, size: st.size };
  } catch {
    closeSync(fd);
    return { kind: "missing" };
  }
}

/** The bytes [start, end) of an open file (fewer when it ends sooner). */
export function readRange(fd: number, start: number, end: number): Buffer {
  const data = Buffer.alloc(Math.max(0, end - start));
  let got = 0;
  while (got < data.length) {
    const n = readSync(fd, data, got, data.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return got === data.length ? data : data.subarray(0, got);
}

/**
 * Read `file` (whole, or at most the bytes [start, end)) only if it is a regular file whose
 * real path lies inside `root`'s real path (see {@link openWithin}; `realRoot` and `listed` are
 * passed on to it, and save resolving the root again).
 */
export function readWithin(root: string, file: string, range?: { start: number; end: number }, opts: { realRoot?: string; listed?: boolean } = {}): ContainedRead {
  const realRoot = opts.realRoot ?? realPathOf(root);
  if (!realRoot) return { kind: "missing" };
  const o = openWithin(realRoot, file, opts);
  if (o.kind !== "ok") return o;
  try {
    const size = o.size;
    const start = Math.min(range?.start ?? 0, size);
    const end = Math.max(start, Math.min(range?.end ?? size, size));
    return { kind: "ok", data: readRange(o.fd, start, end), size };
  } catch {
    return { kind: "missing" };
  } finally {
    closeSync(o.fd);
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
