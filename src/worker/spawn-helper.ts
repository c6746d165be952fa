/**
 * Starting runs cheaply. `child_process.spawn` forks the whole worker (a ~50 MB Node process:
 * page tables copied, the event loop blocked until the child execs): about 1.7 ms of the
 * worker's single thread per run, most of a run's overhead for tiny runs (issue 10, point 6).
 * This helper is one small Python process, started once per batch, that starts each run with
 * `posix_spawn` (vfork-style: nothing copied), in its own session (setsid, so the worker can
 * signal its whole group), with its logs opened by file actions and its CPU affinity inherited
 * from the helper's thread (no `taskset` exec per pinned run). Exits come back with the exact
 * exit code or signal, after the helper wrote them to the run's exit file. When the worker dies
 * (stdin closes without the goodbye line) the helper stops every run it started, so no run
 * outlives its worker. Where no usable `python3` (>= 3.8) is found, or the helper dies, runs
 * start through `child_process.spawn` as before (then without those two guarantees).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** Protocol (JSON lines): worker -> helper: RunRequest; helper -> worker: ready | start | exit. */
const HELPER_PY = String.raw`
import os, sys, json, signal, threading, shutil, errno, time
if sys.version_info < (3, 8) or not hasattr(os, "posix_spawn"):
    sys.exit(3)
out = sys.stdout
lock = threading.Lock()
more = threading.Condition(lock)
pids = {}
exits = {}
orphaned = set()
base = dict(os.environ)
# Runs start with default dispositions and an empty mask, whatever the helper ignores.
sigdef = [getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGXFSZ", "SIGALRM") if hasattr(signal, n)]
# Stop signals are the worker's to act on: the helper keeps reporting exits until stdin closes.
for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"):
    signal.signal(getattr(signal, n), signal.SIG_IGN)
home = os.getcwd()
allcpus = os.sched_getaffinity(0)
W = os.O_WRONLY | os.O_CREAT | os.O_APPEND
def say(m):
    out.write(json.dumps(m) + "\n")
    out.flush()
def reap():
    while True:
        with lock:
            while not pids:
                more.wait()
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            continue
        with lock:
            i = pids.pop(pid, None)
            if i is None:
                continue
            sig = signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st) else None
            code = None if sig else os.WEXITSTATUS(st)
            # The exit is on disk before anyone is told: a worker that dies now loses no outcome.
            f = exits.pop(i, None)
            if f:
                try:
                    t = f + ".tmp." + str(os.getpid())
                    with open(t, "w") as h:
                        h.write(json.dumps({"pid": pid, "code": code, "signal": sig, "orphaned": pid in orphaned, "at": int(time.time() * 1000)}) + "\n")
                    os.replace(t, f)
                except OSError:
                    pass
            try:
                say({"t": "exit", "id": i, "code": code, "signal": sig})
            except (OSError, ValueError):
                pass
threading.Thread(target=reap, daemon=True).start()
say({"t": "ready"})
where = {}
cwd = home
closing = False
for line in sys.stdin:
    r = json.loads(line)
    if r.get("t") == "close":
        closing = True
        continue
    env = dict(base)
    env.update(r["env"])
    cmd = r["argv"][0]
    cpus = r.get("cpus")
    with lock:
        try:
            if r["cwd"] != cwd:
                os.chdir(r["cwd"])
                cwd = r["cwd"]
            # As execvp in the run's environment: PATH from the run's env (looked up once per PATH).
            if "/" in cmd:
                exe = cmd
            else:
                key = (cmd, env.get("PATH", os.defpath))
                exe = where.get(key)
                if exe is None or not os.access(exe, os.X_OK):
                    exe = where[key] = shutil.which(cmd, path=key[1])
            if exe is None:
                raise FileNotFoundError(errno.ENOENT, cmd)
            if cpus:
                os.sched_setaffinity(0, cpus)
            try:
                pid = os.posix_spawn(exe, r["argv"], env, setsid=True, setsigdef=sigdef, setsigmask=[], file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, r["out"], W, 0o644),
                    (os.POSIX_SPAWN_OPEN, 2, r["err"], W, 0o644)])
            finally:
                if cpus:
                    os.sched_setaffinity(0, allcpus)
            pids[pid] = r["id"]
            if r.get("exit"):
                exits[r["id"]] = r["exit"]
            more.notify()
            say({"t": "start", "id": r["id"], "pid": pid})
        except OSError as e:
            say({"t": "start", "id": r["id"], "pid": None, "error": errno.errorcode.get(e.errno or 0, str(e))})
# stdin closed without a goodbye: the worker died (any signal, SIGKILL included). Its runs never
# outlive it: SIGTERM to every group, a grace period, SIGKILL; each exit is recorded as orphaned.
if not closing:
    with lock:
        groups = list(pids.keys())
        orphaned.update(groups)
    for g in groups:
        try:
            os.killpg(g, signal.SIGTERM)
        except OSError:
            pass
    end = time.time() + float(os.environ.get("CORRAL_ORPHAN_GRACE_S", "3"))
    while pids and time.time() < end:
        time.sleep(0.05)
    with lock:
        left = list(pids.keys())
    for g in left:
        try:
            os.killpg(g, signal.SIGKILL)
        except OSError:
            pass
    end = time.time() + 10
    while pids and time.time() < end:
        time.sleep(0.05)
`;

