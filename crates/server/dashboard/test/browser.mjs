// Browser test of the dashboard: headless Chromium (Debian's) driven by Playwright loads the
// page from a running `fangyi serve`, signs in as two roles and checks that the map, the
// curves and the tables show the numbers the API gives each of them, and that a community
// worker sees only their community. Screenshots go to $SCREENSHOTS.
//
// Run by crates/cli/tests/dashboard.rs, which starts the server and passes, as JSON in
// $FANGYI_EXPECT: {url, as_of, admin: {name, password, arrivals, destinations, risk_areas,
// baidu_flows, alerts}, worker: {name, password, community, arrivals, alerts}, case: {id,
// contacts}, code: {id, color}} — numbers the CLI computed. The case curve and the trail are
// compared with the API's own answers.

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

async function session(who) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${expect.url}/?as_of=${expect.as_of}`);
  await page.fill("input[name=name]", who.name);
  await page.fill("input[name=password]", who.password);
  await page.click("#login-form button[type=submit]");
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
