// Browser test of the dashboard: headless Chromium (Debian's) driven by Playwright loads the
// page from a running `fangyi serve`, signs in as two roles and checks that the map, the
// curves and the tables show the numbers the API gives each of them, and that a community
// worker sees only their community. Screenshots go to $SCREENSHOTS.
//
// Run by crates/cli/tests/dashboard.rs, which starts the server and passes, as JSON in
// $FANGYI_EXPECT: {url, as_of, admin: {name, password, arrivals, destinations, risk_areas,
// baidu_flows, alerts}, worker: {name, password, community, arrivals, alerts}, case: {id,
// contacts}, code: {id, color}, resume: {as_of, power: {region, points, forecasts}, plan:
// {count, office_ready}, application (its summary), other_application, jobs: {count, openings,
// filled}, enterprise: {name, password, id, jobs, openings, filled}}} — numbers the CLI
// computed. The case curve and the trail are compared with the API's own answers. On the
// enterprises page the admin sees every panel, an enterprise account its own application and
// jobs only (the rest "not available to your role"), a community worker none of it. A market
// supervisor (expect.market: {name, password, region, leads, prices: the CLI's rows}) starts on
// the market page: its leads on the map and in the list, the price chart = the CLI's days for
// the product and prefecture shown, and one lead moved through the workflow, another dismissed.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const expect = JSON.parse(process.env.FANGYI_EXPECT);
const shots = process.env.SCREENSHOTS || "test-results";
mkdirSync(shots, { recursive: true });

const failures = [];
function check(what, ok, detail = "") {
  if (!ok) failures.push(`${what}${detail ? `: ${detail}` : ""}`);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? ` (${detail})` : ""}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const num = (s) => Number(String(s).replace(/[^0-9.-]/g, ""));

/// The API's own answer, asked with the page's session (what the page should show).
function apiFromPage(page, path, purpose) {
  return page.evaluate(
    async ([path, purpose]) => {
      const token = sessionStorage.getItem("fangyi.token");
      const r = await fetch(`/api/v1${path}`, {
        headers: { Authorization: `Bearer ${token}`, "X-Purpose": purpose },
      });
      return r.json();
    },
    [path, purpose],
  );
}

