/**
 * `corral doctor`: for the chosen profile, what will happen and what is missing, as a checklist.
 * Every external program runs through `execFile` (never a shell) with a timeout; the host is
 * reached only through {@link DoctorHost}, so the checks are testable with a fake one.
 */
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { containerBinds, RUNTIME_COMMAND } from "../plan/container.js";
import { findOnPath } from "../project/profiles.js";
import type { ProjectContext } from "../project/open.js";
import { CorralError } from "../errors.js";
import { makeLauncher } from "../launchers/registry.js";
import type { LaunchSettings } from "../launchers/launcher.js";
import { checkMultinode, resolveSettings } from "../launchers/settings.js";

/** One line of the checklist. `ok: false` makes `corral doctor` exit 1. */
export interface Check {
  ok: boolean;
  /** What was checked or what will happen, e.g. `partition 'gpu' exists`. */
  title: string;
  /** Found value, e.g. the path of `sbatch`. */
  detail?: string;
  /** What to do about a failed check. */
  hint?: string;
}

/** Result of running one program. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Spawn error or timeout, when the program did not run to an exit code. */
  error?: string;
}

/** How doctor reaches the host. */
export interface DoctorHost {
  which(cmd: string): string | undefined;
  run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult>;
  exists(p: string): boolean;
  isDir(p: string): boolean;
  execPath: string;
  home: string;
  env: Record<string, string | undefined>;
}

/** The real host: `PATH` lookups, `execFile` with a timeout, the file system. */
export function realHost(env: Record<string, string | undefined>): DoctorHost {
  return {
    which: (cmd) => findOnPath(cmd, env),
    run: (cmd, args, timeoutMs) =>
      new Promise((resolve) => {
        execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8", env: env as NodeJS.ProcessEnv, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
          if (e && typeof e.code !== "number") {
            resolve({ code: null, stdout, stderr, error: e.killed ? `no answer within ${timeoutMs / 1000}s` : e.message });
          } else {
            resolve({ code: e ? (e.code as unknown as number) : 0, stdout, stderr });
          }
        });
      }),
    exists: existsSync,
    isDir: (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    execPath: process.execPath,
    home: os.homedir(),
    env,
  };
}

const TIMEOUT_MS = 15_000;

