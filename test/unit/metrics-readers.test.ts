import { appendFileSync, cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { crc32, crc32c, decodeCsv, decodeTfRecords, decodeWandbLog, decodeWandbRecord, maskedCrc32c } from "../../src/store/metric-formats.js";
import { findMetricSources, MinMaxSeries, readRunMetrics, RunMetrics } from "../../src/store/metrics.js";

const FIX = path.resolve(import.meta.dirname, "../fixtures/metrics");
const tmps: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), "corral-metrics-"));
  tmps.push(d);
  return d;
};
afterEach(() => {
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
});
const pyAvailable = (() => {
  try {
    execFileSync("python3", ["-c", "import zlib"]);
    return true;
  } catch {
    return false;
  }
})();

describe("checksums", () => {
  it("CRC-32C and CRC-32 give the standard check values; the TFRecord mask is TensorFlow's", () => {
    const nine = new TextEncoder().encode("123456789");
    expect(crc32c(nine)).toBe(0xe3069283);
    expect(crc32(nine)).toBe(0xcbf43926);
    // continuing from a seed, as wandb's zlib.crc32(data, crc_of_type) does
    expect(crc32(nine.subarray(4), crc32(nine.subarray(0, 4)))).toBe(0xcbf43926);
    const c = crc32c(nine);
    expect(maskedCrc32c(nine)).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });

  it.runIf(pyAvailable)("agree with python3's zlib.crc32 on random data", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256));
    const py = execFileSync("python3", ["-c", "import sys,zlib; print(zlib.crc32(sys.stdin.buffer.read()))"], { input: data, encoding: "utf8" });
    expect(crc32(data)).toBe(Number(py.trim()));
  });
});

describe("TensorBoard event files", () => {
  it("reads simple_value scalars, float tensor scalars (tensor_content and float_val), skips non-scalar tensors", () => {
    const m = new RunMetrics(path.join(FIX, "tensorboard"), { series: true });
    m.update();
    expect(m.sources().map((s) => s.kind)).toEqual(["tensorboard"]);
    // Each event's wall time is the series `wall_time` (the fixture's events are 1 s apart from
    // 1700000000): the time axis of charts, not a result (the app did not log it).
    expect(m.last()).toEqual({ step: 40, loss: 0.25, acc: 0.9375, "val/loss": 0.5, "val/acc": 0.5 });
    expect(m.series().series.loss).toEqual([[0, 2], [10, 1], [20, 0.5], [30, 0.25]]);
    // make_fixtures.py: step 10*i logged (loss, then acc) at 1700000000 + i.
    expect(m.series().series.wall_time?.slice(0, 4)).toEqual([[0, 1700000000], [0, 1700000000], [10, 1700000001], [10, 1700000001]]);
    expect(m.series().series).not.toHaveProperty("weights");
  });

  it("a record cut in the middle waits for the rest; a damaged data checksum skips that record only", () => {
    const file = findMetricSources(path.join(FIX, "tensorboard"))[0]!.file;
    const bytes = readFileSync(file);
    const all = decodeTfRecords(bytes);
    const at = bytes.indexOf("val/acc");
    const cut = decodeTfRecords(bytes.subarray(0, at + 3));
    expect(cut.rows.length).toBe(all.rows.length - 1);
    expect(cut.used).toBeLessThan(at);
    // The rest arrives: the record is read from where the first read stopped.
    expect(decodeTfRecords(bytes.subarray(cut.used)).rows[0]).toEqual({ step: 40, wall_time: 1700000099, "val/acc": 0.5 });
    const bad = Buffer.from(bytes);
    bad[at]! ^= 0xff;
    const rows = decodeTfRecords(bad).rows;
    expect(rows.length).toBe(all.rows.length - 1);
    expect(rows.at(-1)).toEqual({ step: 40, wall_time: 1700000099, "val/loss": 0.5 });
  });

  it("an int64 step past 2^32 is a number; an event without wall_time has none; a record that is no Event is skipped, not fatal", () => {
    // TFRecord frame around hand-written Event bytes.
    const frame = (data: number[]): Buffer => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(data.length, 0);
      const sum = (b: Uint8Array): Buffer => {
        const s = Buffer.alloc(4);
        s.writeUInt32LE(maskedCrc32c(b), 0);
        return s;
      };
      return Buffer.concat([head, sum(head), Buffer.from(data), sum(Buffer.from(data))]);
    };
    // Event{step=2^40 (varint 80 80 80 80 80 20), summary{value{tag "x", simple_value 1.5f}}}
    const big = [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 0x78, 0x15, 0x00, 0x00, 0xc0, 0x3f];
    // summary claims 5 bytes, 1 follows: not a message
    const broken = [0x2a, 0x05, 0x0a];
    // an unknown field (no. 99, varint) before the step is skipped
    const unknown = [0x98, 0x06, 0x07, 0x10, 0x03, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 0x79, 0x15, 0x00, 0x00, 0x00, 0x40];
    const got = decodeTfRecords(Buffer.concat([frame(big), frame(broken), frame(unknown)]));
    expect(got.rows).toEqual([{ step: 2 ** 40, x: 1.5 }, { step: 3, y: 2 }]);
    expect(got.rows[0]).not.toHaveProperty("wall_time");
  });
});

