// corral dashboard: curves of several runs on one chart, run selection in the sweep table, and
// exports (every chart as PNG and SVG, every table as CSV). Imported by app.js, which hands
// over its helpers once with initCurves(); nothing from the server is parsed as HTML.
/* global uPlot */
import { stringify } from "/vendor/csv-stringify.js";

/** app.js's helpers and state (set by initCurves). */
let ctx;
export function initCurves(c) {
  ctx = c;
  const view = document.getElementById("view");
  let queued = false;
  // Export buttons are added to whatever chart or table a page draws, as it is drawn.
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      decorateExports(view);
    });
  }).observe(view, { childList: true, subtree: true });
}

// ---------- colours ----------
/**
 * A run's colour, the same on every chart and page: hues a golden angle apart by run index, and
 * three lightnesses in turn (runs 5 apart have near hues; their lightness differs).
 */
export const runHue = (index) => Math.round((210 + index * 137.508) % 360);
export const runColor = (index, alpha = 1) => `hsl(${runHue(index)} 70% ${[42, 30, 55][index % 3]}%${alpha < 1 ? ` / ${alpha}` : ""})`;

// ---------- run selection (sweep table) ----------
const selected = new Map(); // sweep id -> Set of run indices
const selOf = (id) => {
  if (!selected.has(id)) selected.set(id, new Set());
  return selected.get(id);
};
export const selectedRuns = (id) => [...selOf(id)].sort((a, b) => a - b);

function updateSelectionUi(id) {
  const n = selOf(id).size;
  const b = document.getElementById("plot-selected");
  if (b) {
    b.textContent = `plot selected (${n})`;
    b.disabled = n === 0;
  }
}

/** The first cell of a run's row: a checkbox that selects the run for "plot selected". */
export function selectCell(id, index) {
  const { h } = ctx;
  const box = h("input", { type: "checkbox", class: "pick", "data-index": index, checked: selOf(id).has(index), title: "select for plotting" });
  box.addEventListener("click", (e) => e.stopPropagation());
  box.addEventListener("change", () => {
    if (box.checked) selOf(id).add(index);
    else selOf(id).delete(index);
    updateSelectionUi(id);
  });
  return h("td", { class: "pick", onclick: (e) => e.stopPropagation() }, box);
}

export const isSelected = (id, index) => selOf(id).has(index);

/** The header over the checkboxes: ticks or clears every row shown (`shown()`: those rows now). */
export function selectHead(id, shown) {
  const { h } = ctx;
  const rows = shown();
  const all = rows.length > 0 && rows.every((r) => selOf(id).has(r.index));
  const box = h("input", { type: "checkbox", id: "pick-all", checked: all, title: "select every run shown" });
  box.addEventListener("click", (e) => e.stopPropagation());
  box.addEventListener("change", () => {
    for (const r of shown()) box.checked ? selOf(id).add(r.index) : selOf(id).delete(r.index);
    for (const b of document.querySelectorAll("#runs input.pick")) b.checked = box.checked;
    updateSelectionUi(id);
  });
  return h("th", { class: "pick" }, box);
}

/** Toolbar actions of the sweep table: plot the selection, plot what the filter shows, CSV. */
export function sweepActions(id) {
  const { h, enc, sweepView } = ctx;
  const n = selOf(id).size;
  return [
    h("button", { id: "plot-selected", disabled: n === 0, onclick: () => (location.hash = `#/curves/${enc(id)}?runs=${selectedRuns(id).join(",")}`) }, `plot selected (${n})`),
    h("button", { id: "plot-filtered", title: `the first ${CURVES_MAX} runs the filter keeps, in the table's order`, onclick: () => {
      const q = new URLSearchParams({ filter: sweepView.filter, sort: sweepView.sortKey, dir: sweepView.sortDir > 0 ? "asc" : "desc" });
      location.hash = `#/curves/${enc(id)}?${q}`;
    } }, "plot all filtered"),
    h("button", { id: "export-runs-csv", class: "export", title: "the table as filtered and sorted, every row", onclick: () => void sweepCsv(id) }, "CSV"),
  ];
}
const CURVES_MAX = 50;

