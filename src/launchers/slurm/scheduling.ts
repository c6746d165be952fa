/**
 * A pipeline rule's own SLURM settings (`partition`, `account`, `qos`, `constraint`, `gres`,
 * `nodes`, `slurm_extra`): checked before anything is queued, and put over the launcher's for
 * that rule's jobs. `slurm_extra` is split into options; those with a key of their own become
 * that key (`--gres=gpu:1` is `gres: gpu:1`), `--comment` joins Corral's tag, the flags Corral
 * sets itself are refused, and every other one becomes an `#SBATCH` line whose value is quoted
 * for sbatch's own parser (no shell ever reads it).
 */
import { CorralError } from "../../errors.js";
import { directiveValue, renderSbatch, type SbatchOptions } from "../../plan/sbatch.js";
import type { JobScheduling, SlurmLaunchSettings } from "../launcher.js";

/** The keys a rule may set, each also an sbatch option of that name. */
const KEYS = ["partition", "account", "qos", "constraint", "gres", "nodes"] as const;
type Key = (typeof KEYS)[number];

/** Short options, by letter, as their long names. */
const SHORT: Record<string, string> = {
  a: "array", A: "account", C: "constraint", c: "cpus-per-task", D: "chdir", e: "error", G: "gpus",
  J: "job-name", N: "nodes", n: "ntasks", o: "output", p: "partition", q: "qos", t: "time", W: "wait",
};

/** Options Corral sets itself for every job: why, or which key to set instead. */
const OWN: Record<string, string> = {
  array: "Corral sets each job's --array (its packed batches)",
  output: "Corral writes each job's log into the sweep's .slurm folder",
  error: "Corral writes each job's log into the sweep's .slurm folder",
  "open-mode": "Corral appends to each job's log (a requeued job keeps its first output)",
  wrap: "Corral submits its own batch script",
  parsable: "Corral reads sbatch's answer itself",
  chdir: "Corral runs each job in the project folder",
  signal: "Corral sets --signal from launcher.signal_grace",
  wait: "Corral waits for its jobs itself",
  "test-only": "use corral flow --dry-run to see the sbatch scripts",
  ntasks: "Corral runs one worker per job",
  time: "set resources.timeout instead (each job's --time comes from it)",
  mem: "set resources.mem instead (each job's --mem comes from it)",
  "mem-per-cpu": "set launcher.mem_per_cpu instead",
  "cpus-per-task": "set resources.cpus instead (each job's --cpus-per-task comes from it)",
  gpus: "set resources.gpus or gres instead",
};

/** A rule's settings as sbatch takes them: the keys, extra `#SBATCH` options, and comment text. */
export interface SlurmScheduling {
  keys: Omit<JobScheduling, "extra">;
  /** `--name=value` / `-x value` / `--flag`, values quoted for an `#SBATCH` line. */
  directives: string[];
  comment?: string;
}

/** A setting that cannot be used: which key, and why. */
class SchedulingProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** One option of `slurm_extra`: its long name, as written, and its value. */
interface ExtraOption {
  name: string;
  written: string;
  value?: string;
}

/** Group `slurm_extra` words into options (`--name=value`, `--name value`, `-p value`, `-pvalue`, `--flag`). */
function options(words: readonly string[]): ExtraOption[] {
  const out: ExtraOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    const takeNext = (): string | undefined => (next !== undefined && !next.startsWith("-") ? (i++, next) : undefined);
    if (w.startsWith("--") && w.length > 2) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      const value = eq < 0 ? takeNext() : w.slice(eq + 1);
      out.push({ name, written: w, ...(value !== undefined ? { value } : {}) });
    } else if (/^-[A-Za-z]/.test(w)) {
      const letter = w[1]!;
      const rest = w.slice(2).replace(/^=/, "");
      const value = rest !== "" ? rest : takeNext();
      out.push({ name: SHORT[letter] ?? letter, written: w, ...(value !== undefined ? { value } : {}) });
    } else {
      throw new SchedulingProblem("slurm_extra", `slurm_extra word '${w}' is not an sbatch option (options start with - or --)`, "write flags such as --qos=high or '--gres=gpu:1'");
    }
  }
  return out;
}

