/**
 * Snakemake's habits on `corral flow` (issue 13 point 6): -p, --rulegraph, --unlock, --summary;
 * and the one view of run -m / resume / flow (issue 14 point 6): whole event lines above a redrawn
 * bar in a real pseudo-terminal, stamped lines when piped, a single run streaming its output.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { CLI, corral, lines, makeProject, sweepDirs } from "../helpers.js";
import { markIncomplete } from "../../src/store/buildrecords.js";

/** Three `a` jobs (one per sample), one `b` that gathers them. */
const pipeline = (sleep = 0): string =>
  makeProject({
    "corral.yaml": [
      "rules:",
      "  a:",
      "    output: ['a_{s}.txt']",
      `    shell: "echo out-of-{wildcards.s}; sleep ${sleep}; echo a >> ran.txt; touch {output}"`,
      "  b:",
      "    input: [a_x.txt, a_y.txt, a_z.txt]",
      "    output: [b.txt]",
      '    shell: "echo b >> ran.txt; touch {output}"',
      "targets: [b.txt]",
      "",
    ].join("\n"),
  });

const nothingStarted = (dir: string): void => {
  expect(sweepDirs(dir)).toEqual([]);
  expect(lines(path.join(dir, "ran.txt"))).toEqual([]);
};

const STAMP = /^\[\d\d:\d\d:\d\d\] /;

