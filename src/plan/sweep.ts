/**
 * Sweep expansion: command-line sweep overrides (Hydra's BasicSweeper semantics) combined with
 * project-file grids (`sweep:` in corral.yaml: one grid or a list of grids, each a map of
 * key -> list | sweep-grammar string | scalar, plus an optional `zip:` of paired lists).
 *
 * The plan is LAZY: per-axis values are parsed and spelled once, and run i is a mixed-radix
 * decode of i (first axis varies slowest, like itertools.product). PURE: the caller supplies a
 * config group's option names for glob() and, optionally, a random source for unseeded shuffles.
 */
import { CorralError } from "../errors.js";
import { ConfigFloat, withoutFloats } from "./float.js";
import { float, INTERVAL_IN_GRID, mulberry32, parseOverride, shuffleInPlace, toConfigValue } from "./overrides.js";
import { formatValue, keyElement } from "./pyformat.js";
import type { ConfigValue, ElementValue, Override, SweepValue } from "./types.js";

/** Inputs of `expandSweep`. */
export interface SweepInput {
  /** Parsed command-line overrides, in order (sweeps and plain ones). */
  overrides: Override[];
  /**
   * The project file's `sweep:` value as loaded from YAML: one grid (a map) or a list of grids.
   * YAML floats arrive as ConfigFloat (`1.0` stays a float); plain whole numbers are ints.
   */
  grids?: unknown;
  /** Where `grids` came from, for error messages. @default {file: "corral.yaml", key: "sweep"} */
  gridSource?: { file: string; line?: number; key?: string };
  /** Option names of a config group (`db`, `server/db`), for glob(). Required only when a glob is used. */
  groupOptions?: (group: string) => string[];
  /** Random source for shuffle() without a seed. @default Math.random */
  random?: () => number;
}

/** A lazily expanded sweep. Returned arrays are fresh; the Override objects inside are shared and frozen. */
export interface SweepPlan {
  /** Number of runs (after removing duplicates). */
  size: number;
  /** Concrete (non-sweep) overrides of run i, in order. */
  run(i: number): Override[];
  /** Hydra spelling of run i's overrides, one `key=value` per override (`b=10.0`, `+x=True`, `~y`). */
  spelled(i: number): string[];
  /** Values of the swept keys of run i (key, or `group@pkg`) as plain JSON values (floats as numbers). */
  params(i: number): Record<string, ConfigValue>;
}

/** True when the override is a sweep (`a=1,2`, `choice`, `range`, `glob`). */
export function isSweepOverride(o: Override): boolean {
  return o.isSweep;
}

/** Largest axis a range() may produce; larger is almost surely a typo. */
const MAX_AXIS = 10_000_000;
/**
 * Most runs one sweep may have. Beyond it a sweep is a typo (a range without its step, one axis
 * too many) more often than a plan: every run is composed, listed in the manifest and given a
 * folder, so a sweep of 10^10 runs would start planning and never end.
 */
export const MAX_RUNS = 10_000_000;

/** One value of one axis: a tuple (one entry per key of the axis). */
interface AxisPoint {
  overrides: Override[];
  spelled: string[];
  params: ConfigValue[];
  /** Spelled tuple joined, for duplicate detection. */
  id: string;
}

interface Axis {
  /** Key elements (`+a`, `db@pkg`), one per member. */
  keys: string[];
  /** Parameter names (key or key@pkg). */
  names: string[];
  points: AxisPoint[];
  /** False for a fixed grid entry (a one-value axis that is not a sweep). */
  swept: boolean;
  fromGrid: boolean;
}

type Slot = { fixed: Override; spelled: string } | { axis: number; member: number };

interface Segment {
  axes: Axis[];
  slots: Slot[];
  lens: number[];
  /** Number of axes that come from the grid (they precede the command-line axes). */
  gridAxes: number;
  gridSize: number;
  cliSize: number;
  /** Kept grid combinations when some were duplicates of an earlier grid; undefined: all kept. */
  kept?: Uint32Array;
  size: number;
}

const paramName = (o: Pick<Override, "key" | "pkg">): string => (o.pkg !== undefined ? `${o.key}@${o.pkg}` : o.key);

function freeze<T extends object>(o: T): T {
  return Object.freeze(o);
}

