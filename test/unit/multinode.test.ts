import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MASTER_ADDR_SH, multinodeSbatchArgs, multinodeWrap } from "../../src/plan/multinode.js";

/**
 * Shims of `srun` and `scontrol` (unit tests only; the real 2-node run is in
 * test/integration): srun starts --ntasks copies with SLURM_NODEID/PROCID/NTASKS set, as one
 * task per node would see them.
 */
function shims(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-mn-"));
  writeFileSync(
    path.join(dir, "srun"),
    `#!/bin/sh
n=1
while [ $# -gt 0 ]; do case "$1" in --ntasks=*) n=\${1#--ntasks=}; shift;; -w) shift 2;; -*) shift;; *) break;; esac; done
i=0; while [ $i -lt $n ]; do SLURM_NODEID=$i SLURM_PROCID=$i SLURM_NTASKS=$n "$@" & i=$((i+1)); done; wait
`,
  );
  writeFileSync(path.join(dir, "scontrol"), `#!/bin/sh\nprintf 'node-a\\nnode-b\\n'\n`);
  writeFileSync(path.join(dir, "torchrun"), `#!/bin/sh\necho "torchrun $*"\n`);
  for (const f of ["srun", "scontrol", "torchrun"]) chmodSync(path.join(dir, f), 0o755);
  return dir;
}

const run = (argv: string[], bin: string) =>
  spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SLURM_JOB_NODELIST: "node-[a-b]" } });

describe("multinodeWrap", () => {
  it("srun: one task per node with torch-style rank variables", () => {
    const w = multinodeWrap({ mode: "srun", nodes: 2 });
    expect(w).toEqual([
      "srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
      "sh", "-c",
      `export MASTER_ADDR="${MASTER_ADDR_SH}" MASTER_PORT=29500 NODE_RANK="$SLURM_NODEID" RANK="$SLURM_PROCID" LOCAL_RANK=0 WORLD_SIZE="$SLURM_NTASKS"; exec "$@"`,
      "corral-node",
    ]);
    const r = run([...w, "sh", "-c", 'echo "rank=$NODE_RANK/$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT"'], shims());
    expect(r.stdout.trim().split("\n").sort()).toEqual(["rank=0/2 master=node-a:29500", "rank=1/2 master=node-a:29500"]);
  });

  it("torchrun: one torchrun per node with its node rank; a leading python is dropped", () => {
    const w = multinodeWrap({ mode: "torchrun", nodes: 2, procsPerNode: 4, port: 12345 });
    expect(w.slice(0, 5)).toEqual(["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]);
    const r = run([...w, "python", "train.py", "lr=0.1"], shims());
    expect(r.stdout.trim().split("\n").sort()).toEqual([
      "torchrun --nnodes=2 --nproc-per-node=4 --node-rank=0 --master-addr=node-a --master-port=12345 train.py lr=0.1",
      "torchrun --nnodes=2 --nproc-per-node=4 --node-rank=1 --master-addr=node-a --master-port=12345 train.py lr=0.1",
    ]);
  });

  it("ray: head on the first node, workers on the rest, then the driver once with RAY_ADDRESS", () => {
    const w = multinodeWrap({ mode: "ray", nodes: 3, raySettleS: 0 });
    expect(w[0]).toBe("sh");
    const script = w[2]!;
    expect(script).toContain(`srun --nodes=1 --ntasks=1 -w "$head" ray start --head --node-ip-address="$head_ip" --port=6379 --block &`);
    expect(script).toContain(`srun --nodes=1 --ntasks=1 -w "$node" ray start --address="$head_ip:6379" --block & done`);
    expect(script).toContain(`export RAY_ADDRESS="$head_ip:6379"`);
    expect(script.indexOf("--head")).toBeLessThan(script.indexOf("--address="));
  });

  it("validates node counts and gives the sbatch arguments", () => {
    expect(() => multinodeWrap({ mode: "srun", nodes: 0 })).toThrow(/nodes must be a positive integer/);
    expect(multinodeSbatchArgs({ mode: "torchrun", nodes: 4 })).toEqual(["--nodes=4", "--ntasks-per-node=1"]);
  });
});
