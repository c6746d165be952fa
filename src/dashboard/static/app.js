// corral dashboard client: vanilla JS, no build step. Everything from the server is data:
// it is put into the page with textContent / attributes, never parsed as HTML.
/* global uPlot */
import { importanceCard, showStudy, showVs } from "./analysis.js";
import { initCurves, isSelected, selectCell, selectHead, showCurves, sweepActions } from "./curves.js";

const STATES = ["pending", "running", "succeeded", "failed", "timeout", "preempted", "cancelled", "pruned", "lost", "unknown"];
const FINAL = new Set(["succeeded", "failed", "timeout", "preempted", "cancelled", "pruned", "lost"]);
/** Ended without succeeding: marked wherever runs are drawn. */
const UNSUCCESSFUL = new Set(["failed", "timeout", "preempted", "cancelled", "lost"]);
/** Progress bars and count chips, left to right: done well, done badly, still to come. */
const BAR_ORDER = ["succeeded", "failed", "timeout", "preempted", "lost", "cancelled", "pruned", "unknown", "running", "pending", "unread"];
/** What a count chip or bar segment says for a key (`unread`: runs of a loading sweep the server has not read yet). */
const stateLabel = (k) => (k === "unread" ? "not read yet" : k);
const COLORS = ["#2f6fdf", "#e6850e", "#2ca25f", "#d7301f", "#9c6ade", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
// One set of state colours: style.css's custom properties (--failed, ...), read once for canvas and SVG.
const rootStyle = getComputedStyle(document.documentElement);
const STATE_COLOR = Object.fromEntries(STATES.map((k) => [k, rootStyle.getPropertyValue(`--${k}`).trim() || "#7f7f7f"]));

// The token arrived in the URL once; the server set a cookie. Drop it from the address bar/history.
if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);

const state = { sweeps: new Map(), detail: null, run: null, charts: [], timers: [], renderQueued: false };
window.corral = state; // for tests and curious users

// ---------- tiny DOM helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) if (kid !== undefined && kid !== null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const svgEl = (tag, attrs) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
};
const stateBadge = (s) => h("span", { class: `state s-${s}` }, stateLabel(s));
const fmt = (v) => {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");
const dur = (ms) => {
  if (ms === undefined || ms < 0) return "";
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
};
const enc = encodeURIComponent;

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

// Succeeded on the left, then the unsuccessful final states, then running, then pending; each
// segment names its count on hover, the count chips next to it are the legend (same colours).
function progressBar(s) {
  const counts = countsOf(s);
  const bar = h("div", { class: "progress", title: BAR_ORDER.filter((k) => counts[k]).map((k) => `${counts[k]} ${stateLabel(k)}`).join(", ") });
  for (const k of BAR_ORDER) {
    if (counts[k]) bar.append(h("div", { class: `s-${k}`, "data-state": k, title: `${counts[k]} ${stateLabel(k)}`, style: `width:${(100 * counts[k]) / Math.max(1, s.total)}%` }));
  }
  return bar;
}
/**
 * A summary's counts by state as shown: while a sweep loads, the server counts the runs it has
 * not read yet as `unknown`; they are shown apart, as `unread`, so `unknown` keeps meaning a
 * status record that could not be read.
 */
const countsOf = (s) => (s.unread ? { ...s.counts, unknown: Math.max(0, (s.counts.unknown || 0) - s.unread), unread: s.unread } : s.counts);
const countChips = (counts) => h("div", { class: "counts" }, BAR_ORDER.filter((k) => counts[k]).map((k) => h("span", { class: `state s-${k}`, "data-state": k }, `${counts[k]} ${stateLabel(k)}`)));
/** How far the dashboard has read a sweep still loading (its runs not read yet count as `unknown`); "" once whole. */
const loadingText = (s) => (s.unread ? `loading: read ${s.total - s.unread} of ${s.total} runs` : "");

// ---------- tables updated in place ----------
const cellSigs = new WeakMap();
/**
 * Make `tbody` hold one row per item, in order, keyed by `key(item)`. A row kept across updates
 * stays the same element, and a cell's content is rebuilt only when its signature changed: a live
 * update never swallows a click whose press and release straddle it. `row(item)` makes a new
 * row's <tr>; `cells(item)` gives each cell as [signature, make] where make() returns its <td>.
 */
function patchRows(tbody, items, key, row, cells) {
  const old = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  let at = tbody.firstElementChild;
  for (const item of items) {
    const k = String(key(item));
    let tr = old.get(k);
    old.delete(k);
    if (!tr) {
      tr = row(item);
      tr.dataset.key = k;
    }
    const cs = cells(item);
    cs.forEach(([sig, make], i) => {
      const td = tr.children[i];
      if (td && cellSigs.get(td) === sig) return;
      const fresh = make();
      if (!td) {
        cellSigs.set(fresh, sig);
        tr.append(fresh);
        return;
      }
      // The cell element stays; its attributes and content become the fresh one's.
      syncAttrs(td, fresh);
      td.replaceChildren(...fresh.childNodes);
      cellSigs.set(td, sig);
    });
    const n = tr.children.length - cs.length;
    for (let j = 0; j < n; j++) tr.lastElementChild.remove();
    if (tr === at) at = tr.nextElementSibling;
    else tbody.insertBefore(tr, at);
  }
  for (const tr of old.values()) tr.remove();
}
/** Give `el` exactly `fresh`'s attributes, touching only those that differ. */
function syncAttrs(el, fresh) {
  for (const a of [...el.attributes]) if (!fresh.hasAttribute(a.name)) el.removeAttribute(a.name);
  for (const a of fresh.attributes) if (el.getAttribute(a.name) !== a.value) el.setAttribute(a.name, a.value);
}
/** Replace `el`'s children only when their signature changed. */
function patchChildren(el, sig, make) {
  if (cellSigs.get(el) === sig) return;
  cellSigs.set(el, sig);
  el.replaceChildren(...make());
}

// ---------- routing ----------
function route() {
  const [p, q] = location.hash.replace(/^#/, "").split("?");
  const parts = (p || "/").split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q || "") };
}

function clearPage() {
  delete document.getElementById("view").dataset.sweep;
  delete document.getElementById("view").dataset.page;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  for (const c of state.charts) c.destroy();
  state.charts = [];
  state.run = null;
}

