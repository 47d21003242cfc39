// kedasuite dashboard: polls GET /status, keeps ten minutes of it, charts it with the
// vendored uPlot, and starts pump runs. No framework, no network beyond this pump's own API.
"use strict";

const POLL_MS = 2000;
const WINDOW_MS = 10 * 60 * 1000;
const history = new Map();   // workload -> [{t, backlog, inFlight, processed, rate, replicas, actual, model}]
const maxBacklog = new Map(); // workload -> the highest backlog seen since the page loaded
let token = sessionStorage.getItem("kedasuite-token") || "";

function headers() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (response.status === 401) {
    document.getElementById("token-row").hidden = false;
  }
  return { status: response.status, body };
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function card(workload) {
  let node = document.querySelector(`.workload[data-workload="${workload}"]`);
  if (node) return node;
  node = el("section", { class: "workload", "data-workload": workload, "data-max-backlog": "0" });
  node.innerHTML = `
    <header>
      <h2><span class="name"></span> <small class="muted kind"></small></h2>
      <div class="target" title="what KEDA and the HPA would target now"><span class="count">-</span>
        <small class="unit"></small> <small class="state"></small></div>
    </header>
    <div class="numbers">
      <span>backlog <b class="backlog">-</b></span>
      <span>in flight <b class="in-flight">-</b></span>
      <span>processed <b class="processed" id="processed-${workload}">-</b></span>
      <span>dead-lettered <b class="dead">-</b></span>
    </div>
    <div class="autoscale" hidden>
      <div class="replicas-line"><span class="as-state"></span>
        <span>running <b class="actual">-</b></span>
        <span>model <b class="model">-</b></span> <small class="muted as-unit"></small></div>
      <p class="as-reason"></p>
      <p class="as-next"></p>
      <p class="as-deviations" hidden></p>
      <p class="as-errors error" hidden></p>
    </div>
    <div class="charts">
      <figure><div class="chart chart-items"></div>
        <figcaption>backlog (what the trigger reads) and in flight</figcaption></figure>
      <figure><div class="chart chart-rate"></div>
        <figcaption>processed per second</figcaption></figure>
      <figure class="replicas-figure"><div class="chart-box"><div class="chart chart-replicas"></div>
        <p class="replicas-note" hidden></p></div>
        <figcaption>replicas the local autoscaler runs, and its model's</figcaption></figure>
    </div>
    <p class="reason"></p>
    <p class="entry-error error" hidden></p>`;
  node.querySelector(".name").textContent = workload;
  document.getElementById("workloads").appendChild(node);
  return node;
}

// The charts: uPlot (vendor/uplot/), on a time axis of the last ten minutes at most, one
// y axis each with its unit. Each chart element records the tick labels and the unit it
// last drew (data-x-ticks, data-y-ticks, data-y-unit) and how many samples it holds
// (data-points): the canvas itself cannot be read back as text.
const CHART_HEIGHT = 160;
const MIN_SPAN_S = 60;
const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
const charts = new Map(); // chart element -> uPlot instance

// What each card charts: the series (a key of the history's points, the legend's words, a
// colour of dashboard.css, a dash), the unit on the y axis, whole numbers or not, steps or lines.
const CHARTS = [
  {
    cls: "chart-items", unit: () => "items", counts: true,
    series: [{ key: "backlog", label: "backlog", colour: "--backlog" },
             { key: "inFlight", label: "in flight", colour: "--inflight" }],
  },
  {
    cls: "chart-rate", unit: () => "items/s", counts: false,
    series: [{ key: "rate", label: "processed/s", colour: "--rate" }],
  },
  {
    cls: "chart-replicas", unit: (node) => node.dataset.replicaUnit || "replicas", counts: true, stepped: true,
    // running wider, under the model's dashes: where they agree, both stay visible
    series: [{ key: "actual", label: "running", colour: "--actual", width: 3.5 },
             { key: "model", label: "model", colour: "--model", dash: [6, 4] }],
  },
];

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#1d2430";
}

const two = (n) => String(n).padStart(2, "0");
const missing = (v) => v === null || v === undefined;

