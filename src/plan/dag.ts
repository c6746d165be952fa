/**
 * The rule DAG, built backwards from targets as Snakemake does: each needed file is matched to
 * the one rule whose output pattern makes it, which binds the rule's wildcards and so names that
 * job's inputs, and so on down to source files. PURE: the caller injects `exists`.
 *
 * Differences from Snakemake, on purpose: two rules that can make one file are an error (no
 * `ruleorder`), and wildcard values that would climb out of the project (`..`) or hold newlines
 * are rejected.
 */
import { CorralError } from "../errors.js";
import { Pattern, PatternIndex, wildcardNames } from "./patterns.js";
import { ConfigFloat } from "./float.js";
import type { ConfigMap, ConfigValue } from "./types.js";

/**
 * A file marked as Snakemake marks it: an output deleted once every job of the flow that reads it
 * has succeeded (`temp`), an output made read-only after its job (`protected`), an input whose
 * mtime never makes a job stale (`ancient`).
 */
export type FileMarker = { temp: string } | { protected: string } | { ancient: string };
/** One file pattern, plain or marked. */
export type FileItem = string | FileMarker;
/** A rule's files: one path, a list, or named entries (`{ model: "m.pt", data: [...] }`); any item may be marked. */
export type PathSpec = FileItem | FileItem[] | Record<string, FileItem | FileItem[]>;
/** The marker names, as they key a {@link FileMarker}. */
export const MARKERS = ["temp", "protected", "ancient"] as const;
export type MarkerName = (typeof MARKERS)[number];

/** The marker of an item (`{temp: "x"}` -> "temp"), undefined for a plain path or anything else. */
export function markerOf(item: unknown): MarkerName | undefined {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return undefined;
  const keys = Object.keys(item);
  if (keys.length !== 1) return undefined;
  const k = keys[0] as MarkerName;
  return MARKERS.includes(k) && typeof (item as Record<string, unknown>)[k] === "string" ? k : undefined;
}

/** The path pattern of an item, plain or marked. */
export function pathOf(item: FileItem): string {
  if (typeof item === "string") return item;
  const m = markerOf(item);
  return m === undefined ? String(item) : (item as Record<string, string>)[m]!;
}

/** A spec with its markers dropped (what the rule hash sees, so marking a file reruns nothing). */
export function plainSpec(spec: PathSpec | undefined): unknown {
  if (spec === undefined) return undefined;
  if (typeof spec === "string" || markerOf(spec) !== undefined) return pathOf(spec as FileItem);
  if (Array.isArray(spec)) return spec.map(pathOf);
  return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, Array.isArray(v) ? v.map(pathOf) : pathOf(v)]));
}

/** Resources a job asks for. */
export interface RuleResources {
  cpus?: number;
  gpus?: number;
  mem?: string;
  /** Seconds. */
  timeout?: number;
}

/** What a rule's functions receive (TS rules): the job's wildcards, the flow's config, the attempt (1, 2, ...). */
export interface RuleContext {
  wildcards: Readonly<Record<string, string>>;
  config: ConfigMap;
  attempt: number;
}

/** A value computed per job (TS rules). */
export type RuleFn<T> = (ctx: RuleContext) => T;

/**
 * An aggregation inside a rule's `input`: the pattern expanded over the listed keys' values (a
 * list, one value, `"a,b"`, `"range(3)"`), product order, last key fastest. Placeholders not
 * listed are the rule's output wildcards and take the job's values.
 */
export type InputExpand = { expand: string; [key: string]: ConfigValue };

/** One input entry: a pattern, an expand, or a function of the job returning path(s). */
export type InputItem = string | InputExpand | { ancient: string } | RuleFn<string | string[]>;

/** A rule's inputs: patterns (or expands), a list, a map of names to them, or a function of the job. */
export type InputSpec = InputItem | InputItem[] | Record<string, InputItem | InputItem[]> | RuleFn<PathSpec>;

/** A rule's params: values (each possibly a function), or a function returning the whole map. */
export type ParamsSpec = Record<string, ConfigValue | RuleFn<ConfigValue>> | RuleFn<Record<string, ConfigValue>>;

/** A rule's resources: values (each possibly a function), or a function returning the whole map. */
export type ResourcesSpec = RuleResources | Record<string, unknown> | RuleFn<Record<string, unknown>>;

/** One rule as the project file gives it (validated by the project schema). */
export interface RuleSpec {
  name: string;
  input: InputSpec;
  output: PathSpec;
  params?: ParamsSpec;
  shell?: string | RuleFn<string>;
  run?: string[] | RuleFn<string[]>;
  resources?: ResourcesSpec;
  /** The effective container: the rule's own, else the project's as patched by profiles. */
  container?: unknown;
  retries?: number;
  wildcard_constraints?: Record<string, string>;
  log?: PathSpec;
  priority?: number;
  code?: string; // Source text of the rule's functions (TS rules), hashed for the 'code changed' reason
}

/**
 * What to build: a path, a rule name (its output must be wildcard-free), or an expand over
 * wildcard values (lists, or sweep-grammar strings `"range(3)"`, `"a,b"`), as a cartesian
 * product in key order with the last key varying fastest (like Snakemake's `expand`).
 */
export type TargetSpec = string | { expand: string; [wildcard: string]: ConfigValue };