describe("Lightning CSVLogger", () => {
  it("reads sparse rows under the header, empty cells left out", () => {
    const m = new RunMetrics(path.join(FIX, "lightning"), { series: true });
    m.update();
    expect(m.sources().map((s) => s.kind)).toEqual(["lightning"]);
    expect(m.last()).toEqual({ epoch: 3, step: 39, train_loss: 0.25, val_loss: 0.75 });
    expect(m.series().series.val_loss).toEqual([[9, 2.5], [19, 1.5], [29, 1], [39, 0.75]]);
  });

  it("a file rewritten with a new column (as CSVLogger does) is read again from the start", () => {
    const dir = tmp();
    const csv = path.join(dir, "lightning_logs", "version_0", "metrics.csv");
    mkdirSync(path.dirname(csv), { recursive: true });
    writeFileSync(csv, "epoch,step,loss\n0,9,2.0\n");
    const m = new RunMetrics(dir, { series: true });
    m.update();
    writeFileSync(csv, "epoch,step,loss,val_acc\n0,9,2.0,\n0,9,,0.5\n1,19,1.0,\n");
    expect(m.update()).toBe(true);
    expect(m.last()).toEqual({ epoch: 1, step: 19, loss: 1, val_acc: 0.5 });
    expect(m.series().series.loss).toEqual([[9, 2], [19, 1]]);
  });

  for (const eol of ["\n", "\r\n"]) {
    it(`quoted names and a quoted cell with a comma, a quote and a newline, arriving in two appends (${JSON.stringify(eol)} line ends)`, () => {
      const dir = tmp();
      const csv = path.join(dir, "lightning_logs", "version_0", "metrics.csv");
      mkdirSync(path.dirname(csv), { recursive: true });
      // As Python's csv module writes them: names with a comma and a quote; the newline inside
      // quotes is "\n" whatever the line ends.
      const first = `step,"val,loss","note ""λ"""${eol}0,1.5,"first, li\n`;
      writeFileSync(csv, first);
      const m = new RunMetrics(dir, { series: true });
      m.update();
      // The record is cut inside its quoted field, after a newline: it waits.
      expect(m.last()).toEqual({});
      const rest = `ne ""two""",${eol}1,0.5,${eol}`;
      appendFileSync(csv, rest);
      expect(m.update()).toBe(true);
      expect(m.last()).toEqual({ step: 1, "val,loss": 0.5, 'note "λ"': 'first, li\nne "two"' });
      expect(m.series().series["val,loss"]).toEqual([[0, 1.5], [1, 0.5]]);
      // What the first read used: the header record, in bytes (λ is two).
      const header = `step,"val,loss","note ""λ"""${eol}`;
      expect(decodeCsv(Buffer.from(first))).toEqual({ rows: [], used: Buffer.byteLength(header), header: { columns: ["step", "val,loss", 'note "λ"'], text: header } });
      expect(m.update()).toBe(false);
    });
  }

  it("numbers are numbers, nan and inf as Python writes them, other text stays text, empty cells are left out", () => {
    const dir = tmp();
    const csv = path.join(dir, "lightning_logs", "version_0", "metrics.csv");
    mkdirSync(path.dirname(csv), { recursive: true });
    writeFileSync(csv, "a,b,c,d,e,f\n1e-3,nan,-inf,inf,ok,\n");
    const m = new RunMetrics(dir);
    m.update();
    expect(m.last()).toEqual({ a: 0.001, b: NaN, c: -Infinity, d: Infinity, e: "ok" });
  });
});

