/**
 * Against the real local SLURM cluster of scripts/slurm-cluster.sh: submits a script rendered by
 * renderSbatch as a 4-task GPU array and follows it with squeue (parsed by launchers/slurm/parse).
 * Skipped, with the reason printed, when SLURM is not installed or the cluster does not answer.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { SQUEUE_FORMAT, parseSbatchParsable, parseSqueue } from "../../src/launchers/slurm/parse.js";
import { renderSbatch } from "../../src/plan/sbatch.js";
import { TERMINAL_STATES } from "../../src/store/protocol.js";

const run = promisify(execFile);

// Without SLURM_CONF and /etc/slurm/slurm.conf, fall back to the start script's state dir.
const env = { ...process.env };
if (env.SLURM_CONF === undefined && !existsSync("/etc/slurm/slurm.conf")) {
  const conf = join(env.CORRAL_SLURM_DIR ?? "/var/tmp/corral-slurm", "slurm.conf");
  if (existsSync(conf)) env.SLURM_CONF = conf;
}

function whyNoCluster(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v sinfo"], { encoding: "utf8" });
  if (which.status !== 0) return "sinfo is not on PATH (run scripts/ci-setup.sh or scripts/slurm-cluster.sh start as root)";
  const r = spawnSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", env, timeout: 5000 });
  if (r.status !== 0) return `the SLURM cluster does not answer: ${(r.stderr || r.error?.message || "").trim().split("\n")[0] ?? ""}`;
  // A busy node (other tests' jobs) is fine: the array waits its turn. Only a node that can never
  // run it (down, drained) is a reason to skip.
  if (!/\b(idle|mixed|allocated|completing)\b/.test(r.stdout)) return `no usable node: sinfo says ${JSON.stringify(r.stdout.trim())}`;
  return undefined;
}

const skipReason = whyNoCluster();
if (skipReason !== undefined) console.warn(`[slurm-cluster.test] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)("real SLURM cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "corral-slurm-it-"));
  const jobs: string[] = [];
  afterAll(async () => {
    if (jobs.length > 0) await run("scancel", jobs, { env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a 4-task GPU array from a rendered script; each task sees its own CUDA_VISIBLE_DEVICES", async () => {
    const hostile = "it's $(echo no) `echo no`; \"x\"";
    // The "worker": $1 is the batch file named by the exec line; it records what it saw.
    const worker = join(dir, "worker.sh");
    writeFileSync(worker, `#!/bin/sh\nprintf '%s|%s|%s\\n' "$1" "\${CUDA_VISIBLE_DEVICES-unset}" "$HOSTILE" > "$1.seen"\n`);
    chmodSync(worker, 0o755);
    const fakeNode = join(dir, "node");
    writeFileSync(fakeNode, `#!/bin/sh\nif [ "$1" = -e ]; then printf %s 20.11.1; exit 0; fi\nexec /bin/sh "$@"\n`, { mode: 0o755 });
    const script = join(dir, "chunk-0.sbatch");
    writeFileSync(
      script,
      renderSbatch({
        jobName: "corral-it",
        slurmDir: dir,
        chunk: 0,
        tasks: 4,
        time: 60,
        memPerCpu: 100,
        gpus: 1,
        requeue: false,
        signalGraceS: 30,
        env: { HOSTILE: hostile },
        // A stand-in for node: answers the job's runtime check (Node >= 20), then runs the worker with sh.
        nodePath: fakeNode,
        workerScript: worker,
      }),
    );

    const t0 = Date.now();
    const sub = await run("sbatch", ["--parsable", script], { env });
    const { jobId } = parseSbatchParsable(sub.stdout);
    jobs.push(jobId);

    // Poll squeue (never sbatch --wait: it polls coarsely) until all 4 tasks are terminal.
    let rows = parseSqueue("");
    for (;;) {
      const q = await run("squeue", ["-h", "-t", "all", "-j", jobId, "-o", SQUEUE_FORMAT], { env });
      rows = parseSqueue(q.stdout);
      const tasks = rows.flatMap((r) => r.tasks ?? []);
      if (tasks.length === 4 && rows.every((r) => r.state !== undefined && TERMINAL_STATES.has(r.state))) break;
      if (Date.now() - t0 > 90_000) throw new Error(`array ${jobId} not done after 90 s: ${q.stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows.map((r) => r.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(rows.flatMap((r) => r.tasks ?? []).sort()).toEqual([0, 1, 2, 3]);

    const seen = [0, 1, 2, 3].map((t) => readFileSync(join(dir, `batch-0-${t}.json.seen`), "utf8").trimEnd().split("|"));
    for (const [t, s] of seen.entries()) {
      expect(s[0]).toBe(join(dir, `batch-0-${t}.json`));
      // One GPU each: a single device index, not "unset" and not a list.
      expect(s[1]).toMatch(/^\d+$/);
      expect(s.slice(2).join("|")).toBe(hostile);
    }
    // Scheduler logs land where the script says.
    expect(existsSync(join(dir, `${jobId}_0.out`))).toBe(true);
  });
});
