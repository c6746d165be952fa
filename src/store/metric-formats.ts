/**
 * Decoders of the metric files other loggers write, for the few fields Corral reads: scalars of
 * TensorBoard event files, rows of PyTorch Lightning's CSVLogger `metrics.csv`, and history rows
 * of a W&B offline run's `.wandb` log. Each decoder takes bytes from a byte offset and returns
 * the rows of the complete records in them plus the offset after the last complete one, so a
 * caller reads a growing file by what was appended (a half-written record waits for the next
 * read). Pure functions over buffers: the file reading lives in metrics.ts.
 *
 * The formats are read with libraries: protobufjs decodes the `Event`/`Summary`/`TensorProto`
 * and `Record`/`HistoryRecord` messages (from a descriptor of just the fields read, with their
 * numbers and types as tensorflow's and wandb's .proto files give them; every other field is
 * skipped), crc-32 checks the frames, csv-parse reads metrics.csv. The framing itself (TFRecord
 * frames, the LevelDB-style log blocks of a `.wandb` file) is a few lines here: no maintained
 * npm package reads either. The fixtures that test all this are written by an independent
 * encoder (test/fixtures/metrics/make_fixtures.py).
 */
import CRC32 from "crc-32";
import CRC32C from "crc-32/crc32c.js";
import { parse as parseCsv, CsvError } from "csv-parse/sync";
import { Root, type Message, type Type } from "protobufjs/light.js";
import type { MetricsLine } from "./protocol.js";

// ---------- protobuf messages ----------

/**
 * The messages read, as a protobufjs descriptor: tensorflow/core/framework/{event,summary,tensor,
 * tensor_shape,types}.proto and wandb/proto/wandb_internal.proto, trimmed to the fields Corral
 * reads (field numbers and types as there).
 */
