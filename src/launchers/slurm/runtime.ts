/**
 * Which Node.js runs Corral's worker inside a SLURM job (`launcher.nodejs`). Compute nodes may not
 * have the login node's binary (Node.js is often a module, or lives in a conda env), so the
 * default is this process's own binary only where compute nodes can see it: on the project
 * folder's file system (which they must see anyway) or on a network / cluster file system.
 * Otherwise `node`, looked up on PATH in the job after `launcher.setup`. The choice is pure
 * ({@link chooseNodejs}); {@link nodejsFacts} gathers what it needs from the host.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";

/** The command name used when the login node's binary cannot be assumed on compute nodes. */
export const NODEJS_FROM_PATH = "node";

/** File system types compute nodes share with the login node (network and parallel file systems). */
const SHARED_FS = new Set([
  "nfs",
  "nfs4",
  "lustre",
  "gpfs",
  "beegfs",
  "fhgfs",
  "ceph",
  "cephfs",
  "fuse.ceph",
  "fuse.cephfs",
  "glusterfs",
  "fuse.glusterfs",
  "cifs",
  "smb3",
  "panfs",
  "wekafs",
  "pvfs2",
  "orangefs",
  "afs",
  "cvmfs",
  "fuse.cvmfs",
  "fuse.sshfs",
  "virtiofs",
  "9p",
]);

/** What the default rests on: the binary, its device and file system type, the project folder's device. */
export interface NodejsFacts {
  execPath: string;
  /** `st_dev` of the binary; undefined when it cannot be read. */
  execDev?: number | undefined;
  /** `st_dev` of the project folder. */
  projectDev?: number | undefined;
  /** Type of the file system that holds the binary (`/proc/self/mountinfo`), e.g. `nfs4`, `ext4`. */
  execFsType?: string | undefined;
}

/** The runtime a job uses and why, for the sbatch script, doctor and messages. */
export interface NodejsChoice {
  /** An absolute path, or a command name looked up on PATH in the job. */
  command: string;
  /** `set`: the user's `launcher.nodejs`; `default`: chosen here. */
  source: "set" | "default";
  /** One clause saying why, e.g. `on the project's file system`. */
  why: string;
}

/**
 * The worker runtime of a job: `launcher.nodejs` when set; else this process's binary when
 * compute nodes can see it (same file system as the project folder, or a shared file system
 * type); else `node` from PATH. Node-local folders (`/tmp`, `/var/tmp`, `/dev/shm`) never count
 * as shared.
 */
export function chooseNodejs(setting: string | undefined, f: NodejsFacts): NodejsChoice {
  if (setting !== undefined) return { command: setting, source: "set", why: "launcher.nodejs" };
  const local = /^\/(tmp|var\/tmp|dev\/shm|run)\//.test(f.execPath);
  if (!local && f.execDev !== undefined && f.execDev === f.projectDev) {
    return { command: f.execPath, source: "default", why: "this Node, on the project folder's file system" };
  }
  if (!local && f.execFsType !== undefined && SHARED_FS.has(f.execFsType)) {
    return { command: f.execPath, source: "default", why: `this Node, on a shared file system (${f.execFsType})` };
  }
  const where = local ? "a node-local folder" : f.execFsType ? `a ${f.execFsType} file system other than the project's` : "a file system other than the project's";
  return { command: NODEJS_FROM_PATH, source: "default", why: `'node' from PATH after launcher.setup (${f.execPath} is on ${where})` };
}

/** `launcher.nodejs` and how it came about, as messages spell it: `node (the default: ...)`. */
export function describeNodejs(c: NodejsChoice): string {
  return c.source === "set" ? c.command : `${c.command} (the default: ${c.why})`;
}

/** The facts {@link chooseNodejs} needs, read from this host. */
export function nodejsFacts(execPath: string, projectDir: string): NodejsFacts {
  const dev = (p: string): number | undefined => {
    try {
      return statSync(p).dev;
    } catch {
      return undefined;
    }
  };
  return { execPath, execDev: dev(execPath), projectDev: dev(projectDir), execFsType: fsTypeOf(execPath) };
}

/** The worker runtime of jobs of the project in `projectDir` (this process's binary as the default). */
export function workerNodejs(setting: string | undefined, projectDir: string): NodejsChoice {
  if (setting !== undefined) return chooseNodejs(setting, { execPath: process.execPath });
  return chooseNodejs(undefined, nodejsFacts(process.execPath, projectDir));
}

/** The type of the file system mounted deepest above `p` (Linux `/proc/self/mountinfo`); undefined elsewhere. */
function fsTypeOf(p: string): string | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
  return mountFsType(text, path.resolve(p));
}

/** The file system type of the longest mount point above `p` in a `mountinfo` text (pure). */
export function mountFsType(mountinfo: string, p: string): string | undefined {
  let best: { len: number; type: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const point = left.split(" ")[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const type = right.split(" ")[0];
    if (!point || !type) continue;
    const under = point === "/" || p === point || p.startsWith(point.endsWith("/") ? point : `${point}/`);
    if (under && (!best || point.length >= best.len)) best = { len: point.length, type };
  }
  return best?.type;
}
