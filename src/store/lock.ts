/**
 * One lock per sweep, so two `corral` processes never act on one sweep at once. The lock is a
 * file created with O_EXCL holding the owner's pid and host; a lock whose process is gone (same
 * host) is stale and taken over.
 */
import { hostname } from "node:os";
import { openSync, closeSync, writeSync, unlinkSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import { pidAlive, readJsonSync, writeJsonAtomicSync } from "./fsutil.js";

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
  const file = path.join(sweepDir, ".lock");
  const me: LockInfo = { pid: process.pid, host: hostname(), since: Date.now(), what };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return makeLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const held = readJsonSync<LockInfo>(file);
    if (!held) continue; // being written or removed right now: retry
    const stale = held.host === me.host && !pidAlive(held.pid);
    if (!stale) {
      throw new CorralError("E_LOCKED", `sweep ${sweepDir} is in use by another corral (pid ${held.pid} on ${held.host}: ${held.what})`, {
        hint: held.host === me.host ? `wait for it to finish, or stop it (kill ${held.pid})` : `it runs on ${held.host}; wait for it or remove ${file} if that process is gone`,
        exitCode: 2,
      });
    }
    // Stale: the owner died. Replace atomically, then re-check that we won the race.
    writeJsonAtomicSync(file, me);
    const now = readJsonSync<LockInfo>(file);
    if (now && now.pid === me.pid && now.host === me.host) return makeLock(file);
  }
  throw new CorralError("E_LOCKED", `could not take the lock of ${sweepDir}`, { hint: "another corral is starting on it; retry" });
}

function makeLock(file: string): SweepLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const cur = readJsonSync<LockInfo>(file);
      if (cur && cur.pid === process.pid) {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      }
    },
  };
}
