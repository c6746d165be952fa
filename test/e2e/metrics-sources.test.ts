/**
 * `corral results` on a sweep whose runs log through TensorBoard, Lightning's CSVLogger and W&B
 * (offline), unchanged apps that never write metrics.jsonl; and `--over seed`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { corral, makeProject, ROOT, sweepDirs } from "../helpers.js";

const APP = path.join(ROOT, "test/fixtures/metrics/make_fixtures.py");
type Row = Record<string, number | string | null>;

describe("metrics from foreign loggers", () => {
  let dir: string;
  let rows: Row[];
  beforeAll(() => {
    dir = makeProject({ "corral.yaml": `command: python3 ${APP} --app\nconfig:\n  fmt: tensorboard\n  lr: 0.1\n  seed: 0\nlauncher:\n  jobs: 2\n` });
    const r = corral(["run", "-m", "fmt=tensorboard,lightning,wandb", "lr=0.1,0.2", "seed=0,1,2"], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).toContain("18 succeeded");
    rows = JSON.parse(corral(["results", "--format", "json"], { cwd: dir }).stdout) as Row[];
  }, 180_000);

  it("corral results shows each run's last values from the files its logger wrote", () => {
    const [sweep] = sweepDirs(dir);
    expect(rows).toHaveLength(18);
    const lossKey: Record<string, string> = { tensorboard: "loss", lightning: "train_loss", wandb: "loss" };
    for (const row of rows) {
      const out = JSON.parse(readFileSync(path.join(sweep!, String(row.run), "stdout.log"), "utf8").trim()) as { fmt: string; final_loss: number };
      expect(out.fmt).toBe(row.fmt);
      // float32 in TensorBoard event files
      expect(row[lossKey[out.fmt]!] as number, `run ${row.run}`).toBeCloseTo(out.final_loss, 5);
    }
    const byFmt = (f: string): Row[] => rows.filter((r) => r.fmt === f);
    expect(byFmt("tensorboard").every((r) => typeof r["val/loss"] === "number" && typeof r["val/acc"] === "number")).toBe(true);
    expect(byFmt("lightning").every((r) => typeof r.val_loss === "number" && typeof r.epoch === "number" && r.loss === undefined)).toBe(true);
    expect(byFmt("wandb").every((r) => typeof r["eval.acc"] === "number" && r._runtime === undefined)).toBe(true);
  });

  it("--best sorts by a metric only some runs (one logger) have", () => {
    const best = JSON.parse(corral(["results", "--best", "train_loss:min", "--format", "json"], { cwd: dir }).stdout) as Row[];
    expect(best.map((r) => r.fmt)).toEqual(Array(6).fill("lightning"));
    expect(best.map((r) => r.train_loss)).toEqual(best.map((r) => r.train_loss as number).sort((a, b) => a - b));
  });

  it("--over seed: one row per fmt x lr with n, mean, std, min and max of each metric over the seeds", () => {
    const g = corral(["results", "--over", "seed", "--format", "json"], { cwd: dir });
    expect(g.code, g.stderr).toBe(0);
    const groups = JSON.parse(g.stdout) as Row[];
    expect(groups).toHaveLength(6);
    for (const grp of groups) {
      expect(grp).not.toHaveProperty("seed");
      const members = rows.filter((r) => r.fmt === grp.fmt && r.lr === grp.lr);
      expect(grp.n).toBe(members.length);
      const key = grp.fmt === "lightning" ? "train_loss" : "loss";
      const xs = members.map((r) => r[key] as number);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
      expect(grp[`${key}_mean`]).toBeCloseTo(mean, 10);
      expect(grp[`${key}_std`]).toBeCloseTo(std, 10);
      expect(grp[`${key}_min`]).toBe(Math.min(...xs));
      expect(grp[`${key}_max`]).toBe(Math.max(...xs));
    }
    // train_loss exists for lightning runs only: the other groups have no value, not zero
    expect(groups.filter((r) => r.fmt !== "lightning").every((r) => r.train_loss_mean === null)).toBe(true);
  });

  it("--over twice (and comma lists) average over several parameters; the table shows mean ± std", () => {
    const g = JSON.parse(corral(["results", "--over", "seed", "--over", "lr", "--format", "json"], { cwd: dir }).stdout) as Row[];
    expect(g.map((r) => [r.fmt, r.n])).toEqual([["tensorboard", 6], ["lightning", 6], ["wandb", 6]]);
    expect(JSON.parse(corral(["results", "--over", "seed,lr", "--format", "json"], { cwd: dir }).stdout)).toEqual(g);
    const t = corral(["results", "--over", "seed"], { cwd: dir });
    expect(t.stdout.split("\n")[0]).toMatch(/^fmt\s+lr\s+n\s+.*loss \(mean ± std\)/);
    expect(t.stdout).toMatch(/\d ± \d/);
    const csv = corral(["results", "--over", "seed", "--format", "csv"], { cwd: dir }).stdout.split("\n");
    expect(csv[0]).toMatch(/^fmt,lr,n,/);
    expect(csv.filter(Boolean)).toHaveLength(7);
  });

  it("corral plot charts a metric only one logger wrote (Lightning's train_loss): one point per run that has it", () => {
    const r = corral(["plot", "--metric", "train_loss", "--param", "lr", "--agg", "min", "--out", "-"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/<circle class="pt"/g)).toHaveLength(rows.filter((x) => x.fmt === "lightning").length);
  });

  it("--over a parameter the sweep does not have: exit 2 naming it and the parameters there are", () => {
    const r = corral(["results", "--over", "sead"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--over sead");
    expect(r.stderr).toContain("fmt, lr, seed");
    expect(r.stderr).toContain("did you mean --over seed?");
    expect(r.stdout).toBe("");
  });
});
