/**
 * The launcher contract suite (DESIGN.md: "each launcher passes one shared contract suite"):
 * ONE table of cases, run for every launcher: local, SLURM on the real test cluster (skipped,
 * with the reason, where none answers) and an in-memory fake (test/fixtures/fake-launcher.ts).
 *
 * Every case drives a real sweep through the engine (`startSweep`/`resumeSweep`, or the CLI)
 * and asserts what really ran: each run's command appends `<run id> <attempt>` to starts.txt
 * when it starts and its id to done.txt when its work is complete. What the tool says (states,
 * explain, active) is checked as well, never alone.
 *
 * A (case, launcher) pair that fails for a known bug is listed in KNOWN with its issue, and runs
 * as `it.fails`: it turns red once the bug is fixed, so the marker cannot outlive it.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
// The built package, as the CLI runs it: its local workers start dist/worker/worker-main.js.
import { resumeSweep, startSweep, planAll, prepareSweep, type RunningSweep } from "../../dist/engine/launch.js";
import { LocalLauncher } from "../../dist/launchers/local/local-launcher.js";
import { SlurmLauncher } from "../../dist/launchers/slurm/slurm-launcher.js";
import { openProject } from "../../dist/project/open.js";
import { deriveStatus } from "../../dist/store/status.js";
import { readManifest, readRunStatus, writeManifest } from "../../dist/store/store.js";
import type * as Registry from "../../dist/launchers/registry.js";
import type { Launcher } from "../../src/launchers/launcher.js";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { FakeLauncher } from "../fixtures/fake-launcher.js";
import { corral, lines, makeProject, sleep, slurmProblem, waitFor } from "../helpers.js";

// The engine names no launcher but the registry's; the fake takes the registry's place while
// its block runs (the real launchers go through untouched).
const override = vi.hoisted(() => ({ current: undefined as unknown }));
vi.mock("../../dist/launchers/registry.js", async (importOriginal) => {
  const orig = await importOriginal<typeof Registry>();
  return { ...orig, makeLauncher: (s: Parameters<typeof orig.makeLauncher>[0]) => (override.current as ReturnType<typeof orig.makeLauncher> | undefined) ?? orig.makeLauncher(s) };
});

type Name = "local" | "slurm" | "fake";
const quiet = { emit: () => undefined };

/** How many runs at once: `slots` together, or `queued`: one at a time, the rest waiting. */
interface Shape {
  slots: number;
  queued?: boolean;
  runs: number;
}

interface Harness {
  name: Name;
  /** Why it cannot run here (the block is skipped and says so). */
  skip?: string | undefined;
  /** Started through the CLI too (`corral run --detach`, `corral resume`); the fake lives in this process. */
  cli: boolean;
  /** Runs are real processes on this machine (their pids can be checked). */
  processes: boolean;
  launcherYaml(s: Shape): string;
  launcher(): Launcher;
  /** SIGKILL to the worker process alone (local: kill -9; SLURM: the batch shell; fake: its worker). */
  killWorker(m: SweepManifest): Promise<void>;
  /** The whole job dies, runs included (the scheduler kills it; the node is lost). */
  killJob(m: SweepManifest): Promise<void>;
  /** A SIGTERM that corral did not send reaches the runs (the scheduler's; SLURM may signal only a shell's child). */
  externalTerm(m: SweepManifest): Promise<void>;
  /** Upper bound for waits on this launcher (a shared cluster may queue a job for a while). */
  patienceMs: number;
}

const KILL_GRACE = "  kill_grace: 2\n";

/** A signal to a process (or, negative, a process group) that may be gone already. */
const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
};

