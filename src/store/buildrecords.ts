/**
 * What `corral flow` remembers between runs, under `<project>/.corral/flow/`:
 *
 * - **Build records** (`records/*.json`): for each output of a successful job, the hashes of the
 *   command, params and rule that made it (see plan/uptodate.ts). They are stored as *segments*:
 *   each flow head writes one small JSON file per poll round holding the records of the jobs that
 *   finished in that round (written whole and renamed into place, one writer per file, so nothing
 *   is appended over NFS). A reader merges the segments in name order (names start with a
 *   zero-padded timestamp, so later segments win). When there are more than
 *   {@link COMPACT_THRESHOLD} segments, the reader folds them into one, so a project never pays
 *   for thousands of files and a 100k-output read is one JSON parse of a few MB.
 * - **Incomplete marks** (`incomplete/<hash of job key>.json`): written before a job starts and
 *   removed when it has finished and been checked (or failed and been cleaned up). A mark left
 *   behind means the process supervising the job died with it, so its outputs may be partial.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import path from "node:path";
import type { BuildRecord } from "../plan/uptodate.js";
import { writeFileAtomicSync } from "./fsutil.js";
import { FLOW_STATE_DIR } from "./layout.js";

/** Folder of the flow state, relative to the project folder. */
export { FLOW_STATE_DIR };
/** More segments than this are merged into one on read. */
export const COMPACT_THRESHOLD = 16;

interface Segment {
  type: "build-records";
  version: 1;
  records: Record<string, BuildRecord>;
}

/** One incomplete mark: the outputs a job was writing when it started. */
export interface IncompleteMark {
  jobKey: string;
  outputs: string[];
  /** The sweep folder of the flow that started the job. */
  sweep: string;
  since: number;
}

const recordsDir = (projectDir: string): string => path.join(projectDir, FLOW_STATE_DIR, "records");
const marksDir = (projectDir: string): string => path.join(projectDir, FLOW_STATE_DIR, "incomplete");

let seq = 0;
const segmentName = (now: number): string =>
  `${String(now).padStart(15, "0")}-${process.pid}-${(seq++).toString(36).padStart(4, "0")}.json`;

function listSegments(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".json") && !f.startsWith("."))
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

function readSegment(file: string): Record<string, BuildRecord> {
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as Segment;
    return s && s.type === "build-records" && s.records && typeof s.records === "object" ? s.records : {};
  } catch {
    // Removed by a concurrent compaction (its content is in the merged file), or unreadable.
    return {};
  }
}

/**
 * Write the records of some finished jobs as one new segment (output path -> record). A no-op
 * for an empty list.
 */
export function writeBuildRecords(projectDir: string, records: ReadonlyArray<readonly [string, BuildRecord]>, now = Date.now()): void {
  if (records.length === 0) return;
  const dir = recordsDir(projectDir);
  mkdirSync(dir, { recursive: true });
  const seg: Segment = { type: "build-records", version: 1, records: Object.fromEntries(records) };
  writeFileAtomicSync(path.join(dir, segmentName(now)), JSON.stringify(seg));
}

/**
 * All build records of the project, later segments winning. Compacts the segments into one when
 * there are more than `compactAbove` of them (pass Infinity to never write).
 */
export function readBuildRecords(projectDir: string, compactAbove = COMPACT_THRESHOLD): Map<string, BuildRecord> {
  const dir = recordsDir(projectDir);
  const names = listSegments(dir);
  const out = new Map<string, BuildRecord>();
  for (const n of names) {
    const recs = readSegment(path.join(dir, n));
    for (const k in recs) out.set(k, recs[k]!);
  }
  if (names.length > compactAbove) compact(dir, names, out);
  return out;
}

/** Merge all segments into one (for the end of a flow, or when there are many). */
export function compactBuildRecords(projectDir: string): void {
  readBuildRecords(projectDir, 1);
}

function compact(dir: string, names: string[], merged: Map<string, BuildRecord>): void {
  // The merged file sorts right after the newest segment it replaces, so segments written
  // meanwhile by another flow (newer names) still win over it.
  const last = names[names.length - 1]!;
  const target = path.join(dir, last.replace(/\.json$/, "~c.json"));
  const seg: Segment = { type: "build-records", version: 1, records: Object.fromEntries(merged) };
  writeFileAtomicSync(target, JSON.stringify(seg));
  for (const n of names) {
    if (path.join(dir, n) === target) continue;
    try {
      unlinkSync(path.join(dir, n));
    } catch {
      /* a concurrent compaction removed it */
    }
  }
}

const markFile = (projectDir: string, jobKey: string): string =>
  path.join(marksDir(projectDir), `${createHash("sha256").update(jobKey).digest("hex").slice(0, 24)}.json`);

/** Mark a job's outputs incomplete (before it starts). */
export function markIncomplete(projectDir: string, mark: IncompleteMark): void {
  mkdirSync(marksDir(projectDir), { recursive: true });
  writeFileAtomicSync(markFile(projectDir, mark.jobKey), JSON.stringify(mark));
}

/** Remove a job's incomplete mark; safe when there is none. */
export function clearIncomplete(projectDir: string, jobKey: string): void {
  try {
    unlinkSync(markFile(projectDir, jobKey));
  } catch {
    /* none */
  }
}

/** Every incomplete mark of the project. */
export function readIncompleteMarks(projectDir: string): IncompleteMark[] {
  const dir = marksDir(projectDir);
  const out: IncompleteMark[] = [];
  for (const n of listSegments(dir)) {
    try {
      const m = JSON.parse(readFileSync(path.join(dir, n), "utf8")) as IncompleteMark;
      if (m && Array.isArray(m.outputs)) out.push(m);
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}
