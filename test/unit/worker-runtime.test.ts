/**
 * The worker's runtime in a SLURM job (`launcher.nodejs`): the default's choice (shared file
 * system or not), the job script's check before the worker starts (missing, not on PATH, too
 * old, hostile values), and the doctor probe's script and report.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchFilePath, renderSbatch, type SbatchOptions } from "../../src/plan/sbatch.js";
import { chooseNodejs, describeNodejs, mountFsType } from "../../src/launchers/slurm/runtime.js";
import { parseProbeReport, probeChecks, secondsBetween } from "../../src/launchers/slurm/probe.js";

/** A stand-in for node: answers the version question with `version`, else prints its arguments. */
function fakeNode(dir: string, version = "20.11.1", name = "node"): string {
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\nif [ "$1" = -e ]; then printf %s '${version}'; exit 0; fi\nprintf 'worker:%s\\n' "$*"\n`, { mode: 0o755 });
  return p;
}

function job(opts: Partial<SbatchOptions> & { nodePath: string }, env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "corral-rt-"));
  const slurmDir = path.join(dir, ".slurm");
  mkdirSync(slurmDir);
  const script = renderSbatch({ jobName: "t", slurmDir, chunk: 0, tasks: 2, workerScript: "/opt/corral/worker.js", noStartSuffix: ".nostart", ...opts });
  const r = spawnSync("/bin/bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8", cwd: dir, env: { PATH: "/usr/bin:/bin", SLURM_ARRAY_TASK_ID: "1", SLURMD_NODENAME: "c042", ...env } });
  const record = batchFilePath(slurmDir, 0, 1) + ".nostart";
  return { dir, code: r.status, stdout: r.stdout, stderr: r.stderr, record: existsSync(record) ? readFileSync(record, "utf8") : undefined };
}

describe("the default worker runtime", () => {
  it("is this Node when it lies on the project folder's file system", () => {
    const c = chooseNodejs(undefined, { execPath: "/home/ann/.nvm/bin/node", execDev: 41, projectDev: 41, execFsType: "nfs4" });
    expect(c).toMatchObject({ command: "/home/ann/.nvm/bin/node", source: "default" });
    expect(c.why).toMatch(/project folder's file system/);
  });

  it("is this Node on another shared file system (NFS, Lustre, CVMFS, ...)", () => {
    for (const fs of ["nfs", "lustre", "gpfs", "beegfs", "cephfs", "fuse.cvmfs"]) {
      expect(chooseNodejs(undefined, { execPath: "/sw/node/bin/node", execDev: 7, projectDev: 41, execFsType: fs }).command).toBe("/sw/node/bin/node");
    }
  });

  it("is `node` from PATH when this Node is on a local disk other than the project's", () => {
    const c = chooseNodejs(undefined, { execPath: "/usr/bin/node", execDev: 3, projectDev: 41, execFsType: "ext4" });
    expect(c).toMatchObject({ command: "node", source: "default" });
    expect(describeNodejs(c)).toBe("node (the default: 'node' from PATH after launcher.setup (/usr/bin/node is on a ext4 file system other than the project's))");
  });

  it("never trusts a node-local folder, even on the project's device", () => {
    expect(chooseNodejs(undefined, { execPath: "/tmp/node-v20/bin/node", execDev: 41, projectDev: 41, execFsType: "nfs" }).command).toBe("node");
  });

  it("is `node` when nothing can be read (no stat, no mountinfo)", () => {
    expect(chooseNodejs(undefined, { execPath: "/opt/node/bin/node" }).command).toBe("node");
  });

  it("launcher.nodejs wins", () => {
    const c = chooseNodejs("/shared/sw/node-22/bin/node", { execPath: "/usr/bin/node", execDev: 1, projectDev: 1 });
    expect(c).toEqual({ command: "/shared/sw/node-22/bin/node", source: "set", why: "launcher.nodejs" });
    expect(describeNodejs(c)).toBe("/shared/sw/node-22/bin/node");
  });

  it("reads the file system type of the deepest mount above a path from mountinfo", () => {
    const info = [
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
      "40 22 0:44 / /home rw,relatime shared:20 - nfs4 fs:/home rw,vers=4.2",
      "41 22 0:45 / /home/ann/scratch rw - lustre 10.0.0.1@o2ib:/scratch rw",
      "42 22 0:46 / /opt/my\\040sw rw - gpfs gpfs0 rw",
    ].join("\n");
    expect(mountFsType(info, "/usr/bin/node")).toBe("ext4");
    expect(mountFsType(info, "/home/ann/.nvm/node")).toBe("nfs4");
    expect(mountFsType(info, "/home/ann/scratch/node")).toBe("lustre");
    expect(mountFsType(info, "/home/annex/node")).toBe("nfs4");
    expect(mountFsType(info, "/homeless/node")).toBe("ext4");
    expect(mountFsType(info, "/opt/my sw/bin/node")).toBe("gpfs");
  });
});

describe("the job script checks the runtime before the worker starts", () => {
  it("a runtime that answers Node 20+ starts the worker with the batch file", () => {
    const d = mkdtempSync(path.join(tmpdir(), "corral-n-"));
    const r = job({ nodePath: fakeNode(d) });
    expect([r.code, r.stderr, r.record]).toEqual([0, "", undefined]);
    expect(r.stdout).toMatch(/^worker:\/opt\/corral\/worker.js \/.*\/\.slurm\/batch-0-1\.json\n$/);
  });

  it("a missing path: exit 127, the reason in <batch>.nostart (node, path, PATH, setup lines), no worker", () => {
    const r = job({ nodePath: "/nonexistent/node-20/bin/node", nodejsNote: "/nonexistent/node-20/bin/node", setup: ["export A=1", "export B=2"] });
    expect(r.code).toBe(127);
    expect(r.stdout).not.toContain("worker:");
    expect(r.record).toBe(
      "corral: the worker could not start on c042: /nonexistent/node-20/bin/node not found (or not executable) (launcher.nodejs: /nonexistent/node-20/bin/node; PATH=/usr/bin:/bin; after 2 launcher.setup lines)\n",
    );
    expect(r.stderr).toBe(r.record);
  });

  it("a name is looked up on PATH after the setup lines (module load, conda activate)", () => {
    const d = mkdtempSync(path.join(tmpdir(), "corral-mod-"));
    fakeNode(path.join(d, "node-22", "bin"), "22.3.0");
    const none = job({ nodePath: "node", nodejsNote: "node (the default)" }, { PATH: "/nonexistent" });
    expect(none.code).toBe(127);
    expect(none.record).toBe("corral: the worker could not start on c042: node not found on PATH (launcher.nodejs: node (the default); PATH=/nonexistent; no launcher.setup lines)\n");
    // the "module load" puts it on PATH: found
    const loaded = job({ nodePath: "node", setup: [`export PATH=${d}/node-22/bin:$PATH`] }, { PATH: "/usr/bin:/bin" });
    expect([loaded.code, loaded.record]).toEqual([0, undefined]);
    expect(loaded.stdout).toContain("worker:/opt/corral/worker.js");
  });

  it("a runtime older than Node 20 is refused with its version", () => {
    const d = mkdtempSync(path.join(tmpdir(), "corral-old-"));
    const node = fakeNode(d, "18.19.0");
    const r = job({ nodePath: node });
    expect(r.code).toBe(127);
    expect(r.record).toContain(`${node} is Node 18.19.0; the worker needs Node 20 or newer`);
  });

  it("a failed setup line is part of the reason", () => {
    const r = job({ nodePath: "node", setup: ["module-load-typo nodejs/20"] }, { PATH: "/nonexistent" });
    expect(r.code).toBe(127);
    expect(r.record).toMatch(/node not found on PATH .*after 1 launcher.setup line\); corral: setup line 1 failed \(exit 127\): module-load-typo nodejs\/20\n$/);
  });

  it("a hostile path or note is never run: it is only ever the program's name", () => {
    const d = mkdtempSync(path.join(tmpdir(), "corral-evil-"));
    const evil = `${d}/bin $(touch ${d}/PWNED1) \`touch ${d}/PWNED2\`; touch ${d}/PWNED3 'x"/node`;
    const r = job({ nodePath: evil, nodejsNote: `$(touch ${d}/PWNED4)` });
    expect(r.code).toBe(127);
    expect(readdirSync(d).filter((f) => f.startsWith("PWNED"))).toEqual([]);
    expect(r.record).toContain(`${evil} not found (or not executable) (launcher.nodejs: $(touch ${d}/PWNED4);`);
  });
});

