/**
 * The flow head's scheduler: a small synchronous state machine (no processes, no clock, no
 * disk), as STYLE.md #3 asks. The head tells it what finished; it answers which jobs to start
 * now, grouped into batches of jobs with the same resources, within the budget (`-j`, CPUs,
 * GPUs, memory). Steps: collect ready jobs (all deps succeeded), order them (priority, then
 * index), claim resources for each that fits, group the claimed ones by batch key.
 */

/** What one job asks for. */
export interface JobNeed {
  /** CPU cores (a share: the local budget is `-j` cores). @default 1 */
  cpus: number;
  /** GPUs: a fraction below 1 shares one device, k >= 1 takes k whole devices. */
  gpus: number;
  /** Megabytes. */
  memMB: number;
}

/** One job as the scheduler sees it. */
export interface SchedJob {
  /** Indexes of the jobs (in this scheduler) it needs. */
  deps: number[];
  need: JobNeed;
  priority: number;
  /** Jobs with equal keys that are ready together go into one batch (one submit, one array). */
  batchKey: string;
}

/** What the machine (or the scheduler, for SLURM) offers at once. */
export interface Budget {
  /** Jobs at once. */
  jobs: number;
  cpus: number;
  /** Device ids handed out one job at a time; empty: GPUs are not tracked (SLURM) or absent. */
  gpuIds: string[];
  /** Track GPUs (local) or leave them to the scheduler (SLURM). */
  trackGpus: boolean;
  memMB: number;
}

/** Where a job stands. */
export type JobPhase = "waiting" | "running" | "succeeded" | "failed" | "cancelled";

/** A job the scheduler says to start now, with the devices it claimed. */
export interface Start {
  index: number;
  gpuIds: string[];
}

/** Jobs to submit together. */
export interface StartBatch {
  key: string;
  jobs: Start[];
}

/** A job that will not run because another failed (or the flow stops). */
export interface Cancelled {
  index: number;
  /** Index of the failed job that caused it, if any. */
  because?: number;
}

const EPS = 1e-9;

/** See the module comment. */
export class FlowScheduler {
  readonly phase: JobPhase[];
  private readonly missingDeps: number[];
  private readonly dependents: number[][];
  private readonly ready = new Set<number>();
  private readonly claimed = new Map<number, { need: JobNeed; gpuIds: string[]; share: number }>();
  private readonly gpuFree: Map<string, number>;
  private used = { jobs: 0, cpus: 0, memMB: 0 };
  private stopped = false;

  /**
   * @param done indexes already succeeded (resume) or to treat as failed (`failed`), whose
   *   dependents are then cancelled at once (see {@link initialCancels}).
   */
  constructor(
    private readonly jobs: SchedJob[],
    private readonly budget: Budget,
    private readonly keepGoing: boolean,
    done: { succeeded?: Iterable<number>; failed?: Iterable<number>; running?: Iterable<number> } = {},
  ) {
    const n = jobs.length;
    this.phase = new Array<JobPhase>(n).fill("waiting");
    this.missingDeps = new Array<number>(n).fill(0);
    this.dependents = Array.from({ length: n }, () => []);
    this.gpuFree = new Map(budget.gpuIds.map((g) => [g, 1]));
    jobs.forEach((j, i) => {
      for (const d of j.deps) this.dependents[d]!.push(i);
      this.missingDeps[i] = j.deps.length;
    });
    for (const i of done.succeeded ?? []) this.phase[i] = "succeeded";
    for (const i of done.failed ?? []) this.phase[i] = "failed";
    for (const i of done.running ?? []) {
      // Adopted (already submitted by an earlier head): it counts against the budget.
      this.phase[i] = "running";
      this.claim(i, [], 0);
    }
    for (let i = 0; i < n; i++) {
      if (this.phase[i] !== "waiting") continue;
      let missing = 0;
      for (const d of jobs[i]!.deps) if (this.phase[d] !== "succeeded") missing++;
      this.missingDeps[i] = missing;
      if (missing === 0) this.ready.add(i);
    }
  }

  /**
   * A job made after the start (a study's next trial): its deps must be known jobs. Returns its
   * index. Ready at once when its deps succeeded; nothing is added once stopped.
   */
  add(job: SchedJob): number {
    const i = this.jobs.length;
    this.jobs.push(job);
    this.phase.push(this.stopped ? "cancelled" : "waiting");
    this.dependents.push([]);
    let missing = 0;
    for (const d of job.deps) {
      this.dependents[d]!.push(i);
      if (this.phase[d] !== "succeeded") missing++;
    }
    this.missingDeps.push(missing);
    if (missing === 0 && !this.stopped) this.ready.add(i);
    return i;
  }

  /**
   * A job made and started by someone else after the start (a trial a study's worker drew): it
   * runs already, and counts against the budget like an adopted one. Returns its index.
   */
  addRunning(job: SchedJob): number {
    const i = this.jobs.length;
    this.jobs.push(job);
    this.phase.push("running");
    this.dependents.push([]);
    this.missingDeps.push(0);
    this.claim(i, [], 0);
    return i;
  }

  /** Jobs ready to start but not started (waiting for room in the budget). */
  get readyCount(): number {
    return this.ready.size;
  }