// A tick or legend time, local and 24-hour: 19:21 on whole minutes, else 19:21:30.
function clockAt(seconds, withSeconds) {
  const d = new Date(seconds * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}` + (withSeconds ? `:${two(d.getSeconds())}` : "");
}

function number(v) {
  if (missing(v)) return "-";
  return Number.isInteger(v) ? uPlot.fmtNum(v) : v.toFixed(1);
}

function latest(values) {
  for (let i = values.length - 1; i >= 0; i--) if (!missing(values[i])) return values[i];
  return null;
}

// Records what an axis drew on the chart's element, and hands the labels back to uPlot.
function recorded(element, key, labels) {
  element.dataset[key] = labels.filter((l) => !missing(l) && l !== "").join(" ");
  return labels;
}

function makeChart(element, spec, node) {
  const muted = cssColour("--muted");
  const line = cssColour("--line");
  const font = "11px system-ui, sans-serif";
  const axis = { stroke: muted, font, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1, size: 4 } };
  const y = {
    ...axis,
    label: () => {
      const unit = spec.unit(node);
      element.dataset.yUnit = unit;
      return unit;
    },
    labelFont: `bold ${font}`,
    labelSize: 16,
    labelGap: 2,
    // wide enough for the longest tick label
    size: (u, values) => 12 + 7 * Math.max(2, ...(values || []).map((v) => String(v || "").length)),
    values: (u, splits) => recorded(element, "yTicks", splits.map((v) => (missing(v) ? null : number(v)))),
  };
  if (spec.counts) y.incrs = COUNTS;
  const options = {
    width: Math.max(200, element.clientWidth),
    height: CHART_HEIGHT,
    legend: { live: true },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: {
      x: {
        time: true,
        // Until ten minutes have been seen, the axis spans what has (at least a minute), ending now.
        range: (u, min, max) => {
          const end = Number.isFinite(max) ? max : Date.now() / 1000;
          const seen = Number.isFinite(min) ? end - min : 0;
          return [end - Math.min(WINDOW_MS / 1000, Math.max(MIN_SPAN_S, seen)), end];
        },
      },
      y: {
        range: (u, min, max) => {
          const top = Number.isFinite(max) ? max : 0;
          // steps need room above the highest count to show; counts stay whole
          if (spec.stepped) return [0, Math.max(1, top + 1)];
          return [0, spec.counts ? Math.max(1, Math.ceil(top * 1.1)) : Math.max(1, top * 1.1)];
        },
      },
    },
    axes: [
      {
        ...axis,
        space: 64,
        size: 30,
        values: (u, splits, i, space, incr) =>
          recorded(element, "xTicks", splits.map((s) => (missing(s) ? null : clockAt(s, incr < 60 || s % 60 !== 0)))),
      },
      y,
    ],
    series: [
      { label: "time", value: (u, v, si, di) => (missing(di) ? "now" : clockAt(v, true)) },
      ...spec.series.map((s) => {
        const series = {
          label: s.label,
          stroke: cssColour(s.colour),
          width: s.width || 2,
          spanGaps: false,
          points: { show: false },
          // away from the chart the legend reads the latest value; over it, the value at the cursor
          value: (u, v, si, di) => number(missing(di) ? latest(u.data[si]) : v),
        };
        if (s.dash) series.dash = s.dash;
        // a count holds until the next sample: steps, not slopes
        if (spec.stepped) series.paths = uPlot.paths.stepped({ align: 1 });
        return series;
      }),
    ],
  };
  const chart = new uPlot(options, [[], ...spec.series.map(() => [])], element);
  charts.set(element, chart);
  resizer.observe(element);
  return chart;
}

const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const chart = charts.get(entry.target);
    const width = Math.floor(entry.contentRect.width);
    if (chart && width > 0 && width !== chart.width) chart.setSize({ width, height: CHART_HEIGHT });
  }
});

function drawCharts(node, points) {
  const xs = points.map((p) => p.t / 1000);
  for (const spec of CHARTS) {
    const element = node.querySelector(`.${spec.cls}`);
    const chart = charts.get(element) || makeChart(element, spec, node);
    const ys = spec.series.map((s) => points.map((p) => (typeof p[s.key] === "number" ? p[s.key] : null)));
    chart.setData([xs, ...ys]);
    if (missing(chart.cursor.idx)) chart.setLegend({ idx: null });
    element.dataset.points = String(points.filter((p) => spec.series.some((s) => typeof p[s.key] === "number")).length);
  }
}

// The replicas chart has nothing to draw without a live local autoscaler: it says why.
function noteReplicas(node, points, block) {
  const note = node.querySelector(".replicas-note");
  const drawn = points.some((p) => typeof p.actual === "number" || typeof p.model === "number");
  node.dataset.replicaChart = drawn ? "drawn" : "empty";
  note.hidden = drawn;
  if (drawn) return;
  if (!block) {
    note.textContent = "no replicas to chart: no local autoscaler reports this workload (run kedasuite autoscale)";
  } else if (block.stale) {
    note.textContent = "no replicas to chart: the autoscaler's state is STALE, not live";
  } else if (block.stopping) {
    note.textContent = "no replicas to chart: the autoscaler is stopping";
  } else {
    note.textContent = "waiting for the autoscaler's replicas";
  }
}

function seconds(v) {
  return `${Number(v) < 10 ? Number(v).toFixed(1) : Math.round(Number(v))} s`;
}

// An age in words, as kedasuite/autoscale/view.py's ago(): 4.2 s, 3 min 5 s, 2 h 10 min, 3 days.
function ago(v) {
  if (v === null || v === undefined) return "of unknown age";
  const s = Number(v);
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} days`;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "?";
}

