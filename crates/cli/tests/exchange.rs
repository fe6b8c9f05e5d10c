//! Provinces that trust each other through a trust hub, as real processes on loopback: the hub
//! (`fangyi hub serve`), province A (Wenzhou, 330300: its data dir, its master key, codes
//! issued from its records) and province B (Chengdu, 510100: `fangyi serve --trust-hub`
//! pulling every second). Keys enrolled by file and submitted signed, a publication, a code of
//! A verified at B (command line and API), A's rotation, the hub's revocation of A's old key,
//! lists refused from a fake hub (tampered, another anchor's, a rollback) with B's list kept,
//! and the hub down while B keeps its list and retries. Then the health attestations between
//! them (issue 19 item 1): B asks A about a batch of arrivals through a relay that records the
//! bytes on the wire, folds the answers into its codes, and copes with A down and back.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use model::{Date, PersonId};
use serde_json::Value;

/// Person `n` of province A.
fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1985, 3, 1 + n).unwrap(), 200 + n)
        .unwrap()
        .to_string()
}

/// A province: persons ingested (so it is a deployment with a store) and an issuer key.
fn province(region: &str, persons: &[String]) -> Env {
    let env = Env::new();
    let mut csv = String::from("person_id,name,home_region,household_id\n");
    for (i, p) in persons.iter().enumerate() {
        csv.push_str(&format!("{p},某{i},{},H{i}\n", &p[..6]));
    }
    env.write("in/persons.csv", &csv);
    let ingest = env.path("in");
    env.ok(&["ingest", ingest.to_str().unwrap(), "--format", "json"]);
    env.ok(&["keys", "init", "--region", region]);
    env
}