  /** Jobs cancelled because of failures given to the constructor (call once, first). */
  initialCancels(): Cancelled[] {
    const out: Cancelled[] = [];
    this.phase.forEach((p, i) => {
      if (p === "failed") out.push(...this.cancelDependents(i));
    });
    // Earlier failures only block what needs them: -k is about failures of this head.
    return out;
  }

  /** Clamp a need to what the budget can ever give, so a big job runs alone instead of never. */
  private fit(need: JobNeed): JobNeed {
    return {
      cpus: Math.min(need.cpus, this.budget.cpus),
      gpus: this.budget.trackGpus ? Math.min(need.gpus, this.budget.gpuIds.length) : need.gpus,
      memMB: Math.min(need.memMB, this.budget.memMB),
    };
  }

  private tryGpus(gpus: number): { ids: string[]; share: number } | undefined {
    if (!this.budget.trackGpus || gpus <= EPS) return { ids: [], share: 0 };
    if (gpus < 1 - EPS) {
      let best: string | undefined;
      let bestFree = Infinity;
      for (const [g, f] of this.gpuFree) {
        if (f + EPS >= gpus && f < bestFree) {
          best = g;
          bestFree = f;
        }
      }
      return best === undefined ? undefined : { ids: [best], share: gpus };
    }
    const k = Math.round(gpus);
    const free = [...this.gpuFree].filter(([, f]) => f >= 1 - EPS).map(([g]) => g);
    return free.length < k ? undefined : { ids: free.slice(0, k), share: 1 };
  }

  private claim(i: number, gpuIds: string[], share: number): void {
    const need = this.fit(this.jobs[i]!.need);
    this.used.jobs++;
    this.used.cpus += need.cpus;
    this.used.memMB += need.memMB;
    for (const g of gpuIds) this.gpuFree.set(g, this.gpuFree.get(g)! - share);
    this.claimed.set(i, { need, gpuIds, share });
  }

  private release(i: number): void {
    const c = this.claimed.get(i);
    if (c === undefined) return;
    this.claimed.delete(i);
    this.used.jobs--;
    this.used.cpus -= c.need.cpus;
    this.used.memMB -= c.need.memMB;
    for (const g of c.gpuIds) this.gpuFree.set(g, Math.min(1, this.gpuFree.get(g)! + c.share));
  }

  /** Claim and return the jobs to start now, grouped by batch key. */
  next(): StartBatch[] {
    if (this.stopped || this.ready.size === 0) return [];
    const order = [...this.ready].sort((a, b) => this.jobs[b]!.priority - this.jobs[a]!.priority || a - b);
    const groups = new Map<string, Start[]>();
    for (const i of order) {
      if (this.used.jobs >= this.budget.jobs) break;
      const need = this.fit(this.jobs[i]!.need);
      if (this.used.cpus + need.cpus > this.budget.cpus + EPS) continue;
      if (this.used.memMB + need.memMB > this.budget.memMB + EPS) continue;
      const g = this.tryGpus(need.gpus);
      if (g === undefined) continue;
      this.claim(i, g.ids, g.share);
      this.ready.delete(i);
      this.phase[i] = "running";
      const key = this.jobs[i]!.batchKey;
      let list = groups.get(key);
      if (list === undefined) groups.set(key, (list = []));
      list.push({ index: i, gpuIds: g.ids });
    }
    return [...groups].map(([key, jobs]) => ({ key, jobs }));
  }

  /** A running job succeeded: its dependents may become ready. */
  succeeded(i: number): void {
    this.release(i);
    this.phase[i] = "succeeded";
    for (const d of this.dependents[i]!) {
      if (this.phase[d] !== "waiting") continue;
      this.missingDeps[d]!--;
      if (this.missingDeps[d] === 0) this.ready.add(d);
    }
  }

  /** A running job will be tried again: back to the ready set. */
  retry(i: number): void {
    this.release(i);
    this.phase[i] = "waiting";
    this.ready.add(i);
  }

  /**
   * A running job failed for good. Its dependents (transitively) are cancelled; without
   * keep-going every job not yet started is cancelled too.
   */
  failed(i: number): Cancelled[] {
    this.release(i);
    this.phase[i] = "failed";
    const out = this.cancelDependents(i);
    if (!this.keepGoing) out.push(...this.stop());
    return out;
  }

  private cancelDependents(i: number): Cancelled[] {
    const out: Cancelled[] = [];
    const stack = [...this.dependents[i]!];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (this.phase[d] !== "waiting") continue;
      this.phase[d] = "cancelled";
      this.ready.delete(d);
      out.push({ index: d, because: i });
      stack.push(...this.dependents[d]!);
    }
    return out;
  }

  /** Start nothing more; every job not yet started is cancelled (returned). */
  stop(): Cancelled[] {
    this.stopped = true;
    const out: Cancelled[] = [];
    this.phase.forEach((p, i) => {
      if (p === "waiting") {
        this.phase[i] = "cancelled";
        out.push({ index: i });
      }
    });
    this.ready.clear();
    return out;
  }

  /** Jobs running now. */
  get running(): number {
    return this.claimed.size;
  }

  /** Nothing runs and nothing more can start. */
  get done(): boolean {
    return this.claimed.size === 0 && (this.stopped || this.ready.size === 0);
  }
}
