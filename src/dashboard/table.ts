/**
 * A sweep's run table served a page at a time: the filter and sort of the dashboard's table,
 * applied on the server, so a 100,000-run sweep sends one page, not every row. Same rules as
 * the client (static/app.js `matchesFilter`, `cellValue`): terms are ANDed, `key=value` matches
 * a column's shown value exactly, `key<n` and `key>n` compare numbers, anything else is a
 * case-insensitive substring of the run's index, state, job, host, overrides and metric values.
 */
import type { RunRow } from "./live.js";

const STATES = ["pending", "running", "succeeded", "failed", "timeout", "preempted", "cancelled", "lost", "unknown"];

/** The parameter columns of a sweep's rows, and its metric columns (keys with a number in some run). */
export function columnsOf(rows: readonly RunRow[]): { params: string[]; metrics: string[] } {
  const params = new Set<string>();
  const metrics = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r.params)) params.add(k);
    for (const [k, v] of Object.entries(r.metrics)) if (typeof v === "number") metrics.add(k);
  }
  return { params: [...params], metrics: [...metrics] };
}

/** A value as the table shows it (the client's `fmt`). */
export const shown = (v: unknown): string => {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};

export function cellValue(r: RunRow, key: string, paramColumns: readonly string[], now = Date.now()): unknown {
  if (key === "run") return r.index;
  if (key === "state") return r.state;
  if (key === "job") return r.job;
  if (key === "elapsed") return r.startedAt ? (r.endedAt ?? now) - r.startedAt : undefined;
  if (paramColumns.includes(key)) return r.params[key];
  return r.metrics[key];
}

/** A filter text as one predicate (parsed once, applied to every row). */
export function compileFilter(text: string, paramColumns: readonly string[]): (r: RunRow) => boolean {
  const terms = text.trim().split(/\s+/).filter(Boolean);
  if (!terms.length) return () => true;
  const tests = terms.map((term): ((r: RunRow) => boolean) => {
    const m = /^([^=<>]+)(=|<|>)(.*)$/.exec(term);
    if (m) {
      const [, key, op, want] = m as unknown as [string, string, string, string];
      if (op === "=") return (r) => shown(cellValue(r, key, paramColumns)) === want;
      const n = Number(want);
      return (r) => {
        const v = cellValue(r, key, paramColumns);
        return typeof v === "number" && (op === "<" ? v < n : v > n);
      };
    }
    const needle = term.toLowerCase();
    return (r) => [r.index, r.state, r.job, r.host, ...r.overrides, ...Object.values(r.metrics).map(shown)].join(" ").toLowerCase().includes(needle);
  });
  return (r) => tests.every((t) => t(r));
}

export interface PageQuery {
  filter?: string;
  sort?: string;
  /** 1 ascending, -1 descending. */
  dir?: 1 | -1;
  offset?: number;
  limit: number;
}

/** Filter, sort (missing values last, ties by run index) and cut one page. */
export function pageOfRuns(rows: readonly RunRow[], paramColumns: readonly string[], q: PageQuery): { matched: number; offset: number; runs: RunRow[] } {
  const keep = compileFilter(q.filter ?? "", paramColumns);
  const hits = rows.filter(keep);
  const key = q.sort ?? "run";
  const dir = q.dir ?? 1;
  if (key !== "run" || dir !== 1) {
    const now = Date.now();
    const vals = new Map(hits.map((r) => [r, cellValue(r, key, paramColumns, now)]));
    hits.sort((a, b) => {
      const x = vals.get(a);
      const y = vals.get(b);
      if (x === undefined && y === undefined) return a.index - b.index;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : key === "state" ? STATES.indexOf(String(x)) - STATES.indexOf(String(y)) : String(x).localeCompare(String(y));
      return dir * c || a.index - b.index;
    });
  }
  const offset = Math.min(q.offset ?? 0, hits.length);
  return { matched: hits.length, offset, runs: hits.slice(offset, offset + q.limit) };
}
