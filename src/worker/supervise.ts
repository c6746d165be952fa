/**
 * Start one run in its own process group and stop it like we mean it: SIGTERM to the group, a
 * grace period, SIGKILL, and a record of whether the kill had to be forced.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";

export interface StartOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdoutFile: string;
  stderrFile: string;
}

export interface RunExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

export interface Supervised {
  pid: number | undefined;
  exited: Promise<RunExit>;
  /** SIGTERM the group, SIGKILL after graceMs; resolves true when SIGKILL was needed. */
  stop(graceMs: number, signal?: NodeJS.Signals): Promise<boolean>;
  /** Send a signal to the whole group (ignored if it is gone). */
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL the whole group now. */
  kill(): void;
  /** True once stop() had to fall back to SIGKILL (set before the exit is reported). */
  readonly forced: boolean;
}

/** 128 + signal number, the shell's convention for "killed by signal". */
export function signalExitCode(sig: NodeJS.Signals | null): number | null {
  if (!sig) return null;
  const nums: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  const n = nums[sig];
  return n === undefined ? null : 128 + n;
}

export function startRun(opts: StartOptions): Supervised {
  // Logs are opened in append mode so a retried attempt keeps what the first one printed.
  const out = openSync(opts.stdoutFile, "a");
  const err = openSync(opts.stderrFile, "a");
  const [cmd, ...args] = opts.argv;
  let done = false;
  let resolveExit!: (e: RunExit) => void;
  const exited = new Promise<RunExit>((r) => (resolveExit = r));
  const child = spawn(cmd!, args, {
    cwd: opts.cwd,
    env: opts.env,
    // detached = setsid(): the run leads its own process group, so we can signal all of it.
    detached: true,
    stdio: ["ignore", out, err],
  });
  closeSync(out);
  closeSync(err);
  child.on("error", (e) => {
    if (done) return;
    done = true;
    resolveExit({ code: 127, signal: null, spawnError: `cannot start ${path.basename(cmd ?? "")}: ${(e as NodeJS.ErrnoException).code ?? e.message}` });
  });
  child.on("exit", (code, signal) => {
    if (done) return;
    done = true;
    resolveExit({ code, signal });
  });
  const pid = child.pid;
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      /* group already gone */
    }
  };
  let forcedKill = false;
  return {
    pid,
    exited,
    get forced() {
      return forcedKill;
    },
    signal: signalGroup,
    kill: () => signalGroup("SIGKILL"),
    async stop(graceMs: number, sig: NodeJS.Signals = "SIGTERM"): Promise<boolean> {
      if (done) return false;
      signalGroup(sig);
      let timer: NodeJS.Timeout | undefined;
      const forced = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (forced) {
        forcedKill = true;
        signalGroup("SIGKILL");
        await exited;
      }
      return forced;
    },
  };
}
