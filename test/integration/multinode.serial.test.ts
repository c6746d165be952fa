/**
 * Multi-node runs on the real 3-node test cluster (`scripts/slurm-cluster.sh start --multi`,
 * nodes node1..3 in their own network namespaces and hostnames): `corral run` with
 * `launcher: {type: slurm, nodes: 2, multinode: ...}` starts each run on both nodes of its job,
 * which report ranks 0 and 1 from two different hosts. Runs after the rest of the suite, alone
 * (scripts/test.sh), because it starts and stops the multi-node cluster.
 * Skipped, with the reason printed, when not root or when the cluster does not start.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunStatusRecord } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, ROOT, sweepDirs } from "../helpers.js";

const CLUSTER_SCRIPT = path.join(ROOT, "scripts/slurm-cluster.sh");
const clusterEnv = (conf?: string): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.SLURM_CONF;
  return conf ? { ...env, SLURM_CONF: conf } : env;
};
const sinfoOk = (env: NodeJS.ProcessEnv): boolean => {
  const r = spawnSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 10_000, env });
  return r.status === 0 && /idle|mixed|allocated/.test(r.stdout);
};

let multiConf: string | undefined;
let skipReason: string | undefined;

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    skipReason = "needs root to start the --multi cluster (scripts/slurm-cluster.sh start --multi)";
  } else {
    const s = spawnSync(CLUSTER_SCRIPT, ["start", "--multi"], { encoding: "utf8", timeout: 90_000 });
    const conf = /export SLURM_CONF=(\S+)/.exec(s.stdout ?? "")?.[1];
    if (s.status !== 0 || !conf) skipReason = `scripts/slurm-cluster.sh start --multi failed (exit ${s.status}): ${(s.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`;
    else if (!sinfoOk(clusterEnv(conf))) skipReason = `the --multi cluster does not answer (SLURM_CONF=${conf})`;
    else multiConf = conf;
  }
  if (skipReason) console.warn(`SKIPPED multi-node integration test: ${skipReason}`);
}, 120_000);

afterAll(() => {
  if (process.getuid?.() !== 0) return;
  // Leave the machine as the rest of the suite expects it: the multi cluster gone, the
  // single-node one (the default /etc/slurm config) answering.
  spawnSync(CLUSTER_SCRIPT, ["stop", "--multi"], { encoding: "utf8", timeout: 60_000 });
  if (!sinfoOk(clusterEnv())) spawnSync(CLUSTER_SCRIPT, ["start"], { encoding: "utf8", timeout: 90_000 });
  expect(sinfoOk(clusterEnv()), "the single-node cluster answers again").toBe(true);
}, 180_000);

/** `rank=R host=H world=W master=M` lines the runs wrote, by rank. */
function ranks(runDir: string): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  for (const r of [0, 1, 2]) {
    const f = path.join(runDir, `rank-${r}.txt`);
    if (!existsSync(f)) continue;
    out.set(r, Object.fromEntries(readFileSync(f, "utf8").trim().split(" ").map((kv) => kv.split("=", 2) as [string, string])));
  }
  return out;
}

