/**
 * `corral results --format csv` is CSV that a CSV reader reads back (csv-parse here): a metric
 * name, a parameter value and a metric value holding a comma, a quote and a newline come back as
 * written, in the runs table, the `--over` table and the `--importance` table.
 */
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { corral, makeProject } from "../helpers.js";

const METRIC = 'acc, "val"\nx';
const TEXT = 'a,"b"\nc';

// The app logs METRIC (2 x lr) and a text metric, as JSON lines.
const APP = `import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
const dir = process.env.CORRAL_RUN_DIR;
const lr = Number(/^lr: (.*)$/m.exec(readFileSync(path.join(dir, "config.yaml"), "utf8"))[1]);
appendFileSync(path.join(dir, "metrics.jsonl"), JSON.stringify({ ${JSON.stringify(METRIC)}: lr * 2, tag: ${JSON.stringify(TEXT)} }) + "\\n");
`;

describe("corral results --format csv", () => {
  it("names and values with a comma, a quote and a newline round-trip through a CSV reader (runs, --over, --importance)", () => {
    const dir = makeProject({
      "corral.yaml": `command: node app.mjs\nconfig: {lr: 0.1, note: a}\nsweep:\n  lr: [0.1, 0.2]\n  note: ['x, "y"', "p\\nq"]\n`,
      "app.mjs": APP,
    });
    const run = corral(["run", "-m"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);

    const runs = corral(["results", "--format", "csv"], { cwd: dir });
    expect(runs.code, runs.stderr).toBe(0);
    expect(parse(runs.stdout)).toEqual([
      ["run", "lr", "note", "state", METRIC, "tag"],
      ["0", "0.1", 'x, "y"', "succeeded", "0.2", TEXT],
      ["1", "0.1", "p\nq", "succeeded", "0.2", TEXT],
      ["2", "0.2", 'x, "y"', "succeeded", "0.4", TEXT],
      ["3", "0.2", "p\nq", "succeeded", "0.4", TEXT],
    ]);

    const over = corral(["results", "--over", "lr", "--format", "csv"], { cwd: dir });
    expect(over.code, over.stderr).toBe(0);
    const grouped = parse(over.stdout);
    expect(grouped[0]).toEqual(["note", "n", `${METRIC}_mean`, `${METRIC}_std`, `${METRIC}_min`, `${METRIC}_max`]);
    expect(grouped.slice(1).map((r) => [r[0], r[1], r[4], r[5]])).toEqual([
      ['x, "y"', "2", "0.2", "0.4"],
      ["p\nq", "2", "0.2", "0.4"],
    ]);

    const imp = corral(["results", "--importance", METRIC, "--format", "csv"], { cwd: dir });
    expect(imp.code, imp.stderr).toBe(0);
    // METRIC depends on lr only.
    expect(parse(imp.stdout)).toEqual([
      ["param", "importance", "explained", "levels"],
      ["lr", "1", "1", "2"],
      ["note", "0", "0", "2"],
    ]);
  });
});
