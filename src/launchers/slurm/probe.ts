/**
 * `corral doctor --probe`: one tiny job with the launcher's settings (partition, account, QOS,
 * constraint, GPUs, setup lines, environment), and what its compute node sees — the worker's
 * Node.js and its version, the project folder (a marker written here, read back there), the
 * container runtimes and GPUs, and how long the job waited in the queue. The job writes its
 * findings as `key=value` lines into a folder of the project; the folder goes when the probe ends.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderSbatch } from "../../plan/sbatch.js";
import { DOCTOR_PROBE_DIR } from "../../store/layout.js";
import type { DoctorCheck, DoctorContext, DoctorHost, SlurmLaunchSettings } from "../launcher.js";
import { WORKER_MAIN } from "../worker-host.js";
import { isPermanentReason, parseSbatchParsable, parseScontrolJobs, scontrolJob } from "./parse.js";
import { describeNodejs, workerNodejs } from "./runtime.js";

const CMD_TIMEOUT_MS = 15_000;

/** The probe job's findings: each key once, except `container` and `nvidia_smi` (one per line). */
export interface ProbeReport {
  values: Record<string, string>;
  containers: string[];
  nvidiaSmi: string[];
}

/** Reads the probe job's `key=value` lines (pure). */
export function parseProbeReport(text: string): ProbeReport {
  const out: ProbeReport = { values: {}, containers: [], nvidiaSmi: [] };
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    if (k === "container") out.containers.push(v);
    else if (k === "nvidia_smi") out.nvidiaSmi.push(v);
    else out.values[k] ??= v;
  }
  return out;
}

/** What the probe learnt, as checklist lines (pure). */
export function probeChecks(
  r: ProbeReport,
  o: { jobId: string; waitedS: number | undefined; token: string; projectDir: string; nodejs: string; gpus: number; containerCommand?: string | undefined },
): DoctorCheck[] {
  const v = r.values;
  const host = v.host || "its node";
  const checks: DoctorCheck[] = [
    { ok: true, title: `probe job ${o.jobId} ran on ${host}${o.waitedS === undefined ? "" : ` after ${formatWait(o.waitedS)} in the queue`}` },
  ];
  if (v.setup_failed) checks.push({ ok: false, title: `a setup line failed on ${host}`, detail: v.setup_failed, hint: "fix the line in launcher.setup (it runs in the job's shell on the compute node)" });
  if (v.node) checks.push({ ok: true, title: `worker runtime on ${host}: ${v.node} (Node ${v.node_version ?? "?"})`, detail: `launcher.nodejs: ${o.nodejs}` });
  else {
    checks.push({
      ok: false,
      title: `the worker could not start on ${host}: ${v.node_error ?? "no Node.js found"}`,
      detail: `launcher.nodejs: ${o.nodejs}; PATH=${v.path ?? "?"}`,
      hint: "set launcher.nodejs to the node binary's path on the compute nodes, or add the line that provides it (module load nodejs, conda activate ENV) to launcher.setup",
    });
  }
  checks.push(
    v.marker === o.token
      ? { ok: true, title: `the project folder is visible on ${host}`, detail: o.projectDir }
      : { ok: false, title: `the project folder is not the same on ${host}: its marker file did not read back`, detail: o.projectDir, hint: "the project folder must lie on a file system the compute nodes share (home, project or scratch space)" },
  );
  const found = r.containers.map((c) => {
    const [name = "", ...p] = c.split(" ");
    return { name, path: p.join(" ") };
  });
  if (o.containerCommand && !found.some((c) => c.name === o.containerCommand)) {
    checks.push({ ok: false, title: `container runtime '${o.containerCommand}' is not on PATH on ${host}`, ...(found.length ? { detail: `found: ${found.map((c) => c.name).join(", ")}` } : {}), hint: `add \`module load ${o.containerCommand}\` (or what provides it) to launcher.setup` });
  } else {
    checks.push({ ok: true, title: found.length ? `container runtimes on ${host}: ${found.map((c) => c.name).join(", ")}` : `no container runtime on PATH on ${host}`, ...(found.length ? { detail: found.map((c) => c.path).join(", ") } : {}) });
  }
  const cvd = v.cuda_visible_devices;
  const ids = cvd === undefined || cvd === "unset" || cvd === "" ? [] : cvd.split(",").filter(Boolean);
  const smi = r.nvidiaSmi.length ? `nvidia-smi: ${r.nvidiaSmi.join("; ")}` : "no nvidia-smi on PATH";
  const seen = ids.length ? `GPUs seen on ${host}: ${ids.join(",")} (CUDA_VISIBLE_DEVICES)` : `no GPUs seen on ${host} (CUDA_VISIBLE_DEVICES ${cvd === "unset" || cvd === undefined ? "unset" : "empty"})`;
  if (o.gpus > 0 && ids.length < o.gpus) checks.push({ ok: false, title: `${seen}, but the job asked for ${o.gpus}`, detail: smi, hint: "check launcher.gpus / launcher.gres and the partition's GPUs (sinfo -o '%P %G')" });
  else checks.push({ ok: true, title: o.gpus > 0 ? seen : `${seen}; the job asked for none`, detail: smi });
  return checks;
}

