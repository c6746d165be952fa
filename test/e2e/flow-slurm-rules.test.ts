/**
 * Per-rule SLURM settings and localrules of `corral flow`, against the real local SLURM cluster
 * (scripts/slurm-cluster.sh: partition `debug`, node `localhost` with 4 GPUs). Skipped, with the
 * reason printed, where no cluster answers.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStatusRecord, SweepManifest } from "../../src/store/protocol.js";
import { corral, lines, makeProject, readJson, slurmProblem, sweepDirs, waitFor } from "../helpers.js";

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const problem = slurmProblem();
if (problem) console.warn(`SKIPPED slurm flow rule tests: ${problem}`);

// Each job writes what it saw of its environment, and says it ran.
const ENV_SH = `{
  echo "SLURM_JOB_ID=\${SLURM_JOB_ID:-}"
  echo "SLURM_JOB_PARTITION=\${SLURM_JOB_PARTITION:-}"
  echo "CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES-unset}"
} > "$1"
echo "$1" >> ran.txt
`;

const envOf = (file: string): Record<string, string> => Object.fromEntries(lines(file).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
const scontrol = (jobId: string): string => execFileSync("scontrol", ["show", "job", "-o", jobId], { encoding: "utf8" });

const PROJECT = `localrules: [summary]
launcher:
  type: slurm
  poll_interval: 1
rules:
  prep:
    output: data.txt
    local: true
    shell: sh env.sh {output}
  train:
    input: data.txt
    output: models/{m}.env
    resources: {partition: debug, gres: "gpu:1", slurm_extra: "'--comment=corral-test'"}
    shell: sh env.sh {output}
  report:
    input: data.txt
    output: report.env
    resources: {slurm_extra: ["--comment=$(touch pwned) \`touch pwned2\`"]}
    shell: sh env.sh {output}
  summary:
    input: [models/a.env, models/b.env, report.env]
    output: summary.env
    shell: sh env.sh {output}
targets: [summary.env]
`;

describe.skipIf(problem !== undefined)("corral flow on SLURM: per-rule settings and localrules (real local cluster)", () => {
  it("shows each rule's settings in --dry-run's sbatch scripts, and localrules as running here", () => {
    const dir = makeProject({ "corral.yaml": PROJECT, "env.sh": ENV_SH });
    const r = corral(["flow", "--dry-run"], { cwd: dir });
    expect(r.code).toBe(0);
    const scripts = r.stdout.split("# ---- ").slice(1);
    const train = scripts.find((s) => s.includes("rule 'train'"))!;
    expect(train).toContain("#SBATCH --partition=debug\n");
    expect(train).toContain("#SBATCH --gres=gpu:1\n");
    expect(train).toMatch(/#SBATCH --comment="corral:\S+:\d+ corral-test"\n/);
    expect(train).toContain("#SBATCH --array=0-1");
    expect(scripts.filter((s) => s.includes("run on this machine (localrules)"))).toEqual([expect.stringContaining("2 jobs of rules 'prep', 'summary'")]);
    expect(sweepDirs(dir)).toEqual([]);
  });

  it("each job gets its rule's partition, GPU and comment; localrules run on the head's machine, deps both ways", () => {
    const dir = makeProject({ "corral.yaml": PROJECT, "env.sh": ENV_SH });
    const r = corral(["flow"], { cwd: dir, timeoutMs: 180_000 });
    expect(r.stderr).toContain("5 succeeded");
    expect(r.code).toBe(0);
    // Each job ran once.
    expect(lines(path.join(dir, "ran.txt")).sort()).toEqual(["data.txt", "models/a.env", "models/b.env", "report.env", "summary.env"]);
    // localrules (prep by `local: true`, summary by `localrules`) ran outside SLURM; the others inside.
    for (const f of ["data.txt", "summary.env"]) expect(envOf(path.join(dir, f)).SLURM_JOB_ID).toBe("");
    for (const f of ["models/a.env", "models/b.env", "report.env"]) expect(envOf(path.join(dir, f)).SLURM_JOB_ID).toMatch(/^\d+$/);
    for (const m of ["a", "b"]) {
      const env = envOf(path.join(dir, "models", `${m}.env`));
      expect(env.SLURM_JOB_PARTITION).toBe("debug");
      expect(env.CUDA_VISIBLE_DEVICES).toMatch(/^\d$/);
    }
    const sweep = sweepDirs(dir)[0]!;
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    const byRule = (rule: string): number[] => m.runs.filter((x) => x.rule === rule).map((x) => x.index);
    const launcherOf = (i: number): string[] => [...new Set(m.jobs.filter((j) => j.batches.some((b) => b.runs.includes(i))).map((j) => j.launcher))];
    for (const i of [...byRule("prep"), ...byRule("summary")]) expect(launcherOf(i)).toEqual(["local"]);
    for (const i of [...byRule("train"), ...byRule("report")]) expect(launcherOf(i)).toEqual(["slurm"]);
    // The two train jobs share one array; report (other settings) has its own job.
    const trainJobs = new Set(m.jobs.filter((j) => j.batches.some((b) => b.runs.some((i) => byRule("train").includes(i)))).map((j) => j.jobId));
    expect(trainJobs.size).toBe(1);
    const [trainJob] = [...trainJobs];
    expect(m.jobs.find((j) => j.batches.some((b) => b.runs.includes(byRule("report")[0]!)))!.jobId).not.toBe(trainJob);
    // What the scheduler recorded for each train task.
    const shown = scontrol(trainJob!);
    for (const line of shown.trim().split("\n")) {
      expect(line).toContain("Partition=debug");
      expect(line).toMatch(/Comment=corral:\S+ corral-test/);
      expect(line).toMatch(/TresPerNode=(gres:)?gpu:1/);
    }
    // A hostile comment reached the scheduler as text and never ran.
    const reportJob = m.jobs.find((j) => j.batches.some((b) => b.runs.includes(byRule("report")[0]!)))!.jobId;
    expect(scontrol(reportJob)).toContain("$(touch pwned) `touch pwned2`");
    expect(existsSync(path.join(dir, "pwned"))).toBe(false);
    expect(existsSync(path.join(dir, "pwned2"))).toBe(false);
    // Deps both ways: prep (here) before train and report (SLURM), those before summary (here).
    const rec = (i: number): RunStatusRecord => readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json"));
    const prepEnd = rec(byRule("prep")[0]!).endedAt!;
    const summaryStart = rec(byRule("summary")[0]!).startedAt!;
    for (const i of [...byRule("train"), ...byRule("report")]) {
      expect(rec(i).startedAt!).toBeGreaterThanOrEqual(prepEnd);
      expect(rec(i).endedAt!).toBeLessThanOrEqual(summaryStart);
    }
    // Up to date afterwards: nothing runs again.
    const again = corral(["flow"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(lines(path.join(dir, "ran.txt"))).toHaveLength(5);
  });

  it("cancel stops the head's local jobs and the SLURM jobs alike; resume runs both again, each through its launcher", async () => {
    const wait = `echo {rule} >> starts; while [ ! -f go ]; do sleep 0.2; done; touch {output}`;
    const dir = makeProject({
      "corral.yaml": `launcher: {type: slurm, poll_interval: 1, kill_grace: 2}
rules:
  here: {output: h.txt, local: true, shell: "${wait.replace("{rule}", "here")}"}
  there: {output: t.txt, shell: "${wait.replace("{rule}", "there")}"}
  summary: {input: [h.txt, t.txt], output: s.txt, local: true, shell: "touch {output}; echo summary >> starts"}
targets: [s.txt]
`,
    });
    const d = corral(["flow", "--detach"], { cwd: dir });
    expect(d.code).toBe(0);
    await waitFor(() => lines(path.join(dir, "starts")).length >= 2, 90_000, "both jobs to start");
    const sweep = sweepDirs(dir)[0]!;
    const c = corral(["cancel"], { cwd: dir, timeoutMs: 60_000 });
    expect(c.code).toBe(0);
    await waitFor(() => {
      const st = JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout) as { counts: { cancelled: number } };
      return st.counts.cancelled === 3;
    }, 60_000, "every job cancelled");
    const m = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    // The local worker is gone, and so is the SLURM job.
    const work = (x: SweepManifest) => x.jobs.filter((j) => !j.jobId.startsWith("head-"));
    for (const j of work(m).filter((x) => x.launcher === "local")) await waitFor(() => !pidAlive(j.pid!), 30_000, "the local worker to end");
    const slurmJobs = m.jobs.filter((x) => x.launcher === "slurm").map((x) => x.jobId);
    expect(slurmJobs).toHaveLength(1);
    await waitFor(() => !/RUNNING|PENDING/.test(scontrol(slurmJobs[0]!)), 30_000, "the SLURM job to end");
    writeFileSync(path.join(dir, "go"), "");
    const r = corral(["resume"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toContain("3 succeeded");
    expect(r.code).toBe(0);
    expect(lines(path.join(dir, "starts")).sort()).toEqual(["here", "here", "summary", "there", "there"]);
    const after = readJson<SweepManifest>(path.join(sweep, "sweep.json"));
    // here twice and summary once on this machine; there twice on SLURM.
    expect(work(after).filter((x) => x.launcher === "local").length).toBe(3);
    expect(work(after).filter((x) => x.launcher === "slurm").length).toBe(2);
  }, 300_000);

  it("a rule's constraint the cluster does not have ends the flow with the scheduler's reason, exit 1", () => {
    const dir = makeProject({
      "corral.yaml": `launcher: {type: slurm, poll_interval: 1}
rules:
  train: {output: t.txt, resources: {constraint: nosuchfeature}, shell: "echo x > {output}; echo t >> ran.txt"}
  ok: {output: o.txt, shell: "echo x > {output}; echo o >> ran.txt"}
targets: [t.txt, o.txt]
`,
    });
    const r = corral(["flow", "-k"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    // slurm 22.05 refuses the feature at submission (other versions leave it pending BadConstraints).
    expect(r.stderr).toMatch(/Invalid feature specification|BadConstraints/);
    expect(r.stderr).toContain("1 succeeded");
    expect(lines(path.join(dir, "ran.txt"))).toEqual(["o"]);
  });

  it("refuses a hostile partition and Corral's own sbatch flags before anything starts, exit 2 naming rule and key", () => {
    const dir = makeProject({
      "corral.yaml": `launcher: {type: slurm}
rules:
  train: {output: t.txt, shell: "true"}
profiles:
  hpc: {set_resources: {train: {partition: "x; touch pwned"}}}
`,
    });
    const r = corral(["flow", "t.txt", "-P", "hpc"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("profiles.hpc.set_resources.train.partition");
    expect(r.stderr).toContain("rule 'train'");
    expect(existsSync(path.join(dir, "pwned"))).toBe(false);
    expect(sweepDirs(dir)).toEqual([]);
    const own = makeProject({ "corral.yaml": `launcher: {type: slurm}\nrules:\n  train: {output: t.txt, shell: "touch {output}", resources: {partition: debug, slurm_extra: "--array=0-9"}}\n` });
    const o = corral(["flow", "t.txt"], { cwd: own });
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("rules.train.resources.slurm_extra");
    expect(o.stderr).toContain("slurm_extra flag '--array=0-9' is Corral's own");
    expect(sweepDirs(own)).toEqual([]);
    // Locally the same settings mean nothing and break nothing.
    const local = corral(["flow", "t.txt", "--launcher", "local"], { cwd: own });
    expect(local.code).toBe(0);
    expect(existsSync(path.join(own, "t.txt"))).toBe(true);
  });
});