describe("W&B offline runs", () => {
  it("an old wandb-history.jsonl: _step as step, _timestamp as wall_time, wandb's other _keys left out", () => {
    const d = tmp();
    mkdirSync(path.join(d, "wandb", "offline-run-1", "files"), { recursive: true });
    writeFileSync(path.join(d, "wandb", "offline-run-1", "files", "wandb-history.jsonl"), ['{"_step": 0, "_timestamp": 1700000000.25, "_runtime": 1, "loss": 2}', '{"_step": 1, "_timestamp": 1700000002.5, "_runtime": 3, "loss": 1}', ""].join("\n"));
    const m = new RunMetrics(d, { series: true });
    m.update();
    expect(m.last()).toEqual({ step: 1, loss: 1 });
    expect(m.series().series.wall_time).toEqual([[0, 1700000000.25], [1, 1700000002.5]]);
  });
  it("reads history rows of run-*.wandb: _step as step, wandb's own _keys and non-scalars left out, nested keys dotted, records across blocks joined", () => {
    const m = new RunMetrics(path.join(FIX, "wandb-offline"), { series: true });
    m.update();
    expect(m.sources().map((s) => s.kind)).toEqual(["wandb"]);
    // `_timestamp` is the series `wall_time` (not a result); `_runtime` and the other wandb keys stay out.
    expect(m.last()).toEqual({ step: 3, loss: 0.25, "eval.acc": 0.9375 });
    expect(m.series().series.loss).toEqual([[0, 2], [1, 1], [2, 0.5], [3, 0.25]]);
    expect(m.series().series.wall_time?.at(-1)).toEqual([3, 1700000003.5]);
  });
  it("a wall_time the app logs itself in metrics.jsonl stays a result, beside a foreign logger's clock", () => {
    const d = tmp();
    mkdirSync(path.join(d, "wandb", "offline-run-1", "files"), { recursive: true });
    writeFileSync(path.join(d, "wandb", "offline-run-1", "files", "wandb-history.jsonl"), '{"_step": 0, "_timestamp": 1700000000.25, "acc": 0.5}\n');
    writeFileSync(path.join(d, "metrics.jsonl"), '{"step": 0, "loss": 1, "wall_time": 12.5}\n');
    const m = new RunMetrics(d);
    m.update();
    expect(m.last()).toEqual({ step: 0, acc: 0.5, loss: 1, wall_time: 12.5 });
  });
  it("a wall_time column of Lightning's metrics.csv is the app's own: a result", () => {
    const d = tmp();
    mkdirSync(path.join(d, "lightning_logs", "version_0"), { recursive: true });
    writeFileSync(path.join(d, "lightning_logs", "version_0", "metrics.csv"), "epoch,step,loss,wall_time\n0,9,0.5,3.25\n");
    const m = new RunMetrics(d);
    m.update();
    expect(m.sources().map((x) => x.kind)).toEqual(["lightning"]);
    expect(m.last()).toEqual({ epoch: 0, step: 9, loss: 0.5, wall_time: 3.25 });
  });

  it("a record that is not a wandb Record is skipped, not fatal", () => {
    // Record.history claims 9 bytes, 1 follows
    expect(decodeWandbRecord(Uint8Array.of(0x12, 0x09, 0x0a))).toBeUndefined();
    // Record{num=1, history{item{key "a", value_json "2"}, step{num=7}}}, with an unknown field 200 (wandb's _info) skipped
    const rec = [0x08, 0x01, 0x12, 0x0d, 0x0a, 0x07, 0x0a, 0x01, 0x61, 0x82, 0x01, 0x01, 0x32, 0x12, 0x02, 0x08, 0x07, 0xc2, 0x0c, 0x00];
    expect(decodeWandbRecord(Uint8Array.from(rec))).toEqual({ step: 7, a: 2 });
  });

  it("a log read in pieces of any size gives the same rows", () => {
    const file = findMetricSources(path.join(FIX, "wandb-offline"))[0]!.file;
    const bytes = readFileSync(file);
    const whole = decodeWandbLog(bytes.subarray(7), 7).rows;
    expect(whole.length).toBe(4);
    for (const chunk of [100, 4096, 40_000]) {
      const dir = tmp();
      const dest = path.join(dir, "wandb", "offline-run-x", "run-x.wandb");
      mkdirSync(path.dirname(dest), { recursive: true });
      const m = new RunMetrics(dir, { series: true, chunkBytes: chunk });
      // The file grows by `chunk` bytes at a time, as a writer appends.
      for (let n = Math.min(chunk, bytes.length); ; n = Math.min(n + chunk, bytes.length)) {
        writeFileSync(dest, bytes.subarray(0, n));
        m.update();
        if (n === bytes.length) break;
      }
      expect(m.series().series.loss, `chunk ${chunk}`).toEqual([[0, 2], [1, 1], [2, 0.5], [3, 0.25]]);
    }
  });
});

