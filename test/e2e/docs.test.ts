/**
 * The docs are tested: every fenced code block of README.md, docs/*.md and examples/*\/README.md
 * runs against a temporary project, so the pages cannot drift from what Corral does.
 *
 * What each block is (by its language):
 * - `yaml`: a corral.yaml. It is written into a fresh temporary project (the page's project from
 *   then on) and loaded, which must exit 0: `corral run --dry-run` (with `-m` when it has a
 *   `sweep:`) plans every run; a pipeline (`rules:`, no `command:`) is planned with `corral flow
 *   -n` (`corral flow --list` without `targets:`); otherwise `corral config --cfg all`.
 * - `ts`/`js`: a corral.config.ts that exports `defineConfig(...)`; handled as a yaml block.
 * - `bash`/`sh`/`shell`/`console`: each line (each `$ ` line of a console block) runs with bash in
 *   the page's project, in order, with `corral` on PATH as dist/cli/main.js; it must exit 0, or
 *   the status a trailing `# exit N` comment names (that comment is checked).
 * - `text`, or no language: output, a listing or a synopsis, not run. A block without a language
 *   whose lines start with `corral ` must be a synopsis (`[OPTIONS]`): commands meant to run are
 *   marked `bash`.
 * - any other language: only with an annotation.
 *
 * Annotations: HTML comments on the lines right before a block (invisible on GitHub), several
 * allowed, a reason in parentheses where one is asked for:
 * - `<!-- test: skip (reason) -->`       not run; the reason is printed.
 * - `<!-- test: output -->`              output shown in a block with a language; not run.
 * - `<!-- test: file PATH -->`           write the block as PATH of the page's project (conf/model/small.yaml,
 *                                        train.py, corral.yaml), then load the project when it has a project file.
 * - `<!-- test: fragment -->`            a piece of the page's last project file: its top-level keys replace
 *                                        those of that file, and the result is loaded.
 * - `<!-- test: given PATH... -->`       empty files (`{}` for .yaml) the block needs but the page does not show.
 * - `<!-- test: project DIR -->`         from this block on, the page's project is a copy of DIR (e.g. examples/submitit).
 * - `<!-- test: slurm -->`               needs the local SLURM test cluster: skipped, with the reason, when none answers.
 * - `<!-- test: omit PREFIX (reason) -->` in a shell block, lines starting with PREFIX are not run.
 *
 * A page's project lasts from a project file block (or a `project` annotation) to the next one;
 * these parts of a page share nothing and run at the same time, as pages do, their blocks in order
 * (at most as many lines at once as there are CPUs). Each page's test prints how many blocks ran
 * and how many were skipped, with the reasons. `CORRAL_DOCS_PAGES=docs/a.md,README.md` runs only
 * those pages.
 */
import { execFile } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseBlocks, shellLines, type Annotation, type DocBlock } from "../docs-blocks.js";
import { CLI, ROOT, slurmProblem } from "../helpers.js";

const PAGES = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
  ...readdirSync(path.join(ROOT, "examples"))
    .sort()
    .map((d) => `examples/${d}/README.md`)
    .filter((f) => existsSync(path.join(ROOT, f))),
];

/** `CORRAL_DOCS_PAGES=docs/config.md,README.md` runs only these pages (while mending a page). */
const ONLY = process.env.CORRAL_DOCS_PAGES ? process.env.CORRAL_DOCS_PAGES.split(",") : undefined;

const SHELL = new Set(["bash", "sh", "shell", "console", "zsh"]);
const OUTPUT = new Set(["", "text", "plain", "txt", "output"]);

/** A folder with `corral` on PATH: the built CLI of this checkout. */
const BIN = (() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-docs-bin-"));
  writeFileSync(path.join(dir, "corral"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(dir, "corral"), 0o755);
  return dir;
})();

/**
 * The environment of every line: `corral` on PATH, `USER` as a login shell has it, and Hydra apps
 * (examples/clusterduck, examples/submitit) importing Hydra, or where Hydra is not installed the
 * stand-in test/fixtures/hydra-like (the same argv contract, as test/e2e/examples-hydra.test.ts).
 */
const RUN_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  NO_COLOR: "1",
  USER: process.env.USER ?? os.userInfo().username,
  PATH: `${BIN}:${process.env.PATH ?? ""}`,
  PYTHONPATH: [process.env.PYTHONPATH, path.join(ROOT, "test/fixtures/hydra-like")].filter(Boolean).join(":"),
};

let slurmChecked: string | undefined | null = null;
const slurmReason = (): string | undefined => {
  if (slurmChecked === null) slurmChecked = slurmProblem();
  return slurmChecked;
};

interface Ran {
  code: number | null;
  out: string;
}

/** At most this many lines run at once over all pages: the CPUs, at least 2. */
const SLOTS = Math.max(2, os.availableParallelism());
let busy = 0;
const waiting: Array<() => void> = [];

async function sh(cmd: string, cwd: string, timeoutMs = 90_000): Promise<Ran> {
  if (busy >= SLOTS) await new Promise<void>((r) => waiting.push(r)); // a finishing line hands its slot over
  else busy++;
  try {
    return await shNow(cmd, cwd, timeoutMs);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else busy--;
  }
}