async function signIn(who, asOf) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${expect.url}/?as_of=${asOf}`);
  await page.fill("input[name=name]", who.name);
  await page.fill("input[name=password]", who.password);
  await page.click("#login-form button[type=submit]");
  return { context, page, errors };
}

/// Waits for the enterprises page's three panels to have drawn (or said they may not).
async function enterprisesDrawn(page) {
  for (const sel of ["#power-chart", "#plan-table", "#jobs-table"]) {
    const attr = sel === "#power-chart" ? "points" : sel === "#plan-table" ? "count" : "jobs";
    await page.waitForFunction(([sel, attr]) => document.querySelector(sel)?.dataset[attr] !== undefined, [sel, attr], { timeout: 120000 });
  }
}

/// Shows an application on the enterprises page and waits for its answer.
async function showApplication(page, id) {
  await page.fill("#app-form input[name=id]", id);
  await page.click("#app-form button");
  await page.waitForFunction(() => document.querySelector("#app-summary")?.dataset.rows !== undefined, null, { timeout: 120000 });
}

const unavailableText = (page, sel) =>
  page.locator(`${sel} .unavailable`).count().then(async (n) => (n ? (await page.textContent(`${sel} .unavailable`)) : ""));

async function session(who) {
  const { context, page, errors } = await signIn(who, expect.as_of);
  await page.waitForSelector("#overview.active #kpi-arrivals", { timeout: 20000 });
  // The charts draw after their data arrive.
  await page.waitForFunction(() => document.querySelector("#map")?.dataset.destinations !== undefined, null, { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("#cases-chart")?.dataset.points !== undefined, null, { timeout: 20000 });
  return { context, page, errors };
}

// --- the command centre's admin ---------------------------------------------------------
{
  const a = expect.admin;
  const { context, page, errors } = await session(a);
  const arrivals = num(await page.textContent("#kpi-arrivals .value"));
  check("admin: arrivals tile = the API's 14-day sum", arrivals === a.arrivals, `${arrivals} vs ${a.arrivals}`);
  const chartTotal = num(await page.getAttribute("#arrivals-chart", "data-total"));
  check("admin: arrivals curve sums to the same", chartTotal === a.arrivals, `${chartTotal}`);
  const dest = num(await page.getAttribute("#map", "data-destinations"));
  check("admin: map shows destinations", dest === a.destinations, `${dest} vs ${a.destinations}`);
  const canvases = await page.locator("#map canvas").count();
  check("admin: map is drawn", canvases > 0);
  const risk = num(await page.getAttribute("#map", "data-risk-areas"));
  check("admin: map shows risk areas", risk === a.risk_areas, `${risk} vs ${a.risk_areas}`);
  const rows = await page.locator("#inflow-table tbody tr").count();
  check("admin: destinations table has rows", rows === Math.min(50, a.destinations), `${rows}`);
  const casePoints = num(await page.getAttribute("#cases-chart", "data-points"));
  const curveRegion = (await page.textContent("#cases-title")).split("·")[1].trim().split(" ")[0];
  const from = new Date(`${expect.as_of}T00:00:00Z`);
  from.setUTCDate(from.getUTCDate() - 29);
  const curve = await apiFromPage(page, `/case-curve?region=${curveRegion}&from=${from.toISOString().slice(0, 10)}&to=${expect.as_of}`, "analysis");
  check("admin: case curve = the API's published days", casePoints === curve.length && curve.length > 0, `${casePoints} vs ${curve.length} for ${curveRegion}`);
  await page.screenshot({ path: join(shots, "overview-admin.png"), fullPage: true });

  // Baidu flows.
  await page.selectOption("#flow-source", "baidu");
  await page.waitForFunction((n) => document.querySelector("#map").dataset.flows == n, a.baidu_flows, { timeout: 20000 }).catch(() => {});
  const flows = num(await page.getAttribute("#map", "data-flows"));
  check("admin: Wuhan outflow flows from Baidu", flows === a.baidu_flows, `${flows} vs ${a.baidu_flows}`);
  await page.screenshot({ path: join(shots, "overview-admin-baidu.png"), fullPage: true });
  // The README's picture: the first screen.
  await page.screenshot({ path: join(shots, "dashboard.png") });

  await page.click("#tabs button[data-view=communities]");
  await page.waitForFunction(() => document.querySelector("#alert-list")?.dataset.count !== undefined, null, { timeout: 20000 });
  const alerts = num(await page.getAttribute("#alert-list", "data-count"));
  check("admin: alert list = the API's", alerts === a.alerts, `${alerts} vs ${a.alerts}`);
  await page.screenshot({ path: join(shots, "communities-admin.png"), fullPage: true });

  // A case: its trail and contacts.
  await page.click("#tabs button[data-view=case]");
  await page.fill("#case-form input[name=id]", expect.case.id);
  await page.click("#case-form button");
  await page.waitForFunction(() => document.querySelector("#contacts")?.dataset.count !== undefined, null, { timeout: 20000 });
  const contacts = num(await page.getAttribute("#contacts", "data-count"));
  check("admin: case contacts = the API's", contacts === expect.case.contacts, `${contacts} vs ${expect.case.contacts}`);
  const stops = num(await page.getAttribute("#trail", "data-stops"));
  const trail = await apiFromPage(page, `/cases/${expect.case.id}/trail?as_of=${expect.as_of}`, "outbreak_response");
  check("admin: public trail = the API's", stops === trail.stops.length, `${stops} vs ${trail.stops.length}`);
  const trailText = await page.textContent("#trail");
  check("admin: the trail names no one", !trailText.includes(expect.case.id));
  await page.screenshot({ path: join(shots, "case-admin.png"), fullPage: true });

  await page.click("#tabs button[data-view=code]");
  await page.fill("#code-form input[name=id]", expect.code.id);
  await page.click("#code-form button");
  await page.waitForSelector("#code-color", { timeout: 20000 });
  const color = (await page.textContent("#code-color")).trim();
  check("admin: health code colour = the API's", color === expect.code.color, `${color}`);
  await page.screenshot({ path: join(shots, "code-admin.png"), fullPage: true });
  check("admin: no script errors", errors.length === 0, errors.join("; "));
  await context.close();
}

// --- work resumption, a week after the restart --------------------------------------------
const r = expect.resume;
{
  // The admin: every panel.
  const { context, page, errors } = await signIn(expect.admin, r.as_of);
  await page.waitForSelector("#overview.active #kpi-arrivals", { timeout: 20000 });
  await page.click("#tabs button[data-view=enterprises]");
  await enterprisesDrawn(page);
  const region = await page.getAttribute("#power-chart", "data-region");
  check("admin: the power index shows the province with most enterprises", region === r.power.region, `${region} vs ${r.power.region}`);
  const points = num(await page.getAttribute("#power-chart", "data-points"));
  check("admin: power index points = the CLI's rows", points === r.power.points && points > 0, `${points} vs ${r.power.points}`);
  const forecasts = num(await page.getAttribute("#power-chart", "data-forecasts"));
  check("admin: a forecast band per industry = the CLI's series", forecasts === r.power.forecasts && forecasts > 0, `${forecasts} vs ${r.power.forecasts}`);
  check("admin: the power chart is drawn", (await page.locator("#power-chart canvas").count()) > 0);
  const band = num(await page.getAttribute("#power-chart", "data-band"));
  check("admin: the forecast band covers the 7 days ahead", band === 7, `${band}`);
  const industry = await page.$eval("#power-band", (s) => s.options[1]?.value ?? "");
  if (industry) {
    await page.selectOption("#power-band", industry);
    const other = num(await page.getAttribute("#power-chart", "data-band"));
    check("admin: an industry's band on choosing it", other === 7, `${industry}: ${other}`);
  }
  const plan = num(await page.getAttribute("#plan-table", "data-count"));
  check("admin: whitelist = the CLI's plan", plan === r.plan.count && plan > 0, `${plan} vs ${r.plan.count}`);
  const planRows = await page.locator("#plan-table tbody tr").count();
  check("admin: whitelist table rows", planRows === Math.min(200, r.plan.count), `${planRows}`);
  const ready = num(await page.getAttribute("#plan-table", "data-office-ready"));
  check("admin: office-ready on the whitelist = the CLI's", ready === r.plan.office_ready, `${ready} vs ${r.plan.office_ready}`);
  const jobs = num(await page.getAttribute("#jobs-table", "data-jobs"));
  const openings = num(await page.getAttribute("#jobs-table", "data-openings"));
  const filled = num(await page.getAttribute("#jobs-table", "data-filled"));
  check(
    "admin: jobs, openings and filled = the CLI's matching",
    jobs === r.jobs.count && openings === r.jobs.openings && filled === r.jobs.filled,
    `${jobs}/${openings}/${filled} vs ${r.jobs.count}/${r.jobs.openings}/${r.jobs.filled}`,
  );
  await showApplication(page, r.application.application_id);
  const d = await page.$eval("#app-summary", (el) => ({ ...el.dataset }));
  const a = r.application;
  check(
    "admin: the application's summary = the CLI's",
    num(d.rows) === a.rows && num(d.office) === a.office && num(d.quarantine) === a.quarantine &&
      num(d.notAllowed) === a.not_allowed && num(d.notEmployee) === a.not_employee && num(d.notRegistered) === a.not_registered,
    `${JSON.stringify(d)} vs ${JSON.stringify(a)}`,
  );
  const line = await page.textContent("#app-summary");
  check("admin: the summary reads applied … → office …", line.includes(`applied ${a.rows.toLocaleString("en-US")} → office ${a.office.toLocaleString("en-US")}`), line);
  await page.screenshot({ path: join(shots, "enterprises-admin.png"), fullPage: true });
  check("admin (enterprises): no script errors", errors.length === 0, errors.join("; "));
  await context.close();
}
{
  // The enterprise: its own application and jobs; the index and the whitelist are not its.
  const e = r.enterprise;
  const { context, page, errors } = await signIn(e, r.as_of);
  await page.waitForSelector("#enterprises.active", { timeout: 20000 });
  await enterprisesDrawn(page);
  const who = await page.textContent("#who");
  check("enterprise: header names its enterprise", who.includes(`enterprise ${e.id}`) && !who.includes("community"), who);
  const power = await unavailableText(page, "#power-status");
  check("enterprise: power index not available to its role", power.includes("not available to your role"), power);
  const plan = await unavailableText(page, "#plan-table");
  check("enterprise: whitelist not available to its role", plan.includes("not available to your role"), plan);
  const jobs = num(await page.getAttribute("#jobs-table", "data-jobs"));
  const filled = num(await page.getAttribute("#jobs-table", "data-filled"));
  const openings = num(await page.getAttribute("#jobs-table", "data-openings"));
  check(
    "enterprise: only its own jobs",
    jobs === e.jobs && openings === e.openings && filled === e.filled,
    `${jobs}/${openings}/${filled} vs ${e.jobs}/${e.openings}/${e.filled}`,
  );
  await showApplication(page, r.application.application_id);
  const d = await page.$eval("#app-summary", (el) => ({ ...el.dataset }));
  check("enterprise: its application's summary = the CLI's", num(d.rows) === r.application.rows && num(d.office) === r.application.office, JSON.stringify(d));
  const why = await page.locator("#app-rows th", { hasText: "why" }).count();
  check("enterprise: no reasons shown", why === 0);
  await page.screenshot({ path: join(shots, "enterprises-enterprise.png"), fullPage: true });
  // The page itself made no failing request; the probe below fails on purpose (a 404).
  check("enterprise: no script errors", errors.length === 0, errors.join("; "));
  check("enterprise: the data has another enterprise's application to try", Boolean(r.other_application));
  if (r.other_application) {
    await showApplication(page, r.other_application);
    const err = (await page.textContent("#app-error")).trim();
    const rows = await page.getAttribute("#app-summary", "data-rows");
    check("enterprise: another enterprise's application is none to it", err.startsWith("no application") && rows === "0", `${err} / ${rows}`);
  }
  await context.close();
}

// --- a market supervisor ------------------------------------------------------------------
{
  const m = expect.market;
  const { context, page, errors } = await signIn(m, expect.as_of);
  // A dismissal asks for its reason.
  page.on("dialog", (d) => d.accept("a reseller's listing, removed"));
  await page.waitForSelector("#market.active", { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("#lead-list")?.dataset.count !== undefined, null, { timeout: 120000 });
  await page.waitForFunction(() => document.querySelector("#prices-chart")?.dataset.points !== undefined, null, { timeout: 120000 });
  const who = await page.textContent("#who");
  check("market: header names the role and region", who.includes("market supervisor") && who.includes(`region ${m.region}`), who);
  const leads = num(await page.getAttribute("#lead-list", "data-count"));
  check("market: leads = the CLI's for the prefecture", leads === m.leads && leads > 0, `${leads} vs ${m.leads}`);
  const onMap = num(await page.getAttribute("#market-map", "data-leads"));
  const routed = await apiFromPage(page, "/market/leads", "market_supervision");
  const withCounty = routed.filter((l) => l.county).length;
  check("market: the map shows every open lead with a county", onMap === withCounty && onMap > 0, `${onMap} vs ${withCounty}`);
  check("market: the map is drawn", (await page.locator("#market-map canvas").count()) > 0);
  check("market: every lead is in the region", routed.every((l) => l.county && l.county.startsWith(m.region.slice(0, 4))), routed.map((l) => l.county).join(","));
  const open = num(await page.textContent("#kpi-leads-open .value"));
  check("market: the open-leads tile", open === m.leads, `${open}`);
  // The chart: the chosen product in the chosen prefecture, day by day as the CLI computed.
  const pref = await page.getAttribute("#prices-chart", "data-prefecture");
  const product = await page.getAttribute("#prices-chart", "data-product");
  const want = m.prices.filter((d) => d.prefecture === pref && d.product === product);
  const points = num(await page.getAttribute("#prices-chart", "data-points"));
  check("market: price chart days = the CLI's", points === want.length && points > 0, `${points} vs ${want.length} for ${product} in ${pref}`);
  const last = num(await page.getAttribute("#prices-chart", "data-last-median"));
  check("market: the last median = the CLI's", want.length > 0 && last === want[want.length - 1].median_unit_price_micro, `${last}`);
  const flagged = num(await page.getAttribute("#prices-chart", "data-flagged"));
  check("market: flagged listings on the chart = the CLI's", flagged === want.reduce((s, d) => s + d.flagged, 0), `${flagged}`);
  check("market: only prefectures in the region", m.prices.every((d) => d.prefecture.startsWith(m.region.slice(0, 4))));
  check("market: the price chart is drawn", (await page.locator("#prices-chart canvas").count()) > 0);
  // Another product redraws the chart.
  const products = await page.$$eval("#prices-product option", (os) => os.map((o) => o.value));
  if (products.length > 1) {
    await page.selectOption("#prices-product", products[1]);
    const other = num(await page.getAttribute("#prices-chart", "data-points"));
    const wantOther = m.prices.filter((d) => d.prefecture === pref && d.product === products[1]).length;
    check("market: choosing another product redraws", other === wantOther, `${other} vs ${wantOther}`);
  }
  await page.screenshot({ path: join(shots, "market-supervisor.png"), fullPage: true });

  // The workflow: the first lead assigned, verified and closed; the next one dismissed.
  const first = await page.getAttribute("#lead-list button[data-status=assigned]", "data-lead");
  const statusOf = (id) => page.textContent(`#lead-list [data-lead-status="${id}"]`).then((t) => t.trim());
  for (const [to, label] of [["assigned", "assign"], ["verified", "verify"], ["closed", "close"]]) {
    await page.click(`#lead-list button[data-lead="${first}"][data-status=${to}]`);
    await page.waitForFunction(([id, to]) => document.querySelector(`#lead-list [data-lead-status="${id}"]`)?.textContent.trim() === to, [first, to], { timeout: 20000 });
    check(`market: ${label} moves the lead to ${to}`, (await statusOf(first)) === to);
  }
  const second = await page.getAttribute("#lead-list button[data-status=dismissed]", "data-lead");
  if (second) {
    await page.click(`#lead-list button[data-lead="${second}"][data-status=dismissed]`);
    await page.waitForFunction((id) => document.querySelector(`#lead-list [data-lead-status="${id}"]`)?.textContent.trim() === "dismissed", second, { timeout: 20000 });
    const row = await page.textContent(`#lead-list tr:has([data-lead-status="${second}"])`);
    check("market: a dismissal shows its reason", row.includes("a reseller's listing, removed"), row);
  }
  const closed = await apiFromPage(page, "/market/leads?status=closed", "market_supervision");
  check("market: the API has the closed lead", closed.length === 1 && String(closed[0].id) === first, JSON.stringify(closed.map((l) => l.id)));
  const tile = num(await page.textContent("#kpi-leads-open .value"));
  check("market: the open-leads tile counts down", tile === m.leads - (second ? 2 : 1), `${tile}`);
  await page.selectOption("#lead-state", "closed");
  await page.waitForFunction(() => document.querySelector("#lead-list").dataset.state === "closed", null, { timeout: 20000 });
  const shown = num(await page.getAttribute("#lead-list", "data-shown"));
  check("market: the state filter shows the closed lead only", shown === 1, `${shown}`);
  await page.screenshot({ path: join(shots, "market-workflow.png"), fullPage: true });
  check("market: no script errors", errors.length === 0, errors.join("; "));
  await context.close();
}

