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
import type { ConfigValue } from "./types.js";

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

/** One rule as the project file gives it (validated by the project schema). */
export interface RuleSpec {
  name: string;
  input: PathSpec;
  output: PathSpec;
  params?: Record<string, ConfigValue>;
  shell?: string;
  run?: string[];
  resources?: RuleResources;
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
  /** The rule's params (shared by all jobs of the rule; do not mutate). */
  params: Record<string, ConfigValue>;
  /** The rule's resources (shared; do not mutate). */
  resources: RuleResources;
  priority: number;
  /** `rule[w1=a,w2=b]`, or just `rule` without wildcards; unique in the DAG. */
  key: string;
  /** The rule this job instantiates (shared). */
  spec: RuleSpec;
  /** Outputs marked `temp` (shared empty list when none). */
  temp: string[];
  /** Outputs marked `protected`. */
  protected: string[];
  /** Inputs marked `ancient`. */
  ancient: string[];
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
}

/** A dependency chain deeper than this is a rule feeding on its own output pattern. */
export const MAX_CHAIN_DEPTH = 10_000;

interface Slot {
  name: string | undefined;
  patterns: Pattern[];
  /** Marker of each pattern. */
  marks: Array<MarkerName | undefined>;
}

interface CompiledRule {
  spec: RuleSpec;
  /** Output wildcard names, in order of first occurrence: the order of job keys. */
  names: string[];
  outputs: Slot[];
  inputs: Slot[];
  logs: Slot[];
  /** Whether any output/input pattern is marked (else the job's marker lists are shared empties). */
  marked: boolean;
  params: Record<string, ConfigValue>;
  resources: RuleResources;
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

/** The formatted paths of the slots' patterns that carry `mark`. */
function markedPaths(slots: Slot[], flat: string[], mark: MarkerName): string[] {
  let out = EMPTY_LIST;
  let i = 0;
  for (const s of slots) {
    for (const m of s.marks) {
      if (m === mark) (out === EMPTY_LIST ? (out = []) : out).push(flat[i]!);
      i++;
    }
  }
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
  const checkSubset = (kind: string) => (s: RawSlot): Slot => ({
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
  const inputs = slotsOf(spec.input, rule, "input", ["ancient"]).map(checkSubset("input"));
  return {
    spec,
    names: outNames,
    outputs,
    inputs,
    logs: slotsOf(spec.log, rule, "log").map(checkSubset("log")),
    marked: [...outputs, ...inputs].some((s) => s.marks.some((m) => m !== undefined)),
    params: spec.params ?? EMPTY_PARAMS,
    resources: spec.resources ?? EMPTY_RESOURCES,
  };
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
  slots: Slot[],
  wildcards: Record<string, string>,
  where: string,
): { flat: string[]; named: Record<string, string[]> } {
  const flat: string[] = [];
  let named = EMPTY_NAMED;
  for (const s of slots) {
    const list: string[] = [];
    for (const p of s.patterns) {
      const path = p.isLiteral ? p.source : p.format(wildcards, where);
      list.push(path);
      flat.push(path);
    }
    if (s.name !== undefined) {
      if (named === EMPTY_NAMED) named = {};
      named[s.name] = list;
    }
  }
  return { flat, named };
}

/** Parse one expand value: a list, a scalar, `range(a[,b[,s]])` or a comma list. */
export function expandValues(key: string, v: ConfigValue): string[] {
  const bad = (why: string): CorralError =>
    new CorralError("E_WORKFLOW", `Target expand: values of '${key}' ${why}`);
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
  const out: string[] = [];
  const idx = new Array<number>(keys.length).fill(0);
  if (lists.some((l) => l.length === 0)) return out;
  const wc: Record<string, string> = {};
  for (;;) {
    for (let i = 0; i < keys.length; i++) wc[keys[i]!] = lists[i]![idx[i]!]!;
    out.push(pattern.format(wc));
    let i = keys.length - 1;
    while (i >= 0) {
      idx[i]!++;
      if (idx[i]! < lists[i]!.length) break;
      idx[i] = 0;
      i--;
    }
    if (i < 0) return out;
  }
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

  const makeNode = (c: CompiledRule, wildcards: Record<string, string>): Node => {
    const rule = c.spec.name;
    for (const n of c.names) checkWildcardValue(rule, n, wildcards[n]!);
    const where = `Rule '${rule}'`;
    const outs = formatSlots(c.outputs, wildcards, where);
    const ins = formatSlots(c.inputs, wildcards, where);
    const logs = c.logs.length ? formatSlots(c.logs, wildcards, where) : { flat: EMPTY_LIST, named: EMPTY_NAMED };
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
      params: c.params,
      resources: c.resources,
      priority: c.spec.priority ?? 0,
      key: jobKey(rule, c.names, wildcards),
      spec: c.spec,
      temp: c.marked ? markedPaths(c.outputs, outs.flat, "temp") : EMPTY_LIST,
      protected: c.marked ? markedPaths(c.outputs, outs.flat, "protected") : EMPTY_LIST,
      ancient: c.marked ? markedPaths(c.inputs, ins.flat, "ancient") : EMPTY_LIST,
    };
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
