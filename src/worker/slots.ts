/**
 * The worker's scheduler: a small synchronous state machine (no processes, no clock of its own),
 * unit-tested on its own. Steps, as in Playwright's dispatcher: find a run that fits, find the
 * resources, claim both, hand it to the caller to start.
 */
import { CorralError, countOf } from "../errors.js";

/** What one run asks for. `gpus` may be fractional below 1 (0.5 = half a device). */
export interface SlotRequest {
  index: number;
  /** 0 = an even share of the allocation's CPUs. */
  cpus: number;
  /** undefined = an even share of the allocation's GPUs. */
  gpus: number | undefined;
}

export interface Grant {
  index: number;
  cpuIds: number[];
  /** True when the run got a dedicated CPU set (pin it); false when CPUs are shared. */
  pinned: boolean;
  gpuIds: string[];
  /** GPU share per granted GPU id (1 for whole devices). */
  gpuShare: number;
  threads: number;
}

export interface PoolOptions {
  cpuIds: number[];
  gpuIds: string[];
  parallel: number;
  /** Give runs without an explicit `cpus` a dedicated CPU set when they all fit. @default true */
  pinByDefault?: boolean;
}

const EPS = 1e-9;

/**
 * Tracks free CPUs and GPU capacity of one allocation. GPUs have capacity 1.0 each; a request
 * below 1 takes a share of one device (best fit), a request of k >= 1 takes k whole free devices.
 */
export class ResourcePool {
  private readonly freeCpus: Set<number>;
  private readonly gpuFree: Map<string, number>;
  readonly cpuIds: readonly number[];
  readonly gpuIds: readonly string[];
  readonly parallel: number;
  private readonly pinByDefault: boolean;

  constructor(opts: PoolOptions) {
    this.pinByDefault = opts.pinByDefault ?? true;
    this.cpuIds = opts.cpuIds;
    this.gpuIds = opts.gpuIds;
    this.parallel = Math.max(1, opts.parallel);
    this.freeCpus = new Set(opts.cpuIds);
    this.gpuFree = new Map(opts.gpuIds.map((g) => [g, 1]));
  }

  /** CPUs a run gets when it does not say: an even split, at least 1. */
  defaultCpus(): number {
    return Math.max(1, Math.floor(this.cpuIds.length / this.parallel));
  }

  /** GPUs a run gets when it does not say: an even split, fractional when runs outnumber devices. */
  defaultGpus(): number {
    const n = this.gpuIds.length;
    if (n === 0) return 0;
    if (n >= this.parallel) return Math.floor(n / this.parallel);
    return n / this.parallel;
  }

  /** Why this request can never be satisfied by this allocation, or undefined if it can. */
  impossible(req: SlotRequest): string | undefined {
    const gpus = req.gpus ?? this.defaultGpus();
    if (req.cpus > this.cpuIds.length) {
      return `run ${req.index} asks for ${req.cpus} CPUs but the allocation holds ${this.cpuIds.length} (${this.cpuIds.join(",") || "none"})`;
    }
    if (gpus > 0 && this.gpuIds.length === 0) {
      return `run ${req.index} asks for ${countOf(gpus, "GPU")} but the allocation holds none (no CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS or gpus_available)`;
    }
    if (gpus > this.gpuIds.length + EPS) {
      return `run ${req.index} asks for ${gpus} GPUs but the allocation holds ${this.gpuIds.length} (${this.gpuIds.join(",")})`;
    }
    if (gpus > 1 && Math.abs(gpus - Math.round(gpus)) > EPS) {
      return `run ${req.index} asks for ${gpus} GPUs: above 1, GPU requests must be whole numbers`;
    }
    return undefined;
  }

