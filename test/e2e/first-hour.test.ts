/**
 * The first hour (issue 14 points 3-5) through the real CLI: every dead end has a way forward
 * (resume after the project changed, an unknown metric, a run named by a clashing prefix,
 * `corral config -P`), messages name the cause once in the user's terms, and the starter
 * project of `corral init` is a small real example.
 */
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepManifest } from "../../src/store/protocol.js";
import { corral, makeProject, readJson, sweepDirs } from "../helpers.js";

const statusJson = (dir: string): { runs: Array<{ index: number; state: string; attempt: number }> } => JSON.parse(corral(["status", "--json"], { cwd: dir }).stdout);

describe("corral resume after the project changed", () => {
  it("refuses to rerun a fixed command as recorded without being told, and reruns the failed runs with the current project on --use-current-project", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh trian.sh\nconfig:\n  x: 1\nsweep:\n  x: [1, 2]\n",
      "train.sh": 'echo "{\\"ok\\": 1}" >> "$CORRAL_RUN_DIR/metrics.jsonl"\n',
    });
    const first = corral(["run", "-m"], { cwd: dir });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("corral resume --retry-failed");
    // The user fixes the typo in corral.yaml and follows the hint.
    writeFileSync(path.join(dir, "corral.yaml"), "command: sh train.sh\nconfig:\n  x: 1\nsweep:\n  x: [1, 2]\n");
    const asked = corral(["resume", "--retry-failed"], { cwd: dir });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("the project changed since this sweep was created (command: sh trian.sh -> sh train.sh)");
    expect(asked.stderr).toContain("corral resume --use-current-project");
    expect(asked.stderr).toContain("--as-recorded");
    // Nothing was started.
    expect(statusJson(dir).runs.map((r) => [r.state, r.attempt])).toEqual([["failed", 1], ["failed", 1]]);

    const again = corral(["resume", "--use-current-project"], { cwd: dir });
    expect(again.stderr).toContain("rerunning 2 runs with the current project (new attempts, same overrides");
    expect(again.code).toBe(0);
    expect(statusJson(dir).runs.map((r) => [r.state, r.attempt])).toEqual([["succeeded", 2], ["succeeded", 2]]);
    const m = readJson<SweepManifest>(path.join(sweepDirs(dir)[0]!, "sweep.json"));
    expect(m.command).toEqual(["sh", "train.sh"]);
    expect(m.replaced).toMatchObject([{ command: ["sh", "trian.sh"], runs: [0, 1] }]);
    expect(m.runs.map((r) => r.overrides)).toEqual([["x=1"], ["x=2"]]);
  });

  it("a changed config: names the key, --as-recorded keeps the recorded config, --use-current-project rewrites the rerun runs' config.yaml", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh run.sh\nconfig_dir: conf\ndefaults:\n  - model: small\n  - _self_\nconfig:\n  seed: 0\nsweep:\n  seed: [0, 1]\n",
      "conf/model/small.yaml": "hidden: 8\n",
      // Run 1 fails the first time only.
      "run.sh": 'case "$*" in *seed=1*) [ -e "$CORRAL_RUN_DIR/tried" ] || { touch "$CORRAL_RUN_DIR/tried"; exit 3; } ;; esac\n',
    });
    expect(corral(["run", "-m"], { cwd: dir }).code).toBe(1);
    writeFileSync(path.join(dir, "conf/model/small.yaml"), "hidden: 16\n");
    const asked = corral(["resume", "--retry-failed"], { cwd: dir });
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("config of 1 run (1), e.g. run 1: model.hidden: 8 -> 16");
    const sweep = sweepDirs(dir)[0]!;

    const recorded = corral(["resume", "--retry-failed", "--as-recorded"], { cwd: dir });
    expect(recorded.code).toBe(0);
    expect(recorded.stderr).toContain("rerunning 1 run as recorded (--as-recorded)");
    expect(readFileSync(path.join(sweep, "1", "config.yaml"), "utf8")).toContain("hidden: 8");

    // Now every run succeeded: nothing to rerun, nothing to ask.
    expect(corral(["resume"], { cwd: dir }).code).toBe(0);
  });

  it("--use-current-project composes each rerun run's config again with its own overrides", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh run.sh\nconfig:\n  size: 1\n  seed: 0\nsweep:\n  seed: [0, 1]\n",
      // Fails while size is 1.
      "run.sh": 'grep -q "size: 1$" "$CORRAL_CONFIG" && exit 3\nexit 0\n',
    });
    const first = corral(["run", "-m"], { cwd: dir });
    expect(first.code).toBe(1);
    writeFileSync(path.join(dir, "corral.yaml"), "command: sh run.sh\nconfig:\n  size: 2\n  seed: 0\nsweep:\n  seed: [0, 1]\n");
    const r = corral(["resume", "--use-current-project"], { cwd: dir });
    expect(r.stderr).toContain("config of 2 runs (0, 1), e.g. run 0: size: 1 -> 2");
    expect(r.code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    expect(readFileSync(path.join(sweep, "1", "config.yaml"), "utf8")).toBe("size: 2\nseed: 1\n");
  });
});

