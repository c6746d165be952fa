/**
 * The command line in a pipe and from anywhere: a reader that closes early (`| head -1`) ends any
 * command quietly (no EPIPE stack trace, exit 0), and `--project` points every command at the
 * project's sweeps whatever the cwd.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, corral, corralAsync, makeProject, sweepDirs, TASKS } from "../helpers.js";

/**
 * `sh -c '(corral ARGS; echo $? >RC) | READER'`: stderr as the terminal would show it, and
 * corral's own exit status (a pipeline's status is the reader's).
 */
async function piped(args: string, cwd: string, reader = "head -1"): Promise<{ code: number; stdout: string; stderr: string }> {
  const rc = path.join(mkdtempSync(path.join(os.tmpdir(), "corral-rc-")), "rc");
  // Asynchronous, so that the test worker stays responsive while a big plan is written.
  const child = spawn("sh", ["-c", `("${process.execPath}" "${CLI}" ${args}; echo $? >"${rc}") | ${reader}`], { cwd, env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(status).toBe(0);
  return { code: Number(readFileSync(rc, "utf8").trim()), stdout, stderr };
}

// A x 100 runs; the command ignores its arguments and waits (the sweep is cancelled at once).
const project = (a: number): string => `command: sh -c 'sleep 60' --
launcher:
  jobs: 1
config:
  a: 0
  b: 0
sweep:
  a: "range(${a})"
  b: "range(100)"
`;

describe("a closed pipe ends any command quietly", () => {
  // Dry runs plan 20,000 runs; the sweep that status and results read has 5,000 (hundreds of
  // KiB of output, well past a pipe's buffer) to keep its creation quick.
  const big = makeProject({ "corral.yaml": project(200) });
  let dir = "";
  beforeAll(async () => {
    dir = makeProject({ "corral.yaml": project(50) });
    const r = await corralAsync(["run", "-m", "--detach"], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(corral(["cancel", "--force"], { cwd: dir }).code).toBe(0);
  }, 180_000);
  afterAll(() => {
    if (dir) corral(["cancel", "--force"], { cwd: dir });
  });

  const cases: Array<[string, string, "big" | "sweep"]> = [
    ["dry run of 20,000 runs", "run -m --dry-run", "big"],
    ["dry run of 20,000 runs as JSON", "run -m --dry-run --json", "big"],
    ["status of 5,000 runs", "status", "sweep"],
    ["status --all", "status --all", "sweep"],
    ["results of 5,000 runs", "results", "sweep"],
    ["env", "env", "sweep"],
  ];
  for (const [what, args, where] of cases) {
    it(`${what}: corral ${args} | head -1`, async () => {
      const r = await piped(args, where === "big" ? big : dir);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(1);
    }, 120_000);
    // A reader that reads nothing: the very first write meets the closed pipe.
    it(`${what}: corral ${args} | true`, async () => {
      const r = await piped(args, where === "big" ? big : dir, "true");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }, 120_000);
  }

  it("the streamed dry run prints exactly what one JSON.stringify would", () => {
    const r = corral(["run", "-m", "--dry-run", "--json", "a=1,2", "b=3"], { cwd: big });
    expect(r.code).toBe(0);
    const runs = JSON.parse(r.stdout) as unknown[];
    expect(runs).toHaveLength(2);
    expect(r.stdout).toBe(JSON.stringify(runs, null, 2) + "\n");
  });
});

describe("--project is honoured by every command", () => {
  it("status, results, logs, cancel and resume find the project's sweeps from an unrelated cwd", () => {
    const a = makeProject({ "corral.yaml": `command: sh ${TASKS}/ok.sh\nconfig:\n  lr: 0.1\nlauncher:\n  jobs: 2\n` });
    const elsewhere = makeProject({}, "corral-elsewhere-");
    const run = corral(["run", "-m", "lr=0.1,0.01"], { cwd: a });
    expect(run.code, run.stderr).toBe(0);
    const [sweep] = sweepDirs(a);
    for (const project of [path.join(a, "corral.yaml"), a]) {
      const st = corral(["--project", project, "status"], { cwd: elsewhere });
      expect(st.code, st.stderr).toBe(0);
      expect(st.stdout).toContain(sweep);
      expect(st.stdout).toContain("2 succeeded");
      const res = corral(["--project", project, "results", "--format", "csv"], { cwd: elsewhere });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.trim().split("\n")).toEqual(["run,lr,state,step,loss,acc", "0,0.1,succeeded,2,0.25,0.9", "1,0.01,succeeded,2,0.25,0.9"]);
      const logs = corral(["--project", project, "logs", "1"], { cwd: elsewhere });
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toContain("args: lr=0.01");
      const resume = corral(["--project", project, "resume"], { cwd: elsewhere });
      expect(resume.code, resume.stderr).toBe(0);
      expect(resume.stderr).toContain("2 already succeeded");
      const cancel = corral(["--project", project, "cancel"], { cwd: elsewhere });
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stderr).toContain(sweep);
    }
    // Without --project, the unrelated folder has no sweeps.
    const none = corral(["status"], { cwd: elsewhere });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no sweeps recorded");
  });

  it("run, config and env read the project named by --project, file or folder", () => {
    const a = makeProject({ "corral.yaml": `command: sh ${TASKS}/ok.sh\nconfig:\n  lr: 0.5\n` });
    const elsewhere = makeProject({}, "corral-elsewhere-");
    for (const project of [path.join(a, "corral.yaml"), a]) {
      const cfg = corral(["--project", project, "config", "--json"], { cwd: elsewhere });
      expect(cfg.code, cfg.stderr).toBe(0);
      expect(JSON.parse(cfg.stdout)).toEqual({ lr: 0.5 });
      const env = corral(["--project", project, "env", "--json"], { cwd: elsewhere });
      expect(env.code, env.stderr).toBe(0);
      expect((JSON.parse(env.stdout) as { project: string }).project).toContain(a);
    }
    const run = corral(["--project", a, "run", "lr=0.25"], { cwd: elsewhere });
    expect(run.code, run.stderr).toBe(0);
    expect(sweepDirs(a)).toHaveLength(1);
    expect(sweepDirs(elsewhere)).toEqual([]);
  });
});