/** A rule's settings, checked and in sbatch's terms. @throws SchedulingProblem */
function normalize(s: JobScheduling): SlurmScheduling {
  const keys: SlurmScheduling["keys"] = {};
  for (const k of KEYS) if (s[k] !== undefined) (keys as Record<string, unknown>)[k] = s[k];
  const directives: string[] = [];
  const comments: string[] = [];
  for (const o of options(s.extra ?? [])) {
    const shown = o.value !== undefined && !o.written.includes(o.value) ? `${o.written} ${o.value}` : o.written;
    const why = OWN[o.name];
    if (why !== undefined) throw new SchedulingProblem("slurm_extra", `slurm_extra flag '${shown}' is Corral's own: ${why}`, `drop ${o.written} from slurm_extra`);
    if ((KEYS as readonly string[]).includes(o.name)) {
      const k = o.name as Key;
      if (o.value === undefined) throw new SchedulingProblem("slurm_extra", `slurm_extra flag '${shown}' needs a value`);
      if (s[k] !== undefined) throw new SchedulingProblem("slurm_extra", `slurm_extra sets --${k} and the rule sets ${k} too`, `give ${k} once`);
      if (k === "nodes") {
        if (!/^\d+$/.test(o.value)) throw new SchedulingProblem("slurm_extra", `slurm_extra flag '${shown}': a pipeline job takes a node count, not a range`);
        keys.nodes = Number(o.value);
      } else (keys as Record<string, unknown>)[k] = o.value;
      continue;
    }
    if (o.name === "comment") {
      if (o.value !== undefined) comments.push(o.value);
      continue;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(o.name)) throw new SchedulingProblem("slurm_extra", `slurm_extra flag '${shown}' is not an sbatch option`);
    const flag = o.name.length === 1 ? `-${o.name}` : `--${o.name}`;
    if (o.value === undefined) directives.push(flag);
    else {
      const v = quoted("slurm_extra", `slurm_extra flag '${shown}'`, o.value);
      directives.push(o.name.length === 1 ? `${flag} ${v}` : `${flag}=${v}`);
    }
  }
  if (keys.nodes !== undefined && keys.nodes > 1) {
    throw new SchedulingProblem("nodes", `nodes is ${keys.nodes}, but a pipeline job runs on one node`, "multi-node runs are corral run's launcher.multinode (docs/multinode.md); drop nodes or set it to 1");
  }
  // Each value as renderSbatch would write it: a bad one is refused here, before anything is queued.
  for (const k of KEYS) {
    const v = keys[k];
    if (v === undefined) continue;
    try {
      renderSbatch({ jobName: "corral", slurmDir: "/c", chunk: 0, tasks: 1, nodePath: "/n", workerScript: "/w", ...({ [k]: v } as Partial<SbatchOptions>) });
    } catch (e) {
      if (!(e instanceof CorralError)) throw e;
      throw new SchedulingProblem(k, e.message, e.hint);
    }
  }
  const comment = comments.join(" ");
  if (comment !== "") quoted("slurm_extra", "slurm_extra's --comment", comment);
  return { keys, directives, ...(comment !== "" ? { comment } : {}) };
}

/** An `#SBATCH` value, or a problem at `key`. */
function quoted(key: string, what: string, v: string): string {
  try {
    return directiveValue(what, v);
  } catch (e) {
    throw new SchedulingProblem(key, e instanceof Error ? e.message : String(e));
  }
}

/**
 * Refuse a rule's settings that can never be submitted (exit 2, naming the rule and the key
 * where they are written): a value sbatch would not take, a flag Corral sets itself, more than one node.
 */
export function checkScheduling(s: JobScheduling, who: string, file: string | undefined, at: Record<string, string> = {}): void {
  try {
    normalize(s);
  } catch (e) {
    if (!(e instanceof SchedulingProblem)) throw e;
    throw new CorralError("E_CONFIG", `${who}: ${e.message}`, {
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(file !== undefined ? { location: { file, key: at[e.key] ?? e.key } } : {}),
      exitCode: 2,
    });
  }
}

/** GPUs each job of the rule gets from its `gres` (or `slurm_extra`'s `--gres`); undefined when it names none. */
export function schedulingGpus(s: JobScheduling): number | undefined {
  let gres: string | undefined;
  try {
    gres = normalize(s).keys.gres;
  } catch {
    gres = s.gres;
  }
  const m = gres === undefined ? null : /(?:^|,)gpu(?::[^:,]+)?:(\d+)/.exec(gres);
  return m ? Number(m[1]) : undefined;
}

/**
 * The launcher's settings with a rule's own put over them for that rule's jobs: its keys replace
 * the launcher's (a `gres` also replaces `launcher.gpus`), its extra flags follow the launcher's
 * `sbatch_args` (so they win), its comment follows Corral's tag.
 */
export function withScheduling(settings: SlurmLaunchSettings, s: JobScheduling): SlurmLaunchSettings {
  let n: SlurmScheduling;
  try {
    n = normalize(s);
  } catch (e) {
    if (!(e instanceof SchedulingProblem)) throw e;
    throw new CorralError("E_CONFIG", `${e.key}: ${e.message}`, { ...(e.hint !== undefined ? { hint: e.hint } : {}) });
  }
  const slurm = { ...settings.slurm, ...n.keys, sbatchArgs: [...settings.slurm.sbatchArgs, ...n.directives] };
  if (n.keys.gres !== undefined) delete slurm.gpus;
  if (n.comment !== undefined) slurm.comment = slurm.comment ? `${slurm.comment} ${n.comment}` : n.comment;
  return { ...settings, slurm };
}
