/**
 * Start one run in its own process group and stop it like we mean it: SIGTERM to the group, a
 * grace period, SIGKILL, and a record of whether the kill had to be forced.
 */
import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, openSync, statSync } from "node:fs";
import path from "node:path";
import { findTaskset } from "./resources.js";
import type { HelperRun, SpawnHelper } from "./spawn-helper.js";

/** What a run is started with: the helper's request (argv, cwd, env, logs, CPUs, exit file), and the helper. */
export interface StartOptions extends HelperRun {
  /** Start through this helper when it is usable (see spawn-helper.ts); else child_process.spawn. */
  helper?: SpawnHelper | undefined;
}

export interface RunExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
  /** A queued start withdrawn before it began (the batch is stopping): nothing ran. */
  notStarted?: boolean;
  /** When the spawn helper reaped it (ms since the epoch): it had ended by then. */
  at?: number;
}

export interface Supervised {
  /** The run's pid (= its process group), once known (the helper reports it a moment later). */
  readonly pid: number | undefined;
  /** Resolves with the pid once the run has started (undefined if it could not start). */
  started: Promise<number | undefined>;
  exited: Promise<RunExit>;
  /** SIGTERM the group, SIGKILL after graceMs; resolves true when SIGKILL was needed. */
  stop(graceMs: number, signal?: NodeJS.Signals): Promise<boolean>;
  /** Send a signal to the whole group (ignored if it is gone). */
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL the whole group now. */
  kill(): void;
  /** When the first signal was sent to its group (ms since the epoch), if one was. */
  readonly signalledAt: number | undefined;
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
  const ctl = control();
  const direct = (): void => {
    const r = spawnDirect(opts, ctl.exit);
    ctl.started(r);
  };
  if (opts.helper?.usable) {
    const { helper: _helper, ...req } = opts;
    opts.helper.run(
      req,
      {
        started: (pid, error) => (pid === undefined ? ctl.exit({ code: 127, signal: null, spawnError: spawnErrorText(opts.argv[0] ?? "", error) }) : ctl.started(pid)),
        exited: ctl.exit,
        dropped: () => ctl.exit({ code: null, signal: null, notStarted: true }),
        lost: (maybeStarted) => {
          if (!maybeStarted) return direct();
          // The helper died: this run's exit can no longer be seen. Do not leave it running unwatched.
          ctl.proc.kill();
          ctl.exit({ code: null, signal: null, spawnError: "the worker's spawn helper exited; the run was stopped" });
        },
      },
    );
  } else {
    direct();
  }
  return ctl.proc;
}

/**
 * Why a run's program could not start, in the user's terms: the program as the command spells
 * it, and what is wrong with it (`cannot start 'pythn': command not found on PATH`).
 */
export function spawnErrorText(cmd: string, code: string | undefined): string {
  const what = `cannot start '${cmd}'`;
  switch (code) {
    case "ENOENT":
      return cmd.includes("/") ? `${what}: no such file` : `${what}: command not found on PATH`;
    case "EACCES":
      return `${what}: permission denied (is it executable? chmod +x, or run it through its interpreter)`;
    case "ENOEXEC":
      return `${what}: not an executable file (add a #! line, or run it through its interpreter)`;
    case "ENOTDIR":
      return `${what}: a part of its path is not a folder`;
    default:
      return `${what}: ${code ?? "spawn failed"}`;
  }
}

/** The errno code with which `cmd` would fail to start (as execvp resolves it), or undefined. */
function unstartable(cmd: string, env: NodeJS.ProcessEnv | Record<string, string>, cwd: string): string | undefined {
  const check = (p: string): string | undefined => {
    try {
      if (!statSync(p).isFile()) return "EACCES";
      accessSync(p, constants.X_OK);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EACCES" ? "EACCES" : "ENOENT";
    }
  };
  if (cmd.includes("/")) return check(path.resolve(cwd, cmd));
  for (const dir of (env.PATH ?? process.env.PATH ?? "/usr/bin:/bin").split(path.delimiter)) if (dir && check(path.join(path.resolve(cwd, dir), cmd)) === undefined) return undefined;
  return "ENOENT";
}

/** child_process.spawn (the fallback): the run leads its own process group; pinned through taskset. */
function spawnDirect(opts: StartOptions, exit: (e: RunExit) => void): number | undefined {
  const taskset = opts.cpus?.length ? findTaskset() : null;
  // Through taskset a missing program would be taskset's failure (`taskset: failed to execute
  // python`, exit 127): name the run's own program instead, as the helper and a plain spawn do.
  const missing = taskset ? unstartable(opts.argv[0] ?? "", opts.env, opts.cwd) : undefined;
  if (missing) {
    queueMicrotask(() => exit({ code: 127, signal: null, spawnError: spawnErrorText(opts.argv[0] ?? "", missing) }));
    return undefined;
  }
  const argv = taskset ? [taskset, "-c", opts.cpus!.join(","), ...opts.argv] : opts.argv;
  // Logs are opened in append mode so a retried attempt keeps what the first one printed.
  const out = openSync(opts.stdoutFile, "a");
  const err = openSync(opts.stderrFile, "a");
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, {
    cwd: opts.cwd,
    env: opts.env,
    // detached = setsid(): the run leads its own process group, so we can signal all of it.
    detached: true,
    stdio: ["ignore", out, err],
  });
  closeSync(out);
  closeSync(err);
  child.on("error", (e) => exit({ code: 127, signal: null, spawnError: spawnErrorText(opts.argv[0] ?? cmd ?? "", (e as NodeJS.ErrnoException).code ?? e.message) }));
  child.on("exit", (code, signal) => exit({ code, signal }));
  return child.pid;
}

/**
 * The Supervised side of one run, whoever starts it: signals sent before the pid is known are
 * sent once it is; the first exit reported wins.
 */
function control(): { proc: Supervised; started: (pid: number | undefined) => void; exit: (e: RunExit) => void } {
  let done = false;
  let pid: number | undefined;
  let known = false;
  const early: NodeJS.Signals[] = [];
  let resolveExit!: (e: RunExit) => void;
  let resolveStarted!: (pid: number | undefined) => void;
  const exited = new Promise<RunExit>((r) => (resolveExit = r));
  const startedP = new Promise<number | undefined>((r) => (resolveStarted = r));
  let signalledAt: number | undefined;
  const send = (sig: NodeJS.Signals): void => {
    if (pid === undefined) return;
    signalledAt ??= Date.now();
    try {
      process.kill(-pid, sig);
    } catch {
      /* group already gone */
    }
  };
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (done) return;
    if (!known) early.push(sig);
    else send(sig);
  };
  let forcedKill = false;
  const proc: Supervised = {
    get pid() {
      return pid;
    },
    started: startedP,
    exited,
    get forced() {
      return forcedKill;
    },
    get signalledAt() {
      return signalledAt;
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
  return {
    proc,
    started: (p) => {
      if (known) return;
      known = true;
      pid = p;
      resolveStarted(p);
      for (const sig of early.splice(0)) send(sig);
    },
    exit: (e) => {
      if (done) return;
      done = true;
      if (!known) {
        known = true;
        resolveStarted(pid);
      }
      resolveExit(e);
    },
  };
}