async function show() {
  clearPage();
  const { parts, query } = route();
  const view = document.getElementById("view");
  try {
    if (parts[0] === "sweep" && parts[1]) await showSweep(view, parts[1], query);
    else if (parts[0] === "run" && parts[1] && parts[2]) await showRun(view, parts[1], parts[2]);
    else if (parts[0] === "compare" && parts[1]) await showCompare(view, parts[1], query);
    else if (parts[0] === "group" && parts[1]) await showGroup(view, parts[1], query);
    else if (parts[0] === "curves" && parts[1]) await showCurves(view, parts[1], query);
    else if (parts[0] === "dag" && parts[1]) await showDag(view, parts[1]);
    else if (parts[0] === "vs") await showVs(ui, view, query);
    else if (parts[0] === "study" && parts[1]) await showStudy(ui, view, parts[1]);
    else showList(view);
  } catch (e) {
    view.replaceChildren(h("p", { class: "error" }, String(e.message || e)));
  }
}
window.addEventListener("hashchange", () => void show());

function crumbs(...items) {
  document.getElementById("crumbs").replaceChildren(...items.map(([label, href]) => (href ? h("a", { href }, label) : h("span", {}, label))));
}

// ---------- sweeps list ----------
// Drawn once, then updated in place on live updates (rows keyed by sweep id, see patchRows).
function showList(view) {
  state.detail = null;
  delete view.dataset.sweep;
  crumbs(["sweeps"]);
  const sweeps = [...state.sweeps.values()].sort((a, b) => b.createdAt - a.createdAt);
  if (view.dataset.page !== "list") {
    view.replaceChildren(h("div", { class: "toolbar", id: "list-bar" }, h("h1", {}, "Sweeps and pipelines")), h("div", { id: "list-box" }));
    view.dataset.page = "list";
  }
  const vs = document.getElementById("vs-link");
  if (sweeps.length > 1 && !vs) document.getElementById("list-bar").append(h("a", { class: "button", id: "vs-link", href: "#/vs" }, "compare two sweeps"));
  if (sweeps.length <= 1 && vs) vs.remove();
  const box = document.getElementById("list-box");
  if (!sweeps.length) {
    patchChildren(box, "empty", () => [h("p", { class: "muted" }, "No sweeps recorded in this project yet. Start one with corral run -m …")]);
    return;
  }
  patchChildren(box, "table", () => [h("table", { id: "sweeps" }, h("thead", {}, h("tr", {}, ["sweep", "kind", "started", "launcher", "done", "progress", "states"].map((c) => h("th", {}, c)))), h("tbody", {}))]);
  const cmd = (s) => [...s.command, ...s.overrides].join(" ");
  patchRows(box.querySelector("#sweeps tbody"), sweeps, (s) => s.id,
    (s) => h("tr", { class: "link", "data-id": s.id, onclick: () => (location.hash = `#/sweep/${enc(s.id)}`) }),
    (s) => [
      [JSON.stringify([s.name, cmd(s), loadingText(s)]), () => h("td", {}, h("a", { href: `#/sweep/${enc(s.id)}` }, s.name || s.id),
        h("div", { class: "cmd muted", title: cmd(s) }, h("code", {}, cmd(s))),
        s.unread ? h("div", { class: "loading-note", "data-unread": s.unread }, loadingText(s)) : null)],
      [s.kind, () => h("td", {}, s.kind === "flow" ? "pipeline" : "sweep")],
      [String(s.createdAt), () => h("td", {}, when(s.createdAt))],
      [s.launcher, () => h("td", {}, s.launcher)],
      [`${s.done}/${s.total}`, () => h("td", { class: "num done" }, `${s.done}/${s.total}`)],
      [JSON.stringify([s.counts, s.total, s.unread]), () => h("td", {}, progressBar(s))],
      [JSON.stringify([s.counts, s.unread]), () => h("td", {}, countChips(countsOf(s)))],
    ]);
}

// ---------- one sweep ----------
const sweepView = { sortKey: "run", sortDir: 1, filter: "" };

async function loadDetail(id) {
  state.detail = await fetchSweep(`/api/sweep/${enc(id)}`);
  return state.detail;
}

/** Live updates heard while a sweep's data is on its way (one list per request in flight). */
const inFlight = new Set();
/**
 * A sweep's data (`/api/sweep/...`), brought up to date with the live updates heard while it was
 * on its way: the answer may predate one of them, which is then not sent again. `stale`: read
 * while the sweep was loading, and every run was read before it arrived (ask again).
 */
async function fetchSweep(url) {
  const heard = [];
  inFlight.add(heard);
  let d;
  try {
    d = await api(url);
  } finally {
    inFlight.delete(heard);
  }
  const loading = !!d.sweep.unread;
  for (const e of heard) {
    if (e.type === "runs") applyRuns(d, e);
    else if (e.sweep.id === d.sweep.id) d.sweep = e.sweep;
  }
  d.stale = loading && !d.sweep.unread;
  return d;
}

/** A `runs` live update applied to a sweep's data (a page of it: the rows it holds). */
function applyRuns(d, e) {
  if (d.sweep.id !== e.sweep) return false;
  const at = new Map(d.runs.map((r, i) => [r.index, i]));
  for (const r of e.runs) {
    const i = at.get(r.index);
    if (i !== undefined) d.runs[i] = r;
    for (const [k, v] of Object.entries(r.metrics)) if (typeof v === "number" && !d.metricColumns.includes(k)) d.metricColumns.push(k);
  }
  return true;
}

// Sweeps above this many runs are filtered, sorted and cut into a page by the server
// (`?paged=1` in the hash forces it): the browser never holds 100,000 rows.
const PAGED_ABOVE = 5000;
const PAGE = 2000;
async function fetchPage(id) {
  const q = new URLSearchParams({ limit: String(PAGE), filter: sweepView.filter, sort: sweepView.sortKey, dir: sweepView.sortDir > 0 ? "asc" : "desc" });
  const d = await fetchSweep(`/api/sweep/${enc(id)}?${q}`);
  d.paged = true;
  // What the page is sorted by (the header shows it, not a sort asked for and not answered yet).
  d.sortedBy = { key: sweepView.sortKey, dir: sweepView.sortDir };
  return d;
}
let pageTimer;
let pageAsked = 0;
/**
 * Ask again for the sweep table shown (its page, or the whole sweep) and redraw it, unless the
 * page moved on or a newer answer was asked for meanwhile.
 */