/** One rule instance with bound wildcards: a node of the DAG. */
export interface Job {
  /** Index in `Dag.jobs` (which is topologically sorted, dependencies first). */
  id: number;
  rule: string;
  wildcards: Record<string, string>;
  inputs: string[];
  namedInputs: Record<string, string[]>;
  outputs: string[];
  namedOutputs: Record<string, string[]>;
  log: string[];
  namedLog: Record<string, string[]>;
  /** Ids of the jobs that make this job's inputs (each once). */
  deps: number[];
  /**
   * The job's params, evaluated (a TS rule's functions called for this job); shared by all jobs of
   * a rule without functions. Do not mutate.
   */
  params: Record<string, ConfigValue>;
  /** The job's resources for attempt 1, evaluated as `params` (shared when static; do not mutate). */
  resources: RuleResources;
  priority: number;
  /** `rule[w1=a,w2=b]`, or just `rule` without wildcards; unique in the DAG. */
  key: string;
  /**
   * The rule this job instantiates (shared). For a rule whose params or command are functions, a
   * per-job copy holding the evaluated `params` and `shell`/`run`, so the hashes see this job's values.
   */
  spec: JobRuleSpec;
  /**
   * Later attempts whose resources or command differ from attempt 1 (functions of `attempt`):
   * `attempts[n - 2]` is attempt n, null where it is the same as attempt 1. Absent when none differs.
   */
  attempts?: Array<JobAttempt | null>;
  /** Outputs marked `temp` (shared empty list when none). */
  temp: string[];
  /** Outputs marked `protected`. */
  protected: string[];
  /** Inputs marked `ancient`. */
  ancient: string[];
}

/** A job's rule: its command is text (a function's result when the rule's command is a function). */
export type JobRuleSpec = Omit<RuleSpec, "shell" | "run"> & { shell?: string; run?: string[] };

/** What one later attempt of a job runs with. */
export interface JobAttempt {
  resources: RuleResources;
  /** The evaluated command, when the rule's command is a function. */
  shell?: string;
  run?: string[];
}

/** The planned DAG. */
export interface Dag {
  /** Topologically sorted: every job comes after the jobs it depends on. */
  jobs: Job[];
  /** Output path -> id of the job that makes it. */
  byOutput: Map<string, number>;
  /** Input files no rule makes and that exist on disk. */
  sources: string[];
  /** Names of all rules of the workflow (also those with no job here), for flag checks. */
  rules: string[];
  /** The jobs the targets name, each with the files asked of it (all outputs for a rule target). */
  targets: Array<{ job: number; files: string[] }>;
}

/** What {@link buildDag} needs: rules, targets, and a view of which source files exist. */
export interface BuildDagInput {
  rules: RuleSpec[];
  targets: TargetSpec[];
  exists: (path: string) => boolean;
  /** The flow's config, handed to the rules' functions. @default {} */
  config?: ConfigMap;
  /** The project file, for the location of errors from the rules' functions. */
  file?: string;
  /**
   * Check and normalise what a resources function returned (`"1h"` to seconds, ...); throws an
   * Error whose message says what is wrong. @default numbers and a `mem` string taken as they are
   */
  normalizeResources?: (raw: Record<string, unknown>) => RuleResources;
}

/** A dependency chain deeper than this is a rule feeding on its own output pattern. */
export const MAX_CHAIN_DEPTH = 10_000;

interface Slot {
  name: string | undefined;
  /** Patterns; an input may also hold functions of the job (TS rules). */
  patterns: Array<Pattern | RuleFn<unknown>>;
  /** Marker of each pattern (a function's paths are unmarked). */
  marks: Array<MarkerName | undefined>;
}

interface OutSlot {
  name: string | undefined;
  patterns: Pattern[];
  /** Marker of each pattern. */
  marks: Array<MarkerName | undefined>;
}

interface CompiledRule {
  spec: RuleSpec;
  /** Output wildcard names, in order of first occurrence: the order of job keys. */
  names: string[];
  outputs: OutSlot[];
  inputs: Slot[];
  /** The rule's `input` when it is one function of the job (then `inputs` is empty). */
  inputFn: RuleFn<unknown> | undefined;
  logs: Slot[];
  /** Whether any output/input pattern is marked (else the job's marker lists are shared empties). */
  marked: boolean;
  params: Record<string, ConfigValue>;
  resources: RuleResources;
  /** Which parts are functions, evaluated per job. */
  dynParams: boolean;
  dynResources: boolean;
  dynCommand: boolean;
}

interface Node {
  job: Job;
  /** 0 unvisited, 1 on the DFS path, 2 finished. */
  state: number;
  next: number;
}

const EMPTY_NAMED: Record<string, string[]> = Object.freeze({}) as Record<string, string[]>;
const EMPTY_PARAMS: Record<string, ConfigValue> = Object.freeze({}) as Record<string, ConfigValue>;
const EMPTY_RESOURCES: RuleResources = Object.freeze({});
const EMPTY_LIST: string[] = Object.freeze([]) as unknown as string[];

type RawSlot = { name: string | undefined; list: string[]; marks: Array<MarkerName | undefined> };

/** The slots of a file spec; `allowed` are the markers this kind of file may carry. */
function slotsOf(spec: PathSpec | undefined, rule = "", kind = "", allowed: readonly MarkerName[] = []): RawSlot[] {
  if (spec === undefined) return [];
  const slot = (name: string | undefined, items: FileItem[]): RawSlot => ({
    name,
    list: items.map(pathOf),
    marks: items.map((it) => {
      const m = markerOf(it);
      if (m !== undefined && !allowed.includes(m)) {
        throw new CorralError("E_WORKFLOW", `Rule '${rule}' ${kind}: '{${m}: ...}' ${m === "ancient" ? "marks inputs" : "marks outputs"} only`);
      }
      return m;
    }),
  });
  if (typeof spec === "string" || markerOf(spec) !== undefined) return [slot(undefined, [spec as FileItem])];
  if (Array.isArray(spec)) return [slot(undefined, spec)];
  return Object.entries(spec).map(([name, v]) => slot(name, Array.isArray(v) ? v : [v]));
}