// The local autoscaler's state for this workload (kedasuite autoscale), or hide the block.
function showAutoscale(node, block) {
  const box = node.querySelector(".autoscale");
  if (!block) {
    box.hidden = true;
    delete node.dataset.actual;
    delete node.dataset.model;
    delete node.dataset.autoscale;
    return;
  }
  box.hidden = false;
  const text = (v) => (v === null || v === undefined ? "-" : String(v));
  const stale = Boolean(block.stale);
  const stopping = !stale && block.stopping ? block.stopping : null;
  node.dataset.autoscale = stale ? "stale" : stopping ? "stopping" : "live";
  node.dataset.actual = text(block.actual);
  node.dataset.model = text(block.model);
  box.classList.toggle("stale", stale);
  const state = box.querySelector(".as-state");
  if (stale) {
    state.textContent = `autoscaler STALE: ${block.stale_reason || "gone"}; its last state (pid ${block.pid}, ` +
      `${block.backend}, run dir ${block.run_dir}) was written at ${clock(block.updated)}, ` +
      `${ago(block.age_seconds)} ago — not live:`;
  } else if (stopping) {
    state.textContent = `autoscaler (${block.backend}, pid ${block.pid}) stopping since ${clock(stopping.since)} ` +
      `(${stopping.why || "asked to"}):`;
  } else {
    state.textContent = `autoscaler (${block.backend}, pid ${block.pid}):`;
  }
  state.className = `as-state ${stale ? "error" : "muted"}`;
  box.querySelector(".actual").textContent = block.actual === null ? "none (model only)" : text(block.actual);
  box.querySelector(".model").textContent = text(block.model);
  box.querySelector(".as-unit").textContent = block.unit === "jobs" ? "Jobs" : "replicas";
  box.querySelector(".as-reason").textContent = block.reason ? `last: ${block.reason}` : "";
  const next = block.next_step;
  box.querySelector(".as-next").textContent = next && !stale
    ? `next in ${seconds(next.in_seconds)}: ${next.reason}` : "";
  const deviations = box.querySelector(".as-deviations");
  deviations.hidden = !(block.deviations && block.deviations.length);
  deviations.textContent = deviations.hidden ? ""
    : `timings differ from the manifest (a demo, not what a cluster does): ${block.deviations.join("; ")}`;
  const errors = box.querySelector(".as-errors");
  errors.hidden = !(block.read_errors && block.read_errors.length);
  errors.textContent = errors.hidden ? "" : `reads failing: ${block.read_errors.join("; ")}`;
}

function show(entry, sampledAt) {
  const w = entry.workload;
  const node = card(w);
  const points = history.get(w) || [];
  const last = points[points.length - 1];
  let rate = null;
  if (last && typeof entry.processed === "number" && typeof last.processed === "number") {
    rate = Math.max(0, (entry.processed - last.processed) / ((sampledAt - last.t) / 1000));
  }
  // Replicas from a stale or stopping autoscaler are not what runs now: they are left out of the chart.
  const live = entry.autoscale && !entry.autoscale.stale && !entry.autoscale.stopping ? entry.autoscale : null;
  points.push({ t: sampledAt, backlog: entry.backlog, inFlight: entry.in_flight, processed: entry.processed,
                rate, replicas: entry.replicas, actual: live ? live.actual : null, model: live ? live.model : null });
  while (points.length && sampledAt - points[0].t > WINDOW_MS) points.shift();
  history.set(w, points);
  if (typeof entry.backlog === "number") {
    maxBacklog.set(w, Math.max(maxBacklog.get(w) || 0, entry.backlog));
    node.dataset.maxBacklog = String(maxBacklog.get(w));
  }
  const text = (v) => (v === null || v === undefined ? "-" : String(v));
  node.querySelector(".kind").textContent = `${text(entry.kind)} ${text(entry.name)}`;
  node.querySelector(".count").textContent = text(entry.replicas);
  node.querySelector(".unit").textContent = entry.unit === "jobs" ? "new jobs" : "replicas";
  const state = node.querySelector(".state");
  state.textContent = entry.active ? "active" : "inactive";
  state.className = `state ${entry.active ? "active" : "inactive"}`;
  node.querySelector(".backlog").textContent = text(entry.backlog);
  node.querySelector(".in-flight").textContent = text(entry.in_flight);
  node.querySelector(".processed").textContent = text(entry.processed);
  node.querySelector(".dead").textContent = text(entry.dead_lettered);
  node.dataset.processed = text(entry.processed);
  node.dataset.replicas = text(entry.replicas);
  node.querySelector(".reason").textContent = entry.reason || "";
  // Its own class: ".error" alone also matches the autoscaler's lines once they show an error.
  const error = node.querySelector(".entry-error");
  error.hidden = !entry.error;
  error.textContent = entry.error || "";
  showAutoscale(node, entry.autoscale);
  const unit = entry.autoscale ? entry.autoscale.unit : entry.unit;
  node.dataset.replicaUnit = unit === "jobs" ? "Jobs" : "replicas";
  noteReplicas(node, points, entry.autoscale);
  drawCharts(node, points);
}

