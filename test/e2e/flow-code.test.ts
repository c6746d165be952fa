/**
 * Rules from code and config (issue 13, point 2) through the real CLI, with projects in temp
 * folders outside the repository: a corral.config.ts importing from "corral" whose plot rule's
 * input is computed from a config list; `corral flow KEY=VALUE` as config overrides that rerun
 * exactly what they change; a YAML project with `${lr}` params and an `expand:` input; resources
 * computed from the attempt on a retry; a bad function stopping the flow before anything starts.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { FlowFile } from "../../src/engine/flow.js";
import { defineConfig, expand } from "../../src/index.js";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, sweepDirs } from "../helpers.js";

/** Keys of the jobs the latest flow ran. */
const ran = (dir: string): string[] => {
  const last = sweepDirs(dir).pop();
  return last === undefined ? [] : readJson<SweepManifest>(path.join(last, "sweep.json")).runs.map((r) => r.job!).sort();
};
const flow = (dir: string, ...args: string[]): { code: number | null; out: string; ran: string[] } => {
  const before = sweepDirs(dir).length;
  const r = corral(["flow", ...args], { cwd: dir });
  return { code: r.code, out: r.stdout + r.stderr, ran: sweepDirs(dir).length > before ? ran(dir) : [] };
};

const TS_PROJECT = `import { defineConfig, expand } from "corral";

export default defineConfig({
  config: { models: ["a", "b"], lr: 0.1, seed: 7 },
  rules: {
    train: {
      output: "results/{model}.json",
      params: { lr: ({ config }) => config.lr as number },
      shell: "echo '{{\\"model\\": \\"{wildcards.model}\\", \\"lr\\": {params.lr}}}' > {output}",
    },
    data: {
      output: "data/{model}.csv",
      params: { seed: ({ config }) => config.seed as number },
      shell: "echo {params.seed} > {output}",
    },
    plot: {
      input: ({ config }) => ({ runs: expand("results/{model}.json", { model: config.models as string[] }) }),
      output: "plot.txt",
      shell: "cat {input.runs} > {output}",
    },
  },
  targets: ["plot.txt"],
});
`;

describe("corral flow: rules computed from the config (corral.config.ts outside the package)", () => {
  it('imports from "corral"; a config list drives the plot\'s inputs; KEY=VALUE reruns exactly what it changes', () => {
    const dir = makeProject({ "corral.config.ts": TS_PROJECT }, "corral-code-");
    expect(path.relative(process.cwd(), dir).startsWith("..")).toBe(true);

    const first = flow(dir);
    expect(first.code, first.out).toBe(0);
    expect(first.ran).toEqual(["plot", "train[model=a]", "train[model=b]"]);

    // One more model: exactly its train job and the plot; the plot sees every model.
    const more = flow(dir, "models=[a,b,c]");
    expect(more.code, more.out).toBe(0);
    expect(more.ran).toEqual(["plot", "train[model=c]"]);
    expect(readFileSync(path.join(dir, "plot.txt"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { model: string }).model)).toEqual(["a", "b", "c"]);
    expect(flow(dir, "models=[a,b,c]").out).toContain("nothing to do");

    // lr feeds train's params only: its three jobs rerun, and the plot after them.
    const lr = flow(dir, "models=[a,b,c]", "lr=0.05");
    expect(lr.code, lr.out).toBe(0);
    expect(lr.ran).toEqual(["plot", "train[model=a]", "train[model=b]", "train[model=c]"]);
    expect(readFileSync(path.join(dir, "results/b.json"), "utf8")).toContain('"lr": 0.05');
    const m = readJson<SweepManifest>(path.join(sweepDirs(dir).pop()!, "sweep.json"));
    expect(m.overrides).toEqual(["models=[a,b,c]", "lr=0.05"]);

    // An override of a key the config lacks, or a sweep of one, is exit 2 and starts nothing.
    const n = sweepDirs(dir).length;
    const typo = flow(dir, "lx=0.05");
    expect(typo.code).toBe(2);
    expect(typo.out).toContain("did you mean 'lr'");
    const sweep = flow(dir, "lr=0.1,0.2");
    expect(sweep.code).toBe(2);
    expect(sweep.out).toContain("one value per config key");
    expect(sweepDirs(dir).length).toBe(n);
    // `+key=value` adds a key, as for corral run.
    expect(flow(dir, "models=[a,b,c]", "lr=0.05", "+extra=1").out).toContain("nothing to do");
  });

  it("a project with its own node_modules/corral keeps using it", () => {
    const dir = makeProject({
      "corral.config.ts": `import { defineConfig } from "corral";\nexport default defineConfig({ rules: { r: { output: "who.txt", params: { who: ({ config }) => config.who as string }, shell: "echo {params.who} > {output}" } }, targets: ["who.txt"] });\n`,
      "node_modules/corral/package.json": JSON.stringify({ name: "corral", main: "index.js" }),
      "node_modules/corral/index.js": "exports.defineConfig = (c) => ({ ...c, config: { who: 'local copy' } });\n",
    });
    const r = flow(dir);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(path.join(dir, "who.txt"), "utf8").trim()).toBe("local copy");
  });

  it("a project with corral installed as published (exports only `import`) loads it from a CommonJS-compiled .ts", () => {
    // No package.json saying "type": "module": tsx compiles corral.config.ts to CommonJS, whose
    // require("corral") cannot use an exports map without `require`; the running corral answers.
    const dir = makeProject({
      "corral.config.ts": `import { defineConfig, expand } from "corral";\nexport default defineConfig({ rules: { r: { output: "out/{x}.txt", shell: "echo {wildcards.x} > {output}" } }, targets: expand("out/{x}.txt", { x: ["a", "b"] }) });\n`,
      "node_modules/corral/package.json": JSON.stringify({ name: "corral", type: "module", exports: { ".": { import: "./index.js" } } }),
      "node_modules/corral/index.js": "export const defineConfig = (c) => c;\n",
    });
    const r = flow(dir);
    expect(r.code, r.out).toBe(0);
    expect(r.ran).toEqual(["r[x=a]", "r[x=b]"]);
    expect(readFileSync(path.join(dir, "out/b.txt"), "utf8").trim()).toBe("b");
  });

  it("resources computed from the attempt: the retry gets the larger value", () => {
    const dir = makeProject({
      "corral.config.ts": `import { defineConfig } from "corral";
export default defineConfig({
  config: { threads: 2 },
  rules: {
    fit: {
      output: "fit.txt",
      retries: 1,
      resources: { mem: ({ attempt }) => \`\${attempt * 100}M\`, cpus: ({ config }) => config.threads as number },
      shell: "echo {resources.mem} {threads} >> seen.txt; test -f failed-once || {{ touch failed-once; exit 1; }}; echo ok > {output}",
    },
  },
  targets: ["fit.txt"],
});
`,
    });
    const r = flow(dir);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(path.join(dir, "seen.txt"), "utf8").trim().split("\n")).toEqual(["100M 2", "200M 2"]);
    const f = readJson<FlowFile>(path.join(sweepDirs(dir).pop()!, "flow.json"));
    expect(f.jobs[0]!.memMB).toBe(100);
    expect(f.jobs[0]!.attempts).toEqual([{ argv: expect.any(Array) as unknown, memMB: 200 }]);
  });

  it("a function that throws or returns a wrong type is exit 2 naming the rule and the key; nothing starts", () => {
    const bad = (rule: string, key: string, text: string): void => {
      const dir = makeProject({ "corral.config.ts": `import { defineConfig } from "corral";\nexport default defineConfig({ rules: { ${rule} }, targets: ["out/x.txt"] });\n` });
      const r = flow(dir);
      expect(r.code, r.out).toBe(2);
      expect(r.out).toContain(key);
      expect(r.out).toContain("model=x");
      expect(r.out).toContain(text);
      expect(existsSync(path.join(dir, "multirun"))).toBe(false);
    };
    bad(`train: { output: "out/{model}.txt", params: { lr: ({ config }) => (config as any).optim.lr }, shell: "x" }`, "rules.train.params.lr", "the function threw");
    bad(`train: { output: "out/{model}.txt", input: () => 42 as any, shell: "x" }`, "rules.train.input", "must return a path");
  });
});