  /** Claim resources for a request, or undefined when they are busy right now. */
  tryAcquire(req: SlotRequest): Grant | undefined {
    const gpus = req.gpus ?? this.defaultGpus();
    const wantCpus = req.cpus > 0 ? req.cpus : this.defaultCpus();
    // Dedicated CPU sets only when everyone can have one; otherwise share all CPUs (no pinning).
    const pin = req.cpus > 0 || (this.pinByDefault && wantCpus * this.parallel <= this.cpuIds.length);
    let cpuIds: number[] = [];
    if (pin) {
      if (this.freeCpus.size < wantCpus) return undefined;
      cpuIds = [...this.freeCpus].sort((a, b) => a - b).slice(0, wantCpus);
    }
    let gpuIds: string[] = [];
    let share = 0;
    if (gpus > EPS) {
      if (gpus < 1 - EPS) {
        // Best fit: the device with the least free capacity that still fits, so shares pack tightly.
        let best: string | undefined;
        let bestFree = Infinity;
        for (const g of this.gpuIds) {
          const f = this.gpuFree.get(g)!;
          if (f + EPS >= gpus && f < bestFree) {
            best = g;
            bestFree = f;
          }
        }
        if (best === undefined) return undefined;
        gpuIds = [best];
        share = gpus;
      } else {
        const k = Math.round(gpus);
        const free = this.gpuIds.filter((g) => this.gpuFree.get(g)! >= 1 - EPS);
        if (free.length < k) return undefined;
        gpuIds = free.slice(0, k);
        share = 1;
      }
    }
    for (const c of cpuIds) this.freeCpus.delete(c);
    for (const g of gpuIds) this.gpuFree.set(g, this.gpuFree.get(g)! - share);
    return { index: req.index, cpuIds: pin ? cpuIds : [...this.cpuIds], pinned: pin, gpuIds, gpuShare: share, threads: wantCpus };
  }

  release(grant: Grant): void {
    if (grant.pinned) for (const c of grant.cpuIds) this.freeCpus.add(c);
    for (const g of grant.gpuIds) this.gpuFree.set(g, Math.min(1, this.gpuFree.get(g)! + grant.gpuShare));
  }
}

/** The allocation's end as the worker knows it (AllocationFacts.endMs: SLURM_JOB_END_TIME or squeue), and the grace kept before it. */
export interface Deadline {
  endMs: number;
  graceMs: number;
  /** Expected duration of a run (explicit `resources.estimate`, else the median of finished runs), or undefined. */
  estimateMs(index: number): number | undefined;
}

/**
 * Walltime-aware start: may a run expected to take `estimateMs` start at `now`? Unknown
 * estimates always start (nothing to go by); otherwise it must end by `endMs - graceMs`, when
 * SLURM's signal comes.
 */
export function fitsBeforeEnd(now: number, estimateMs: number | undefined, endMs: number, graceMs: number): boolean {
  if (estimateMs === undefined || !Number.isFinite(endMs)) return true;
  return now + estimateMs <= endMs - graceMs;
}

