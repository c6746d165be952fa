// corral dashboard: analysis views. Per-parameter importance of a metric (a bar chart on the
// group-by view), two sweeps side by side (#/vs), and a study's progress (#/study/ID). The
// numbers come from the server (src/plan/analysis.ts); this module only draws them. Helpers of
// app.js (h, api, fmt, ...) arrive as `ui`, so the two modules do not import each other.

const NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of kids) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}
const enc = encodeURIComponent;
const num = (ui, x) => (typeof x === "number" ? ui.fmt(Number(x.toPrecision(4))) : "");

// ---------- importance ----------

/** A card with one horizontal bar per parameter: its share of the metric's variance. */
export function importanceCard(ui, sweepId, metric) {
  const card = ui.h("div", { class: "card", id: "importance" }, ui.h("p", { class: "muted" }, "computing importance…"));
  if (!metric) {
    card.replaceChildren(ui.h("p", { class: "muted" }, "no metric logged yet"));
    return card;
  }
  void ui.api(`/api/importance/${enc(sweepId)}?metric=${enc(metric)}`).then((r) => {
    if (!r.params.length) {
      card.replaceChildren(ui.h("p", { class: "muted" }, `no parameter takes more than one value in the ${r.runs} succeeded runs with ${metric}`));
      return;
    }
    const W = 640, row = 26, left = 150, top = 6;
    const H = top * 2 + r.params.length * row;
    const svg = s("svg", { id: "importance-chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "font-size": "12", "data-metric": metric });
    r.params.forEach((p, i) => {
      const y = top + i * row;
      const w = Math.max(1, p.importance * (W - left - 90));
      svg.append(
        s("text", { x: left - 8, y: y + 17, "text-anchor": "end" }, p.param),
        s("rect", { class: "imp-bar", x: left, y: y + 4, width: w.toFixed(1), height: row - 8, fill: "#2f6fdf", "data-param": p.param, "data-importance": p.importance },
          s("title", {}, `${p.param}: importance ${num(ui, p.importance)}, explains ${num(ui, 100 * p.explained)} % of the variance (${p.levels}${p.binned ? " quantile bins" : " values"})`)),
        s("text", { x: left + w + 6, y: y + 17 }, num(ui, p.importance)),
      );
    });
    const left_ = r.params.reduce((a, p) => a + p.explained, 0);
    card.replaceChildren(svg, ui.h("p", { class: "muted" },
      `${r.runs} succeeded runs. Each bar: the share of ${metric}'s variance that the parameter's means explain (between-value over total sum of squares; numeric parameters with more than 10 values in quantile bins), normalised to sum to 1. `,
      `Together they explain ${num(ui, 100 * Math.min(1, left_))} %; the rest is interactions between parameters and noise, which these first-order shares do not capture. corral results --importance ${metric} prints the same.`));
  }).catch((e) => card.replaceChildren(ui.h("p", { class: "error" }, String(e.message || e))));
  return card;
}

// ---------- two sweeps side by side ----------

export async function showVs(ui, view, query) {
  const sweeps = [...ui.state.sweeps.values()].filter((x) => x.kind !== "flow").sort((a, b) => b.createdAt - a.createdAt);
  ui.crumbs(["sweeps", "#/"], ["two sweeps"]);
  const a = query.get("a") || sweeps[1]?.id || "";
  const b = query.get("b") || sweeps[0]?.id || "";
  const go = (patch) => {
    const q = new URLSearchParams({ a, b, ...(query.get("metric") ? { metric: query.get("metric") } : {}), ...(query.get("mode") ? { mode: query.get("mode") } : {}), ...patch });
    location.hash = `#/vs?${q}`;
  };
  const label = (x) => x.name || x.id;
  const pickSweep = (id, value) => ui.h("select", { id, onchange: (e) => go({ [id === "vs-a" ? "a" : "b"]: e.target.value }) },
    ui.h("option", { value: "" }, "(pick a sweep)"), sweeps.map((x) => ui.h("option", { value: x.id, selected: x.id === value }, label(x))));
  const toolbar = ui.h("div", { class: "toolbar" }, "sweep A ", pickSweep("vs-a", a), " sweep B ", pickSweep("vs-b", b));
  view.replaceChildren(ui.h("h1", {}, "Two sweeps side by side"), toolbar);
  if (!a || !b) {
    view.append(ui.h("p", { class: "muted" }, "Pick two sweeps."));
    return;
  }
  const q = new URLSearchParams();
  if (query.get("metric")) q.set("metric", query.get("metric"));
  if (query.get("mode")) q.set("mode", query.get("mode"));
  const r = await ui.api(`/api/vs/${enc(a)}/${enc(b)}?${q}`);
  const [sa, sb] = r.sweeps;
  toolbar.append(" metric ", ui.h("select", { id: "vs-metric", onchange: (e) => go({ metric: e.target.value }) }, r.metrics.map((m) => ui.h("option", { value: m, selected: m === r.metric }, m))),
    " best is ", ui.h("select", { id: "vs-mode", onchange: (e) => go({ mode: e.target.value }) }, ["min", "max"].map((m) => ui.h("option", { value: m, selected: m === r.mode }, m))));
  const link = (sw, i) => ui.h("a", { href: `#/run/${enc(sw.id)}/${i}` }, `run ${i}`);
  const table = (id, head, rows, attrs) => ui.h("table", { id, ...attrs }, ui.h("thead", {}, ui.h("tr", {}, head.map((c) => ui.h("th", {}, c)))), ui.h("tbody", {}, rows));
  const td = (v, cls) => ui.h("td", cls ? { class: cls } : {}, v);
  const summary = table("vs-summary", ["", "sweep", "runs", "succeeded", `with ${r.metric}`, `${r.metric} mean ± std`, `best (${r.mode})`], [sa, sb].map((sw, k) => {
    const x = r.sides[k];
    return ui.h("tr", { "data-side": k ? "b" : "a" }, td(k ? "B" : "A"), td(ui.h("a", { href: `#/sweep/${enc(sw.id)}` }, label(sw))), td(String(x.runs), "num"), td(String(x.succeeded), "num"), td(String(x.withMetric), "num"),
      td(x.mean === undefined ? "" : `${num(ui, x.mean)}${x.std === undefined ? "" : ` ± ${num(ui, x.std)}`}`, "num"), td(x.best[0] ? num(ui, x.best[0].value) : "", "num"));
  }), { "data-a": sa.id, "data-b": sb.id, "data-metric": r.metric, "data-mode": r.mode });
  const params = (p) => Object.entries(p).map(([k, v]) => `${k}=${ui.fmt(v)}`).join(" ");
  const best = [sa, sb].map((sw, k) => ui.h("div", { class: "card" }, ui.h("h2", { style: "margin-top:0" }, `best runs of ${k ? "B" : "A"}: ${label(sw)}`),
    table(`vs-best-${k ? "b" : "a"}`, ["run", r.metric, "parameters"], r.sides[k].best.map((x) => ui.h("tr", { "data-index": x.index }, td(link(sw, x.index)), td(num(ui, x.value), "num"), td(ui.h("code", {}, params(x.params))))))));
  const shared = r.shared.map((p) => ui.h("div", { class: "card" }, ui.h("h2", { style: "margin-top:0" }, `${r.metric} mean by ${p.param}`),
    table(`vs-param-${p.param}`, [p.param, `A (n)`, `B (n)`], p.values.map((v) => ui.h("tr", { "data-value": ui.fmt(v.value) }, td(ui.fmt(v.value)),
      td(v.a ? `${num(ui, v.a.mean)} (${v.a.n})` : "", "num"), td(v.b ? `${num(ui, v.b.mean)} (${v.b.n})` : "", "num"))))));
  const diff = r.configDiff.length
    ? table("vs-config", ["config key", "A", "B"], r.configDiff.map((d) => ui.h("tr", { "data-key": d.key }, td(ui.h("code", {}, d.key)), td(d.a === undefined ? "(absent)" : ui.fmt(d.a)), td(d.b === undefined ? "(absent)" : ui.fmt(d.b)))))
    : ui.h("p", { class: "muted", id: "vs-config" }, "no config key differs (swept parameters left out)");
  view.append(
    ui.h("div", { class: "card", style: "padding:0;overflow:auto" }, summary),
    ui.h("div", { class: "grid2" }, best),
    ui.h("h2", {}, "parameters both sweep"),
    r.shared.length ? ui.h("div", { class: "grid2", id: "vs-shared" }, shared) : ui.h("p", { class: "muted" }, "no parameter is swept in both"),
    ui.h("h2", {}, "config keys that differ"),
    ui.h("div", { class: "card" }, diff, ui.h("p", { class: "muted" }, "from each sweep's first run's config.yaml; the means and best runs count succeeded runs only. corral results A --vs B --best METRIC prints the same.")),
  );
}

// ---------- a study ----------

export async function showStudy(ui, view, id) {
  const [st, d] = await Promise.all([ui.api(`/api/study/${enc(id)}`), ui.loadDetail(id)]);
  const sw = d.sweep;
  ui.crumbs(["sweeps", "#/"], [sw.name || sw.id, `#/sweep/${enc(sw.id)}`], ["study"]);
  const obj = st.objective;
  const facts = ui.h("dl", { class: "facts", id: "study-facts" },
    ui.h("dt", {}, "trials"), ui.h("dd", { "data-fact": "trials" }, `${st.trials.length} / ${st.budget}`),
    ui.h("dt", {}, "states"), ui.h("dd", { "data-fact": "states" }, `${st.complete} complete, ${st.pruned} pruned, ${st.failed} failed, ${st.trials.length - st.complete - st.pruned - st.failed} running`),
    ui.h("dt", {}, "sampler"), ui.h("dd", {}, st.sampler),
    ui.h("dt", {}, "objective"), ui.h("dd", {}, `${obj.metric} (${obj.mode})`),
    ui.h("dt", {}, "best trial"), ui.h("dd", { "data-fact": "best" }, st.best ? [ui.h("a", { href: `#/run/${enc(sw.id)}/${st.best.index}` }, `trial ${st.best.index}`), `: ${obj.metric} = ${ui.fmt(st.best.value)}`] : "none complete yet"),
    ui.h("dt", {}, "best params"), ui.h("dd", { "data-fact": "best-params" }, st.best ? ui.h("code", {}, st.best.overrides.join(" ")) : ""));
  view.replaceChildren(
    ui.h("h1", {}, `${sw.name || sw.id}: study`),
    ui.h("div", { class: "card" }, facts),
    ui.h("h2", {}, `${obj.metric} per trial, best so far`),
    ui.h("div", { class: "card", id: "study-chart" }, bestSoFarChart(ui, st)),
    ui.h("h2", {}, "parameters against the objective"),
    ui.h("div", { class: "card", id: "parcoords" }, ui.parallelCoords({ ...d, paramColumns: st.params.filter((p) => d.paramColumns.includes(p)) }, obj.metric)),
    ui.h("p", { class: "muted" }, "one line per trial with a value (a pruned trial's is the last it reported); blue low, red high"),
  );
}

/** Objective per trial as points (pruned: triangles, failed: crosses on the axis), best so far as a step line. */
function bestSoFarChart(ui, st) {
  const W = Math.min(1000, window.innerWidth - 80), H = 340, L = 70, R = 20, T = 14, B = 40;
  const vals = st.trials.filter((t) => typeof t.value === "number").map((t) => t.value);
  if (!st.trials.length) return ui.h("p", { class: "muted" }, "no trials yet");
  let lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.06;
  lo -= pad; hi += pad;
  const n = Math.max(st.budget, st.trials.length);
  const x = (k) => L + ((k + 0.5) * (W - L - R)) / n;
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const svg = s("svg", { id: "best-so-far", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "font-size": "11", "data-mode": st.objective.mode });
  svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#333" }), s("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#333" }));
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) svg.append(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, num(ui, v)));
  const every = Math.max(1, Math.ceil(n / 12));
  for (let k = 0; k < n; k += every) svg.append(s("text", { x: x(k), y: H - B + 16, "text-anchor": "middle" }, String(k)));
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, "trial"));
  // Best so far: a step line over the trial numbers where it is defined.
  const pts = [];
  let prev = null;
  st.bestSoFar.forEach((b, k) => {
    if (b === null) return;
    if (prev !== null) pts.push(`${x(k).toFixed(1)},${y(prev).toFixed(1)}`);
    pts.push(`${x(k).toFixed(1)},${y(b).toFixed(1)}`);
    prev = b;
  });
  if (pts.length) svg.append(s("polyline", { class: "best-line", points: pts.join(" "), fill: "none", stroke: "#2ca25f", "stroke-width": 2.5, "data-values": JSON.stringify(st.bestSoFar) }));
  const stateColor = (k) => ui.STATE_COLOR[k] || "#7f7f7f";
  for (const t of st.trials) {
    const tip = s("title", {}, `trial ${t.number}: ${t.state}${typeof t.value === "number" ? `, ${st.objective.metric} = ${ui.fmt(t.value)}` : ""}${t.prunedAt !== undefined ? ` (pruned at ${t.prunedAt})` : ""}\n${Object.entries(t.params).map(([k, v]) => `${k}=${ui.fmt(v)}`).join(" ")}`);
    const common = { class: `trial t-${t.state}`, "data-number": t.number, "data-state": t.state, ...(typeof t.value === "number" ? { "data-value": t.value } : {}) };
    const cx = x(t.number);
    if (t.state === "complete") svg.append(s("circle", { ...common, cx, cy: y(t.value), r: 5, fill: "#2f6fdf" }, tip));
    else if (t.state === "pruned" && typeof t.value === "number") {
      const cy = y(t.value);
      svg.append(s("path", { ...common, d: `M${cx},${cy - 6} L${cx + 6},${cy + 5} L${cx - 6},${cy + 5} Z`, fill: "none", stroke: stateColor("pruned"), "stroke-width": 2 }, tip));
    } else if (t.state === "failed" || t.state === "pruned") {
      const cy = H - B - 8;
      svg.append(s("path", { ...common, d: `M${cx - 5},${cy - 5} L${cx + 5},${cy + 5} M${cx - 5},${cy + 5} L${cx + 5},${cy - 5}`, stroke: stateColor(t.state === "failed" ? "failed" : "pruned"), "stroke-width": 2.5 }, tip));
    } else svg.append(s("circle", { ...common, cx, cy: H - B - 8, r: 4, fill: "none", stroke: stateColor("running"), "stroke-width": 2 }, tip));
  }
  const legend = ui.h("p", { class: "muted" }, `● complete · △ pruned (at its last reported value) · ✕ failed · ○ running · green step line: best so far (${st.objective.mode === "min" ? "lowest" : "highest"} ${st.objective.metric} of the complete trials up to each trial number)`);
  return ui.h("div", {}, svg, legend);
}
