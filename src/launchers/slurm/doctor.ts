/**
 * `corral doctor` for the SLURM launcher: what it will do with the settings, what `corral run`
 * would refuse, and whether this host can submit it — the client commands answer, the partition
 * exists and holds the nodes and GPUs one job asks for, the Node binary is where compute nodes can
 * reach it. Every program runs through the host's `run` (execFile, never a shell) with a timeout.
 */
import os from "node:os";
import { CorralError, countOf } from "../../errors.js";
import { validateChecks } from "../doctor.js";
import type { DoctorCheck, DoctorContext, DoctorHost, Launcher, SlurmLaunchSettings } from "../launcher.js";
import { checkMultinode } from "../settings.js";
import { probeJob } from "./probe.js";
import { chooseNodejs, nodejsFacts } from "./runtime.js";

const TIMEOUT_MS = 15_000;

/** The SLURM launcher's lines of the checklist (debug mode: no cluster to ask). */
export async function slurmDoctor(launcher: Launcher, settings: SlurmLaunchSettings, ctx: DoctorContext): Promise<DoctorCheck[]> {
  const host = ctx.host;
  const checks: DoctorCheck[] = [{ ok: true, title: `launcher slurm${settings.debug ? " (debug: batches run locally)" : ""}`, detail: `${countOf(settings.parallel, "run")} at once, ${settings.perJob} per job` }];
  if (settings.multinode || (settings.slurm.nodes ?? 1) > 1) checks.push(multinodeCheck(settings, ctx));
  checks.push(...(await validateChecks(launcher, settings, ctx)));
  if (!settings.debug) {
    const answering = await slurmCommands(host, checks);
    const perRun = Math.max(0, ...ctx.asks.map((a) => (a.gpus !== undefined && Number.isFinite(a.gpus) ? a.gpus : 0)));
    const gpus = gpusPerJob(settings.slurm.gpus, settings.slurm.gres, perRun, settings.parallel);
    if (answering) await slurmCapacity(host, checks, settings.slurm.partition, gpus, nodesPerJob(settings));
    checks.push(nodeBinaryCheck(host, settings, ctx));
    if (ctx.probe) {
      if (answering) checks.push(...(await probeJob(settings, ctx, gpus)));
      else checks.push({ ok: false, title: "no probe job: the SLURM commands do not answer here" });
    }
  } else if (ctx.probe) {
    checks.push({ ok: true, title: "no probe job: launcher.debug runs batches on this machine" });
  }
  return checks;
}

async function slurmCommands(host: DoctorHost, checks: DoctorCheck[]): Promise<boolean> {
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
function nodesPerJob(settings: SlurmLaunchSettings): { n: number; key: string } {
  let out = { n: settings.slurm.nodes ?? 1, key: "launcher.nodes" };
  for (const a of settings.slurm.sbatchArgs) {
    const m = /^(?:--nodes=|-N)(\d+)/.exec(a);
    if (m) out = { n: Number(m[1]), key: `launcher.sbatch_args '${a}'` };
  }
  return out;
}

async function slurmCapacity(host: DoctorHost, checks: DoctorCheck[], partition: string | undefined, gpus: number, nodes: { n: number; key: string }): Promise<void> {
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
function multinodeCheck(settings: SlurmLaunchSettings, ctx: DoctorContext): DoctorCheck {
  const host = ctx.host;
  try {
    checkMultinode(settings, ctx.file);
  } catch (e) {
    if (!(e instanceof CorralError)) throw e;
    return { ok: false, title: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  }
  const mn = settings.multinode;
  if (!mn) return { ok: true, title: `each job spans ${settings.slurm.nodes} nodes; the command runs once, on the first (set launcher.multinode to start it on every node)` };
  const title = `multi-node runs: '${mn.mode}' on ${mn.nodes} nodes${mn.mode === "torchrun" ? ` x ${mn.procsPerNode ?? 1} process(es)` : ""}, one run per job at a time`;
  const tool = mn.mode === "srun" ? undefined : mn.mode;
  // Inside a container the tool lives in the image; on the login node it may legitimately be missing.
  if (!tool || ctx.container) return { ok: true, title, detail: "MASTER_ADDR, MASTER_PORT, NODE_RANK, WORLD_SIZE are set on every node" };
  const found = host.which(tool);
  return found
    ? { ok: true, title, detail: `${tool}: ${found} (compute nodes need it on PATH too)` }
    : { ok: false, title: `${title}, but '${tool}' is not on PATH here`, hint: `compute nodes need ${tool} on PATH: activate the environment in launcher.setup (or use a container that has it)` };
}

/** Which Node.js the jobs start the worker with (`launcher.nodejs`, or the default and why). */
function nodeBinaryCheck(host: DoctorHost, settings: SlurmLaunchSettings, ctx: DoctorContext): DoctorCheck {
  const c = settings.nodejs !== undefined ? chooseNodejs(settings.nodejs, { execPath: host.execPath }) : chooseNodejs(undefined, nodejsFacts(host.execPath, ctx.projectDir));
  const probe = ctx.probe ? "" : " (`corral doctor --probe` checks it on a compute node)";
  if (c.source === "set") return { ok: true, title: `jobs start the worker with launcher.nodejs: ${c.command}${probe}` };
  return { ok: true, title: `jobs start the worker with ${c.command}${probe}`, detail: `${c.why}; set launcher.nodejs to choose` };
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}