describe("metrics.jsonl and the reader", () => {
  it("reads only what was appended; a half-written line waits; truncation starts over", () => {
    const dir = tmp();
    const f = path.join(dir, "metrics.jsonl");
    writeFileSync(f, '{"step": 0, "loss": 2}\n{"step": 1, "lo');
    const m = new RunMetrics(dir, { series: true });
    m.update();
    expect(m.last()).toEqual({ step: 0, loss: 2 });
    const before = m.bytesRead;
    appendFileSync(f, 'ss": 1}\n');
    expect(m.update()).toBe(true);
    expect(m.last()).toEqual({ step: 1, loss: 1 });
    // Only the second line was read again, not the first.
    expect(m.bytesRead - before).toBe('{"step": 1, "loss": 1}\n'.length);
    expect(m.update()).toBe(false);
    truncateSync(f, 0);
    writeFileSync(f, '{"step": 0, "acc": 0.5}\n');
    m.update();
    expect(m.series().series).toEqual({ acc: [[0, 0.5]] });
  });

  it("a complete last line without its newline counts; lines longer than a chunk are read whole", () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "metrics.jsonl"), `{"note": "${"x".repeat(300)}", "a": 1}\n{"a": 2}`);
    expect(readRunMetrics(dir, { chunkBytes: 64 })).toEqual({ note: "x".repeat(300), a: 2 });
  });

  it("finds every logger's files in one run folder; the run's own metrics.jsonl wins on a shared key", () => {
    const dir = tmp();
    for (const d of ["tensorboard", "lightning", "wandb-offline"]) cpSync(path.join(FIX, d), dir, { recursive: true });
    writeFileSync(path.join(dir, "metrics.jsonl"), '{"loss": 9}\n');
    expect(findMetricSources(dir).map((s) => s.kind)).toEqual(["lightning", "tensorboard", "wandb", "jsonl"]);
    const last = readRunMetrics(dir);
    expect(last).toMatchObject({ loss: 9, train_loss: 0.25, "eval.acc": 0.9375, "val/acc": 0.5 });
  });

  it.runIf(pyAvailable)("the fixture generator writes the committed fixtures byte for byte", () => {
    const out = tmp();
    execFileSync("python3", [path.join(FIX, "make_fixtures.py"), out]);
    for (const s of ["tensorboard", "lightning", "wandb-offline"].flatMap((d) => findMetricSources(path.join(FIX, d)).filter((x) => x.kind !== "jsonl"))) {
      const rel = path.relative(FIX, s.file);
      expect(readFileSync(path.join(out, rel)).equals(readFileSync(s.file)), rel).toBe(true);
    }
  });
});

describe("downsampling", () => {
  it("keeps O(target) points, the first and last, and every extreme (a spike survives)", () => {
    const s = new MinMaxSeries(50);
    const n = 100_000;
    for (let i = 0; i < n; i++) s.add(i, i === 77_777 ? 1000 : i === 12_345 ? -1000 : Math.sin(i / 1000));
    const pts = s.points();
    expect(pts.length).toBeLessThanOrEqual(4 * 100);
    expect(pts[0]).toEqual([0, 0]);
    expect(pts.at(-1)![0]).toBe(n - 1);
    expect(pts).toContainEqual([77_777, 1000]);
    expect(pts).toContainEqual([12_345, -1000]);
    // x stays in order
    expect(pts.every((p, i) => i === 0 || p[0] >= pts[i - 1]![0])).toBe(true);
  });

  it("few points come back unchanged", () => {
    const s = new MinMaxSeries(50);
    for (let i = 0; i < 30; i++) s.add(i, i * i);
    expect(s.points()).toEqual(Array.from({ length: 30 }, (_, i) => [i, i * i]));
  });
});
