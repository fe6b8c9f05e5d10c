// The residents' page served at /me (contract §10): sign in with an ID number and a one-time
// code, then one's own health code as a QR with its colour and reasons, the daily self-report,
// arrival registration, corrections, the access log and the cases nearby. Plain JavaScript, no
// framework; every string comes from strings.js in the chosen language. The page holds no
// data of its own: everything comes from /api/v1/resident with the session's token, kept in
// sessionStorage (gone when the tab closes) and dropped on sign-out or a 401.

import { translate, defaultLang } from "./strings.js";
import { drawPlot, distanceText } from "./plot.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const SESSION_KEY = "fangyi.me.session";
const LANG_KEY = "fangyi.me.lang";
const RULES = ["case", "close_contact", "high_risk_arrival", "medium_risk_arrival", "fever", "recovered", "override"];
const COLORS = ["green", "yellow", "red"];

const params = new URLSearchParams(location.search);
/// A day to show instead of today (`/me?as_of=2020-01-27`: the demo's data is of 2020).
const AS_OF = /^\d{4}-\d{2}-\d{2}$/.test(params.get("as_of") || "") ? params.get("as_of") : null;

const state = {
  lang: null,
  session: null,
  /// What was last shown, kept to draw again in the other language.
  code: null,
  qr: null,
  qrState: null,
  ruleChoices: null,
  corrections: null,
  correctionsMissing: false,
  access: null,
  nearby: null,
  regions: null,
  pendingOtp: null,
  refreshTimer: null,
  sendAgainTimer: null,
};

// ---------------------------------------------------------------------------------------------
// Language

function t(key, vars) {
  return translate(state.lang, key, vars);
}