describe("doctor's probe job", () => {
  it("reports host, runtime and version, the marker, container runtimes and GPUs, as key=value lines", () => {
    const d = mkdtempSync(path.join(tmpdir(), "corral-probe-"));
    const node = fakeNode(path.join(d, "sw"), "20.11.1");
    const bin = path.join(d, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "apptainer"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA H100 (UUID: GPU-2)'\n", { mode: 0o755 });
    writeFileSync(path.join(d, "marker"), "tok123");
    const script = renderSbatch({ jobName: "t", slurmDir: d, chunk: 0, tasks: 1, nodePath: "node", workerScript: "/w.js", setup: [`export PATH=${path.dirname(node)}:$PATH`], probe: { report: path.join(d, "report"), marker: path.join(d, "marker") } });
    expect(script).not.toContain("--array");
    const r = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin`, SLURMD_NODENAME: "g007", CUDA_VISIBLE_DEVICES: "0,1" } });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    const rep = parseProbeReport(readFileSync(path.join(d, "report"), "utf8"));
    expect(rep.values).toMatchObject({ host: "g007", node: node, node_version: "20.11.1", marker: "tok123", cuda_visible_devices: "0,1", setup_failed: "", done: "1" });
    expect(rep.containers).toContain(`apptainer ${bin}/apptainer`);
    expect(rep.nvidiaSmi).toHaveLength(2);
    const checks = probeChecks(rep, { jobId: "77", waitedS: 12, token: "tok123", projectDir: "/p", nodejs: "node", gpus: 2, containerCommand: "apptainer" });
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.map((c) => c.title)).toEqual([
      "probe job 77 ran on g007 after 12s in the queue",
      `worker runtime on g007: ${node} (Node 20.11.1)`,
      "the project folder is visible on g007",
      expect.stringMatching(/^container runtimes on g007: .*apptainer/),
      "GPUs seen on g007: 0,1 (CUDA_VISIBLE_DEVICES)",
    ]);
  });

  it("says what is wrong: no runtime, a marker that did not read back, a missing container runtime, too few GPUs", () => {
    const rep = parseProbeReport("started=1\nhost=c1\nnode_error=node not found on PATH\npath=/usr/bin\nmarker=\ncuda_visible_devices=unset\nsetup_failed=corral: setup line 1 failed (exit 1): module load nodejs\n");
    const checks = probeChecks(rep, { jobId: "5", waitedS: undefined, token: "t", projectDir: "/p", nodejs: "node", gpus: 1, containerCommand: "ch-run" });
    expect(checks.filter((c) => !c.ok).map((c) => c.title)).toEqual([
      "a setup line failed on c1",
      "the worker could not start on c1: node not found on PATH",
      "the project folder is not the same on c1: its marker file did not read back",
      "container runtime 'ch-run' is not on PATH on c1",
      "no GPUs seen on c1 (CUDA_VISIBLE_DEVICES unset), but the job asked for 1",
    ]);
  });

  it("measures the queue wait from the scheduler's own submit and start times", () => {
    expect(secondsBetween("2026-12-02T00:25:23", "2026-12-02T00:27:01")).toBe(98);
    expect(secondsBetween("2026-12-02T00:25:23", "Unknown")).toBeUndefined();
  });
});