export interface HelperRun {
  argv: string[];
  cwd: string;
  /** Added to the helper's environment (the batch's base environment). */
  env: NodeJS.ProcessEnv;
  stdoutFile: string;
  stderrFile: string;
  /** Pin the run to these CPUs (inherited affinity; no taskset). */
  cpus?: number[];
  /** Where the helper records the run's exit (code, signal, orphaned) before reporting it. */
  exitFile?: string;
}

export interface HelperCallbacks {
  /** The run's pid (its process group id), or a spawn error. */
  started(pid: number | undefined, error?: string): void;
  exited(exit: { code: number | null; signal: NodeJS.Signals | null }): void;
  /**
   * The helper died before reporting this run's exit. `maybeStarted` false: it never started
   * (start it another way); true: it may be running, unwatched.
   */
  lost(maybeStarted: boolean): void;
}

/**
 * One helper process for a batch. `run` queues a start; callbacks report the pid and the exit,
 * or that the helper was lost (it died, or could never run: then nothing had started).
 */
export class SpawnHelper {
  private readonly child: ChildProcess;
  private next = 0;
  private readonly waiting = new Map<number, { cb: HelperCallbacks; pid?: number }>();
  private ready = false;
  private dead = false;
  private closed = false;
  /** The helper's own environment, to which each request's differences are added. */
  private readonly baseEnv: NodeJS.ProcessEnv;

  private constructor(python: string, baseEnv: NodeJS.ProcessEnv) {
    this.baseEnv = { ...baseEnv };
    // -I: no user site, no PYTHON* variables (a run's PYTHONPATH must not break the helper); -S: faster start.
    this.child = spawn(python, ["-I", "-S", "-c", HELPER_PY], { stdio: ["pipe", "pipe", "inherit"], env: this.baseEnv });
    this.child.on("error", () => this.lose());
    this.child.on("exit", () => this.lose());
    this.child.stdin!.on("error", () => this.lose());
    const rl = createInterface({ input: this.child.stdout! });
    rl.on("line", (line) => this.onLine(line));
  }

  /** A helper, or undefined where none can run (no python3 on PATH: checked once, cheaply). */
  static start(baseEnv: NodeJS.ProcessEnv, python = "python3"): SpawnHelper | undefined {
    // CORRAL_SPAWN_HELPER=0: always child_process.spawn (debugging, or a site whose python3 misbehaves).
    if (baseEnv.CORRAL_SPAWN_HELPER === "0") return undefined;
    try {
      return new SpawnHelper(python, baseEnv);
    } catch {
      return undefined;
    }
  }

  get usable(): boolean {
    return !this.dead;
  }

  run(req: HelperRun, cb: HelperCallbacks): void {
    if (this.dead || this.closed) return cb.lost(false);
    const id = this.next++;
    this.waiting.set(id, { cb });
    // Only what differs from the helper's own environment (the batch's base): the helper adds it
    // to that base, and a request stays a few hundred bytes instead of the whole environment.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.env)) if (v !== undefined && this.baseEnv[k] !== v) env[k] = v;
    const msg = { id, argv: req.argv, cwd: req.cwd, env, out: req.stdoutFile, err: req.stderrFile, ...(req.cpus?.length ? { cpus: req.cpus } : {}), ...(req.exitFile ? { exit: req.exitFile } : {}) };
    this.child.stdin!.write(JSON.stringify(msg) + "\n");
  }

  /**
   * No more runs: the helper exits once stdin closes, and the worker reaps it before it exits.
   * The goodbye line tells a normal end from the worker's death (stdin closed without it), after
   * which the helper stops every run it started.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.dead) this.child.stdin!.write(JSON.stringify({ t: "close" }) + "\n");
    this.child.stdin!.end();
  }

  private onLine(line: string): void {
    let m: { t: string; id?: number; pid?: number | null; error?: string; code?: number | null; signal?: NodeJS.Signals | null };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (m.t === "ready") {
      this.ready = true;
      return;
    }
    const w = m.id === undefined ? undefined : this.waiting.get(m.id);
    if (!w) return;
    if (m.t === "start") {
      if (m.pid === null || m.pid === undefined) {
        this.waiting.delete(m.id!);
        w.cb.started(undefined, m.error ?? "spawn failed");
      } else {
        w.pid = m.pid;
        w.cb.started(m.pid);
      }
    } else if (m.t === "exit") {
      this.waiting.delete(m.id!);
      w.cb.exited({ code: m.code ?? null, signal: m.signal ?? null });
    }
  }

  /** The helper is gone: hand back every run it can no longer report. */
  private lose(): void {
    if (this.dead) return;
    this.dead = true;
    const left = [...this.waiting.values()];
    this.waiting.clear();
    // Before `ready` the helper started nothing; after it, a run without a reply may have started.
    for (const w of left) w.cb.lost(w.pid !== undefined || this.ready);
  }
}
