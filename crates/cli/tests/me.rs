//! The residents' page at `/me` in a real browser: a hand-made city (a case, their household
//! contact, a venue the case visited) is served by the real `fangyi serve` with an outbox and a
//! one-second flush, and headless Chromium (Debian's, driven by Playwright in
//! `crates/server/dashboard/test/me.mjs`) at a phone's size signs in as the contact with the
//! one-time code read from the outbox, sees their code, reports a fever and sees the code turn
//! yellow, registers an arrival, asks for a correction that an epidemiologist accepts (through
//! the staff API) and sees the outcome and the code green again, reads the access log, searches
//! for cases nearby and switches language. The QRs on the screen are screenshotted, decoded and
//! verified offline with `fangyi verify --image`: the yellow one valid while current, revoked
//! once the correction is accepted, the green one after it valid. Screenshots are kept in
//! `target/me-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and the dashboard's npm packages (the server's build script
//! installs those). Without Chromium the test says so and passes, unless
//! `FANGYI_REQUIRE_BROWSER` is set (as `.ci/run` does after installing it).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{CASE, CONTACT, Env, Server};
use serde_json::{Value, json};

/// The contact's registered phone (`Env::ingest_case_and_contact`).
const CONTACT_PHONE: &str = "13712345678";
/// A day of the city's outbreak, when the contact is red.
const PAST: &str = "2020-01-27";
/// The venue the case visited the day after onset, and a place 700 m from it.
const VENUE: (f64, f64) = (28.0, 120.6);
const NEAR: (f64, f64) = (28.005, 120.605);

fn dashboard_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/dashboard")
}

fn json(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap()
}

/// `fangyi serve` on a free port with `extra` arguments.
fn serve(env: &Env, extra: &[&str]) -> Server {
    let mut child = env
        .cmd()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("http://127.0.0.1:"),
        "serve printed {line:?}"
    );
    Server {
        child,
        base: line.trim().to_string(),
    }
}

#[test]
fn a_resident_signs_in_reports_and_shows_a_verifiable_code_on_a_phone() {
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
    env.ingest_case_and_contact();
    // The case visited a market the day after onset (inside the public trail's window).
    env.write(
        "venue/venues.csv",
        &format!(
            "venue_id,name,kind,region,community_id,lat,lon\nV1,Market,market,330302,C1,{},{}\n",
            VENUE.0, VENUE.1
        ),
    );
    env.write(
        "venue/checkins.csv",
        &format!(
            "person_id,venue_id,time_in,time_out\n\
             {CASE},V1,2020-01-22T12:00:00+08:00,2020-01-22T12:40:00+08:00\n"
        ),
    );
    env.ok(&["ingest", env.path("venue").to_str().unwrap()]);
    env.ok(&["index"]);
    env.ok(&["keys", "init", "--region", "330300"]);
    // What the contact's code was on the outbreak's day; the read is in their access log as the
    // command line's.
    let past = json(
        &env,
        &["code", CONTACT, "--as-of", PAST, "--format", "json"],
    );
    assert_eq!(past["color"], "red", "{past}");
    // Wenzhou's epidemiologist, who decides the resident's correction.
    let epi_token = env
        .ok(&[
            "users",
            "add",
            "li.epi",
            "--role",
            "epidemiologist",
            "--region",
            "330300",
        ])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();

    let outbox = env.path("outbox");
    let server = serve(
        &env,
        &["--outbox", outbox.to_str().unwrap(), "--flush-every", "1"],
    );
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let shots = target.join("me-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let qr_yellow = shots.join("qr-yellow.png");
    let qr_green = shots.join("qr-green.png");
    for f in [&qr_yellow, &qr_green] {
        let _ = std::fs::remove_file(f);
    }
    let expect = json!({
        "url": server.base,
        "outbox": outbox,
        "resident": {"id": CONTACT, "phone": CONTACT_PHONE},
        // A registered ID with a phone that is not theirs: answered the same, sent nothing.
        "wrong_pair": {"id": CASE, "phone": "13900000000"},
        "past": {
            "as_of": PAST,
            "color": past["color"],
            "rules": past["reasons"].as_array().unwrap().iter().map(|r| r["rule"].clone()).collect::<Vec<_>>(),
            "valid_until": past["valid_until"],
        },
        "near": {"lat": NEAR.0, "lon": NEAR.1, "venue": "Market"},
        "qr": {"yellow": qr_yellow, "green": qr_green},
        "epidemiologist": epi_token,
    });
    let out = Command::new("node")
        .arg("test/me.mjs")
        .current_dir(dashboard_dir())
        .env("FANGYI_EXPECT", expect.to_string())
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        // For `fangyi verify --image` on the QR while it is current.
        .env("FANGYI_BIN", env!("CARGO_BIN_EXE_fangyi"))
        .env("FANGYI_DATA", env.path("data"))
        .env("FANGYI_KEY_FILE", env.path("keys/master.key"))
        .output()
        .unwrap();
    let stderr = server.stop();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "browser checks failed:\n{}\n{}\nserver log:\n{stderr}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The QRs as the phone showed them, read back from the screenshots and verified offline
    // against the data dir's published key. The page checked the yellow one while it was
    // current; the correction's acceptance revoked it, and the green one that followed is valid.
    let green = verify_image(&env, &qr_green);
    assert_eq!(green["valid"], true, "{green}");
    assert_eq!(green["kind"], "fangyi", "{green}");
    assert_eq!(green["claims"]["color"], "green", "{green}");
    assert_eq!(green["claims"]["iss"], "330300", "{green}");
    assert!(
        !green.to_string().contains(CONTACT),
        "the signed code carries a pseudonym, not the ID number: {green}"
    );
    let yellow = verify_image(&env, &qr_yellow);
    assert_eq!(yellow["kind"], "fangyi", "{yellow}");
    assert_eq!(yellow["claims"]["color"], "yellow", "{yellow}");
    assert_eq!(
        yellow["valid"], false,
        "revoked by the accepted correction: {yellow}"
    );
    assert!(
        yellow["reason"].as_str().unwrap_or("").contains("revoked"),
        "{yellow}"
    );
}

/// `fangyi verify --image PNG --format json`.
fn verify_image(env: &Env, png: &Path) -> Value {
    let out = env.run(&[
        "verify",
        "--image",
        png.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "verify {} printed no JSON ({e}): {text}\n{}",
            png.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
