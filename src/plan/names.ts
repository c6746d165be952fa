/**
 * Names a user gives that become folder names. PURE: strings in, a verdict out.
 */

/** Longest sweep name: the folder also carries the `sweep_dir` template and a `-k` suffix. */
export const MAX_SWEEP_NAME = 100;

const SAFE = /^[A-Za-z0-9_+=,@][A-Za-z0-9._+=,@-]*$/;

/**
 * Why `name` cannot be a sweep name, or undefined when it can. A sweep name becomes part of ONE
 * folder name (`<sweep_dir>-<name>`): no separators, no `.`/`..`, nothing a shell or an sbatch
 * line would need quoted, and no leading `-` (it would read as an option in `corral status NAME`).
 */
export function sweepNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_SWEEP_NAME) return `is ${name.length} characters long (at most ${MAX_SWEEP_NAME})`;
  if (/[/\\]/.test(name)) return "contains a path separator";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "contains a control character";
  if (name === "." || name === "..") return "is a relative folder reference";
  if (!SAFE.test(name)) return "may hold only letters, digits and . _ - + = , @ (not first: . or -)";
  return undefined;
}