/** The formatted paths that carry `mark` (`marks` is aligned with `flat`). */
function markedPaths(marks: ReadonlyArray<MarkerName | undefined> | undefined, flat: string[], mark: MarkerName): string[] {
  let out = EMPTY_LIST;
  if (marks === undefined) return out;
  for (let i = 0; i < flat.length; i++) if (marks[i] === mark) (out === EMPTY_LIST ? (out = []) : out).push(flat[i]!);
  return out;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * Check one rule and precompile its patterns. Errors here are about the rule itself, so they
 * name the rule and the pattern, whatever the targets.
 */
export function compileRule(spec: RuleSpec): CompiledRule {
  const rule = spec.name;
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(rule)) {
    throw new CorralError("E_WORKFLOW", `Bad rule name '${rule}': use letters, digits, '_', '.', '-'`);
  }
  if (spec.shell !== undefined && spec.run !== undefined) {
    throw new CorralError("E_WORKFLOW", `Rule '${rule}' has both shell and run; give one`);
  }
  const constraints = spec.wildcard_constraints ?? {};
  for (const [w, re] of Object.entries(constraints)) {
    try {
      new RegExp(re);
    } catch (e) {
      throw new CorralError(
        "E_WORKFLOW",
        `Rule '${rule}': wildcard_constraints.${w}: invalid regex '${re}': ${(e as Error).message}`,
      );
    }
  }
  const where = (kind: string): string => `Rule '${rule}' ${kind}`;
  let names: string[] | undefined;
  let firstOut = "";
  const outputs = slotsOf(spec.output, rule, "output", ["temp", "protected"]).map((s) => ({
    name: s.name,
    marks: s.marks,
    patterns: s.list.map((src) => {
      const p = new Pattern(src, constraints, where("output"));
      if (names === undefined) {
        names = [...p.names];
        firstOut = src;
      } else if (!sameSet(names, [...p.names])) {
        throw new CorralError(
          "E_WORKFLOW",
          `Rule '${rule}': outputs '${firstOut}' and '${src}' have different wildcards; every output of a rule must have the same ones`,
        );
      }
      return p;
    }),
  }));
  const outNames = names ?? [];
  const checkSubset = (kind: string) => (s: RawSlot): OutSlot => ({
    name: s.name,
    marks: s.marks,
    patterns: s.list.map((src) => {
      for (const w of wildcardNames(src, where(kind))) {
        if (!outNames.includes(w)) {
          throw new CorralError(
            "E_WORKFLOW",
            `Rule '${rule}': ${kind} '${src}' uses wildcard '{${w}}' that is not in its output` +
              (outNames.length ? ` (output wildcards: ${outNames.join(", ")})` : " (the output has no wildcards)"),
            { hint: "Every wildcard of an input is bound by matching the output; a wildcard only in the input has no value." },
          );
        }
      }
      return new Pattern(src, {}, where(kind));
    }),
  });
  const isFn = (v: unknown): boolean => typeof v === "function";
  const inputFn = typeof spec.input === "function" ? (spec.input as RuleFn<unknown>) : undefined;
  const inputs: Slot[] = [];
  if (inputFn === undefined) {
    for (const s of inputEntries(spec.input as Exclude<InputSpec, RuleFn<PathSpec>>)) {
      const patterns: Slot["patterns"] = [];
      const marks: Slot["marks"] = [];
      for (const item of s.list) {
        const m = markerOf(item);
        if (typeof item === "function") {
          patterns.push(item);
          marks.push(undefined);
        } else if (typeof item === "string" || m !== undefined) {
          if (m !== undefined && m !== "ancient") throw new CorralError("E_WORKFLOW", `Rule '${rule}' input: '{${m}: ...}' marks outputs only`);
          patterns.push(...checkSubset("input")({ name: s.name, list: [pathOf(item as FileItem)], marks: [m] }).patterns);
          marks.push(m);
        } else {
          const list = expandInput(item as InputExpand, rule);
          patterns.push(...checkSubset("input")({ name: s.name, list, marks: list.map(() => undefined) }).patterns);
          for (const _ of list) marks.push(undefined);
        }
      }
      inputs.push({ name: s.name, patterns, marks });
    }
  }
  const params = spec.params;
  const resources = spec.resources;
  const dynParams = isFn(params) || (params !== undefined && Object.values(params).some(isFn));
  const dynResources = isFn(resources) || (resources !== undefined && Object.values(resources).some(isFn));
  return {
    spec,
    names: outNames,
    outputs,
    inputs,
    inputFn,
    logs: slotsOf(spec.log, rule, "log").map(checkSubset("log")),
    marked: [...outputs, ...inputs].some((s) => s.marks.some((m) => m !== undefined)),
    params: dynParams ? EMPTY_PARAMS : ((params as Record<string, ConfigValue> | undefined) ?? EMPTY_PARAMS),
    resources: dynResources ? EMPTY_RESOURCES : ((resources as RuleResources | undefined) ?? EMPTY_RESOURCES),
    dynParams,
    dynResources,
    dynCommand: isFn(spec.shell) || isFn(spec.run),
  };
}

/** The entries of a rule's (non-function) input, each a name (or none) and its items. */
function inputEntries(spec: Exclude<InputSpec, RuleFn<PathSpec>> | undefined): Array<{ name: string | undefined; list: InputItem[] }> {
  if (spec === undefined) return [];
  if (typeof spec === "string" || typeof spec === "function" || isExpand(spec) || markerOf(spec) !== undefined) return [{ name: undefined, list: [spec as InputItem] }];
  if (Array.isArray(spec)) return [{ name: undefined, list: spec }];
  return Object.entries(spec).map(([name, v]) => ({ name, list: Array.isArray(v) ? v : [v] }));
}

function isExpand(v: unknown): v is InputExpand {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { expand?: unknown }).expand === "string";
}