/** `3s`, `2m 5s`, `1h 4m`. */
export function formatWait(s: number): string {
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m ${t % 60}s`;
  return `${Math.floor(t / 3600)}h ${Math.floor((t % 3600) / 60)}m`;
}

/** Seconds between two scontrol times (`2026-12-02T00:25:23`), or undefined when either is unknown. */
export function secondsBetween(a: string | undefined, b: string | undefined): number | undefined {
  const t = (x: string | undefined): number => (x && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(x) ? Date.parse(`${x}Z`) : NaN);
  const d = (t(b) - t(a)) / 1000;
  return Number.isFinite(d) && d >= 0 ? d : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Submits the probe job, waits for it (up to `ctx.probe.timeoutS`), and reports; removes its files. */
export async function probeJob(settings: SlurmLaunchSettings, ctx: DoctorContext, gpus: number): Promise<DoctorCheck[]> {
  const host = ctx.host;
  const timeoutS = ctx.probe?.timeoutS ?? 300;
  const parent = path.join(ctx.projectDir, DOCTOR_PROBE_DIR);
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, "probe-"));
  try {
    const token = randomBytes(12).toString("hex");
    const marker = path.join(dir, "marker");
    const report = path.join(dir, "report");
    writeFileSync(marker, token);
    const nodejs = workerNodejs(settings.nodejs, ctx.projectDir);
    const s = settings.slurm;
    const script = renderSbatch({
      jobName: `${s.jobName ?? "corral"}-probe`,
      slurmDir: dir,
      chunk: 0,
      tasks: 1,
      ...(s.partition ? { partition: s.partition } : {}),
      time: 300,
      ...(s.mem ? { mem: s.mem } : {}),
      ...(s.memPerCpu ? { memPerCpu: s.memPerCpu } : {}),
      ...(s.gres ? { gres: s.gres } : gpus > 0 ? { gpus } : {}),
      ...(s.constraint ? { constraint: s.constraint } : {}),
      ...(s.account ? { account: s.account } : {}),
      ...(s.qos ? { qos: s.qos } : {}),
      chdir: ctx.projectDir,
      sbatchArgs: s.sbatchArgs,
      setup: settings.setup,
      env: settings.env ?? {},
      nodePath: nodejs.command,
      nodejsNote: describeNodejs(nodejs),
      workerScript: WORKER_MAIN,
      probe: { report, marker },
    });
    const file = path.join(dir, "probe.sbatch");
    writeFileSync(file, script, { mode: 0o755 });
    const sub = await host.run("sbatch", ["--parsable", file], CMD_TIMEOUT_MS);
    if (sub.code !== 0) {
      return [{ ok: false, title: "the probe job was refused by sbatch", detail: firstLine(sub.error ?? sub.stderr) || `exit code ${sub.code}`, hint: "check launcher.partition, account, qos, gpus and sbatch_args" }];
    }
    const { jobId } = parseSbatchParsable(sub.stdout);
    const waited = await waitForJob(host, jobId, timeoutS);
    if (waited.kind === "stuck") {
      await host.run("scancel", [jobId], CMD_TIMEOUT_MS);
      return [
        {
          ok: false,
          title: waited.permanent ? `the probe job ${jobId} can never start: ${waited.reason}` : `the probe job ${jobId} still waited after ${formatWait(timeoutS)} (${waited.reason || "no reason given"}); cancelled`,
          hint: waited.permanent ? "the partition, account, QOS or GPU request cannot be met: check them with sinfo / sacctmgr" : "the queue is busy: try again later, with a longer wait (--probe 1800), or on a partition that starts jobs sooner",
        },
      ];
    }
    let text = "";
    try {
      text = readFileSync(report, "utf8");
    } catch {
      /* nothing came back */
    }
    const r = parseProbeReport(text);
    if (!r.values.started) {
      return [
        {
          ok: false,
          title: `the probe job ${jobId} ended (${waited.slurmState}${waited.exitCode ? `, exit ${waited.exitCode}` : ""}) on ${waited.nodes || "its node"} without a report`,
          detail: dir,
          hint: "the project folder must lie on a file system the compute nodes share; see the job's log with `sacct -j " + jobId + "`",
        },
      ];
    }
    return probeChecks(r, { jobId, waitedS: waited.waitedS, token, projectDir: ctx.projectDir, nodejs: describeNodejs(nodejs), gpus: s.gres ? gresCount(s.gres) : gpus, containerCommand: ctx.containerCommand });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(parent);
    } catch {
      /* another probe's folder is still there */
    }
  }
}

function gresCount(gres: string): number {
  const m = /(?:^|,)gpu(?::[^:,]+)?:(\d+)/.exec(gres);
  return m ? Number(m[1]) : 0;
}

type Waited = { kind: "ended"; slurmState: string; exitCode: number; nodes: string; waitedS: number | undefined } | { kind: "stuck"; reason: string; permanent: boolean };

/** Polls `scontrol show job` until the job ends, it can never start, or `timeoutS` passes while it waits. */
async function waitForJob(host: DoctorHost, jobId: string, timeoutS: number): Promise<Waited> {
  const t0 = Date.now();
  let reason = "";
  let interval = 300;
  let last: Record<string, string> | undefined;
  for (;;) {
    const r = await host.run("scontrol", ["show", "job", "-o", jobId], CMD_TIMEOUT_MS);
    const rec = r.code === 0 ? parseScontrolJobs(r.stdout)[0] : undefined;
    if (rec) {
      last = rec;
      const job = scontrolJob(rec);
      if (job.state === "pending") {
        reason = job.reason;
        if (isPermanentReason(reason)) return { kind: "stuck", reason, permanent: true };
      } else if (job.state !== "running") {
        return { kind: "ended", slurmState: job.slurmState, exitCode: job.exitCode, nodes: job.nodes, waitedS: secondsBetween(rec.SubmitTime, rec.StartTime) };
      }
    } else if (/Invalid job id/i.test(r.stderr)) {
      // Purged already (a short MinJobAge): the last answer, if any, says when it started.
      return { kind: "ended", slurmState: last?.JobState ?? "COMPLETED", exitCode: 0, nodes: last?.NodeList ?? "", waitedS: secondsBetween(last?.SubmitTime, last?.StartTime) };
    }
    const waitedMs = Date.now() - t0;
    // A started probe runs for seconds; its own --time (5 minutes) bounds a hanging setup line.
    if ((waitedMs > timeoutS * 1000 && (!rec || scontrolJob(rec).state === "pending")) || waitedMs > (timeoutS + 360) * 1000) return { kind: "stuck", reason, permanent: false };
    await sleep(interval);
    interval = Math.min(3000, Math.round(interval * 1.5));
  }
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}
