/**
 * Input limits: explicit bounds on how deep a config may nest, how long an interpolation chain
 * may be and how large a run's argument list may grow, so hostile or generated input gets one
 * clear exit-2 message instead of a stack overflow in a recursive parser or an E2BIG at spawn.
 * PURE: the numbers are constants; the walkers take plain values.
 */
import { ConfigFloat } from "./float.js";

/**
 * Deepest nesting of maps/lists (and of override or `${...}` brackets) accepted anywhere.
 * Why 256: the `yaml` library that writes each run's config.yaml overflows Node 20's default
 * stack at ~620 nested maps, and OmegaConf under Python's recursion limit (1000) gives up at a
 * few hundred; real configs nest under 20. 256 leaves a 2x margin below the first overflow.
 */
export const MAX_NESTING_DEPTH = 256;

/**
 * Longest chain of interpolations (`a: ${b}`, `b: ${c}`, ...) resolved one inside another.
 * Why 500: resolution is recursive; measured on Node 20's default stack it overflows at ~1,400
 * plain hops and ~860 hops through containers, and the caller's stack comes on top.
 */
export const MAX_INTERPOLATION_DEPTH = 500;

/** Linux MAX_ARG_STRLEN (32 pages): no single argv or env string may be longer, whatever ARG_MAX says. */
export const MAX_ARG_BYTES = 131_072;

/**
 * Bound on a run's argv plus environment together. Linux allows a quarter of the stack limit
 * (ARG_MAX, typically 2 MiB with an 8 MiB stack), SLURM and wrappers (srun, containers, taskset)
 * add their own; half of the common ARG_MAX keeps a run that plans here startable there.
 */
export const MAX_ARGV_ENV_BYTES = 1_048_576;

/** The limits a run's command line is checked against (pass smaller ones in tests). */
export interface ArgLimits {
  /** Longest single argument, in bytes (UTF-8, without the NUL). @default MAX_ARG_BYTES */
  maxArgBytes: number;
  /** argv + environment, in bytes, each string counted with its NUL and pointer. @default MAX_ARGV_ENV_BYTES */
  maxTotalBytes: number;
}

export const DEFAULT_ARG_LIMITS: ArgLimits = { maxArgBytes: MAX_ARG_BYTES, maxTotalBytes: MAX_ARGV_ENV_BYTES };

const encoder = new TextEncoder();

/** UTF-8 length of a string (what MAX_ARG_STRLEN counts, less the NUL). */
export function utf8Bytes(s: string): number {
  // Fast path: ASCII-only strings are one byte per character.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : encoder.encode(s).length;
}

/** Bytes a string takes in execve's argument area: its text, its NUL and its pointer. */
export function execBytes(s: string): number {
  return utf8Bytes(s) + 1 + 8;
}

/** Bytes of an environment as execve sees it (`KEY=value` strings). */
export function envBytes(env: Record<string, string | undefined>): number {
  let n = 0;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) n += execBytes(`${k}=${v}`);
  return n;
}

/**
 * The path to the first place where `value` nests deeper than `limit` maps/lists (a list of
 * keys and indexes, the last one the container that goes one level too far), or undefined.
 * Iterative, so it cannot overflow itself; shared objects are visited again only when met
 * deeper than before, so a cyclic object (a JS config referring to itself) is reported as too deep.
 */
export function findTooDeep(value: unknown, limit: number = MAX_NESTING_DEPTH): string[] | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  // Frames link to their parent; the path is spelled only on failure (this runs once per run of
  // a sweep, so it allocates nothing per node but the frame).
  interface Frame {
    v: object;
    depth: number;
    key: string;
    up: Frame | undefined;
  }
  const seenAt = new Map<object, number>();
  const stack: Frame[] = [{ v: value, depth: 0, key: "", up: undefined }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f.depth >= limit) {
      const path: string[] = [];
      for (let g: Frame | undefined = f; g && g.up; g = g.up) path.push(g.key);
      return path.reverse();
    }
    // Met before at this depth or deeper, its subtree fitted then and fits now.
    const prev = seenAt.get(f.v);
    if (prev !== undefined && prev >= f.depth) continue;
    seenAt.set(f.v, f.depth);
    const depth = f.depth + 1;
    if (Array.isArray(f.v)) {
      for (let i = 0; i < f.v.length; i++) {
        const x: unknown = f.v[i];
        if (typeof x === "object" && x !== null && !(x instanceof ConfigFloat)) stack.push({ v: x, depth, key: String(i), up: f });
      }
    } else {
      for (const k in f.v) {
        if (!Object.prototype.hasOwnProperty.call(f.v, k)) continue;
        const x: unknown = (f.v as Record<string, unknown>)[k];
        if (typeof x === "object" && x !== null && !(x instanceof ConfigFloat)) stack.push({ v: x, depth, key: k, up: f });
      }
    }
  }
  return undefined;
}

/** A long key path shortened for a one-line message: `a.b.c...y.z (300 levels)`. */
export function shortPath(path: readonly string[], keep = 4): string {
  if (path.length <= keep * 2) return path.join(".");
  return `${path.slice(0, keep).join(".")}...${path.slice(-keep).join(".")} (${path.length} levels)`;
}
