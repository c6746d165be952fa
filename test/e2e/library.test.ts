/** The library entry as a user imports it (the built package, like `import ... from "corral"`). */
import { describe, expect, it } from "vitest";
import type * as Corral from "../../src/index.js";
import { makeProject, TASKS } from "../helpers.js";

describe("library API", () => {
  it("launch() starts a sweep, wait() ends it, results() tabulates; defineConfig types a project", async () => {
    const lib = (await import("../../dist/index.js")) as typeof Corral;
    expect(lib.defineConfig({ command: "echo" })).toEqual({ command: "echo" });
    const dir = makeProject({ "corral.yaml": `command: sh ${TASKS}/ok.sh\nconfig:\n  lr: 0.1\n` });
    const events: string[] = [];
    const sweep = await lib.launch({ cwd: dir, overrides: ["lr=0.1,0.2,0.3"], multirun: true, jobs: 2, reporter: { emit: (e) => events.push(e.type) } });
    const res = await sweep.wait();
    expect(res.counts.succeeded).toBe(3);
    expect(events).toContain("sweep-created");
    expect(events).toContain("run-ended");
    const table = await sweep.results();
    expect(table.rows.map((r) => r.lr)).toEqual([0.1, 0.2, 0.3]);
    expect(table.metricColumns).toEqual(["step", "loss", "acc"]);
    const again = lib.openSweep(sweep.dir);
    expect((await again.status()).counts.succeeded).toBe(3);
  });

  it("bad input rejects with a CorralError and starts nothing", async () => {
    const lib = (await import("../../dist/index.js")) as typeof Corral;
    const dir = makeProject({ "corral.yaml": "command: echo\nconfig:\n  lr: 0.1\n" });
    await expect(lib.launch({ cwd: dir, overrides: ["nope=1"] })).rejects.toMatchObject({ name: "CorralError", exitCode: 2 });
  });
});