function shNow(cmd: string, cwd: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      ["-c", cmd],
      { cwd, timeout: timeoutMs, maxBuffer: 16 << 20, env: RUN_ENV },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** A fresh temporary project; `import ... from "corral"` resolves to this checkout, as after `npm install corral`. */
function freshProject(from?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "corral-docs-"));
  if (from) cpSync(path.join(ROOT, from), dir, { recursive: true });
  mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  if (!existsSync(path.join(dir, "node_modules/corral"))) symlinkSync(ROOT, path.join(dir, "node_modules/corral"));
  return dir;
}

function writeIn(dir: string, rel: string, text: string): void {
  const p = path.join(dir, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  if (rel.endsWith(".py") || rel.endsWith(".sh")) chmodSync(p, 0o755);
}

const PROJECT_FILES = ["corral.yaml", "corral.yml", "corral.config.ts", "corral.config.js", "corral.config.mjs"];

/**
 * How a project file is loaded, from its content: `corral run --dry-run` (with `-m` when it has a
 * `sweep:`) plans every run, composing each config and checking the launcher settings; a pipeline
 * (`rules:` without a `command:`) is planned by `corral flow -n` (the DAG of its `targets:`), or
 * checked by `corral flow --list` when it names no targets; otherwise `corral config --cfg all`
 * composes the config and shows the settings in force.
 */
function loadCommand(file: string, text: string): string {
  let hasCommand: boolean;
  let hasSweep: boolean;
  let hasRules: boolean;
  let hasTargets: boolean;
  if (file.endsWith(".yaml") || file.endsWith(".yml")) {
    const doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
    hasCommand = doc.command !== undefined;
    hasSweep = doc.sweep !== undefined;
    hasRules = doc.rules !== undefined;
    hasTargets = doc.targets !== undefined;
  } else {
    hasCommand = /\bcommand\s*:/.test(text);
    hasSweep = /\bsweep\s*:/.test(text);
    hasRules = /\brules\s*:/.test(text);
    hasTargets = /\btargets\s*:/.test(text);
  }
  if (!hasCommand && hasRules) return hasTargets ? "corral flow -n" : "corral flow --list";
  if (!hasCommand) return "corral config --cfg all";
  return hasSweep ? "corral run -m --dry-run" : "corral run --dry-run";
}

interface PageReport {
  ran: number;
  skipped: Array<{ line: number; reason: string }>;
  output: number;
}

const isProjectLang = (lang: string) => ["yaml", "yml", "ts", "typescript", "js"].includes(lang);
const has = (b: DocBlock, k: Annotation["kind"]) => b.annotations.some((a) => a.kind === k);

/**
 * The page's blocks in chains: a project file block (not a `fragment` or `file`) or a `project`
 * annotation starts a new project, and the blocks after it, up to the next, use that project.
 * Chains share nothing, so they run at the same time; the blocks of one chain run in order.
 */
function chains(blocks: DocBlock[]): DocBlock[][] {
  const out: DocBlock[][] = [[]];
  for (const b of blocks) {
    const runs = !has(b, "skip") && !has(b, "output");
    const starts = runs && (has(b, "project") || (isProjectLang(b.lang) && !has(b, "fragment") && !has(b, "file")));
    if (starts && out[out.length - 1]!.length > 0) out.push([]);
    out[out.length - 1]!.push(b);
  }
  return out;
}

class BlockFailed extends Error {}

async function runPage(page: string): Promise<PageReport> {
  const blocks = parseBlocks(readFileSync(path.join(ROOT, page), "utf8"));
  const report: PageReport = { ran: 0, skipped: [], output: 0 };
  // Every failing block of the page is reported, not only the first.
  const failures: Array<{ line: number; msg: string }> = [];
  await Promise.all(
    chains(blocks).map(async (chain) => {
      const state: ChainState = { page, report };
      for (const b of chain) {
        try {
          await runBlock(state, b);
        } catch (e) {
          if (!(e instanceof BlockFailed)) throw e;
          failures.push({ line: b.line, msg: e.message });
        }
      }
    }),
  );
  report.skipped.sort((a, b) => a.line - b.line);
  if (failures.length > 0) throw new Error(failures.sort((a, b) => a.line - b.line).map((f) => f.msg).join("\n\n"));
  return report;
}

interface ChainState {
  page: string;
  report: PageReport;
  project?: string;
  /** The folder the last shell line ended in: where the next one starts (`cd my-project` carries over). */
  cwd?: string;
}

function fail(st: ChainState, b: DocBlock, msg: string, line = b.line): never {
  throw new BlockFailed(`${st.page}:${line}: ${msg}`);
}

async function check(st: ChainState, b: DocBlock, cmd: string, expectExit: number, line?: number, keepCwd = false): Promise<void> {
  const project = st.project!;
  const dir = keepCwd && st.cwd?.startsWith(project) && existsSync(st.cwd) ? st.cwd : project;
  const cwdFile = path.join(os.tmpdir(), `corral-docs-cwd-${process.pid}-${++cwdCounter}`);
  const r = await sh(`${cmd}\n__rc=$?; pwd > '${cwdFile}'; exit $__rc`, dir);
  if (keepCwd && existsSync(cwdFile)) st.cwd = readFileSync(cwdFile, "utf8").trim();
  rmSync(cwdFile, { force: true });
  if (r.code !== expectExit) fail(st, b, `\`${cmd}\` exited ${String(r.code)}, the page says ${expectExit}:\n${r.out.slice(-1500)}`, line);
}
let cwdCounter = 0;

/** Load the chain's project, when it has a project file, with the check its content calls for. */
async function load(st: ChainState, b: DocBlock): Promise<void> {
  const name = PROJECT_FILES.find((f) => existsSync(path.join(st.project!, f)));
  if (name) await check(st, b, loadCommand(name, readFileSync(path.join(st.project!, name), "utf8")), 0);
}

function given(st: ChainState, b: DocBlock): void {
  for (const a of b.annotations)
    if (a.kind === "given") for (const p of a.paths) if (!existsSync(path.join(st.project!, p))) writeIn(st.project!, p, p.endsWith(".yaml") ? "{}\n" : "");
}

async function runBlock(st: ChainState, b: DocBlock): Promise<void> {
  const { report } = st;
  const ann = (k: Annotation["kind"]) => b.annotations.find((a) => a.kind === k);
  const skip = ann("skip");
  if (skip?.kind === "skip") {
    report.skipped.push({ line: b.line, reason: skip.reason });
    return;
  }
  if (ann("output")) {
    report.output++;
    return;
  }
  if (ann("slurm")) {
    const why = slurmReason();
    if (why) {
      report.skipped.push({ line: b.line, reason: `needs the SLURM test cluster: ${why}` });
      return;
    }
  }
  const proj = ann("project");
  if (proj?.kind === "project") st.project = freshProject(proj.dir);
  const file = ann("file");
  if (file?.kind === "file") {
    st.project ??= freshProject();
    given(st, b);
    writeIn(st.project, file.path, b.text);
    await load(st, b);
    report.ran++;
    return;
  }
  if (OUTPUT.has(b.lang)) {
    const commands = b.text.split("\n").filter((l) => /^corral\s/.test(l) && !l.includes("["));
    if (commands.length > 0)
      fail(st, b, `a block ${b.lang ? `in ${b.lang}` : "without a language"} shows commands (${commands[0]}): mark it \`bash\` to run them, or annotate it`);
    report.output++;
    return;
  }
  if (b.lang === "yaml" || b.lang === "yml") {
    if (ann("fragment")) {
      const name = st.project && PROJECT_FILES.find((f) => existsSync(path.join(st.project!, f)));
      if (!name?.endsWith(".yaml")) fail(st, b, "a `fragment` block needs a corral.yaml block before it on the page");
      const base = (parseYaml(readFileSync(path.join(st.project!, name!), "utf8")) ?? {}) as Record<string, unknown>;
      const piece = (parseYaml(b.text) ?? {}) as Record<string, unknown>;
      writeIn(st.project!, "corral.yaml", stringifyYaml({ ...base, ...piece }));
    } else {
      st.project = freshProject();
      writeIn(st.project, "corral.yaml", b.text);
    }
    given(st, b);
    await load(st, b);
    report.ran++;
    return;
  }
  if (b.lang === "ts" || b.lang === "typescript" || b.lang === "js") {
    if (!/export default/.test(b.text) || !/defineConfig\(/.test(b.text))
      fail(st, b, "a ts/js block that is not a corral.config.ts (export default defineConfig(...)): annotate it (`file PATH`, `skip (reason)`)");
    st.project = freshProject();
    given(st, b);
    writeIn(st.project, b.lang === "js" ? "corral.config.js" : "corral.config.ts", b.text);
    await load(st, b);
    report.ran++;
    return;
  }
  if (SHELL.has(b.lang)) {
    st.project ??= freshProject();
    given(st, b);
    const omits = b.annotations.filter((a): a is Extract<Annotation, { kind: "omit" }> => a.kind === "omit");
    for (const l of shellLines(b)) {
      if (omits.some((o) => l.cmd.startsWith(o.prefix))) continue;
      await check(st, b, l.cmd, l.exit, l.line, true);
    }
    report.ran++;
    return;
  }
  fail(st, b, `a \`${b.lang}\` block is neither a project file, a shell block nor output: annotate it (\`file PATH\`, \`skip (reason)\`, \`output\`)`);
}

describe("the docs run as written", () => {
  it("the pages named in CORRAL_DOCS_PAGES exist", () => {
    for (const p of ONLY ?? []) expect(PAGES, p).toContain(p);
  });

  for (const page of PAGES) {
    it.skipIf(ONLY !== undefined && !ONLY.includes(page)).concurrent(page, { timeout: 300_000 }, async () => {
      const r = await runPage(page);
      const skips = r.skipped.map((s) => `\n  skipped ${page}:${s.line}: ${s.reason}`).join("");
      console.log(`docs: ${page}: ${r.ran} block(s) ran, ${r.skipped.length} skipped, ${r.output} output/synopsis${skips}`);
    });
  }
});