function refetchSweep(view, id, delay = 150) {
  clearTimeout(pageTimer);
  pageTimer = setTimeout(async () => {
    const asked = ++pageAsked;
    const paged = state.detail?.paged;
    const d = paged ? await fetchPage(id) : await fetchSweep(`/api/sweep/${enc(id)}`);
    if (view.dataset.sweep !== id || asked !== pageAsked) return;
    state.detail = d;
    renderSweep(view, d);
    if (d.stale) refetchSweep(view, id, 0);
  }, delay);
}

async function showSweep(view, id, query) {
  const paged = query?.get("paged") === "1" || (state.sweeps.get(id)?.total ?? 0) > PAGED_ABOVE;
  const d = paged ? await fetchPage(id) : await loadDetail(id);
  state.detail = d;
  renderSweep(view, d);
  // Loading ended while this answer was on its way: ask again now.
  if (d.stale) refetchSweep(view, id, 0);
}

function cellValue(r, key, d) {
  if (key === "run") return r.index;
  if (key === "state") return r.state;
  if (key === "job") return r.job;
  if (key === "elapsed") return r.startedAt ? (r.endedAt || Date.now()) - r.startedAt : undefined;
  if (d.paramColumns.includes(key)) return r.params[key];
  return r.metrics[key];
}

function matchesFilter(r, d, text) {
  if (!text) return true;
  // Terms are ANDed; `key=value` matches a column exactly, anything else is a substring search.
  return text.trim().split(/\s+/).every((term) => {
    const m = /^([^=<>]+)(=|<|>)(.*)$/.exec(term);
    if (m) {
      const v = cellValue(r, m[1], d);
      if (m[2] === "=") return fmt(v) === m[3];
      const n = Number(m[3]);
      return typeof v === "number" && (m[2] === "<" ? v < n : v > n);
    }
    const hay = [r.index, r.state, r.job, r.host, ...r.overrides, ...Object.values(r.metrics).map(fmt)].join(" ").toLowerCase();
    return hay.includes(term.toLowerCase());
  });
}

function renderSweep(view, d) {
  const s = d.sweep;
  crumbs(["sweeps", "#/"], [s.name || s.id]);
  const cols = ["run", ...(s.kind === "flow" ? ["job"] : []), ...d.paramColumns, "state", "elapsed", ...d.metricColumns];
  // Paged: the server filtered and sorted already.
  const rows = d.paged ? [...d.runs] : d.runs.filter((r) => matchesFilter(r, d, sweepView.filter));
  const by = d.paged ? d.sortedBy : { key: sweepView.sortKey, dir: sweepView.sortDir };
  const key = cols.includes(by.key) ? by.key : "run";
  if (!d.paged) rows.sort((a, b) => {
    const x = cellValue(a, key, d);
    const y = cellValue(b, key, d);
    if (x === undefined && y === undefined) return a.index - b.index;
    if (x === undefined) return 1; // missing values last, whichever the direction
    if (y === undefined) return -1;
    const c = typeof x === "number" && typeof y === "number" ? x - y : key === "state" ? STATES.indexOf(x) - STATES.indexOf(y) : String(x).localeCompare(String(y));
    return sweepView.sortDir * c || a.index - b.index;
  });
  state.sweepTable = { id: s.id, cols, rows, paged: !!d.paged };
  const MAX = 2000; // a million-run sweep is filtered, not scrolled
  const matched = d.paged ? d.matched : rows.length;
  const shown = `${matched} of ${d.paged ? d.total : d.runs.length} runs${matched > MAX ? ` (first ${MAX} shown)` : ""}`;
  // Drawn once per sweep, then updated in place (live updates, filter, sort): the filter box keeps
  // focus and caret, and a row or header kept is the same element (a click is never swallowed).
  if (view.dataset.sweep !== s.id || !document.getElementById("filter")) {
    view.dataset.sweep = s.id;
    const filter = h("input", { type: "search", id: "filter", placeholder: "filter: text, key=value, loss<0.5, failed", value: sweepView.filter });
    filter.addEventListener("input", () => {
      sweepView.filter = filter.value;
      if (state.detail.paged) refetchSweep(view, s.id);
      else renderSweep(view, state.detail);
    });
    view.replaceChildren(
      h("h1", {}, s.name || s.id),
      h("p", { class: "muted" }, h("code", {}, [...s.command, ...s.overrides].join(" ")), ` · ${s.launcher} · ${s.dir}`),
      h("div", { class: "toolbar", id: "sweep-summary" }),
      h("p", { class: "loading-note", id: "loading-notice", hidden: true }),
      h("div", { class: "toolbar" }, filter,
        h("a", { class: "button", href: `#/compare/${enc(s.id)}` }, "compare: metric vs parameter"),
        h("a", { class: "button", href: `#/group/${enc(s.id)}` }, "group by: mean ± std"),
        s.kind === "flow" ? h("a", { class: "button", href: `#/dag/${enc(s.id)}` }, "pipeline DAG") : null,
        s.study ? h("a", { class: "button", id: "study-link", href: `#/study/${enc(s.id)}` }, "study: best so far") : null,
        ...sweepActions(s.id),
        h("span", { class: "muted", id: "shown" })),
      h("div", { class: "card", id: "runs-box", style: "padding:0;overflow:auto;max-height:70vh" }, h("table", { id: "runs" }, h("thead", {}, h("tr", {})), h("tbody", {}))),
    );
  }
  patchChildren(document.getElementById("sweep-summary"), JSON.stringify([s.done, s.total, s.counts, s.unread]), () => [h("span", { class: "num done" }, `${s.done}/${s.total} done`), progressBar(s), countChips(countsOf(s))]);
  // A sweep still loading: what a filter or sort covers (the table is asked again once it is whole).
  const notice = document.getElementById("loading-notice");
  notice.hidden = !s.unread;
  notice.dataset.unread = String(s.unread || 0);
  notice.textContent = s.unread ? `${loadingText(s)}; filters and sorts cover the runs read so far (the table updates when all are read)` : "";
  document.getElementById("shown").textContent = shown;
  const table = document.getElementById("runs");
  const shownRows = () => (state.sweepTable?.id === s.id ? state.sweepTable.rows.slice(0, MAX) : []);
  const allPicked = shownRows().length > 0 && shownRows().every((r) => isSelected(s.id, r.index));
  patchChildren(table.tHead.rows[0], JSON.stringify([cols, key, by.dir, allPicked]), () => [selectHead(s.id, shownRows), ...cols.map((c) =>
    h("th", { class: `sortable${c === key ? (by.dir > 0 ? " sorted-asc" : " sorted-desc") : ""}`, "data-col": c, onclick: () => {
      sweepView.sortDir = sweepView.sortKey === c ? -sweepView.sortDir : 1;
      sweepView.sortKey = c;
      if (state.detail.paged) refetchSweep(view, s.id);
      else renderSweep(view, state.detail);
    } }, c))]);
  const cell = (r, c) => {
    const v = cellValue(r, c, d);
    if (c === "state") return [`s:${r.unread ? "unread" : r.state}`, () => h("td", {}, stateBadge(r.unread ? "unread" : r.state))];
    if (c === "elapsed") return [`e:${dur(v)}`, () => h("td", { class: "num" }, dur(v))];
    return [`${typeof v}:${fmt(v)}`, () => h("td", { class: typeof v === "number" ? "num" : "" }, fmt(v))];
  };
  patchRows(table.tBodies[0], rows.slice(0, MAX), (r) => r.index,
    (r) => h("tr", { class: "link", "data-index": r.index, onclick: () => (location.hash = `#/run/${enc(s.id)}/${r.index}`) }),
    (r) => [["pick", () => selectCell(s.id, r.index)], ...cols.map((c) => cell(r, c))]);
}