const PROTOS = Root.fromJSON({
  nested: {
    tensorflow: {
      nested: {
        Event: {
          fields: { wall_time: { type: "double", id: 1 }, step: { type: "int64", id: 2 }, summary: { type: "Summary", id: 5 } },
        },
        Summary: {
          fields: { value: { rule: "repeated", type: "Value", id: 1 } },
          nested: {
            Value: {
              oneofs: { value: { oneof: ["simple_value", "tensor"] } },
              fields: { tag: { type: "string", id: 1 }, simple_value: { type: "float", id: 2 }, tensor: { type: "TensorProto", id: 8 } },
            },
          },
        },
        TensorProto: {
          fields: {
            dtype: { type: "DataType", id: 1 },
            tensor_shape: { type: "TensorShapeProto", id: 2 },
            tensor_content: { type: "bytes", id: 4 },
            float_val: { rule: "repeated", type: "float", id: 5, options: { packed: true } },
            double_val: { rule: "repeated", type: "double", id: 6, options: { packed: true } },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dim", id: 2 } },
          nested: { Dim: { fields: { size: { type: "int64", id: 1 } } } },
        },
        DataType: { values: { DT_INVALID: 0, DT_FLOAT: 1, DT_DOUBLE: 2 } },
      },
    },
    wandb_internal: {
      nested: {
        Record: { fields: { num: { type: "int64", id: 1 }, history: { type: "HistoryRecord", id: 2 } } },
        HistoryRecord: { fields: { item: { rule: "repeated", type: "HistoryItem", id: 1 }, step: { type: "HistoryStep", id: 2 } } },
        HistoryItem: { fields: { key: { type: "string", id: 1 }, nested_key: { rule: "repeated", type: "string", id: 2 }, value_json: { type: "string", id: 16 } } },
        HistoryStep: { fields: { num: { type: "int64", id: 1 } } },
      },
    },
  },
});
const EventType = PROTOS.lookupType("tensorflow.Event");
const WandbRecordType = PROTOS.lookupType("wandb_internal.Record");

/** An int64 as a number (protobufjs gives a Long where the `long` package is there): `longs: Number`. */
type Int64 = number | { toNumber(): number };
const int64 = (v: Int64): number => (typeof v === "number" ? v : v.toNumber());

interface TensorShape {
  dim: Array<{ size: Int64 }>;
}
interface Tensor {
  dtype: number;
  tensor_shape?: TensorShape;
  tensor_content?: Uint8Array;
  float_val: number[];
  double_val: number[];
}
interface SummaryValue {
  tag: string;
  value?: "simple_value" | "tensor";
  simple_value: number;
  tensor?: Tensor;
}
interface TfEvent {
  wall_time: number;
  step: Int64;
  summary?: { value: SummaryValue[] };
}
interface HistoryItem {
  key: string;
  nested_key: string[];
  value_json: string;
}
interface WandbRecord {
  history?: { item: HistoryItem[]; step?: { num: Int64 } };
}

/** A field set on the wire (protobufjs keeps defaults on the prototype, set fields on the message). */
const has = (m: object, field: string): boolean => Object.prototype.hasOwnProperty.call(m, field);

/** The message `bytes` hold, or undefined when they are not one (a damaged record is skipped). */
function decodeMessage<T>(type: Type, bytes: Uint8Array): T | undefined {
  try {
    return type.decode(bytes) as Message & T;
  } catch {
    return undefined;
  }
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const utf8 = new TextDecoder();

// ---------- checksums ----------

/** CRC-32C (Castagnoli), as TFRecord frames use. */
export const crc32c = (buf: Uint8Array): number => CRC32C.buf(buf) >>> 0;

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export const maskedCrc32c = (buf: Uint8Array): number => {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

/** zlib's CRC-32, continuing from `seed` (as `zlib.crc32(data, seed)`). */
export const crc32 = (buf: Uint8Array, seed = 0): number => CRC32.buf(buf, seed) >>> 0;

/** The rows decoded from bytes that start at a record boundary, and how many bytes they used. */
export interface Decoded {
  rows: MetricsLine[];
  /** Bytes consumed: the start of the first incomplete record. */
  used: number;
}

// ---------- TensorBoard event files ----------

// TensorProto's DataType values for the scalars read (types.proto).
const DT_FLOAT = 1;
const DT_DOUBLE = 2;

/** The number a `tensor` summary value holds when it is a float or double scalar. */
function tensorScalar(t: Tensor): number | undefined {
  if (t.dtype !== DT_FLOAT && t.dtype !== DT_DOUBLE) return undefined;
  // A scalar's shape has no dims (or only dims of size 1).
  if (t.tensor_shape?.dim.some((d) => has(d, "size") && int64(d.size) !== 1)) return undefined;
  const content = t.tensor_content;
  if (content?.length === 4 && t.dtype === DT_FLOAT) return view(content).getFloat32(0, true);
  if (content?.length === 8 && t.dtype === DT_DOUBLE) return view(content).getFloat64(0, true);
  const vals = [...t.float_val, ...t.double_val];
  return vals.length === 1 ? vals[0] : undefined;
}

/** One `Event` message: its step, wall time and scalar values (`simple_value`, or a float scalar `tensor`). */
export function decodeEvent(bytes: Uint8Array): MetricsLine | undefined {
  const ev = decodeMessage<TfEvent>(EventType, bytes);
  if (!ev?.summary) return undefined;
  const values: Record<string, number> = {};
  let any = false;
  for (const v of ev.summary.value) {
    if (!has(v, "tag")) continue;
    const num = v.value === "simple_value" ? v.simple_value : v.value === "tensor" && v.tensor ? tensorScalar(v.tensor) : undefined;
    if (num === undefined) continue;
    values[v.tag] = num;
    any = true;
  }
  if (!any) return undefined;
  // The event's wall time (seconds since the epoch) as `wall_time`, TensorBoard's own name: charts against time read it.
  return { step: int64(ev.step), ...(has(ev, "wall_time") ? { wall_time: ev.wall_time } : {}), ...values };
}

/**
 * TFRecord frames (uint64 length, masked CRC-32C of the length, data, masked CRC-32C of the
 * data) of `Event`s; events without scalars are skipped. A frame whose length checksum is wrong
 * ends the read (the rest of the file cannot be framed); one whose data checksum is wrong is
 * skipped.
 */
export function decodeTfRecords(buf: Uint8Array): Decoded {
  const rows: MetricsLine[] = [];
  const dv = view(buf);
  let i = 0;
  while (i + 12 <= buf.length) {
    const lenLo = dv.getUint32(i, true);
    const lenHi = dv.getUint32(i + 4, true);
    if (dv.getUint32(i + 8, true) !== maskedCrc32c(buf.subarray(i, i + 8))) return { rows, used: buf.length };
    if (lenHi !== 0) return { rows, used: buf.length };
    const end = i + 12 + lenLo + 4;
    if (end > buf.length) break;
    const data = buf.subarray(i + 12, i + 12 + lenLo);
    if (dv.getUint32(i + 12 + lenLo, true) === maskedCrc32c(data)) {
      const row = decodeEvent(data);
      if (row) rows.push(row);
    }
    i = end;
  }
  return { rows, used: i };
}

// ---------- W&B offline runs ----------

const WB_HEADER = 7;
const WB_BLOCK = 32768;
const WB_FULL = 1;
const WB_FIRST = 2;
const WB_MIDDLE = 3;
const WB_LAST = 4;
const WB_TYPE_SEED = [0, 1, 2, 3, 4].map((t) => crc32(Uint8Array.of(t)));

/** A `.wandb` file starts with ":W&B", magic 0xBEE1, version 0. */
export const isWandbHeader = (buf: Uint8Array): boolean =>
  buf.length >= WB_HEADER && utf8.decode(buf.subarray(0, 4)) === ":W&B" && view(buf).getUint16(4, true) === 0xbee1 && buf[6] === 0;

/** One wandb `Record`: a history row (`_step` as `step`, `_timestamp` as `wall_time`; other keys starting with `_` are wandb's own), or undefined. */
export function decodeWandbRecord(bytes: Uint8Array): MetricsLine | undefined {
  const hist = decodeMessage<WandbRecord>(WandbRecordType, bytes)?.history;
  if (!hist) return undefined;
  const row: MetricsLine = {};
  let step = hist.step && has(hist.step, "num") ? int64(hist.step.num) : undefined;
  let wall: number | undefined;
  let any = false;
  for (const item of hist.item) {
    const name = item.key || item.nested_key.join(".");
    if (!name || !has(item, "value_json")) continue;
    let value: unknown;
    try {
      value = JSON.parse(item.value_json);
    } catch {
      continue;
    }
    if (name === "_step" && typeof value === "number") step = value;
    if (name === "_timestamp" && typeof value === "number") wall = value;
    if (name.startsWith("_")) continue;
    // Scalars only: images, tables and histograms are objects.
    if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
      row[name] = value;
      any = true;
    }
  }
  if (!any) return undefined;
  // wandb's `_timestamp` (seconds since the epoch) as `wall_time`, the time key charts read.
  if (wall !== undefined) row.wall_time = wall;
  return step === undefined ? row : { step, ...row };
}

/**
 * The LevelDB-style log of a `.wandb` file from `start` (a record boundary, after the 7-byte
 * file header): 32 KiB blocks of records (CRC-32 of type and data, uint16 length, type FULL,
 * FIRST, MIDDLE or LAST), zero padding where fewer than 7 bytes are left in a block. `buf`
 * holds the file's bytes from `start`. Records with a wrong checksum are skipped.
 */
export function decodeWandbLog(buf: Uint8Array, start: number): Decoded {
  const rows: MetricsLine[] = [];
  const dv = view(buf);
  let i = 0;
  let used = 0;
  let parts: Uint8Array[] | undefined;
  let broken = false;
  while (i < buf.length) {
    const left = WB_BLOCK - ((start + i) % WB_BLOCK);
    if (left < WB_HEADER) {
      if (i + left > buf.length) break;
      i += left;
      if (!parts) used = i;
      continue;
    }
    if (i + WB_HEADER > buf.length) break;
    const sum = dv.getUint32(i, true);
    const len = dv.getUint16(i + 4, true);
    const type = buf[i + 6]!;
    if (type === 0 && len === 0 && sum === 0) {
      // Zeros where a record would start: the writer's pre-allocated tail, nothing more yet.
      break;
    }
    if (i + WB_HEADER + len > buf.length) break;
    const data = buf.subarray(i + WB_HEADER, i + WB_HEADER + len);
    const ok = type >= WB_FULL && type <= WB_LAST && crc32(data, WB_TYPE_SEED[type]) === sum;
    i += WB_HEADER + len;
    if (!ok) {
      parts = undefined;
      used = i;
      continue;
    }
    if (type === WB_FULL) {
      const row = decodeWandbRecord(data);
      if (row) rows.push(row);
      parts = undefined;
      used = i;
    } else if (type === WB_FIRST) {
      parts = [data];
      broken = false;
    } else if (parts && !broken) {
      parts.push(data);
      if (type === WB_LAST) {
        const row = decodeWandbRecord(Buffer.concat(parts));
        if (row) rows.push(row);
        parts = undefined;
        used = i;
      } else if (type !== WB_MIDDLE) broken = true;
    } else {
      used = i;
    }
  }
  return { rows, used };
}

// ---------- Lightning CSVLogger ----------

/** A metrics.csv cell: a number where it is one (`nan` and `inf` as Python writes them), else its text. */
function csvValue(c: string): number | string {
  const n = Number(c);
  if (c.trim() !== "" && !Number.isNaN(n)) return n;
  if (/^nan$/i.test(c)) return NaN;
  if (/^[-+]?inf$/i.test(c)) return c.startsWith("-") ? -Infinity : Infinity;
  return c;
}

/** One data row of a metrics.csv under its header: empty cells are left out, numbers are numbers. */
function csvRow(columns: readonly string[], cells: readonly string[]): MetricsLine | undefined {
  const row: MetricsLine = {};
  let any = false;
  columns.forEach((k, j) => {
    const c = cells[j];
    if (c === undefined || c === "") return;
    row[k] = csvValue(c);
    any = true;
  });
  return any ? row : undefined;
}

/** The rows of a metrics.csv's bytes, and its header when the bytes start the file. */
export interface DecodedCsv extends Decoded {
  /** The first record, when no columns were given: the column names and the record's text as in the file. */
  header?: { columns: string[]; text: string };
}

/**
 * Rows of a metrics.csv (RFC 4180, as Python's csv module writes it) from a record boundary,
 * under `columns`, or under the first record when no columns are given (the bytes start the
 * file; `header` then has it). Only complete records count: bytes after the last newline wait
 * for the next read, and so does a record whose quoted field is still open at the end (a quoted
 * newline is data; csv-parse reports the open quote and the records before it stand).
 */
export function decodeCsv(buf: Buffer, columns?: readonly string[], opts: { headerOnly?: boolean } = {}): DecodedCsv {
  const rows: MetricsLine[] = [];
  let used = 0;
  let header: DecodedCsv["header"];
  let cols = columns;
  try {
    parseCsv(buf.subarray(0, buf.lastIndexOf(10) + 1), {
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      ...(opts.headerOnly ? { to: 1 } : {}),
      on_record: (cells: string[], info) => {
        if (!cols) {
          cols = cells;
          header = { columns: cells, text: buf.toString("utf8", 0, info.bytes) };
        } else {
          const row = csvRow(cols, cells);
          if (row) rows.push(row);
        }
        // info.bytes: where this record (and its line break) ends in the input.
        used = info.bytes;
        return null;
      },
    });
  } catch (e) {
    // An open quote at the end: a record still being written. (With relaxed quoting and column
    // counts nothing else is an error.)
    if (!(e instanceof CsvError)) throw e;
  }
  return { rows, used, ...(header ? { header } : {}) };
}