/** Wildcard occurrences `{name}` / `{name,regex}` (a regex may nest one level of braces). */
const WILDCARD_TEXT = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,(?:[^{}]|\{[^{}]*\})*)?\}/g;

/**
 * The patterns of an `expand:` inside a rule's input: the listed keys filled in, in product order
 * (last key fastest); the other placeholders stay, to take the job's wildcard values.
 */
export function expandInput(t: InputExpand, rule: string): string[] {
  const { expand, ...values } = t;
  return expandPattern(expand, values, `Rule '${rule}' input expand '${expand}'`);
}

/**
 * Snakemake's `expand`: `pattern` with the placeholders named in `values` filled in, one path per
 * combination (product order, last key fastest). A value is a list, one value, `"a,b"` or
 * `"range(3)"`. Placeholders not named stay as they are (Snakemake's `allow_missing=True`).
 */
export function expandPattern(pattern: string, values: Record<string, ConfigValue>, where = `expand '${pattern}'`): string[] {
  const names = wildcardNames(pattern, where);
  const keys = Object.keys(values);
  for (const k of keys) {
    if (!names.includes(k)) throw new CorralError("E_WORKFLOW", `${where} has no wildcard '{${k}}'`);
  }
  const lists = keys.map((k) => expandValues(k, values[k]!, where));
  for (const [i, l] of lists.entries()) {
    const bad = l.find((v) => /[{}]/.test(v));
    if (bad !== undefined) throw new CorralError("E_WORKFLOW", `${where}: value '${bad}' of '${keys[i]}' holds a brace`);
  }
  return product(lists).map((combo) =>
    pattern.replace(WILDCARD_TEXT, (whole, name: string) => {
      const i = keys.indexOf(name);
      return i < 0 ? whole : combo[i]!;
    }),
  );
}

/** Every combination of one value per list, last list fastest. */
function product(lists: string[][]): string[][] {
  const out: string[][] = [];
  if (lists.some((l) => l.length === 0)) return out;
  const idx = new Array<number>(lists.length).fill(0);
  for (;;) {
    out.push(lists.map((l, i) => l[idx[i]!]!));
    let i = lists.length - 1;
    while (i >= 0) {
      idx[i]!++;
      if (idx[i]! < lists[i]!.length) break;
      idx[i] = 0;
      i--;
    }
    if (i < 0) return out;
  }
}

/** `rule[w1=a,w2=b]`, or `rule` when the job has no wildcards. */
export function jobKey(rule: string, names: readonly string[], wildcards: Readonly<Record<string, string>>): string {
  if (names.length === 0) return rule;
  let s = rule + "[";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) s += ",";
    s += names[i]! + "=" + wildcards[names[i]!]!;
  }
  return s + "]";
}

/**
 * Reject wildcard values that would make a path leave the project or break a command line:
 * a `..` path segment, a newline, a carriage return or a NUL. Quoting already makes every other
 * value inert in `shell`.
 */
export function checkWildcardValue(rule: string, name: string, value: string): void {
  let why: string | undefined;
  // Fast path first: this runs once per wildcard of every job.
  if (!value.includes("..") && !/[\n\r\0]/.test(value)) return;
  if (/[\n\r\0]/.test(value)) why = "contains a newline or control character";
  else if (value.split("/").includes("..")) why = "has a '..' path segment (a path escaping the project)";
  if (why !== undefined) {
    throw new CorralError(
      "E_WORKFLOW",
      `Unsafe wildcard value: rule '${rule}' wildcard '${name}' = ${JSON.stringify(value)} ${why}`,
      { hint: "Rename the target, or add a wildcard_constraints entry for this wildcard." },
    );
  }
}

function formatSlots(
  slots: ReadonlyArray<Slot | OutSlot>,
  wildcards: Record<string, string>,
  where: string,
  call?: (fn: RuleFn<unknown>, key: string) => unknown,
): { flat: string[]; named: Record<string, string[]>; marks?: Array<MarkerName | undefined> } {
  const flat: string[] = [];
  let named = EMPTY_NAMED;
  // Markers aligned with `flat`, only when some pattern carries one.
  const marks: Array<MarkerName | undefined> | undefined = slots.some((s) => s.marks.some((m) => m !== undefined)) ? [] : undefined;
  for (const s of slots) {
    const list: string[] = [];
    for (const [i, p] of s.patterns.entries()) {
      if (typeof p === "function") {
        // An input entry computed for this job: literal paths.
        const paths = pathList(call!(p, s.name !== undefined ? `input.${s.name}` : "input"));
        list.push(...paths);
        flat.push(...paths);
        if (marks) for (const _ of paths) marks.push(undefined);
        continue;
      }
      const path = p.isLiteral ? p.source : p.format(wildcards, where);
      list.push(path);
      flat.push(path);
      marks?.push(s.marks[i]);
    }
    if (s.name !== undefined) {
      if (named === EMPTY_NAMED) named = {};
      named[s.name] = list;
    }
  }
  return marks ? { flat, named, marks } : { flat, named };
}