// ---------- one run ----------
async function showRun(view, sweepId, index) {
  const info = await api(`/api/run/${enc(sweepId)}/${enc(index)}`);
  const s = info.sweep;
  state.run = { sweep: s.id, index: info.run.index, info, metricsSig: "" };
  crumbs(["sweeps", "#/"], [s.name || s.id, `#/sweep/${enc(s.id)}`], [`run ${info.run.index}`]);
  const facts = h("dl", { class: "facts", id: "facts" });
  const history = h("ol", { id: "history" });
  const charts = h("div", { class: "charts", id: "charts" }, h("p", { class: "muted" }, "no metrics yet"));
  const log = h("pre", { class: "log", id: "log" });
  const tabs = h("div", { class: "tabs" });
  let stream = "stdout";
  let offset = 0;
  for (const name of ["stdout", "stderr"]) {
    tabs.append(h("button", { class: name === stream ? "on" : "", "data-stream": name, onclick: (e) => {
      stream = name;
      offset = 0;
      log.textContent = "";
      for (const b of tabs.children) b.className = b === e.target ? "on" : "";
      void pollLog();
    } }, name));
  }
  view.replaceChildren(
    h("h1", {}, `run ${info.run.index}`, " ", h("span", { id: "run-state" }, stateBadge(info.run.state))),
    h("p", { class: "muted" }, h("code", {}, info.run.overrides.join(" ") || "(no overrides)"), ` · id ${info.run.id}`),
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h2", { style: "margin-top:0" }, "Run and scheduler"), facts, h("h2", {}, "Status history"), history),
      h("div", { class: "card" }, h("h2", { style: "margin-top:0" }, "Config"), h("pre", { class: "config", id: "config" }, info.config || "(not written yet)"))),
    h("div", { class: "card" }, h("h2", { style: "margin-top:0" }, "Metrics"), charts),
    h("div", { class: "card" }, h("h2", { style: "margin-top:0" }, "Output"), tabs, log),
  );
  renderFacts(info);

  let busy = false;
  async function pollLog() {
    if (busy) return;
    busy = true;
    try {
      const want = stream;
      const q = offset ? `&offset=${offset}` : "";
      const r = await api(`/api/logs/${enc(s.id)}/${info.run.index}?stream=${want}${q}`);
      if (want !== stream) return;
      if (r.offset < offset) log.textContent = ""; // truncated: a new attempt
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
      log.textContent = (log.textContent + r.text).slice(-200_000);
      offset = r.next;
      if (atBottom) log.scrollTop = log.scrollHeight;
    } finally {
      busy = false;
    }
  }
  await pollLog();
  await refreshMetrics();
  state.timers.push(setInterval(() => {
    if (state.run && !FINAL.has(state.run.info.run.state)) void pollLog();
  }, 1000));
  // One last read after the run ends, so the tail is complete.
  state.timers.push(setInterval(() => void pollLog(), 5000));
}

function renderFacts(info) {
  const r = info.run;
  const st = info.status || {};
  const facts = document.getElementById("facts");
  if (!facts) return;
  const pairs = [
    ["state", stateBadge(r.state)],
    ["attempt", r.attempt || ""],
    ["scheduler job", r.jobId || info.jobs.map((j) => j.jobId).join(", ")],
    ["launcher", info.sweep.launcher],
    ["node", r.host || ""],
    ["GPUs", (st.gpus || []).join(", ") || "none"],
    ["CPUs", (st.cpus || []).join(", ")],
    ["pid", st.pid || ""],
    ["worker", st.worker ? `${st.worker.batchId} (pid ${st.worker.pid} on ${st.worker.host})` : ""],
    ["started", when(r.startedAt)],
    ["ended", when(r.endedAt)],
    ["elapsed", r.startedAt ? dur((r.endedAt || Date.now()) - r.startedAt) : ""],
    ["exit code", r.exitCode === undefined ? "" : fmt(r.exitCode)],
    ["message", r.message || ""],
    ["folder", h("code", {}, info.dir)],
  ];
  if (r.job) pairs.splice(1, 0, ["job", r.job]);
  facts.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, v)]));
  document.getElementById("run-state")?.replaceChildren(stateBadge(r.state));
  document.getElementById("history")?.replaceChildren(...(st.history || []).map((e) => h("li", {}, stateBadge(e.state), ` ${when(e.at)} (attempt ${e.attempt})`)));
}

