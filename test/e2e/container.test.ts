/**
 * Containers for real: a Charliecloud image folder built from busybox-static, a local sweep whose
 * runs execute inside it (proved by ch-run's CH_RUNNING and the image's own /etc/os-release), and
 * the same inside a SLURM batch when the SLURM launcher and a test cluster exist.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, lines, makeProject, readJson, ROOT, sweepDirs } from "../helpers.js";

const which = (c: string): string | undefined => {
  const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
const chRun = which("ch-run");
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));
const skipReason = !chRun ? "ch-run (Debian's charliecloud-runtime) is not installed" : !busybox ? "busybox-static is not installed" : undefined;
if (skipReason) console.log(`container e2e skipped: ${skipReason}`);

/** A minimal image folder: static busybox, a passwd/group, and a marker only the image has. */
function buildImage(root: string): string {
  const img = path.join(root, "bb-image");
  for (const d of ["bin", "dev", "proc", "sys", "tmp", "home", "etc", "root", "mnt", "usr/bin"]) mkdirSync(path.join(img, d), { recursive: true });
  copyFileSync(busybox!, path.join(img, "bin/busybox"));
  for (const c of ["sh", "cat", "echo", "env", "grep", "cut", "id"]) symlinkSync("busybox", path.join(img, "bin", c));
  writeFileSync(path.join(img, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(img, "etc/group"), "root:x:0:\n");
  writeFileSync(path.join(img, "etc/os-release"), "ID=corral-test-image\n");
  return img;
}

// Runs inside the image: writes proof of where it ran into metrics.jsonl and config details to stdout.
const SCRIPT = `#!/bin/sh
id=$(grep '^ID=' /etc/os-release | cut -d= -f2)
echo "inside=$CH_RUNNING image=$id args=$*"
echo "{\\"in_container\\": \\"$CH_RUNNING\\", \\"image\\": \\"$id\\", \\"greeting\\": \\"$GREETING\\"}" >> "$CORRAL_RUN_DIR/metrics.jsonl"
`;

describe.skipIf(skipReason !== undefined)("charliecloud (real ch-run)", () => {
  it("runs each run of a local sweep inside the image; logs and metrics land on the host", () => {
    const dir = makeProject({ "scripts/probe.sh": SCRIPT });
    buildImage(dir);
    // The image path is relative to the project; the command's path is expanded from `paths`.
    writeFileSync(
      path.join(dir, "corral.yaml"),
      `command: sh \${paths.scripts}/probe.sh
paths: {scripts: scripts}
config: {lr: 0.1}
launcher: {jobs: 2}
container:
  runtime: charliecloud
  image: ./bb-image
  env: {GREETING: hello}
`,
    );
    const r = corral(["run", "-m", "lr=0.1,0.2"], { cwd: dir, env: { USER: process.env.USER ?? os.userInfo().username } });
    expect(r.stderr).toContain("2 succeeded");
    expect(r.code).toBe(0);
    const [sweep] = sweepDirs(dir);
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.container).toMatchObject({ runtime: "charliecloud", image: "./bb-image" });
    expect(m.command).toEqual(["sh", path.join(dir, "scripts/probe.sh")]);
    for (const i of [0, 1]) {
      const out = readFileSync(path.join(sweep!, String(i), "stdout.log"), "utf8");
      expect(out).toContain(`image=corral-test-image args=lr=0.${i + 1}`);
      const metric = JSON.parse(lines(path.join(sweep!, String(i), "metrics.jsonl"))[0]!) as Record<string, string>;
      // CH_RUNNING is set by ch-run only; the host has no /etc/os-release with this ID.
      expect(metric.in_container).not.toBe("");
      expect(metric).toMatchObject({ image: "corral-test-image", greeting: "hello" });
    }
    const res = corral(["results", "--format", "csv"], { cwd: dir });
    expect(res.stdout).toContain("corral-test-image");
  });

  const slurmReady =
    existsSync(path.join(ROOT, "src/launchers/slurm/slurm-launcher.ts")) &&
    which("sbatch") !== undefined &&
    spawnSync("sinfo", ["-h", "-o", "%t"], { encoding: "utf8", timeout: 10_000 }).stdout?.trim() !== "";
  if (!slurmReady) console.log("container e2e (SLURM batch) skipped: no SLURM launcher (src/launchers/slurm/slurm-launcher.ts) or no running test cluster (scripts/slurm-cluster.sh start)");

  it.skipIf(!slurmReady)("runs inside the image within a SLURM batch", () => {
    const dir = makeProject({ "scripts/probe.sh": SCRIPT });
    const img = buildImage(dir);
    writeFileSync(path.join(dir, "corral.yaml"), `command: sh ${dir}/scripts/probe.sh\nlauncher: {type: slurm, parallel: 2, per_job: 2}\ncontainer: {runtime: charliecloud, image: ${img}, env: {GREETING: slurm}}\n`);
    const r = corral(["run", "-m", "+x=1,2"], { cwd: dir, env: { USER: process.env.USER ?? os.userInfo().username }, timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const [sweep] = sweepDirs(dir);
    const m = readJson<SweepManifest>(path.join(sweep!, "sweep.json"));
    expect(m.launcher).toBe("slurm");
    expect(m.jobs.map((j) => j.jobId)).toEqual([expect.stringMatching(/^\d+$/)]);
    for (const i of [0, 1]) {
      const st = readJson<{ jobId?: string }>(path.join(sweep!, String(i), "status.json"));
      expect(st.jobId).toMatch(new RegExp(`^${m.jobs[0]!.jobId}`));
      const metric = JSON.parse(lines(path.join(sweep!, String(i), "metrics.jsonl"))[0]!) as Record<string, string>;
      expect(metric).toMatchObject({ image: "corral-test-image", greeting: "slurm" });
      expect(metric.in_container).not.toBe("");
    }
    expect(execFileSync("ls", [path.join(sweep!, ".slurm")], { encoding: "utf8" })).toMatch(/\.sbatch|\.sh/);
  }, 200_000);
});
