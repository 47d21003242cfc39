// kedasuite dashboard: polls GET /status, keeps ten minutes of it, draws SVG charts,
// and starts pump runs. No framework, no network beyond this pump's own API.
"use strict";

const POLL_MS = 2000;
const WINDOW_MS = 10 * 60 * 1000;
const SVG_NS = "http://www.w3.org/2000/svg";
const history = new Map();   // workload -> [{t, backlog, inFlight, processed, rate, replicas}]
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
      <figure><svg class="chart-backlog" viewBox="0 0 300 110" preserveAspectRatio="none" role="img"
        aria-label="backlog over time"></svg><figcaption>backlog (what the trigger reads)</figcaption></figure>
      <figure><svg class="chart-in-flight" viewBox="0 0 300 110" preserveAspectRatio="none" role="img"
        aria-label="in flight over time"></svg><figcaption>in flight</figcaption></figure>
      <figure><svg class="chart-rate" viewBox="0 0 300 110" preserveAspectRatio="none" role="img"
        aria-label="processed per second over time"></svg><figcaption>processed per second</figcaption></figure>
      <figure class="replicas-figure" hidden><svg class="chart-replicas" viewBox="0 0 300 110"
        preserveAspectRatio="none" role="img" aria-label="replicas running and the model's over time"></svg>
        <figcaption><span class="key-actual">running</span> vs <span class="key-model">model</span>
        (local autoscaler)</figcaption></figure>
    </div>
    <p class="reason"></p>
    <p class="entry-error error" hidden></p>`;
  node.querySelector(".name").textContent = workload;
  document.getElementById("workloads").appendChild(node);
  return node;
}

// One or more series ([key, colour, dashed]) on one chart, sharing its y axis.
function draw(svg, points, key, colour, more = []) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const now = Date.now();
  // Until ten minutes have been seen, the x axis spans what has (at least a minute).
  const span = Math.min(WINDOW_MS, Math.max(60 * 1000, points.length ? now - points[0].t : 0));
  const series = [[key, colour, false], ...more];
  const values = series.flatMap(([k]) => points.map((p) => p[k]).filter((v) => typeof v === "number"));
  const top = Math.max(1, ...values);
  const axis = document.createElementNS(SVG_NS, "line");
  for (const [a, v] of [["x1", 0], ["x2", 300], ["y1", 105], ["y2", 105]]) axis.setAttribute(a, v);
  axis.setAttribute("class", "axis");
  svg.append(axis);
  let count = 0;
  for (const [k, stroke, dashed] of series) {
    const line = document.createElementNS(SVG_NS, "polyline");
    const coords = points
      .filter((p) => typeof p[k] === "number")
      .map((p) => `${(300 * (1 - (now - p.t) / span)).toFixed(1)},${(105 - 95 * (p[k] / top)).toFixed(1)}`);
    line.setAttribute("points", coords.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", stroke);
    line.setAttribute("stroke-width", "2");
    if (dashed) line.setAttribute("stroke-dasharray", "5 3");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    line.dataset.series = k;
    svg.append(line);
    if (k === key) count = coords.length;
  }
  const label = document.createElementNS(SVG_NS, "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "12");
  label.textContent = `max ${Number.isInteger(top) ? top : top.toFixed(1)}`;
  svg.append(label);
  svg.dataset.points = String(count);
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
  const figure = node.querySelector(".replicas-figure");
  if (!block) {
    box.hidden = true;
    delete node.dataset.actual;
    delete node.dataset.model;
    delete node.dataset.autoscale;
    return;
  }
  box.hidden = false;
  figure.hidden = false;
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
  draw(node.querySelector(".chart-backlog"), points, "backlog", "var(--backlog)");
  draw(node.querySelector(".chart-in-flight"), points, "inFlight", "var(--inflight)");
  draw(node.querySelector(".chart-rate"), points, "rate", "var(--rate)");
  showAutoscale(node, entry.autoscale);
  if (!node.querySelector(".replicas-figure").hidden) {
    draw(node.querySelector(".chart-replicas"), points, "actual", "var(--actual)", [["model", "var(--model)", true]]);
  }
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