async function refreshMetrics() {
  const run = state.run;
  if (!run) return;
  // Downsampled by the server (first, min, max and last point of each bucket), sorted by x.
  const { rows, x: serverX } = await api(`/api/metrics/${enc(run.sweep)}/${run.index}`);
  if (state.run !== run) return;
  const box = document.getElementById("charts");
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === "number")))];
  const xKey = [serverX, "step", "epoch", "iter", "iteration"].find((k) => k && keys.includes(k) && isMonotone(rows.map((r) => r[k])));
  const ys = keys.filter((k) => k !== xKey);
  if (!rows.length || !ys.length) return;
  for (const c of state.charts) c.destroy();
  state.charts = [];
  box.replaceChildren();
  const x = rows.map((r, i) => (xKey ? r[xKey] : i));
  ys.slice(0, 12).forEach((k, i) => {
    const holder = h("div", { class: "chart", "data-metric": k });
    box.append(holder);
    const y = rows.map((r) => (typeof r[k] === "number" ? r[k] : null));
    const u = new uPlot({
      width: 420, height: 220, title: k,
      scales: { x: { time: false } },
      axes: [{ label: xKey || "line" }, {}],
      series: [{ label: xKey || "line" }, { label: k, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: rows.length < 60 } }],
    }, [x, y], holder);
    state.charts.push(u);
  });
}
const isMonotone = (a) => a.every((v, i) => typeof v === "number" && (i === 0 || v >= a[i - 1]));

// ---------- group by: mean ± std over some parameters; parallel coordinates ----------
/** The metric a view of a sweep opens on: the one asked for, else the most informative (the server's `informative`: curves.ts), never `step`. */
const metricOf = (d, query) => query.get("metric") || d.informative?.metric || d.metricColumns.find((m) => m !== "step") || d.metricColumns[0];

async function showGroup(view, id, query) {
  const d = await loadDetail(id);
  const s = d.sweep;
  crumbs(["sweeps", "#/"], [s.name || s.id, `#/sweep/${enc(s.id)}`], ["group by"]);
  const over = query.getAll("over").filter((o) => d.paramColumns.includes(o));
  if (!query.has("over") && d.paramColumns.includes("seed")) over.push("seed");
  const metric = metricOf(d, query);
  const go = (o, m) => {
    const q = new URLSearchParams(o.map((x) => ["over", x]));
    if (!o.length) q.set("over", "");
    if (m) q.set("metric", m);
    location.hash = `#/group/${enc(s.id)}?${q}`;
  };
  const boxes = d.paramColumns.map((p) => h("label", { class: "muted" }, h("input", { type: "checkbox", "data-over": p, checked: over.includes(p), onchange: (e) => go(e.target.checked ? [...over, p] : over.filter((x) => x !== p), metric) }), ` ${p} `));
  const pick = h("select", { id: "pick-metric", onchange: (e) => go(over, e.target.value) }, d.metricColumns.map((m) => h("option", { value: m, selected: m === metric }, m)));
  const g = await api(`/api/group/${enc(s.id)}?${new URLSearchParams(over.map((x) => ["over", x]))}`);
  const cols = [...g.keys, "n", ...g.metrics.flatMap((m) => [`${m} (mean ± std)`, `${m} min..max`])];
  const num = (x) => fmt(Number(x.toPrecision(4)));
  const body = g.rows.map((r) => h("tr", {}, [
    ...g.keys.map((k) => h("td", {}, fmt(r.params[k]))),
    h("td", { class: "num" }, String(r.n)),
    ...g.metrics.flatMap((m) => {
      const st = r.stats[m];
      if (!st) return [h("td", {}), h("td", {})];
      const of = st.n < r.n ? ` (${st.n}/${r.n})` : "";
      return [h("td", { class: "num" }, `${num(st.mean)}${st.std === undefined ? "" : ` ± ${num(st.std)}`}${of}`), h("td", { class: "num" }, `${num(st.min)}..${num(st.max)}`)];
    }),
  ]));
  const table = h("table", { id: "group-table" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))), h("tbody", {}, body));
  view.replaceChildren(
    h("h1", {}, over.length ? `mean ± std over ${over.join(", ")}` : "every run"),
    h("div", { class: "toolbar" }, "average over: ", ...boxes, h("span", { class: "muted" }, `${g.rows.length} rows; std is the sample standard deviation (n − 1); corral results --over prints the same table`)),
    h("div", { class: "card", style: "padding:0;overflow:auto;max-height:45vh" }, table),
    h("h2", {}, "parallel coordinates"),
    h("div", { class: "toolbar" }, "colour: ", pick, h("span", { class: "muted" }, "one line per run through its parameters and the metric; blue low, red high")),
    h("div", { class: "card", id: "parcoords" }, parallelCoords(d, metric)),
    h("h2", {}, `importance of each parameter for ${metric}`),
    importanceCard(ui, s.id, metric),
  );
}

/** An SVG with one vertical axis per swept parameter plus the metric; one polyline per run. */
function parallelCoords(d, metric) {
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, ...kids) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of kids) e.append(c);
    return e;
  };
  const runs = d.runs.filter((r) => typeof r.metrics[metric] === "number").slice(0, 5000);
  const axes = [...d.paramColumns.filter((p) => new Set(runs.map((r) => fmt(r.params[p]))).size > 1), metric];
  const W = Math.max(480, axes.length * 140), H = 320, top = 30, bottom = 30, left = 60, right = 60;
  const val = (r, a) => (a === metric ? r.metrics[a] : r.params[a]);
  const scales = axes.map((a) => {
    const vs = runs.map((r) => val(r, a));
    if (vs.every((v) => typeof v === "number")) {
      const lo = Math.min(...vs), hi = Math.max(...vs);
      const log = lo > 0 && hi / lo >= 100;
      const t = (v) => (log ? Math.log10(v) : v);
      return { a, f: (v) => (hi === lo ? 0.5 : (t(v) - t(lo)) / (t(hi) - t(lo))), ticks: [lo, hi] };
    }
    const cats = [...new Set(vs.map(fmt))];
    return { a, f: (v) => (cats.length === 1 ? 0.5 : cats.indexOf(fmt(v)) / (cats.length - 1)), ticks: cats };
  });
  const xOf = (i) => left + (i * (W - left - right)) / Math.max(1, axes.length - 1);
  const yOf = (u) => top + (1 - u) * (H - top - bottom);
  const ms = runs.map((r) => r.metrics[metric]);
  const mlo = Math.min(...ms), mhi = Math.max(...ms);
  const colour = (v) => `hsl(${Math.round(240 * (1 - (mhi === mlo ? 0.5 : (v - mlo) / (mhi - mlo))))} 70% 45%)`;
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, "font-size": "11", "data-axes": axes.join(",") });
  for (const r of runs) {
    const pts = scales.map((s, i) => `${xOf(i).toFixed(1)},${yOf(s.f(val(r, s.a))).toFixed(1)}`).join(" ");
    svg.append(el("polyline", { points: pts, fill: "none", stroke: colour(r.metrics[metric]), "stroke-opacity": runs.length > 200 ? "0.3" : "0.8", class: `pc-run${UNSUCCESSFUL.has(r.state) ? " failed" : ""}`, "data-index": r.index }, el("title", {}, `run ${r.index}: ${metric}=${fmt(r.metrics[metric])}`)));
  }
  scales.forEach((s, i) => {
    svg.append(el("line", { x1: xOf(i), x2: xOf(i), y1: top, y2: H - bottom, stroke: "#333" }));
    svg.append(el("text", { x: xOf(i), y: top - 10, "text-anchor": "middle", "font-weight": "bold" }, s.a));
    const ticks = s.ticks.length > 8 ? [s.ticks[0], s.ticks[s.ticks.length - 1]] : s.ticks;
    for (const t of ticks) svg.append(el("text", { x: xOf(i) + 4, y: yOf(s.f(t)) + 4 }, fmt(t)));
  });
  return svg;
}

