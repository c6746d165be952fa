/**
 * Multi-node runs: the argv prefix that starts a run's command on every node of a SLURM
 * allocation, torchrun style (`MASTER_ADDR`, `MASTER_PORT`, `NODE_RANK`, `RANK`, `WORLD_SIZE`),
 * through `torchrun` itself, or behind a Ray cluster started first (head, then workers).
 * PURE: text generation only; the worker appends the run's argv, which reaches the script as "$@".
 */

/** How a multi-node run is started. */
export type MultinodeMode = "srun" | "torchrun" | "ray";

/** Settings of one multi-node run. */
export interface MultinodeSpec {
  mode: MultinodeMode;
  /** Nodes in the allocation the run spans (SLURM `--nodes`). */
  nodes: number;
  /** torchrun: processes per node (usually GPUs per node). @default 1 */
  procsPerNode?: number;
  /** Rendezvous port on the first node (torch) or the Ray head port. @default 29500 (torch), 6379 (ray) */
  port?: number;
  /** ray: seconds to wait for the head, and again for the workers, before the driver starts. @default 10 */
  raySettleS?: number;
  /**
   * Argv prefix run inside each node's process (a container wrap): before the command (srun),
   * before `torchrun` (so torchrun runs in the container), before `ray start` and the driver (ray).
   * @default []
   */
  inner?: string[];
  /**
   * CPUs of each node's task (the job's `--cpus-per-task`), passed to `srun` explicitly: srun
   * 22.05 to 23.02 no longer read SLURM_CPUS_PER_TASK from the job. @default SLURM's
   */
  cpusPerTask?: number;
}

/** One POSIX shell word (always single-quoted). */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** First host of the allocation, as SLURM's own documentation derives it. */
export const MASTER_ADDR_SH = `$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)`;

function check(spec: MultinodeSpec): void {
  if (!Number.isInteger(spec.nodes) || spec.nodes < 1) throw new Error(`nodes must be a positive integer (got ${spec.nodes})`);
  const p = spec.procsPerNode ?? 1;
  if (!Number.isInteger(p) || p < 1) throw new Error(`procsPerNode must be a positive integer (got ${p})`);
  if (spec.cpusPerTask !== undefined && (!Number.isInteger(spec.cpusPerTask) || spec.cpusPerTask < 1)) throw new Error(`cpusPerTask must be a positive integer (got ${spec.cpusPerTask})`);
}

/**
 * The prefix that runs the command across `spec.nodes` nodes:
 * - `srun`: one task per node; each sees MASTER_ADDR/PORT, NODE_RANK (= RANK), LOCAL_RANK=0, WORLD_SIZE = nodes;
 * - `torchrun`: one `torchrun --nnodes N --nproc-per-node P --node-rank $SLURM_NODEID ...` per node;
 *   a leading `python`/`python3` of the command is dropped (torchrun starts the script itself);
 * - `ray`: `ray start --head` on the first node, `ray start --address` on the others (each through
 *   `srun -w NODE`), then the command once, on the first node, with `RAY_ADDRESS` set.
 */
export function multinodeWrap(spec: MultinodeSpec): string[] {
  check(spec);
  const n = spec.nodes;
  const inner = spec.inner ?? [];
  // The container words, quoted into the generated script (ends with a space when not empty).
  const innerSh = inner.map((w) => `${q(w)} `).join("");
  const cpus = spec.cpusPerTask === undefined ? [] : [`--cpus-per-task=${spec.cpusPerTask}`];
  const cpusSh = cpus.map((c) => `${c} `).join("");
  const srun = ["srun", `--nodes=${n}`, `--ntasks=${n}`, "--ntasks-per-node=1", ...cpus, "--kill-on-bad-exit=1"];
  switch (spec.mode) {
    case "srun": {
      const port = spec.port ?? 29500;
      const script =
        `export MASTER_ADDR="${MASTER_ADDR_SH}" MASTER_PORT=${port} NODE_RANK="$SLURM_NODEID" ` +
        `RANK="$SLURM_PROCID" LOCAL_RANK=0 WORLD_SIZE="$SLURM_NTASKS"; exec "$@"`;
      return [...srun, "sh", "-c", script, "corral-node", ...inner];
    }
    case "torchrun": {
      const port = spec.port ?? 29500;
      const p = spec.procsPerNode ?? 1;
      const script =
        `export MASTER_ADDR="${MASTER_ADDR_SH}" MASTER_PORT=${port} NODE_RANK="$SLURM_NODEID"; ` +
        `case "$1" in python|python3|*/python|*/python3) shift;; esac; ` +
        `exec ${innerSh}torchrun --nnodes=${n} --nproc-per-node=${p} --node-rank="$SLURM_NODEID" --master-addr="$MASTER_ADDR" --master-port=${port} "$@"`;
      return [...srun, "sh", "-c", script, "corral-node"];
    }
    case "ray": {
      const port = spec.port ?? 6379;
      const settle = spec.raySettleS ?? 10;
      const script = [
        `nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")`,
        `head=$(echo "$nodes" | head -n 1)`,
        // The head's address as its own resolver sees it, else its interface addresses (node
        // names that do not resolve); the first IPv4 one, as Ray's SLURM recipe prefers.
        `head_ip=$(srun --nodes=1 --ntasks=1 -w "$head" sh -c 'hostname --ip-address 2>/dev/null || hostname -I' | awk '{ip=""; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { ip = $i; break }; print (ip == "" ? $1 : ip); exit}')`,
        `[ -n "$head_ip" ] || { echo "corral: cannot find the IP address of the Ray head node $head" >&2; exit 1; }`,
        `srun --nodes=1 --ntasks=1 ${cpusSh}-w "$head" ${innerSh}ray start --head --node-ip-address="$head_ip" --port=${port} --block &`,
        `sleep ${settle}`,
        `for node in $(echo "$nodes" | tail -n +2); do srun --nodes=1 --ntasks=1 ${cpusSh}-w "$node" ${innerSh}ray start --address="$head_ip:${port}" --block & done`,
        `sleep ${settle}`,
        `export RAY_ADDRESS="$head_ip:${port}"`,
        // The driver runs once; the ray steps end with the job (or `ray stop` from the driver).
        `"$@"; rc=$?; kill $(jobs -p) 2>/dev/null; exit $rc`,
      ].join("\n");
      return ["sh", "-c", script, "corral-ray", ...inner];
    }
  }
}

/** SLURM settings a multi-node run needs in its job: one task per node, `nodes` nodes. */
export function multinodeSbatchArgs(spec: MultinodeSpec): string[] {
  check(spec);
  return [`--nodes=${spec.nodes}`, "--ntasks-per-node=1"];
}
