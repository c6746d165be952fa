/**
 * Which jobs of a DAG must run, and why (Snakemake's `needrun`). PURE: the caller passes a
 * snapshot of file stats, the build records of earlier successful jobs, and the incomplete marks
 * left by jobs that died.
 */
import { createHash } from "node:crypto";
import { CorralError, didYouMean } from "../errors.js";
import { markerOf, plainSpec, renderArgv, renderShell } from "./dag.js";
import type { Dag, InputSpec, Job, PathSpec, RuleSpec } from "./dag.js";

/** What a build record keeps of one input file, as it was when the job succeeded. */
export interface InputStamp {
  mtimeMs: number;
  size: number;
  /** sha256 of the content (hex); absent for folders. */
  sha256?: string;
}

/**
 * What the store remembers about the last successful build of one output file. Fields added
 * later (`containerHash`, `codeHash`, `inputs`) are optional: a record without one is not
 * compared on it, so old records trigger nothing.
 */
export interface BuildRecord {
  ruleHash: string;
  paramsHash: string;
  commandHash: string;
  jobKey: string;
  containerHash?: string;
  codeHash?: string;
  /** Each input the job read, as it was then (the input set, and content checksums). */
  inputs?: Record<string, InputStamp>;
}

/** Why a job runs (or does not). */
export type Reason =
  | "missing output"
  | "output older than input"
  | "command changed"
  | "params changed"
  | "code changed"
  | "container changed"
  | "input changed"
  | "rule changed"
  | "incomplete output"
  | "forced"
  | "input will be rebuilt"
  | "no outputs"
  | "skipped (--until)"
  | "up to date";

/** The decision for one job (`decisions[job.id]`). */
export interface Decision {
  run: boolean;
  reason: Reason;
  /** A short explanation naming the file or job concerned. */
  detail: string;
}

/** A snapshot of the world the decisions are made against. */
export interface BuildState {
  /** mtime (a folder's: its completion marker's) and size (files) of a path; undefined when missing. */
  stat: (path: string) => { mtimeMs: number; size?: number } | undefined;
  records: (output: string) => BuildRecord | undefined;
  incomplete: (output: string) => boolean;
  /**
   * sha256 (hex) of a file's content, asked only for an input newer than the outputs whose
   * record has a checksum; undefined when it cannot be read (a folder). Without it, mtime decides.
   */
  checksum?: (path: string) => string | undefined;
}

/** Flags of `corral flow`. */
export interface DecideOptions {
  /** Rule names whose jobs run even when up to date (their consumers then run too). */
  forcerun?: string[];
  /** Every job runs, up to date or not (`-F`, Snakemake's `--forceall`). */
  forceall?: boolean;
  /** Run only the jobs of this rule and what they need; skip everything downstream. */
  until?: string;
  rerunIncomplete: boolean;
}

/** Stable hashes that a build record keeps, to notice changes since the last build. */
export interface JobHashes {
  ruleHash: string;
  paramsHash: string;
  commandHash: string;
  containerHash: string;
  codeHash?: string;
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** JSON with object keys sorted, so equal values hash equally whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
  const o = v as Record<string, unknown>;
  return (
    "{" +
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => JSON.stringify(k) + ":" + canonicalJson(o[k]))
      .join(",") +
    "}"
  );
}

/** The command a job runs, as text: its rendered `shell`, or its rendered `run` argv as JSON. */
export function renderCommand(job: Job): string {
  if (job.spec.shell !== undefined) return renderShell(job.spec.shell, job);
  if (job.spec.run !== undefined) return JSON.stringify(renderArgv(job.spec.run, job));
  return "";
}

/**
 * What of a rule's `input` the rule hash sees: its patterns, markers dropped, an `expand:` as its
 * pattern and a function as a stand-in. The files an expand or a function names for a job are the
 * job's input list, which has its own hash (`input changed`).
 */
function inputShape(spec: InputSpec | undefined): unknown {
  const item = (x: unknown): unknown =>
    typeof x === "function" ? "<function>" : x !== null && typeof x === "object" && !Array.isArray(x) && typeof (x as { expand?: unknown }).expand === "string" ? { expand: (x as { expand: string }).expand } : plainSpec(x as PathSpec);
  if (spec === undefined || typeof spec === "string" || typeof spec === "function") return item(spec);
  if (Array.isArray(spec)) return spec.map(item);
  if (markerOf(spec) !== undefined || typeof (spec as { expand?: unknown }).expand === "string") return item(spec);
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, Array.isArray(v) ? v.map(item) : item(v)]));
}