function setLang(lang) {
  state.lang = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const e of $$("[data-t]")) e.textContent = t(e.dataset.t);
  for (const e of $$("[data-t-placeholder]")) e.placeholder = t(e.dataset.tPlaceholder);
  const btn = $("#lang");
  btn.textContent = t("switch_lang");
  btn.setAttribute("aria-label", t("switch_lang_label"));
  if (AS_OF) $("#as-of-banner").textContent = t("as_of_banner", { date: AS_OF });
  if (state.pendingOtp) $("#code-sent").textContent = t("code_sent", { phone: maskPhone(state.pendingOtp.phone) });
  if (state.session) $("#who").textContent = t("signed_in_as", { id: maskId(state.session.person_id) });
  // Everything drawn from data, again in the new language.
  if (state.code) renderCode();
  if (state.ruleChoices) renderRuleChoices();
  if (state.corrections || state.correctionsMissing) renderCorrections();
  if (state.access) renderAccess();
  if (state.nearby) renderNearby();
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/// Calls `/api/v1{path}`; JSON in and out (`as: "blob"` for an image). A 401 with a session
/// signs the page out: the token expired or was revoked.
async function api(path, { method = "GET", body, as = "json" } = {}) {
  const headers = {};
  if (state.session) headers.Authorization = `Bearer ${state.session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, t("error_network"));
  }
  if (r.ok) {
    if (r.status === 202 || r.status === 204) return null;
    return as === "blob" ? r.blob() : r.json();
  }
  let message = "";
  try {
    message = (await r.json()).error || "";
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  if (r.status === 401 && state.session && !path.startsWith("/resident/session")) {
    signedOut(t("expired"));
  }
  if (r.status === 429 && !message) message = t("error_rate");
  if (!message) message = t("error_server", { status: r.status });
  throw new ApiError(r.status, message);
}

function asOfQuery(prefix = "?") {
  return AS_OF ? `${prefix}as_of=${AS_OF}` : "";
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function maskId(id) {
  return id && id.length === 18 ? `${id.slice(0, 6)}********${id.slice(14)}` : id;
}

function maskPhone(p) {
  return p && p.length === 11 ? `${p.slice(0, 3)}****${p.slice(7)}` : p;
}

/// "2020-01-27 10:32" from an RFC 3339 time in the deployment's zone (shown as given: the
/// resident and the deployment share a zone, and converting would show a different day).
function when(rfc3339) {
  if (!rfc3339) return "";
  return rfc3339.length >= 16 ? `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 16)}` : rfc3339;
}

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function li(cls, ...children) {
  const e = document.createElement("li");
  if (cls) e.className = cls;
  e.append(...children);
  return e;
}

function span(cls, text) {
  const e = document.createElement("span");
  if (cls) e.className = cls;
  e.textContent = text;
  return e;
}

function say(sel, text, ok = false) {
  const e = $(sel);
  e.textContent = text || "";
  e.classList.toggle("ok", ok && !!text);
}

function busy(form, on) {
  for (const b of $$("button", form)) {
    // "Send again" keeps its own minute's wait.
    if (b.id !== "send-again") b.disabled = on;
  }
}

function ruleShort(rule) {
  return RULES.includes(rule) ? t(`rule_short_${rule}`) : rule;
}

function colorName(color) {
  return COLORS.includes(color) ? t(`color_${color}`) : color;
}

// ---------------------------------------------------------------------------------------------
// Regions: the embedded table's points (`/regions.json`: [[code, name, level, parent, lon,
// lat], …]), for the region fields and the nearby search's "a place".

async function regions() {
  if (state.regions) return state.regions;
  const r = await fetch("/regions.json");
  if (!r.ok) throw new ApiError(r.status, t("error_server", { status: r.status }));
  const rows = await r.json();
  const byCode = new Map();
  const byName = new Map();
  for (const [code, name, level, parent, lon, lat] of rows) {
    const region = { code, name, level, parent, lon, lat };
    byCode.set(code, region);
    // A name shared by several regions (鼓楼区) is ambiguous: keep the first, and the
    // datalist shows each with its code so the resident can pick.
    if (!byName.has(name)) byName.set(name, region);
  }
  state.regions = { rows, byCode, byName };
  const list = $("#region-list");
  const frag = document.createDocumentFragment();
  for (const [code, name] of rows) {
    const o = document.createElement("option");
    o.value = code;
    o.label = name;
    o.textContent = name;
    frag.append(o);
  }
  list.replaceChildren(frag);
  return state.regions;
}

/// A region code from what was typed: a 6-digit code, or a name (with or without its code).
async function regionCode(text) {
  const s = text.trim();
  if (!s) return null;
  const code = s.match(/\b(\d{6})\b/);
  if (code) return code[1];
  const { byName } = await regions();
  const r = byName.get(s);
  if (!r) throw new Error(t("unknown_region", { name: s }));
  return r.code;
}

// ---------------------------------------------------------------------------------------------
// Sign in

function validId(id) {
  return /^\d{17}[\dX]$/.test(id);
}

async function requestOtp(personId, phone) {
  await api("/resident/otp", { method: "POST", body: { person_id: personId, phone } });
  state.pendingOtp = { person_id: personId, phone };
  $("#code-sent").textContent = t("code_sent", { phone: maskPhone(phone) });
  $("#otp-form").hidden = true;
  $("#code-form").hidden = false;
  $("#code-form input[name=code]").value = "";
  $("#code-form input[name=code]").focus();
  holdSendAgain();
}

/// The service sends at most one code a minute to a person, so "send again" waits that long
/// (a request sooner would be answered as usual and send nothing).
function holdSendAgain() {
  const b = $("#send-again");
  clearInterval(state.sendAgainTimer);
  const until = Date.now() + 60000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    b.disabled = left > 0;
    b.textContent = left > 0 ? `${t("send_again")} (${left} s)` : t("send_again");
    if (left <= 0) clearInterval(state.sendAgainTimer);
  };
  tick();
  state.sendAgainTimer = setInterval(tick, 1000);
}

function initSignIn() {
  $("#otp-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const personId = f.person_id.value.trim().toUpperCase();
    const phone = f.phone.value.replace(/\D/g, "");
    say("#signin-msg", "");
    if (!validId(personId)) return say("#signin-msg", t("bad_id"));
    if (phone.length !== 11) return say("#signin-msg", t("bad_phone"));
    busy(f, true);
    try {
      await requestOtp(personId, phone);
    } catch (e) {
      say("#signin-msg", e.message);
    } finally {
      busy(f, false);
    }
  });
  $("#code-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const code = f.code.value.replace(/\D/g, "");
    say("#signin-msg", "");
    if (code.length !== 6) return say("#signin-msg", t("bad_otp"));
    busy(f, true);
    try {
      const s = await api("/resident/session", {
        method: "POST",
        body: { person_id: state.pendingOtp.person_id, code },
      });
      signedIn({ token: s.token, expires: s.expires, person_id: state.pendingOtp.person_id });
    } catch (e) {
      if (e.status === 401) say("#signin-msg", t("wrong_code"));
      else if (e.status === 429) say("#signin-msg", t("locked", { detail: e.message }));
      else say("#signin-msg", e.message);
    } finally {
      busy(f, false);
    }
  });
  $("#send-again").addEventListener("click", async () => {
    say("#signin-msg", "");
    try {
      await requestOtp(state.pendingOtp.person_id, state.pendingOtp.phone);
    } catch (e) {
      say("#signin-msg", e.message);
    }
  });
  $("#change-number").addEventListener("click", () => {
    state.pendingOtp = null;
    say("#signin-msg", "");
    $("#code-form").hidden = true;
    $("#otp-form").hidden = false;
  });
}

function signedIn(session) {
  clearInterval(state.sendAgainTimer);
  state.session = session;
  state.pendingOtp = null;
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // Storage refused: the session lasts until the page is left.
  }
  $("#otp-form").reset();
  $("#code-form").reset();
  $("#code-form").hidden = true;
  $("#otp-form").hidden = false;
  $("#signin").classList.remove("active");
  $("#app").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = t("signed_in_as", { id: maskId(session.person_id) });
  show("code");
}

/// Back to the sign-in screen with every screen emptied, so the next person on this phone
/// sees nothing of the last one's.
function signedOut(message) {
  state.session = null;
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // Nothing was stored.
  }
  clearInterval(state.refreshTimer);
  Object.assign(state, {
    code: null,
    qr: null,
    qrState: null,
    ruleChoices: null,
    corrections: null,
    correctionsMissing: false,
    access: null,
    nearby: null,
  });
  for (const f of $$("#app form")) f.reset();
  for (const sel of ["#reasons", "#corrections-list", "#access-list", "#nearby-list", "#nearby-plot"]) {
    $(sel).replaceChildren();
  }
  for (const sel of ["#color-name", "#color-words", "#valid-until", "#code-date", "#qr-msg", "#updated", "#who"]) {
    $(sel).textContent = "";
  }
  for (const sel of ["#code-msg", "#report-msg", "#arrival-msg", "#correction-msg", "#access-msg", "#nearby-msg"]) {
    say(sel, "");
  }
  $("#code-card").removeAttribute("data-color");
  $("#qr").hidden = true;
  $("#qr").removeAttribute("src");
  $("#nearby-result").hidden = true;
  $("#app").hidden = true;
  $("#signin").classList.add("active");
  say("#signin-msg", message || "");
}

async function signOut() {
  try {
    await api("/resident/logout", { method: "POST" });
  } catch {
    // Signed out here whatever the server says; the token ends within the hour anyway.
  }
  signedOut("");
}

// ---------------------------------------------------------------------------------------------
// Screens

const LOADERS = {
  code: () => loadCode(),
  report: () => regions().catch(() => {}),
  arrival: () => {
    const d = $("#arrival-form input[name=arrival_date]");
    if (!d.value) d.value = AS_OF || today();
    return regions().catch(() => {});
  },
  corrections: () => loadCorrections(),
  access: () => loadAccess(),
  nearby: () => regions().catch(() => {}),
};

function show(name) {
  for (const s of $$("#app .screen")) s.classList.toggle("active", s.id === name);
  for (const b of $$("#tabs button")) {
    if (b.dataset.screen === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  clearInterval(state.refreshTimer);
  if (name === "code") {
    // The code changes when reports reach the store: look again while it is on screen.
    // Not while the page is hidden: each look signs a code afresh.
    state.refreshTimer = setInterval(() => document.visibilityState === "visible" && loadCode(), 60000);
  }
  LOADERS[name]?.();
}

// ---------------------------------------------------------------------------------------------
// My code

async function loadCode() {
  say("#code-msg", "");
  try {
    const code = await api(`/resident/code${asOfQuery()}`);
    state.code = code;
    state.ruleChoices = rulesOf(code);
    state.qrState = code.payload ? "loading" : "none";
    renderCode();
    $("#updated").dataset.at = new Date().toISOString();
    $("#updated").textContent = t("updated", { time: new Date().toLocaleTimeString() });
    if (code.payload) await loadQr(code);
  } catch (e) {
    if (state.session) say("#code-msg", e.message);
  }
}

/// The QR image: fetched with the token and shown as a data: URL (the page's policy allows
/// images from this server and data: only).
async function loadQr(code) {
  try {
    const blob = await api(`/resident/code.png${asOfQuery()}`, { as: "blob" });
    const url = await new Promise((resolve, reject) => {
      const fr = new FileReader();
      fr.onload = () => resolve(fr.result);
      fr.onerror = () => reject(fr.error);
      fr.readAsDataURL(blob);
    });
    if (state.code !== code) return;
    state.qr = url;
    state.qrState = "shown";
  } catch {
    if (state.code !== code) return;
    state.qr = null;
    state.qrState = "failed";
  }
  renderCode();
}

function rulesOf(code) {
  const rules = [];
  for (const r of code.reasons || []) {
    if (r.rule !== "override" && !rules.includes(r.rule)) rules.push(r.rule);
  }
  return rules;
}

function renderCode() {
  const code = state.code;
  if (!code) return;
  const card = $("#code-card");
  const color = COLORS.includes(code.color) ? code.color : "unknown";
  card.dataset.color = color;
  $("#color-name").textContent = colorName(code.color);
  $("#color-words").textContent = COLORS.includes(code.color) ? t(`color_word_${code.color}`) : "";
  const until = $("#valid-until");
  if (code.color === "green") until.textContent = "";
  else if (code.valid_until) until.textContent = t("turns_green", { date: code.valid_until });
  else until.textContent = t("no_end");
  $("#code-date").textContent = t("code_for", { date: code.as_of });
  const img = $("#qr");
  const msg = $("#qr-msg");
  if (state.qrState === "shown" && state.qr) {
    img.src = state.qr;
    img.alt = t("qr_alt", { color: colorName(code.color) });
    img.hidden = false;
    img.dataset.loaded = "1";
    msg.textContent = "";
  } else {
    img.hidden = true;
    img.removeAttribute("src");
    delete img.dataset.loaded;
    msg.textContent =
      state.qrState === "none" ? t("qr_none") : state.qrState === "failed" ? t("qr_failed") : t("loading");
  }
  const list = $("#reasons");
  list.replaceChildren();
  if (!code.reasons?.length) {
    list.append(li("none", span("", t("no_reasons"))));
  }
  for (const r of code.reasons || []) {
    const item = li("reason", span("rule", ruleShort(r.rule)));
    item.dataset.rule = r.rule;
    item.append(span("plain", RULES.includes(r.rule) ? t(`rule_${r.rule}`) : t("rule_other", { rule: r.rule })));
    if (r.detail) item.append(span("detail", t("details", { detail: r.detail })));
    list.append(item);
  }
}

// ---------------------------------------------------------------------------------------------
// Daily report and arrival

async function regionList(text) {
  const parts = text
    .split(/[,，、;；\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const out = [];
  for (const p of parts) {
    const c = await regionCode(p);
    if (c && !out.includes(c)) out.push(c);
  }
  return out;
}

function initReports() {
  $("#report-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    say("#report-msg", "");
    const body = {};
    const temp = f.temperature_c.value.trim();
    if (temp) body.temperature_c = Number(temp);
    const symptoms = $$("input[name=symptom]:checked", f).map((c) => c.value);
    const other = f.symptoms_other.value.trim();
    if (other) symptoms.push(other);
    if (symptoms.length) body.symptoms = symptoms.join("; ");
    try {
      const visited = await regionList(f.visited_regions.value);
      if (visited.length) body.visited_regions = visited;
    } catch (e) {
      return say("#report-msg", e.message);
    }
    if (!Object.keys(body).length) return say("#report-msg", t("report_empty"));
    busy(f, true);
    try {
      const ack = await api("/resident/self-reports", { method: "POST", body });
      f.reset();
      say("#report-msg", t("report_sent", { time: when(ack.received) }), true);
    } catch (e) {
      say("#report-msg", e.message);
    } finally {
      busy(f, false);
    }
  });
  $("#arrival-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    say("#arrival-msg", "");
    const body = { arrival_date: f.arrival_date.value };
    try {
      body.from_region = await regionCode(f.from_region.value);
      const stay = await regionCode(f.stay_region.value);
      if (stay) body.stay_region = stay;
    } catch (e) {
      return say("#arrival-msg", e.message);
    }
    if (!body.from_region) delete body.from_region;
    for (const k of ["stay_community", "stay_address"]) {
      const v = f[k].value.trim();
      if (v) body[k] = v;
    }
    busy(f, true);
    try {
      const ack = await api("/resident/registrations", { method: "POST", body });
      f.reset();
      f.arrival_date.value = AS_OF || today();
      say("#arrival-msg", t("arrival_sent", { time: when(ack.received) }), true);
    } catch (e) {
      say("#arrival-msg", e.message);
    } finally {
      busy(f, false);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Corrections

async function loadCorrections() {
  say("#correction-msg", "");
  // The rules to choose from are those of the code on the day shown (today, or `as_of`): a
  // correction is of a rule that applies to the code disputed.
  try {
    const code = await api(`/resident/code${asOfQuery()}`);
    state.ruleChoices = rulesOf(code);
    renderRuleChoices();
  } catch (e) {
    if (state.session) say("#correction-msg", e.message);
  }
  try {
    state.corrections = await api("/resident/corrections");
    state.correctionsMissing = false;
  } catch (e) {
    if (e.status === 404 || e.status === 405) {
      state.corrections = null;
      state.correctionsMissing = true;
    } else if (state.session) {
      say("#correction-msg", e.message);
    }
  }
  renderCorrections();
}

function renderRuleChoices() {
  const select = $("#correction-form select[name=rule]");
  const keep = select.value;
  select.replaceChildren();
  for (const rule of state.ruleChoices || []) {
    const o = document.createElement("option");
    o.value = rule;
    o.textContent = ruleShort(rule);
    select.append(o);
  }
  if (keep) select.value = keep;
  const none = !(state.ruleChoices || []).length;
  $("#correction-form button[type=submit]").disabled = none || state.correctionsMissing;
  if (none && !$("#correction-msg").textContent) say("#correction-msg", t("correction_none"));
}

function renderCorrections() {
  const list = $("#corrections-list");
  list.replaceChildren();
  if (state.correctionsMissing) {
    list.append(li("none", span("", t("corrections_unavailable"))));
    $("#correction-form button[type=submit]").disabled = true;
    return;
  }
  const items = state.corrections || [];
  if (!items.length) list.append(li("none", span("", t("no_corrections"))));
  for (const c of items) {
    const status = ["open", "accepted", "rejected"].includes(c.status) ? c.status : "open";
    const item = li(`correction status-${status}`);
    item.dataset.id = c.id;
    item.dataset.status = c.status;
    const head = document.createElement("div");
    head.className = "item-head";
    head.append(span("rule", ruleShort(c.rule)), span(`badge badge-${status}`, t(`status_${status}`)));
    item.append(head, span("line", t("filed_on", { date: when(c.filed) })));
    if (c.reason) item.append(span("line", t("reason_given", { text: c.reason })));
    if (c.decided) item.append(span("line", t("decided_on", { date: when(c.decided) })));
    if (c.outcome) item.append(span("line outcome", t("outcome", { text: c.outcome })));
    if (c.until && status === "accepted") item.append(span("line", t("set_aside_until", { date: c.until })));
    list.append(item);
  }
}

function initCorrections() {
  $("#correction-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    say("#correction-msg", "");
    // One line: the service keeps a reason on one line.
    const reason = f.reason.value.replace(/\s+/g, " ").trim();
    if (!f.rule.value || !reason) return;
    busy(f, true);
    try {
      const body = { rule: f.rule.value, reason };
      if (AS_OF) body.as_of = AS_OF;
      const c = await api("/resident/corrections", { method: "POST", body });
      f.reason.value = "";
      await loadCorrections();
      say("#correction-msg", t("correction_sent", { id: c.id }), true);
    } catch (e) {
      if (e.status === 404 || e.status === 405) {
        state.correctionsMissing = true;
        renderCorrections();
        say("#correction-msg", t("corrections_unavailable"));
      } else if (e.status === 409) {
        say("#correction-msg", t("correction_open"));
      } else {
        say("#correction-msg", e.message);
      }
    } finally {
      busy(f, false);
      renderRuleChoices();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Access log

async function loadAccess() {
  say("#access-msg", "");
  try {
    state.access = await api("/resident/access-log");
    renderAccess();
  } catch (e) {
    if (state.session) say("#access-msg", e.message);
  }
}

function whoText(e) {
  const key = `who_${e.who}`;
  const who = translate(state.lang, key) === key ? e.who : t(key);
  return e.region ? `${who} · ${t("region_of", { region: regionLabel(e.region) })}` : who;
}

function regionLabel(code) {
  const r = state.regions?.byCode.get(code);
  return r ? `${r.name} ${code}` : code;
}

function vocab(prefix, value) {
  const key = `${prefix}_${value}`;
  const s = translate(state.lang, key);
  return s === key ? value : s;
}

/// Consecutive reads alike (the resident's own code, fetched on every visit) shown once with
/// how many and the earliest time, so the staff's reads are not buried.
function groupAccess(rows) {
  const groups = [];
  for (const e of rows) {
    const last = groups[groups.length - 1];
    const same = last && ["who", "region", "purpose", "action", "outcome"].every((k) => last.e[k] === e[k]);
    if (same) {
      last.n += 1;
      last.first = e.at;
    } else {
      groups.push({ e, n: 1, first: e.at });
    }
  }
  return groups;
}

function renderAccess() {
  const list = $("#access-list");
  list.replaceChildren();
  const rows = state.access || [];
  if (!rows.length) list.append(li("none", span("", t("access_none"))));
  for (const { e, n, first } of groupAccess(rows)) {
    const item = li(`access outcome-${e.outcome === "ok" ? "ok" : "denied"}`);
    item.dataset.who = e.who;
    item.dataset.action = e.action;
    item.dataset.count = String(n);
    const head = document.createElement("div");
    head.className = "item-head";
    head.append(span("who", whoText(e)), span("at", when(n > 1 ? first : e.at)));
    item.append(head);
    let what = vocab("action", e.action);
    if (e.outcome !== "ok") what += ` (${t("outcome_denied")})`;
    item.append(span("line", `${t("access_what")}: ${what}`), span("line", `${t("access_why")}: ${vocab("purpose", e.purpose)}`));
    if (n > 1) item.append(span("line muted", t("times", { n, time: when(e.at) })));
    list.append(item);
  }
  if (rows.length >= 500) say("#access-msg", t("access_more", { n: rows.length }));
}

// ---------------------------------------------------------------------------------------------
// Nearby

function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("no geolocation"));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
      (e) => reject(new Error(e.message || `error ${e.code}`)),
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 },
    );
  });
}

async function searchNearby(lat, lon) {
  const f = $("#nearby-form");
  say("#nearby-msg", "");
  const q = new URLSearchParams({ lat: String(lat), lon: String(lon), radius_m: f.radius_m.value });
  if (AS_OF) q.set("as_of", AS_OF);
  busy(f, true);
  try {
    state.nearby = await api(`/public/nearby?${q}`);
    renderNearby();
  } catch (e) {
    say("#nearby-msg", e.message);
  } finally {
    busy(f, false);
  }
}

function pointTitle(p, i) {
  const kind = vocab("kind", p.kind);
  const name = p.place_name ? `${p.place_name} (${p.place})` : p.place;
  const stop = p.stop ? ` · ${vocab("stop", p.stop)}` : "";
  return `${i + 1}. ${kind}${stop}: ${name}`;
}

function renderNearby() {
  const a = state.nearby;
  if (!a) return;
  $("#nearby-result").hidden = false;
  const radius = distanceText(a.radius_m);
  $("#nearby-summary").textContent = a.points.length
    ? t("nearby_count", { n: a.points.length, radius }) + (a.truncated ? ` ${t("nearby_truncated", { n: a.points.length })}` : "")
    : t("nearby_none", { radius });
  const svg = $("#nearby-plot");
  const rings = drawPlot(svg, a, (p) => pointTitle(p, a.points.indexOf(p)), t("you_are_here"));
  svg.setAttribute("aria-label", t("plot_label", { rings: rings.map(distanceText).join(", ") }));
  svg.dataset.points = String(a.points.length);
  const list = $("#nearby-list");
  list.replaceChildren();
  a.points.forEach((p, i) => {
    const item = li(`point kind-${p.kind}`);
    const head = document.createElement("div");
    head.className = "item-head";
    head.append(span("place", pointTitle(p, i)), span("dist", t("away", { d: distanceText(p.distance_m) })));
    item.append(head, span("line", `${when(p.start)} – ${when(p.end)} · ${t("cases_n", { n: p.cases })}`));
    if (p.region) item.append(span("line muted", regionLabel(p.region)));
    if (p.position === "region") item.append(span("line muted", t("approximate")));
    list.append(item);
  });
}

function initNearby() {
  $("#locate").addEventListener("click", async () => {
    say("#nearby-msg", t("locating"));
    try {
      const p = await position();
      const f = $("#nearby-form");
      f.lat.value = p.lat.toFixed(5);
      f.lon.value = p.lon.toFixed(5);
      f.place.value = "";
      await searchNearby(p.lat, p.lon);
    } catch (e) {
      say("#nearby-msg", t("location_failed", { why: e.message }));
    }
  });
  $("#nearby-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    say("#nearby-msg", "");
    if (f.place.value.trim()) {
      try {
        const code = await regionCode(f.place.value);
        const r = (await regions()).byCode.get(code);
        if (!r) throw new Error(t("unknown_region", { name: f.place.value.trim() }));
        f.lat.value = r.lat;
        f.lon.value = r.lon;
        return searchNearby(r.lat, r.lon);
      } catch (e) {
        return say("#nearby-msg", e.message);
      }
    }
    const lat = Number(f.lat.value.trim());
    const lon = Number(f.lon.value.trim());
    if (!f.lat.value.trim() || !f.lon.value.trim() || !Number.isFinite(lat) || !Number.isFinite(lon)) {
      return say("#nearby-msg", t("nearby_need_place"));
    }
    return searchNearby(lat, lon);
  });
  // A place typed clears coordinates typed before, so the search is of what was typed last.
  $("#nearby-form input[name=place]").addEventListener("input", () => {
    $("#nearby-form").lat.value = "";
    $("#nearby-form").lon.value = "";
  });
}

// ---------------------------------------------------------------------------------------------
// Start

function start() {
  let lang = null;
  try {
    lang = localStorage.getItem(LANG_KEY);
  } catch {
    // No storage: the browser's language.
  }
  if (params.get("lang") === "en" || params.get("lang") === "zh") lang = params.get("lang");
  setLang(lang === "en" || lang === "zh" ? lang : defaultLang(navigator.languages || [navigator.language]));
  if (AS_OF) $("#as-of-banner").hidden = false;
  $("#lang").addEventListener("click", () => setLang(state.lang === "zh" ? "en" : "zh"));
  $("#logout").addEventListener("click", signOut);
  $("#refresh").addEventListener("click", () => loadCode());
  for (const b of $$("#tabs button")) b.addEventListener("click", () => show(b.dataset.screen));
  initSignIn();
  initReports();
  initCorrections();
  initNearby();
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    saved = null;
  }
  if (saved?.token && saved.expires && Date.parse(saved.expires) > Date.now()) signedIn(saved);
}

start();