describe("corral results --best with a metric that does not exist", () => {
  it("is exit 2 naming the metrics that exist and the likely one", () => {
    const dir = makeProject({
      "corral.yaml": "command: sh m.sh\nconfig:\n  x: 1\nsweep:\n  x: [1, 2]\n",
      "m.sh": 'echo "{\\"loss\\": 0.5, \\"val_acc\\": 0.9}" >> "$CORRAL_RUN_DIR/metrics.jsonl"\n',
    });
    expect(corral(["run", "-m"], { cwd: dir }).code).toBe(0);
    const bad = corral(["results", "--best", "los"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("no metric 'los' in this sweep: its metrics are loss, val_acc (parameters: x)");
    expect(bad.stderr).toContain("did you mean --best loss?");
    const good = corral(["results", "--best", "loss:min"], { cwd: dir });
    expect(good.code).toBe(0);
    expect(good.stdout).toContain("val_acc");
  });
});

describe("naming a run: index, full id or an id prefix of at least 4 characters", () => {
  it("a number is an index only; an ambiguous prefix is exit 2 listing the matches; a short one is refused", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c 'echo out-$0' \nconfig:\n  x: 0\nsweep:\n  x: range(24)\n" });
    expect(corral(["run", "-m"], { cwd: dir }).code).toBe(0);
    const sweep = sweepDirs(dir)[0]!;
    const file = path.join(sweep, "sweep.json");
    const m = readJson<SweepManifest>(file);

    expect(corral(["logs", "22"], { cwd: dir }).stdout).toContain("x=22");
    const none = corral(["logs", "99"], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("no run 99 in sweep");
    expect(none.stderr).toContain("it has 24 runs (0-23)");

    // A unique prefix of 4 characters names the run; 3 are too few.
    const id5 = m.runs[5]!.id;
    const unique = m.runs.filter((r) => r.id.startsWith(id5.slice(0, 4))).length === 1;
    if (unique) expect(corral(["logs", id5.slice(0, 4)], { cwd: dir }).stdout).toContain("x=5");
    const short = corral(["logs", "abc"], { cwd: dir });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("at least 4 characters");

    // Ids are content hashes: give two runs ids that share a prefix, as a big sweep would.
    m.runs[3]!.id = "beef0123456a";
    m.runs[7]!.id = "beef0123456b";
    writeFileSync(file, JSON.stringify(m));
    const amb = corral(["logs", "beef"], { cwd: dir });
    expect(amb.code).toBe(2);
    expect(amb.stderr).toContain("'beef' names 2 runs: run 3 (beef0123456a), run 7 (beef0123456b)");
    expect(corral(["logs", "beef0123456b"], { cwd: dir }).stdout).toContain("x=7");
  });
});

describe("corral config shows what a run gets", () => {
  const files = {
    "corral.yaml":
      "command: echo\nconfig:\n  epochs: 30\nlauncher:\n  type: local\n  kill_grace: 5\nprofiles:\n  debug:\n    overrides: [epochs=2]\n  cluster:\n    launcher: {type: slurm, partition: gpu, per_job: 4, parallel: 2}\n",
  };

  it("-P and +profile= apply the profile's overrides, with no stray profile key", () => {
    const dir = makeProject(files);
    const p = corral(["config", "-P", "debug", "--json"], { cwd: dir });
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual({ epochs: 2 });
    expect(JSON.parse(corral(["config", "+profile=debug", "--json"], { cwd: dir }).stdout)).toEqual({ epochs: 2 });
    // The same as the run gets.
    const run = JSON.parse(corral(["run", "-P", "debug", "--dry-run", "--json"], { cwd: dir }).stdout) as Array<{ config: unknown }>;
    expect(run[0]!.config).toEqual({ epochs: 2 });
    const unknown = corral(["config", "-P", "nope"], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("available profiles: debug, cluster");
  });

  it("--cfg all spells launcher settings as corral.yaml does", () => {
    const dir = makeProject(files);
    const local = corral(["config", "--cfg", "all", "-p", "launcher"], { cwd: dir });
    expect(local.code).toBe(0);
    expect(local.stdout).toContain("kill_grace: 5");
    expect(local.stdout).toMatch(/^jobs: \d+$/m);
    expect(local.stdout).not.toMatch(/killGraceS|heartbeat|parallel/);
    const slurm = JSON.parse(corral(["config", "--cfg", "all", "-P", "cluster", "-p", "launcher", "--json"], { cwd: dir }).stdout) as Record<string, unknown>;
    expect(slurm).toMatchObject({ type: "slurm", partition: "gpu", per_job: 4, parallel: 2, kill_grace: 5 });
    expect(Object.keys(slurm).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    const all = JSON.parse(corral(["config", "--cfg", "all", "-P", "debug", "--json"], { cwd: dir }).stdout) as { epochs: number; corral: { profile: string } };
    expect(all.epochs).toBe(2);
    expect(all.corral.profile).toBe("debug");
  });
});

describe("messages name the cause once, in the user's terms", () => {
  it("a missing program is named as the command spells it, also through taskset (no spawn helper)", () => {
    const dir = makeProject({ "corral.yaml": "command: pythn train.py\nresources:\n  cpus: 1\nconfig:\n  a: 1\n" });
    for (const env of [{}, { CORRAL_SPAWN_HELPER: "0" }]) {
      const r = corral(["run"], { cwd: dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("✗ run 0 failed: cannot start 'pythn': command not found on PATH\n");
      expect(r.stderr).toContain("  run 0: failed: cannot start 'pythn': command not found on PATH\n");
      expect(r.stderr).not.toMatch(/taskset|ENOENT|exit 127|\[\]/);
    }
    const st = corral(["status"], { cwd: dir });
    expect(st.stdout).toContain("(sweep, local, 1 run)");
  });

  it("a failing run's exit code is said once; a run without overrides shows no []", () => {
    const dir = makeProject({ "corral.yaml": "command: sh -c 'exit 3'\nconfig:\n  a: 1\n" });
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("✗ run 0 failed: exited with code 3\n");
    expect(r.stderr).toContain("  run 0: failed: exited with code 3\n");
    expect(r.stderr).not.toContain("(exit 3)");
    expect(r.stderr).not.toContain("[]");
  });

  it("a flow's failure lines carry no empty []", () => {
    const dir = makeProject({ "corral.yaml": "rules:\n  bad:\n    output: out.txt\n    shell: exit 4\n" });
    const r = corral(["flow", "out.txt"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exited with code 4");
    expect(r.stderr).not.toContain("[]");
    expect(r.stderr).not.toContain("(exit 4)");
  });

  it("a sweep_dir through a broken symbolic link says so, not 'point it at a writable folder'", () => {
    const dir = makeProject({ "corral.yaml": "command: 'true'\nsweep_dir: out/x\nconfig:\n  a: 1\n" });
    symlinkSync("/nonexistent-corral-target", path.join(dir, "out"));
    const r = corral(["run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(dir, "out")} is a symbolic link to /nonexistent-corral-target, which does not exist`);
    expect(r.stderr).toContain("create the link's target folder");
    expect(r.stderr).not.toContain("EEXIST");
  });
});

describe("corral init: the starter project", () => {
  it("prints a next step without 'cd .', logs val_acc, and its model group changes the runs", () => {
    const dir = makeProject({});
    const init = corral(["init"], { cwd: dir });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("next: corral run -m && corral results --best val_acc\n");
    expect(init.stdout).not.toContain("cd .");
    const sub = corral(["init", "my proj"], { cwd: dir });
    expect(sub.stdout).toContain("next: cd 'my proj' && corral run -m");

    const r = corral(["run", "-m", "model=small,large", "seed=0", "-j", "2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const best = corral(["results", "--best", "val_acc", "--format", "json"], { cwd: dir });
    expect(best.code).toBe(0);
    const rows = JSON.parse(best.stdout) as Array<{ model: string; lr: number; val_acc: number; loss: number }>;
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.val_acc).toBeGreaterThan(0);
    // The same lr with another model is another result.
    const byModel = (model: string): number[] => rows.filter((x) => x.model === model).sort((a, b) => a.lr - b.lr).map((x) => x.loss);
    expect(byModel("small")).not.toEqual(byModel("large"));
    expect(existsSync(path.join(dir, "conf/model/large.yaml"))).toBe(true);
  });
});
