/** Pieces of flag parsing shared by the command modules. */
import { statSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import { findProjectFile } from "../project/files.js";

/** The program-level options every command may read. */
export interface GlobalOpts {
  project?: string;
  cwd?: string;
}

/** A commander argument parser for positive integers (`-j 4`), failing with a usage error. */
export const intArg =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CorralError("E_USAGE", `${name} must be a positive integer, got '${v}'`);
    return n;
  };

/** The folder the command acts in: `-C DIR`, else the process's cwd. */
export const cwdOf = (g: GlobalOpts): string => path.resolve(g.cwd ?? process.cwd());

/**
 * Where the project is, from `--project` (a project file or a folder holding one) and `-C`:
 * `open` is what `openProject` takes, `dir` the folder whose `.corral/` index lists its sweeps.
 * Every command reads the project through this, so `--project` means the same to all of them.
 */
export function projectLocation(g: GlobalOpts): { dir: string; open: { cwd: string; file?: string } } {
  const cwd = cwdOf(g);
  if (!g.project) return { dir: cwd, open: { cwd } };
  const abs = path.resolve(cwd, g.project);
  // A missing path is taken as a file: loading it then fails with the loader's own message.
  const isDir = statSync(abs, { throwIfNoEntry: false })?.isDirectory() ?? false;
  // A folder: the project file in it, as a plain `corral` started there would find it (none:
  // the folder itself goes to the loader, which says it cannot read it).
  return isDir ? { dir: abs, open: { cwd, file: findProjectFile(abs) ?? abs } } : { dir: path.dirname(abs), open: { cwd, file: abs } };
}

/** The project folder whose sweeps `status`, `results`, `logs`, ... look up. */
export const projectDirOf = (g: GlobalOpts): string => projectLocation(g).dir;