describe("multi-node runs on the real 3-node cluster", () => {
  it("multinode: srun starts each run on both nodes with NODE_RANK 0 and 1 on two different hosts", (ctx) => {
    if (!multiConf) return ctx.skip(skipReason);
    const dir = makeProject({
      "rank.sh": `#!/bin/sh\necho "rank=$NODE_RANK host=$(hostname) world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT" > "$CORRAL_RUN_DIR/rank-$NODE_RANK.txt"\n`,
      // parallel: 2 is asked for, but a multi-node job runs one run at a time.
      "corral.yaml": "command: sh rank.sh\nconfig:\n  seed: 0\nlauncher:\n  type: slurm\n  nodes: 2\n  multinode: srun\n  parallel: 2\n  per_job: 2\n",
    });
    const r = corral(["run", "-m", "seed=1,2"], { cwd: dir, env: clusterEnv(multiConf), timeoutMs: 60_000 });
    expect(r.stderr).toContain("2 succeeded");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const script = readFileSync(path.join(sweep, ".slurm/chunk-0.sbatch"), "utf8");
    expect(script).toContain("#SBATCH --nodes=2");
    expect(script).toContain("#SBATCH --ntasks-per-node=1");
    const spans: Array<[number, number]> = [];
    for (const i of [0, 1]) {
      const got = ranks(path.join(sweep, String(i)));
      expect([...got.keys()].sort()).toEqual([0, 1]);
      const [a, b] = [got.get(0)!, got.get(1)!];
      expect(a.world).toBe("2");
      expect(b.world).toBe("2");
      expect(a.host).not.toBe(b.host);
      expect([a.host, b.host].every((h) => /^node[1-3]$/.test(h!))).toBe(true);
      // Every node agrees on the master: the first node of the allocation, which is rank 0's.
      expect(a.master).toBe(`${a.host}:29500`);
      expect(b.master).toBe(a.master);
      const s = readJson<RunStatusRecord>(path.join(sweep, String(i), "status.json"));
      expect(s.state).toBe("succeeded");
      spans.push([s.startedAt!, s.endedAt!]);
    }
    // One run at a time in the job (parallel forced to 1): the two runs do not overlap.
    const [x, y] = spans.sort((p, q) => p[0] - q[0]) as [[number, number], [number, number]];
    expect(y[0]).toBeGreaterThanOrEqual(x[1]);
  }, 70_000);

  it("multinode: torchrun runs one torchrun per node with its node rank (torchrun shimmed), python dropped", (ctx) => {
    if (!multiConf) return ctx.skip(skipReason);
    const dir = makeProject({
      // Stands in for torchrun on the compute nodes: records how it was started, and where.
      "bin/torchrun": `#!/bin/sh\necho "host=$(hostname) node_rank=$NODE_RANK args=$*" > "$CORRAL_RUN_DIR/torchrun-$NODE_RANK.txt"\n`,
      "train.py": "print('never run by the shim')\n",
      "corral.yaml": "command: python3 train.py\nconfig:\n  lr: 0.1\nlauncher:\n  type: slurm\n  nodes: 2\n  multinode: torchrun\n  procs_per_node: 2\n  setup: ['chmod +x bin/torchrun; export PATH=\"$PWD/bin:$PATH\"']\n",
    });
    const r = corral(["run", "lr=0.2"], { cwd: dir, env: clusterEnv(multiConf), timeoutMs: 60_000 });
    expect(r.stderr).toContain("1 succeeded");
    expect(r.code).toBe(0);
    const runDir = path.join(sweepDirs(dir)[0]!, "0");
    const lines = [0, 1].map((k) => readFileSync(path.join(runDir, `torchrun-${k}.txt`), "utf8").trim());
    const hosts = lines.map((l) => /^host=(\S+)/.exec(l)![1]);
    expect(hosts[0]).not.toBe(hosts[1]);
    for (const k of [0, 1]) {
      expect(lines[k]).toContain(`node_rank=${k} args=--nnodes=2 --nproc-per-node=2 --node-rank=${k} --master-addr=${hosts[0]} --master-port=29500 train.py lr=0.2`);
    }
  }, 70_000);

  it("multinode: ray starts a head on the first node and workers on the others, then the command once (ray shimmed)", (ctx) => {
    if (!multiConf) return ctx.skip(skipReason);
    const dir = makeProject({
      // Stands in for `ray start ... --block`: records where and how, then blocks like the real one.
      "bin/ray": `#!/bin/sh\necho "host=$(hostname) args=$*" >> "$CORRAL_RUN_DIR/ray-$(hostname).txt"\nexec sleep 300\n`,
      "driver.sh": `#!/bin/sh\necho "host=$(hostname) ray_address=$RAY_ADDRESS" >> "$CORRAL_RUN_DIR/driver.txt"\n`,
      "corral.yaml": "command: sh driver.sh\nlauncher:\n  type: slurm\n  nodes: 3\n  multinode: ray\n  setup: ['chmod +x bin/ray; export PATH=\"$PWD/bin:$PATH\"']\n",
    });
    // Two fixed 10 s settling pauses (head, then workers) make this the slow one.
    const r = corral(["run"], { cwd: dir, env: clusterEnv(multiConf), timeoutMs: 60_000 });
    expect(r.stderr).toContain("1 succeeded");
    expect(r.code).toBe(0);
    const runDir = path.join(sweepDirs(dir)[0]!, "0");
    const driver = readFileSync(path.join(runDir, "driver.txt"), "utf8").trim().split("\n");
    expect(driver).toHaveLength(1);
    const m = /^host=(node\d) ray_address=(\d+\.\d+\.\d+\.\d+):6379$/.exec(driver[0]!);
    expect(m, driver[0]).not.toBeNull();
    const [, head, ip] = m!;
    expect(readFileSync(path.join(runDir, `ray-${head}.txt`), "utf8").trim()).toBe(`host=${head} args=start --head --node-ip-address=${ip} --port=6379 --block`);
    const others = ["node1", "node2", "node3"].filter((n) => n !== head);
    for (const n of others) expect(readFileSync(path.join(runDir, `ray-${n}.txt`), "utf8").trim()).toBe(`host=${n} args=start --address=${ip}:6379 --block`);
  }, 70_000);
});

describe("multi-node settings that cannot work (no cluster needed)", () => {
  it("are exit-2 errors naming the key, and nothing is created", () => {
    const dir = makeProject({ "corral.yaml": "command: 'true'\nlauncher:\n  type: slurm\n  multinode: srun\n" });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/corral\.yaml: launcher\.multinode is 'srun' but launcher\.nodes is 1/);
    const local = corral(["run", "--launcher", "local"], { cwd: makeProject({ "corral.yaml": "command: 'true'\nlauncher:\n  type: slurm\n  nodes: 2\n  multinode: srun\n" }) });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("launcher.nodes is 2, but the local launcher runs on this machine only");
    const bad = corral(["run"], { cwd: makeProject({ "corral.yaml": "command: 'true'\nlauncher:\n  type: slurm\n  nodes: 2\n  multinode: mpi\n" }) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("launcher.multinode");
    expect(sweepDirs(dir)).toEqual([]);
  });
});
