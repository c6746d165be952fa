/**
 * Aimed faults at `corral flow` (issue 11): the attached flow is killed with SIGKILL at every one
 * of its renames, links and writes in turn (strace's fault injection), then recovered the way
 * the messages say: `corral resume` where a flow was recorded, then `corral flow` again. Every job
 * counts its own starts and ends: each must start and end exactly once, every output is whole, and
 * a last `corral flow -n` has nothing to do.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { corralAsync, lines, makeProject, sweepDirs } from "../helpers.js";
import { countCalls, everyWindow, killAt, runUnder, straceProblem } from "../inject.js";

if (straceProblem) console.warn(`SKIPPED flow fault-injection tests: ${straceProblem}`);

const JOBS = ["1", "2", "3"];
function flowProject(): string {
  return makeProject({
    "corral.yaml": [
      "rules:",
      "  part:",
      '    output: ["out/{n}.txt"]',
      '    shell: "echo {wildcards.n} >> starts.txt; echo half > {output}; sleep 0.15; echo END >> {output}; echo {wildcards.n} >> ends.txt"',
      "  all:",
      `    input: [${JOBS.map((n) => `out/${n}.txt`).join(", ")}]`,
      "    output: [all.txt]",
      '    shell: "echo all >> starts.txt; cat {input} > {output}; echo all >> ends.txt"',
      "targets: [all.txt]",
      "",
    ].join("\n"),
  });
}

async function recoverAndCheck(dir: string, label: string): Promise<void> {
  const recorded = sweepDirs(dir).filter((s) => existsSync(path.join(s, "sweep.json")));
  if (recorded.length > 0) {
    const r = await corralAsync(["resume"], { cwd: dir }).done;
    expect(r.code, `${label}: resume\n${r.stderr}`).toBe(0);
  }
  const again = await corralAsync(["flow", "-j", "2"], { cwd: dir }).done;
  expect(again.code, `${label}: flow again\n${again.stderr}`).toBe(0);
  const once = (file: string): void => {
    const got = lines(path.join(dir, file)).sort();
    expect(got, `${label}: ${file}`).toEqual([...JOBS, "all"].sort());
  };
  once("starts.txt");
  once("ends.txt");
  for (const n of JOBS) expect(readFileSync(path.join(dir, "out", `${n}.txt`), "utf8"), `${label}: out/${n}.txt`).toBe("half\nEND\n");
  expect(readFileSync(path.join(dir, "all.txt"), "utf8"), `${label}: all.txt`).toBe("half\nEND\n".repeat(JOBS.length));
  const dry = await corralAsync(["flow", "-n"], { cwd: dir }).done;
  expect(dry.stdout, `${label}: flow -n`).toMatch(/nothing to do|up to date/i);
}

describe.skipIf(straceProblem !== undefined)("fault injection: corral flow killed at every rename, link and write, then resume", () => {
  for (const syscall of ["rename", "link", "write"]) {
    it(`${syscall}: every window, each job exactly once, outputs whole`, async () => {
      const calls = countCalls(flowProject, ["flow", "-j", "2"], syscall);
      expect(calls, `a clean flow's ${syscall} calls`).toBeGreaterThan(0);
      let landed = 0;
      // Four trials at a time: this suite runs alone (scripts/test.sh, phase 2).
      await everyWindow(calls, async (n) => {
        const dir = flowProject();
        const { killed } = await runUnder(killAt(syscall, n), dir, ["flow", "-j", "2"]);
        if (killed) landed++;
        await recoverAndCheck(dir, `flow ${syscall} #${n}`);
      }, 4);
      expect(landed, `kills that landed of ${calls}`).toBeGreaterThan(0);
    }, 600_000);
  }
});
