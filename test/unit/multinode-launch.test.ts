/**
 * Multi-node runs as the launch path sees them: `launcher.multinode` resolved into settings,
 * bad combinations refused with the key named, and each run's wrap (multi-node outermost, the
 * container inside each node's process), executed through shims of `srun`, `scontrol`, `ch-run`
 * and `torchrun`. The real 2-node run is test/integration/multinode.serial.test.ts.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runSpec } from "../../src/worker/run-spec.js";
import { checkMultinode, resolveSettings } from "../../src/launchers/settings.js";
import { CorralError } from "../../src/errors.js";
import type { LaunchSettings } from "../../src/launchers/launcher.js";
import { loadProjectText } from "../../src/project/load.js";
import { projectSchema, type ProjectConfig } from "../../src/project/schema.js";
import type { SweepManifest } from "../../src/store/protocol.js";

const project = (launcher: Record<string, unknown>): ProjectConfig =>
  ({ ...projectSchema.parse({ command: "python train.py", launcher }), name: "p", config: {}, defaults: [] }) as ProjectConfig;

function manifest(settings: LaunchSettings, extra: Partial<SweepManifest> = {}): SweepManifest {
  return {
    type: "sweep",
    version: 1,
    id: "s",
    kind: "sweep",
    createdAt: 0,
    dir: "/sweep",
    projectDir: "/proj",
    command: ["python", "train.py"],
    overrides: [],
    launcher: settings.type,
    runs: [],
    jobs: [],
    settings,
    ...extra,
  } as SweepManifest;
}

const entry = { index: 0, id: "abc", dir: "0", overrides: ["lr=0.1"], params: {} };

function caught(f: () => void): CorralError {
  try {
    f();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error("expected a CorralError");
}

/** srun starts --ntasks copies with SLURM_NODEID/PROCID/NTASKS; ch-run runs what follows `--`. */
function shims(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-mnl-"));
  const files: Record<string, string> = {
    srun: `#!/bin/sh
n=1
while [ $# -gt 0 ]; do case "$1" in --ntasks=*) n=\${1#--ntasks=}; shift;; -*) shift;; *) break;; esac; done
i=0; while [ $i -lt $n ]; do SLURM_NODEID=$i SLURM_PROCID=$i SLURM_NTASKS=$n "$@" & i=$((i+1)); done; wait
`,
    scontrol: `#!/bin/sh\nprintf 'node-a\\nnode-b\\n'\n`,
    "ch-run": `#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift; IN_CONTAINER=1 exec "$@"\n`,
    torchrun: `#!/bin/sh\necho "torchrun in_container=\${IN_CONTAINER:-0} $*"\n`,
  };
  for (const [f, text] of Object.entries(files)) {
    writeFileSync(path.join(dir, f), text);
    chmodSync(path.join(dir, f), 0o755);
  }
  return dir;
}

const exec = (argv: string[], bin: string): string[] =>
  spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SLURM_JOB_NODELIST: "node-[a-b]" } })
    .stdout.trim()
    .split("\n")
    .sort();

