/**
 * Starting runs cheaply. `child_process.spawn` forks the whole worker (a ~50 MB Node process:
 * page tables copied, the event loop blocked until the child execs): about 1.7 ms of the
 * worker's single thread per run, most of a run's overhead for tiny runs (issue 10, point 6).
 * This helper is one small Python process, started once per batch, that starts each run with
 * `posix_spawn` (vfork-style: nothing copied), in its own session (setsid, so the worker can
 * signal its whole group), with its logs as its stdout and stderr and its CPU affinity inherited
 * from the helper's thread (no `taskset` exec per pinned run). Exits come back with the exact
 * exit code or signal, after the helper wrote them to the run's exit file.
 *
 * Slots: the worker may hand over its next runs while every slot is busy ("queued"); the helper
 * starts one the moment a run ends, before it writes that run's exit, and opens a queued run's
 * logs as it is queued. Refilling a slot then costs no round trip through the worker (for tiny
 * runs that round trip, two process wake-ups, was most of a run's overhead). A queued run that
 * has not started is withdrawn on request (the worker is stopping) and never starts once the
 * sweep's cancel marker exists.
 *
 * When the worker dies (stdin closes without the goodbye line) the helper starts nothing more and
 * stops every run it started, so no run outlives its worker. Where no usable `python3` (>= 3.8) is
 * found, or the helper dies, runs start through `child_process.spawn` as before (then without
 * those two guarantees). The helper runs on the system's python3 where there is one: a shim in
 * front of python3 on PATH (pyenv's) costs a shell and more before the first run can start.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createInterface } from "node:readline";

/**
 * Protocol (JSON lines): worker -> helper: RunRequest | drop | close; helper -> worker: ready |
 * start | exit. argv[1] is the number of slots and argv[2] the cancel marker (see SpawnHelper.start).
 */
