import { execFileSync } from "node:child_process";

/** The commit and uncommitted diff of the project at launch (undefined outside a git repo). */
export function gitInfo(dir: string): { commit: string; dirty: boolean; diff?: string } | undefined {
  const git = (args: string[]): string =>
    execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, maxBuffer: 64 * 1024 * 1024 });
  try {
    const commit = git(["rev-parse", "HEAD"]).trim();
    const diff = git(["diff", "HEAD"]);
    // Keep the manifest readable: a huge diff is cut, with a note saying so.
    const max = 1_000_000;
    return { commit, dirty: diff.length > 0, ...(diff ? { diff: diff.length > max ? diff.slice(0, max) + "\n[diff truncated]\n" : diff } : {}) };
  } catch {
    return undefined;
  }
}
