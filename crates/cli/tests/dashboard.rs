//! The dashboard in a real browser: a generated province with the real Baidu and DXY data is
//! served by the real `fangyi serve`, and headless Chromium (Debian's, driven by Playwright in
//! `crates/server/dashboard/test/browser.mjs`) signs in as an admin and as a community worker
//! and checks the numbers on the page against what the CLI computes; on the enterprises page,
//! after the restart, the admin, an enterprise account and a community worker each see what
//! their role may (work resumption); a market supervisor sees its prefecture's leads on the map
//! and in the list, the price chart, and moves leads through their workflow. Screenshots are kept in `target/dashboard-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and the dashboard's npm packages (the server's build script
//! installs those). Without Chromium the test says so and passes, unless
//! `FANGYI_REQUIRE_BROWSER` is set (as `.ci/run` does after installing it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, Server};
use serde_json::{Value, json};

const AS_OF: &str = "2020-01-27";
/// The enterprises page's day: the last generated one, a week after the restart.
const RESTART_AS_OF: &str = "2020-02-17";
/// Its power index shows the four weeks to it.
const INDEX_FROM: &str = "2020-01-21";

fn shared(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(folder)
}

fn dashboard_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/dashboard")
}

fn json(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap()
}

fn sum_arrivals(rows: &Value) -> u64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["arrivals"].as_u64().unwrap())
        .sum()
}

fn user(env: &Env, name: &str, role: &str, scope: &[&str], password: &str) {
    let mut args = vec!["users", "add", name, "--role", role];
    args.extend_from_slice(scope);
    env.ok(&args);
    env.passwd(name, password);
}

/// A confirmed case reported by `AS_OF`, from the generated lab results.
fn a_case(input: &Path) -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir(input)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lab_results")
        })
        .collect();
    files.sort();
    for f in files {
        let mut r = csv::Reader::from_path(&f).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            if &rec[3] == "confirmed" && rec[5][..10] <= *AS_OF {
                return Some(rec[0].to_string());
            }
        }
    }
    None
}

