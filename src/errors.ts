/**
 * Named errors with stable codes. Library code throws these; only `cli/` renders them
 * (one clean line plus a hint for known errors, a stack for anything else) and maps them
 * to exit codes.
 */

/** Where in a user's file an error points. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path inside the file, e.g. `launcher.gpus`. */
  key?: string;
}

export type ErrorCode =
  | "E_CONFIG" // project file / config group invalid
  | "E_OVERRIDE" // override grammar or semantics
  | "E_SWEEP" // sweep expansion
  | "E_INTERPOLATION"
  | "E_WORKFLOW" // rules, DAG, wildcards
  | "E_USAGE" // command-line usage
  | "E_NOT_FOUND" // sweep / run not found in the store
  | "E_LOCKED" // another corral holds the sweep lock
  | "E_SCHEDULER" // sbatch/squeue failed
  | "E_RESOURCES" // a resource split that cannot be satisfied
  | "E_STORAGE"; // the store cannot be written or read (full disk, read-only, damaged record)

/** An error the user can act on: rendered as one line (plus hint), never a stack. */
export class CorralError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  /** Exit code when this reaches the CLI: 2 for bad input (nothing was started). */
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; location?: SourceLocation; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "CorralError";
    this.code = code;
    this.hint = opts.hint;
    this.location = opts.location;
    this.exitCode = opts.exitCode ?? 2;
  }

  /** `file:line: key: message` — the one line a user sees. */
  format(): string {
    const loc = this.location;
    let prefix = "";
    if (loc) {
      prefix = loc.file;
      if (loc.line !== undefined) prefix += `:${loc.line}`;
      if (loc.column !== undefined) prefix += `:${loc.column}`;
      prefix += ": ";
      if (loc.key && !this.message.includes(loc.key)) prefix += `${loc.key}: `;
    }
    return prefix + this.message;
  }
}


/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The closest candidate within a small edit distance, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** `1 run`, `2 runs`, `0 runs`: a count with its noun in the right number (`many` for irregular plurals). */
export function countOf(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