// --- a community worker -----------------------------------------------------------------
{
  const w = expect.worker;
  const { context, page, errors } = await session(w);
  const arrivals = num(await page.textContent("#kpi-arrivals .value"));
  check("worker: arrivals tile = their community's", arrivals === w.arrivals, `${arrivals} vs ${w.arrivals}`);
  const who = await page.textContent("#who");
  check("worker: header names their community", who.includes(w.community), who);
  await page.screenshot({ path: join(shots, "overview-worker.png"), fullPage: true });
  await page.click("#tabs button[data-view=communities]");
  await page.waitForFunction(() => document.querySelector("#alert-list")?.dataset.count !== undefined, null, { timeout: 20000 });
  const communities = await page.$$eval("#community-table tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent.trim()));
  check("worker: the community table has rows", communities.length > 0);
  check(
    "worker: only their community",
    communities.every((c) => c === w.community),
    communities.filter((c) => c !== w.community).join(", "),
  );
  const alerts = num(await page.getAttribute("#alert-list", "data-count"));
  check("worker: alert list = their community's", alerts === w.alerts, `${alerts} vs ${w.alerts}`);
  const watched = num(await page.getAttribute("#community-table", "data-watched"));
  check("worker: under watch = their community's", watched === w.watched, `${watched} vs ${w.watched}`);
  const places = await page.$$eval("#alert-list tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  check("worker: every alert is in their community", places.every((p) => p.endsWith(`/ ${w.community}`)), places.join("; "));
  await page.screenshot({ path: join(shots, "communities-worker.png"), fullPage: true });
  // Work resumption is none of a community worker's: every panel says so, nothing fails.
  await page.click("#tabs button[data-view=enterprises]");
  await enterprisesDrawn(page);
  const panels = await Promise.all(["#power-status", "#plan-table", "#jobs-table", "#app-summary"].map((sel) => unavailableText(page, sel)));
  check("worker: the enterprises page is not available to the role", panels.every((t) => t.includes("not available to your role")), panels.join(" | "));
  check("worker: the application form is disabled", await page.locator("#app-form button").isDisabled());
  // Nor is the market: both panels say so, and no lead can be moved.
  await page.click("#tabs button[data-view=market]");
  await page.waitForSelector("#lead-list .unavailable", { timeout: 20000 });
  const market = await Promise.all(["#lead-list", "#prices-status"].map((sel) => unavailableText(page, sel)));
  check("worker: the market page is not available to the role", market.every((t) => t.includes("not available to your role")), market.join(" | "));
  check("worker: no lead buttons", (await page.locator("#lead-list button").count()) === 0);
  await page.click("#tabs button[data-view=communities]");
  // Acknowledging an alert changes its status on the page.
  if (alerts > 0) {
    await page.click("#alert-list button[data-status=acknowledged]");
    await page.waitForSelector("#alert-list .status.acknowledged", { timeout: 20000 });
    check("worker: acknowledging shows the new status", true);
  }
  // Signing out revokes the session on the server: the old token no longer answers.
  const token = await page.evaluate(() => sessionStorage.getItem("fangyi.token"));
  await page.click("#logout");
  await page.waitForSelector("#login.active", { timeout: 20000 });
  // Nothing of theirs stays on the page for whoever signs in next.
  const left = await page.$$eval(
    ["#kpis", "#community-table", "#alert-list", "#plan-table", "#jobs-table", "#app-summary", "#power-status", "#lead-list", "#prices-status", "#market-kpis"].join(","),
    (els) => els.filter((e) => e.textContent.trim() !== "").map((e) => e.id),
  );
  check("worker: signing out empties every panel", left.length === 0, left.join(", "));
  // The page itself must make no failing request after signing out; the probe below fails
  // on purpose (a revoked token), so the errors are checked before it.
  await page.waitForTimeout(1000);
  check("worker: no script errors", errors.length === 0, errors.join("; "));
  const after = await page.evaluate(
    async (token) => (await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } })).status,
    token,
  );
  check("worker: signing out revokes the session's token", after === 401, `${after}`);
  await context.close();
}

await browser.close();
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("\nall dashboard checks passed");
