/**
 * The SLURM client commands, run with execFile (never a shell), a timeout, and jittered
 * backoff on transient errors (slurmctld restarting, socket timeouts).
 */
import { execFile } from "node:child_process";
import { CorralError } from "../../errors.js";

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCmd(cmd: string, args: string[], timeoutMs = 30_000): Promise<CmdResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      let code = 0;
      if (e) code = typeof e.code === "number" ? e.code : e.code === "ENOENT" ? 127 : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (e && typeof e.code === "string" ? `${cmd}: ${e.code}` : "") });
    });
  });
}

/** Errors worth retrying: the controller is busy, restarting or briefly unreachable. */
export function isTransient(r: CmdResult): boolean {
  if (r.code === 0 || r.code === 127) return false;
  // Answers that will not change on retry.
  if (/accounting storage is disabled|Invalid job id|invalid partition|Requested node configuration is not available/i.test(r.stdout + r.stderr)) return false;
  return /Socket timed out|Unable to contact slurm controller|Connection refused|Transport endpoint|Resource temporarily unavailable|slurm_receive_msg|Zero Bytes were transmitted|try again/i.test(r.stderr) || r.stderr === "";
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Called before each retry; return a result to stop retrying (e.g. the submission did land). */
  beforeRetry?: () => Promise<CmdResult | undefined>;
}

/** Run a SLURM command, retrying transient failures with jittered exponential backoff. */
export async function slurmCmd(cmd: string, args: string[], opts: RetryOptions = {}): Promise<CmdResult> {
  // 8 attempts back off for ~25-70 s in all: long enough to ride out a slurmctld restart.
  const attempts = opts.attempts ?? 8;
  let delay = opts.baseMs ?? 500;
  let last: CmdResult | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0 && opts.beforeRetry) {
      const found = await opts.beforeRetry();
      if (found) return found;
    }
    last = await runCmd(cmd, args);
    if (last.code === 127) {
      throw new CorralError("E_SCHEDULER", `${cmd} not found on PATH`, { hint: "load SLURM's client tools (module load slurm) or run `corral doctor`", exitCode: 2 });
    }
    if (!isTransient(last)) return last;
    await sleep(delay * (0.5 + Math.random()));
    delay = Math.min(opts.maxMs ?? 15_000, delay * 2);
  }
  return last!;
}