describe("launcher.multinode settings", () => {
  it("resolves mode, nodes and procs_per_node", () => {
    const s = resolveSettings(project({ type: "slurm", nodes: 2, multinode: "torchrun", procs_per_node: 4 }), {});
    expect(s.multinode).toEqual({ mode: "torchrun", nodes: 2, procsPerNode: 4 });
    if (s.type !== "slurm") throw new Error("expected SLURM settings");
    expect(s.slurm.nodes).toBe(2);
    expect(resolveSettings(project({ type: "slurm", nodes: 2 }), {}).multinode).toBeUndefined();
  });

  it("rejects an unknown mode naming the key", () => {
    const r = projectSchema.safeParse({ launcher: { multinode: "mpi" } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain("must be one of srun, torchrun, ray");
  });

  it("refuses multinode without nodes > 1, nodes > 1 on the local launcher, and debug mode (exit 2, key named)", () => {
    const one = caught(() => checkMultinode(resolveSettings(project({ type: "slurm", multinode: "srun" }), {}), "corral.yaml"));
    expect(one.exitCode).toBe(2);
    expect(one.location?.key).toBe("launcher.multinode");
    expect(one.format()).toMatch(/^corral\.yaml: launcher\.multinode is 'srun' but launcher\.nodes is 1/);

    // A profile may set nodes for the cluster; `--launcher local` then is a mistake worth stopping.
    const local = caught(() => checkMultinode(resolveSettings(project({ type: "slurm", nodes: 2, multinode: "srun" }), { launcher: "local" }), "corral.yaml"));
    expect(local.exitCode).toBe(2);
    expect(local.location?.key).toBe("launcher.nodes");

    const debug = caught(() => checkMultinode(resolveSettings(project({ type: "slurm", nodes: 2, multinode: "srun", debug: true }), {}), "corral.yaml"));
    expect(debug.location?.key).toBe("launcher.multinode");

    expect(() => checkMultinode(resolveSettings(project({ type: "slurm", nodes: 3, multinode: "ray" }), {}), "corral.yaml")).not.toThrow();
    expect(() => checkMultinode(resolveSettings(project({ type: "slurm", nodes: 3 }), {}), "corral.yaml")).not.toThrow();
  });
});

describe("runSpec with launcher.multinode", () => {
  const slurm = (launcher: Record<string, unknown>) => resolveSettings(project({ type: "slurm", ...launcher }), {});

  it("srun: the run starts on every node with torch-style variables", () => {
    const spec = runSpec(manifest(slurm({ nodes: 2, multinode: "srun" })), entry, {}, 1, false);
    expect(spec.argv).toEqual(["python", "train.py", "lr=0.1"]);
    expect(spec.wrap?.slice(0, 2)).toEqual(["srun", "--nodes=2"]);
    const out = exec([...spec.wrap!, "sh", "-c", 'echo "rank=$NODE_RANK world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT"'], shims());
    expect(out).toEqual(["rank=0 world=2 master=node-a:29500", "rank=1 world=2 master=node-a:29500"]);
  });

  it("srun + container: the container runs inside each node's process", () => {
    const m = manifest(slurm({ nodes: 2, multinode: "srun" }), { container: { runtime: "charliecloud", image: "/img" } });
    const spec = runSpec(m, entry, {}, 1, false);
    expect(spec.wrap![0]).toBe("srun");
    expect(spec.wrap!.indexOf("ch-run")).toBeGreaterThan(spec.wrap!.indexOf("corral-node"));
    const out = exec([...spec.wrap!, "sh", "-c", 'echo "rank=$NODE_RANK in_container=$IN_CONTAINER"'], shims());
    expect(out).toEqual(["rank=0 in_container=1", "rank=1 in_container=1"]);
  });

  it("torchrun + container: torchrun itself runs in the container on each node, python dropped", () => {
    const m = manifest(slurm({ nodes: 2, multinode: "torchrun", procs_per_node: 2 }), { container: { runtime: "charliecloud", image: "/img" } });
    const spec = runSpec(m, entry, {}, 1, false);
    const out = exec([...spec.wrap!, ...spec.argv], shims());
    expect(out).toEqual([
      "torchrun in_container=1 --nnodes=2 --nproc-per-node=2 --node-rank=0 --master-addr=node-a --master-port=29500 train.py lr=0.1",
      "torchrun in_container=1 --nnodes=2 --nproc-per-node=2 --node-rank=1 --master-addr=node-a --master-port=29500 train.py lr=0.1",
    ]);
  });

  it("ray: head and workers start first (inside the container), the driver once", () => {
    const m = manifest(slurm({ nodes: 3, multinode: "ray" }), { container: { runtime: "charliecloud", image: "/img" } });
    const spec = runSpec(m, entry, {}, 1, false);
    const script = spec.wrap![2]!;
    expect(spec.wrap!.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(script).toMatch(/-w "\$head" 'ch-run' .*'\/img' '--' ray start --head/);
    expect(script).toMatch(/-w "\$node" 'ch-run' .*'\/img' '--' ray start --address="\$head_ip:6379"/);
    // The driver ("$@") gets the container prefix as its first words.
    expect(spec.wrap!.slice(3, 5)).toEqual(["corral-ray", "ch-run"]);
  });

  it("no multinode (or the local launcher): the container wrap alone, as before", () => {
    const c = { container: { runtime: "charliecloud" as const, image: "/img" } };
    expect(runSpec(manifest(slurm({ nodes: 2 }), c), entry, {}, 1, false).wrap![0]).toBe("ch-run");
    const local = resolveSettings(project({ type: "local" }), {});
    expect(runSpec(manifest({ ...local, multinode: { mode: "srun", nodes: 2 } }), entry, {}, 1, false).wrap).toBeUndefined();
  });
});

describe("docs/multinode.md", () => {
  it("every corral.yaml example validates, resolves to a multi-node setting and passes the checks", () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/multinode.md"), "utf8");
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const text of blocks) {
      const s = resolveSettings(loadProjectText(text, "corral.yaml").config, {});
      expect(s.multinode, text).toBeDefined();
      expect(() => checkMultinode(s, "corral.yaml"), text).not.toThrow();
    }
  });
});

describe("launcher.cpus_per_task reaches the srun steps", () => {
  it("is passed explicitly (srun 22.05-23.02 ignore SLURM_CPUS_PER_TASK)", () => {
    const s = resolveSettings(project({ type: "slurm", nodes: 2, cpus_per_task: 8, multinode: "srun" }), {});
    expect(runSpec(manifest(s), entry, {}, 1, false).wrap!.slice(0, 6)).toEqual(["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=8", "--kill-on-bad-exit=1"]);
    const ray = resolveSettings(project({ type: "slurm", nodes: 2, cpus_per_task: 8, multinode: "ray" }), {});
    const script = runSpec(manifest(ray), entry, {}, 1, false).wrap![2]!;
    expect(script).toContain(`srun --nodes=1 --ntasks=1 --cpus-per-task=8 -w "$head" ray start --head`);
    expect(script).toContain(`srun --nodes=1 --ntasks=1 --cpus-per-task=8 -w "$node" ray start --address`);
  });
});
