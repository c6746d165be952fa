/**
 * Tables as text for `corral results`: CSV (the runs, `--over` groups, `--importance`) and
 * Markdown (the same tables with `--format md`, and `--vs`).
 */
import { stringify } from "csv-stringify/sync";

/**
 * Rows of cells (the header first) as CSV text: RFC 4180 through csv-stringify, a cell quoted
 * when it holds a comma, a quote or a line break, `\n` after every record.
 */
export const csvText = (rows: ReadonlyArray<readonly string[]>): string => stringify(rows as string[][]);

/**
 * A table as Markdown lines: `|` in a cell escaped, a line break in one as a space (it would end
 * the row), and the columns `right(i)` names aligned right (`---:`).
 */
export function mdTable(head: readonly string[], grid: ReadonlyArray<readonly string[]>, right: (i: number) => boolean): string[] {
  const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  return [`| ${head.map(cell).join(" | ")} |`, `| ${head.map((_, i) => (right(i) ? "---:" : "---")).join(" | ")} |`, ...grid.map((row) => `| ${row.map(cell).join(" | ")} |`)];
}
