/**
 * Decoders of the metric files other loggers write, for the few fields Corral reads: scalars of
 * TensorBoard event files, rows of PyTorch Lightning's CSVLogger `metrics.csv`, and history rows
 * of a W&B offline run's `.wandb` log. Each decoder takes bytes from a byte offset and returns
 * the rows of the complete records in them plus the offset after the last complete one, so a
 * caller reads a growing file by what was appended (a half-written record waits for the next
 * read). Pure functions over buffers: the file reading lives in metrics.ts.
 *
 * A hand-written protobuf wire reader rather than a library: three messages, a dozen fields,
 * no schema compilation, and the fixtures that test it are written by an independent encoder
 * (test/fixtures/metrics/make_fixtures.py).
 */
import type { MetricsLine } from "./protocol.js";

// ---------- protobuf wire format ----------

/** One field of a protobuf message: its number and its value (varint as number, bytes as a view). */
type Field = { no: number; wire: 0; v: number } | { no: number; wire: 1 | 5; at: number } | { no: number; wire: 2; bytes: Uint8Array };

/** The fields of one message (unknown wire types end the message: a damaged record yields what came before). */
export function protoFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new RangeError("truncated varint");
      const b = buf[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  try {
    while (i < buf.length) {
      const key = varint();
      const no = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) out.push({ no, wire, v: varint() });
      else if (wire === 1) {
        out.push({ no, wire, at: i });
        i += 8;
      } else if (wire === 5) {
        out.push({ no, wire, at: i });
        i += 4;
      } else if (wire === 2) {
        const n = varint();
        if (i + n > buf.length) break;
        out.push({ no, wire, bytes: buf.subarray(i, i + n) });
        i += n;
      } else break;
      if (i > buf.length) {
        out.pop();
        break;
      }
    }
  } catch {
    /* truncated: keep the fields read so far */
  }
  return out;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const f64 = (buf: Uint8Array, at: number): number => view(buf).getFloat64(at, true);
const f32 = (buf: Uint8Array, at: number): number => view(buf).getFloat32(at, true);
const utf8 = new TextDecoder();

// ---------- checksums ----------

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord frames use. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export const maskedCrc32c = (buf: Uint8Array): number => {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib's CRC-32, continuing from `seed` (as `zlib.crc32(data, seed)`). */
export function crc32(buf: Uint8Array, seed = 0): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC32_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

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
function tensorScalar(t: Uint8Array): number | undefined {
  let dtype = 0;
  let dims = 0;
  let content: Uint8Array | undefined;
  const floats: number[] = [];
  for (const f of protoFields(t)) {
    if (f.no === 1 && f.wire === 0) dtype = f.v;
    else if (f.no === 2 && f.wire === 2) {
      // TensorShapeProto.dim: a scalar has none (or only dims of size 1).
      for (const d of protoFields(f.bytes)) {
        if (d.no !== 2 || d.wire !== 2) continue;
        const size = protoFields(d.bytes).find((x) => x.no === 1 && x.wire === 0);
        if (size && size.wire === 0 && size.v !== 1) dims++;
      }
    } else if (f.no === 4 && f.wire === 2) content = f.bytes;
    else if (f.no === 5 && f.wire === 2) for (let k = 0; k + 4 <= f.bytes.length; k += 4) floats.push(f32(f.bytes, k));
    else if (f.no === 5 && f.wire === 5) floats.push(f32(t, f.at));
    else if (f.no === 6 && f.wire === 2) for (let k = 0; k + 8 <= f.bytes.length; k += 8) floats.push(f64(f.bytes, k));
    else if (f.no === 6 && f.wire === 1) floats.push(f64(t, f.at));
  }
  if (dims || (dtype !== DT_FLOAT && dtype !== DT_DOUBLE)) return undefined;
  if (content?.length === 4 && dtype === DT_FLOAT) return f32(content, 0);
  if (content?.length === 8 && dtype === DT_DOUBLE) return f64(content, 0);
  return floats.length === 1 ? floats[0] : undefined;
}

/** One `Event` message: its step, wall time and scalar values (`simple_value`, or a float scalar `tensor`). */
export function decodeEvent(ev: Uint8Array): MetricsLine | undefined {
  let step = 0;
  let wall: number | undefined;
  const values: Record<string, number> = {};
  let any = false;
  for (const f of protoFields(ev)) {
    if (f.no === 2 && f.wire === 0) step = f.v;
    else if (f.no === 1 && f.wire === 1) wall = f64(ev, f.at);
    else if (f.no === 5 && f.wire === 2) {
      // Summary.value (repeated Summary.Value)
      for (const v of protoFields(f.bytes)) {
        if (v.no !== 1 || v.wire !== 2) continue;
        let tag: string | undefined;
        let num: number | undefined;
        for (const x of protoFields(v.bytes)) {
          if (x.no === 1 && x.wire === 2) tag = utf8.decode(x.bytes);
          else if (x.no === 2 && x.wire === 5) num = f32(v.bytes, x.at);
          else if (x.no === 8 && x.wire === 2) num = tensorScalar(x.bytes) ?? num;
        }
        if (tag !== undefined && num !== undefined) {
          values[tag] = num;
          any = true;
        }
      }
    }
  }
  // The event's wall time (seconds since the epoch) as `wall_time`, TensorBoard's own name: charts against time read it.
  return any ? { step, ...(wall !== undefined ? { wall_time: wall } : {}), ...values } : undefined;
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
export function decodeWandbRecord(rec: Uint8Array): MetricsLine | undefined {
  const hist = protoFields(rec).find((f) => f.no === 2 && f.wire === 2);
  if (!hist || hist.wire !== 2) return undefined;
  const row: MetricsLine = {};
  let step: number | undefined;
  let wall: number | undefined;
  let any = false;
  for (const f of protoFields(hist.bytes)) {
    if (f.no === 2 && f.wire === 2) {
      const s = protoFields(f.bytes).find((x) => x.no === 1 && x.wire === 0);
      if (s && s.wire === 0) step = s.v;
      continue;
    }
    if (f.no !== 1 || f.wire !== 2) continue;
    let key = "";
    const nested: string[] = [];
    let json: string | undefined;
    for (const x of protoFields(f.bytes)) {
      if (x.wire !== 2) continue;
      if (x.no === 1) key = utf8.decode(x.bytes);
      else if (x.no === 2) nested.push(utf8.decode(x.bytes));
      else if (x.no === 16) json = utf8.decode(x.bytes);
    }
    const name = key || nested.join(".");
    if (!name || json === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(json);
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

/** Split one CSV line (RFC 4180 quoting, as Python's csv module writes). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** One data row of a metrics.csv under its header: empty cells are left out, numbers are numbers. */
export function csvRow(header: string[], line: string): MetricsLine | undefined {
  const cells = csvFields(line.replace(/\r$/, ""));
  const row: MetricsLine = {};
  let any = false;
  header.forEach((k, j) => {
    const c = cells[j];
    if (c === undefined || c === "") return;
    const n = Number(c);
    row[k] = c.trim() !== "" && !Number.isNaN(n) ? n : /^nan$/i.test(c) ? NaN : /^[-+]?inf$/i.test(c) ? (c.startsWith("-") ? -Infinity : Infinity) : c;
    any = true;
  });
  return any ? row : undefined;
}