/** Parse one expand value: a list, a scalar, `range(a[,b[,s]])` or a comma list. */
export function expandValues(key: string, v: ConfigValue, where = "Target expand"): string[] {
  const bad = (why: string): CorralError =>
    new CorralError("E_WORKFLOW", `${where}: values of '${key}' ${why}`);
  if (Array.isArray(v)) {
    return v.map((x) => {
      if (x === null || typeof x === "object") throw bad("must be strings, numbers or booleans");
      return String(x);
    });
  }
  if (typeof v === "number" || typeof v === "boolean") return [String(v)];
  if (typeof v !== "string") throw bad("must be a list or a string such as 'range(3)' or 'a,b'");
  const s = v.trim();
  const m = /^range\((.*)\)$/.exec(s);
  if (m !== null) {
    const args = m[1]!.split(",").map((a) => a.trim());
    const nums = args.map(Number);
    if (args.length < 1 || args.length > 3 || nums.some((n) => !Number.isInteger(n))) {
      throw bad(`'${s}': range takes 1 to 3 integers: range(stop), range(start, stop[, step])`);
    }
    const [start, stop, step] =
      nums.length === 1 ? [0, nums[0]!, 1] : [nums[0]!, nums[1]!, nums[2] ?? 1];
    if (step === 0) throw bad(`'${s}': range step must not be 0`);
    const out: string[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(String(i));
    return out;
  }
  const parts = s.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) throw bad(`'${s}' has an empty item`);
  return parts;
}

/** The paths an expand target names, in product order (last key fastest). */
export function expandTarget(t: { expand: string; [w: string]: ConfigValue }): string[] {
  const pattern = new Pattern(t.expand, {}, `Target expand '${t.expand}'`);
  const keys = Object.keys(t).filter((k) => k !== "expand");
  for (const k of keys) {
    if (!pattern.names.includes(k)) {
      throw new CorralError("E_WORKFLOW", `Target expand '${t.expand}' has no wildcard '{${k}}'`);
    }
  }
  for (const n of pattern.names) {
    if (!keys.includes(n)) {
      throw new CorralError("E_WORKFLOW", `Target expand '${t.expand}': no values given for '{${n}}'`);
    }
  }
  const lists = keys.map((k) => expandValues(k, t[k]!));
  return product(lists).map((combo) => {
    const wc: Record<string, string> = {};
    for (let i = 0; i < keys.length; i++) wc[keys[i]!] = combo[i]!;
    return pattern.format(wc);
  });
}

/**
 * Build the DAG backwards from the targets.
 *
 * Throws `E_WORKFLOW` for: a missing input no rule makes, two rules that make one file, a cycle,
 * a wildcard value breaking its constraint or escaping the project, a rule input with a wildcard
 * not in its output, a bad target. Runs in time linear in jobs (one pattern-index lookup per
 * distinct file) with an explicit stack, so deep chains do not overflow the JS stack.
 */
