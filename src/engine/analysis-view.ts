/**
 * The analysis of plan/analysis.ts on a sweep's results: which runs count, what a run's params and
 * value are, one run's config for the config diff, and the text `corral results --importance` and
 * `--vs` print.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { compareSweeps, flattenConfig, parameterImportance, type ImportanceResult, type SweepSide, type SweepsCompared } from "../plan/analysis.js";
import { ConfigFloat } from "../plan/float.js";
import { RUN_CONFIG } from "../store/layout.js";
import { csvText, mdTable } from "./table-text.js";

/** A run as the analysis takes it: parameters, state and the metric's last value. */
export interface AnalysisRow {
  index: number;
  state: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : v instanceof ConfigFloat ? v.value : undefined);
const plain = (p: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v instanceof ConfigFloat ? v.value : v]));

/** Importance of `metric` over the succeeded runs that logged it as a finite number. */
export function importanceOf(rows: readonly AnalysisRow[], params: readonly string[], metric: string): ImportanceResult & { metric: string } {
  const runs = rows
    .filter((r) => r.state === "succeeded")
    .map((r) => ({ params: plain(r.params), value: num(r.metrics[metric]) }))
    .filter((r): r is { params: Record<string, unknown>; value: number } => r.value !== undefined && Number.isFinite(r.value));
  return { metric, ...parameterImportance(runs, params) };
}

/** A run folder's config.yaml, flattened (`model.width`); empty when missing or unreadable. */
export function runConfigFlat(runDir: string): Record<string, unknown> {
  try {
    return flattenConfig(parseYaml(readFileSync(path.join(runDir, RUN_CONFIG), "utf8")));
  } catch {
    return {};
  }
}

export function sideOf(rows: readonly AnalysisRow[], metric: string, firstRunDir: string | undefined): SweepSide {
  return {
    runs: rows.map((r) => {
      const v = num(r.metrics[metric]);
      return { index: r.index, state: r.state, params: plain(r.params), ...(v !== undefined ? { value: v } : {}) };
    }),
    config: firstRunDir ? runConfigFlat(firstRunDir) : {},
  };
}

export { compareSweeps };

const short = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));
const val = (v: unknown): string => (v === undefined ? "" : typeof v === "number" ? String(v) : typeof v === "string" ? v : JSON.stringify(v));

function columns(head: string[], grid: string[][], right: (i: number) => boolean): string[] {
  const widths = head.map((c, i) => Math.max(c.length, ...grid.map((row) => row[i]!.length)));
  const line = (row: string[]): string => row.map((s, i) => (right(i) ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...grid.map(line)];
}

/** `corral results --importance M`. */
export function formatImportance(r: ImportanceResult & { metric: string }, format: "csv" | "json" | "md" | "table"): string {
  if (format === "json") return JSON.stringify(r, null, 2) + "\n";
  const head = ["param", "importance", "explained", "levels"];
  const grid = r.params.map((p) => [p.param, short(p.importance), short(p.explained), `${p.levels}${p.binned ? " bins" : ""}`]);
  if (format === "csv") return csvText([head, ...r.params.map((p) => [p.param, String(p.importance), String(p.explained), String(p.levels)])]);
  if (format === "md") return mdTable(head, grid, (i) => i > 0).join("\n") + "\n";
  const title = `importance of ${r.metric}: ${r.runs} succeeded runs, variance ${short(r.variance)} (explained: the share of it each parameter's means explain; importance: normalised to sum to 1)`;
  if (!r.params.length) return `${title}\n(no parameter takes more than one value in these runs)\n`;
  return [title, ...columns(head, grid, (i) => i > 0)].join("\n") + "\n";
}

/** `corral results A --vs B --best M`. */
export function formatCompared(c: SweepsCompared, names: [string, string], format: "json" | "md" | "table"): string {
  if (format === "json") return JSON.stringify({ sweeps: names, ...c }, null, 2) + "\n";
  const [a, b] = names;
  const md = format === "md";
  // A titled table: Markdown tables under `###` headings, or aligned text under a plain title.
  const table = (title: string | undefined, head: string[], grid: string[][], right: (i: number) => boolean): string[] => [
    ...(title === undefined ? [] : ["", md ? `### ${title}` : title, ...(md ? [""] : [])]),
    ...(md ? mdTable : columns)(head, grid, right),
  ];
  const out: string[] = [];
  const side = (s: SweepsCompared["sides"][number]): string[] => [String(s.runs), String(s.succeeded), s.mean === undefined ? "" : `${short(s.mean)}${s.std === undefined ? "" : ` ± ${short(s.std)}`}`, s.best[0] ? `${short(s.best[0].value)} (run ${s.best[0].index})` : ""];
  out.push(...table(undefined, ["sweep", "runs", "succeeded", `${c.metric} (mean ± std)`, `best (${c.mode})`], [[a, ...side(c.sides[0]!)], [b, ...side(c.sides[1]!)]], (i) => i > 0));
  for (const p of c.shared) {
    out.push(...table(`${c.metric} mean by ${p.param}`, [p.param, a, b], p.values.map((v) => [val(v.value), v.a ? `${short(v.a.mean)} (n ${v.a.n})` : "", v.b ? `${short(v.b.mean)} (n ${v.b.n})` : ""]), (i) => i > 0));
  }
  if (c.configDiff.length) out.push(...table("config keys that differ (swept parameters left out)", ["key", a, b], c.configDiff.map((d) => [d.key, val(d.a), val(d.b)]), () => false));
  else out.push("", "config keys that differ: none (swept parameters left out)");
  return out.join("\n") + "\n";
}
