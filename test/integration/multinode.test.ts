/**
 * A 2-node run on the real multi-node test cluster (`scripts/slurm-cluster.sh start --multi`):
 * the srun wrapper starts the command on both nodes, which report ranks 0 and 1 and the same
 * MASTER_ADDR. Skipped, with the reason, when no cluster with 2 idle nodes answers.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { shellQuote } from "../../src/plan/container.js";
import { multinodeSbatchArgs, multinodeWrap } from "../../src/plan/multinode.js";
import { waitFor } from "../helpers.js";

const info = spawnSync("sinfo", ["-h", "-o", "%D"], { encoding: "utf8", timeout: 10_000 });
const nodes = info.status === 0 ? info.stdout.split("\n").reduce((a, l) => a + (Number(l) || 0), 0) : 0;
const skip = nodes < 2 ? `needs a SLURM cluster with 2+ nodes (found ${nodes}); start one with scripts/slurm-cluster.sh start --multi` : undefined;
if (skip) console.log(`multinode integration skipped: ${skip}`);

describe.skipIf(skip !== undefined)("multi-node run on the real cluster", () => {
  it("starts the command on 2 nodes, which report ranks 0 and 1", async () => {
    // The shared folder must be visible from every node; the test cluster's nodes share this file system.
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-mn-"));
    const cmd = ["sh", "-c", 'echo "rank=$NODE_RANK world=$WORLD_SIZE master=$MASTER_ADDR host=$(hostname)" > "$0/rank-$NODE_RANK.txt"', dir];
    const spec = { mode: "srun" as const, nodes: 2 };
    const line = [...multinodeWrap(spec), ...cmd].map(shellQuote).join(" ");
    writeFileSync(path.join(dir, "job.sh"), `#!/bin/sh\n${line}\n`);
    const out = execFileSync("sbatch", ["--parsable", ...multinodeSbatchArgs(spec), "-o", path.join(dir, "slurm-%j.out"), path.join(dir, "job.sh")], { encoding: "utf8" });
    expect(out.trim()).toMatch(/^\d+/);
    await waitFor(() => existsSync(path.join(dir, "rank-0.txt")) && existsSync(path.join(dir, "rank-1.txt")), 60_000, "both ranks");
    const r0 = readFileSync(path.join(dir, "rank-0.txt"), "utf8");
    const r1 = readFileSync(path.join(dir, "rank-1.txt"), "utf8");
    expect(r0).toMatch(/^rank=0 world=2 master=(\S+) host=(\S+)/);
    expect(r1).toMatch(/^rank=1 world=2 master=(\S+) host=(\S+)/);
    // Same master on both; two different hosts.
    expect(/master=(\S+)/.exec(r0)![1]).toBe(/master=(\S+)/.exec(r1)![1]);
    expect(/host=(\S+)/.exec(r0)![1]).not.toBe(/host=(\S+)/.exec(r1)![1]);
  }, 90_000);
});
