/**
 * The CSV that `corral results --format csv` prints (the runs, `--over` groups, `--importance`):
 * RFC 4180 through csv-stringify, a cell quoted when it holds a comma, a quote or a line break,
 * `\n` after every record.
 */
import { stringify } from "csv-stringify/sync";

/** Rows of cells (the header first) as CSV text. */
export const csvText = (rows: ReadonlyArray<readonly string[]>): string => stringify(rows as string[][]);