/** Run every check for the project as opened (profiles applied). */
export async function runDoctor(project: ProjectContext, opts: { launcher?: "local" | "slurm" }, host: DoctorHost): Promise<Check[]> {
  const cfg = project.config;
  const settings = resolveSettings(cfg, opts.launcher ? { launcher: opts.launcher } : {});
  const checks: Check[] = [];
  checks.push({ ok: true, title: `project file ${project.synthetic ? "(none: command line only)" : "is valid"}`, detail: project.file });
  checks.push(
    project.profiles.length
      ? { ok: true, title: `profile ${project.profileReasons.join("; ")}` }
      : { ok: true, title: "no profile applies", ...(Object.keys(cfg.profiles).length ? { detail: `available: ${Object.keys(cfg.profiles).join(", ")} (choose with -P)` } : {}) },
  );
  checks.push({ ok: true, title: `launcher ${settings.type}${settings.type === "slurm" && settings.debug ? " (debug: batches run locally)" : ""}`, detail: `${settings.parallel} run(s) at once${settings.type === "slurm" ? `, ${settings.perJob} per job` : ""}` });

  if (settings.multinode || (settings.slurm.nodes ?? 1) > 1) checks.push(multinodeCheck(settings, project, host));

  // What `corral run` would refuse before creating anything (the launcher's own check).
  try {
    await makeLauncher(settings).validate({ settings, env: host.env, asks: [{ cpus: cfg.resources.cpus, gpus: cfg.resources.gpus, who: "each run", location: { file: project.file, key: "resources" } }] });
  } catch (e) {
    if (!(e instanceof CorralError)) throw e;
    checks.push({ ok: false, title: "the runs ask for more than the launcher can give", detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
  }

  if (settings.type === "slurm" && !settings.debug) {
    const answering = await slurmCommands(host, checks);
    if (answering) await slurmCapacity(host, checks, settings.slurm.partition, gpusPerJob(settings.slurm.gpus, settings.slurm.gres, cfg.resources.gpus, settings.parallel), nodesPerJob(settings));
    checks.push(nodeBinaryCheck(host));
  }

  if (cfg.container) {
    checks.push(...containerChecks(project, host));
  } else if (cfg.command?.length) {
    const prog = cfg.command[0]!;
    const found = host.which(prog);
    const isPython = /(^|\/)python[\d.]*$/.test(prog);
    checks.push(
      found
        ? { ok: true, title: `${isPython ? "python" : "the command"} '${prog}' is on PATH`, detail: found }
        : {
            ok: false,
            title: `${isPython ? "python" : "the command"} '${prog}' is not on PATH`,
            hint: isPython ? "activate the environment (add `source venv/bin/activate` or `module load python` to launcher.setup for SLURM jobs)" : "install it, or give its full path in `command`",
          },
    );
  }
  return checks;
}

async function slurmCommands(host: DoctorHost, checks: Check[]): Promise<boolean> {
  let all = true;
  for (const [cmd, args] of [
    ["sbatch", ["--version"]],
    ["squeue", ["-h", "-o", "%i", "-u", host.env.USER ?? os.userInfo().username]],
    ["sinfo", ["-h", "-o", "%P"]],
  ] as Array<[string, string[]]>) {
    const p = host.which(cmd);
    if (!p) {
      all = false;
      checks.push({
        ok: false,
        title: `${cmd} is not on PATH`,
        hint: host.env.CH_RUNNING || host.env.APPTAINER_CONTAINER || host.env.SINGULARITY_CONTAINER ? "this shell runs inside a container: run corral on the host (or bind the SLURM client and munge socket in)" : "run on a login node of the cluster, or `module load slurm`",
      });
      continue;
    }
    const r = await host.run(cmd, args, TIMEOUT_MS);
    if (r.code === 0) checks.push({ ok: true, title: `${cmd} answers`, detail: p });
    else {
      all = false;
      checks.push({ ok: false, title: `${cmd} does not answer`, detail: firstLine(r.error ?? r.stderr) || `exit code ${r.code}`, hint: "is slurmctld up and munge running? try `sinfo` by hand" });
    }
  }
  return all;
}

/** Whole GPUs one job asks for: explicit `gpus`, the count in a `gpu` gres, else per-run GPUs x parallel. */
function gpusPerJob(gpus: number | undefined, gres: string | undefined, perRun: number | undefined, parallel: number): number {
  if (gpus !== undefined) return gpus;
  const g = gres && /(?:^|,)gpu(?::[^:,]+)?:(\d+)/.exec(gres);
  if (g) return Number(g[1]);
  return Math.ceil((perRun ?? 0) * parallel);
}

/** GPUs per node from a `%G` field such as `gpu:4`, `gpu:a100:8(S:0-1),shard:2` or `(null)`. */
export function gresGpus(field: string): number {
  let n = 0;
  for (const part of field.split(",")) {
    const m = /^gpu(?::[^:(]+)?:(\d+)/.exec(part.trim());
    if (m) n += Number(m[1]);
  }
  return n;
}

/** Nodes each job asks for: `launcher.nodes`, or the last `--nodes`/`-N` in `sbatch_args` (which wins). */
function nodesPerJob(settings: LaunchSettings): { n: number; key: string } {
  let out = { n: settings.slurm.nodes ?? 1, key: "launcher.nodes" };
  for (const a of settings.slurm.sbatchArgs) {
    const m = /^(?:--nodes=|-N)(\d+)/.exec(a);
    if (m) out = { n: Number(m[1]), key: `launcher.sbatch_args '${a}'` };
  }
  return out;
}

async function slurmCapacity(host: DoctorHost, checks: Check[], partition: string | undefined, gpus: number, nodes: { n: number; key: string }): Promise<void> {
  const r = await host.run("sinfo", ["-h", "-o", "%P|%G|%D"], TIMEOUT_MS);
  const rows = r.stdout.split("\n").filter(Boolean).map((l) => {
    const [p = "", g = "", d = ""] = l.split("|");
    return { partition: p.replace(/\*$/, ""), isDefault: p.endsWith("*"), gpus: gresGpus(g), nodes: Number(d) };
  });
  const names = [...new Set(rows.map((x) => x.partition))];
  let inPart = rows;
  if (partition !== undefined) {
    // `--partition` may list several, comma-separated; each must exist.
    const missing = partition.split(",").filter((p) => !names.includes(p));
    if (missing.length) {
      checks.push({ ok: false, title: `partition '${missing.join(",")}' does not exist`, detail: `partitions: ${names.join(", ")}`, hint: "set launcher.partition to one of them (in the profile)" });
      return;
    }
    checks.push({ ok: true, title: `partition '${partition}' exists` });
    inPart = rows.filter((x) => partition.split(",").includes(x.partition));
  } else {
    const def = rows.find((x) => x.isDefault);
    checks.push({ ok: true, title: `no partition set: the cluster's default${def ? ` '${def.partition}'` : ""} is used` });
    if (def) inPart = rows.filter((x) => x.partition === def.partition);
  }
  // A job asking more nodes than the partition has waits for ever (PartitionConfig / PartitionNodeLimit).
  const partNodes = new Map<string, number>();
  for (const x of inPart) partNodes.set(x.partition, (partNodes.get(x.partition) ?? 0) + x.nodes);
  const most = Math.max(0, ...partNodes.values());
  if (nodes.n > 1 && Number.isFinite(most) && most > 0 && nodes.n > most) {
    checks.push({
      ok: false,
      title: `${nodes.n} nodes per job (${nodes.key}) but the partition has ${most}`,
      detail: [...partNodes].map(([p, n]) => `${p}: ${n} node(s)`).join(", "),
      hint: "lower the node count, or choose a bigger partition (launcher.partition)",
    });
  }
  if (gpus > 0) {
    const most = Math.max(0, ...inPart.map((x) => x.gpus));
    checks.push(
      most >= gpus
        ? { ok: true, title: `${gpus} GPU(s) per job fit on a node`, detail: `up to ${most} per node` }
        : { ok: false, title: `${gpus} GPU(s) per job do not fit on any node of the partition`, detail: `at most ${most} per node`, hint: "lower launcher.parallel or resources.gpus, or choose a GPU partition" },
    );
  }
}

/** What `launcher.multinode` will do, or why it cannot (the same check `corral run` makes). */
function multinodeCheck(settings: LaunchSettings, project: ProjectContext, host: DoctorHost): Check {
  try {
    checkMultinode(settings, project.file);
  } catch (e) {
    if (!(e instanceof CorralError)) throw e;
    return { ok: false, title: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  }
  const mn = settings.multinode;
  if (!mn) return { ok: true, title: `each job spans ${settings.slurm.nodes} nodes; the command runs once, on the first (set launcher.multinode to start it on every node)` };
  const title = `multi-node runs: '${mn.mode}' on ${mn.nodes} nodes${mn.mode === "torchrun" ? ` x ${mn.procsPerNode ?? 1} process(es)` : ""}, one run per job at a time`;
  const tool = mn.mode === "srun" ? undefined : mn.mode;
  // Inside a container the tool lives in the image; on the login node it may legitimately be missing.
  if (!tool || project.config.container) return { ok: true, title, detail: "MASTER_ADDR, MASTER_PORT, NODE_RANK, WORLD_SIZE are set on every node" };
  const found = host.which(tool);
  return found
    ? { ok: true, title, detail: `${tool}: ${found} (compute nodes need it on PATH too)` }
    : { ok: false, title: `${title}, but '${tool}' is not on PATH here`, hint: `compute nodes need ${tool} on PATH: activate the environment in launcher.setup (or use a container that has it)` };
}

function nodeBinaryCheck(host: DoctorHost): Check {
  const p = host.execPath;
  if (p.startsWith("/tmp/") || p.startsWith("/var/tmp/")) {
    return { ok: false, title: "the Node binary is under a node-local folder", detail: p, hint: "compute nodes run the worker with this same binary: install Node on a shared file system (home or project space)" };
  }
  const shared = p.startsWith(host.home + "/") ? " (under your home folder, usually shared)" : "";
  return { ok: true, title: "the worker runs with this Node binary; compute nodes must reach the same path", detail: p + shared };
}

function containerChecks(project: ProjectContext, host: DoctorHost): Check[] {
  const c = project.config.container!;
  const out: Check[] = [];
  if (c.wrap !== undefined) {
    out.push({ ok: true, title: "container: runs are wrapped by the `wrap` template", detail: c.wrap });
    return out;
  }
  const cmd = RUNTIME_COMMAND[c.runtime];
  const p = host.which(cmd);
  out.push(p ? { ok: true, title: `container runtime ${c.runtime}: '${cmd}' is on PATH`, detail: p } : { ok: false, title: `container runtime ${c.runtime}: '${cmd}' is not on PATH`, hint: `install ${c.runtime} (or \`module load ${c.runtime}\` in launcher.setup), or choose another runtime` });
  const image = c.image!;
  const isRef = /^[a-z]+:\/\//.test(image) || ((c.runtime === "docker" || c.runtime === "podman") && !image.startsWith("/") && !image.startsWith("."));
  if (isRef) {
    out.push({ ok: true, title: `image '${image}' is a registry reference (pulled by ${cmd}; not checked)` });
    return out;
  }
  const abs = path.resolve(project.dir, image);
  const present = c.runtime === "charliecloud" ? host.isDir(abs) : host.exists(abs);
  out.push(present ? { ok: true, title: `image exists`, detail: abs } : { ok: false, title: `image '${image}' is missing`, detail: abs, hint: c.runtime === "charliecloud" ? "build or unpack it: `ch-image build` / `ch-convert IMAGE DIR` (an image folder)" : "build or pull it, e.g. `apptainer pull img.sif docker://...`" });
  if (c.runtime === "charliecloud") {
    if (!host.env.USER) out.push({ ok: false, title: "$USER is not set (ch-run refuses to start)", hint: "export USER=$(id -un)" });
    if (present) {
      // ch-run needs each bind's mount point inside the image; /tmp is shared with the host already.
      const binds = containerBinds(c, { projectDir: project.dir, runDir: project.dir, gpu: false });
      const missing = binds.map(([, d]) => d).filter((d) => !d.startsWith("/tmp/") && !host.exists(path.join(abs, d)));
      out.push(missing.length ? { ok: false, title: `mount point(s) missing in the image: ${missing.join(", ")}`, hint: `mkdir -p ${missing.map((d) => path.join(abs, d)).join(" ")} (ch-run binds only onto existing folders)` } : { ok: true, title: "bind mount points exist in the image" });
    }
  }
  return out;
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}
