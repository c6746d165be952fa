/**
 * One lock per sweep, so two `corral` processes never act on one sweep at once. The lock is a
 * file holding the owner's pid and host from the moment it exists (hard-linked into place); a
 * lock whose process is provably gone (same host, pid dead) is stale and taken over by exactly
 * one taker (rename aside, then check).
 */
import { hostname } from "node:os";
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import { pidAlive, storageError } from "./fsutil.js";
import { LOCK } from "./layout.js";

interface LockInfo {
  pid: number;
  host: string;
  since: number;
  what: string;
}

export interface SweepLock {
  /** Release the lock; safe to call twice. */
  release(): void;
}

export function acquireSweepLock(sweepDir: string, what: string): SweepLock {
  const file = path.join(sweepDir, LOCK);
  const me: LockInfo = { pid: process.pid, host: hostname(), since: Date.now(), what };
  for (let attempt = 0; attempt < 5; attempt++) {
    // The lock has its content from the moment it exists: written under a private name, then
    // hard-linked into place (link is atomic and fails if the name exists, on NFS too).
    const tmp = `${file}.${me.host}.${me.pid}.${attempt}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(me));
    } catch (e) {
      throw storageError(e, tmp);
    }
    try {
      linkSync(tmp, file);
      return makeLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw storageError(e, file);
    } finally {
      rmQuiet(tmp);
    }
    const held = readLock(file);
    if (held === "gone") continue; // released right now: try again
    const stale = held === "empty" ? olderThan(file, EMPTY_LOCK_STALE_MS) : held.host === me.host && !pidAlive(held.pid);
    if (!stale) {
      if (held === "empty") continue;
      throw new CorralError("E_LOCKED", `sweep ${sweepDir} is in use by another corral (pid ${held.pid} on ${held.host}: ${held.what})`, {
        hint: held.host === me.host ? `wait for it to finish, or stop it (kill ${held.pid})` : `it runs on ${held.host}; wait for it or remove ${file} if that process is gone`,
        exitCode: 2,
      });
    }
    // Stale: its owner died. Take it over by renaming it aside (only one taker's rename can
    // succeed), then check that what was moved is the stale lock that was judged, not a fresh
    // one a faster taker made in between; a fresh one is put back.
    const aside = `${file}.stale.${me.host}.${me.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // another taker moved it first
    }
    const moved = readLock(aside);
    const same = held === "empty" ? moved === "empty" : moved !== "gone" && moved !== "empty" && moved.pid === held.pid && moved.host === held.host && moved.since === held.since;
    if (!same) {
      try {
        linkSync(aside, file);
      } catch {
        /* the name was taken again meanwhile: the loop re-reads it */
      }
    }
    rmQuiet(aside);
  }
  throw new CorralError("E_LOCKED", `could not take the lock of ${sweepDir}`, { hint: "another corral is starting on it; retry", exitCode: 2 });
}

/** A lock file with no content is left by a pre-link corral killed mid-write; stale after this. */
const EMPTY_LOCK_STALE_MS = 10_000;

function readLock(file: string): LockInfo | "empty" | "gone" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "gone";
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    return typeof v?.pid === "number" && typeof v.host === "string" ? v : "empty";
  } catch {
    return "empty";
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

function rmQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone */
  }
}

function makeLock(file: string): SweepLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const cur = readLock(file);
      if (cur !== "gone" && cur !== "empty" && cur.pid === process.pid && cur.host === hostname()) {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      }
    },
  };
}
