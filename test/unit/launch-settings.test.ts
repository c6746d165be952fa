/**
 * Launch settings as a union on `type`, and `sweep.json`'s record of them: only the SLURM variant
 * carries SLURM's fields, the setup lines are every launcher's, and settings written by an older
 * corral (version 1: one shape for every launcher, the SLURM block always present, the setup lines
 * inside it) read as this version's, so `corral resume` of an old sweep resubmits what was launched.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeLauncher } from "../../src/launchers/registry.js";
import { checkMultinode, policyOf, resolveSettings, settingsForAttempt } from "../../src/launchers/settings.js";
import { projectSchema, type ProjectConfig } from "../../src/project/schema.js";
import { LAUNCH_SETTINGS_VERSION, launchSettingsRecord, readLaunchSettings, type SweepManifest } from "../../src/store/protocol.js";
import { readManifest, writeManifest } from "../../src/store/store.js";

const project = (launcher: Record<string, unknown>): ProjectConfig =>
  ({ ...projectSchema.parse({ command: "python train.py", launcher }), name: "p", config: {}, defaults: [] }) as ProjectConfig;

// Written by corral before the settings were a union (the main branch of 2026-12; `corral run` of
// a local project with `launcher.setup`, and of a SLURM debug project).
const V1_LOCAL = {
  type: "local",
  parallel: 2,
  perJob: 2,
  stagger: 0,
  killGraceS: 10,
  verbose: false,
  heartbeatS: 15,
  pollIntervalS: 15,
  debug: false,
  slurm: { jobName: "oldfmt", sbatchArgs: [], setup: ["export FOO=1"], env: {}, signalGraceS: 120 },
};
const V1_SLURM = {
  type: "slurm",
  parallel: 1,
  perJob: 1,
  stagger: 0,
  killGraceS: 10,
  verbose: false,
  heartbeatS: 15,
  pollIntervalS: 15,
  debug: true,
  retryScaling: { mem: 2 },
  slurm: { partition: "debug", mem: "1G", nodes: 1, jobName: "oldfmt", sbatchArgs: [], setup: ["export FOO=1"], env: { A: "1" }, signalGraceS: 120 },
};

describe("launch settings: a union on type", () => {
  it("the local variant has no SLURM block; the SLURM one has the job's request", () => {
    const local = resolveSettings(project({ type: "local", setup: ["module load x"], partition: "gpu", nodes: 2 }), {});
    expect(local).toMatchObject({ type: "local", setup: ["module load x"], nodes: 2 });
    expect(local).not.toHaveProperty("slurm");
    expect(local).not.toHaveProperty("perJob");
    const slurm = resolveSettings(project({ type: "local", setup: ["module load x"], partition: "gpu", nodes: 2 }), { launcher: "slurm" });
    expect(slurm).toMatchObject({ type: "slurm", setup: ["module load x"], slurm: { partition: "gpu", nodes: 2, jobName: "p" } });
    expect(slurm.slurm).not.toHaveProperty("setup");
  });

  it("a local sweep has no memory to scale; nodes > 1 on it is refused naming launcher.nodes", () => {
    const local = resolveSettings(project({ type: "local", mem: "1G", retry_scaling: { mem: 2 }, nodes: 2 }), {});
    expect(policyOf(local)).toEqual({ maxAttempts: 3, retries: 0 });
    expect(settingsForAttempt(local, 3, { maxAttempts: 3, retries: 0, scaling: { mem: 2 } })).toBe(local);
    expect(() => checkMultinode(local, "corral.yaml")).toThrow(/launcher\.nodes is 2, but the local launcher runs on this machine only/);
  });
});

describe("sweep.json's settings record", () => {
  it("version 1 local settings: the setup lines leave the SLURM block, SLURM's fields go", () => {
    const s = readLaunchSettings(V1_LOCAL);
    expect(s).toEqual({ version: LAUNCH_SETTINGS_VERSION, type: "local", parallel: 2, stagger: 0, killGraceS: 10, verbose: false, heartbeatS: 15, setup: ["export FOO=1"], env: {} });
    expect(makeLauncher(s).type).toBe("local");
  });

  it("version 1 SLURM settings: the block stays (nodes with it; launcher.env leaves it, as every launcher's), packing, debug and scaling kept", () => {
    const s = readLaunchSettings(V1_SLURM);
    expect(s).toEqual({
      version: LAUNCH_SETTINGS_VERSION,
      type: "slurm",
      parallel: 1,
      perJob: 1,
      stagger: 0,
      killGraceS: 10,
      verbose: false,
      heartbeatS: 15,
      pollIntervalS: 15,
      debug: true,
      retryScaling: { mem: 2 },
      setup: ["export FOO=1"],
      env: { A: "1" },
      slurm: { partition: "debug", mem: "1G", nodes: 1, jobName: "oldfmt", sbatchArgs: [], signalGraceS: 120 },
    });
    if (s?.type !== "slurm") throw new Error("expected SLURM settings");
    expect(policyOf(s).scaling).toEqual({ mem: 2 });
    expect(settingsForAttempt(s, 2, policyOf(s)).slurm.mem).toBe("2048M");
  });

  it("version 1 without a type takes the manifest's launcher; nothing readable is none", () => {
    const { type: _t, ...untyped } = V1_SLURM;
    expect(readLaunchSettings(untyped, "slurm")?.type).toBe("slurm");
    expect(readLaunchSettings(untyped)?.type).toBe("local");
    expect(readLaunchSettings(undefined)).toBeUndefined();
    expect(readLaunchSettings("local")).toBeUndefined();
  });

  it("an early version-2 record with launcher.env in the SLURM block reads it as every launcher's env", () => {
    const early = { ...V1_SLURM, version: LAUNCH_SETTINGS_VERSION, setup: [], slurm: { sbatchArgs: [], env: { A: "1" }, signalGraceS: 120 } };
    const s = readLaunchSettings(early);
    expect(s?.env).toEqual({ A: "1" });
    expect(s?.type === "slurm" && s.slurm).not.toHaveProperty("env");
  });

  it("the current version reads back as written", () => {
    for (const flags of [{}, { launcher: "slurm" as const }]) {
      const rec = launchSettingsRecord(resolveSettings(project({ setup: ["a"], partition: "gpu", retry_scaling: { mem: 2 } }), flags));
      expect(readLaunchSettings(JSON.parse(JSON.stringify(rec)))).toEqual(rec);
    }
  });

  it("readManifest (what resume reads) upgrades an old sweep.json's settings", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-settings-"));
    const m = { type: "sweep", version: 1, id: "s", kind: "sweep", createdAt: 0, dir, projectDir: dir, command: ["true"], overrides: [], launcher: "slurm", runs: [], jobs: [], settings: V1_SLURM };
    writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(m));
    const read = readManifest(dir);
    expect(read.settings).toMatchObject({ version: LAUNCH_SETTINGS_VERSION, type: "slurm", setup: ["export FOO=1"], env: { A: "1" }, slurm: { partition: "debug" } });
    expect(read.settings?.type === "slurm" && read.settings.slurm).not.toHaveProperty("setup");
    // The next write stores the current version.
    writeManifest(read);
    expect(readManifest(dir).settings).toEqual(read.settings);
    const none = { ...m, settings: undefined } as unknown as SweepManifest;
    writeFileSync(path.join(dir, "sweep.json"), JSON.stringify(none));
    expect(readManifest(dir).settings).toBeUndefined();
  });
});
