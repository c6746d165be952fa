/**
 * The argv prefix that runs one command inside a container. PURE: paths and the run's command
 * come in as data; nothing is checked on disk (that is `corral doctor`'s job).
 *
 * The container wraps each run, not the worker: packing, CPU pinning (taskset goes before the
 * prefix) and GPU splitting (`CUDA_VISIBLE_DEVICES`) still hold inside it.
 */
import path from "node:path";

/** Supported container runtimes. */
export type ContainerRuntime = "charliecloud" | "apptainer" | "singularity" | "podman" | "docker";

/**
 * Container settings as plan code sees them (structurally the project's `ContainerConfig`, which
 * this layer may not import). Stored in the sweep manifest so `corral resume` wraps runs the same way.
 */
export interface ContainerSpec {
  runtime: ContainerRuntime;
  /** Image: Charliecloud folder, `.sif` file, or a registry reference. */
  image?: string;
  /** `src:dst` or `path` (same path inside); a relative `src` is relative to the project folder. */
  binds?: string[];
  /** Variables set inside the container. */
  env?: Record<string, string>;
  /** GPU pass-through flag (`--nv`, `--gpus all`, CDI device); unset: on when the run has GPUs. */
  gpu?: boolean;
  /** Working directory inside; default the project folder (the run's working directory). */
  workdir?: string;
  /** Extra runtime options, placed just before the image. */
  options?: string[];
  /** Free template run by `sh -c`; `{command}` becomes the run's argv, each word shell-quoted. */
  wrap?: string;
}

/** What a wrapper needs to know about the run it wraps. */
export interface ContainerContext {
  /** Absolute project folder: always bound, the default working directory. */
  projectDir: string;
  /** Absolute run folder: always bound, so logs, metrics and the config land on the host. */
  runDir: string;
  /** Whether the run was given GPUs (used when `gpu` is not set explicitly). */
  gpu: boolean;
  /** The run's command; needed only by a `wrap` template's `{command}`. */
  argv?: string[];
  /**
   * Host variables to copy into runtimes that do not pass the environment through (podman,
   * docker), besides {@link RUN_ENV_VARS}: typically the project's `env` keys.
   */
  passEnv?: string[];
}

/**
 * Variables the worker sets per run. Charliecloud and Apptainer pass the host environment through;
 * podman and docker get an explicit `-e NAME` for each (a name without a value copies the host's).
 */
export const RUN_ENV_VARS = [
  "CORRAL_RUN_ID",
  "CORRAL_RUN_DIR",
  "CORRAL_SWEEP_DIR",
  "CORRAL_CONFIG",
  "CORRAL_ATTEMPT",
  "CORRAL_RESUMED",
  "CORRAL_GPU_FRACTION",
  "CUDA_VISIBLE_DEVICES",
  "OMP_NUM_THREADS",
] as const;

/** The executable each runtime is started with. */
export const RUNTIME_COMMAND: Record<ContainerRuntime, string> = {
  charliecloud: "ch-run",
  apptainer: "apptainer",
  singularity: "singularity",
  podman: "podman",
  docker: "docker",
};

/** Quote one word for a POSIX shell: unchanged when it is plainly safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `src:dst` pairs, the project and run folders first, duplicates and nested repeats dropped. */
export function containerBinds(c: ContainerSpec, ctx: ContainerContext): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const covered = (src: string, dst: string): boolean =>
    out.some(([s, d]) => (s === src && d === dst) || (s === d && src === dst && isInside(src, s)));
  const add = (src: string, dst: string): void => {
    if (!covered(src, dst)) out.push([src, dst]);
  };
  add(ctx.projectDir, ctx.projectDir);
  add(ctx.runDir, ctx.runDir);
  for (const b of c.binds ?? []) {
    const i = b.indexOf(":");
    const rawSrc = i < 0 ? b : b.slice(0, i);
    const src = path.posix.resolve(ctx.projectDir, rawSrc);
    // A destination is a path inside the container, never relative to the host project.
    const dst = i < 0 ? src : b.slice(i + 1);
    add(src, dst);
  }
  return out;
}

function isInside(p: string, dir: string): boolean {
  const rel = path.posix.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.posix.isAbsolute(rel));
}

/**
 * The argv prefix that runs a command inside the container; the worker appends the run's argv.
 * With a `wrap` template the prefix is `sh -c '<template>' sh`, and the command is both spliced
 * into `{command}` (quoted) and passed as `"$@"`.
 * @throws Error when neither `image` nor `wrap` is set, or a `wrap` template lacks `argv`.
 */
export function containerWrap(c: ContainerSpec, ctx: ContainerContext): string[] {
  if (c.wrap !== undefined) return templateWrap(c, ctx);
  if (c.image === undefined) throw new Error("a container needs an 'image' (or a 'wrap' template)");
  const gpu = c.gpu ?? ctx.gpu;
  const workdir = c.workdir ?? ctx.projectDir;
  const binds = containerBinds(c, ctx);
  const env = Object.entries(c.env ?? {});
  const options = c.options ?? [];
  switch (c.runtime) {
    case "charliecloud":
      // ch-run has no GPU flag: images get the host's driver libraries once with `ch-fromhost --nvidia`,
      // and CUDA_VISIBLE_DEVICES passes through with the rest of the environment.
      return [
        "ch-run",
        ...binds.flatMap(([s, d]) => ["-b", `${s}:${d}`]),
        ...env.map(([k, v]) => `--set-env=${k}=${v}`),
        "-c",
        workdir,
        ...options,
        c.image,
        "--",
      ];
    case "apptainer":
    case "singularity":
      return [
        RUNTIME_COMMAND[c.runtime],
        "exec",
        ...(gpu ? ["--nv"] : []),
        ...binds.flatMap(([s, d]) => ["--bind", `${s}:${d}`]),
        ...env.flatMap(([k, v]) => ["--env", `${k}=${v}`]),
        "--pwd",
        workdir,
        ...options,
        c.image,
      ];
    case "podman":
    case "docker": {
      const pass = [...RUN_ENV_VARS, ...(ctx.passEnv ?? [])].filter((k, i, a) => a.indexOf(k) === i && !(c.env && k in c.env));
      return [
        RUNTIME_COMMAND[c.runtime],
        "run",
        "--rm",
        // docker takes GPUs through its NVIDIA hook; podman through the CDI device name.
        ...(gpu ? (c.runtime === "docker" ? ["--gpus", "all"] : ["--device", "nvidia.com/gpu=all"]) : []),
        ...binds.flatMap(([s, d]) => ["-v", `${s}:${d}`]),
        ...pass.flatMap((k) => ["-e", k]),
        ...env.flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        "-w",
        workdir,
        ...options,
        c.image,
      ];
    }
  }
}

function templateWrap(c: ContainerSpec, ctx: ContainerContext): string[] {
  if (ctx.argv === undefined) throw new Error("a 'wrap' template needs the run's command");
  const fields: Record<string, string> = {
    command: ctx.argv.map(shellQuote).join(" "),
    run_dir: shellQuote(ctx.runDir),
    project_dir: shellQuote(ctx.projectDir),
    image: shellQuote(c.image ?? ""),
  };
  const script = c.wrap!.replace(/\{(command|run_dir|project_dir|image)\}/g, (_, k: string) => fields[k]!);
  // `sh` becomes $0; the run's argv, appended by the worker, becomes "$@" (ignored unless used).
  return ["sh", "-c", script, "sh"];
}