#[test]
fn the_dashboard_shows_each_role_its_own_numbers() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let required = std::env::var_os("FANGYI_REQUIRE_BROWSER").is_some();
    let has_modules = dashboard_dir()
        .join("node_modules/playwright-core")
        .is_dir();
    if !Path::new(&chromium).exists() || !has_modules {
        assert!(
            !required,
            "FANGYI_REQUIRE_BROWSER is set but {chromium} or the dashboard's npm packages are missing"
        );
        eprintln!("skipped: no {chromium} or no crates/server/dashboard/node_modules");
        return;
    }
    let env = Env::new();
    // To a week after the restart (2020-01-14 + 35 days), for the enterprises page, with
    // applications from a fifth of the enterprises (so there is another enterprise's too).
    let input = env.path("input");
    env.ok(&[
        "gen",
        "--persons",
        "6000",
        "--days",
        "35",
        "--rates",
        "applications=0.2",
        "--out",
        input.to_str().unwrap(),
    ]);
    env.ok(&["ingest", input.to_str().unwrap()]);
    env.ok(&[
        "import",
        "baidu-migration",
        shared("baidu_migration").to_str().unwrap(),
    ]);
    env.ok(&["import", "dxy-cases", shared("dxy_cases").to_str().unwrap()]);

    // The community with the most arrivals gets the worker.
    let communities = json(
        &env,
        &[
            "inflow",
            "--as-of",
            AS_OF,
            "--level",
            "community",
            "--format",
            "json",
        ],
    );
    let mut by_community: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for r in communities.as_array().unwrap() {
        if let Some(c) = r["community"].as_str() {
            let key = (r["region"].as_str().unwrap().to_string(), c.to_string());
            *by_community.entry(key).or_default() += r["arrivals"].as_u64().unwrap();
        }
    }
    let ((county, community), _) = by_community
        .iter()
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse((*k).clone())))
        .map(|(k, n)| (k.clone(), *n))
        .expect("arrivals into some community");
    user(&env, "chen.admin", "admin", &[], "admin-password-1");
    user(
        &env,
        "wang.worker",
        "community_worker",
        &["--region", &county, "--community", &community],
        "worker-password-1",
    );

    // What the CLI says each of them should see.
    let prefecture = json(&env, &["inflow", "--as-of", AS_OF, "--format", "json"]);
    let destinations = prefecture
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let alerts = json(&env, &["alerts", "--as-of", AS_OF, "--format", "json"]);
    let worker_alerts = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["region"] == county.as_str() && a["community"] == community.as_str())
        .count();
    let risk_areas: u64 = env
        .ok(&[
            "sql",
            "--format",
            "csv",
            &format!(
                "SELECT count(*) FROM risk_areas WHERE valid_from <= DATE '{AS_OF}' \
                 AND (valid_to IS NULL OR valid_to >= DATE '{AS_OF}')"
            ),
        ])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let baidu: u64 = env
        .ok(&[
            "sql",
            "--format",
            "csv",
            &format!(
                "SELECT count(*) FROM migration WHERE direction = 'out' AND origin_region = '420100' \
                 AND date = DATE '{AS_OF}'"
            ),
        ])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let watched = json(
        &env,
        &[
            "watch",
            "--as-of",
            AS_OF,
            "--region",
            &county,
            "--community",
            &community,
            "--summary",
            "--format",
            "json",
        ],
    )
    .as_array()
    .unwrap()
    .iter()
    .map(|c| c["persons"].as_u64().unwrap())
    .sum::<u64>();
    let case = a_case(&input).expect("a confirmed case in the generated data");
    let trace = json(
        &env,
        &["trace", &case, "--as-of", AS_OF, "--format", "json"],
    );
    let code = json(&env, &["code", &case, "--as-of", AS_OF, "--format", "json"]);

    let resume = resume_expect(&env);
    let market = market_expect(&env);

    let server = Server::start(&env);
    let expect = json!({
        "url": server.base,
        "as_of": AS_OF,
        "admin": {
            "name": "chen.admin", "password": "admin-password-1",
            "arrivals": sum_arrivals(&prefecture),
            "destinations": destinations,
            "risk_areas": risk_areas,
            "baidu_flows": baidu.min(40),
            "alerts": alerts.as_array().unwrap().len(),
        },
        "worker": {
            "name": "wang.worker", "password": "worker-password-1",
            "community": community,
            "arrivals": communities
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["region"] == county.as_str() && r["community"] == community.as_str())
                .map(|r| r["arrivals"].as_u64().unwrap())
                .sum::<u64>(),
            "alerts": worker_alerts,
            "watched": watched,
        },
        "case": {"id": case, "contacts": trace["contacts"].as_array().unwrap().len()},
        "code": {"id": case, "color": code["color"]},
        "resume": resume,
        "market": market,
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots");
    let out = Command::new("node")
        .arg("test/browser.mjs")
        .current_dir(dashboard_dir())
        .env("FANGYI_EXPECT", expect.to_string())
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stderr = server.stop();
    assert!(
        out.status.success(),
        "browser checks failed:\n{}\n{}\nserver log:\n{stderr}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
}

/// What the enterprises page should show on `RESTART_AS_OF`, from the CLI: the power index of
/// the province with the most enterprises (rows by industry, forecast series), the whitelist,
/// the largest application's summary and the day's matching; an enterprise account for the
/// largest application's enterprise, and another enterprise's application it must not see.
fn resume_expect(env: &Env) -> Value {
    let index = json(
        env,
        &[
            "resume",
            "index",
            "--from",
            INDEX_FROM,
            "--to",
            RESTART_AS_OF,
            "--level",
            "province",
            "--by",
            "industry",
            "--format",
            "json",
        ],
    );
    let mut indexed: std::collections::BTreeMap<String, u64> = Default::default();
    for r in index.as_array().unwrap() {
        *indexed
            .entry(r["region"].as_str().unwrap().to_string())
            .or_default() += r["indexed"].as_u64().unwrap();
    }
    let region = indexed
        .iter()
        .max_by_key(|(r, n)| (**n, std::cmp::Reverse((*r).clone())))
        .map(|(r, _)| r.clone())
        .expect("power readings in the generated province");
    let in_region = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["region"] == region.as_str())
            .count()
    };
    let forecast = json(
        env,
        &[
            "resume",
            "forecast",
            "--as-of",
            RESTART_AS_OF,
            "--days",
            "7",
            "--level",
            "province",
            "--by",
            "industry",
            "--format",
            "json",
        ],
    );
    let plan = json(
        env,
        &[
            "resume",
            "plan",
            "--as-of",
            RESTART_AS_OF,
            "--format",
            "json",
        ],
    );
    let plan = plan.as_array().unwrap();
    let mut apps = json(
        env,
        &[
            "resume",
            "decide",
            "--as-of",
            RESTART_AS_OF,
            "--summary",
            "--format",
            "json",
        ],
    )
    .as_array()
    .unwrap()
    .clone();
    apps.sort_by_key(|a| std::cmp::Reverse(a["rows"].as_u64().unwrap()));
    let app = apps
        .first()
        .expect("an application submitted by then")
        .clone();
    let enterprise = app["enterprise_id"].as_str().unwrap().to_string();
    let other = apps
        .iter()
        .find(|a| a["enterprise_id"] != enterprise.as_str())
        .map(|a| a["application_id"].clone());
    let jobs = json(
        env,
        &[
            "resume",
            "match",
            "--date",
            RESTART_AS_OF,
            "--format",
            "json",
        ],
    );
    let jobs = jobs.as_array().unwrap();
    let sum = |rows: &[&Value], field: &str| -> u64 {
        rows.iter().map(|r| r[field].as_u64().unwrap()).sum()
    };
    let all: Vec<&Value> = jobs.iter().collect();
    let own: Vec<&Value> = jobs
        .iter()
        .filter(|j| j["enterprise_id"] == enterprise.as_str())
        .collect();
    user(
        env,
        "li.enterprise",
        "enterprise",
        &["--enterprise", &enterprise],
        "enterprise-password-1",
    );
    json!({
        "as_of": RESTART_AS_OF,
        "power": {"region": region, "points": in_region(&index), "forecasts": in_region(&forecast)},
        "plan": {
            "count": plan.len(),
            "office_ready": plan.iter().map(|p| p["office_ready"].as_u64().unwrap()).sum::<u64>(),
        },
        "application": app,
        "other_application": other,
        "jobs": {"count": all.len(), "openings": sum(&all, "openings"), "filled": sum(&all, "filled")},
        "enterprise": {
            "name": "li.enterprise", "password": "enterprise-password-1", "id": enterprise,
            "jobs": own.len(), "openings": sum(&own, "openings"), "filled": sum(&own, "filled"),
        },
    })
}

