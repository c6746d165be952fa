/**
 * Which file of a folder is its project file. Light on purpose: every command asks this before
 * it knows whether it needs the schema (and zod) at all.
 */
import { existsSync } from "node:fs";
import path from "node:path";

/** Project file names, in the order they are looked for. */
export const PROJECT_FILES = ["corral.yaml", "corral.yml", "corral.config.ts", "corral.config.js", "corral.config.mjs"] as const;

/** The first project file in `dir` (see {@link PROJECT_FILES}), or undefined. */
export function findProjectFile(dir: string): string | undefined {
  for (const name of PROJECT_FILES) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}