describe("corral flow: YAML rules read the config through ${key}", () => {
  it("${lr} in params, expand: over ${models} in an input; lr=... reruns the jobs that use it", () => {
    const dir = makeProject({
      "corral.yaml": [
        "config:",
        "  lr: 0.1",
        "  models: [a, b]",
        "rules:",
        "  train:",
        '    output: "results/{model}_{seed}.json"',
        '    params: {lr: "${lr}"}',
        '    shell: "echo {params.lr} > {output}"',
        "  prep:",
        '    output: "prep.txt"',
        '    shell: "echo prep > {output}"',
        "  plot:",
        "    input:",
        '      runs: {expand: "results/{model}_{seed}.json", model: "${models}", seed: [1, 2]}',
        "      prep: prep.txt",
        "    output: plot.txt",
        '    shell: "cat {input.runs} > {output}; echo {input.runs} >> {output}"',
        "targets: [plot.txt]",
        "",
      ].join("\n"),
    });
    const first = flow(dir);
    expect(first.code, first.out).toBe(0);
    expect(first.ran).toHaveLength(6);
    expect(readFileSync(path.join(dir, "plot.txt"), "utf8")).toContain("results/a_1.json results/a_2.json results/b_1.json results/b_2.json");
    const lr = flow(dir, "lr=0.5");
    expect(lr.code, lr.out).toBe(0);
    expect(lr.ran).toEqual(["plot", "train[model=a,seed=1]", "train[model=a,seed=2]", "train[model=b,seed=1]", "train[model=b,seed=2]"]);
    expect(readFileSync(path.join(dir, "results/b_2.json"), "utf8").trim()).toBe("0.5");
    const fewer = flow(dir, "lr=0.5", "models=[b]");
    expect(fewer.ran).toEqual(["plot"]);
    expect(readFileSync(path.join(dir, "plot.txt"), "utf8")).toContain("results/b_1.json results/b_2.json\n");
  });
});

// Types users get: the functions' argument is typed (checked by tsc, which compiles this file).
export const typed = defineConfig({
  config: { models: ["a"] },
  rules: {
    plot: {
      input: ({ config, wildcards, attempt }) => expand(`r/{m}_${wildcards.x ?? ""}_${attempt}.json`, { m: config.models as string[] }),
      output: "plot.png",
      params: { n: ({ attempt }) => attempt * 2, fixed: 1 },
      resources: { mem: ({ attempt }) => `${attempt * 4}G`, cpus: 2 },
      shell: ({ wildcards }) => `plot ${Object.keys(wildcards).length} {input}`,
    },
  },
});
// @ts-expect-error: `attempt` is a number
export const wrongArgument = defineConfig({ rules: { bad: { output: "x", params: (ctx: { attempt: string }) => ({ a: ctx.attempt }) } } });
// @ts-expect-error: a shell function returns a command line
export const wrongResult = defineConfig({ rules: { bad: { output: "x", shell: () => 42 } } });