/** The median of durations (ms), or undefined for none: the estimate of runs that give none. */
export function medianMs(durations: readonly number[]): number | undefined {
  if (durations.length === 0) return undefined;
  const s = [...durations].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * One decision of the scheduler. `queued`: every slot is busy; the run is handed over now to start
 * the moment one frees (lookahead, see SlotScheduler.lookahead).
 */
export type Decision =
  | { kind: "start"; grant: Grant; queued?: boolean }
  | { kind: "wait"; untilMs?: number; reason: string }
  | { kind: "done" };

/**
 * The refill queue: runs start in order as slots and resources free up, `stagger` apart.
 * Synchronous on purpose: the caller reports starts and ends, then asks `next(now)` again.
 */
export class SlotScheduler {
  private readonly queue: SlotRequest[];
  private running = 0;
  private lastStart = -Infinity;
  private stopped = false;
  private readonly deferredReqs: SlotRequest[] = [];
  private readonly held = new Set<number>();
  /**
   * How many runs may be handed over beyond the busy slots, to be started by whoever sees a slot
   * free first (the spawn helper refills a slot without a round trip through the worker). Only
   * runs that take nothing but a slot (no pinned CPUs, no GPUs), and never with a stagger or an
   * allocation deadline, which are decided at the moment of the start. 0: none.
   */
  lookahead: () => number = () => 0;

  constructor(
    private readonly pool: ResourcePool,
    requests: SlotRequest[],
    private readonly staggerMs: number,
    private readonly deadline?: Deadline,
  ) {
    for (const r of requests) {
      const why = pool.impossible(r);
      if (why) throw new CorralError("E_RESOURCES", why, { hint: "lower the run's cpus/gpus, raise the job's, or set parallel lower", exitCode: 1 });
    }
    this.queue = [...requests];
  }

  get pending(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running;
  }

  /** Stop starting new runs (stop signal, or the allocation is ending). */
  stop(): void {
    this.stopped = true;
  }

  /** Runs left for the next job because they could not finish before the allocation's end. */
  get deferred(): readonly SlotRequest[] {
    return this.deferredReqs;
  }

  /**
   * Hold a queued run: it is not started until released, and the scheduler is not done while it
   * waits (another worker may still be running it; see batch.ts).
   */
  hold(index: number): void {
    this.held.add(index);
  }

  release(index: number): void {
    this.held.delete(index);
  }

  /** Queue one more run (a study's trial the worker drew). */
  add(req: SlotRequest): void {
    const why = this.pool.impossible(req);
    if (why) throw new CorralError("E_RESOURCES", why, { hint: "lower the run's cpus/gpus, raise the job's, or set parallel lower", exitCode: 1 });
    this.queue.push(req);
  }

  /** Free slots (no lookahead): where a drawn trial would start at once. */
  get free(): number {
    return Math.max(0, this.pool.parallel - this.running);
  }

  /** Take a queued run out for good (it succeeded elsewhere). */
  drop(index: number): void {
    this.held.delete(index);
    const i = this.queue.findIndex((r) => r.index === index);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Remove runs that will not be started (e.g. already succeeded, or drained on stop). */
  drain(): SlotRequest[] {
    return this.queue.splice(0);
  }

  next(now: number): Decision {
    if (this.deadline && !this.stopped) {
      // Runs that cannot finish in the time left never start here; they are left for the next job.
      const { endMs, graceMs } = this.deadline;
      const keep: SlotRequest[] = [];
      for (const req of this.queue) (fitsBeforeEnd(now, this.deadline.estimateMs(req.index), endMs, graceMs) ? keep : this.deferredReqs).push(req);
      this.queue.splice(0, this.queue.length, ...keep);
    }
    if (this.stopped || this.queue.length === 0) return this.running === 0 ? { kind: "done" } : { kind: "wait", reason: "runs still running" };
    const busy = this.running >= this.pool.parallel;
    if (busy && (this.staggerMs > 0 || this.deadline !== undefined || this.running >= this.pool.parallel + this.lookahead())) return { kind: "wait", reason: `all ${this.pool.parallel} slots busy` };
    if (now - this.lastStart < this.staggerMs) return { kind: "wait", untilMs: this.lastStart + this.staggerMs, reason: "stagger" };
    // First run in queue order that fits: a big request does not block small ones behind it.
    for (let i = 0; i < this.queue.length; i++) {
      const req = this.queue[i]!;
      if (this.held.has(req.index)) continue;
      const grant = this.pool.tryAcquire(req);
      if (grant && busy && (grant.pinned || grant.gpuIds.length > 0)) {
        // Resources are held from the decision: lookahead only for runs that hold none.
        this.pool.release(grant);
        return { kind: "wait", reason: `all ${this.pool.parallel} slots busy` };
      }
      if (grant) {
        this.queue.splice(i, 1);
        this.running++;
        this.lastStart = now;
        return busy ? { kind: "start", grant, queued: true } : { kind: "start", grant };
      }
    }
    if (this.queue.every((r) => this.held.has(r.index))) return { kind: "wait", reason: "waiting for runs another worker may still be running" };
    return { kind: "wait", reason: "waiting for CPUs/GPUs to free up" };
  }

  finished(grant: Grant): void {
    this.running--;
    this.pool.release(grant);
  }
}