// Once for the page: whose autoscaler state this is when it is not live, how old, and the fix
// (the pump's run directory holds an old run's state, or none while an autoscaler writes elsewhere).
function showAutoscaler(summary) {
  const out = document.getElementById("autoscaler-note");
  const words = summary && summary.note;
  out.hidden = !words;
  out.textContent = words || "";
  if (summary) out.dataset.state = summary.state; else delete out.dataset.state;
}

function fillWorkloads(entries) {
  const select = document.getElementById("workload");
  if (select.options.length) return;
  for (const entry of entries) select.appendChild(el("option", { value: entry.workload }, entry.workload));
  if (entries.length > 1) select.appendChild(el("option", { value: "all" }, "all"));
}

async function poll() {
  try {
    const { status, body } = await api("/status");
    const source = document.getElementById("source");
    if (status === 200 && body) {
      const sampledAt = Date.now();
      source.textContent = `manifests: ${body.source} — updated ${clock(body.time)}`;
      source.className = "muted";
      fillWorkloads(body.workloads);
      for (const entry of body.workloads) show(entry, sampledAt);
      showAutoscaler(body.autoscaler);
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    } else {
      source.textContent = (body && body.error) || `GET /status answered ${status}`;
      source.className = "error";
    }
  } catch (err) {
    const source = document.getElementById("source");
    source.textContent = `the pump does not answer (${err.message}); retrying`;
    source.className = "error";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function follow(runId, out) {
  const { status, body } = await api(`/pumps/${encodeURIComponent(runId)}`);
  if (status !== 200 || !body) {
    out.textContent = (body && body.error) || `GET /pumps/${runId} answered ${status}`;
    out.className = "error";
    return;
  }
  const notes = Object.values(body.workloads || {}).map((s) => s.note || s.error).filter(Boolean);
  out.textContent = `run ${body.id}: ${body.state}, sent ${body.sent} of ${body.count}` +
    (body.failed ? `, failed ${body.failed}` : "") + (notes.length ? ` — ${notes.join("; ")}` : "");
  out.className = body.state === "failed" ? "error" : "";
  out.dataset.state = body.state;
  out.dataset.sent = String(body.sent);
  if (!body.done) setTimeout(() => follow(runId, out), 1000);
}

async function submit(event) {
  event.preventDefault();
  const out = document.getElementById("pump-result");
  const params = new URLSearchParams();
  for (const name of ["workload", "count", "rate", "duration", "profile"]) {
    const value = document.getElementById(name).value.trim();
    if (value) params.set(name, value);
  }
  out.textContent = "starting…";
  out.className = "";
  delete out.dataset.state;
  try {
    const { status, body } = await api("/pump", {
      method: "POST", body: params,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    if (status === 202 && body) {
      out.dataset.runId = body.id;
      follow(body.id, out);
    } else {
      out.textContent = (body && body.error) || `POST /pump answered ${status}`;
      out.className = "error";
    }
  } catch (err) {
    out.textContent = `the pump does not answer: ${err.message}`;
    out.className = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("pump-form").addEventListener("submit", submit);
  const tokenInput = document.getElementById("token");
  tokenInput.value = token;
  tokenInput.addEventListener("change", () => {
    token = tokenInput.value.trim();
    sessionStorage.setItem("kedasuite-token", token);
  });
  poll();
});