export function buildDag(input: BuildDagInput): Dag {
  const compiled: CompiledRule[] = [];
  const byName = new Map<string, CompiledRule>();
  const index = new PatternIndex<{ rule: CompiledRule; slot: number }>();
  for (const spec of input.rules) {
    if (byName.has(spec.name)) throw new CorralError("E_WORKFLOW", `Rule '${spec.name}' is defined twice`);
    const c = compileRule(spec);
    compiled.push(c);
    byName.set(spec.name, c);
    let slot = 0;
    for (const s of c.outputs) for (const p of s.patterns) index.add(p, { rule: c, slot: slot++ });
  }

  const produced = new Map<string, Node>();
  const ruleTargets = new Map<string, Node>();
  const sources = new Set<string>();
  const order: Job[] = [];

  const config = deepFreeze(input.config ?? {});
  const evaluator = (c: CompiledRule, wildcards: Record<string, string>, attempt: number): Evaluator => {
    const ctx: RuleContext = { wildcards, config, attempt };
    const fail = (key: string, msg: string): CorralError => {
      const wc = Object.entries(wildcards).map(([k, v]) => `${k}=${v}`).join(", ");
      return new CorralError("E_WORKFLOW", `Rule '${c.spec.name}' ${key} (job ${wc ? `with ${wc}` : "without wildcards"}${attempt > 1 ? `, attempt ${attempt}` : ""}): ${msg}`, {
        hint: "A rule's functions get { wildcards, config, attempt } and return plain values synchronously.",
        ...(input.file !== undefined ? { location: { file: input.file, key: `rules.${c.spec.name}.${key}` } } : {}),
      });
    };
    const call = (fn: RuleFn<unknown>, key: string): unknown => {
      let v: unknown;
      try {
        v = fn(ctx);
      } catch (e) {
        throw fail(key, `the function threw: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (v instanceof Promise) throw fail(key, "the function returned a Promise; rule functions must return their value directly");
      return v;
    };
    return { call, fail };
  };
  const normalize = input.normalizeResources ?? defaultResources;
  const evalParams = (c: CompiledRule, ev: Evaluator): Record<string, ConfigValue> => {
    let p: unknown = c.spec.params;
    if (typeof p === "function") p = ev.call(p as RuleFn<unknown>, "params");
    if (!isPlainObject(p)) throw ev.fail("params", `must be a map of names to values, got ${describe(p)}`);
    const out: Record<string, ConfigValue> = {};
    for (const [k, v0] of Object.entries(p)) {
      const v = typeof v0 === "function" ? ev.call(v0 as RuleFn<unknown>, `params.${k}`) : v0;
      if (!isPlainValue(v)) throw ev.fail(`params.${k}`, `must be a plain value (string, number, boolean, null, list or map), got ${describe(v)}`);
      out[k] = v;
    }
    return out;
  };
  const evalResources = (c: CompiledRule, ev: Evaluator): RuleResources => {
    let r: unknown = c.spec.resources;
    if (typeof r === "function") r = ev.call(r as RuleFn<unknown>, "resources");
    if (!isPlainObject(r)) throw ev.fail("resources", `must be a map such as {cpus: 2, mem: "8G"}, got ${describe(r)}`);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) raw[k] = typeof v === "function" ? ev.call(v as RuleFn<unknown>, `resources.${k}`) : v;
    try {
      return normalize(raw);
    } catch (e) {
      throw ev.fail("resources", (e as Error).message);
    }
  };
  const evalCommand = (c: CompiledRule, ev: Evaluator): { shell?: string; run?: string[] } => {
    const { shell, run } = c.spec;
    if (typeof shell === "function") {
      const v = ev.call(shell, "shell");
      if (typeof v !== "string") throw ev.fail("shell", `must return a command line (a string), got ${describe(v)}`);
      return { shell: v };
    }
    if (typeof run === "function") {
      const v = ev.call(run, "run");
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string")) throw ev.fail("run", `must return argv (a non-empty list of strings), got ${describe(v)}`);
      return { run: v as string[] };
    }
    return {};
  };

  const makeNode = (c: CompiledRule, wildcards: Record<string, string>): Node => {
    const rule = c.spec.name;
    for (const n of c.names) checkWildcardValue(rule, n, wildcards[n]!);
    const where = `Rule '${rule}'`;
    const outs = formatSlots(c.outputs, wildcards, where);
    const ev = evaluator(c, wildcards, 1);
    let ins: { flat: string[]; named: Record<string, string[]>; marks?: Array<MarkerName | undefined> };
    if (c.inputFn !== undefined) {
      const v = ev.call(c.inputFn, "input");
      ins = literalSlots(v, (msg) => ev.fail("input", msg));
    } else {
      ins = formatSlots(c.inputs, wildcards, where, (fn, key) => {
        const v = ev.call(fn, key);
        if (typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"))) return v;
        throw ev.fail(key, `must return a path or a list of paths, got ${describe(v)}`);
      });
    }
    const logs = c.logs.length ? formatSlots(c.logs, wildcards, where) : { flat: EMPTY_LIST, named: EMPTY_NAMED };
    const params = c.dynParams ? evalParams(c, ev) : c.params;
    const resources = c.dynResources ? evalResources(c, ev) : c.resources;
    const command = c.dynCommand ? evalCommand(c, ev) : undefined;
    const spec = (c.dynParams || c.dynCommand ? { ...c.spec, ...(c.dynParams ? { params } : {}), ...command } : c.spec) as JobRuleSpec;
    const job: Job = {
      id: -1,
      rule,
      wildcards,
      inputs: ins.flat,
      namedInputs: ins.named,
      outputs: outs.flat,
      namedOutputs: outs.named,
      log: logs.flat,
      namedLog: logs.named,
      deps: [],
      params,
      resources,
      priority: c.spec.priority ?? 0,
      key: jobKey(rule, c.names, wildcards),
      spec,
      temp: c.marked ? markedPaths(outs.marks, outs.flat, "temp") : EMPTY_LIST,
      protected: c.marked ? markedPaths(outs.marks, outs.flat, "protected") : EMPTY_LIST,
      ancient: c.marked ? markedPaths(ins.marks, ins.flat, "ancient") : EMPTY_LIST,
    };
    const retries = c.spec.retries ?? 0;
    if (retries > 0 && (c.dynResources || c.dynCommand)) {
      // Later attempts: evaluated now, so the head (and `corral resume`) never reads the project.
      const first = JSON.stringify([resources, command ?? null]);
      const attempts: Array<JobAttempt | null> = [];
      for (let a = 2; a <= retries + 1; a++) {
        const eva = evaluator(c, wildcards, a);
        const res = c.dynResources ? evalResources(c, eva) : resources;
        const cmd = c.dynCommand ? evalCommand(c, eva) : undefined;
        attempts.push(JSON.stringify([res, cmd ?? null]) === first ? null : { resources: res, ...cmd });
      }
      if (attempts.some((x) => x !== null)) job.attempts = attempts;
    }
    const node: Node = { job, state: 0, next: 0 };
    for (const o of outs.flat) {
      const other = produced.get(o);
      if (other !== undefined) {
        throw new CorralError(
          "E_WORKFLOW",
          `Two jobs make '${o}': ${other.job.key} and ${job.key}`,
          { hint: "Give the outputs distinct paths, or constrain the wildcards." },
        );
      }
      produced.set(o, node);
    }
    return node;
  };

  const resolve = (path: string, neededBy: string): Node | null => {
    const known = produced.get(path);
    if (known !== undefined) return known;
    if (sources.has(path)) return null;
    const matches = index.lookup(path);
    let first = matches[0];
    if (first !== undefined) {
      for (let i = 1; i < matches.length; i++) {
        const m = matches[i]!;
        if (m.entry.value.rule !== first.entry.value.rule) {
          throw new CorralError(
            "E_WORKFLOW",
            `Ambiguous rules for '${path}' (needed by ${neededBy}): rule '${first.entry.value.rule.spec.name}' ` +
              `(output '${first.entry.pattern.source}') and rule '${m.entry.value.rule.spec.name}' ` +
              `(output '${m.entry.pattern.source}') both make it`,
            { hint: "Add wildcard_constraints to one rule, or change one output pattern, so only one rule matches." },
          );
        }
      }
      first = first!;
      return makeNode(first.entry.value.rule, first.wildcards);
    }
    if (input.exists(path)) {
      sources.add(path);
      return null;
    }
    const v = index.violations(path)[0];
    if (v !== undefined) {
      throw new CorralError(
        "E_WORKFLOW",
        `Wildcard constraint: rule '${v.entry.value.rule.spec.name}' output '${v.entry.pattern.source}' would make ` +
          `'${path}' (needed by ${neededBy}), but wildcard '${v.wildcard}' = '${v.value}' does not match regex '${v.regex}'`,
        { hint: `Check the path (is '${v.value}' a typo?), or widen the rule's wildcard_constraints.${v.wildcard} if such a value is meant to be built.` },
      );
    }
    throw new CorralError(
      "E_WORKFLOW",
      `Missing input: no rule makes '${path}' and it does not exist (needed by ${neededBy})`,
      { hint: "Check the path, create the file, or add a rule whose output pattern matches it." },
    );
  };

  const visit = (root: Node): void => {
    if (root.state === 2) return;
    const stack: Node[] = [root];
    root.state = 1;
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!;
      const inputs = n.job.inputs;
      if (n.next < inputs.length) {
        const p = resolve(inputs[n.next++]!, n.job.key);
        if (p === null) continue;
        if (p.state === 1) {
          const from = stack.indexOf(p);
          const cycle = stack.slice(from).map((x) => x.job.key);
          throw new CorralError(
            "E_WORKFLOW",
            `Cycle in the workflow: ${[...cycle, p.job.key].join(" -> ")}`,
            { hint: "Each arrow is 'needs an output of'; a rule cannot need its own output." },
          );
        }
        if (p.state === 0) {
          if (stack.length >= MAX_CHAIN_DEPTH) {
            throw new CorralError(
              "E_WORKFLOW",
              `Dependency chain deeper than ${MAX_CHAIN_DEPTH} jobs (now at ${p.job.key}, needed by ${n.job.key}): ` +
                `a rule probably matches its own input pattern again and again`,
              { hint: "Constrain the wildcard (wildcard_constraints) so the rule cannot match its own input." },
            );
          }
          p.state = 1;
          stack.push(p);
        }
        continue;
      }
      // Finished: every producer is finished too, so its final id is known. Looking producers
      // up again here is cheaper than keeping a producer list per job alive during the build.
      const job = n.job;
      job.id = order.length;
      for (const i of inputs) {
        const p = produced.get(i);
        if (p !== undefined && !job.deps.includes(p.job.id)) job.deps.push(p.job.id);
      }
      n.state = 2;
      order.push(job);
      stack.pop();
    }
  };

  // Target node -> the files asked of it (null: a rule target, all its outputs).
  const targeted = new Map<Node, string[] | null>();
  const aim = (node: Node, file: string | null): void => {
    const had = targeted.get(node);
    if (had === null) return;
    targeted.set(node, file === null ? null : [...(had ?? []), file]);
  };
  for (const t of input.targets) {
    if (typeof t === "string") {
      const c = byName.get(t);
      if (c !== undefined) {
        if (c.names.length > 0) {
          throw new CorralError(
            "E_WORKFLOW",
            `Target rule '${t}' has wildcards in its output ('${c.outputs.flatMap((s) => s.patterns)[0]!.source}'): name the files, or use an expand target`,
          );
        }
        const firstOut = c.outputs.flatMap((s) => s.patterns)[0];
        let node = firstOut !== undefined ? produced.get(firstOut.source) : ruleTargets.get(t);
        if (node === undefined || node.job.rule !== t) {
          node = makeNode(c, {});
          ruleTargets.set(t, node);
        }
        visit(node);
        aim(node, null);
        continue;
      }
      const node = resolve(t, `target '${t}'`);
      if (node !== null) {
        visit(node);
        aim(node, t);
      }
      continue;
    }
    for (const path of expandTarget(t)) {
      const node = resolve(path, `target '${path}'`);
      if (node !== null) {
        visit(node);
        aim(node, path);
      }
    }
  }
  const targets = [...targeted].map(([node, files]) => ({ job: node.job.id, files: files ?? node.job.outputs }));

  const byOutput = new Map<string, number>();
  for (const [path, node] of produced) byOutput.set(path, node.job.id);
  return { jobs: order, byOutput, sources: [...sources], rules: compiled.map((c) => c.spec.name), targets };
}

