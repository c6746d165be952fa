/** Pieces of flag parsing shared by the command modules. */
import { CorralError } from "../errors.js";

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