// ---------- CSV ----------
/**
 * Rows as CSV text, as RFC 4180 wants it (csv-stringify, served as /vendor/csv-stringify.js):
 * a field holding a comma, quote, CR or LF is quoted, quotes doubled; lines end in CRLF. Missing
 * values are empty fields, objects their JSON, booleans true/false.
 */
export const toCsv = (rows) => stringify(rows, { record_delimiter: "\r\n", quoted_match: /[\r\n]/, cast: { boolean: (v) => String(v) } });

/** Values of the sweep table as data (full precision; elapsed in seconds). */
function sweepCsvRows(cols, rows, d) {
  const head = cols.map((c) => (c === "elapsed" ? "elapsed_s" : c));
  const body = rows.map((r) => cols.map((c) => {
    const v = ctx.cellValue(r, c, d);
    return c === "elapsed" && typeof v === "number" ? v / 1000 : v;
  }));
  return [head, ...body];
}

/** The sweep table as filtered and sorted, every row (a paged table: every page, from the server). */
async function sweepCsv(id) {
  const { state, api, enc, sweepView } = ctx;
  const t = state.sweepTable;
  if (!t || t.id !== id) return;
  let rows = t.rows;
  if (t.paged) {
    rows = [];
    for (let offset = 0; ; ) {
      const q = new URLSearchParams({ limit: "5000", offset: String(offset), filter: sweepView.filter, sort: sweepView.sortKey, dir: sweepView.sortDir > 0 ? "asc" : "desc" });
      const page = await api(`/api/sweep/${enc(id)}?${q}`);
      rows.push(...page.runs);
      offset += page.runs.length;
      if (!page.runs.length || offset >= page.matched) break;
    }
  }
  download(`${fileStem(id)}-runs.csv`, new Blob([toCsv(sweepCsvRows(t.cols, rows, state.detail))], { type: "text/csv;charset=utf-8" }));
}

/** Any other table as shown: header texts, then each row's cell texts. */
function tableCsv(table) {
  const rows = [...table.querySelectorAll("tr")].map((tr) => [...tr.children].filter((c) => !c.classList.contains("pick")).map((c) => c.textContent.trim()));
  return toCsv(rows);
}