// ---------- compare: a metric against a swept parameter ----------
async function showCompare(view, id, query) {
  const d = await loadDetail(id);
  const s = d.sweep;
  crumbs(["sweeps", "#/"], [s.name || s.id, `#/sweep/${enc(s.id)}`], ["compare"]);
  const metric = metricOf(d, query);
  const param = query.get("param") || d.paramColumns[0];
  const pick = (name, options, value) => h("select", { id: `pick-${name}`, onchange: (e) => {
    const q = new URLSearchParams({ metric, param, [name]: e.target.value });
    location.hash = `#/compare/${enc(s.id)}?${q}`;
  } }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
  const holder = h("div", { class: "chart", id: "compare-chart" });
  const table = h("div", { class: "card", id: "compare-table", style: "padding:0;overflow:auto;max-height:50vh" });
  view.replaceChildren(
    h("h1", {}, `${metric || "?"} vs ${param || "?"}`),
    h("div", { class: "toolbar" }, "metric ", pick("metric", d.metricColumns, metric), " parameter ", pick("param", d.paramColumns, param),
      h("span", { class: "muted" }, "latest value of each run; one line per combination of the other parameters (points only for a categorical parameter); ✕ a run that ended without succeeding, not in the lines")),
    holder,
    table,
  );
  if (!metric || !param) return;
  table.replaceChildren(drawCompare(holder, d, metric, param));
}

function drawCompare(holder, d, metric, param) {
  const pts = d.runs.filter((r) => typeof r.metrics[metric] === "number" && param in r.params);
  const numeric = pts.every((r) => typeof r.params[param] === "number");
  const cats = numeric ? null : [...new Set(pts.map((r) => fmt(r.params[param])))];
  const xOf = (r) => (numeric ? r.params[param] : cats.indexOf(fmt(r.params[param])));
  const others = d.paramColumns.filter((k) => k !== param && new Set(pts.map((r) => fmt(r.params[k]))).size > 1);
  const groupOf = (r) => others.map((k) => `${k}=${fmt(r.params[k])}`).join(", ") || "all runs";
  const groups = new Map();
  for (const r of pts) {
    const label = groupOf(r);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(r);
  }
  const xs = [...new Set(pts.map(xOf))].sort((a, b) => a - b);
  const series = [...groups.entries()].slice(0, 20);
  // Lines average the runs that did not end badly; those are crosses of their own (drawn below).
  const avg = (rs, x) => {
    const hit = rs.filter((r) => xOf(r) === x).map((r) => r.metrics[metric]);
    return hit.length ? hit.reduce((a, b) => a + b, 0) / hit.length : null;
  };
  const bad = pts.filter((r) => UNSUCCESSFUL.has(r.state));
  const data = [xs, ...series.map(([, rs]) => xs.map((x) => avg(rs.filter((r) => !UNSUCCESSFUL.has(r.state)), x)))];
  if (bad.length) data.push(xs.map((x) => avg(bad, x)));
  const logX = numeric && xs.length > 1 && xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 100;
  const noLine = () => null; // categories are points, never joined
  const marks = [];
  state.compare = { categorical: !!cats, failed: marks };
  const crosses = (u) => {
    const ctx = u.ctx;
    const r = 5 * devicePixelRatio;
    marks.length = 0;
    ctx.save();
    ctx.lineWidth = 2.5 * devicePixelRatio;
    for (const run of bad) {
      const cx = u.valToPos(xOf(run), "x", true);
      const cy = u.valToPos(run.metrics[metric], "y", true);
      ctx.strokeStyle = STATE_COLOR[run.state];
      ctx.beginPath();
      ctx.moveTo(cx - r, cy - r); ctx.lineTo(cx + r, cy + r);
      ctx.moveTo(cx - r, cy + r); ctx.lineTo(cx + r, cy - r);
      ctx.stroke();
      marks.push({ index: run.index, state: run.state, x: cx / devicePixelRatio, y: cy / devicePixelRatio });
    }
    ctx.restore();
  };
  const states = [...new Set(bad.map((r) => r.state))];
  const u = new uPlot({
    width: Math.min(1100, window.innerWidth - 60), height: 420,
    scales: { x: { time: false, ...(logX ? { distr: 3 } : {}), ...(cats ? { range: () => [-0.5, cats.length - 0.5] } : {}) } },
    axes: [{ label: param + (logX ? " (log)" : ""), ...(cats ? { splits: () => cats.map((_c, i) => i), values: (_u, ticks) => ticks.map((t) => cats[t] ?? "") } : {}) }, { label: metric }],
    series: [
      { label: param, ...(cats ? { value: (_u, v) => (v === null ? "" : cats[v] ?? "") } : {}) },
      ...series.map(([label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: true, size: cats ? 9 : 7, ...(cats ? { fill: COLORS[i % COLORS.length] } : {}) }, ...(cats ? { paths: noLine } : {}) })),
      ...(bad.length ? [{ label: `✕ ${states.join(", ")} (${bad.length})`, stroke: STATE_COLOR[states.length === 1 ? states[0] : "failed"], width: 2, paths: noLine, points: { show: false } }] : []),
    ],
    hooks: { draw: [crosses] },
  }, data, holder);
  state.charts.push(u);

  // Every run in the chart, with its state: the table says what each mark is.
  const rows = [...pts].sort((a, b) => xOf(a) - xOf(b) || a.index - b.index).slice(0, 2000);
  return h("table", { id: "compare-runs" },
    h("thead", {}, h("tr", {}, ["run", param, ...others, "state", metric].map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { class: `link${UNSUCCESSFUL.has(r.state) ? " bad" : ""}`, "data-index": r.index, "data-state": r.state, onclick: () => (location.hash = `#/run/${enc(d.sweep.id)}/${r.index}`) },
      h("td", { class: "num" }, r.index),
      h("td", {}, fmt(r.params[param])),
      others.map((k) => h("td", {}, fmt(r.params[k]))),
      h("td", {}, UNSUCCESSFUL.has(r.state) ? "✕ " : "", stateBadge(r.state)),
      h("td", { class: "num" }, fmt(r.metrics[metric]))))));
}