interface RuleHashes {
  ruleHash: string;
  paramsHash: string;
  containerHash: string;
  codeHash?: string;
  /** The rule hash as records before `containerHash` computed it (patterns and container together). */
  legacyRuleHash: string;
}

// Rule-level hashes; cached so a 100k-job no-op check hashes once per rule.
const ruleCache = new WeakMap<RuleSpec, RuleHashes>();

function ruleHashes(s: RuleSpec): RuleHashes {
  let r = ruleCache.get(s);
  if (r === undefined) {
    const input = inputShape(s.input);
    const output = plainSpec(s.output);
    r = {
      ruleHash: hash(canonicalJson({ input, output, container: null })),
      paramsHash: hash(canonicalJson(s.params ?? {})),
      containerHash: hash(canonicalJson(s.container ?? null)),
      ...(s.code !== undefined ? { codeHash: hash(s.code) } : {}),
      legacyRuleHash: hash(canonicalJson({ input, output, container: s.container ?? null })),
    };
    ruleCache.set(s, r);
  }
  return r;
}

/**
 * Hashes of a job: `commandHash` of the rendered command, `paramsHash` of the rule's params,
 * `containerHash` of the effective container, `codeHash` of the rule's function source (TS
 * rules), `ruleHash` of the file patterns (markers left out). Each has its own reason.
 */
export function jobHashes(job: Job): JobHashes {
  const r = ruleHashes(job.spec);
  // A plain literal (no spread): this runs once per job of a no-op plan.
  const h: JobHashes = { ruleHash: r.ruleHash, paramsHash: r.paramsHash, commandHash: hash(renderCommand(job)), containerHash: r.containerHash };
  if (r.codeHash !== undefined) h.codeHash = r.codeHash;
  return h;
}

function checkRule(dag: Dag, name: string, flag: string): void {
  if (dag.rules.includes(name)) return;
  const near = didYouMean(name, dag.rules);
  throw new CorralError("E_USAGE", `${flag}: no rule named '${name}'`, {
    hint: near !== undefined ? `Did you mean '${near}'?` : `Rules: ${dag.rules.join(", ")}`,
  });
}

const UP_TO_DATE: Decision = Object.freeze({ run: false, reason: "up to date", detail: "" }) as Decision;

function more(list: string[]): string {
  return list.length > 1 ? ` (and ${list.length - 1} more)` : "";
}

/**
 * Decide every job of the DAG as Snakemake's `update_needrun` does. First each job's own reason,
 * in dependency order: forced; a target job missing a file asked of it; incomplete outputs; an
 * input newer than the oldest output whose content changed (a folder input, or one without a
 * recorded checksum, by mtime alone); then the records (which job made it, command, params, code,
 * input set, container, rule). Then a search both ways from the jobs that run: each consumer of
 * a running job runs ("input will be rebuilt", unless every file between them is `ancient` and
 * exists), and each producer of a missing file a running job needs runs ("missing output").
 * So a missing intermediate whose consumers are up to date is not rebuilt.
 *
 * A job with no existing output takes its time from its consumers (Snakemake's
 * `output_mintime`), so an edited source still reaches past a deleted intermediate.
 *
 * Throws `E_WORKFLOW` when some job that does not run has an incomplete output and
 * `rerunIncomplete` is off, and `E_USAGE` for an unknown rule in `forcerun`/`until`.
 */
