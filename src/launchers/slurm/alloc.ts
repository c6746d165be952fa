/**
 * Single-allocation pipelines: one SLURM job runs the whole `corral flow` with the local
 * launcher inside it — the "one job script runs the entire workflow" method many clusters
 * prefer over thousands of small jobs. Only the submission and the wait live here; the flow
 * inside the job is the ordinary one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../../errors.js";
import type { SlurmLaunchSettings } from "../launcher.js";
import { slurmCmd } from "./commands.js";
import { parseSbatchParsable, parseScontrolJobs, scontrolJob } from "./parse.js";
import { renderSbatch } from "../../plan/sbatch.js";
import { FLOW_ALLOC_DIR } from "../../store/layout.js";
import { describeNodejs, workerNodejs } from "./runtime.js";

export interface AllocRequest {
  projectDir: string;
  /** The SLURM settings of the project (`resolveSettings(cfg, {launcher: "slurm"})`), whatever its `launcher.type`. */
  settings: SlurmLaunchSettings;
  /** argv run inside the allocation (absolute node binary first). */
  argv: string[];
  now: Date;
}

export interface AllocJob {
  jobId: string;
  script: string;
  log: string;
}

/** Render and submit the allocation's batch script. */
export async function submitAllocation(req: AllocRequest): Promise<AllocJob> {
  const s = req.settings.slurm;
  const dir = path.join(req.projectDir, FLOW_ALLOC_DIR);
  mkdirSync(dir, { recursive: true });
  const nodejs = workerNodejs(req.settings.nodejs, req.projectDir);
  const script = renderSbatch({
    jobName: `${s.jobName ?? "corral"}-flow`,
    slurmDir: dir,
    chunk: 0,
    tasks: 1,
    ...(s.partition ? { partition: s.partition } : {}),
    ...(s.time !== undefined ? { time: s.time } : {}),
    ...(s.mem ? { mem: s.mem } : {}),
    ...(s.memPerCpu ? { memPerCpu: s.memPerCpu } : {}),
    ...(s.cpusPerTask ? { cpusPerTask: s.cpusPerTask } : {}),
    ...(s.gpus ? { gpus: s.gpus } : {}),
    ...(s.gres ? { gres: s.gres } : {}),
    ...(s.constraint ? { constraint: s.constraint } : {}),
    ...(s.account ? { account: s.account } : {}),
    ...(s.qos ? { qos: s.qos } : {}),
    chdir: req.projectDir,
    sbatchArgs: s.sbatchArgs,
    setup: req.settings.setup,
    env: req.settings.env ?? {},
    nodePath: nodejs.command,
    nodejsNote: describeNodejs(nodejs),
    workerScript: req.argv[1]!,
    // The inner corral runs with the job's own Node.js (checked first), not necessarily this one.
    exec: [nodejs.command, ...req.argv.slice(1)],
  });
  const stamp = req.now.toISOString().replace(/[:.]/g, "-");
  const file = path.join(dir, `flow-${stamp}.sbatch`);
  writeFileSync(file, script, { mode: 0o755 });
  const r = await slurmCmd("sbatch", ["--parsable", file]);
  if (r.code !== 0) throw new CorralError("E_SCHEDULER", `sbatch failed for ${file}: ${r.stderr.trim() || `exit ${r.code}`}`, { hint: "check the launcher settings with `corral doctor`" });
  const { jobId } = parseSbatchParsable(r.stdout);
  return { jobId, script: file, log: path.join(dir, `${jobId}.out`) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until the allocation has ended; its exit code (the inner `corral flow`'s). */
export async function waitAllocation(jobId: string, onState?: (state: string) => void): Promise<number> {
  let interval = 250;
  let last = "";
  for (;;) {
    const r = await slurmCmd("scontrol", ["show", "job", "-o", jobId], { attempts: 3 });
    const rec = r.code === 0 ? parseScontrolJobs(r.stdout)[0] : undefined;
    if (rec) {
      const job = scontrolJob(rec);
      if (job.slurmState !== last) onState?.((last = job.slurmState));
      if (job.state !== "pending" && job.state !== "running") {
        if (job.state === "succeeded") return 0;
        if (job.state === "cancelled") return 130;
        return job.exitCode || 1;
      }
    } else if (r.code !== 0 && /Invalid job id/i.test(r.stderr)) {
      // Purged already (MinJobAge): accounting is the only witness left.
      const s = await slurmCmd("sacct", ["-n", "-P", "-X", "-j", jobId, "--format=State,ExitCode"], { attempts: 2 });
      const [state, code] = s.stdout.trim().split("\n")[0]?.split("|") ?? [];
      return state?.startsWith("COMPLETED") ? 0 : Number(code?.split(":")[0]) || 1;
    }
    await sleep(interval);
    interval = Math.min(5000, Math.round(interval * 1.3));
  }
}