// ---------- pipeline DAG ----------
async function showDag(view, id) {
  const d = await loadDetail(id);
  const s = d.sweep;
  crumbs(["sweeps", "#/"], [s.name || s.id, `#/sweep/${enc(s.id)}`], ["DAG"]);
  if (dagView.sweep !== s.id) Object.assign(dagView, { sweep: s.id, selected: undefined });
  renderDag(view, d);
}

const dagView = { sweep: undefined, selected: undefined };

function renderDag(view, d) {
  const s = d.sweep;
  const picture = dagPicture(d);
  const panel = dagPanel(d);
  cellSigs.set(panel, JSON.stringify([dagView.selected, d.runs.find((x) => x.index === dagView.selected)]));
  const old = view.dataset.page === `dag:${s.id}` ? document.getElementById("dag") : null;
  if (old && old.dataset.layout === picture.dataset.layout) {
    // The same jobs and edges (a live update, a pick): nodes change in place, so a click on one
    // is never swallowed and the focus stays; the side panel is redrawn only when it changed.
    patchChildren(document.getElementById("dag-counts"), JSON.stringify([s.counts, s.unread]), () => [countChips(countsOf(s))]);
    const fresh = new Map([...picture.querySelectorAll("[data-index]")].map((e) => [e.getAttribute("data-index"), e]));
    for (const el of old.querySelectorAll("[data-index]")) syncTree(el, fresh.get(el.getAttribute("data-index")));
    const shown = document.getElementById("dag-panel");
    if (cellSigs.get(shown) !== cellSigs.get(panel)) shown.replaceWith(panel);
    return;
  }
  view.dataset.page = `dag:${s.id}`;
  view.replaceChildren(h("h1", {}, `${s.name || s.id}: pipeline`), h("div", { class: "toolbar", id: "dag-counts" }, countChips(countsOf(s))),
    h("div", { class: "dag-layout" }, picture, panel));
}

/** Make `el` look as `fresh` does (same element structure): attributes and the texts of leaves. */
function syncTree(el, fresh) {
  if (!fresh) return;
  syncAttrs(el, fresh);
  if (el.children.length === 0 || el.children.length !== fresh.children.length) {
    if (el.textContent !== fresh.textContent) el.replaceChildren(...fresh.childNodes);
    return;
  }
  for (let i = 0; i < el.children.length; i++) syncTree(el.children[i], fresh.children[i]);
}

/** Everything about one job, shown when its node is clicked: nothing is cut here. */
function dagPanel(d) {
  const r = d.runs.find((x) => x.index === dagView.selected);
  if (!r) return h("aside", { class: "card dag-panel", id: "dag-panel", hidden: true });
  const wild = Object.entries(r.params || {});
  return h("aside", { class: "card dag-panel", id: "dag-panel" },
    h("button", { class: "close", title: "close", onclick: () => {
      dagView.selected = undefined;
      renderDag(document.getElementById("view"), state.detail);
    } }, "×"),
    h("h2", { style: "margin-top:0" }, "Job"),
    h("dl", { class: "facts" },
      h("dt", {}, "job"), h("dd", { "data-fact": "job" }, h("code", { class: "key" }, r.job || `run ${r.index}`)),
      h("dt", {}, "rule"), h("dd", { "data-fact": "rule" }, r.rule || ""),
      h("dt", {}, "wildcards"), h("dd", { "data-fact": "wildcards" }, wild.length ? h("ul", { class: "wildcards" }, wild.map(([k, v]) => h("li", {}, h("code", {}, `${k}=${fmt(v)}`)))) : "none"),
      h("dt", {}, "state"), h("dd", { "data-fact": "state" }, stateBadge(r.state)),
      r.message ? [h("dt", {}, "message"), h("dd", { "data-fact": "message" }, r.message)] : null,
      h("dt", {}, "run"), h("dd", { "data-fact": "run" }, h("a", { href: `#/run/${enc(d.sweep.id)}/${r.index}`, id: "dag-run-link" }, `open run ${r.index}`))));
}

/** At most `n` characters; a cut label keeps its start and its end (the wildcards) around "…". */
function shorten(label, n) {
  if (label.length <= n) return label;
  const tail = Math.floor((n - 1) / 2);
  return label.slice(0, n - 1 - tail) + "…" + label.slice(label.length - tail);
}