const local: Harness = {
  name: "local",
  cli: true,
  processes: true,
  launcherYaml: (s) => `launcher:\n  type: local\n  jobs: ${s.queued ? 1 : s.slots}\n${KILL_GRACE}`,
  launcher: () => new LocalLauncher(),
  killWorker: async (m) => {
    for (const j of m.jobs) if (j.pid !== undefined) signal(j.pid, "SIGKILL");
  },
  // As a lost machine would: the worker and every run's process group at once.
  killJob: async (m) => {
    for (const j of m.jobs) if (j.pid !== undefined) signal(j.pid, "SIGKILL");
    for (const r of m.runs) {
      const pid = readRunStatus(path.join(m.dir, r.dir))?.pid;
      if (pid !== undefined) signal(-pid, "SIGKILL");
    }
  },
  // SIGTERM to each run's process group, not through the worker.
  externalTerm: async (m) => {
    for (const r of m.runs) {
      const pid = readRunStatus(path.join(m.dir, r.dir))?.pid;
      if (pid !== undefined) signal(-pid, "SIGTERM");
    }
  },
  patienceMs: 20_000,
};

const scancel = (args: string[]): void => {
  execFileSync("scancel", args, { encoding: "utf8", timeout: 20_000 });
};

const slurm: Harness = {
  name: "slurm",
  skip: slurmProblem(),
  cli: true,
  processes: true,
  // One array task runs all runs of a sweep (one CPU of the shared 2-CPU node); `queued`: one
  // task per run, at most one running (array throttle), the others pending in the queue.
  launcherYaml: (s) =>
    s.queued
      ? `launcher:\n  type: slurm\n  per_job: 1\n  parallel: 1\n  array_throttle: 1\n${KILL_GRACE}`
      : `launcher:\n  type: slurm\n  per_job: ${s.runs}\n  parallel: ${s.slots}\n${KILL_GRACE}`,
  launcher: () => new SlurmLauncher(),
  // --batch: SIGKILL to the batch shell alone, which is the worker (the script execs it).
  killWorker: async (m) => scancel(["--signal=KILL", "--batch", ...m.jobs.map((j) => j.jobId)]),
  // SLURM's own kill of the job: SIGTERM to everything, SIGKILL after KillWait (even with
  // --signal=KILL); the worker hears a SIGTERM it did not ask for and records `preempted`.
  killJob: async (m) => scancel(["--signal=KILL", ...m.jobs.map((j) => j.jobId)]),
  // The scheduler's own SIGTERM (no cancel marker): what preemption or a requeue sends.
  externalTerm: async (m) => scancel(["--signal=TERM", "--full", ...m.jobs.map((j) => j.jobId)]),
  patienceMs: 60_000,
};

const fake = new FakeLauncher({
  // Mirrors run.sh below: SLEEP seconds of work, TERM_EXIT0=1 finishes its work on SIGTERM.
  plan: (spec) => ({ durationMs: Number(spec.env.SLEEP ?? 0) * 1000, onTerm: spec.env.TERM_EXIT0 === "1" ? "exit0" : "die" }),
  started: (spec) => appendFileSync(path.join(spec.cwd, spec.env.START_FILE!), `${spec.id} ${spec.attempt}\n`),
  completed: (spec) => appendFileSync(path.join(spec.cwd, spec.env.COUNT_FILE!), `${spec.id}\n`),
});

const fakeHarness: Harness = {
  name: "fake",
  cli: false,
  processes: false,
  launcherYaml: (s) => `launcher:\n  type: local\n  jobs: ${s.queued ? 1 : s.slots}\n${KILL_GRACE}`,
  launcher: () => fake,
  // The fake's runs die with their worker: both kills are the same.
  killWorker: async (m) => {
    for (const j of m.jobs) fake.killWorker(j.jobId);
  },
  killJob: async (m) => {
    for (const j of m.jobs) fake.killWorker(j.jobId);
  },
  externalTerm: async (m) => {
    for (const r of m.runs) fake.signalRun(m.id, r.index);
  },
  patienceMs: 20_000,
};

const HARNESSES: Harness[] = [local, slurm, fakeHarness];