/// A process of the binary whose first stdout line is its address; stderr goes to a file.
struct Proc {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Proc {
    fn start(env: &Env, args: &[&str], log: &str) -> Proc {
        let log = env.path(log);
        let mut child = env
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("http://127.0.0.1:"),
            "{args:?} printed {line:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Proc {
            child,
            base: line.trim().to_string(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C, and it must exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{pid} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` holds, for at most `secs` seconds.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The hub list version a data dir accepted.
fn accepted_version(data: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(data.join("keys/hub.json")).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["version"].as_u64()
}

/// `fangyi verify PAYLOAD --format json` in `env`: the answer.
fn verify(env: &Env, payload: &str) -> Value {
    let out = env.run(&["verify", payload, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify printed {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.success(), v["valid"] == true, "{v}");
    v
}

/// POST /api/v1/codes/verify as a checkpoint: the answer.
fn verify_api(base: &str, token: &str, payload: &str) -> Value {
    let addr = base.trim_start_matches("http://");
    let body = serde_json::json!({ "payload": payload }).to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/codes/verify HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nX-Purpose: verification\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{resp}"))
}

/// The status and body bytes of a GET (the list is binary).
fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    s.write_all(format!("{req}\r\n").as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let status = std::str::from_utf8(&resp[9..12]).unwrap().parse().unwrap();
    let at = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (status, resp[at..].to_vec())
}

/// A code of person `n` signed by A's current key.
fn issue(a: &Env, n: u32) -> String {
    let png = a.path(&format!("code-{n}-{}.png", std::process::id()));
    let out = a.ok(&[
        "code",
        "issue",
        &id(n),
        "--as-of",
        "2020-02-01",
        "--png",
        png.to_str().unwrap(),
    ]);
    let payload = out.trim().to_string();
    assert!(payload.starts_with("FY1:"), "{out}");
    payload
}

/// A fake hub: answers every request with 200 and whatever bytes it is set to serve.
struct FakeHub {
    base: String,
    serving: Arc<Mutex<Vec<u8>>>,
}

impl FakeHub {
    fn start() -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let serving = Arc::new(Mutex::new(Vec::new()));
        let bytes = serving.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut b).unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let body = bytes.lock().unwrap().clone();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/cose\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(&body);
            }
        });
        FakeHub { base, serving }
    }

    fn serve(&self, bytes: Vec<u8>) {
        *self.serving.lock().unwrap() = bytes;
    }
}

/// The kid of the key generation `env`'s issuer signs with now.
fn current_kid(env: &Env) -> String {
    let list: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("data/keys/issuer.json")).unwrap())
            .unwrap();
    list["generations"].as_array().unwrap().last().unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn two_provinces_trust_each_other_through_a_hub() {
    let a = province("330300", &[id(0), id(1)]);
    let b = province("510100", &[]);
    let b_data = b.path("data");

    // The hub operator: an anchor key kept offline (here: a folder of its own), a hub folder.
    let operator = Env::new();
    let anchor_key = operator.path("offline/anchor.key");
    std::fs::create_dir_all(anchor_key.parent().unwrap()).unwrap();
    let public = operator.ok(&[
        "hub",
        "anchor-keygen",
        "--out",
        anchor_key.to_str().unwrap(),
    ]);
    let anchor_pub = format!("{}.pub", anchor_key.display());
    assert_eq!(std::fs::read_to_string(&anchor_pub).unwrap(), public);
    let hub_dir = operator.path("hub");
    let hub_dir = hub_dir.to_str().unwrap();
    let hub = Proc::start(
        &operator,
        &["hub", "serve", "--dir", hub_dir, "--addr", "127.0.0.1:0"],
        "hub.log",
    );
    let hub_addr = hub.base.trim_start_matches("http://").to_string();
    let publish = |version: u64| {
        let out = operator.ok(&[
            "hub",
            "publish",
            "--dir",
            hub_dir,
            "--anchor-key",
            anchor_key.to_str().unwrap(),
        ]);
        assert!(
            out.contains(&format!("published version {version}")),
            "{out}"
        );
    };

    // Enrolment by file (each province's export, checked out of band), then A submits its
    // keys itself, signed by its key; an unenrolled region cannot.
    for p in [&a, &b] {
        let file = p.path("my-keys.json");
        p.ok(&["keys", "export", "--out", file.to_str().unwrap()]);
        operator.ok(&["hub", "add", file.to_str().unwrap(), "--dir", hub_dir]);
    }
    // A mistyped hub folder is refused, not made anew and published empty.
    let typo = operator.path("hbu");
    let err = operator.fails(
        &[
            "hub",
            "publish",
            "--dir",
            typo.to_str().unwrap(),
            "--anchor-key",
            anchor_key.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("not a hub folder") && !typo.exists(), "{err}");
    let submitted = a.ok(&["hub", "submit", &hub.base]);
    assert!(submitted.contains("region 330300"), "{submitted}");
    let stranger = province("420100", &[]);
    let refused = stranger.fails(&["hub", "submit", &hub.base], 1);
    assert!(refused.contains("not enrolled"), "{refused}");
    // Nothing published yet: B's pull says so and keeps its list.
    let early = b.fails(&["trust", "pull", &hub.base, "--anchor", &anchor_pub], 1);
    assert!(early.contains("nothing published"), "{early}");
    publish(1);

    // B serves, pulling every second; a checkpoint account verifies there.
    let token = b.ok(&["users", "add", "gate", "--role", "checkpoint"]);
    let token = token.lines().last().unwrap().trim().to_string();
    let b_server = Proc::start(
        &b,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--trust-hub",
            &hub.base,
            "--anchor",
            &anchor_pub,
            "--pull-every",
            "1",
        ],
        "b-serve.log",
    );
    eventually(30, "B to accept version 1", || {
        accepted_version(&b_data) == Some(1)
    });

    // A code signed by A verifies at B, from the command line and the API.
    let old_code = issue(&a, 0);
    let old_kid = current_kid(&a);
    let v = verify(&b, &old_code);
    assert_eq!(
        (v["valid"].as_bool(), v["claims"]["iss"].as_str()),
        (Some(true), Some("330300")),
        "{v}"
    );
    eventually(10, "B's API to verify A's code", || {
        verify_api(&b_server.base, &token, &old_code)["valid"] == true
    });
    // Polling when nothing changed: 304 by version and by ETag.
    let (status, _) = get(&hub.base, "/hub/v1/trust-list?since=1", &[]);
    assert_eq!(status, 304);
    let (status, _) = get(
        &hub.base,
        "/hub/v1/trust-list",
        &[("If-None-Match", "\"v1\"")],
    );
    assert_eq!(status, 304);
    let (status, list) = get(&hub.base, "/hub/v1/trust-list?since=0", &[]);
    assert_eq!(status, 200);
    assert_eq!(
        list,
        std::fs::read(b_data.join("keys/hub-list.cose")).unwrap()
    );

    // Health attestations ride on the same keys: A pulls the list too (for B's key), B
    // registered A's two residents on arrival and asks A about them.
    a.ok(&["trust", "pull", &hub.base, "--anchor", &anchor_pub]);
    b.write(
        "arrivals/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region\n{},2020-01-24,330302,510104\n{},2020-01-24,330302,510104\n",
            id(0),
            id(1)
        ),
    );
    b.ok(&[
        "ingest",
        b.path("arrivals").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let a_server = Proc::start(&a, &["serve", "--addr", "127.0.0.1:0"], "a-serve.log");
    let fetch = || -> Value {
        let out = b.ok(&[
            "peer",
            "fetch",
            "--from",
            &a_server.base,
            "--region",
            "330300",
            "--as-of",
            "2020-01-25",
        ]);
        serde_json::from_str(out.lines().next().unwrap()).unwrap()
    };
    let got = fetch();
    assert_eq!(
        (got["attested"].as_u64(), got["unavailable"].as_u64()),
        (Some(2), Some(0)),
        "{got}"
    );

    // A rotates and submits (the retired key vouches for the new one); after the next
    // publication and pull, old and new codes both verify at B.
    a.ok(&["keys", "rotate"]);
    a.ok(&["hub", "submit", &hub.base]);
    let new_code = issue(&a, 1);
    let new_kid = current_kid(&a);
    assert_ne!(old_kid, new_kid);
    assert_eq!(
        verify(&b, &new_code)["valid"],
        false,
        "not trusted before the publication"
    );
    // A answers with its new key at once; B does not trust it yet: home data unavailable.
    let got = fetch();
    assert_eq!(got["unavailable"], 2, "{got}");
    assert!(
        got["error"]
            .as_str()
            .unwrap()
            .contains("not signed by a trusted key"),
        "{got}"
    );
    publish(2);
    eventually(30, "B to accept version 2", || {
        accepted_version(&b_data) == Some(2)
    });
    let got = fetch();
    assert_eq!(
        (got["attested"].as_u64(), got["unavailable"].as_u64()),
        (Some(2), Some(0)),
        "{got}"
    );
    a_server.stop();
    assert_eq!(verify(&b, &old_code)["valid"], true);
    assert_eq!(verify(&b, &new_code)["valid"], true);

    // The hub revokes A's old key: after the next pull its codes fail at B, the new ones pass.
    operator.ok(&[
        "hub",
        "revoke",
        &old_kid,
        "--dir",
        hub_dir,
        "--reason",
        "key compromised",
    ]);
    publish(3);
    eventually(30, "B to accept version 3", || {
        accepted_version(&b_data) == Some(3)
    });
    let v = verify(&b, &old_code);
    assert_eq!(v["valid"], false);
    assert!(
        v["reason"].as_str().unwrap().starts_with("unknown key id"),
        "{v}"
    );
    assert_eq!(verify(&b, &new_code)["valid"], true);
    eventually(10, "B's API to refuse the revoked key's code", || {
        verify_api(&b_server.base, &token, &old_code)["valid"] == false
    });
    assert_eq!(verify_api(&b_server.base, &token, &new_code)["valid"], true);
    // A revoked key cannot come back, neither by file nor by submission.
    let again = operator.fails(
        &[
            "hub",
            "add",
            a.path("my-keys.json").to_str().unwrap(),
            "--dir",
            hub_dir,
        ],
        2,
    );
    assert!(again.contains("revoked"), "{again}");

    // A fake hub: a tampered list, another anchor's list, and a rollback to version 2 are each
    // refused by B, whose trust list stays as it was.
    let trust_before = std::fs::read(b_data.join("keys/trust.json")).unwrap();
    let published =
        |v: u64| std::fs::read(Path::new(hub_dir).join(format!("published/{v:012}.cose"))).unwrap();
    let fake = FakeHub::start();
    let mut tampered = published(3);
    let n = tampered.len();
    tampered[n / 2] ^= 0x20;
    let evil = Env::new();
    let evil_key = evil.path("evil.key");
    evil.ok(&["hub", "anchor-keygen", "--out", evil_key.to_str().unwrap()]);
    let evil_hub = evil.path("hub");
    evil.ok(&[
        "hub",
        "add",
        a.path("my-keys.json").to_str().unwrap(),
        "--dir",
        evil_hub.to_str().unwrap(),
    ]);
    for _ in 0..5 {
        evil.ok(&[
            "hub",
            "publish",
            "--dir",
            evil_hub.to_str().unwrap(),
            "--anchor-key",
            evil_key.to_str().unwrap(),
        ]);
    }
    let foreign = std::fs::read(evil_hub.join("published/000000000005.cose")).unwrap();
    for (bytes, why) in [
        (tampered, "altered or forged"),
        (foreign, "not by the trust anchor"),
        (published(2), "rollback"),
        (
            b"<html>a captive portal</html>".to_vec(),
            "not a signed list",
        ),
    ] {
        fake.serve(bytes);
        let err = b.fails(&["trust", "pull", &fake.base, "--anchor", &anchor_pub], 1);
        assert!(err.contains(why), "expected {why:?}: {err}");
        assert!(err.contains("unchanged"), "{err}");
        assert_eq!(
            std::fs::read(b_data.join("keys/trust.json")).unwrap(),
            trust_before
        );
        assert_eq!(accepted_version(&b_data), Some(3));
    }

    // The hub goes down: B keeps its last list (and says so once), codes verify as before.
    hub.stop();
    eventually(15, "B to notice the hub is down", || {
        b_server.log().contains("keeping the last list")
    });
    assert_eq!(verify(&b, &new_code)["valid"], true);
    assert_eq!(verify(&b, &old_code)["valid"], false);
    assert_eq!(verify_api(&b_server.base, &token, &new_code)["valid"], true);
    // It comes back at the same address with a new publication; B's retries pick it up.
    publish(4);
    let hub = Proc::start(
        &operator,
        &["hub", "serve", "--dir", hub_dir, "--addr", &hub_addr],
        "hub2.log",
    );
    eventually(30, "B to accept version 4 after the hub is back", || {
        accepted_version(&b_data) == Some(4)
    });
    assert_eq!(verify(&b, &new_code)["valid"], true);
    assert_eq!(verify(&b, &old_code)["valid"], false);
    let status = b.ok(&["trust", "status"]);
    assert!(status.contains("version 4"), "{status}");
    b_server.stop();
    hub.stop();
}

/// A hub frozen on an old list (a hub that publishes nothing new, or a man in the middle
/// replaying the last list it saw): the version check sees nothing wrong, so B warns once the
/// list is older than its maximum age — log (once), `trust status`, metrics.
#[test]
fn a_hub_frozen_on_an_old_list_is_warned_of() {
    let b = province("510100", &[]);
    let b_data = b.path("data");
    let operator = Env::new();
    let anchor_key = operator.path("anchor.key");
    operator.ok(&[
        "hub",
        "anchor-keygen",
        "--out",
        anchor_key.to_str().unwrap(),
    ]);
    let anchor_pub = format!("{}.pub", anchor_key.display());
    let hub_dir = operator.path("hub");
    let hub_dir = hub_dir.to_str().unwrap();
    let file = b.path("my-keys.json");
    b.ok(&["keys", "export", "--out", file.to_str().unwrap()]);
    operator.ok(&["hub", "add", file.to_str().unwrap(), "--dir", hub_dir]);
    let publish_args = |valid_for: &'static str| {
        [
            "hub",
            "publish",
            "--dir",
            hub_dir,
            "--anchor-key",
            anchor_key.to_str().unwrap(),
            "--valid-for",
            valid_for,
        ]
    };
    let publish = |valid_for: &'static str| operator.ok(&publish_args(valid_for));
    // Validity: at least an hour, at most ten years; a span needs its unit.
    for (valid_for, says) in [
        ("30s", "at least an hour"),
        ("3651d", "3650d"),
        ("30", "7d, 36h"),
    ] {
        let err = operator.fails(&publish_args(valid_for), 2);
        assert!(err.contains(says), "--valid-for {valid_for}: {err}");
    }
    let out = publish("30d");
    assert!(
        out.contains("published version 1") && out.contains("valid until"),
        "{out}"
    );
    let listed = operator.ok(&["hub", "list", "--dir", hub_dir]);
    assert!(
        listed.contains("published version 1, valid until 20"),
        "{listed}"
    );
    let hub = Proc::start(
        &operator,
        &["hub", "serve", "--dir", hub_dir, "--addr", "127.0.0.1:0"],
        "hub.log",
    );

    // B serves with a maximum age of 3 s; the hub never publishes again.
    let token = b.ok(&["users", "add", "ops", "--role", "admin"]);
    let token = token.lines().last().unwrap().trim().to_string();
    let b_server = Proc::start(
        &b,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--trust-hub",
            &hub.base,
            "--anchor",
            &anchor_pub,
            "--pull-every",
            "1",
            "--trust-max-age",
            "3s",
        ],
        "b-serve.log",
    );
    eventually(30, "B to accept version 1", || {
        accepted_version(&b_data) == Some(1)
    });
    let status = b.run(&["trust", "status"]);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        text.contains("version 1") && text.contains("fresh"),
        "{text}"
    );
    assert!(text.contains("expires 20"), "{text}");
    eventually(30, "B to warn of the old list", || {
        b_server.log().contains("more than the 3 s allowed")
    });
    let log = b_server.log();
    assert!(log.contains("freeze") && log.contains("version 1"), "{log}");
    // Said once, not at every pull.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        b_server.log().matches("trust hub: warning:").count(),
        1,
        "{}",
        b_server.log()
    );
    let status = b.run(&["trust", "status", "--max-age", "1s"]);
    let (out, err) = (
        String::from_utf8_lossy(&status.stdout).to_string(),
        String::from_utf8_lossy(&status.stderr).to_string(),
    );
    assert!(status.status.success());
    assert!(out.contains("STALE"), "{out}");
    assert!(err.contains("warning:") && err.contains("freeze"), "{err}");
    let (code, body) = get(
        &b_server.base,
        "/metrics",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    let metrics = String::from_utf8_lossy(&body);
    assert_eq!(code, 200, "{metrics}");
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fangyi_trust_list_age_seconds "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(age >= 3.0, "{age}");
    let left: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fangyi_trust_list_expires_in_seconds "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(left > 29.0 * 86_400.0 && left <= 30.0 * 86_400.0, "{left}");
    b_server.stop();
    hub.stop();
    // (A list past its expiry is refused: exchange::deploy's tests, with lists signed at
    // chosen times; a hub publishes for an hour at least.)
}

/// The bytes one direction of a relay carried.
type Wire = Arc<Mutex<Vec<u8>>>;

/// A relay on loopback to `upstream` that keeps every byte each way (B → A, A → B).
struct Relay {
    base: String,
    up: Wire,
    down: Wire,
}

impl Relay {
    fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let up: Wire = Arc::default();
        let down: Wire = Arc::default();
        let (up2, down2) = (Arc::clone(&up), Arc::clone(&down));
        let upstream = upstream.trim_start_matches("http://").to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream, keep: Wire| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 << 10];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    keep.lock().unwrap().extend_from_slice(&buf[..n]);
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    up2.clone(),
                );
                pipe(server, client, down2.clone());
            }
        });
        Relay { base, up, down }
    }
}

/// POSTs `body` to A's attestation endpoint: the status and the answer's body.
fn post_attestation(base: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /exchange/v1/attestations HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let status = String::from_utf8_lossy(&resp[9..12]).parse().unwrap();
    (status, http_body(&resp).to_vec())
}

/// The body of the (one) HTTP message in `bytes`.
fn http_body(bytes: &[u8]) -> &[u8] {
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &bytes[at..]
}

/// `fangyi code ID --as-of DAY --format json` at `env`.
fn code_json(env: &Env, person: &str, as_of: Option<&str>) -> Value {
    let mut args = vec!["code", person, "--format", "json"];
    if let Some(d) = as_of {
        args.extend(["--as-of", d]);
    }
    serde_json::from_str(&env.ok(&args)).unwrap()
}

/// Health attestations between two real deployments: B (Chengdu) registered a batch of
/// arrivals from A (Wenzhou) and one from elsewhere; `fangyi peer fetch` asks A (served by
/// `fangyi serve`) about exactly those from A, through a relay that keeps the bytes: A's answer
/// holds only color, rule groups, validity and the issuer. B's codes then carry A's
/// `peer_attestation` (the province named); with A down they say "home data unavailable", and
/// once A is back the next fetch clears it.
/// Province A (Wenzhou: 30 residents, person 0 a confirmed case) and province B (Chengdu: 25
/// of them registered on arrival, and one from Guangzhou), each trusting the other's key (here
/// by file; through a hub in the first test). Returns A, B, A's residents and the stranger.
fn attesting_provinces() -> (Env, Env, Vec<String>, String) {
    // A: 30 residents, person 0 a confirmed case.
    let persons: Vec<String> = (0..30).map(id).collect();
    let a = province("330300", &persons);
    a.write(
        "in2/lab_results.csv",
        &format!(
            "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
             {},2020-01-22T09:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n",
            id(0)
        ),
    );
    a.ok(&[
        "ingest",
        a.path("in2").to_str().unwrap(),
        "--format",
        "json",
    ]);
    // B: 25 of them arrived (and registered where they stay), and one from Guangzhou.
    let stranger = PersonId::from_parts(440106, Date::from_ymd(1990, 5, 5).unwrap(), 77)
        .unwrap()
        .to_string();
    let arrived: Vec<String> = persons[..25].to_vec();
    let b = Env::new();
    let mut regs = String::from("person_id,arrival_date,from_region,stay_region\n");
    let mut res = String::from("person_id,home_region,household_id\n");
    for (i, p) in arrived.iter().chain([&stranger]).enumerate() {
        regs.push_str(&format!("{p},2020-01-24,{},510104\n", &p[..6]));
        res.push_str(&format!("{p},510104,HB{i}\n"));
    }
    b.write("in/registrations.csv", &regs);
    b.write("in/persons.csv", &res);
    b.ok(&["ingest", b.path("in").to_str().unwrap(), "--format", "json"]);
    b.ok(&["keys", "init", "--region", "510100"]);
    // Each trusts the other's key (here by file; through a hub in the test above).
    for (from, to, name) in [(&a, &b, "a-keys.json"), (&b, &a, "b-keys.json")] {
        let file = from.path(name);
        from.ok(&["keys", "export", "--out", file.to_str().unwrap()]);
        to.ok(&["keys", "import", file.to_str().unwrap()]);
    }
    (a, b, persons, stranger)
}

#[test]
fn a_batch_of_arrivals_is_attested_by_the_home_province_over_the_wire() {
    let (a, b, persons, stranger) = attesting_provinces();
    let arrived: Vec<String> = persons[..25].to_vec();
    let a_server = Proc::start(&a, &["serve", "--addr", "127.0.0.1:0"], "a-serve.log");
    let relay = Relay::start(&a_server.base);

    let out = b.ok(&[
        "peer",
        "fetch",
        "--from",
        &relay.base,
        "--region",
        "330300",
        "--as-of",
        "2020-01-25",
    ]);
    let got: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(got["persons"], 25, "{got}");
    assert_eq!(got["attested"], 25, "{got}");
    assert_eq!(got["not_green"], 1, "{got}");
    assert_eq!(got["unavailable"], 0, "{got}");

    // On the wire: B sent the 25 ID numbers it registered and not the stranger's; A's answer
    // carries nothing but color, rule groups, validity and the issuer (with the times and the
    // request's digest): no ID number, no part of one, no name.
    let up = relay.up.lock().unwrap().clone();
    let down = relay.down.lock().unwrap().clone();
    let sent = String::from_utf8_lossy(&up);
    assert!(
        sent.starts_with("POST /exchange/v1/attestations HTTP/1.1\r\n"),
        "{sent}"
    );
    assert!(arrived.iter().all(|p| sent.contains(p.as_str())));
    assert!(!sent.contains(&stranger));
    assert!(
        !sent.to_lowercase().contains("authorization"),
        "no token crosses"
    );
    let head = String::from_utf8_lossy(&down[..down.len().min(400)]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("cache-control: no-store"),
        "{head}"
    );
    let body = http_body(&down);
    let text = String::from_utf8_lossy(body);
    for p in &persons {
        assert!(
            !text.contains(p.as_str()) && !text.contains(&p[6..14]),
            "{p} on the wire"
        );
    }
    assert!(!text.contains('某'), "a name on the wire");
    // COSE_Sign1 (tag 18); the payload is the JSON document inside (the exchange crate's
    // own test takes the envelope apart: protected alg and kid only, nothing unprotected).
    assert_eq!(body[0], 0xd2, "COSE_Sign1");
    let start = body
        .windows(9)
        .position(|w| w == b"{\"format\"")
        .expect("the signed document");
    let doc: Value = serde_json::Deserializer::from_slice(&body[start..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    let mut keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["exp", "format", "iat", "iss", "items", "request"]);
    assert_eq!(doc["iss"], "330300");
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 25);
    for item in items {
        let mut k: Vec<&String> = item.as_object().unwrap().keys().collect();
        k.sort();
        assert_eq!(k, ["color", "groups", "valid_until"], "{item}");
    }
    assert_eq!(
        items.iter().filter(|i| i["color"] == "red").count(),
        1,
        "the case"
    );

    // The same request again is a replay (409); junk is malformed (400); B's request with
    // one byte of its signature changed is not B's (401). Each is refused before any code.
    let request = http_body(&up).to_vec();
    assert_eq!(post_attestation(&a_server.base, &request).0, 409);
    assert_eq!(post_attestation(&a_server.base, b"junk").0, 400);
    let mut forged = request.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    assert_eq!(post_attestation(&a_server.base, &forged).0, 401);

    // B's code of the case: red by A's word, the province and the rule group named.
    let code = code_json(&b, &id(0), Some("2020-01-25"));
    assert_eq!(code["color"], "red", "{code}");
    let reasons = code["reasons"].as_array().unwrap();
    assert_eq!(reasons[0]["rule"], "peer_attestation", "{code}");
    let detail = reasons[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("330300") && detail.contains("case"),
        "{detail}"
    );
    // Section 4's shape is unchanged: the same fields, in the same order.
    let raw = b.ok(&["code", &id(0), "--as-of", "2020-01-25", "--format", "json"]);
    let at = |k: &str| raw.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("person_id") < at("as_of")
            && at("as_of") < at("color")
            && at("color") < at("reasons")
            && at("reasons") < at("valid_until"),
        "{raw}"
    );
    assert_eq!(code.as_object().unwrap().len(), 5, "{code}");
    assert_eq!(code_json(&b, &id(3), Some("2020-01-25"))["color"], "green");

    // A asked as peer:510100, and audited whom about and why.
    let audit = a.ok(&["audit", "show", "--action", "attest", "--format", "json"]);
    assert!(
        audit.contains("peer:510100") && audit.contains("arrival_registration"),
        "{audit}"
    );

    // A down: B records "home data unavailable" and says so; its codes of today carry it.
    a_server.stop();
    let out = b.run(&[
        "peer",
        "fetch",
        "--from",
        &relay.base,
        "--region",
        "330300",
        "--as-of",
        "2020-01-25",
        "--timeout",
        "3",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("home data unavailable for 25 persons"),
        "{err}"
    );
    let code = code_json(&b, &id(3), None);
    assert!(
        code["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "peer_attestation"
                && r["detail"]
                    .as_str()
                    .unwrap()
                    .contains("home data unavailable")),
        "{code}"
    );
    // What B had still holds: the case is red today too (A's answer lasts a day).
    assert_eq!(code_json(&b, &id(0), None)["color"], "red");

    // A back: the next fetch clears the marks.
    let a_server = Proc::start(&a, &["serve", "--addr", "127.0.0.1:0"], "a-serve2.log");
    b.ok(&[
        "peer",
        "fetch",
        "--from",
        &a_server.base,
        "--region",
        "330300",
        "--as-of",
        "2020-01-25",
    ]);
    let code = code_json(&b, &id(3), None);
    assert!(
        !code.to_string().contains("home data unavailable"),
        "{code}"
    );
    a_server.stop();
}

/// `fangyi serve --peer`: B asks A on its own, every second here. A is down at first — B's
/// codes say "home data unavailable" and B keeps retrying — then A comes up at the address B
/// was given, and B's next round folds A's answer in.
#[test]
fn a_serving_deployment_retries_its_home_province_until_it_answers() {
    let (a, b, _, _) = attesting_provinces();
    // A's address, free now; A starts there later.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a_addr = format!("127.0.0.1:{port}");
    let b_server = Proc::start(
        &b,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--peer",
            &format!("330300=http://{a_addr}"),
            "--peer-every",
            "1",
            "--peer-as-of",
            "2020-01-25",
        ],
        "b-serve.log",
    );
    let unavailable = || {
        code_json(&b, &id(3), None)["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| {
                r["detail"]
                    .as_str()
                    .unwrap()
                    .contains("home data unavailable")
            })
    };
    eventually(30, "B to mark home data unavailable", unavailable);
    assert!(
        b_server.log().contains("home data unavailable"),
        "{}",
        b_server.log()
    );
    let a_server = Proc::start(&a, &["serve", "--addr", &a_addr], "a-serve.log");
    eventually(30, "B to fold in A's answer", || {
        code_json(&b, &id(0), Some("2020-01-25"))["color"] == "red" && !unavailable()
    });
    a_server.stop();
    b_server.stop();
}