/** Expands command-line sweeps and project grids into a lazy plan. */
export function expandSweep(input: SweepInput): SweepPlan {
  const src = input.gridSource ?? { file: "corral.yaml", key: "sweep" };
  const ctx: Ctx = { input, src };
  const cli = input.overrides;
  const cliNames = new Set(cli.map(paramName));

  // Command-line part, shared by every grid: fixed slots and sweep axes in override order.
  const cliAxes: Axis[] = [];
  const cliSlots: Array<{ fixed: Override; spelled: string } | { cliAxis: number }> = [];
  // Before any axis is made: every run is on the command line's axes, so their product alone may
  // be refused, counted from the ranges' bounds (three axes of ten million values would not fit
  // in memory as values).
  const counted = cli.filter((o) => o.isSweep).map((o) => ({ name: paramName(o), n: sweepCount(o.value as SweepValue, o.key, input), fromGrid: false }));
  const cliRuns = product(counted.map((c) => c.n));
  if (cliRuns > MAX_RUNS) tooManyRuns(cliRuns, counted, src);
  for (const o of cli) {
    if (o.isSweep) {
      cliSlots.push({ cliAxis: cliAxes.length });
      cliAxes.push(axisFromSweep(ctx, o, o.value as SweepValue, undefined));
    } else {
      cliSlots.push({ fixed: freeze({ ...o }), spelled: spellFixed(o) });
    }
  }

  const grids = normalizeGrids(ctx, input.grids);
  const gridAxesList: Array<Array<Axis | { replacedBy: string }>> = grids.length === 0 ? [[]] : grids.map((g, gi) => gridAxes(ctx, g, Array.isArray(input.grids) ? `${src.key ?? "sweep"}[${gi}]` : (src.key ?? "sweep"), cliNames));

  const segments: Segment[] = gridAxesList.map((entries) => {
    // As Hydra's basic sweeper: a command-line override of a grid key takes the grid key's place
    // (its values, at its position); the others follow the grid, in command-line order.
    const taken = new Set<number>();
    const gAxes: Axis[] = entries.map((e) => {
      if (!("replacedBy" in e)) return e;
      const j = cli.findIndex((o) => paramName(o) === e.replacedBy);
      taken.add(j);
      const s = cliSlots[j]!;
      return "cliAxis" in s ? cliAxes[s.cliAxis]! : fixedAxis(s.fixed, s.spelled);
    });
    const restAxes: Axis[] = [];
    const slots: Slot[] = [];
    gAxes.forEach((a, ai) => a.keys.forEach((_, m) => slots.push({ axis: ai, member: m })));
    cliSlots.forEach((s, j) => {
      if (taken.has(j)) return;
      if ("cliAxis" in s) {
        slots.push({ axis: gAxes.length + restAxes.length, member: 0 });
        restAxes.push(cliAxes[s.cliAxis]!);
      } else slots.push(s);
    });
    const axes = [...gAxes, ...restAxes];
    const lens = axes.map((a) => a.points.length);
    const gridSize = product(lens.slice(0, gAxes.length));
    const cliSize = product(lens.slice(gAxes.length));
    return { axes, slots, lens, gridAxes: gAxes.length, gridSize, cliSize, size: product([gridSize, cliSize]) };
  });

  if (segments.length > 1) dedupeSegments(segments);

  const starts: number[] = [];
  let total = 0;
  for (const s of segments) {
    starts.push(total);
    total += s.size;
  }
  if (total > MAX_RUNS) {
    const widest = segments.reduce((x, y) => (y.size > x.size ? y : x));
    tooManyRuns(total, widest.axes.map((a) => ({ name: a.names.join(","), n: a.points.length, fromGrid: a.fromGrid })), src);
  }

  // Scratch for the decoded axis indices; the plan's methods are synchronous, so one is enough.
  const maxAxes = Math.max(0, ...segments.map((s) => s.axes.length));
  const digits = new Int32Array(maxAxes);

  const locate = (i: number): Segment => {
    if (!Number.isInteger(i) || i < 0 || i >= total) throw new RangeError(`run index ${i} is outside 0..${total - 1}`);
    let k = 0;
    if (segments.length > 1) {
      let lo = 0;
      let hi = segments.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= i) lo = mid;
        else hi = mid - 1;
      }
      k = lo;
    }
    const seg = segments[k]!;
    let local = i - starts[k]!;
    if (seg.kept) {
      // Only whole grid combinations are dropped: map the kept index back to the full one.
      const g = Math.floor(local / seg.cliSize);
      local = seg.kept[g]! * seg.cliSize + (local - g * seg.cliSize);
    }
    for (let a = seg.lens.length - 1; a >= 0; a--) {
      const len = seg.lens[a]!;
      const d = local % len;
      digits[a] = d;
      local = (local - d) / len;
    }
    return seg;
  };

  return {
    size: total,
    run(i) {
      const seg = locate(i);
      const out = new Array<Override>(seg.slots.length);
      for (let j = 0; j < seg.slots.length; j++) {
        const s = seg.slots[j]!;
        out[j] = "fixed" in s ? s.fixed : seg.axes[s.axis]!.points[digits[s.axis]!]!.overrides[s.member]!;
      }
      return out;
    },
    spelled(i) {
      const seg = locate(i);
      const out = new Array<string>(seg.slots.length);
      for (let j = 0; j < seg.slots.length; j++) {
        const s = seg.slots[j]!;
        out[j] = "fixed" in s ? s.spelled : seg.axes[s.axis]!.points[digits[s.axis]!]!.spelled[s.member]!;
      }
      return out;
    },
    params(i) {
      const seg = locate(i);
      const out: Record<string, ConfigValue> = {};
      for (let a = 0; a < seg.axes.length; a++) {
        const axis = seg.axes[a]!;
        if (!axis.swept) continue;
        const p = axis.points[digits[a]!]!;
        for (let m = 0; m < axis.names.length; m++) out[axis.names[m]!] = p.params[m]!;
      }
      return out;
    },
  };
}

