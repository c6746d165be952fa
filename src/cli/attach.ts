/** Follow a sweep the engine drives in this terminal: shared by `corral run` and `corral resume`. */
import type { RunningSweep } from "../engine/launch.js";
import { exitCodeOf } from "./exit.js";
import { watchInterrupts } from "./interrupt.js";
import { printFailureSummary, type makeTerminalReporter } from "./reporter.js";

/** Wait for a sweep the engine drives, with Ctrl+C handling; prints the summary; returns the exit code. */
export async function attach(running: RunningSweep, reporter: ReturnType<typeof makeTerminalReporter>): Promise<number> {
  const signals = watchInterrupts((force) => running.stop(force), { attached: true, what: "runs" });
  try {
    const res = await running.done;
    reporter.close();
    printFailureSummary(res.runs, running.manifest.dir);
    return exitCodeOf({ interrupted: res.interrupted, runs: res.runs });
  } finally {
    signals.dispose();
  }
}
