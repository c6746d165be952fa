/**
 * Storage faults and damaged records (issue 11): one clear line naming the file, exit 1 or 2,
 * never a stack trace; a run whose record became unreadable is never rerun without being asked.
 * Starts are counted from what the runs themselves wrote, not from what corral says.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { corral, lines, makeProject, sweepDirs } from "../helpers.js";

const NO_STACK = /\n\s+at /;

function finishedSweep(): { dir: string; sweep: string } {
  const dir = makeProject({
    "corral.yaml": "command: sh -c 'echo \"$CORRAL_RUN_ID\" >> starts.txt'\nconfig:\n  x: 0\nsweep:\n  x: 1,2,3\n",
  });
  const r = corral(["run", "-m"], { cwd: dir });
  expect(r.code).toBe(0);
  return { dir, sweep: sweepDirs(dir)[0]! };
}

describe("damaged records", () => {
  it("an empty or garbage status.json of a succeeded run shows as unknown; resume does not rerun it unless asked", () => {
    const { dir, sweep } = finishedSweep();
    writeFileSync(path.join(sweep, "0", "status.json"), "");
    writeFileSync(path.join(sweep, "1", "status.json"), "{garbage");
    const st = corral(["status", "-a"], { cwd: dir });
    expect(st.code).toBe(0);
    expect(st.stdout).toContain("2 unknown");
    expect(st.stdout).toMatch(/status\.json is empty/);
    const res = corral(["resume"], { cwd: dir });
    expect(res.stderr).toContain("2 runs have an unreadable status record and are not rerun");
    expect(res.stderr).toContain("corral resume --retry-unknown");
    expect(res.stderr).not.toMatch(NO_STACK);
    expect(lines(path.join(dir, "starts.txt"))).toHaveLength(3);
    const again = corral(["resume", "--retry-unknown"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(lines(path.join(dir, "starts.txt"))).toHaveLength(5);
  });

  it("a status.json with wrong types is unknown, not a crash, in status, results and resume", () => {
    const { dir, sweep } = finishedSweep();
    writeFileSync(path.join(sweep, "2", "status.json"), JSON.stringify({ type: "run-status", state: 7, attempt: "x", history: {} }));
    for (const args of [["status"], ["results"], ["status", "--json"]]) {
      const r = corral(args, { cwd: dir });
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stderr).not.toMatch(NO_STACK);
    }
    expect(corral(["status"], { cwd: dir }).stdout).toContain("1 unknown");
    corral(["resume"], { cwd: dir });
    expect(lines(path.join(dir, "starts.txt"))).toHaveLength(3);
  });

  it("a sweep.json without runs: status, results and resume say which file is damaged (exit 1), no TypeError", () => {
    const { dir, sweep } = finishedSweep();
    const m = JSON.parse(readFileSync(path.join(sweep, "sweep.json"), "utf8")) as Record<string, unknown>;
    delete m.runs;
    writeFileSync(path.join(sweep, "sweep.json"), JSON.stringify(m));
    for (const cmd of ["status", "results", "resume"]) {
      const r = corral([cmd, sweep], { cwd: dir });
      expect(r.code, cmd).toBe(1);
      expect(r.stderr).toContain(`${path.join(sweep, "sweep.json")} is damaged: it has no list of runs`);
      expect(r.stderr).not.toMatch(NO_STACK);
      expect(r.stderr).not.toContain("TypeError");
    }
  });
});

// Real mounts: a tiny tmpfs (full disk) and a read-only bind. Root only.
const mounts: string[] = [];
const mountProblem = ((): string | undefined => {
  if (process.getuid?.() !== 0) return "needs root to mount a tmpfs";
  const probe = mkdtempSync(path.join(os.tmpdir(), "corral-mnt-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]);
  if (r.status !== 0) return `mount -t tmpfs failed: ${r.stderr.toString().trim()}`;
  spawnSync("umount", [probe]);
  return undefined;
})();
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync("umount", ["-l", m]);
});

describe.skipIf(mountProblem !== undefined)(`storage faults on real mounts${mountProblem ? ` (skipped: ${mountProblem})` : ""}`, () => {
  it("a read-only sweep folder: resume says the filesystem is read-only (one line, exit 1); status still reads it", () => {
    const { dir, sweep } = finishedSweep();
    writeFileSync(path.join(sweep, "0", "status.json"), JSON.stringify({ type: "run-status", version: 1, runId: "x", index: 0, state: "failed", attempt: 1, updatedAt: 1, history: [] }));
    execFileSync("mount", ["--bind", sweep, sweep]);
    mounts.push(sweep);
    execFileSync("mount", ["-o", "remount,bind,ro", sweep]);
    const r = corral(["resume", "--retry-failed"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write .*: the filesystem is read-only \(EROFS\)/);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(r.stderr).not.toContain("internal error");
    expect(corral(["status"], { cwd: dir }).code).toBe(0);
  });

  it("a disk that fills during a sweep: the run that finished is recorded (the worker's ballast), no stack; after space is freed resume runs each remaining run once and none twice", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh run.sh\nconfig:\n  x: 0\nsweep_dir: disk/sweep\nlauncher:\n  jobs: 1\n",
      // Run x=3 fills the disk to the brim, then finishes its work: its outcome must not be lost.
      "run.sh": 'echo "start $1" >> starts.txt\nif [ "$1" = x=3 ]; then head -c 4000000 /dev/zero > disk/filler 2>/dev/null; fi\necho "end $1" >> starts.txt\n',
    });
    const disk = path.join(dir, "disk");
    mkdirSync(disk);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]);
    mounts.push(disk);
    const r = corral(["run", "-m", "x=1,2,3,4,5,6"], { cwd: dir, timeoutMs: 60_000 });
    expect([0, 1], r.stderr).toContain(r.code);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(r.stderr).not.toContain("internal error");
    const sweep = path.join(disk, "sweep");
    const logs = execFileSync("sh", ["-c", `cat ${sweep}/.corral/*.log`], { encoding: "utf8" });
    expect(logs).toMatch(/the disk is full .*no further run starts/);
    // The run that filled the disk finished, and its record says so.
    const st3 = JSON.parse(readFileSync(path.join(sweep, "2", "status.json"), "utf8")) as { state: string };
    expect(st3.state).toBe("succeeded");
    execFileSync("rm", ["-f", path.join(disk, "filler")]);
    const res = corral(["resume", "--retry-failed"], { cwd: dir, timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(0);
    const ends = lines(path.join(dir, "starts.txt")).filter((l) => l.startsWith("end "));
    expect(ends.sort()).toEqual(["end x=1", "end x=2", "end x=3", "end x=4", "end x=5", "end x=6"]);
  });

  it("a full disk when a sweep starts: one line naming the file and ENOSPC, exit 1, no stack", () => {
    const dir = makeProject({ "corral.yaml": "command: 'true'\nconfig:\n  x: 0\nsweep_dir: full/sweep\n" });
    const full = path.join(dir, "full");
    mkdirSync(full);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", full]);
    mounts.push(full);
    // Fill it, leaving room for the folders but not for the records.
    spawnSync("sh", ["-c", `head -c 100000 /dev/zero > ${full}/fill`]);
    const r = corral(["run", "-m", "x=1,2,3"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space left on the device \(ENOSPC\)/);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(r.stderr).not.toContain("internal error");
  });
});