interface Ctx {
  input: SweepInput;
  src: { file: string; line?: number; key?: string };
}

/**
 * Refuse a sweep of more than MAX_RUNS runs, naming its axes with their sizes, placed at the
 * largest: a command-line override, or the project's sweep key.
 */
function tooManyRuns(total: number, axes: Array<{ name: string; n: number; fromGrid: boolean }>, src: Ctx["src"]): never {
  const swept = axes.filter((a) => a.n > 1);
  const largest = swept.reduce((x, y) => (y.n > x.n ? y : x), swept[0] ?? { name: "", n: 0, fromGrid: false });
  throw new CorralError("E_SWEEP", `${largest.name}: the sweep has ${total} runs (at most ${MAX_RUNS}): ${swept.map((a) => `${a.name} (${a.n})`).join(" x ")}`, {
    location: largest.fromGrid ? { file: src.file, key: `${src.key ?? "sweep"}.${largest.name}` } : { file: "<command line>", key: largest.name },
    hint: "Split the sweep, or check its ranges (a missing step or an axis too many multiplies it).",
  });
}

/**
 * How many values a sweep override's axis gets, without making them: a range from its bounds,
 * a choice's distinct values. Neither sorts nor shuffles (a shuffle
 * without a seed would draw from the random source the axis is shuffled with).
 */
function sweepCount(s: SweepValue, key: string, opts: Pick<SweepInput, "groupOptions">): number {
  if (s.kind === "range") {
    const n = Math.max(0, Math.ceil((s.stop - s.start) / s.step));
    // One range past MAX_AXIS is refused with its own message (rangeValues throws it).
    return n > MAX_AXIS ? rangeValues(s, key).length : n;
  }
  // A value listed twice is one point of its axis (axisFromValues keeps the first).
  if (s.kind === "choice") return new Set(s.values.map(formatValue)).size;
  if (s.kind === "glob") return globNames(s, key, opts).length;
  return 1; // an interval: refused where its axis is made, with its own message
}

/** The product of axis sizes (past 2^53 inexact, but then far over MAX_RUNS, which refuses it). */
function product(ns: number[]): number {
  let p = 1;
  for (const n of ns) p *= n;
  return p;
}

function spellFixed(o: Override): string {
  return o.value === undefined ? keyElement(o) : `${keyElement(o)}=${formatValue(o.value as ElementValue)}`;
}

const INTERVAL_HINT = "e.g. lr=range(0,1,0.1) or lr=0.1,0.01,0.001; or search it: corral run -m --search tpe (docs/search.md)";