describe("-p/--printshellcmds", () => {
  it("with -n: each planned job is followed by its rendered command; nothing starts", () => {
    const dir = pipeline();
    const r = corral(["flow", "-n", "-p"], { cwd: dir });
    expect(r.code).toBe(0);
    const cmds = r.stdout.split("\n").filter((l) => /^ {6}echo /.test(l));
    expect(cmds).toHaveLength(4);
    for (const s of ["x", "y", "z"]) expect(cmds).toContain(`      echo out-of-${s}; sleep 0; echo a >> ran.txt; touch a_${s}.txt`);
    expect(cmds).toContain("      echo b >> ran.txt; touch b.txt");
    expect(corral(["flow", "-n"], { cwd: dir }).stdout).not.toMatch(/^ {6}echo/m);
    nothingStarted(dir);
  });

  it("running: each job's command once, when it starts", () => {
    const dir = pipeline();
    const r = corral(["flow", "-p"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const shown = r.stderr.split("\n").filter((l) => / corral: [ab](\[s=\w\])?: echo /.test(l));
    expect(shown).toHaveLength(4);
    expect(shown.filter((l) => l.includes("touch b.txt"))).toHaveLength(1);
    expect(lines(path.join(dir, "ran.txt"))).toHaveLength(4);
  });
});

describe("--rulegraph", () => {
  it.each(["dot", "mermaid", "json"])("%s: one node per rule, one edge per rule dependency, nothing started", (fmt) => {
    const dir = pipeline();
    const r = corral(["flow", "--rulegraph", fmt], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    if (fmt === "json") {
      const g = JSON.parse(r.stdout) as { nodes: Array<{ rule: string; jobs: number }>; edges: string[][] };
      expect(g.nodes.map((n) => [n.rule, n.jobs])).toEqual([["a", 3], ["b", 1]]);
      expect(g.edges).toEqual([["a", "b"]]);
    } else {
      const node = fmt === "dot" ? /^\s+r\d+ \[label=/ : /^\s+r\d+\["/;
      const edge = fmt === "dot" ? /^\s+r\d+ -> r\d+;$/ : /^\s+r\d+ --> r\d+$/;
      const ls = r.stdout.split("\n");
      expect(ls.filter((l) => node.test(l))).toHaveLength(2);
      expect(ls.filter((l) => edge.test(l))).toHaveLength(1);
    }
    nothingStarted(dir);
  });

  it("a bad format is a usage error", () => {
    const dir = pipeline();
    const r = corral(["flow", "--rulegraph", "png"], { cwd: dir });
    expect(r.code).toBe(2);
    nothingStarted(dir);
  });
});

describe("--unlock", () => {
  const lockFile = (dir: string): string => path.join(dir, ".corral", "flow", ".lock");
  const writeLock = (dir: string, pid: number, host: string): void => {
    mkdirSync(path.dirname(lockFile(dir)), { recursive: true });
    writeFileSync(lockFile(dir), JSON.stringify({ pid, host, since: Date.now(), what: "corral flow head of multirun/x" }));
  };

  it("no lock: says so, exit 0, creates nothing", () => {
    const dir = pipeline();
    const r = corral(["flow", "--unlock"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("corral: no lock\n");
    expect(existsSync(path.join(dir, ".corral"))).toBe(false);
  });

  it("a lock whose head is gone (this host): removed, naming whose it was", () => {
    const dir = pipeline();
    const dead = spawnSync("true").pid!;
    writeLock(dir, dead, hostname());
    const r = corral(["flow", "--unlock"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`removed the flow lock .corral/flow/.lock (pid ${dead} on ${hostname()}: corral flow head of multirun/x)`);
    expect(existsSync(lockFile(dir))).toBe(false);
    expect(sweepDirs(dir)).toEqual([]);
    expect(corral(["flow", "--unlock"], { cwd: dir }).stderr).toBe("corral: no lock\n");
  });

  it("a head alive on this host: exit 2 naming it, the lock stays", () => {
    const dir = pipeline();
    writeLock(dir, process.pid, hostname());
    const r = corral(["flow", "--unlock"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`held by a running head (pid ${process.pid} on ${hostname()}`);
    expect(existsSync(lockFile(dir))).toBe(true);
  });

  it("a lock from another host: removed (it cannot be checked from here), saying whose it was", () => {
    const dir = pipeline();
    writeLock(dir, process.pid, "elsewhere-node");
    const r = corral(["flow", "--unlock"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed the flow lock .* \(pid \d+ on elsewhere-node: .*\); it was held from elsewhere-node/);
    expect(existsSync(lockFile(dir))).toBe(false);
  });
});

describe("--summary", () => {
  const rows = (stdout: string): string[][] => stdout.split("\n").filter(Boolean).map((l) => l.split("\t"));

  it("one tab-separated line per output file: file, date, rule, status, why; nothing started", () => {
    const dir = pipeline();
    const r = corral(["flow", "--summary"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const t = rows(r.stdout);
    expect(t[0]).toEqual(["file", "date", "rule", "status", "why"]);
    expect(t.slice(1).map((x) => [x[0], x[1], x[2], x[3]])).toEqual([
      ["a_x.txt", "-", "a", "missing"],
      ["a_y.txt", "-", "a", "missing"],
      ["a_z.txt", "-", "a", "missing"],
      ["b.txt", "-", "b", "missing"],
    ]);
    expect(t[1]![4]).toBe("missing output: 'a_x.txt', needed by b");
    nothingStarted(dir);
  });

  it("ok, update pending (with why) and incomplete after a build", () => {
    const dir = pipeline();
    expect(corral(["flow"], { cwd: dir }).code).toBe(0);
    const ran = lines(path.join(dir, "ran.txt")).length;
    // a_y is made newer than b.txt: b is out of date; a_z is left by a job that died.
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, "a_y.txt"), later, later);
    markIncomplete(dir, { jobKey: "a[s=z]", outputs: ["a_z.txt"], sweep: path.join(dir, "gone"), since: Date.now() });
    const r = corral(["flow", "--summary"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const t = rows(r.stdout).slice(1);
    expect(t).toHaveLength(4);
    const by = new Map(t.map((x) => [x[0], x]));
    expect(by.get("a_x.txt")!.slice(2)).toEqual(["a", "ok", "up to date"]);
    expect(by.get("a_x.txt")![1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(by.get("a_z.txt")!.slice(2, 4)).toEqual(["a", "incomplete"]);
    expect(by.get("b.txt")!.slice(2, 4)).toEqual(["b", "update pending"]);
    expect(by.get("b.txt")![4]).toMatch(/^(output older than input|input will be rebuilt)/);
    expect(lines(path.join(dir, "ran.txt"))).toHaveLength(ran);
    expect(sweepDirs(dir)).toHaveLength(1);
  });
});

/** What a terminal shows after `raw`: text, newlines, and the view's cursor-up/erase-below moves. */
function screenOf(raw: string): string[] {
  const screen: string[] = [""];
  let row = 0;
  // eslint-disable-next-line no-control-regex
  const re = /\u001b\[(\d*)([A-Za-z])|\r?\n|\r|[^\u001b\r\n]+/g;
  for (const m of raw.matchAll(re)) {
    const tok = m[0];
    if (tok === "\n" || tok === "\r\n") {
      row++;
      if (screen.length <= row) screen.push("");
    } else if (tok === "\r") {
      /* the PTY's \r before \n; the view never rewrites a line in place */
    } else if (m[2] === "F") row = Math.max(0, row - Number(m[1] || 1));
    else if (m[2] === "J") {
      screen.length = row + 1;
      screen[row] = "";
    } else if (m[2] === undefined) screen[row] += tok;
  }
  return screen;
}

/** Run the CLI in a real pseudo-terminal (util-linux `script`); its transcript. */
function inPty(args: string[], cwd: string): { code: number | null; raw: string } {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("script", ["-qfec", cmd, "/dev/null"], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", COLUMNS: "150" }, timeout: 60_000 });
  return { code: r.status, raw: r.stdout };
}

const hasScript = spawnSync("script", ["--version"]).status === 0;
const BAR = /[█▒░]{10}/;

describe.skipIf(!hasScript)("the view in a terminal (PTY)", () => {
  it("corral flow: events whole on their own lines, the bar with elapsed time and ETA, the summary at column 0 after the bar is gone", () => {
    const dir = pipeline(0.3);
    const r = inPty(["flow", "-j", "1"], dir);
    expect(r.code, r.raw).toBe(0);
    // Every line ever written, the view's cursor moves taken out: no event text follows bar text.
    // eslint-disable-next-line no-control-regex
    const written = r.raw.replace(/\u001b\[\d*[FJ]/g, "\n").split(/\r?\n/);
    const events = written.filter((l) => l.includes("corral: submitted"));
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const l of events) expect(l).toMatch(/^corral: submitted \d+ runs? as local-\d+$/);
    for (const l of written) if (BAR.test(l)) expect(l).not.toContain("corral:");
    const bars = written.filter((l) => BAR.test(l));
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.some((l) => / \d+\/4 \d+% .* \d+s · ETA (\?|\d+s)/.test(l))).toBe(true);
    // What the terminal shows at the end: event lines, then the summary, no bar left.
    const screen = screenOf(r.raw).filter(Boolean);
    expect(screen.some((l) => BAR.test(l))).toBe(false);
    expect(screen.at(-1)).toMatch(/^corral: 4 succeeded — /);
    expect(screen.filter((l) => l.startsWith("corral: submitted"))).toHaveLength(events.length);
  });

  it("corral run -m: the same view", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c 'echo running-$0; sleep 0.3'\nlauncher:\n  jobs: 1\n" });
    const r = inPty(["run", "-m", "+x=1,2,3"], dir);
    expect(r.code, r.raw).toBe(0);
    // eslint-disable-next-line no-control-regex
    const written = r.raw.replace(/\u001b\[\d*[FJ]/g, "\n").split(/\r?\n/);
    for (const l of written) if (BAR.test(l)) expect(l).not.toContain("corral:");
    expect(written.some((l) => BAR.test(l) && l.includes("ETA"))).toBe(true);
    const screen = screenOf(r.raw).filter(Boolean);
    expect(screen.some((l) => BAR.test(l))).toBe(false);
    expect(screen.at(-1)).toMatch(/^corral: 3 succeeded — /);
  });
});

describe("piped output", () => {
  it("corral flow: every line stamped [HH:MM:SS], no bar", () => {
    const dir = pipeline();
    const r = corral(["flow"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const ls = r.stderr.split("\n").filter(Boolean);
    expect(ls.length).toBeGreaterThan(3);
    for (const l of ls) expect(l).toMatch(STAMP);
    expect(r.stderr).not.toMatch(BAR);
    expect(ls.at(-1)).toMatch(/corral: 4 succeeded — /);
  });

  it("a failure summary is stamped too, each line", () => {
    const dir = makeProject({ "corral.yaml": "rules:\n  a:\n    output: [a.txt]\n    shell: 'echo bad-thing >&2; exit 3'\ntargets: [a.txt]\n" });
    const r = corral(["flow"], { cwd: dir });
    expect(r.code).toBe(1);
    for (const l of r.stderr.split("\n").filter(Boolean)) expect(l).toMatch(STAMP);
    expect(r.stderr).toMatch(/\| bad-thing/);
  });
});

describe("a single corral run", () => {
  it("streams the script's own stdout and stderr, and still writes the run's log files", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c 'echo hello-from-run; echo oops-from-run >&2'\n" });
    const r = corral(["run"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toContain("hello-from-run");
    expect(r.stderr.split("\n")).toContain("oops-from-run");
    const [sweep] = sweepDirs(dir);
    expect(readFileSync(path.join(sweep!, "0", "stdout.log"), "utf8")).toBe("hello-from-run\n");
  });

  it("with -m the runs' output stays in their logs", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c 'echo hello-from-run'\n" });
    const r = corral(["run", "-m", "+x=1,2"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("hello-from-run");
  });
});