/// What the market page should show a supervisor of the prefecture with the most leads, from
/// the CLI: its leads (all new yet) and the daily prices of its listings to `AS_OF`.
fn market_expect(env: &Env) -> Value {
    let leads = json(env, &["market", "leads", "--format", "json"]);
    let mut by_prefecture: std::collections::BTreeMap<String, u64> = Default::default();
    for l in leads.as_array().unwrap() {
        if let Some(c) = l["county"].as_str() {
            *by_prefecture.entry(format!("{}00", &c[..4])).or_default() += 1;
        }
    }
    let region = by_prefecture
        .iter()
        .max_by_key(|(r, n)| (**n, std::cmp::Reverse((*r).clone())))
        .map(|(r, _)| r.clone())
        .expect("market leads in the generated province");
    let mine = json(
        env,
        &["market", "leads", "--region", &region, "--format", "json"],
    );
    let prices = json(
        env,
        &[
            "market", "prices", "--region", &region, "--to", AS_OF, "--format", "json",
        ],
    );
    assert!(
        !prices.as_array().unwrap().is_empty(),
        "no prices in {region}"
    );
    user(
        env,
        "zhao.market",
        "market_supervisor",
        &["--region", &region],
        "market-password-1",
    );
    json!({
        "name": "zhao.market", "password": "market-password-1", "region": region,
        "leads": mine.as_array().unwrap().len(),
        "prices": prices,
    })
}
