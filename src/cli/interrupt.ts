/**
 * The two-stage Ctrl+C, in one place for every command that drives runs: the first SIGINT or
 * SIGTERM stops gracefully (SIGTERM to the runs, SIGKILL after the grace period), the second
 * kills at once. SIGUSR2 kills at once (how `corral cancel --force` reaches a detached head).
 */
export interface InterruptOptions {
  /** A terminal is watching (messages say "Ctrl+C"); a detached head also ignores SIGHUP. */
  attached: boolean;
  /** What is being stopped, for the messages: "runs", "jobs". */
  what: string;
}

export interface InterruptWatch {
  /** How many stop signals arrived. */
  readonly count: number;
  /** Remove the handlers (safe to call twice). */
  dispose(): void;
}

export function watchInterrupts(stop: (force: boolean) => void, opts: InterruptOptions): InterruptWatch {
  let count = 0;
  const onStop = (sig: string): void => {
    count++;
    if (opts.attached) {
      process.stderr.write(count === 1 ? `\ncorral: stopping ${opts.what} (SIGTERM, then SIGKILL after the grace period); Ctrl+C again to kill at once\n` : `\ncorral: killing ${opts.what} now\n`);
    } else process.stderr.write(`corral: ${sig}: stopping\n`);
    stop(count > 1);
  };
  const onInt = (): void => onStop("SIGINT");
  const onTerm = (): void => onStop("SIGTERM");
  const onKill = (): void => stop(true);
  const onHup = (): void => undefined;
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("SIGUSR2", onKill);
  // A detached head outlives the terminal that started it.
  if (!opts.attached) process.on("SIGHUP", onHup);
  let disposed = false;
  return {
    get count() {
      return count;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.off("SIGUSR2", onKill);
      process.off("SIGHUP", onHup);
    },
  };
}
