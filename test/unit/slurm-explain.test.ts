/**
 * The SLURM launcher's one-query-per-round logic, with shims of squeue/sacct on PATH (parsing
 * and decision logic only; the real cluster proves SLURM itself in test/e2e/slurm.test.ts):
 * squeue first; jobs it no longer knows (purged after MinJobAge) are asked of sacct; without
 * accounting nothing is invented.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlurmLauncher } from "../../src/launchers/slurm/slurm-launcher.js";
import type { SlurmLaunchSettings } from "../../src/launchers/launcher.js";
import type { SweepManifest } from "../../src/store/protocol.js";

let bin: string;
let savedPath: string | undefined;

function shim(name: string, stdout: string, code = 0): void {
  const f = path.join(bin, name);
  // Each shim logs its arguments so the test can count scheduler queries.
  writeFileSync(f, `#!/bin/sh\necho "$0 $*" >> "${bin}/calls.log"\ncat <<'EOF'\n${stdout}\nEOF\nexit ${code}\n`);
  chmodSync(f, 0o755);
}
const calls = (): string[] => {
  try {
    return readFileSync(path.join(bin, "calls.log"), "utf8").trim().split("\n");
  } catch {
    return [];
  }
};

const manifest = (): SweepManifest => ({
  type: "sweep",
  version: 1,
  id: "s",
  kind: "sweep",
  createdAt: 0,
  dir: "/nonexistent",
  projectDir: "/nonexistent",
  command: ["true"],
  overrides: [],
  launcher: "slurm",
  runs: [0, 1, 2, 3].map((i) => ({ index: i, id: `r${i}`, dir: String(i), overrides: [], params: {} })),
  jobs: [
    { jobId: "100", launcher: "slurm", submittedAt: 0, batches: [{ batchId: "0-0", task: 0, runs: [0, 1] }, { batchId: "0-1", task: 1, runs: [2] }] },
    { jobId: "200", launcher: "slurm", submittedAt: 0, batches: [{ batchId: "1-0", task: 0, runs: [3] }] },
  ],
});

beforeEach(() => {
  bin = mkdtempSync(path.join(os.tmpdir(), "corral-shims-"));
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath ?? ""}`;
});
afterEach(() => {
  process.env.PATH = savedPath;
});

describe("SlurmLauncher.explain", () => {
  it("asks squeue once for the whole sweep and maps array tasks to their runs", async () => {
    shim("squeue", "100_0|RUNNING|None|localhost|0:05|UNLIMITED\n100_1|PENDING|Resources||0:00|UNLIMITED\n200_0|TIMEOUT|TimeLimit|localhost|1:00|0:00");
    shim("sacct", "", 1);
    const facts = await new SlurmLauncher().explain(manifest());
    expect(facts.get(0)).toEqual({ scheduler: "running", workerAlive: true });
    expect(facts.get(1)).toEqual({ scheduler: "running", workerAlive: true });
    expect(facts.get(2)).toEqual({ scheduler: "pending", reason: "Resources" });
    expect(facts.get(3)).toEqual({ scheduler: "timeout", workerAlive: false });
    expect(calls().filter((c) => c.includes("squeue"))).toHaveLength(1);
    expect(calls().some((c) => c.includes("sacct"))).toBe(false);
    expect(calls()[0]).toContain("-j 100,200");
  });

  it("falls back to sacct for jobs squeue no longer knows (purged after MinJobAge)", async () => {
    shim("squeue", "200_0|RUNNING|None|localhost|0:05|UNLIMITED");
    shim("sacct", "100_0|COMPLETED|0:0|00:00:03|localhost\n100_1|CANCELLED by 0|0:15|00:00:01|localhost");
    const facts = await new SlurmLauncher().explain(manifest());
    expect(facts.get(0)).toEqual({ scheduler: "succeeded", workerAlive: false });
    expect(facts.get(2)).toEqual({ scheduler: "cancelled", workerAlive: false });
    expect(facts.get(3)).toEqual({ scheduler: "running", workerAlive: true });
    const sacct = calls().filter((c) => c.includes("sacct"));
    expect(sacct).toHaveLength(1);
    expect(sacct[0]).toContain("-j 100");
    expect(sacct[0]).not.toContain("200");
  });

  it("without accounting, runs whose job is gone stay unexplained rather than invented", async () => {
    shim("squeue", "");
    shim("sacct", "Slurm accounting storage is disabled", 1);
    const l = new SlurmLauncher();
    const facts = await l.explain(manifest());
    expect(facts.get(0)).toEqual({ scheduler: "unknown" });
    expect(await l.active(manifest())).toBe(false);
  });

  it("while the controller cannot be reached, active() keeps waiting instead of declaring runs lost", async () => {
    shim("squeue", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)", 1);
    shim("sacct", "", 1);
    const l = new SlurmLauncher();
    // slurmCmd retries transient errors with backoff: this takes a few seconds.
    expect(await l.active(manifest())).toBe(true);
  }, 60_000);
});

describe("SlurmLauncher.preview (what --dry-run prints)", () => {
  const settings = (): SlurmLaunchSettings => ({ type: "slurm", parallel: 1, perJob: 1, stagger: 0, killGraceS: 10, verbose: false, heartbeatS: 15, debug: false, setup: [], slurm: { sbatchArgs: [], signalGraceS: 120 } });
  const preview = (l: SlurmLauncher, n: number) => {
    const sweep = { ...manifest(), kind: "sweep" as const, dir: "/tmp/x/s1", runs: [], jobs: [] };
    const runs = Array.from({ length: n }, (_, i) => ({ index: i, id: `r${i}`, dir: `/tmp/x/s1/${i}`, argv: ["true"], cwd: "/tmp/x", env: {}, cpus: 1, gpus: 0, attempt: 1 }));
    return l.preview({ sweep, runs, settings: l.size(settings(), { cpus: 1, gpus: 0, memMB: 0 }, n), round: 0 });
  };
  const arrays = (files: Array<{ text: string }>): string[] => files.map((f) => /#SBATCH --array=(\S+)/.exec(f.text)?.[1] ?? "");

  it("asks slurmctld once and, when it does not answer, chunks with SLURM's defaults (no retries: a down controller made a dry run wait minutes)", async () => {
    shim("scontrol", "slurm_load_ctl_conf error: Unable to contact slurm controller (connect failure)", 1);
    const l = new SlurmLauncher();
    expect(arrays(await preview(l, 1500))).toEqual(["0-1000", "0-498"]);
    expect(arrays(await preview(l, 10))).toEqual(["0-9"]);
    expect(calls().filter((c) => c.includes("scontrol"))).toHaveLength(1);
  });

  it("chunks with the cluster's MaxArraySize when slurmctld answers", async () => {
    shim("scontrol", "MaxArraySize            = 501\nMaxJobCount             = 10000");
    expect(arrays(await preview(new SlurmLauncher(), 1200))).toEqual(["0-500", "0-500", "0-197"]);
  });
});