const HELPER_PY = String.raw`
import os, sys, json, signal, threading, shutil, errno, time, collections
if sys.version_info < (3, 8) or not hasattr(os, "posix_spawn"):
    sys.exit(3)
out = sys.stdout
lock = threading.Lock()
more = threading.Condition(lock)
pids = {}
exits = {}
orphaned = set()
# Queued requests ("q"): started in order while fewer than "slots" runs live, by the reaper the
# moment a run ends (no round trip through the worker), never once the cancel marker exists.
queue = collections.deque()
slots = int(sys.argv[1]) if len(sys.argv) > 1 else 0
marker = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
# A queued run's logs are opened as it is queued, not when its slot frees (creating files is the
# slowest part of a start on a busy disk); at most this many runs hold open logs at once.
PREOPEN = 64
base = dict(os.environ)
# Runs start with default dispositions and an empty mask, whatever the helper ignores.
sigdef = [getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGXFSZ", "SIGALRM") if hasattr(signal, n)]
# Stop signals are the worker's to act on: the helper keeps reporting exits until stdin closes.
for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"):
    signal.signal(getattr(signal, n), signal.SIG_IGN)
home = os.getcwd()
allcpus = os.sched_getaffinity(0)
W = os.O_WRONLY | os.O_CREAT | os.O_APPEND
devnull = os.open(os.devnull, os.O_RDONLY)
where = {}
cwd = home
def say(m):
    # The worker may be gone (its pipe broken): the helper carries on, so the stdin loop below
    # ends and the runs it started are stopped and their exits recorded, never left unwatched.
    try:
        out.write(json.dumps(m) + "\n")
        out.flush()
    except (OSError, ValueError):
        pass
def logs(r):
    # Open the run's logs for appending (a retried attempt keeps what the first one printed);
    # remember the ones created here, removed again if the run never starts.
    fds = []
    made = []
    try:
        for f in (r["out"], r["err"]):
            try:
                fds.append(os.open(f, W | os.O_EXCL, 0o644))
                made.append(f)
            except FileExistsError:
                fds.append(os.open(f, W, 0o644))
    except OSError:
        unopen(fds, made)
        raise
    r["fds"] = fds
    r["made"] = made
def unopen(fds, made):
    for fd in fds:
        os.close(fd)
    for f in made:
        try:
            os.unlink(f)
        except OSError:
            pass
def start(r):
    # Under the lock (either thread): start one run now and report its pid, or why it did not start.
    global cwd
    env = dict(base)
    env.update(r["env"])
    cmd = r["argv"][0]
    cpus = r.get("cpus")
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
        if "fds" not in r:
            logs(r)
        # Affinity is per thread: the run inherits the starting thread's.
        if cpus:
            os.sched_setaffinity(0, cpus)
        try:
            pid = os.posix_spawn(exe, r["argv"], env, setsid=True, setsigdef=sigdef, setsigmask=[], file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, r["fds"][0], 1),
                (os.POSIX_SPAWN_DUP2, r["fds"][1], 2)])
        finally:
            if cpus:
                os.sched_setaffinity(0, allcpus)
    except OSError as e:
        # Nothing ran: no log files left behind that this attempt created.
        unopen(r.pop("fds", ()), r.pop("made", ()))
        say({"t": "start", "id": r["id"], "pid": None, "error": errno.errorcode.get(e.errno or 0, str(e))})
        return
    unopen(r.pop("fds"), ())
    pids[pid] = r["id"]
    if r.get("exit"):
        exits[r["id"]] = r["exit"]
    more.notify()
    say({"t": "start", "id": r["id"], "pid": pid})
def discard():
    # Under the lock: empty the queue; the list of what was in it.
    gone = list(queue)
    queue.clear()
    for r in gone:
        unopen(r.pop("fds", ()), r.pop("made", ()))
    return gone
def drop():
    # Under the lock: withdraw every queued request; each is reported as never started.
    for r in discard():
        say({"t": "start", "id": r["id"], "pid": None, "dropped": True})
def kick():
    # Under the lock: start queued requests while a slot is free.
    while queue and len(pids) < slots:
        if marker is not None and os.path.exists(marker):
            drop()
            return
        start(queue.popleft())
def reap():
    while True:
        with lock:
            while not pids:
                more.wait()
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            continue
        # When it was reaped (ms, the clock the worker reads): it had ended by then, so a stop the
        # worker asked for later did not end it.
        ended = [(pid, st, int(time.time() * 1000))]
        with lock:
            # Whatever else ended meanwhile too: every free slot is refilled before any exit is written.
            while True:
                try:
                    pid, st = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                ended.append((pid, st, int(time.time() * 1000)))
            ended = [(pid, st, at, pids.pop(pid)) for pid, st, at in ended if pid in pids]
            kick()
            for pid, st, at, i in ended:
                sig = signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st) else None
                code = None if sig else os.WEXITSTATUS(st)
                # The exit is on disk before anyone is told: a worker that dies now loses no outcome.
                f = exits.pop(i, None)
                if f:
                    # One write to a name no one else writes (one per attempt): no temporary file
                    # and rename, which cost a file creation per run. A helper killed mid-write
                    # leaves a record readers cannot parse and take as missing, as a missing one.
                    try:
                        fd = os.open(f, W | os.O_TRUNC, 0o644)
                        try:
                            os.write(fd, (json.dumps({"pid": pid, "code": code, "signal": sig, "orphaned": pid in orphaned, "at": at}) + "\n").encode())
                        finally:
                            os.close(fd)
                    except OSError:
                        pass
                say({"t": "exit", "id": i, "code": code, "signal": sig, "at": at})
threading.Thread(target=reap, daemon=True).start()
say({"t": "ready"})
closing = False
for line in sys.stdin:
    r = json.loads(line)
    t = r.get("t")
    q = t is None and r.get("q") and slots > 0
    # Outside the lock: the reaper may refill a slot meanwhile.
    if q and len(queue) < PREOPEN:
        try:
            logs(r)
        except OSError:
            pass
    with lock:
        if t == "close":
            closing = True
            discard()
        elif t == "drop":
            drop()
        elif q:
            queue.append(r)
            kick()
        else:
            start(r)
# stdin closed without a goodbye: the worker died (any signal, SIGKILL included). Its runs never
# outlive it: nothing queued starts; SIGTERM to every group, a grace period, SIGKILL; each exit
# is recorded as orphaned.
if not closing:
    with lock:
        discard()
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
# Leave without the interpreter's shutdown, which aborts ("could not acquire lock for stdout")
# when it finds the reaper thread in the middle of a report.
with lock:
    try:
        out.flush()
    except (OSError, ValueError):
        pass
    os._exit(0)
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
  /**
   * Start it when one of the helper's slots frees (the helper refills a slot itself the moment a
   * run ends), not at once. Only where the helper has slots (SpawnHelper.queues); else at once.
   */
  queued?: boolean;
}

export interface HelperCallbacks {
  /** The run's pid (its process group id), or a spawn error. */
  started(pid: number | undefined, error?: string): void;
  /** `at`: when the helper reaped it (ms since the epoch): it had ended by then. */
  exited(exit: { code: number | null; signal: NodeJS.Signals | null; at?: number }): void;
  /**
   * The helper died before reporting this run's exit. `maybeStarted` false: it never started
   * (start it another way); true: it may be running, unwatched.
   */
  lost(maybeStarted: boolean): void;
  /** A queued start withdrawn before it began (dropQueued(), or the cancel marker appeared): nothing ran. */
  dropped(): void;
}

/**
 * One helper process for a batch. `run` asks for a start (at once, or queued for the next free
 * slot); callbacks report the pid and the exit, that a queued start was withdrawn, or that the
 * helper was lost (it died, or could never run: then nothing had started).
 */
export class SpawnHelper {
  private child!: ChildProcess;
  private next = 0;
  private readonly waiting = new Map<number, { cb: HelperCallbacks; pid?: number }>();
  private ready = false;
  private dead = false;
  private closed = false;
  /** Lines sent before the helper said ready: handed to the next interpreter if this one cannot run. */
  private early: string[] = [];

  /** The helper's own environment, to which each request's differences are added. */
  private readonly baseEnv: NodeJS.ProcessEnv;

  private constructor(
    private readonly pythons: string[],
    baseEnv: NodeJS.ProcessEnv,
    private readonly slots: number,
    private readonly marker: string | undefined,
  ) {
    this.baseEnv = { ...baseEnv };
    this.launch();
  }

  /** Start the next interpreter; its requests are whatever was sent so far (nothing ran yet). */
  private launch(): void {
    const python = this.pythons.shift()!;
    // -I: no user site, no PYTHON* variables (a run's PYTHONPATH must not break the helper); -S: faster start.
    const child = spawn(python, ["-I", "-S", "-c", HELPER_PY, String(this.slots), this.marker ?? ""], { stdio: ["pipe", "pipe", "inherit"], env: this.baseEnv });
    this.child = child;
    const gone = (): void => {
      if (child === this.child) this.gone();
    };
    child.on("error", gone);
    // "close", not "exit": every line it wrote has been read by then, so a run it reported
    // started is known as such (a helper that said ready and died is never replaced).
    child.on("close", gone);
    // A write to a helper that died fails here; its "close" says what to do.
    child.stdin!.on("error", () => undefined);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (child === this.child) this.onLine(line);
    });
    for (const line of this.early) child.stdin!.write(line);
    if (this.closed) child.stdin!.end();
  }

  /**
   * Interpreters tried in turn until one says ready: the system's own python3 first (a shim in
   * front of python3 on PATH, such as pyenv's, costs a shell and more on every start, a good part
   * of a second on a busy machine), then python3 on PATH.
   */
  static pythons(): string[] {
    const system = "/usr/bin/python3";
    let usable = false;
    try {
      accessSync(system, constants.X_OK);
      usable = true;
    } catch {
      /* none there */
    }
    return usable ? [system, "python3"] : ["python3"];
  }

  /**
   * A helper, or undefined where none can run. `python`: the interpreter, or interpreters tried in
   * turn (default: pythons()). With `queue.slots` > 0 it takes queued starts and keeps at most that many of its
   * runs alive; with `queue.marker` it starts no queued run once that file exists (the sweep's
   * cancel marker).
   */
  static start(baseEnv: NodeJS.ProcessEnv, python?: string | string[], queue: { slots: number; marker?: string | undefined } = { slots: 0 }): SpawnHelper | undefined {
    // CORRAL_SPAWN_HELPER=0: always child_process.spawn (debugging, or a site whose python3 misbehaves).
    if (baseEnv.CORRAL_SPAWN_HELPER === "0") return undefined;
    try {
      return new SpawnHelper(python === undefined ? SpawnHelper.pythons() : typeof python === "string" ? [python] : [...python], baseEnv, Math.max(0, Math.floor(queue.slots)), queue.marker);
    } catch {
      return undefined;
    }
  }

  get usable(): boolean {
    return !this.dead;
  }

  /**
   * Queued starts are taken now: the helper runs (it said ready) and has slots. Not before it is
   * ready: a helper that never starts hands its requests to child_process.spawn, which knows no slots.
   */
  get queues(): boolean {
    return this.slots > 0 && this.ready && !this.dead && !this.closed;
  }

  run(req: HelperRun, cb: HelperCallbacks): void {
    if (this.dead || this.closed) return cb.lost(false);
    const id = this.next++;
    this.waiting.set(id, { cb });
    // Only what differs from the helper's own environment (the batch's base): the helper adds it
    // to that base, and a request stays a few hundred bytes instead of the whole environment.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.env)) if (v !== undefined && this.baseEnv[k] !== v) env[k] = v;
    const msg = { id, argv: req.argv, cwd: req.cwd, env, out: req.stdoutFile, err: req.stderrFile, ...(req.cpus?.length ? { cpus: req.cpus } : {}), ...(req.exitFile ? { exit: req.exitFile } : {}), ...(req.queued && this.slots > 0 ? { q: 1 } : {}) };
    this.send(JSON.stringify(msg) + "\n");
  }

  private send(line: string): void {
    if (!this.ready) this.early.push(line);
    this.child.stdin!.write(line);
  }

  /**
   * Withdraw every queued start that has not begun: each is reported `dropped`. One that began
   * before the helper read this is reported started as usual (its start comes first).
   */
  dropQueued(): void {
    if (this.dead || this.closed || this.slots === 0) return;
    this.send(JSON.stringify({ t: "drop" }) + "\n");
  }

  /**
   * No more runs: the helper exits once stdin closes, and the worker reaps it before it exits.
   * The goodbye line tells a normal end from the worker's death (stdin closed without it), after
   * which the helper stops every run it started.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.dead) this.send(JSON.stringify({ t: "close" }) + "\n");
    this.child.stdin!.end();
  }

  private onLine(line: string): void {
    let m: { t: string; id?: number; pid?: number | null; error?: string; dropped?: boolean; code?: number | null; signal?: NodeJS.Signals | null; at?: number };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (m.t === "ready") {
      this.ready = true;
      this.early = [];
      return;
    }
    const w = m.id === undefined ? undefined : this.waiting.get(m.id);
    if (!w) return;
    if (m.t === "start") {
      if (m.pid === null || m.pid === undefined) {
        this.waiting.delete(m.id!);
        if (m.dropped) w.cb.dropped();
        else w.cb.started(undefined, m.error ?? "spawn failed");
      } else {
        w.pid = m.pid;
        w.cb.started(m.pid);
      }
    } else if (m.t === "exit") {
      this.waiting.delete(m.id!);
      w.cb.exited({ code: m.code ?? null, signal: m.signal ?? null, ...(typeof m.at === "number" ? { at: m.at } : {}) });
    }
  }

  /** The helper process ended or could not start. Before it said ready it started nothing: the next interpreter, if any, takes over. */
  private gone(): void {
    if (!this.ready && !this.dead && this.pythons.length > 0) this.launch();
    else this.lose();
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
