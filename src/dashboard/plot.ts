/**
 * `corral plot`: a metric against a swept parameter, as an SVG chart for papers and reports.
 * The chart itself is a pure function from points to an SVG string (no fonts, no canvas, no
 * browser); PNG is that SVG rendered by headless Chromium when one is installed.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CorralError } from "../errors.js";
import type { BrowserType } from "playwright-core";
import type { ConfigMap, ConfigValue } from "../plan/types.js";
import type { MetricsLine, RunState, SweepManifest } from "../store/protocol.js";
import { TERMINAL_STATES } from "../store/protocol.js";
import { deriveStatus } from "../store/status.js";
import { readRunStatus } from "../store/store.js";
import { RunMetrics } from "../store/metrics.js";

/** How one run's metric series becomes one number: its last, smallest or largest value. */
export type PlotAgg = "last" | "min" | "max";

/** One run's contribution to a chart. */
export interface PlotPoint {
  run: number;
  params: ConfigMap;
  value: number;
  /** The run's state; a final state other than `succeeded` is drawn as a cross, off the lines. */
  state?: RunState;
}

/** A run that ended without succeeding (failed, timeout, preempted, cancelled, lost). */
export const isUnsuccessful = (state: RunState | undefined): boolean => state !== undefined && state !== "succeeded" && TERMINAL_STATES.has(state);

export interface PlotOptions {
  metric: string;
  param: string;
  /** @default "<metric> vs <param>" */
  title?: string;
  /** @default 720 */
  width?: number;
  /** @default 440 */
  height?: number;
  /** Log-scale x axis; default: automatic (positive numbers spanning >= 2 decades). */
  logX?: boolean;
}

/** Points grouped into series: one per combination of the other parameters that vary. */
export interface PlotSeries {
  label: string;
  points: Array<{ x: number; y: number; run: number; state?: RunState }>;
}

export interface PlotData {
  series: PlotSeries[];
  /** Set when the parameter is not numeric: x values are indexes into these labels. */
  categories?: string[];
  /** Keys whose combination names each series. */
  groupKeys: string[];
}

/** Series of more than this many lines are drawn as a scatter with no per-line legend. */
export const MAX_LINES = 10;

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** One number from a run's metric lines; undefined when no line has a finite number for `metric`. */
export function aggregateMetric(lines: readonly MetricsLine[], metric: string, agg: PlotAgg): number | undefined {
  let out: number | undefined;
  for (const line of lines) {
    const v = line[metric];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    if (out === undefined || agg === "last" || (agg === "min" && v < out) || (agg === "max" && v > out)) out = v;
  }
  return out;
}

/** One number of a run's metric from every metric file of its folder, read in bounded chunks. */
export function runAggregate(runDir: string, metric: string, agg: PlotAgg): number | undefined {
  const m = new RunMetrics(runDir, { extremes: agg !== "last" });
  m.update();
  if (agg !== "last") return m.extremes().get(metric)?.[agg];
  const v = m.last()[metric];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Read every run's metrics (metrics.jsonl and foreign loggers' files) and aggregate `metric`, with the run's state; runs without it are left out. */
export function collectPlotPoints(manifest: SweepManifest, metric: string, agg: PlotAgg, now = Date.now()): PlotPoint[] {
  const points: PlotPoint[] = [];
  for (const r of manifest.runs) {
    const dir = path.join(manifest.dir, r.dir);
    const v = runAggregate(dir, metric, agg);
    if (v !== undefined) points.push({ run: r.index, params: r.params, value: v, state: deriveStatus(readRunStatus(dir), now) });
  }
  return points;
}

const show = (v: ConfigValue | undefined): string =>
  v === undefined ? "-" : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);

/** Group points into series by the other parameters that take more than one value. */
export function groupPlotSeries(points: readonly PlotPoint[], param: string): PlotData {
  const withParam = points.filter((p) => param in p.params);
  const numeric = withParam.every((p) => typeof p.params[param] === "number");
  let categories: string[] | undefined;
  if (!numeric) {
    categories = [...new Set(withParam.map((p) => show(p.params[param])))];
  }
  const keys = new Set<string>();
  for (const p of withParam) for (const k of Object.keys(p.params)) if (k !== param) keys.add(k);
  const groupKeys = [...keys].filter((k) => new Set(withParam.map((p) => show(p.params[k]))).size > 1).sort();
  const byLabel = new Map<string, PlotSeries>();
  for (const p of withParam) {
    const label = groupKeys.map((k) => `${k}=${show(p.params[k])}`).join(", ") || "all runs";
    let s = byLabel.get(label);
    if (!s) byLabel.set(label, (s = { label, points: [] }));
    const x = numeric ? (p.params[param] as number) : categories!.indexOf(show(p.params[param]));
    s.points.push({ x, y: p.value, run: p.run, ...(p.state ? { state: p.state } : {}) });
  }
  for (const s of byLabel.values()) s.points.sort((a, b) => a.x - b.x || a.run - b.run);
  const data: PlotData = { series: [...byLabel.values()], groupKeys };
  if (categories) data.categories = categories;
  return data;
}

