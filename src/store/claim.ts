/**
 * The claim protocol: before a worker starts an attempt of a run it claims it, atomically, on
 * the shared filesystem, with no server. A claim is a hard link from the worker's identity file
 * (`<sweep>/.corral/workers/...json`, written whole first) to `<run>/claim-<attempt>.<seq>`:
 * `link()` fails with EEXIST when the name exists, on local filesystems and on NFS alike, so of
 * two workers reaching for the same name exactly one gets it, and the claim names its owner from
 * the moment it exists. Touching the identity file (one `futimes` per heartbeat) refreshes every
 * claim of that worker at once, since they are the same inode.
 *
 * The rules (docs/reliability.md, "The protocol on the shared filesystem"):
 * - the highest claim of a run (by attempt, then seq) is the one that counts;
 * - a worker holding a claim below a higher one does not start the run (it removes its claim);
 * - a worker whose claim is the highest starts the run only once every lower claim of another
 *   worker is over (its owner recorded a final state for that attempt) or its owner is dead;
 * - a claim of a run that never started is removed by its owner (drained, deferred, preempted);
 * - the same attempt is claimed again (`seq + 1`) only when the claim before is over or dead
 *   (a requeued job reruns its batch).
 */
import { closeSync, futimesSync, linkSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { readJsonSync, storageError, writeJsonAtomicSync } from "./fsutil.js";
import { claimFile, parseClaimName, workerIdentityFile } from "./layout.js";
import type { WorkerIdentity } from "./protocol.js";

/** One claim file of a run, as found on disk. */
export interface Claim {
  attempt: number;
  seq: number;
  file: string;
  /** Undefined when the file vanished or cannot be parsed (treated as owned by nobody alive). */
  owner: WorkerIdentity | undefined;
  /** The owner's last heartbeat (the shared inode's mtime). */
  mtimeMs: number;
}

/** Is a claim's owner still possibly running that attempt? Decided by the caller (the worker). */
export type ClaimVerdict = "live" | "over";

export type ClaimResult =
  /** This worker holds the highest claim and no other live one is below it: start the run. */
  | { kind: "claimed"; claim: Claim }
  /** This worker holds its claim, but `by` (a lower claim) may still be running the run: wait. */
  | { kind: "held"; claim: Claim | undefined; by: Claim }
  /** A higher attempt (or a later claim of this one) exists: this worker must not run it. */
  | { kind: "superseded"; by: Claim };

const cmpClaims = (a: Claim, b: Claim): number => a.attempt - b.attempt || a.seq - b.seq;

/**
 * Every claim of a run, lowest first. `known` (a claim this caller made) is returned as given,
 * without reading it again: the common case, a run with only its own claim, costs one readdir.
 */
export function listClaims(runDir: string, known?: Claim): Claim[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const out: Claim[] = [];
  for (const name of names) {
    const p = parseClaimName(name);
    if (!p) continue;
    const file = path.join(runDir, name);
    if (known && known.file === file) {
      out.push(known);
      continue;
    }
    let mtimeMs = 0;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      continue;
    }
    out.push({ attempt: p[0], seq: p[1], file, owner: readJsonSync<WorkerIdentity>(file), mtimeMs });
  }
  return out.sort(cmpClaims);
}

export const sameWorker = (a: { pid: number; host: string } | undefined, b: { pid: number; host: string } | undefined): boolean =>
  a !== undefined && b !== undefined && a.pid === b.pid && a.host === b.host;

/**
 * One worker process's side of the protocol: its identity file (written at once, kept open for
 * heartbeats), and claim/release of run attempts.
 */
export class ClaimIdentity {
  readonly file: string;
  private fd: number | undefined;

  constructor(
    readonly identity: WorkerIdentity,
    sweepDir: string,
  ) {
    this.file = workerIdentityFile(sweepDir, identity.batchId, identity.host, identity.pid);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
    } catch (e) {
      throw storageError(e, path.dirname(this.file));
    }
    writeJsonAtomicSync(this.file, identity);
    try {
      this.fd = openSync(this.file, "r");
    } catch {
      this.fd = undefined;
    }
  }

  /** Refresh every claim of this worker (one futimes on the shared inode). */
  heartbeat(now: number): void {
    if (this.fd === undefined) return;
    try {
      futimesSync(this.fd, now / 1000, now / 1000);
    } catch {
      /* a missed heartbeat makes our claims look older, never younger: safe */
    }
  }

  /**
   * This worker is done: its identity's mtime goes to the epoch, so every claim it still holds
   * reads as its owner's last heartbeat long ago (over), on every host at once, and a later
   * attempt elsewhere need not wait out the heartbeat window.
   */
  close(): void {
    if (this.fd === undefined) return;
    try {
      futimesSync(this.fd, 0, 0);
    } catch {
      /* then the claims go stale by the heartbeat window */
    }
    closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Claim `attempt` of the run in `runDir`. `judge` says whether another worker's claim may
   * still be running the run. Throws a storage error (one line) when the claim cannot be written.
   */
  claim(runDir: string, attempt: number, judge: (c: Claim) => ClaimVerdict): ClaimResult {
    let seq = 0;
    for (let tries = 0; ; tries++) {
      const name = claimFile(runDir, attempt, seq);
      try {
        linkSync(this.file, name);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" || tries > 100) throw storageError(e, name);
        // Taken: look at the claims there are, and take the next seq of this attempt only if
        // every claim up to now is over.
        const all = listClaims(runDir);
        const top = all[all.length - 1];
        if (!top) continue;
        if (top.attempt > attempt) return { kind: "superseded", by: top };
        const mine = all.find((c) => c.attempt === attempt && this.owns(c));
        if (mine) return this.verify(runDir, mine, judge);
        const live = all.find((c) => !this.owns(c) && judge(c) === "live");
        // Not ours and possibly still running: wait (holding nothing; claim again later).
        if (live) return { kind: "held", claim: undefined, by: live };
        seq = top.attempt === attempt ? top.seq + 1 : 0;
        continue;
      }
      return this.verify(runDir, { attempt, seq, file: name, owner: this.identity, mtimeMs: Date.now() }, judge);
    }
  }

  /**
   * Look again after claiming: two workers may claim different attempts (or seqs) of one run at
   * the same instant. The highest claim wins; a lower claim still live makes the highest wait.
   */
  verify(runDir: string, mine: Claim, judge: (c: Claim) => ClaimVerdict): ClaimResult {
    const all = listClaims(runDir, mine);
    const higher = all.find((c) => cmpClaims(c, mine) > 0);
    if (higher) {
      this.release(mine);
      return { kind: "superseded", by: higher };
    }
    const live = all.find((c) => cmpClaims(c, mine) < 0 && !this.owns(c) && judge(c) === "live");
    return live ? { kind: "held", claim: mine, by: live } : { kind: "claimed", claim: mine };
  }

  /** Remove a claim of a run this worker did not start (drained, deferred, superseded). */
  release(c: Claim): void {
    try {
      unlinkSync(c.file);
    } catch {
      /* already gone, or unwritable: a dead owner's claim is judged dead anyway */
    }
  }

  owns(c: Claim): boolean {
    return c.owner !== undefined && sameWorker(c.owner, this.identity) && c.owner.startedAt === this.identity.startedAt;
  }
}