/** The values a sweep stands for, in order, with sort/shuffle applied. */
export function sweepValues(s: SweepValue, key: string, opts: Pick<SweepInput, "groupOptions" | "random"> = {}): ElementValue[] {
  let values: ElementValue[];
  if (s.kind === "choice") values = [...s.values];
  else if (s.kind === "range") values = rangeValues(s, key);
  else if (s.kind === "interval") {
    throw new CorralError("E_OVERRIDE", `${key}: ${INTERVAL_IN_GRID}`, { hint: INTERVAL_HINT });
  } else values = globNames(s, key, opts);
  if (s.sort) {
    const rev = s.sort.reverse ? -1 : 1;
    values.sort((a, b) => rev * cmpSimple(a, b));
  }
  if (s.shuffle) shuffleInPlace(values, s.shuffle.seed !== undefined ? mulberry32(s.shuffle.seed) : (opts.random ?? Math.random));
  return values;
}

/** The options of config group `key` a glob() matches, in the group's order. */
function globNames(s: Extract<SweepValue, { kind: "glob" }>, key: string, opts: Pick<SweepInput, "groupOptions">): string[] {
  if (!opts.groupOptions) {
    throw new CorralError("E_SWEEP", `${key}: glob() needs a config group, and '${key}' has no options here`, { hint: "Use glob() on a config group key such as db=glob(*)." });
  }
  const inc = s.include.map(fnmatchRe);
  const exc = s.exclude.map(fnmatchRe);
  return opts.groupOptions(key).filter((n) => inc.some((r) => r.test(n)) && !exc.some((r) => r.test(n)));
}

