//! The dashboard in a real browser: a generated province with the real Baidu and DXY data is
//! served by the real `fangyi serve`, and headless Chromium (Debian's, driven by Playwright in
//! `crates/server/dashboard/test/browser.mjs`) signs in as an admin and as a community worker
//! and checks the numbers on the page against what the CLI computes. Screenshots are kept in
//! `target/dashboard-screenshots/`.
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
    env.generate_and_ingest(6000, 14);
    let input = env.path("input");
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