export function decideJobs(dag: Dag, state: BuildState, opts: DecideOptions): Decision[] {
  const jobs = dag.jobs;
  const n = jobs.length;
  // Rule -> why its jobs are forced.
  const forced = new Map<string, string>(opts.forceall ? jobs.map((j) => [j.rule, "--forceall"]) : []);
  for (const r of opts.forcerun ?? []) {
    checkRule(dag, r, "--forcerun");
    forced.set(r, `--forcerun ${r}`);
  }
  let inScope: Uint8Array | undefined;
  if (opts.until !== undefined) {
    checkRule(dag, opts.until, "--until");
    inScope = new Uint8Array(n);
    // Jobs are sorted dependencies-first, so one backward sweep marks all ancestors.
    for (let id = n - 1; id >= 0; id--) {
      const j = jobs[id]!;
      if (j.rule === opts.until) inScope[id] = 1;
      if (inScope[id] === 1) for (const d of j.deps) inScope[d] = 1;
    }
  }
  // Target jobs and the files asked of them; with --until, that rule's jobs are the targets (as in Snakemake).
  const targetFiles = new Map<number, string[]>();
  if (opts.until !== undefined) for (const j of jobs) if (j.rule === opts.until) targetFiles.set(j.id, j.outputs);
  if (opts.until === undefined) for (const t of dag.targets) targetFiles.set(t.job, t.files);

  // Consumers of each job (ids), and the files between a job and one of its producers.
  const consumers: number[][] = Array.from({ length: n }, () => []);
  for (const j of jobs) for (const d of j.deps) consumers[d]!.push(j.id);
  // Grouped once per consumer, when first asked: an aggregator over 100k files stays linear.
  const grouped = new Map<number, Map<number, string[]>>();
  const between = (consumer: Job, producer: number): string[] => {
    let g = grouped.get(consumer.id);
    if (g === undefined) {
      g = new Map();
      for (const f of consumer.inputs) {
        const p = dag.byOutput.get(f);
        if (p === undefined) continue;
        const l = g.get(p);
        if (l === undefined) g.set(p, [f]);
        else l.push(f);
      }
      grouped.set(consumer.id, g);
    }
    return g.get(producer) ?? [];
  };
  const allAncient = (consumer: Job, producer: number): boolean => {
    if (consumer.ancient.length === 0) return false;
    return between(consumer, producer).every((f) => consumer.ancient.includes(f) && state.stat(f) !== undefined);
  };

  // Oldest existing output of each job, else its consumers' (reverse dependency order).
  const minTime = new Float64Array(n).fill(NaN);
  const minPath: string[] = new Array<string>(n).fill("");
  for (let id = n - 1; id >= 0; id--) {
    const job = jobs[id]!;
    let t = Infinity;
    let p = "";
    for (const o of job.outputs) {
      const st = state.stat(o);
      if (st !== undefined && st.mtimeMs < t) {
        t = st.mtimeMs;
        p = o;
      }
    }
    if (t === Infinity) {
      for (const c of consumers[id]!) {
        const ct = minTime[c]!;
        if (!Number.isNaN(ct) && ct < t) {
          t = ct;
          p = minPath[c]!;
        }
      }
    }
    if (t !== Infinity) {
      minTime[id] = t;
      minPath[id] = p;
    }
  }

  const out: Array<Decision | undefined> = new Array<Decision | undefined>(n);
  // 1 when a job runs or is downstream of one that runs (through a non-ancient edge): the search
  // below reaches it anyway, so its own reason need not be worked out.
  const masked = new Uint8Array(n);
  const queue: number[] = [];
  const pendingIncomplete = new Map<number, string[]>();
  for (let id = 0; id < n; id++) {
    const job = jobs[id]!;
    if (inScope !== undefined && inScope[id] !== 1) continue;
    const force = forced.get(job.rule);
    let d: Decision | undefined;
    if (force !== undefined) d = { run: true, reason: "forced", detail: force };
    else {
      for (const dep of job.deps) {
        if (masked[dep] === 1 && !allAncient(job, dep)) {
          masked[id] = 1;
          break;
        }
      }
      if (masked[id] === 1) continue;
      d = ownReason(job, state, targetFiles.get(id), minTime[id]!, minPath[id]!, opts.rerunIncomplete, pendingIncomplete);
    }
    if (d !== undefined) {
      out[id] = d;
      masked[id] = 1;
      queue.push(id);
    }
  }

  const visited = new Uint8Array(n);
  for (const id of queue) visited[id] = 1;
  for (let qi = 0; qi < queue.length; qi++) {
    const id = queue[qi]!;
    const job = jobs[id]!;
    // Producers of the missing files this job needs run too (one pass over its inputs).
    const missingBy = new Map<number, string[]>();
    for (const f of job.inputs) {
      const dep = dag.byOutput.get(f);
      if (dep === undefined || visited[dep] === 1 || state.stat(f) !== undefined) continue;
      const l = missingBy.get(dep);
      if (l === undefined) missingBy.set(dep, [f]);
      else l.push(f);
    }
    for (const [dep, missing] of missingBy) {
      visited[dep] = 1;
      out[dep] = { run: true, reason: "missing output", detail: `'${missing[0]}'${more(missing)}, needed by ${job.key}` };
      queue.push(dep);
    }
    for (const c of consumers[id]!) {
      if (visited[c] === 1 || (inScope !== undefined && inScope[c] !== 1)) continue;
      if (allAncient(jobs[c]!, id)) continue;
      visited[c] = 1;
      out[c] = { run: true, reason: "input will be rebuilt", detail: `by ${job.key}` };
      queue.push(c);
    }
  }

  const incompleteFiles: string[] = [];
  for (let id = 0; id < n; id++) {
    if (visited[id] === 1) continue;
    const job = jobs[id]!;
    if (inScope !== undefined && inScope[id] !== 1) {
      out[id] = { run: false, reason: "skipped (--until)", detail: `after --until ${opts.until}` };
      continue;
    }
    const inc = pendingIncomplete.get(id);
    if (inc !== undefined) {
      incompleteFiles.push(...inc);
      out[id] = { run: false, reason: "incomplete output", detail: `'${inc[0]}'${more(inc)}` };
      continue;
    }
    const missing = job.outputs.filter((o) => state.stat(o) === undefined);
    out[id] =
      missing.length > 0
        ? { run: false, reason: "up to date", detail: `output '${missing[0]}'${more(missing)} missing but not needed: its consumers are up to date` }
        : UP_TO_DATE;
  }
  if (incompleteFiles.length > 0) {
    const shown = incompleteFiles.slice(0, 10).map((f) => `'${f}'`).join(", ");
    throw new CorralError(
      "E_WORKFLOW",
      `Incomplete files (a job writing them died): ${shown}${incompleteFiles.length > 10 ? ` and ${incompleteFiles.length - 10} more` : ""}`,
      { hint: "Use --rerun-incomplete to rebuild them, or delete them." },
    );
  }
  return out as Decision[];
}