function cmpSimple(a: ElementValue, b: ElementValue): number {
  const v = (x: ElementValue): number | string =>
    typeof x === "number" || typeof x === "string" ? x : typeof x === "object" && x !== null && !Array.isArray(x) && x.kind === "float" ? x.value : String(x);
  const x = v(a);
  const y = v(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Python's range() for ints; Hydra's FloatRange (repeated addition, as Hydra does) for floats. */
function rangeValues(s: Extract<SweepValue, { kind: "range" }>, key: string): ElementValue[] {
  const { start, stop, step } = s;
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_AXIS) throw new CorralError("E_SWEEP", `${key}: range(${start},${stop},${step}) has ${n} values (at most ${MAX_AXIS})`, { hint: "Check the bounds and the step." });
  const out: ElementValue[] = [];
  if (!s.float) {
    for (let k = 0; k < n; k++) out.push(start + k * step);
    return out;
  }
  for (let x = start; step > 0 ? x < stop : x > stop; x += step) out.push(float(x));
  return out;
}

/** Python fnmatch: `*`, `?`, `[seq]`, `[!seq]`, whole-string, case-sensitive. */
function fnmatchRe(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close < 0) re += "\\[";
      else {
        let body = glob.slice(i + 1, close).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/** A swept value as the manifest records it (JSON: a float is its number). */
const paramValue = (v: ElementValue): ConfigValue => withoutFloats(toConfigValue(v)) as ConfigValue;

/** One axis from a sweep override: its values parsed, deduplicated, spelled once. */
function axisFromSweep(ctx: Ctx, o: Override, s: SweepValue, where: string | undefined): Axis {
  if (s.kind === "interval") {
    throw new CorralError("E_OVERRIDE", `${o.input}: ${INTERVAL_IN_GRID}`, {
      location: where !== undefined ? { ...ctx.src, key: where } : { file: "<command line>" },
      hint: INTERVAL_HINT,
    });
  }
  const values = sweepValues(s, o.key, ctx.input);
  if (values.length === 0) {
    const what = s.kind === "glob" ? `glob() matched no option of config group '${o.key}'` : `${s.kind}() produced no values`;
    throw new CorralError("E_SWEEP", `${o.input}: ${what}`, {
      location: where !== undefined ? { ...ctx.src, key: where } : { file: "<command line>" },
      hint: s.kind === "glob" ? "Check the pattern against the group's options." : "Check the bounds and the sign of the step.",
    });
  }
  return axisFromValues(o, values, true);
}

/** A fixed command-line override standing in a grid key's place: one point, not a parameter. */
function fixedAxis(o: Override, spelled: string): Axis {
  const point: AxisPoint = { overrides: [o], spelled: [spelled], params: [o.value === undefined ? null : paramValue(o.value as ElementValue)], id: spelled };
  return { keys: [keyElement(o)], names: [paramName(o)], points: [point], swept: false, fromGrid: false };
}

function axisFromValues(o: Pick<Override, "type" | "key" | "pkg">, values: ElementValue[], swept: boolean): Axis {
  const k = keyElement(o);
  const seen = new Set<string>();
  const points: AxisPoint[] = [];
  for (const v of values) {
    const spelled = `${k}=${formatValue(v)}`;
    // A value listed twice would give identical runs: keep its first position only.
    if (seen.has(spelled)) continue;
    seen.add(spelled);
    const ov = freeze<Override>({ type: o.type, key: o.key, ...(o.pkg !== undefined ? { pkg: o.pkg } : {}), value: v, isSweep: false, input: spelled });
    points.push({ overrides: [ov], spelled: [spelled], params: [paramValue(v)], id: spelled });
  }
  return { keys: [k], names: [paramName(o)], points, swept, fromGrid: false };
}

// ---------------------------------------------------------------------------------------------
// Project-file grids

function gridError(ctx: Ctx, key: string, msg: string, hint?: string): CorralError {
  return new CorralError("E_SWEEP", `${key}: ${msg}`, { location: { ...ctx.src, key }, ...(hint ? { hint } : {}) });
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function normalizeGrids(ctx: Ctx, grids: unknown): Array<Record<string, unknown>> {
  if (grids === undefined || grids === null) return [];
  const key = ctx.src.key ?? "sweep";
  const list = Array.isArray(grids) ? grids : [grids];
  return list.map((g, i) => {
    if (!isMap(g)) throw gridError(ctx, Array.isArray(grids) ? `${key}[${i}]` : key, "a grid must be a map of key -> values", "e.g. sweep: {lr: [0.1, 0.01], seed: \"range(3)\"}");
    return g;
  });
}

/**
 * A YAML value as an override element. The project loader reads YAML floats as ConfigFloat
 * (`1.0` stays a float); a plain number is an int when whole (as from a TS project file).
 */
export function fromYaml(v: unknown): ElementValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof ConfigFloat) return float(v.value);
  if (typeof v === "number") return Number.isInteger(v) ? v : float(v);
  if (Array.isArray(v)) return v.map(fromYaml);
  if (isMap(v)) return { kind: "dict", entries: Object.entries(v).map(([k, x]) => [k, fromYaml(x)]) };
  return String(v as string);
}

/** Parses a grid key (`lr`, `+extra`, `db@pkg`) through the override grammar. */
function gridKey(ctx: Ctx, path: string, k: string, text?: string): Override {
  try {
    return parseOverride(text ?? `${k}=`, ctx.input.random ? { random: ctx.input.random } : {});
  } catch (e) {
    if (e instanceof CorralError) throw new CorralError("E_SWEEP", `${path}: ${e.message}`, { location: { ...ctx.src, key: path }, hint: e.hint ?? "" });
    throw e;
  }
}

function gridAxes(ctx: Ctx, grid: Record<string, unknown>, path: string, cliNames: Set<string>): Array<Axis | { replacedBy: string }> {
  const axes: Array<Axis | { replacedBy: string }> = [];
  for (const [k, v] of Object.entries(grid)) {
    const here = `${path}.${k}`;
    if (k === "zip") {
      const zip = zipAxis(ctx, v, here, cliNames);
      if (zip) axes.push(zip);
      continue;
    }
    const keyOv = gridKey(ctx, here, k);
    // A key given on the command line (swept or fixed) replaces it in every grid, in its place.
    if (cliNames.has(paramName(keyOv))) {
      axes.push({ replacedBy: paramName(keyOv) });
      continue;
    }
    let axis: Axis;
    if (Array.isArray(v)) {
      if (v.length === 0) throw gridError(ctx, here, "an empty list sweeps over nothing");
      axis = axisFromValues(keyOv, v.map(fromYaml), true);
    } else if (typeof v === "string") {
      const o = gridKey(ctx, here, k, `${k}=${v}`);
      axis = o.isSweep ? axisFromSweep(ctx, o, o.value as SweepValue, here) : axisFromValues(o, [o.value as ElementValue], false);
    } else {
      axis = axisFromValues(keyOv, [fromYaml(v)], false);
    }
    axis.fromGrid = true;
    axes.push(withSource(axis, { file: ctx.src.file, key: here }));
  }
  return axes;
}

/** The axis's overrides, each saying where in the project file it was written. */
function withSource(axis: Axis, source: { file: string; key: string }): Axis {
  return { ...axis, points: axis.points.map((p) => ({ ...p, overrides: p.overrides.map((o) => freeze<Override>({ ...o, source })) })) };
}

/** `zip: {a: [..], b: [..]}`: equal-length lists that vary together as one axis. */
function zipAxis(ctx: Ctx, v: unknown, path: string, cliNames: Set<string>): Axis | undefined {
  if (!isMap(v)) throw gridError(ctx, path, "zip must be a map of key -> list", "e.g. zip: {model: [small, large], lr: [0.1, 0.01]}");
  const members: Array<{ o: Override; values: ElementValue[] }> = [];
  for (const [k, list] of Object.entries(v)) {
    if (!Array.isArray(list)) throw gridError(ctx, `${path}.${k}`, "each zip entry must be a list");
    const o = gridKey(ctx, `${path}.${k}`, k);
    members.push({ o, values: list.map(fromYaml) });
  }
  if (members.length === 0) return undefined;
  const n = members[0]!.values.length;
  if (members.some((m) => m.values.length !== n)) {
    const lens = members.map((m) => `${m.o.key} has ${m.values.length}`).join(", ");
    throw gridError(ctx, path, `zip lists must have equal lengths: ${lens}`, "Give every zipped key the same number of values.");
  }
  if (n === 0) throw gridError(ctx, path, "zip lists are empty");
  const kept = members.filter((m) => !cliNames.has(paramName(m.o)));
  if (kept.length === 0) return undefined;
  const keys = kept.map((m) => keyElement(m.o));
  const points: AxisPoint[] = [];
  const seen = new Set<string>();
  for (let j = 0; j < n; j++) {
    const spelled = kept.map((m, i) => `${keys[i]!}=${formatValue(m.values[j]!)}`);
    const id = spelled.join("\u0000");
    if (seen.has(id)) continue;
    seen.add(id);
    const overrides = kept.map((m, i) =>
      freeze<Override>({ type: m.o.type, key: m.o.key, ...(m.o.pkg !== undefined ? { pkg: m.o.pkg } : {}), value: m.values[j]!, isSweep: false, input: spelled[i]! }),
    );
    points.push({ overrides, spelled, params: kept.map((m) => paramValue(m.values[j]!)), id });
  }
  return { keys, names: kept.map((m) => paramName(m.o)), points, swept: true, fromGrid: true };
}

// ---------------------------------------------------------------------------------------------
// Duplicates across concatenated grids

/**
 * Drops grid combinations that an earlier grid already produced. Two runs are equal when they
 * carry the same set of overrides; the command-line part is the same in every grid, so only the
 * grid part is compared. A combination r of grid B lies in an earlier grid A with the same keys
 * iff, for every axis of A, r's values on that axis's keys are one of its tuples (A is a product).
 */
function dedupeSegments(segments: Segment[]): void {
  const sig = (s: Segment): string =>
    s.axes
      .slice(0, s.gridAxes)
      .flatMap((a) => a.keys)
      .sort()
      .join("\u0001");
  const sigs = segments.map(sig);
  for (let b = 1; b < segments.length; b++) {
    const earlier = segments.filter((_, a) => a < b && sigs[a] === sigs[b]);
    if (earlier.length === 0) continue;
    const B = segments[b]!;
    // key element -> [axis, member] in B
    const where = new Map<string, [number, number]>();
    B.axes.slice(0, B.gridAxes).forEach((ax, ai) => ax.keys.forEach((k, m) => where.set(k, [ai, m])));
    const tests = earlier.map((A) =>
      A.axes.slice(0, A.gridAxes).map((ax) => ({ keys: ax.keys.map((k) => where.get(k)!), ids: new Set(ax.points.map((p) => p.id)) })),
    );
    const kept: number[] = [];
    const d = new Int32Array(B.gridAxes);
    for (let g = 0; g < B.gridSize; g++) {
      let rest = g;
      for (let a = B.gridAxes - 1; a >= 0; a--) {
        const len = B.lens[a]!;
        d[a] = rest % len;
        rest = (rest - d[a]!) / len;
      }
      const dup = tests.some((axesA) =>
        axesA.every(({ keys, ids }) => ids.has(keys.map(([ai, m]) => B.axes[ai]!.points[d[ai]!]!.spelled[m]!).join("\u0000"))),
      );
      if (!dup) kept.push(g);
    }
    if (kept.length < B.gridSize) {
      B.kept = Uint32Array.from(kept);
      B.size = kept.length * B.cliSize;
    }
  }
}