/** The run's command: counts its starts and completions; TERM_EXIT0=1 finishes its work on SIGTERM. */
const RUN_SH = `#!/bin/sh
echo "$CORRAL_RUN_ID $CORRAL_ATTEMPT" >> "$START_FILE"
if [ "\${TERM_EXIT0:-0}" = 1 ]; then trap 'echo "$CORRAL_RUN_ID" >> "$COUNT_FILE"; exit 0' TERM; fi
sleep "\${SLEEP:-0}" &
# Its work killed is its death: slurmstepd signals a job's processes one at a time, and on a loaded
# machine the shell could otherwise outlive its killed sleep and exit 0.
wait $! || exit $?
echo "$CORRAL_RUN_ID" >> "$COUNT_FILE"
`;

/** One sweep of a case: its project folder and what its runs did. */
class Sweep {
  readonly dir: string;
  /** The sweep folder, once started. */
  sweepDir = "";
  constructor(
    readonly h: Harness,
    readonly shape: Shape,
    opts: { sleepS: number; termExit0?: boolean },
  ) {
    this.dir = makeProject(
      {
        "run.sh": RUN_SH,
        "corral.yaml": `command: sh run.sh\nconfig:\n  i: 0\nenv:\n  START_FILE: starts.txt\n  COUNT_FILE: done.txt\n  SLEEP: "${opts.sleepS}"\n  TERM_EXIT0: "${opts.termExit0 ? 1 : 0}"\n${h.launcherYaml(shape)}`,
      },
      `corral-contract-${h.name}-`,
    );
  }
  overrides = (): string[] => [`i=range(${this.shape.runs})`];
  /** Start through the engine (in this process). */
  async start(detach: boolean): Promise<RunningSweep> {
    const project = await openProject({ cwd: this.dir, allowMissing: false });
    const p = prepareSweep({ project, overrides: this.overrides(), multirun: true, env: process.env, now: new Date() });
    const s = await startSweep(p, planAll(p), quiet, { ...(detach ? { detach: true } : {}), pollMs: 100, maxPollMs: 500 });
    started.push(s.manifest.dir);
    this.sweepDir = s.manifest.dir;
    return s;
  }
  /** Start detached through the CLI (a separate `corral` process that exits). */
  startCli(): void {
    const r = corral(["run", "-m", ...this.overrides(), "--detach"], { cwd: this.dir, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    this.sweepDir = r.stdout.trim();
    started.push(this.sweepDir);
  }
  manifest = (): SweepManifest => readManifest(this.sweepDir);
  /** Run ids in index order. */
  ids = (): string[] => this.manifest().runs.map((r) => r.id);
  starts = (): string[] => lines(path.join(this.dir, "starts.txt")).map((l) => l.split(" ")[0]!);
  completions = (): string[] => lines(path.join(this.dir, "done.txt"));
  status = (i: number): RunStatusRecord | undefined => readRunStatus(path.join(this.sweepDir, String(i)));
  /** How often each run did something, in index order. */
  perRun = (xs: string[]): number[] => this.ids().map((id) => xs.filter((x) => x === id).length);
  running = (): number => this.ids().filter((_, i) => this.status(i)?.state === "running").length;
  /** The state a reader derives (status file + the launcher's word), as `corral status` does. */
  async derived(): Promise<string[]> {
    const m = this.manifest();
    const facts = await this.h.launcher().explain(m);
    return m.runs.map((r) => deriveStatus(readRunStatus(path.join(m.dir, r.dir)), Date.now(), facts.get(r.index) ?? {}));
  }
  async waitInactive(): Promise<void> {
    const l = this.h.launcher();
    const t0 = Date.now();
    while (await l.active(this.manifest())) {
      if (Date.now() - t0 > this.h.patienceMs) throw new Error(`${this.h.name}: the sweep's jobs still active after ${this.h.patienceMs} ms`);
      await sleep(200);
    }
  }
  waitRunning = (n: number): Promise<void> => waitFor(() => this.running() >= n, this.h.patienceMs, `${n} run(s) recorded running`);
}

/** Sweep folders started by the current case: whatever a failing case leaves is stopped. */
const started: string[] = [];

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Run processes (by their recorded pid) still alive on this machine. */
const liveRuns = (s: Sweep): number[] =>
  s.ids().flatMap((_, i) => {
    const r = s.status(i);
    return r?.pid !== undefined && r.host === hostname() && pidAlive(r.pid) ? [i] : [];
  });

interface Case {
  id: string;
  name: string;
  timeoutMs: number;
  /** Launchers the case does not apply to, and why. */
  na?: Partial<Record<Name, string>>;
  run(h: Harness): Promise<void>;
}

const CASES: Case[] = [
  {
    id: "submit",
    name: "submit: every run of a sweep runs exactly once and succeeds",
    timeoutMs: 60_000,
    async run(h) {
      const s = new Sweep(h, { slots: 2, runs: 4 }, { sleepS: 0.3 });
      const out = await (await s.start(false)).done;
      expect(out.counts.succeeded).toBe(4);
      expect(s.perRun(s.starts())).toEqual([1, 1, 1, 1]);
      expect(s.perRun(s.completions())).toEqual([1, 1, 1, 1]);
      for (let i = 0; i < 4; i++) expect(s.status(i)).toMatchObject({ state: "succeeded", attempt: 1 });
    },
  },
  {
    id: "explain",
    name: "explain and active: alive while queued or running, nothing alive after the end",
    timeoutMs: 90_000,
    async run(h) {
      const s = new Sweep(h, { slots: 1, queued: true, runs: 3 }, { sleepS: 1 });
      await (await s.start(true)).done;
      const l = h.launcher();
      const alive = (f: { workerAlive?: boolean; scheduler?: string } | undefined): boolean => f?.workerAlive === true || f?.scheduler === "pending" || f?.scheduler === "running";
      expect(await l.active(s.manifest())).toBe(true);
      const early = await l.explain(s.manifest());
      expect([0, 1, 2].map((i) => alive(early.get(i)))).toEqual([true, true, true]);
      await s.waitRunning(1);
      const mid = await l.explain(s.manifest());
      expect([0, 1, 2].map((i) => alive(mid.get(i)))).toEqual([true, true, true]);
      expect(await s.derived()).toContain("running");
      await s.waitInactive();
      const after = await l.explain(s.manifest());
      expect([0, 1, 2].some((i) => alive(after.get(i)))).toBe(false);
      expect(await l.active(s.manifest())).toBe(false);
      expect(s.perRun(s.completions())).toEqual([1, 1, 1]);
      expect(await s.derived()).toEqual(["succeeded", "succeeded", "succeeded"]);
    },
  },
  {
    id: "cancel-running",
    name: "cancel of running work: runs are stopped, recorded cancelled, nothing runs afterwards",
    timeoutMs: 90_000,
    async run(h) {
      const s = new Sweep(h, { slots: 2, runs: 2 }, { sleepS: 30 });
      await (await s.start(true)).done;
      await s.waitRunning(2);
      await h.launcher().cancel(s.manifest(), false);
      await s.waitInactive();
      await waitFor(() => [0, 1].every((i) => s.status(i)?.state !== "running"), h.patienceMs, "final records");
      expect([0, 1].map((i) => s.status(i)?.state)).toEqual(["cancelled", "cancelled"]);
      if (h.processes) expect(liveRuns(s)).toEqual([]);
      await sleep(1500);
      expect(s.perRun(s.starts())).toEqual([1, 1]);
      expect(s.completions()).toEqual([]);
      expect(await s.derived()).toEqual(["cancelled", "cancelled"]);
    },
  },
  {
    id: "cancel-queued",
    name: "cancel of queued work: no run starts after cancel returned",
    timeoutMs: 90_000,
    async run(h) {
      const s = new Sweep(h, { slots: 1, queued: true, runs: 3 }, { sleepS: 3 });
      await (await s.start(true)).done;
      await s.waitRunning(1);
      const t0 = Date.now();
      await h.launcher().cancel(s.manifest(), false);
      const atCancel = s.starts().length;
      console.log(`[contract ${h.name}] cancel of queued work took ${Date.now() - t0} ms; ${atCancel} run(s) had started when it returned`);
      await s.waitInactive();
      await sleep(3000);
      expect(s.starts().length, `runs started after cancel returned (${atCancel} had started before)`).toBe(atCancel);
      expect(s.completions()).toEqual([]);
      const states = await s.derived();
      expect(states.filter((x) => x === "succeeded" || x === "running" || x === "pending")).toEqual([]);
    },
  },
  {
    id: "recover",
    name: "recover after a crash between submit and record: resume adopts the job, nothing runs twice",
    timeoutMs: 90_000,
    async run(h) {
      const s = new Sweep(h, { slots: 1, queued: true, runs: 3 }, { sleepS: 1 });
      await (await s.start(true)).done;
      await s.waitRunning(1);
      // As if `corral run` died after the submission, before recording it in the manifest.
      const m = s.manifest();
      const dropped = m.jobs.map((j) => j.jobId);
      writeManifest({ ...m, jobs: [] });
      const l = h.launcher();
      if (l.recover) {
        const got = await l.recover(s.manifest());
        expect(got.map((j) => j.jobId).sort()).toEqual([...dropped].sort());
        expect(got.flatMap((j) => j.batches.flatMap((b) => b.runs)).sort()).toEqual([0, 1, 2]);
      }
      const r = await resumeSweep({ sweepDir: s.sweepDir, retryFailed: false }, quiet, { pollMs: 100, maxPollMs: 500 });
      const out = await r.done;
      await s.waitInactive();
      expect(out.counts.succeeded).toBe(3);
      expect(s.perRun(s.starts())).toEqual([1, 1, 1]);
      expect(s.perRun(s.completions())).toEqual([1, 1, 1]);
    },
  },
  {
    id: "resume-adopts",
    name: "resume adopts a detached sweep's running runs: nothing runs twice, all succeed",
    timeoutMs: 90_000,
    async run(h) {
      // Long enough that the resume finds them still running on a loaded machine (it starts a CLI).
      const s = new Sweep(h, { slots: 2, runs: 2 }, { sleepS: 8 });
      if (h.cli) s.startCli();
      else await (await s.start(true)).done;
      await s.waitRunning(2);
      if (h.cli) {
        const r = corral(["resume"], { cwd: s.dir, timeoutMs: h.patienceMs + 30_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain("0 already succeeded, 2 still queued or running (adopted), 0 resubmitted");
      } else {
        const r = await resumeSweep({ sweepDir: s.sweepDir, retryFailed: false }, quiet, { pollMs: 100 });
        expect(await r.submitted).toEqual({ found: { succeeded: 0, adopted: 2, failed: 0, unknown: 0 }, resubmitted: 0 });
        expect((await r.done).counts.succeeded).toBe(2);
      }
      expect(s.perRun(s.starts())).toEqual([1, 1]);
      expect(s.perRun(s.completions())).toEqual([1, 1]);
      for (const i of [0, 1]) expect(s.status(i)).toMatchObject({ state: "succeeded", attempt: 1 });
    },
  },
  {
    id: "worker-killed",
    name: "a worker killed with SIGKILL: its runs end lost, a resume completes them, each completes exactly once",
    timeoutMs: 90_000,
    run: (h) => killedCase(h, "worker"),
  },
  {
    id: "job-killed",
    name: "a job killed with its runs (scheduler kill, node loss): runs end lost or preempted, a resume completes each exactly once",
    timeoutMs: 90_000,
    run: (h) => killedCase(h, "job"),
  },
  {
    id: "exit0-after-term",
    name: "a run that exits 0 after a SIGTERM corral did not send is succeeded, not resubmitted",
    timeoutMs: 90_000,
    async run(h) {
      const s = new Sweep(h, { slots: 2, runs: 2 }, { sleepS: 30, termExit0: true });
      const run = await s.start(false);
      await s.waitRunning(2);
      await h.externalTerm(s.manifest());
      const out = await run.done;
      expect(out.counts.succeeded).toBe(2);
      for (const i of [0, 1]) expect(s.status(i)).toMatchObject({ state: "succeeded", attempt: 1 });
      expect(s.perRun(s.starts())).toEqual([1, 1]);
      expect(s.perRun(s.completions())).toEqual([1, 1]);
      expect(s.manifest().jobs).toHaveLength(1);
    },
  },
];

/**
 * Kill a sweep's worker (`worker`: the worker process alone, as kill -9 would) or its whole job
 * (`job`: worker and runs) while runs run; the runs must end lost (or preempted), and a resume
 * must complete each exactly once, counting what ran, including anything the kill left behind.
 */
async function killedCase(h: Harness, what: "worker" | "job"): Promise<void> {
  const s = new Sweep(h, { slots: 2, runs: 2 }, { sleepS: 3 });
  await (await s.start(true)).done;
  await s.waitRunning(2);
  await (what === "worker" ? h.killWorker : h.killJob)(s.manifest());
  await s.waitInactive();
  const states = await s.derived();
  const orphans = h.processes ? liveRuns(s) : [];
  // Their pids, before the resumed attempts overwrite the records.
  const firstPids = orphans.map((i) => s.status(i)!.pid!);
  console.log(`[contract ${h.name}] ${what} killed: states ${states.join(",")}; run processes still alive: [${orphans.join(",")}]`);
  for (const st of states) expect(what === "worker" ? ["lost"] : ["lost", "preempted"]).toContain(st);
  const out = await (await resumeSweep({ sweepDir: s.sweepDir, retryFailed: false }, quiet, { pollMs: 100, maxPollMs: 500 })).done;
  expect(out.counts.succeeded).toBe(2);
  // Let any run the kill left behind finish before counting.
  await waitFor(() => liveRuns(s).length === 0 && firstPids.every((pid) => !pidAlive(pid)), 10_000, "run processes to end");
  console.log(`[contract ${h.name}] ${what} killed, after resume: completions per run ${s.perRun(s.completions()).join(",")}; starts ${s.perRun(s.starts()).join(",")}`);
  expect(s.perRun(s.completions())).toEqual([1, 1]);
}

/** Known bugs: (case, launcher) pairs expected to fail until their fix lands. */
const KNOWN: Record<string, Partial<Record<Name, string>>> = {
};

describe.each(HARNESSES)("launcher contract: $name", (h) => {
  if (h.skip) console.warn(`SKIPPED launcher contract for ${h.name}: ${h.skip}`);

  afterEach(async () => {
    override.current = undefined;
    // Whatever a failed case left running is stopped, so it cannot disturb the next one.
    for (const dir of started.splice(0)) {
      try {
        const m = readManifest(dir);
        await h.launcher().cancel(m, true);
        for (const r of m.runs) {
          const pid = readRunStatus(path.join(dir, r.dir))?.pid;
          if (h.processes && pid !== undefined) signal(-pid, "SIGKILL");
        }
      } catch {
        /* nothing recorded */
      }
    }
  });

  for (const c of CASES) {
    const na = c.na?.[h.name];
    const known = KNOWN[c.id]?.[h.name];
    const title = `${c.name}${na ? ` (n.a.: ${na})` : ""}${known ? ` (${known})` : ""}`;
    const body = async (): Promise<void> => {
      if (h.name === "fake") override.current = fake;
      await c.run(h);
    };
    if (h.skip || na) it.skip(title, body);
    else if (known) it.fails(title, body, c.timeoutMs);
    else it(title, body, c.timeoutMs);
  }
});