function dagPicture(d) {
  const edges = d.manifest.edges;
  // What places the boxes: the jobs (index, label, rule) and the edges; a state changes none of it.
  const layout = JSON.stringify([edges || [], d.runs.map((r) => [r.index, r.job, r.rule])]);
  const link = (r) => `#/run/${enc(d.sweep.id)}/${r.index}`;
  if (!edges || !edges.length) {
    // No edges recorded: the jobs grouped by rule, each coloured by state.
    const byRule = new Map();
    for (const r of d.runs) {
      const k = r.rule || "(no rule)";
      if (!byRule.has(k)) byRule.set(k, []);
      byRule.get(k).push(r);
    }
    return h("div", { class: "card", id: "dag", "data-layout": layout }, h("p", { class: "muted" }, "This pipeline's manifest records no edges; jobs grouped by rule."),
      [...byRule.entries()].map(([rule, rs]) => h("div", { class: "rule" }, h("h2", {}, `${rule} (${rs.length})`),
        h("div", { class: "chips" }, rs.map((r) => h("a", { class: `chip s-${r.state}`, "data-state": r.state, href: link(r), title: `${r.job || `run ${r.index}`}: ${r.state}` }, UNSUCCESSFUL.has(r.state) ? "✕ " : "", r.job || `run ${r.index}`))))));
  }
  // Layered layout: each job one layer right of its deepest input.
  const byIndex = new Map(d.runs.map((r) => [r.index, r]));
  const preds = new Map(d.runs.map((r) => [r.index, []]));
  for (const [a, b] of edges) if (preds.has(b) && byIndex.has(a)) preds.get(b).push(a);
  const layer = new Map();
  const depth = (i, seen = new Set()) => {
    if (layer.has(i)) return layer.get(i);
    if (seen.has(i)) return 0; // a cycle in a hand-edited manifest: stop, do not hang
    seen.add(i);
    const l = Math.max(-1, ...preds.get(i).map((p) => depth(p, seen))) + 1;
    layer.set(i, l);
    return l;
  };
  for (const r of d.runs) depth(r.index);
  const layers = [];
  for (const r of d.runs) (layers[layer.get(r.index)] ||= []).push(r);
  for (const l of layers) l?.sort((a, b) => String(a.rule).localeCompare(String(b.rule)) || a.index - b.index);
  // Boxes as wide as the longest label needs, within bounds; longer labels are shortened in the
  // box only: the full key is the node's tooltip and is in the side panel on click.
  const CH = 7; // px per character of the 11px label font, rounded up
  const longest = Math.max(0, ...d.runs.map((r) => (r.job || `run ${r.index}`).length));
  const W = Math.round(Math.min(320, Math.max(170, longest * CH + 20))), GAP = 60, H = 26, VG = 10;
  const fits = Math.floor((W - 16) / CH);
  const pos = new Map();
  layers.forEach((l, li) => l?.forEach((r, k) => pos.set(r.index, { x: 10 + li * (W + GAP), y: 10 + k * (H + VG) })));
  const width = 20 + layers.length * (W + GAP);
  const height = 20 + Math.max(...layers.map((l) => l?.length || 0)) * (H + VG);
  const svg = svgEl("svg", { class: "dag", width, height, viewBox: `0 0 ${width} ${height}` });
  for (const [a, b] of edges) {
    const p = pos.get(a), q = pos.get(b);
    if (!p || !q) continue;
    const x1 = p.x + W, y1 = p.y + H / 2, x2 = q.x, y2 = q.y + H / 2;
    svg.append(svgEl("path", { d: `M${x1},${y1} C${x1 + GAP / 2},${y1} ${x2 - GAP / 2},${y2} ${x2},${y2}` }));
  }
  for (const r of d.runs) {
    const p = pos.get(r.index);
    const label = r.job || `run ${r.index}`;
    const mark = UNSUCCESSFUL.has(r.state) ? "✕ " : "";
    const shown = shorten(label, fits - mark.length);
    const g = svgEl("g", { class: `node${r.index === dagView.selected ? " selected" : ""}`, "data-index": r.index, "data-state": r.state, "data-key": label, tabindex: 0 });
    const rect = svgEl("rect", { x: p.x, y: p.y, width: W, height: H, fill: STATE_COLOR[r.state] });
    const title = svgEl("title", {});
    title.textContent = `${label}\nrule ${r.rule || "?"} · ${r.state}`;
    const text = svgEl("text", { x: p.x + 8, y: p.y + 17 });
    text.textContent = mark + shown;
    if (shown !== label) text.setAttribute("data-shortened", "");
    g.append(title, rect, text);
    const pick = () => {
      dagView.selected = r.index;
      renderDag(document.getElementById("view"), state.detail);
    };
    g.addEventListener("click", pick);
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
    svg.append(g);
  }
  return h("div", { class: "card", id: "dag", style: "overflow:auto", "data-layout": layout }, svg);
}

// ---------- live updates ----------
function queueRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  setTimeout(() => {
    state.renderQueued = false;
    const { parts } = route();
    const view = document.getElementById("view");
    if (!parts.length) showList(view);
    else if (parts[0] === "sweep" && state.detail && view.dataset.sweep === state.detail.sweep.id) renderSweep(view, state.detail);
    else if (parts[0] === "dag" && state.detail && view.dataset.page === `dag:${state.detail.sweep.id}`) renderDag(view, state.detail);
  }, 250);
}

function onRuns(e) {
  for (const heard of inFlight) heard.push(e);
  if (state.detail && applyRuns(state.detail, e)) queueRender();
  const run = state.run;
  if (run && run.sweep === e.sweep) {
    const r = e.runs.find((x) => x.index === run.index);
    if (r) {
      run.info.run = r;
      void api(`/api/run/${enc(run.sweep)}/${run.index}`).then((info) => {
        if (state.run !== run) return;
        run.info = info;
        renderFacts(info);
        const cfg = document.getElementById("config");
        if (cfg && info.config) cfg.textContent = info.config;
      });
      const sig = JSON.stringify(r.metrics);
      if (sig !== run.metricsSig) {
        run.metricsSig = sig;
        void refreshMetrics();
      }
    }
  }
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  es.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "live"; });
  es.addEventListener("snapshot", (m) => {
    state.sweeps = new Map(JSON.parse(m.data).sweeps.map((s) => [s.id, s]));
    if (!route().parts.length) queueRender();
  });
  es.addEventListener("sweep", (m) => {
    const { sweep } = JSON.parse(m.data);
    state.sweeps.set(sweep.id, sweep);
    for (const heard of inFlight) heard.push({ type: "sweep", sweep });
    const d = state.detail;
    if (d && d.sweep.id === sweep.id) {
      const wasLoading = !!d.sweep.unread;
      d.sweep = sweep;
      // Every run read now: the table shown (its filter, sort and page) is asked for again.
      if (wasLoading && !sweep.unread) {
        const view = document.getElementById("view");
        if (view.dataset.sweep === sweep.id) refetchSweep(view, sweep.id, 0);
      }
    }
    queueRender();
  });
  es.addEventListener("removed", (m) => {
    state.sweeps.delete(JSON.parse(m.data).sweep);
    queueRender();
  });
  es.addEventListener("runs", (m) => onRuns(JSON.parse(m.data)));
}

// What analysis.js draws with.
const ui = { h, api, fmt, crumbs, state, loadDetail, parallelCoords, STATE_COLOR, COLORS };

initCurves({ state, h, fmt, api, enc, crumbs, stateBadge, cellValue, sweepView, UNSUCCESSFUL });
const first = await api("/api/sweeps");
state.sweeps = new Map(first.sweeps.map((s) => [s.id, s]));
connect();
await show();
