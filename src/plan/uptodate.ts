/**
 * Which jobs of a DAG must run, and why (Snakemake's `needrun`). PURE: the caller passes a
 * snapshot of file stats, the build records of earlier successful jobs, and the incomplete marks
 * left by jobs that died.
 */
import { createHash } from "node:crypto";
import { CorralError, didYouMean } from "../errors.js";
import { renderArgv, renderShell } from "./dag.js";
import type { Dag, Job, RuleSpec } from "./dag.js";

/** What the store remembers about the last successful build of one output file. */
export interface BuildRecord {
  ruleHash: string;
  paramsHash: string;
  commandHash: string;
  jobKey: string;
}

/** Why a job runs (or does not). */
export type Reason =
  | "missing output"
  | "output older than input"
  | "command changed"
  | "params changed"
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
  stat: (path: string) => { mtimeMs: number } | undefined;
  records: (output: string) => BuildRecord | undefined;
  incomplete: (output: string) => boolean;
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

// Rule- and params-hashes are per rule; cache them so a 100k-job no-op check hashes once per rule.
const ruleCache = new WeakMap<RuleSpec, { ruleHash: string; paramsHash: string }>();

/**
 * Hashes of a job: `commandHash` of the rendered command, `paramsHash` of the rule's params,
 * `ruleHash` of what else in the rule shapes the outputs (file patterns, container). Command
 * and params are kept out of `ruleHash` so each change gets its own reason.
 */
export function jobHashes(job: Job): JobHashes {
  let r = ruleCache.get(job.spec);
  if (r === undefined) {
    const s = job.spec;
    r = {
      ruleHash: hash(canonicalJson({ input: s.input, output: s.output, container: s.container ?? null })),
      paramsHash: hash(canonicalJson(s.params ?? {})),
    };
    ruleCache.set(job.spec, r);
  }
  return { ruleHash: r.ruleHash, paramsHash: r.paramsHash, commandHash: hash(renderCommand(job)) };
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
 * Decide every job of the DAG, in its topological order, so "input will be rebuilt" propagates
 * from a job to all its consumers. Order of checks: forced, missing output, input rebuilt,
 * incomplete, mtime, then records (command, params, rule). Outputs without a record (made by
 * hand, or before Corral) are judged by mtime only, as Snakemake does without metadata.
 *
 * Throws `E_WORKFLOW` when some job that would not run has an incomplete output and
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
  const out: Decision[] = new Array<Decision>(n);
  const incompleteFiles: string[] = [];
  for (let id = 0; id < n; id++) {
    const job = jobs[id]!;
    if (inScope !== undefined && inScope[id] !== 1) {
      out[id] = { run: false, reason: "skipped (--until)", detail: `after --until ${opts.until}` };
      continue;
    }
    out[id] = decideOne(job, jobs, out, state, forced, opts.rerunIncomplete, incompleteFiles);
  }
  if (incompleteFiles.length > 0) {
    const shown = incompleteFiles.slice(0, 10).map((f) => `'${f}'`).join(", ");
    throw new CorralError(
      "E_WORKFLOW",
      `Incomplete files (a job writing them died): ${shown}${incompleteFiles.length > 10 ? ` and ${incompleteFiles.length - 10} more` : ""}`,
      { hint: "Use --rerun-incomplete to rebuild them, or delete them." },
    );
  }
  return out;
}

function decideOne(
  job: Job,
  jobs: readonly Job[],
  done: Decision[],
  state: BuildState,
  forced: ReadonlyMap<string, string>,
  rerunIncomplete: boolean,
  incompleteFiles: string[],
): Decision {
  const force = forced.get(job.rule);
  if (force !== undefined) return { run: true, reason: "forced", detail: force };
  let rebuiltDep: number | undefined;
  for (const d of job.deps) {
    if (done[d]!.run) {
      rebuiltDep = d;
      break;
    }
  }
  if (job.outputs.length === 0) {
    if (rebuiltDep !== undefined) return { run: true, reason: "input will be rebuilt", detail: `by ${jobs[rebuiltDep]!.key}` };
    if (job.inputs.length === 0) return { run: true, reason: "no outputs", detail: "a rule with neither input nor output always runs" };
    return UP_TO_DATE;
  }
  let oldestOut = Infinity;
  let oldestPath = "";
  const missing: string[] = [];
  for (const o of job.outputs) {
    const st = state.stat(o);
    if (st === undefined) missing.push(o);
    else if (st.mtimeMs < oldestOut) {
      oldestOut = st.mtimeMs;
      oldestPath = o;
    }
  }
  if (missing.length > 0) return { run: true, reason: "missing output", detail: `'${missing[0]}'${more(missing)}` };
  if (rebuiltDep !== undefined) return { run: true, reason: "input will be rebuilt", detail: `by ${jobs[rebuiltDep]!.key}` };
  const incomplete = job.outputs.filter((o) => state.incomplete(o));
  if (incomplete.length > 0) {
    if (rerunIncomplete) return { run: true, reason: "incomplete output", detail: `'${incomplete[0]}'${more(incomplete)}` };
    incompleteFiles.push(...incomplete);
    return { run: false, reason: "incomplete output", detail: `'${incomplete[0]}'${more(incomplete)}` };
  }
  for (const i of job.inputs) {
    const st = state.stat(i);
    if (st !== undefined && st.mtimeMs > oldestOut) {
      return { run: true, reason: "output older than input", detail: `'${i}' is newer than '${oldestPath}'` };
    }
  }
  let hashes: JobHashes | undefined;
  for (const o of job.outputs) {
    const rec = state.records(o);
    if (rec === undefined) continue;
    if (rec.jobKey !== job.key) {
      return { run: true, reason: "rule changed", detail: `'${o}' was made by ${rec.jobKey}` };
    }
    hashes ??= jobHashes(job);
    if (rec.commandHash !== hashes.commandHash) return { run: true, reason: "command changed", detail: `for '${o}'` };
    if (rec.paramsHash !== hashes.paramsHash) return { run: true, reason: "params changed", detail: `for '${o}'` };
    if (rec.ruleHash !== hashes.ruleHash) return { run: true, reason: "rule changed", detail: `for '${o}'` };
  }
  return UP_TO_DATE;
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
