// The command-centre dashboard: a single page over the fangyi API. It holds no data of its own:
// every figure is fetched with the viewer's session token and the purpose their role allows,
// so the server's scoping, masking and audit apply to everything shown here.

import * as echarts from "echarts/core";
import { BarChart, LineChart, LinesChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  LineChart,
  LinesChart,
  ScatterChart,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  CanvasRenderer,
]);

const $ = (sel) => document.querySelector(sel);
const state = {
  token: sessionStorage.getItem("fangyi.token"),
  account: JSON.parse(sessionStorage.getItem("fangyi.account") || "null"),
  asOf: new URLSearchParams(location.search).get("as_of"),
  regions: null, // code → {name, level, parent, lon, lat}
  selected: null, // the region the curves show
  charts: {},
  inflow: [],
};

// ---- API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/// Calls the API for `action` (the policy's action name): the purpose sent is the first one
/// the viewer's role allows for it.
async function api(path, { action, method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (action) {
    const allowed = state.account?.purposes?.[action];
    if (!allowed) throw new ApiError(403, `your role may not ${action.replace(/_/g, " ")}`);
    headers["X-Purpose"] = allowed[0];
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (res.status === 401 && state.token) {
    logout();
    throw new ApiError(401, "your session ended; sign in again");
  }
  if (!res.ok) throw new ApiError(res.status, json?.error || res.statusText);
  return json;
}

const may = (action) => Boolean(state.account?.purposes?.[action]);

// ---- helpers ---------------------------------------------------------------------------

const fmt = (n) => Number(n).toLocaleString("en-US");

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function regionName(code) {
  const r = state.regions?.get(code);
  return r ? `${r.name}` : code;
}

function table(el, columns, rows, empty = "nothing to show") {
  if (!rows.length) {
    el.innerHTML = `<p class="empty">${esc(empty)}</p>`;
    return;
  }
  const head = columns
    .map((c) => `<th class="${c.num ? "num" : ""}">${esc(c.label)}</th>`)
    .join("");
  const body = rows
    .map(
      (r) =>
        `<tr>${columns
          .map((c) => `<td class="${c.num ? "num" : ""}">${c.html ? c.html(r) : esc(c.value(r))}</td>`)
          .join("")}</tr>`,
    )
    .join("");
  el.innerHTML = `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function chart(id) {
  if (!state.charts[id]) state.charts[id] = echarts.init(document.getElementById(id));
  return state.charts[id];
}

window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

// ---- session ---------------------------------------------------------------------------

async function login(event) {
  event.preventDefault();
  const form = event.target;
  $("#login-error").textContent = "";
  try {
    const answer = await api("/login", {
      method: "POST",
      body: { name: form.name.value, password: form.password.value },
    });
    state.token = answer.token;
    state.account = answer.account;
    sessionStorage.setItem("fangyi.token", state.token);
    sessionStorage.setItem("fangyi.account", JSON.stringify(state.account));
    form.password.value = "";
    await start();
  } catch (e) {
    $("#login-error").textContent = e.message;
  }
}

/// The sign-out button: the server revokes the session's token first (so a copy of it is
/// worthless from now on), then the page forgets it.
async function signOut() {
  if (state.token) {
    try {
      await fetch("/api/v1/logout", {
        method: "POST",
        headers: { Authorization: `Bearer ${state.token}` },
      });
    } catch {
      // Offline: the token still expires with its session.
    }
  }
  logout();
}

/// Forgets the session on this page (after a sign-out, or when the server no longer takes it).
function logout() {
  state.token = null;
  state.account = null;
  state.application = null;
  state.entFor = null;
  state.power = null;
  state.marketFor = null;
  state.prices = null;
  forgetViews();
  sessionStorage.removeItem("fangyi.token");
  sessionStorage.removeItem("fangyi.account");
  Object.values(state.charts).forEach((c) => c.dispose());
  state.charts = {};
  $("#tabs").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  show("login");
}

/// Empties every panel and form a viewer filled, so the next one to sign in on this page sees
/// nothing of theirs.
function forgetViews() {
  for (const sel of ["#kpis", "#inflow-table", "#community-table", "#alert-list", "#trail", "#contacts", "#code-result",
    "#ent-kpis", "#power-status", "#plan-table", "#app-summary", "#app-rows", "#jobs-table",
    "#market-kpis", "#lead-list", "#prices-status"]) {
    const el = $(sel);
    el.innerHTML = "";
    for (const k of Object.keys(el.dataset)) delete el.dataset[k];
  }
  for (const sel of ["#map", "#arrivals-chart", "#cases-chart", "#power-chart", "#market-map", "#prices-chart"]) {
    const el = $(sel);
    for (const k of Object.keys(el.dataset)) delete el.dataset[k];
  }
  for (const sel of ["#case-error", "#code-error", "#app-error", "#power-note", "#lead-error"]) $(sel).textContent = "";
  for (const sel of ["#prices-product", "#prices-prefecture"]) $(sel).innerHTML = "";
  document.querySelectorAll("main form:not(#login-form) input").forEach((x) => (x.value = ""));
  $("#app-title").textContent = "Application";
}

function show(view) {
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === view));
  document
    .querySelectorAll("#tabs button")
    .forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  Object.values(state.charts).forEach((c) => c.resize());
}

async function loadRegions() {
  if (state.regions) return;
  const rows = await (await fetch("/regions.json")).json();
  state.regions = new Map(
    rows.map(([code, name, level, parent, lon, lat]) => [code, { name, level, parent, lon, lat }]),
  );
}

async function start() {
  const a = state.account;
  const scope = [
    a.region && `region ${a.region}`,
    a.community && `community ${a.community}`,
    a.enterprise && `enterprise ${a.enterprise}`,
  ]
    .filter(Boolean)
    .join(", ");
  $("#who").textContent = `${a.name} · ${a.role.replace(/_/g, " ")}${scope ? ` · ${scope}` : ""}`;
  $("#who").dataset.role = a.role;
  $("#tabs").hidden = false;
  $("#logout").hidden = false;
  if (!state.asOf) {
    const status = await api("/status");
    state.asOf = status?.last_date || new Date().toISOString().slice(0, 10);
  }
  $("#as-of").value = state.asOf;
  await loadRegions();
  state.entFor = null;
  // An enterprise works on its own applications and jobs: its page first.
  if (a.role === "enterprise") {
    show("enterprises");
    await Promise.all([refresh(), enterprises()]);
    return;
  }
  // A market supervisor's work is the market: its page first.
  if (a.role === "market_supervisor") {
    show("market");
    await Promise.all([refresh(), market()]);
    return;
  }
  show("overview");
  await refresh();
}

async function refresh() {
  await Promise.all([overview(), communities()]);
}

// ---- overview --------------------------------------------------------------------------

/// The level the viewer's inflow is counted at: their community, the counties of their
/// prefecture, or prefectures.
function inflowLevel() {
  const a = state.account;
  if (a.community) return "community";
  if (a.region && !a.region.endsWith("0000")) return "county";
  return "prefecture";
}

async function overview() {
  const asOf = state.asOf;
  const level = inflowLevel();
  const region = state.account.region ? `&region=${state.account.region}` : "";
  const [inflow, risk, alerts] = await Promise.all([
    may("inflow")
      ? api(`/inflow?as_of=${asOf}&days=14&level=${level}${region}`, { action: "inflow" })
      : [],
    may("open_data") ? api(`/risk-areas?as_of=${asOf}`, { action: "open_data" }) : [],
    may("alerts") ? api(`/alerts?as_of=${asOf}`, { action: "alerts" }) : null,
  ]);
  state.inflow = inflow;
  const arrivals = inflow.reduce((s, r) => s + r.arrivals, 0);
  const high = inflow.reduce((s, r) => s + r.from_high_risk, 0);
  const places = new Set(inflow.map((r) => `${r.region}/${r.community ?? ""}`));
  const kpis = [
    ["kpi-arrivals", "arrivals, 14 days (person-days)", fmt(arrivals)],
    ["kpi-high", "from high-risk areas", fmt(high)],
    ["kpi-places", level === "community" ? "communities with arrivals" : `${level}s with arrivals`, fmt(places.size)],
    ["kpi-alerts", "open alerts", alerts ? fmt(alerts.filter((x) => x.status === "open").length) : "—"],
    ["kpi-risk", "high-risk areas today", fmt(risk.filter((x) => x.level === "high").length)],
  ];
  $("#kpis").innerHTML = kpis
    .map(([id, label, value]) => `<div class="kpi" id="${id}"><div class="value">${value}</div><div class="label">${esc(label)}</div></div>`)
    .join("");

  // Destinations over the period, largest first.
  const byPlace = new Map();
  for (const r of inflow) {
    const key = `${r.region}|${r.community ?? ""}`;
    const p = byPlace.get(key) || { region: r.region, name: r.name, community: r.community, arrivals: 0, high: 0, origins: new Map() };
    p.arrivals += r.arrivals;
    p.high += r.from_high_risk;
    for (const o of r.top_origins) p.origins.set(o.region, (p.origins.get(o.region) || 0) + o.persons);
    byPlace.set(key, p);
  }
  const places_ = [...byPlace.values()].sort((a, b) => b.arrivals - a.arrivals || a.region.localeCompare(b.region));
  table(
    $("#inflow-table"),
    [
      { label: "region", value: (p) => `${p.region} ${p.name ?? regionName(p.region)}` },
      ...(level === "community" ? [{ label: "community", value: (p) => p.community ?? "(none known)" }] : []),
      { label: "arrivals", num: true, value: (p) => fmt(p.arrivals) },
      { label: "from high-risk", num: true, value: (p) => fmt(p.high) },
      {
        label: "top origins",
        value: (p) =>
          [...p.origins.entries()]
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .slice(0, 3)
            .map(([o, n]) => `${regionName(o)} ${fmt(n)}`)
            .join(", "),
      },
    ],
    places_.slice(0, 50),
    may("inflow") ? "no arrivals in these 14 days" : "your role sees no inflow",
  );
  if (!state.selected) {
    state.selected = state.account.region || (places_[0] && places_[0].region.slice(0, 4) + "00") || "420100";
  }
  arrivalsChart(inflow);
  await Promise.all([mapChart(places_, risk), casesChart()]);
}

function arrivalsChart(inflow) {
  const days = [];
  for (let i = 13; i >= 0; i--) days.push(addDays(state.asOf, -i));
  const total = new Map(days.map((d) => [d, 0]));
  const high = new Map(days.map((d) => [d, 0]));
  for (const r of inflow) {
    total.set(r.date, (total.get(r.date) || 0) + r.arrivals);
    high.set(r.date, (high.get(r.date) || 0) + r.from_high_risk);
  }
  const el = document.getElementById("arrivals-chart");
  el.dataset.total = [...total.values()].reduce((a, b) => a + b, 0);
  chart("arrivals-chart").setOption(
    {
      tooltip: { trigger: "axis" },
      legend: { data: ["arrivals", "from high-risk"], top: 0 },
      grid: { left: 48, right: 16, top: 28, bottom: 28 },
      xAxis: { type: "category", data: days.map((d) => d.slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "arrivals", type: "bar", data: days.map((d) => total.get(d)), itemStyle: { color: "#1f5fbf" } },
        { name: "from high-risk", type: "line", data: days.map((d) => high.get(d)), itemStyle: { color: "#c62828" } },
      ],
    },
    true,
  );
}

async function casesChart() {
  const el = document.getElementById("cases-chart");
  const region = state.selected;
  $("#cases-title").textContent = `Published cases · ${region} ${regionName(region)}`;
  let days = [];
  if (may("open_data")) {
    days = await api(`/case-curve?region=${region}&from=${addDays(state.asOf, -29)}&to=${state.asOf}`, {
      action: "open_data",
    });
  }
  el.dataset.points = days.length;
  el.dataset.confirmed = days.length ? days[days.length - 1].confirmed : 0;
  const c = chart("cases-chart");
  if (!days.length) {
    c.clear();
    c.setOption({
      title: {
        text: "No published case counts for this area and period",
        subtext: "load them with: fangyi import dxy-cases DIR",
        left: "center",
        top: "middle",
        textStyle: { fontSize: 13, color: "#5d6b7e" },
      },
    });
    return;
  }
  c.setOption(
    {
      tooltip: { trigger: "axis" },
      legend: { data: ["new", "cumulative"], top: 0 },
      grid: { left: 48, right: 48, top: 28, bottom: 28 },
      xAxis: { type: "category", data: days.map((d) => d.date.slice(5)) },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1 }],
      series: [
        { name: "new", type: "bar", data: days.map((d) => d.new), itemStyle: { color: "#ef8f00" } },
        { name: "cumulative", type: "line", yAxisIndex: 1, data: days.map((d) => d.confirmed), itemStyle: { color: "#c62828" } },
      ],
    },
    true,
  );
}

// Longitude is shrunk by cos(35°) so the country keeps its shape on a plain grid.
const X = (lon) => lon * 0.82;

function point(code) {
  const r = state.regions.get(code) || state.regions.get(code.slice(0, 4) + "00") || state.regions.get(code.slice(0, 2) + "0000");
  return r && r.lon != null ? [X(r.lon), r.lat] : null;
}

/// The bounding box of the viewer's home area (their region, else the province with the most
/// arrivals), for the "Province" zoom.
function homeBox(places) {
  const code = state.account.region || (places[0] && places[0].region.slice(0, 2) + "0000");
  if (!code) return null;
  const prefix = code.replace(/(00)+$/, "");
  const pts = [...state.regions.entries()]
    .filter(([c, r]) => c.startsWith(prefix) && r.lon != null)
    .map(([, r]) => [X(r.lon), r.lat]);
  if (!pts.length) return null;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const pad = 0.6;
  return [Math.min(...xs) - pad, Math.max(...xs) + pad, Math.min(...ys) - pad, Math.max(...ys) + pad];
}

/// Every county as a grey dot: the maps' backdrop.
function countyDots() {
  const dots = [];
  for (const [code, r] of state.regions) {
    if (r.level === "county" && r.lon != null) dots.push([X(r.lon), r.lat, code]);
  }
  return dots;
}

async function mapChart(places, risk) {
  const el = document.getElementById("map");
  const backdrop = countyDots();
  const colors = { high: "#c62828", medium: "#ef8f00", low: "#e3c000" };
  const riskPts = risk
    .map((a) => {
      const p = point(a.region);
      return p && { value: [...p, a.region], level: a.level, name: a.name, itemStyle: { color: colors[a.level] } };
    })
    .filter(Boolean);
  const maxArr = Math.max(1, ...places.map((p) => p.arrivals));
  const dest = new Map();
  for (const p of places) {
    const d = dest.get(p.region) || { region: p.region, name: p.name, arrivals: 0, high: 0 };
    d.arrivals += p.arrivals;
    d.high += p.high;
    dest.set(p.region, d);
  }
  const destPts = [...dest.values()]
    .map((d) => {
      const p = point(d.region);
      const t = Math.sqrt(d.arrivals / maxArr);
      // Light to dark blue with the arrivals, as well as larger.
      const color = `rgb(${Math.round(150 - 120 * t)}, ${Math.round(190 - 110 * t)}, ${Math.round(240 - 50 * t)})`;
      return p && { value: [...p, d.region], name: d.name ?? regionName(d.region), arrivals: d.arrivals, high: d.high, symbolSize: 6 + 24 * t, itemStyle: { color } };
    })
    .filter(Boolean);
  let flows = [];
  let flowNote = "";
  if ($("#flow-source").value === "baidu") {
    const shares = may("open_data")
      ? await api(`/migration?region=420100&direction=out&date=${state.asOf}&limit=40`, { action: "open_data" })
      : [];
    flowNote = shares.length ? `Wuhan outflow on ${state.asOf} (Baidu Qianxi shares)` : "No Baidu migration loaded for this day (fangyi import baidu-migration DIR)";
    const max = Math.max(1, ...shares.map((s) => s.share_pct));
    flows = shares
      .map((s) => {
        const a = point(s.origin);
        const b = point(s.destination);
        return a && b && { coords: [a, b], name: `${s.origin_name ?? s.origin} → ${s.destination_name ?? s.destination}: ${s.share_pct}%`, lineStyle: { width: 0.5 + 5 * (s.share_pct / max) } };
      })
      .filter(Boolean);
  } else {
    const pairs = new Map();
    for (const p of places) {
      for (const [o, n] of p.origins) {
        const key = `${o}|${p.region}`;
        pairs.set(key, (pairs.get(key) || 0) + n);
      }
    }
    const top = [...pairs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 60);
    const max = Math.max(1, ...top.map((t) => t[1]));
    flows = top
      .map(([key, n]) => {
        const [o, d] = key.split("|");
        const a = point(o);
        const b = point(d);
        return a && b && o !== d && { coords: [a, b], name: `${regionName(o)} → ${regionName(d)}: ${fmt(n)} persons`, lineStyle: { width: 0.5 + 4 * (n / max) } };
      })
      .filter(Boolean);
    flowNote = `Arrivals from top origins, 14 days to ${state.asOf}`;
  }
  el.dataset.destinations = destPts.length;
  el.dataset.riskAreas = riskPts.length;
  el.dataset.flows = flows.length;
  $("#map-title").textContent = `Inflow and risk · ${flowNote}`;
  // China for Baidu's national flows and for viewers without a region; their own area else.
  const home = homeBox(places);
  const box = $("#flow-source").value === "baidu" || !state.account.region ? null : home;
  const c = chart("map");
  c.setOption(
    {
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          if (p.seriesName === "flows") return esc(p.data.name);
          if (p.seriesName === "destinations") return `${esc(p.data.value[2])} ${esc(p.data.name)}<br>arrivals ${fmt(p.data.arrivals)}, from high-risk ${fmt(p.data.high)}`;
          if (p.seriesName === "risk areas") return `${esc(p.data.value[2])} ${esc(p.data.name ?? "")}: ${p.data.level} risk`;
          return `${esc(p.value[2])} ${esc(regionName(p.value[2]))}`;
        },
      },
      grid: { left: 8, right: 8, top: 8, bottom: 8 },
      xAxis: { type: "value", show: false, scale: true, min: box ? box[0] : X(73), max: box ? box[1] : X(135) },
      yAxis: { type: "value", show: false, scale: true, min: box ? box[2] : 18, max: box ? box[3] : 54 },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none" },
        { type: "inside", yAxisIndex: 0, filterMode: "none" },
      ],
      series: [
        { name: "regions", type: "scatter", data: backdrop, symbolSize: 2.5, itemStyle: { color: "#c9d1db" }, silent: false },
        { name: "flows", type: "lines", coordinateSystem: "cartesian2d", data: flows, lineStyle: { color: "#14213d", opacity: 0.6, curveness: 0.2 }, effect: { show: false } },
        { name: "risk areas", type: "scatter", data: riskPts, symbolSize: 11, z: 3 },
        { name: "destinations", type: "scatter", data: destPts, itemStyle: { opacity: 0.85, borderColor: "#fff" }, z: 4 },
      ],
    },
    true,
  );
  c.off("click");
  c.on("click", (p) => {
    const code = p.data?.value?.[2];
    if (code) {
      state.selected = code;
      casesChart();
    }
  });
  state.homeBox = home;
}

function zoom(box) {
  const c = state.charts.map;
  if (!c) return;
  c.setOption({
    xAxis: { min: box ? box[0] : X(73), max: box ? box[1] : X(135) },
    yAxis: { min: box ? box[2] : 18, max: box ? box[3] : 54 },
  });
}

// ---- communities and alerts -------------------------------------------------------------

async function communities() {
  const el = $("#community-table");
  const list = $("#alert-list");
  if (!may("alerts")) {
    el.innerHTML = `<p class="empty">Your role does not handle community alerts.</p>`;
    list.innerHTML = "";
    return;
  }
  const status = $("#alert-status").value;
  const [alerts, inflow, watch] = await Promise.all([
    api(`/alerts?as_of=${state.asOf}${status ? `&status=${status}` : ""}`, { action: "alerts" }),
    may("inflow")
      ? api(`/inflow?as_of=${state.asOf}&days=14&level=community${state.account.region ? `&region=${state.account.region}` : ""}`, { action: "inflow" })
      : [],
    may("returnees_summary") ? api(`/watch?as_of=${state.asOf}`, { action: "returnees_summary" }) : null,
  ]);
  const rows = new Map();
  const row = (region, community) => {
    const key = `${region}|${community ?? ""}`;
    if (!rows.has(key)) rows.set(key, { region, community, arrivals: 0, high: 0, today: 0, open: 0, alerts: 0, watched: 0 });
    return rows.get(key);
  };
  for (const w of watch?.communities ?? []) {
    if (w.region) row(w.region, w.community).watched += w.persons;
  }
  for (const r of inflow) {
    const x = row(r.region, r.community);
    x.arrivals += r.arrivals;
    x.high += r.from_high_risk;
    if (r.date === state.asOf) x.today += r.arrivals;
  }
  for (const a of alerts) {
    const x = row(a.region, a.community);
    x.alerts += 1;
    if (a.status === "open") x.open += 1;
  }
  const sorted = [...rows.values()].sort(
    (a, b) => b.open - a.open || b.watched - a.watched || b.high - a.high || b.arrivals - a.arrivals,
  );
  el.dataset.watched = sorted.reduce((s, r) => s + r.watched, 0);
  table(
    el,
    [
      { label: "region", value: (r) => `${r.region} ${regionName(r.region)}` },
      { label: "community", value: (r) => r.community ?? "(none known)" },
      { label: "arrivals 14 d", num: true, value: (r) => fmt(r.arrivals) },
      { label: "today", num: true, value: (r) => fmt(r.today) },
      { label: "from high-risk", num: true, value: (r) => fmt(r.high) },
      { label: "under 14-day watch", num: true, value: (r) => fmt(r.watched) },
      { label: "open alerts", num: true, value: (r) => fmt(r.open) },
    ],
    sorted.slice(0, 200),
    "no arrivals or alerts",
  );
  const canChange = may("update_alert");
  table(
    list,
    [
      { label: "severity", html: (a) => `<span class="sev-${a.severity}">${esc(a.severity)}</span>` },
      { label: "place", value: (a) => `${a.region} ${a.region_name ?? ""} / ${a.community ?? "(none known)"}` },
      { label: "what", html: (a) => `${esc(a.detail)}<br><span class="hint">${esc(a.rule)} · ${esc(a.date)}</span>` },
      {
        label: "task",
        html: (a) =>
          `<b>${esc(a.task.replace(/_/g, " "))}</b>: ${esc(a.task_detail)}${
            a.persons.length ? `<br>${a.persons.map((p) => esc([p.name, p.phone, p.person_id].filter(Boolean).join(" · "))).join("<br>")}` : ""
          }`,
      },
      {
        label: "status",
        html: (a) =>
          `<span class="status ${a.status}">${a.status}</span>${a.note ? `<br><span class="hint">${esc(a.note)}</span>` : ""}${
            canChange
              ? `<br>${["acknowledged", "done"]
                  .filter((s) => s !== a.status)
                  .map((s) => `<button class="small secondary" data-alert="${esc(a.id)}" data-status="${s}">${s === "done" ? "done" : "acknowledge"}</button>`)
                  .join(" ")}`
              : ""
          }`,
      },
    ],
    alerts,
    "no alerts for this day",
  );
  list.dataset.count = alerts.length;
}

async function changeAlert(button) {
  const note = button.dataset.status === "done" ? prompt("What was done?", "") ?? "" : "";
  button.disabled = true;
  try {
    await api(`/alerts/${button.dataset.alert}/status`, {
      action: "update_alert",
      method: "POST",
      body: { status: button.dataset.status, note },
    });
    await Promise.all([communities(), overview()]);
  } catch (e) {
    alert(e.message);
    button.disabled = false;
  }
}

// ---- case and code ---------------------------------------------------------------------

async function showCase(event) {
  event.preventDefault();
  const id = event.target.id.value.trim();
  $("#case-error").textContent = "";
  const asOf = state.asOf;
  const [trail, contacts] = await Promise.allSettled([
    api(`/cases/${encodeURIComponent(id)}/trail?as_of=${asOf}`, { action: "case_trail" }),
    api(`/cases/${encodeURIComponent(id)}/contacts?as_of=${asOf}`, { action: "trace" }),
  ]);
  if (trail.status === "fulfilled") {
    const t = trail.value;
    table(
      $("#trail"),
      [
        { label: "from", value: (s) => s.start.replace("T", " ").slice(0, 16) },
        { label: "to", value: (s) => s.end.replace("T", " ").slice(0, 16) },
        { label: "how", value: (s) => s.via },
        { label: "where", value: (s) => [s.place_name, s.place].filter(Boolean).join(" · ") },
        { label: "area", value: (s) => [s.region, s.region_name, s.community].filter(Boolean).join(" ") },
      ],
      t.stops,
      `no rides or venue visits between ${t.from.slice(0, 16)} and ${t.to.slice(0, 16)}`,
    );
    $("#trail").dataset.stops = t.stops.length;
  } else {
    $("#trail").innerHTML = `<p class="error">${esc(trail.reason.message)}</p>`;
  }
  if (contacts.status === "fulfilled") {
    const c = contacts.value.contacts;
    table(
      $("#contacts"),
      [
        { label: "person", value: (x) => [x.person_id, x.name].filter(Boolean).join(" · ") },
        { label: "degree", num: true, value: (x) => x.degree },
        { label: "how", value: (x) => [...new Set(x.evidence.map((e) => e.kind))].join(", ") },
        { label: "last exposure", value: (x) => (x.last_exposure || "").replace("T", " ").slice(0, 16) },
        { label: "quarantine until", value: (x) => x.quarantine_until },
      ],
      c,
      "no close contacts",
    );
    $("#contacts").dataset.count = c.length;
  } else {
    $("#contacts").innerHTML = `<p class="error">${esc(contacts.reason.message)}</p>`;
  }
}

async function showCode(event) {
  event.preventDefault();
  const id = event.target.id.value.trim();
  $("#code-error").textContent = "";
  try {
    const c = await api(`/persons/${encodeURIComponent(id)}/code?as_of=${state.asOf}`, { action: "person_code" });
    $("#code-result").innerHTML = `<div class="card"><span class="badge ${c.color}" id="code-color">${c.color}</span>
      <p>${esc(c.person_id)} as of ${esc(c.as_of)}${c.valid_until ? `, until ${esc(c.valid_until)}` : ""}</p>
      <ul>${c.reasons.map((r) => `<li><b>${esc(r.rule)}</b>: ${esc(r.detail)}</li>`).join("") || "<li>no rule applies</li>"}</ul></div>`;
  } catch (e) {
    $("#code-error").textContent = e.message;
    $("#code-result").innerHTML = "";
  }
}

// ---- enterprises (work resumption) -----------------------------------------------------

const NOT_FOR_ROLE = "not available to your role";

/// A panel the viewer's role may not see: said so, in place of its content.
function unavailable(el, what) {
  el.innerHTML = `<p class="empty unavailable">${esc(what)}: ${NOT_FOR_ROLE}</p>`;
  el.dataset.unavailable = "true";
}

/// A panel's request failed: a refusal (the role, or its scope) reads as the role's limit,
/// anything else as the API's one-line error.
function panelFailed(el, what, e) {
  if (e instanceof ApiError && e.status === 403) {
    unavailable(el, what);
  } else {
    el.innerHTML = `<p class="error">${esc(what)}: ${esc(e.message)}</p>`;
  }
}

/// The level and region the power index is shown at: the viewer's own region, else provinces.
function powerScope() {
  const r = state.account.region;
  if (!r) return { level: "province", region: "" };
  if (r.endsWith("0000")) return { level: "province", region: r };
  if (r.endsWith("00")) return { level: "prefecture", region: r };
  return { level: "county", region: r };
}

const pct = (x) => `${(100 * x).toFixed(1)} %`;

function entKpis(values) {
  const tiles = [
    ["kpi-resumed", `enterprises resumed on ${state.asOf}`, values.resumed],
    ["kpi-whitelist", "enterprises on the whitelist", values.whitelist],
    ["kpi-office-ready", "employees office-ready on their resume date", values.officeReady],
    ["kpi-fill", `job openings filled on ${state.asOf}`, values.fill],
  ];
  $("#ent-kpis").innerHTML = tiles
    .map(([id, label, value]) => `<div class="kpi" id="${id}"><div class="value">${value ?? "—"}</div><div class="label">${esc(label)}</div></div>`)
    .join("");
}

/// The enterprises page: the power index by industry with its forecast, the whitelist and the
/// day's job matching, each panel asked for only when the role may see it.
async function enterprises() {
  state.entFor = state.asOf;
  const kpis = {};
  entKpis(kpis);
  await Promise.all([
    powerPanel().then((v) => (kpis.resumed = v)),
    planPanel().then((v) => Object.assign(kpis, v)),
    jobsPanel().then((v) => (kpis.fill = v)),
  ]);
  entKpis(kpis);
  const decide = may("resume_decide");
  $("#app-form").querySelectorAll("input, button").forEach((x) => (x.disabled = !decide));
  if (!decide) {
    unavailable($("#app-summary"), "Applications");
  } else if (state.application) {
    await loadApplication(state.application);
  }
}

const PALETTE = ["#1f5fbf", "#c62828", "#2e7d32", "#ef8f00", "#6a1b9a", "#00838f", "#8d6e63", "#5d6b7e", "#ad1457", "#9e9d24", "#283593", "#00695c"];

async function powerPanel() {
  const status = $("#power-status");
  const el = document.getElementById("power-chart");
  status.innerHTML = "";
  delete status.dataset.unavailable;
  delete el.dataset.points;
  $("#power-note").textContent = "";
  state.power = null;
  const failed = () => {
    el.hidden = true;
    el.dataset.points = 0;
    $("#power-band").hidden = true;
    return null;
  };
  if (!may("resume_index")) {
    unavailable(status, "The power index");
    return failed();
  }
  el.hidden = false;
  $("#power-band").hidden = false;
  const { level, region } = powerScope();
  const within = `&level=${level}${region ? `&region=${region}` : ""}`;
  const from = addDays(state.asOf, -27);
  const index = (by) => api(`/resume/index?from=${from}&to=${state.asOf}${within}${by}`, { action: "resume_index" });
  const forecast = (by) => api(`/resume/forecast?as_of=${state.asOf}&days=7${within}${by}`, { action: "resume_index" });
  let answers;
  try {
    answers = await Promise.all([index("&by=industry"), forecast("&by=industry"), index(""), forecast("")]);
  } catch (e) {
    panelFailed(status, "The power index", e);
    return failed();
  }
  // One region's curves: the one with the most enterprises indexed.
  const indexed = new Map();
  for (const r of answers[2]) indexed.set(r.region, (indexed.get(r.region) || 0) + r.indexed);
  const shown = [...indexed.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const [rows, forecasts, allRows, allForecasts] = answers.map((a) => a.filter((r) => r.region === shown));
  state.power = { from, shown, rows, forecasts, allRows, allForecasts };
  const band = $("#power-band");
  const industries = [...new Set(rows.map((r) => r.industry))].sort();
  const keep = band.value;
  band.innerHTML = [`<option value="all">band: all industries</option>`, ...industries.map((i) => `<option value="${esc(i)}">band: ${esc(i)}</option>`)].join("");
  band.value = industries.includes(keep) ? keep : "all";
  drawPower();
  const today = allRows.find((r) => r.date === state.asOf);
  return today ? `${fmt(today.resumed)} of ${fmt(today.indexed)}` : null;
}

/// Draws the power index held in `state.power`: each industry's curve and forecast, all
/// industries in black, and the forecast interval of the one the band selector names.
function drawPower() {
  const el = document.getElementById("power-chart");
  const { from, shown, rows, forecasts, allRows, allForecasts } = state.power;
  $("#power-title").textContent = shown
    ? `Power index of resumption by industry · ${shown} ${regionName(shown)}`
    : "Power index of resumption by industry";
  const all = allForecasts[0];
  $("#power-note").textContent = all
    ? `forecast: ${all.method}, backtest MASE ${all.backtest.mase ?? "—"} for all industries (below 1 beats "same as the last day")`
    : "";
  const days = [];
  for (let d = from; d <= state.asOf; d = addDays(d, 1)) days.push(d);
  const ahead = (all ?? forecasts[0])?.forecast.map((p) => p.date) ?? [];
  const axis = [...days, ...ahead];
  const at = new Map(axis.map((d, i) => [d, i]));
  const industries = [...new Set(rows.map((r) => r.industry))].sort();
  const last = at.get(state.asOf);
  const series = [];
  const curve = (name, color, width, hist, f) => {
    const h = axis.map(() => null);
    for (const r of hist) if (at.has(r.date)) h[at.get(r.date)] = r.index;
    series.push({ id: `${name}|index`, name, type: "line", data: h, symbol: "none", z: width > 2 ? 5 : 2, lineStyle: { width, color }, itemStyle: { color } });
    if (!f) return;
    // The forecast joins the last known day.
    const m = axis.map(() => null);
    if (h[last] != null) m[last] = h[last];
    for (const p of f.forecast) if (at.has(p.date)) m[at.get(p.date)] = p.index;
    series.push({ id: `${name}|forecast`, name, type: "line", data: m, symbol: "none", z: width > 2 ? 5 : 2, lineStyle: { width, type: "dashed", color }, itemStyle: { color } });
  };
  industries.forEach((ind, i) => {
    curve(ind, PALETTE[i % PALETTE.length], 1.5, rows.filter((r) => r.industry === ind), forecasts.find((f) => f.industry === ind));
  });
  const ALL = "all industries";
  curve(ALL, "#14213d", 3, allRows, all);
  // The chosen forecast's 80 % interval: its low, and the width above it, stacked.
  const chosen = $("#power-band").value;
  const f = chosen === "all" ? all : forecasts.find((x) => x.industry === chosen);
  const color = chosen === "all" ? "#14213d" : PALETTE[industries.indexOf(chosen) % PALETTE.length];
  const low = axis.map(() => null);
  const width = axis.map(() => null);
  for (const p of f?.forecast ?? []) {
    if (!at.has(p.date)) continue;
    low[at.get(p.date)] = p.low;
    width[at.get(p.date)] = Math.max(0, p.high - p.low);
  }
  series.push({ id: "band|low", name: "band", type: "line", data: low, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, silent: true });
  series.push({ id: "band|width", name: "band", type: "line", data: width, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color, opacity: 0.18 }, silent: true });
  el.dataset.points = rows.length;
  el.dataset.industries = industries.length;
  el.dataset.forecasts = forecasts.length;
  el.dataset.band = f ? f.forecast.length : 0;
  el.dataset.region = shown ?? "";
  const c = chart("power-chart");
  if (!rows.length && !allRows.length) {
    c.clear();
    c.setOption({
      title: { text: "No power readings for this area and period", left: "center", top: "middle", textStyle: { fontSize: 13, color: "#5d6b7e" } },
    });
    return;
  }
  const bandAt = new Map((f?.forecast ?? []).map((p) => [p.date.slice(5), p]));
  c.setOption(
    {
      tooltip: {
        trigger: "axis",
        formatter: (ps) => {
          const seen = new Set();
          const lines = [];
          for (const p of ps) {
            if (p.value == null || p.seriesName === "band" || seen.has(p.seriesName)) continue;
            seen.add(p.seriesName);
            lines.push(`${esc(p.seriesName)}: ${p.value}`);
          }
          const b = bandAt.get(ps[0]?.axisValue);
          if (b) lines.push(`interval (${esc(chosen === "all" ? ALL : chosen)}): ${b.low}–${b.high}`);
          return [ps[0]?.axisValue, ...lines].join("<br>");
        },
      },
      legend: { data: [ALL, ...industries], top: 0, type: "scroll" },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: axis.map((d) => d.slice(5)) },
      yAxis: { type: "value", min: 0, max: 100 },
      series,
    },
    true,
  );
}

async function planPanel() {
  const el = $("#plan-table");
  delete el.dataset.count;
  if (!may("resume_plan")) {
    unavailable(el, "The whitelist");
    el.dataset.count = 0;
    return {};
  }
  let plan;
  try {
    plan = await api(`/resume/plan?as_of=${state.asOf}`, { action: "resume_plan" });
  } catch (e) {
    panelFailed(el, "The whitelist", e);
    el.dataset.count = 0;
    return {};
  }
  const shownRows = plan.slice(0, 200);
  table(
    el,
    [
      { label: "rank", num: true, value: (p) => fmt(p.rank) },
      { label: "tier", value: (p) => `${p.tier} ${p.tier_name}` },
      { label: "resumes", value: (p) => p.resume_date },
      { label: "enterprise", html: (p) => `${esc(p.name)}<br><span class="hint">${esc(p.enterprise_id)}</span>` },
      { label: "employees", num: true, value: (p) => (p.employees == null ? "" : fmt(p.employees)) },
      { label: "local workers", num: true, value: (p) => (p.local_worker_share == null ? "" : pct(p.local_worker_share)) },
      { label: "office-ready", num: true, value: (p) => fmt(p.office_ready) },
    ],
    shownRows,
    "no enterprises in your area",
  );
  if (plan.length > shownRows.length) {
    el.insertAdjacentHTML("beforeend", `<p class="hint">The first ${shownRows.length} of ${fmt(plan.length)} enterprises.</p>`);
  }
  el.dataset.count = plan.length;
  el.dataset.officeReady = plan.reduce((s, p) => s + p.office_ready, 0);
  return { whitelist: fmt(plan.length), officeReady: fmt(Number(el.dataset.officeReady)) };
}

async function jobsPanel() {
  const el = $("#jobs-table");
  delete el.dataset.jobs;
  $("#jobs-title").textContent = `Open jobs on ${state.asOf}`;
  if (!may("resume_match")) {
    unavailable(el, "Job matching");
    el.dataset.jobs = 0;
    return null;
  }
  let jobs;
  try {
    jobs = await api("/resume/match", { action: "resume_match", method: "POST", body: { date: state.asOf } });
  } catch (e) {
    panelFailed(el, "Job matching", e);
    el.dataset.jobs = 0;
    return null;
  }
  const openings = jobs.reduce((s, j) => s + j.openings, 0);
  const filled = jobs.reduce((s, j) => s + j.filled, 0);
  const rate = openings ? filled / openings : 0;
  $("#jobs-title").textContent = `Open jobs on ${state.asOf} · ${fmt(filled)} of ${fmt(openings)} openings filled (${pct(rate)})`;
  // Those still short of staff first, then in the order matching filled them.
  const order = jobs.map((j, i) => ({ ...j, i })).sort((a, b) => (b.openings - b.filled) - (a.openings - a.filled) || a.i - b.i);
  const shownRows = order.slice(0, 100);
  table(
    el,
    [
      { label: "job", value: (j) => j.job_id },
      { label: "enterprise", value: (j) => j.enterprise_id },
      { label: "openings", num: true, value: (j) => fmt(j.openings) },
      { label: "filled", num: true, value: (j) => fmt(j.filled) },
      { label: "fill rate", num: true, value: (j) => (j.openings ? pct(j.filled / j.openings) : "") },
      { label: "seekers matched", value: (j) => j.seekers.slice(0, 3).join(", ") + (j.seekers.length > 3 ? ", …" : "") },
    ],
    shownRows,
    "no jobs open",
  );
  if (order.length > shownRows.length) {
    el.insertAdjacentHTML("beforeend", `<p class="hint">The first ${shownRows.length} of ${fmt(order.length)} jobs.</p>`);
  }
  el.dataset.jobs = jobs.length;
  el.dataset.openings = openings;
  el.dataset.filled = filled;
  return openings ? `${fmt(filled)} of ${fmt(openings)}` : null;
}

function showApplication(event) {
  event.preventDefault();
  return loadApplication(event.target.id.value.trim());
}

/// One application's decisions as of the page's day (asked again when the day changes).
async function loadApplication(id) {
  state.application = id;
  const summaryEl = $("#app-summary");
  const rowsEl = $("#app-rows");
  $("#app-error").textContent = "";
  delete summaryEl.dataset.rows;
  let answer;
  try {
    answer = await api(`/resume/applications/${encodeURIComponent(id)}?as_of=${state.asOf}`, { action: "resume_decide" });
  } catch (e) {
    rowsEl.innerHTML = "";
    if (e.status === 403) {
      unavailable(summaryEl, "Applications");
    } else {
      $("#app-error").textContent = e.message;
      summaryEl.innerHTML = "";
    }
    summaryEl.dataset.rows = 0;
    return;
  }
  const s = answer.summary[0];
  $("#app-title").textContent = `Application ${s.application_id} · ${s.enterprise_id}`;
  const counts = [
    ["office", s.office],
    ["quarantine", s.quarantine],
    ["not allowed", s.not_allowed],
    ["not an employee", s.not_employee],
    ["not registered", s.not_registered],
  ];
  summaryEl.innerHTML = `<p class="app-line">applied ${fmt(s.rows)} → ${counts.map(([k, n]) => `${k} ${fmt(n)}`).join(", ")}</p>`;
  Object.assign(summaryEl.dataset, {
    rows: s.rows,
    office: s.office,
    quarantine: s.quarantine,
    notAllowed: s.not_allowed,
    notEmployee: s.not_employee,
    notRegistered: s.not_registered,
  });
  const reasons = answer.rows.some((r) => r.reasons.length);
  const shownRows = answer.rows.slice(0, 100);
  table(
    rowsEl,
    [
      { label: "employee", value: (r) => r.person_id },
      { label: "verdict", value: (r) => r.verdict.replace(/_/g, " ") },
      { label: "office from", value: (r) => r.office_date ?? "" },
      ...(reasons ? [{ label: "why", value: (r) => r.reasons.join(", ") }] : []),
    ],
    shownRows,
    "no employees on it",
  );
  if (answer.rows.length > shownRows.length) {
    rowsEl.insertAdjacentHTML("beforeend", `<p class="hint">The first ${shownRows.length} of ${fmt(answer.rows.length)} employees.</p>`);
  }
}

// ---- market supervision ----------------------------------------------------------------

const LEAD_STEPS = { new: ["assigned", "assign"], assigned: ["verified", "verify"], verified: ["closed", "close"] };
const OPEN_LEAD = (s) => s === "new" || s === "assigned" || s === "verified";

/// The market page: the leads routed to the viewer's region on the map and in a list with
/// their workflow, and the daily median unit price with the share flagged for a product in a
/// prefecture (contract §9, issue 20).
async function market() {
  state.marketFor = state.asOf;
  if (!may("market")) {
    for (const sel of ["#lead-list", "#prices-status"]) unavailable($(sel), "market supervision");
    $("#market-kpis").innerHTML = "";
    $("#market-map").dataset.leads = 0;
    $("#prices-chart").dataset.points = 0;
    return;
  }
  await Promise.all([leadsPanel(), pricesPanel()]);
}

async function leadsPanel() {
  const el = $("#lead-list");
  let leads;
  try {
    leads = await api("/market/leads", { action: "market" });
  } catch (e) {
    panelFailed(el, "market leads", e);
    return;
  }
  state.leads = leads;
  const wanted = $("#lead-state").value;
  const shown = leads.filter((l) => !wanted || (wanted === "open" ? OPEN_LEAD(l.status) : l.status === wanted));
  const canMove = may("update_lead");
  table(
    el,
    [
      { label: "rank", num: true, value: (l) => l.rank },
      { label: "lead", html: (l) => `${esc(l.subject)}<br><span class="hint">first ${esc(l.first_seen.slice(0, 10))} · last ${esc(l.last_seen.slice(0, 10))}</span>` },
      { label: "county", value: (l) => (l.county ? `${l.county} ${l.county_name ?? regionName(l.county)}` : "(no region)") },
      { label: "rules", value: (l) => l.rules.map((r) => r.replace(/_/g, " ")).join(", ") },
      { label: "listings", num: true, value: (l) => fmt(l.listings) },
      { label: "sales", num: true, value: (l) => fmt(l.sales) },
      {
        label: "status",
        html: (l) => {
          const step = LEAD_STEPS[l.status];
          const buttons = canMove && OPEN_LEAD(l.status)
            ? `<br><button class="small" data-lead="${esc(l.id)}" data-status="${step[0]}">${step[1]}</button> <button class="small secondary" data-lead="${esc(l.id)}" data-status="dismissed">dismiss</button>`
            : "";
          return `<span class="status lead-${l.status}" data-lead-status="${esc(l.id)}">${l.status}</span>${l.note ? `<br><span class="hint">${esc(l.note)}</span>` : ""}${buttons}`;
        },
      },
    ],
    shown.slice(0, 200),
    leads.length ? "no leads in this state" : "no leads in your region",
  );
  if (shown.length > 200) el.insertAdjacentHTML("beforeend", `<p class="hint">The first 200 of ${fmt(shown.length)} leads.</p>`);
  el.dataset.count = leads.length;
  el.dataset.shown = shown.length;
  el.dataset.state = wanted;
  const open = leads.filter((l) => OPEN_LEAD(l.status));
  const counties = new Set(open.map((l) => l.county).filter(Boolean));
  const tiles = [
    ["kpi-leads-open", "open leads", fmt(open.length)],
    ["kpi-leads-new", "new, not yet assigned", fmt(leads.filter((l) => l.status === "new").length)],
    ["kpi-lead-counties", "counties with open leads", fmt(counties.size)],
    ["kpi-leads-closed", "closed or dismissed", fmt(leads.length - open.length)],
  ];
  $("#market-kpis").innerHTML = tiles
    .map(([id, label, value]) => `<div class="kpi" id="${id}"><div class="value">${value}</div><div class="label">${esc(label)}</div></div>`)
    .join("");
  marketMap(leads);
}

/// Open leads per county on the counties' backdrop, sized and shaded by their number.
function marketMap(leads) {
  const el = document.getElementById("market-map");
  const by = new Map();
  for (const l of leads) {
    if (!l.county || !OPEN_LEAD(l.status)) continue;
    const c = by.get(l.county) || { county: l.county, name: l.county_name, leads: 0, sales: 0 };
    c.leads += 1;
    c.sales += l.sales;
    by.set(l.county, c);
  }
  const max = Math.max(1, ...[...by.values()].map((c) => c.leads));
  const pts = [...by.values()]
    .map((c) => {
      const p = point(c.county);
      const t = Math.sqrt(c.leads / max);
      const color = `rgb(${Math.round(240 - 40 * t)}, ${Math.round(170 - 130 * t)}, ${Math.round(60 - 30 * t)})`;
      return p && { value: [...p, c.county], name: c.name ?? regionName(c.county), leads: c.leads, sales: c.sales, symbolSize: 7 + 23 * t, itemStyle: { color } };
    })
    .filter(Boolean);
  el.dataset.leads = [...by.values()].reduce((s, c) => s + c.leads, 0);
  el.dataset.counties = pts.length;
  const box = homeBox(state.account.region ? [] : [...by.values()].map((c) => ({ region: c.county })));
  chart("market-map").setOption(
    {
      tooltip: {
        trigger: "item",
        formatter: (p) =>
          p.seriesName === "leads"
            ? `${esc(p.data.value[2])} ${esc(p.data.name)}<br>open leads ${fmt(p.data.leads)}, sales ${fmt(p.data.sales)}`
            : `${esc(p.value[2])} ${esc(regionName(p.value[2]))}`,
      },
      grid: { left: 8, right: 8, top: 8, bottom: 8 },
      xAxis: { type: "value", show: false, scale: true, min: box ? box[0] : X(73), max: box ? box[1] : X(135) },
      yAxis: { type: "value", show: false, scale: true, min: box ? box[2] : 18, max: box ? box[3] : 54 },
      dataZoom: [
        { type: "inside", xAxisIndex: 0, filterMode: "none" },
        { type: "inside", yAxisIndex: 0, filterMode: "none" },
      ],
      series: [
        { name: "regions", type: "scatter", data: countyDots(), symbolSize: 2.5, itemStyle: { color: "#c9d1db" } },
        { name: "leads", type: "scatter", data: pts, itemStyle: { opacity: 0.9, borderColor: "#fff" }, z: 4 },
      ],
    },
    true,
  );
}

async function pricesPanel() {
  const status = $("#prices-status");
  status.innerHTML = "";
  try {
    state.prices = await api(`/market/prices?to=${state.asOf}`, { action: "market" });
  } catch (e) {
    state.prices = null;
    panelFailed(status, "prices", e);
    $("#prices-chart").dataset.points = 0;
    return;
  }
  // The choices: what there is, the prefecture and product with the most listings first.
  const listings = (key) => {
    const m = new Map();
    for (const d of state.prices) m.set(key(d), (m.get(key(d)) || 0) + d.listings);
    return [...m.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).map((e) => e[0]);
  };
  const fill = (sel, values, label) => {
    const before = sel.value;
    sel.innerHTML = values.map((v) => `<option value="${esc(v)}">${esc(label(v))}</option>`).join("");
    if (values.includes(before)) sel.value = before;
  };
  const names = new Map(state.prices.map((d) => [d.prefecture, d.prefecture_name]));
  fill($("#prices-prefecture"), listings((d) => d.prefecture), (p) => `${p} ${names.get(p) ?? regionName(p)}`);
  fill($("#prices-product"), listings((d) => d.product), (p) => p.replace(/_/g, " "));
  drawPrices();
}

/// The median unit price per day (yuan, line) and the share of listings flagged (%, bars) of
/// the chosen product in the chosen prefecture.
function drawPrices() {
  const el = document.getElementById("prices-chart");
  const pref = $("#prices-prefecture").value;
  const product = $("#prices-product").value;
  const days = (state.prices || []).filter((d) => d.prefecture === pref && d.product === product);
  el.dataset.points = days.length;
  el.dataset.prefecture = pref;
  el.dataset.product = product;
  el.dataset.flagged = days.reduce((s, d) => s + d.flagged, 0);
  el.dataset.lastMedian = days.length ? days[days.length - 1].median_unit_price_micro : "";
  $("#prices-title").textContent = pref ? `Median unit price · ${pref} ${regionName(pref)}` : "Median unit price";
  const c = chart("prices-chart");
  if (!days.length) {
    c.clear();
    c.setOption({
      title: { text: "No listings captured in your region by this day", left: "center", top: "middle", textStyle: { fontSize: 13, color: "#5d6b7e" } },
    });
    return;
  }
  c.setOption(
    {
      tooltip: {
        trigger: "axis",
        formatter: (ps) => {
          const d = days[ps[0].dataIndex];
          return `${esc(d.date)}<br>median ¥${d.median_unit_price_cny.toFixed(4)} a mask over ${fmt(d.captures)} captures<br>${fmt(d.flagged)} of ${fmt(d.listings)} listings flagged (${pct(d.flagged_share)})`;
        },
      },
      legend: { data: ["median ¥ per mask", "% of listings flagged"], top: 0 },
      grid: { left: 56, right: 48, top: 28, bottom: 28 },
      xAxis: { type: "category", data: days.map((d) => d.date.slice(5)) },
      yAxis: [{ type: "value", scale: true }, { type: "value", min: 0, max: 100 }],
      series: [
        { name: "% of listings flagged", type: "bar", yAxisIndex: 1, data: days.map((d) => +(100 * d.flagged_share).toFixed(2)), itemStyle: { color: "#f4b183" } },
        { name: "median ¥ per mask", type: "line", data: days.map((d) => d.median_unit_price_cny), itemStyle: { color: "#1f5fbf" } },
      ],
    },
    true,
  );
}

/// A lead's button: one step on, or dismissed with a reason (asked for; cancelling keeps it).
async function moveLead(button) {
  const to = button.dataset.status;
  let note = "";
  if (to === "dismissed") {
    note = prompt("Why is this lead dismissed?", "");
    if (note === null) return;
  }
  $("#lead-error").textContent = "";
  button.disabled = true;
  try {
    await api(`/market/leads/${button.dataset.lead}/status`, { action: "update_lead", method: "POST", body: { status: to, note } });
    await leadsPanel();
  } catch (e) {
    $("#lead-error").textContent = e.message;
    button.disabled = false;
  }
}

// ---- wiring ----------------------------------------------------------------------------

$("#login-form").addEventListener("submit", login);
$("#logout").addEventListener("click", signOut);
$("#tabs").addEventListener("click", (e) => {
  const view = e.target.dataset.view;
  if (!view) return;
  show(view);
  // The enterprises page asks for its panels when first shown for a day.
  if (view === "enterprises" && state.entFor !== state.asOf) enterprises();
  if (view === "market" && state.marketFor !== state.asOf) market();
});
$("#as-of").addEventListener("change", (e) => {
  state.asOf = e.target.value;
  state.entFor = null;
  refresh();
  if ($("#enterprises").classList.contains("active")) enterprises();
  state.marketFor = null;
  if ($("#market").classList.contains("active")) market();
});
$("#app-form").addEventListener("submit", showApplication);
$("#power-band").addEventListener("change", () => state.power && drawPower());
$("#alert-status").addEventListener("change", () => communities());
$("#alert-list").addEventListener("click", (e) => {
  if (e.target.dataset.alert) changeAlert(e.target);
});
$("#flow-source").addEventListener("change", () => overview());
$("#lead-state").addEventListener("change", () => leadsPanel());
$("#lead-list").addEventListener("click", (e) => {
  if (e.target.dataset.lead) moveLead(e.target);
});
$("#prices-product").addEventListener("change", drawPrices);
$("#prices-prefecture").addEventListener("change", drawPrices);
$("#zoom-china").addEventListener("click", () => zoom(null));
$("#zoom-home").addEventListener("click", () => zoom(state.homeBox));
$("#case-form").addEventListener("submit", showCase);
$("#code-form").addEventListener("submit", showCode);

if (state.token && state.account) {
  start().catch(() => logout());
} else {
  show("login");
}