interface Evaluator {
  call: (fn: RuleFn<unknown>, key: string) => unknown;
  fail: (key: string, msg: string) => CorralError;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A config value: string, finite number, boolean, null, ConfigFloat, or lists and plain maps of them. */
function isPlainValue(v: unknown): v is ConfigValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || v instanceof ConfigFloat) return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isPlainValue);
  return isPlainObject(v) && Object.values(v).every(isPlainValue);
}

/** A short description of a wrong value, for messages. */
function describe(v: unknown): string {
  if (v === undefined) return "undefined (did the function forget to return?)";
  if (typeof v === "function") return "a function";
  if (v instanceof Promise) return "a Promise";
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    text = undefined;
  }
  text ??= String(v);
  return `${Array.isArray(v) ? "a list" : typeof v === "object" && v !== null ? "a map" : typeof v} ${text.length > 60 ? text.slice(0, 60) + "..." : text}`;
}

function pathList(v: unknown): string[] {
  return typeof v === "string" ? [v] : (v as string[]);
}

/** The files an input function returned (a path, a list, or a map of names to path(s)), taken literally. */
function literalSlots(v: unknown, fail: (msg: string) => CorralError): { flat: string[]; named: Record<string, string[]> } {
  const isList = (x: unknown): x is string[] => Array.isArray(x) && x.every((y) => typeof y === "string");
  if (typeof v === "string") return { flat: [v], named: EMPTY_NAMED };
  if (isList(v)) return { flat: [...v], named: EMPTY_NAMED };
  if (isPlainObject(v) && Object.values(v).every((x) => typeof x === "string" || isList(x))) {
    const named: Record<string, string[]> = {};
    const flat: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      named[k] = pathList(x);
      flat.push(...named[k]);
    }
    return { flat, named };
  }
  throw fail(`must return a path, a list of paths or a map of names to path(s), got ${describe(v)}`);
}