/** A job's own reason to run, or undefined. Incomplete outputs without --rerun-incomplete go to `pending`. */
function ownReason(
  job: Job,
  state: BuildState,
  targetFiles: string[] | undefined,
  minTime: number,
  minPath: string,
  rerunIncomplete: boolean,
  pending: Map<number, string[]>,
): Decision | undefined {
  if (job.outputs.length === 0) {
    if (job.inputs.length === 0) return { run: true, reason: "no outputs", detail: "a rule with neither input nor output always runs" };
    const missing = job.inputs.filter((i) => state.stat(i) === undefined);
    if (missing.length > 0) return { run: true, reason: "input will be rebuilt", detail: `'${missing[0]}'${more(missing)} is missing` };
    return undefined;
  }
  if (targetFiles !== undefined) {
    const missing = targetFiles.filter((o) => state.stat(o) === undefined);
    if (missing.length > 0) return { run: true, reason: "missing output", detail: `'${missing[0]}'${more(missing)}` };
  }
  let incomplete: string[] | undefined;
  for (const o of job.outputs) if (state.incomplete(o) && state.stat(o) !== undefined) (incomplete ??= []).push(o);
  if (incomplete !== undefined) {
    if (rerunIncomplete) return { run: true, reason: "incomplete output", detail: `'${incomplete[0]}'${more(incomplete)}` };
    // An error only if the job does not run for another reason.
    pending.set(job.id, incomplete);
  }
  // The record this job's outputs were last built with (all outputs of a job share one).
  let rec: BuildRecord | undefined;
  let recOut = "";
  for (const o of job.outputs) {
    rec = state.records(o);
    if (rec !== undefined) {
      recOut = o;
      break;
    }
  }
  if (!Number.isNaN(minTime)) {
    for (const i of job.inputs) {
      const st = state.stat(i);
      if (st === undefined || st.mtimeMs <= minTime) continue;
      if (job.ancient.length > 0 && job.ancient.includes(i)) continue;
      const stamp = rec?.inputs?.[i];
      if (stamp?.sha256 !== undefined && state.checksum !== undefined) {
        if (st.size !== undefined && st.size !== stamp.size) {
          return { run: true, reason: "output older than input", detail: `'${i}' is newer than '${minPath}' and its size changed` };
        }
        if (state.checksum(i) === stamp.sha256) continue;
        return { run: true, reason: "output older than input", detail: `'${i}' is newer than '${minPath}' and its content changed` };
      }
      return { run: true, reason: "output older than input", detail: `'${i}' is newer than '${minPath}'` };
    }
  }
  let h: JobHashes | undefined;
  for (const o of job.outputs) {
    const r = o === recOut ? rec : state.records(o);
    if (r === undefined) continue;
    const d = recordChange(job, (h ??= jobHashes(job)), r, o);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** How a job differs from the record of one of its outputs, or undefined. */
function recordChange(job: Job, h: JobHashes, rec: BuildRecord, o: string): Decision | undefined {
  if (rec.jobKey !== job.key) return { run: true, reason: "rule changed", detail: `'${o}' was made by ${rec.jobKey}` };
  if (rec.commandHash !== h.commandHash) return { run: true, reason: "command changed", detail: `for '${o}'` };
  if (rec.paramsHash !== h.paramsHash) return { run: true, reason: "params changed", detail: `for '${o}'` };
  if (rec.codeHash !== undefined && rec.codeHash !== (h.codeHash ?? "")) return { run: true, reason: "code changed", detail: `for '${o}'` };
  if (rec.inputs !== undefined) {
    const was = Object.keys(rec.inputs);
    const now = new Set(job.inputs);
    const added = job.inputs.filter((i) => !(i in rec.inputs!));
    const removed = was.filter((i) => !now.has(i));
    if (added.length > 0) return { run: true, reason: "input changed", detail: `'${added[0]}'${more(added)} added` };
    if (removed.length > 0) return { run: true, reason: "input changed", detail: `'${removed[0]}'${more(removed)} removed` };
  }
  if (rec.containerHash !== undefined) {
    if (rec.containerHash !== h.containerHash) return { run: true, reason: "container changed", detail: `for '${o}'` };
    if (rec.ruleHash !== h.ruleHash) return { run: true, reason: "rule changed", detail: `for '${o}'` };
  } else if (rec.ruleHash !== h.ruleHash && rec.ruleHash !== ruleHashes(job.spec).legacyRuleHash) {
    // A record from before containerHash: its rule hash held the rule's own container.
    return { run: true, reason: "rule changed", detail: `for '${o}'` };
  }
  return undefined;
}

/** Per-rule counts for `corral flow -n`. */
export interface RuleSummary {
  rule: string;
  jobs: number;
  run: number;
  reasons: Partial<Record<Reason, number>>;
}

/** The whole plan in numbers. */
export interface DagSummary {
  jobs: number;
  run: number;
  rules: RuleSummary[];
}

/** Count jobs and reasons per rule, rules in DAG order (producers first). */
export function summarize(dag: Dag, decisions: readonly Decision[]): DagSummary {
  const byRule = new Map<string, RuleSummary>();
  let run = 0;
  for (const job of dag.jobs) {
    const d = decisions[job.id]!;
    let s = byRule.get(job.rule);
    if (s === undefined) {
      s = { rule: job.rule, jobs: 0, run: 0, reasons: {} };
      byRule.set(job.rule, s);
    }
    s.jobs++;
    if (d.run) {
      s.run++;
      run++;
    }
    s.reasons[d.reason] = (s.reasons[d.reason] ?? 0) + 1;
  }
  return { jobs: dag.jobs.length, run, rules: [...byRule.values()] };
}

/** A plain-text table of a summary, like Snakemake's job stats. */
export function formatSummary(s: DagSummary): string {
  const rows = s.rules.map((r) => [
    r.rule,
    String(r.jobs),
    String(r.run),
    Object.entries(r.reasons)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", "),
  ]);
  rows.unshift(["rule", "jobs", "run", "reasons"]);
  rows.push(["total", String(s.jobs), String(s.run), ""]);
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => [r[0]!.padEnd(w[0]!), r[1]!.padStart(w[1]!), r[2]!.padStart(w[2]!), r[3]!].join("  ").trimEnd())
    .join("\n");
}
