/** `corral results`: one table of parameters x the last value of each metric (or, with --over, their mean ± std). */
import { Option, type Command } from "commander";
import { formatGrouped, formatResults, groupResults, readSweepStatus, resultsTable } from "../../engine/inspect.js";
import { compareSweeps, formatCompared, formatImportance, importanceOf, sideOf, type AnalysisRow } from "../../engine/analysis-view.js";
import { CorralError, didYouMean } from "../../errors.js";
import { makeLauncher } from "../../launchers/registry.js";
import type { ResultsTable } from "../../engine/inspect.js";
import { readManifest, resolveSweep, runDirOf } from "../../store/store.js";
import { projectDirOf } from "../args.js";
import type { CommandContext } from "./context.js";

export function registerResults(program: Command, ctx: CommandContext): void {
  program
    .command("results")
    .description("one table: parameters x the last value of each metric")
    .argument("[sweep]", "sweep folder, id or name (default: the latest)")
    .addOption(new Option("--format <fmt>", "output format").choices(["table", "csv", "json", "md"]).default("table"))
    .option("--best [metric]", "sort by a metric and show the best first: metric[:min|max] (default max; a study's objective when omitted)")
    .option("--over <param>", "mean ± std (and min, max) of each metric over this parameter, one row per combination of the others; repeatable (--over seed)", (v: string, acc: string[]) => [...acc, ...v.split(",").filter(Boolean)], [] as string[])
    .option("--importance <metric>", "per-parameter importance of a metric: the share of its variance each parameter's means explain, over the succeeded runs")
    .option("--vs <sweep>", "compare with another sweep on the --best metric: summaries, best runs, means per value of shared parameters, config keys that differ")
    .action(async (sweep: string | undefined, o: { format: "table" | "csv" | "json" | "md"; best?: string | true; over: string[]; importance?: string; vs?: string }) => {
      const dir = resolveSweep(projectDirOf(ctx.globals()), sweep);
      const m = readManifest(dir);
      const st = await readSweepStatus(dir, makeLauncher(m.settings));
      let best: { metric: string; mode: "min" | "max" } | undefined;
      if (o.best === true) {
        // A study's own objective.
        const obj = st.manifest.search?.objective;
        if (!obj) throw new CorralError("E_USAGE", "--best needs a metric: metric[:min|max] (only a study has an objective of its own)", { hint: "e.g. corral results --best val_loss:min" });
        best = obj;
      } else if (o.best) {
        const [metric, mode = "max"] = o.best.split(":");
        if (!metric || (mode !== "min" && mode !== "max")) throw new CorralError("E_USAGE", `--best takes metric[:min|max], got '${o.best}'`);
        best = { metric, mode };
      }
      const table = resultsTable(st, best, { keepFloats: true });
      // Any numeric column sorts: a metric, or a swept parameter (`--best lr:min`).
      if (best && !table.metricColumns.includes(best.metric) && !table.paramColumns.includes(best.metric)) {
        const known = table.metricColumns;
        const near = didYouMean(best.metric, [...known, ...table.paramColumns]);
        const params = table.paramColumns.length ? ` (parameters: ${table.paramColumns.join(", ")})` : "";
        throw new CorralError("E_USAGE", `no metric '${best.metric}' in this sweep: ${known.length ? `its metrics are ${known.join(", ")}` : "no run has logged a metric yet"}${params}`, {
          hint: near ? `did you mean --best ${near}${best.mode === "min" ? ":min" : ""}?` : "metrics are the keys of the JSON lines a run appends to $CORRAL_RUN_DIR/metrics.jsonl, or what it logs through TensorBoard, Lightning's CSVLogger or W&B (offline) in its folder",
        });
      }
      if (o.importance !== undefined) {
        const metric = o.importance;
        if (!table.metricColumns.includes(metric)) {
          const near = didYouMean(metric, table.metricColumns);
          throw new CorralError("E_USAGE", `--importance ${metric}: no metric '${metric}' in this sweep: ${table.metricColumns.length ? `its metrics are ${table.metricColumns.join(", ")}` : "no run has logged a metric yet"}`, {
            ...(near ? { hint: `did you mean --importance ${near}?` } : {}),
          });
        }
        process.stdout.write(formatImportance(importanceOf(analysisRows(table), table.paramColumns, metric), o.format));
        return;
      }
      if (o.vs !== undefined) {
        if (!best) throw new CorralError("E_USAGE", "--vs compares on one metric: add --best metric[:min|max]", { hint: "e.g. corral results A --vs B --best loss:min (a study's objective: --best alone)" });
        if (o.format === "csv") throw new CorralError("E_USAGE", "--vs prints several tables, which one CSV cannot hold: use --format table, md or json", { hint: "e.g. corral results A --vs B --best loss:min --format json" });
        const format = o.format;
        const otherDir = resolveSweep(projectDirOf(ctx.globals()), o.vs);
        const om = readManifest(otherDir);
        const other = resultsTable(await readSweepStatus(otherDir, makeLauncher(om.settings)), undefined, { keepFloats: true });
        const all = resultsTable(st, undefined, { keepFloats: true });
        const c = compareSweeps(sideOf(analysisRows(all), best.metric, st.runs[0]?.dir), sideOf(analysisRows(other), best.metric, om.runs[0] ? runDirOf(om, om.runs[0]) : undefined), best.metric, best.mode);
        process.stdout.write(formatCompared(c, [m.name ?? m.id, om.name ?? om.id], format));
        return;
      }
      if (o.over.length) {
        for (const p of o.over) {
          if (table.paramColumns.includes(p)) continue;
          const near = didYouMean(p, table.paramColumns);
          throw new CorralError("E_USAGE", `--over ${p}: no parameter '${p}' in this sweep${table.paramColumns.length ? ` (its parameters: ${table.paramColumns.join(", ")})` : ""}`, {
            ...(near ? { hint: `did you mean --over ${near}?` } : {}),
          });
        }
        process.stdout.write(formatGrouped(groupResults(table, o.over, best && table.metricColumns.includes(best.metric) ? best : undefined), o.format));
        return;
      }
      process.stdout.write(formatResults(table, o.format));
    });
}

/** Results rows as the analysis takes them. */
function analysisRows(t: ResultsTable): AnalysisRow[] {
  return t.rows.map((r) => ({
    index: Number(r.run),
    state: String(r.state),
    params: Object.fromEntries(t.paramColumns.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])),
    metrics: Object.fromEntries(t.metricColumns.map((k) => [k, r[k]])),
  }));
}