/** Resources as a function returned them, when no normaliser is given: numbers and a mem string. */
function defaultResources(raw: Record<string, unknown>): RuleResources {
  const out: RuleResources = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (k === "mem" && typeof v === "string") out.mem = v;
    else if ((k === "cpus" || k === "gpus" || k === "timeout") && typeof v === "number" && v >= 0) out[k] = v;
    else throw new Error(`resources.${k}: unexpected value ${JSON.stringify(v)}`);
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Shell-quote one word, single-quote style; plain words (`[A-Za-z0-9_@%+=:,./-]`) stay bare. */
export function shellQuote(s: string): string {
  if (s !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

/** Words of a param value: lists flatten, maps become JSON, null an empty word. */
function valueWords(v: ConfigValue, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) valueWords(x, out);
  else if (v === null) out.push("");
  else if (typeof v === "object" && !(v instanceof ConfigFloat)) out.push(JSON.stringify(v));
  else out.push(String(v));
  return out;
}

const PLACEHOLDER = /^([A-Za-z_]+)(?:\.([A-Za-z_][A-Za-z0-9_]*))?(?:\[(\d+)\])?$/;

type Fail = (msg: string) => CorralError;

/**
 * Walk a template, calling `sub` with the words of each placeholder; `{{`/`}}` are literal.
 * Returns the literal and substituted pieces in order (placeholders as word lists).
 */
function scanTemplate(template: string, job: Job, fail: Fail): Array<string | string[]> {
  const parts: Array<string | string[]> = [];
  let lit = "";
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === "{" && template[i + 1] === "{") {
      lit += "{";
      i += 2;
    } else if (ch === "}" && template[i + 1] === "}") {
      lit += "}";
      i += 2;
    } else if (ch === "}") {
      throw fail(`unmatched '}' at column ${i + 1}`);
    } else if (ch === "{") {
      const end = template.indexOf("}", i);
      if (end < 0) throw fail(`unclosed '{' at column ${i + 1}`);
      if (lit !== "") parts.push(lit);
      lit = "";
      parts.push(substitute(template.slice(i + 1, end).trim(), job, fail));
      i = end + 1;
    } else {
      lit += ch;
      i++;
    }
  }
  if (lit !== "") parts.push(lit);
  return parts;
}

const failFor =
  (job: Job, what: string): Fail =>
  (msg) =>
    new CorralError("E_WORKFLOW", `Rule '${job.rule}' ${what}: ${msg}`, {
      hint: "Placeholders: {input} {input.NAME} {input[N]} {output…} {log…} {wildcards.W} {params.P} {resources.R} {threads}; write {{ and }} for literal braces.",
    });

/**
 * Substitute `{input}`, `{input.name}`, `{input[0]}`, `{output…}`, `{log…}`, `{wildcards.w}`,
 * `{params.p}`, `{resources.r}` and `{threads}` in a shell template; `{{`/`}}` are literal braces.
 * Every substituted value is shell-quoted and lists are space-joined, so wildcard values such as
 * `$(rm -rf ~)` reach the command as plain words.
 */
export function renderShell(template: string, job: Job): string {
  let out = "";
  for (const p of scanTemplate(template, job, failFor(job, "shell"))) {
    out += typeof p === "string" ? p : p.map(shellQuote).join(" ");
  }
  return out;
}

/**
 * Substitute placeholders in a `run` argv (no shell, so nothing is quoted). An element that is
 * exactly one placeholder of a list (`{input}`) becomes one argument per file; inside a longer
 * element a list is space-joined.
 */
export function renderArgv(argv: readonly string[], job: Job): string[] {
  const fail = failFor(job, "run");
  const out: string[] = [];
  for (const el of argv) {
    const parts = scanTemplate(el, job, fail);
    const only = parts[0];
    if (parts.length === 1 && Array.isArray(only)) out.push(...only);
    else out.push(parts.map((p) => (typeof p === "string" ? p : p.join(" "))).join(""));
  }
  return out;
}

function substitute(expr: string, job: Job, fail: Fail): string[] {
  const m = PLACEHOLDER.exec(expr);
  if (m === null) throw fail(`unknown placeholder '{${expr}}'`);
  const [, head, attr, idxText] = m;
  const idx = idxText === undefined ? undefined : Number(idxText);
  const files = (flat: string[], named: Record<string, string[]>): string[] => {
    let list = flat;
    if (attr !== undefined) {
      const l = named[attr];
      if (l === undefined) throw fail(`'{${expr}}': no ${head} named '${attr}'`);
      list = l;
    }
    if (idx !== undefined) {
      const f = list[idx];
      if (f === undefined) throw fail(`'{${expr}}': index ${idx} is out of range (${list.length} files)`);
      return [f];
    }
    return list;
  };
  switch (head) {
    case "input":
      return files(job.inputs, job.namedInputs);
    case "output":
      return files(job.outputs, job.namedOutputs);
    case "log":
      return files(job.log, job.namedLog);
    case "threads":
      if (attr !== undefined || idx !== undefined) break;
      return [String(job.resources.cpus ?? 1)];
    case "wildcards": {
      if (idx !== undefined) break;
      if (attr === undefined) return Object.values(job.wildcards);
      const v = job.wildcards[attr];
      if (v === undefined) throw fail(`'{${expr}}': the rule has no wildcard '${attr}'`);
      return [v];
    }
    case "params": {
      if (attr === undefined) {
        if (idx !== undefined) break;
        const out: string[] = [];
        for (const v of Object.values(job.params)) valueWords(v, out);
        return out;
      }
      const v = job.params[attr];
      if (v === undefined) throw fail(`'{${expr}}': the rule has no params.${attr}`);
      if (idx !== undefined) {
        if (!Array.isArray(v) || v[idx] === undefined) throw fail(`'{${expr}}': not a list item`);
        return valueWords(v[idx]);
      }
      return valueWords(v);
    }
    case "resources": {
      if (attr === undefined || idx !== undefined) break;
      const v = (job.resources as Record<string, unknown>)[attr];
      if (v === undefined) throw fail(`'{${expr}}': the rule sets no resources.${attr}`);
      return [String(v as string | number)];
    }
  }
  throw fail(`unknown placeholder '{${expr}}'`);
}