/** Round-number tick positions covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The round step whose tick count comes closest to the one asked for.
  const span = hi - lo;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).reduce((best, s) => (Math.abs(span / s - count) < Math.abs(span / best - count) ? s : best));
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)) || 0);
  return ticks;
}

const fmt = (v: number): string => {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(4)));
};

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * The chart as a standalone SVG document: axes with round-number ticks, axis labels, a title,
 * one coloured line per series (a scatter beyond MAX_LINES series) and a legend. A categorical
 * parameter is drawn as points at evenly spaced positions, never joined by lines (series side by
 * side within a category). Runs that ended without succeeding are crosses, left out of the lines,
 * with a legend entry naming their states. Throws E_USAGE when there is nothing to draw.
 */
export function renderPlotSvg(points: readonly PlotPoint[], opts: PlotOptions): string {
  const data = groupPlotSeries(points, opts.param);
  const all = data.series.flatMap((s) => s.points);
  if (!all.length) {
    throw new CorralError("E_USAGE", `no run has both parameter '${opts.param}' and a numeric metric '${opts.metric}'`, {
      hint: "check the names with `corral results`",
    });
  }
  const W = opts.width ?? 720;
  const H = opts.height ?? 440;
  const scatter = data.series.length > MAX_LINES;
  const legend = !scatter && data.series.length > 1;
  const bad = all.filter((p) => isUnsuccessful(p.state));
  const m = { left: 70, right: legend || bad.length ? 190 : 24, top: 40, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;

  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const cats = data.categories;
  const logX = !cats && (opts.logX ?? (Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 100));
  const tx = (v: number): number => (logX ? Math.log10(v) : v);
  let [x0, x1] = cats ? [-0.5, cats.length - 0.5] : [Math.min(...xs.map(tx)), Math.max(...xs.map(tx))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  else if (!cats) {
    const pad = (x1 - x0) * 0.04;
    [x0, x1] = [x0 - pad, x1 + pad];
  }
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - Math.max(1, Math.abs(y0) * 0.1), y1 + Math.max(1, Math.abs(y1) * 0.1)];
  else {
    // Keep points off the frame.
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const yTicks = niceTicks(y0, y1, 6);
  y0 = Math.min(y0, yTicks[0]!);
  y1 = Math.max(y1, yTicks[yTicks.length - 1]!);
  const sx = (v: number): number => m.left + ((tx(v) - x0) / (x1 - x0)) * pw;
  const sxRaw = (t: number): number => m.left + ((t - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => m.top + ph - ((v - y0) / (y1 - y0)) * ph;
  const r2 = (n: number): string => n.toFixed(2);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title ?? `${opts.metric} vs ${opts.param}`)}</text>`);

  // Grid and ticks.
  out.push(`<g class="y-ticks" stroke="#e5e5e5">`);
  for (const t of yTicks) out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${r2(sy(t))}" y2="${r2(sy(t))}"/>`);
  out.push(`</g><g class="y-labels" text-anchor="end" fill="#333">`);
  for (const t of yTicks) out.push(`<text x="${m.left - 8}" y="${r2(sy(t) + 4)}">${esc(fmt(t))}</text>`);
  out.push(`</g>`);
  const xTicks: Array<{ at: number; label: string }> = cats
    ? cats.map((c, i) => ({ at: sxRaw(i), label: c }))
    : logX
      ? rangeInt(Math.ceil(x0), Math.floor(x1)).map((e) => ({ at: sxRaw(e), label: fmt(10 ** e) }))
      : niceTicks(x0, x1, 6).filter((t) => t >= x0 && t <= x1).map((t) => ({ at: sxRaw(t), label: fmt(t) }));
  out.push(`<g class="x-labels" text-anchor="middle" fill="#333">`);
  for (const t of xTicks) {
    out.push(`<line x1="${r2(t.at)}" x2="${r2(t.at)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${r2(t.at)}" y="${m.top + ph + 19}">${esc(t.label)}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text class="x-axis-label" x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle" font-size="13">${esc(opts.param)}${logX ? " (log scale)" : ""}</text>`);
  out.push(`<text class="y-axis-label" transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(opts.metric)}</text>`);

  // Data: lines (one per series; never across categories) or a scatter.
  // Series of a categorical chart stand side by side within their category.
  const dodge = (i: number): number => (cats && !scatter && data.series.length > 1 ? (i - (data.series.length - 1) / 2) * Math.min(0.15, 0.6 / data.series.length) : 0);
  data.series.forEach((s, i) => {
    const color = scatter ? "#1f77b4" : PALETTE[i % PALETTE.length]!;
    const px = (p: { x: number }): number => (cats ? sxRaw(p.x + dodge(i)) : sx(p.x));
    out.push(`<g class="series" data-label="${esc(s.label)}" fill="${color}" stroke="${color}">`);
    const joined = s.points.filter((p) => !isUnsuccessful(p.state));
    if (!scatter && !cats && joined.length > 1) {
      out.push(`<polyline fill="none" stroke-width="2" points="${joined.map((p) => `${r2(px(p))},${r2(sy(p.y))}`).join(" ")}"/>`);
    }
    for (const p of s.points) {
      const tip = `<title>run ${p.run}${p.state && p.state !== "succeeded" ? ` (${p.state})` : ""}: ${esc(s.label)}; ${esc(opts.metric)}=${esc(fmt(p.y))}</title>`;
      const [cx, cy] = [px(p), sy(p.y)];
      if (isUnsuccessful(p.state)) {
        const d = 4.5;
        out.push(`<g class="pt failed" data-state="${p.state}" stroke-width="2.2"><line x1="${r2(cx - d)}" y1="${r2(cy - d)}" x2="${r2(cx + d)}" y2="${r2(cy + d)}"/><line x1="${r2(cx - d)}" y1="${r2(cy + d)}" x2="${r2(cx + d)}" y2="${r2(cy - d)}"/>${tip}</g>`);
      } else {
        out.push(`<circle class="pt" cx="${r2(cx)}" cy="${r2(cy)}" r="3.5" stroke="none"${scatter ? ' fill-opacity="0.6"' : ""}>${tip}</circle>`);
      }
    }
    out.push(`</g>`);
  });

  const lx = m.left + pw + 16;
  if (legend) {
    out.push(`<g class="legend" font-size="11">`);
    data.series.forEach((s, i) => {
      const y = m.top + 8 + i * 18;
      const color = PALETTE[i % PALETTE.length]!;
      if (!cats) out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
      out.push(`<circle cx="${lx + 9}" cy="${y}" r="3" fill="${color}"/>`);
      // A shortened label keeps the full one as its tooltip.
      const short = s.label.length > 26 ? `${esc(s.label.slice(0, 25))}…<title>${esc(s.label)}</title>` : esc(s.label);
      out.push(`<text x="${lx + 24}" y="${y + 4}">${short}</text>`);
    });
    out.push(`</g>`);
  } else if (scatter) {
    out.push(`<text class="legend" x="${m.left + pw - 4}" y="${m.top + 14}" text-anchor="end" font-size="11" fill="#555">${all.length} runs (${data.series.length} combinations of ${esc(data.groupKeys.join(", "))})</text>`);
  }
  if (bad.length) {
    // A cross for the runs that ended without succeeding: one row per state, with how many.
    const byState = new Map<string, number>();
    for (const p of bad) byState.set(p.state!, (byState.get(p.state!) ?? 0) + 1);
    const top = m.top + 8 + (legend ? data.series.length * 18 + 6 : 0);
    const d = 4;
    out.push(`<g class="legend-failed" font-size="11">`);
    [...byState].forEach(([state, n], k) => {
      const y = top + k * 18;
      out.push(`<g stroke="#333" stroke-width="2"><line x1="${lx + 9 - d}" y1="${y - d}" x2="${lx + 9 + d}" y2="${y + d}"/><line x1="${lx + 9 - d}" y1="${y + d}" x2="${lx + 9 + d}" y2="${y - d}"/></g>`);
      out.push(`<text x="${lx + 24}" y="${y + 4}">${n} ${state}</text>`);
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function rangeInt(a: number, b: number): number[] {
  const r: number[] = [];
  for (let i = a; i <= b; i++) r.push(i);
  return r;
}

/** Launch flags for Chromium used as a renderer: no network chatter, no sandbox (containers, CI). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Render an SVG document to PNG with headless Chromium (through playwright-core).
 * Throws E_USAGE naming what is missing when Chromium or playwright-core is not installed.
 */
export async function svgToPng(svg: string, opts: { chromium?: string; scale?: number } = {}): Promise<Buffer> {
  const exe = opts.chromium ?? "/usr/bin/chromium";
  const noPng = (why: string): CorralError =>
    new CorralError("E_USAGE", `PNG output needs headless Chromium: ${why}`, { hint: "write SVG instead (--out chart.svg), or install chromium (Debian: apt-get install chromium)" });
  if (!existsSync(exe)) throw noPng(`${exe} not found`);
  let chromium: BrowserType;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    throw noPng("the playwright-core package is not installed (npm install playwright-core)");
  }
  const w = Number(/width="(\d+)"/.exec(svg)?.[1] ?? 720);
  const h = Number(/height="(\d+)"/.exec(svg)?.[1] ?? 440);
  const browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: w, height: h }, deviceScaleFactor: opts.scale ?? 2 });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    return await page.locator("svg").first().screenshot({ type: "png" });
  } finally {
    await browser.close();
  }
}