// ---------- downloads ----------
const fileStem = (s) => String(s).replace(/[^\w.-]+/g, "_").slice(0, 80) || "chart";
export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = ctx.h("a", { href: url, download: name, style: "display:none" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
const toBlob = (canvas) => new Promise((res) => canvas.toBlob(res, "image/png"));

/** Buttons that download a chart as PNG and SVG. */
export function chartButtons(name, png, svg) {
  const { h } = ctx;
  return h("span", { class: "export-bar" },
    h("button", { class: "export", "data-export": "png", title: "download as PNG", onclick: async () => download(`${fileStem(name)}.png`, await png()) }, "PNG"),
    h("button", { class: "export", "data-export": "svg", title: "download as SVG", onclick: () => download(`${fileStem(name)}.svg`, new Blob([svg()], { type: "image/svg+xml" })) }, "SVG"));
}

/** Add export buttons to the charts and tables of a page that lack them. */
function decorateExports(view) {
  const { state, h } = ctx;
  for (const u of state.charts) {
    const holder = u.root?.parentElement;
    if (!holder || !holder.isConnected || holder.dataset.exports || holder.id === "curves-chart") continue;
    holder.dataset.exports = "1";
    const title = holder.dataset.metric || holder.id || "chart";
    const marks = holder.id === "compare-chart" ? () => state.compare?.failed || [] : () => [];
    holder.append(chartButtons(title, () => uplotPng(u, { title }), () => uplotSvg(u, { title, marks: marks() })));
  }
  for (const svg of view.querySelectorAll("#parcoords > svg, #dag > svg, #importance > svg, svg#best-so-far")) {
    const box = svg.parentElement;
    if (box.dataset.exports) continue;
    box.dataset.exports = "1";
    box.prepend(chartButtons(box.id, () => svgPng(svg), () => svgText(svg)));
  }
  for (const table of view.querySelectorAll("table[id]")) {
    if (table.id === "runs") continue; // the sweep table's CSV button is in its toolbar (every row, not those shown)
    // Inside the table's card (a card may sit in a grid of cards), else right above the table.
    const card = table.closest(".card");
    const where = card || table.parentElement;
    if (!where || [...where.children].some((c) => c.dataset?.exportFor === table.id)) continue;
    const bar = h("div", { class: "export-bar table-export", "data-export-for": table.id },
      h("button", { class: "export", "data-export": "csv", onclick: () => {
        const t = document.getElementById(table.id);
        if (t) download(`${fileStem(t.id)}.csv`, new Blob([tableCsv(t)], { type: "text/csv;charset=utf-8" }));
      } }, "CSV"));
    if (card) card.prepend(bar);
    else table.before(bar);
  }
}

// ---------- chart pictures ----------
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const strokeOf = (u, s, i) => (typeof s.stroke === "function" ? s.stroke(u, i) : s.stroke) || "#333";
/** The legend a picture carries: uPlot's series (not the x one), or the entries a chart names itself. */
function legendOf(u, legend) {
  if (legend) return legend;
  return u.series.slice(1).map((s, k) => ({ label: String(s.label ?? `series ${k + 1}`), color: strokeOf(u, s, k + 1), dash: s.dash })).filter((e, k) => u.series[k + 1].show !== false);
}

/** PNG of a uPlot chart: its canvas (plot and axes) with the title above and the legend below. */
async function uplotPng(u, { title, legend } = {}) {
  const r = devicePixelRatio || 1;
  const src = u.ctx.canvas;
  const items = legendOf(u, legend);
  const line = 18 * r;
  const top = title ? 26 * r : 6 * r;
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = top + src.height + items.length * line + 10 * r;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = "#1d2330";
  g.font = `bold ${13 * r}px sans-serif`;
  if (title) g.fillText(title, 10 * r, 18 * r);
  g.drawImage(src, 0, top);
  g.font = `${12 * r}px sans-serif`;
  items.forEach((e, k) => {
    const y = top + src.height + k * line + 12 * r;
    g.strokeStyle = e.color;
    g.lineWidth = 2.5 * r;
    g.setLineDash((e.dash || []).map((d) => d * r));
    g.beginPath();
    g.moveTo(10 * r, y - 4 * r);
    g.lineTo(34 * r, y - 4 * r);
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = "#1d2330";
    g.fillText(e.label, 42 * r, y);
  });
  return toBlob(c);
}

/**
 * SVG of a uPlot chart, built from its data and scales (not a copy of the canvas): plot frame,
 * ticks and labels of both axes, one path per shown series (broken at gaps unless the series
 * spans them, dashed where the chart dashes it), failed-run marks, title and legend.
 */
export function uplotSvg(u, { title, legend, marks = [], series: only } = {}) {
  const r = devicePixelRatio || 1;
  const L = u.bbox.left / r, T = u.bbox.top / r, PW = u.bbox.width / r, PH = u.bbox.height / r;
  const W = u.width, top = title ? 26 : 6;
  const items = legendOf(u, legend);
  const H = top + u.height + items.length * 18 + 10;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`];
  if (title) out.push(`<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<g transform="translate(0 ${top})">`, `<defs><clipPath id="plot"><rect x="${L}" y="${T}" width="${PW}" height="${PH}"/></clipPath></defs>`);
  out.push(`<rect class="frame" x="${L}" y="${T}" width="${PW}" height="${PH}" fill="none" stroke="#cfd5e1"/>`);
  // Axes: uPlot's own ticks and tick labels (as drawn), axis labels.
  u.axes.forEach((ax, i) => {
    if (ax.show === false) return;
    const scale = ax.scale || (i === 0 ? "x" : "y");
    const horizontal = i === 0 || ax.side === 0 || ax.side === 2;
    (ax._splits || []).forEach((v, k) => {
      const label = ax._values?.[k];
      if (v === null || v === undefined) return;
      const p = u.valToPos(v, scale);
      if (!Number.isFinite(p)) return;
      if (horizontal) {
        out.push(`<line class="grid" x1="${(L + p).toFixed(1)}" x2="${(L + p).toFixed(1)}" y1="${T}" y2="${T + PH}" stroke="#eee"/>`);
        if (label !== null && label !== undefined) out.push(`<text class="tick" x="${(L + p).toFixed(1)}" y="${T + PH + 14}" text-anchor="middle">${esc(label)}</text>`);
      } else {
        out.push(`<line class="grid" x1="${L}" x2="${L + PW}" y1="${(T + p).toFixed(1)}" y2="${(T + p).toFixed(1)}" stroke="#eee"/>`);
        if (label !== null && label !== undefined) out.push(`<text class="tick" x="${L - 6}" y="${(T + p + 4).toFixed(1)}" text-anchor="end">${esc(label)}</text>`);
      }
    });
    const text = typeof ax.label === "string" ? ax.label : "";
    if (!text) return;
    if (horizontal) out.push(`<text class="axis-label" x="${L + PW / 2}" y="${u.height - 4}" text-anchor="middle" font-weight="bold">${esc(text)}</text>`);
    else out.push(`<text class="axis-label" transform="translate(12 ${T + PH / 2}) rotate(-90)" text-anchor="middle" font-weight="bold">${esc(text)}</text>`);
  });
  // Series: paths in plot coordinates, clipped to the plot.
  out.push(`<g clip-path="url(#plot)">`);
  const xs = u.data[0];
  u.series.forEach((s, i) => {
    if (i === 0 || s.show === false || (only && !only(i))) return;
    const ys = u.data[i];
    const stroke = strokeOf(u, s, i);
    const dash = s.dash?.length ? ` stroke-dasharray="${s.dash.join(" ")}"` : "";
    const pts = [];
    for (let k = 0; k < xs.length; k++) {
      const y = ys[k];
      if (y === null || y === undefined) {
        if (!s.spanGaps) pts.push(null);
        continue;
      }
      const px = u.valToPos(xs[k], "x"), py = u.valToPos(y, s.scale || "y");
      if (Number.isFinite(px) && Number.isFinite(py)) pts.push([L + px, T + py]);
    }
    const label = esc(s.label ?? "");
    // A series drawn as points only (app.js's categorical compare chart: paths `noLine`).
    if (s.paths?.name === "noLine") {
      out.push(`<g class="series" data-series="${i}" data-label="${label}" fill="${esc(stroke)}">${pts.filter(Boolean).map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5"/>`).join("")}</g>`);
      return;
    }
    let d = "";
    let pen = false;
    for (const p of pts) {
      if (!p) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = true;
    }
    out.push(`<path class="series" data-series="${i}" data-label="${label}" d="${d}" fill="none" stroke="${esc(stroke)}" stroke-width="${s.width || 1}"${dash}/>`);
  });
  for (const m of marks) {
    const x = m.x, y = m.y, k = 5;
    out.push(`<path class="mark" data-index="${m.index}" data-state="${esc(m.state)}" d="M${x - k},${y - k}L${x + k},${y + k}M${x - k},${y + k}L${x + k},${y - k}" stroke="${esc(m.color || "#d7301f")}" stroke-width="2.5"/>`);
  }
  out.push("</g></g>");
  items.forEach((e, k) => {
    const y = top + u.height + k * 18 + 12;
    const dash = e.dash?.length ? ` stroke-dasharray="${e.dash.join(" ")}"` : "";
    out.push(`<g class="legend-item"><line x1="10" x2="34" y1="${y - 4}" y2="${y - 4}" stroke="${esc(e.color)}" stroke-width="2.5"${dash}/><text x="42" y="${y}" font-size="12">${esc(e.label)}</text></g>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

/** An SVG chart of the page (parallel coordinates, DAG) as a standalone file. */
function svgText(svg) {
  const copy = svg.cloneNode(true);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  // The rules style.css gives these pictures.
  style.textContent = "text{font-family:sans-serif;font-size:11px} svg.dag text{fill:#fff} svg.dag path{fill:none;stroke:#9aa3b5;stroke-width:1.3} svg.dag rect{rx:5}";
  copy.prepend(style);
  const bg = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  for (const [k, v] of Object.entries({ width: "100%", height: "100%", fill: "#fff" })) bg.setAttribute(k, v);
  style.after(bg);
  return new XMLSerializer().serializeToString(copy);
}
async function svgPng(svg) {
  const text = svgText(svg);
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(text)))}`;
  await img.decode();
  const r = devicePixelRatio || 1;
  const c = document.createElement("canvas");
  c.width = Math.ceil((svg.width.baseVal.value || img.width) * r);
  c.height = Math.ceil((svg.height.baseVal.value || img.height) * r);
  const g = c.getContext("2d");
  g.scale(r, r);
  g.drawImage(img, 0, 0);
  return toBlob(c);
}

// ---------- curves of several runs ----------
/** TensorBoard's smoothing: an exponential moving average, debiased so the first points are not pulled to 0. */
export function ema(ys, weight) {
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (y === null || y === undefined || !Number.isFinite(y)) return y ?? null;
    last = last * weight + (1 - weight) * y;
    n++;
    return weight >= 1 ? y : last / (1 - Math.pow(weight, n));
  });
}

const WHY = { objective: "the study's objective", spread: "largest spread of final values across runs", only: "the only metric", none: "" };

/** `#/curves/<sweep>?runs=0,3,7` or `?filter=&sort=&dir=`, plus `metric`, `x`, `smooth`, `logx`, `logy`. */
export async function showCurves(view, id, query) {
  const { api, enc, h, crumbs, state } = ctx;
  const q = new URLSearchParams();
  for (const k of ["metric", "runs", "filter", "sort", "dir"]) if (query.has(k)) q.set(k, query.get(k));
  const c = await api(`/api/curves/${enc(id)}?${q}`);
  const summary = state.sweeps.get(id) || { id };
  crumbs(["sweeps", "#/"], [summary.name || id, `#/sweep/${enc(id)}`], ["curves"]);
  const cv = {
    id,
    data: c,
    metric: c.metric,
    x: query.get("x") === "time" ? "time" : "step",
    smooth: Math.min(0.99, Math.max(0, Number(query.get("smooth") ?? 0.6) || 0)),
    logx: query.get("logx") === "1",
    logy: query.get("logy") === "1",
    query,
  };
  const keep = () => {
    const nq = new URLSearchParams(query);
    nq.set("metric", cv.metric || "");
    nq.set("x", cv.x);
    nq.set("smooth", String(cv.smooth));
    nq.set("logx", cv.logx ? "1" : "0");
    nq.set("logy", cv.logy ? "1" : "0");
    history.replaceState(null, "", `${location.pathname}#/curves/${enc(id)}?${nq}`);
  };
  const metricPick = h("select", { id: "curves-metric", onchange: (e) => {
    const nq = new URLSearchParams(query);
    nq.set("metric", e.target.value);
    location.hash = `#/curves/${enc(id)}?${nq}`;
  } }, c.metrics.map((m) => h("option", { value: m, selected: m === c.metric }, m)));
  const xPick = h("select", { id: "curves-x", onchange: (e) => { cv.x = e.target.value; keep(); drawCurves(cv); } },
    h("option", { value: "step", selected: cv.x === "step" }, xName(c)), h("option", { value: "time", selected: cv.x === "time" }, "wall time"));
  const smoothVal = h("span", { id: "curves-smooth-value", class: "num" }, cv.smooth.toFixed(2));
  const slider = h("input", { type: "range", id: "curves-smooth", min: "0", max: "0.99", step: "0.01", value: String(cv.smooth) });
  slider.addEventListener("input", () => {
    cv.smooth = Number(slider.value);
    smoothVal.textContent = cv.smooth.toFixed(2);
    keep();
    drawCurves(cv);
  });
  const toggle = (key, label) => h("label", { class: "muted" }, h("input", { type: "checkbox", id: `curves-${key}`, checked: cv[key], onchange: (e) => { cv[key] = e.target.checked; keep(); drawCurves(cv); } }), ` ${label}`);
  const why = c.informative?.metric === c.metric && !query.get("metric") && WHY[c.informative.why] ? `opened on ${c.metric}: ${WHY[c.informative.why]}` : "";
  view.replaceChildren(
    h("h1", {}, `${c.metric || "?"} over ${c.runs.length} run${c.runs.length === 1 ? "" : "s"}`, query.get("filter") ? h("span", { class: "muted", id: "curves-filter" }, ` (filter: ${query.get("filter")})`) : null),
    h("div", { class: "toolbar" }, "metric ", metricPick, " x ", xPick, " smoothing ", slider, smoothVal, toggle("logx", "log x"), toggle("logy", "log y"),
      chartButtons(`${id}-${c.metric}`, () => uplotPng(state.curves.uplot, { title: c.metric, legend: curveLegend(cv) }), () => uplotSvg(state.curves.uplot, { title: c.metric, legend: curveLegend(cv) })),
      why ? h("span", { class: "muted", id: "curves-why" }, why) : null),
    h("p", { class: "muted", id: "curves-notes" }),
    h("div", { class: "chart", id: "curves-chart" }),
    h("div", { class: "card", id: "curves-legend-box", style: "padding:0;overflow:auto;max-height:40vh" }),
  );
  drawCurves(cv);
  // While a plotted run is still going, its curve grows: ask again (the server reads only what was appended).
  let sig = JSON.stringify(c.runs);
  let busy = false;
  state.timers.push(setInterval(async () => {
    if (busy || !cv.data.runs.some((r) => !FINAL.has(r.state)) || state.curves?.uplot === undefined) return;
    busy = true;
    try {
      const next = await api(`/api/curves/${enc(id)}?${q}`);
      const nsig = JSON.stringify(next.runs);
      if (nsig !== sig && document.getElementById("curves-chart")) {
        sig = nsig;
        cv.data = next;
        drawCurves(cv);
      }
    } finally {
      busy = false;
    }
  }, 3000));
}
/** What the runs' x counts: `step`, the epoch or iteration key a run without steps logs, or the line number. */
const xName = (data) => {
  const key = data.runs.find((r) => r.x.length && r.xKey)?.xKey || "step";
  return key === "line" ? "line number" : key;
};

const FINAL = new Set(["succeeded", "failed", "timeout", "preempted", "cancelled", "pruned", "lost"]);

/** The curves as drawn now: per run its points on the chosen x, smoothed when asked. */
function curveRuns(cv) {
  const out = [];
  for (const r of cv.data.runs) {
    const xs = cv.x === "time" ? r.t : r.x;
    if (!xs || !r.y.length) continue;
    const pairs = xs.map((x, k) => [x, r.y[k]]).filter(([x]) => !cv.logx || x > 0).sort((a, b) => a[0] - b[0]);
    const x = pairs.map((p) => p[0]);
    const y = pairs.map((p) => (cv.logy && !(p[1] > 0) ? null : p[1]));
    out.push({ index: r.index, state: r.state, params: r.params, color: runColor(r.index), bad: ctx.UNSUCCESSFUL.has(r.state), x, y, smoothed: cv.smooth > 0 ? ema(y, cv.smooth) : null });
  }
  return out;
}
const curveLegend = (cv) => state().curves.runs.map((r) => ({ label: `${r.bad ? "✕ " : ""}run ${r.index} (${r.state})`, color: r.color, dash: r.bad ? [6, 4] : undefined }));
const state = () => ctx.state;

function drawCurves(cv) {
  const { h, fmt, state: st, stateBadge, enc } = ctx;
  const holder = document.getElementById("curves-chart");
  if (!holder) return;
  const old = st.curves?.uplot;
  if (old) {
    st.charts = st.charts.filter((u) => u !== old);
    old.destroy();
  }
  const runs = curveRuns(cv);
  const notes = [];
  if (cv.data.cut) notes.push(`showing the first ${cv.data.limit} of ${cv.data.matched} runs (at most ${cv.data.limit} per chart; narrow the filter or select runs)`);
  const missing = cv.data.runs.filter((r) => !r.y.length).map((r) => r.index);
  if (missing.length) notes.push(`no ${cv.metric} logged: run${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  const noTime = cv.x === "time" ? cv.data.runs.filter((r) => r.y.length && !r.t).map((r) => r.index) : [];
  if (noTime.length) notes.push(`wall time needs a time key (time, wall_time, timestamp, elapsed, runtime) in the run's metrics; left out: ${noTime.join(", ")}`);
  if (cv.logy) {
    const hidden = runs.reduce((n, r) => n + r.y.filter((v) => v === null).length, 0);
    if (hidden) notes.push(`log y: ${hidden} points ≤ 0 not drawn`);
  }
  document.getElementById("curves-notes").textContent = notes.join(" · ");
  const smooth = cv.smooth > 0;
  const tables = runs.flatMap((r) => (smooth ? [[r.x, r.y], [r.x, r.smoothed]] : [[r.x, r.y]]));
  const data = tables.length ? uPlot.join(tables) : [[]];
  const series = [{ label: cv.x === "time" ? "wall time (s)" : xName(cv.data) }];
  for (const r of runs) {
    const dash = r.bad ? [6, 4] : undefined;
    const base = { scale: "y", spanGaps: true, points: { show: false }, ...(dash ? { dash } : {}) };
    series.push({ ...base, label: `run ${r.index}${smooth ? " raw" : ""}`, stroke: smooth ? runColor(r.index, 0.25) : r.color, width: smooth ? 1 : 1.8 });
    if (smooth) series.push({ ...base, label: `run ${r.index}`, stroke: r.color, width: 2 });
  }
  const u = new uPlot({
    width: Math.min(1100, window.innerWidth - 60), height: 440,
    legend: { show: false },
    scales: { x: { time: false, distr: cv.logx ? 3 : 1 }, y: { distr: cv.logy ? 3 : 1 } },
    axes: [{ label: (cv.x === "time" ? "wall time (s)" : xName(cv.data)) + (cv.logx ? " (log)" : "") }, { label: (cv.metric || "") + (cv.logy ? " (log)" : ""), size: 60 }],
    series,
  }, data, holder);
  st.charts.push(u);
  st.curves = { sweep: cv.id, metric: cv.metric, x: cv.x, smooth: cv.smooth, logx: cv.logx, logy: cv.logy, uplot: u, runs };
  holder.dataset.series = String(runs.length);
  holder.dataset.smooth = String(cv.smooth);
  holder.dataset.logy = cv.logy ? "1" : "0";
  holder.dataset.logx = cv.logx ? "1" : "0";
  // The legend: colour, run, state (✕ and dashed when it ended badly), parameters, last value.
  const pcols = [...new Set(runs.flatMap((r) => Object.keys(r.params || {})))];
  document.getElementById("curves-legend-box").replaceChildren(h("table", { id: "curves-legend" },
    h("thead", {}, h("tr", {}, ["", "run", "state", ...pcols, `last ${cv.metric}`].map((c) => h("th", {}, c)))),
    h("tbody", {}, runs.map((r) => h("tr", { class: `link${r.bad ? " bad" : ""}`, "data-index": r.index, onclick: () => (location.hash = `#/run/${enc(cv.id)}/${r.index}`) },
      h("td", {}, h("span", { class: `swatch${r.bad ? " dashed" : ""}`, style: `border-color:${r.color}` })),
      h("td", { class: "num" }, r.index),
      h("td", {}, r.bad ? "✕ " : "", stateBadge(r.state)),
      pcols.map((p) => h("td", {}, fmt(r.params?.[p]))),
      h("td", { class: "num" }, fmt(r.y.filter((v) => v !== null).at(-1))))))));
}
