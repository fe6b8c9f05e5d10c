//! Robustness over real HTTP: random input in every part of a request never gets a 500, a
//! panic or a non-JSON error; and shutting down while an upload is still arriving finishes it.

mod common;

use std::time::Duration;

use common::City;
use fangyi_server as server;
use proptest::prelude::*;
use reqwest::StatusCode;

/// Text that is hard on parsers: ids, dates, numbers, separators, escapes, other scripts.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,20}",
        "[0-9]{17}[0-9Xx]",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:]{0,8}[+Z]?[0-9:]{0,5})?",
        "[a-zA-Z_]{0,12}",
        "[ -~]{0,40}",
        "[\\p{Han}\\p{Cyrillic}]{0,6}",
        Just("%00".to_string()),
        Just("..%2F..%2Fetc%2Fpasswd".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
    ]
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn random_requests_never_break_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let city = rt.block_on(City::start());
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let strategy = (
        0usize..8,
        nasty(),
        nasty(),
        nasty(),
        prop_oneof![
            Just("epi"),
            Just("cw"),
            Just("analyst"),
            Just("gate"),
            Just("admin")
        ],
        prop_oneof![
            Just("health_code".to_string()),
            Just("outbreak_response".to_string()),
            Just("analysis".to_string()),
            nasty()
        ],
    );
    runner
        .run(&strategy, |(endpoint, a, b, body, who, purpose)| {
            let (a_, b_) = (enc(&a), enc(&b));
            let (method, path, json) = match endpoint {
                0 => ("GET", format!("/api/v1/persons/{a_}/code?as_of={b_}"), None),
                1 => (
                    "GET",
                    format!(
                        "/api/v1/cases/{a_}/contacts?as_of={b_}&depth={}",
                        enc(&body)
                    ),
                    None,
                ),
                2 => (
                    "GET",
                    format!("/api/v1/communities/{a_}/codes?as_of={b_}"),
                    None,
                ),
                3 => (
                    "GET",
                    format!("/api/v1/returnees?region={a_}&from={b_}&to={}", enc(&body)),
                    None,
                ),
                4 => (
                    "POST",
                    "/api/v1/codes/verify".to_string(),
                    Some(format!("{{\"payload\": {:?}}}", a)),
                ),
                5 => ("POST", "/api/v1/sql".to_string(), Some(body.clone())),
                6 => (
                    "GET",
                    format!(
                        "/api/v1/cotravel?mode={a_}&service={b_}&date={}&seat={a_}",
                        enc(&body)
                    ),
                    None,
                ),
                _ => (
                    "GET",
                    format!("/api/v1/audit?person={a_}&after={b_}&limit={}", enc(&body)),
                    None,
                ),
            };
            let (status, text) = rt.block_on(async {
                let url = format!("{}{path}", city.base);
                let mut r = match method {
                    "GET" => city.client.get(url),
                    _ => city.client.post(url),
                };
                r = r.bearer_auth(city.token(who));
                if let Ok(v) = reqwest::header::HeaderValue::from_str(&purpose) {
                    r = r.header("X-Purpose", v);
                }
                if let Some(j) = json {
                    r = r.header("Content-Type", "application/json").body(j);
                }
                let resp = r.send().await.unwrap();
                (resp.status(), resp.text().await.unwrap())
            });
            prop_assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path}: 500 {text}"
            );
            if !status.is_success() {
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    TestCaseError::fail(format!("{method} {path}: {status} not JSON ({e}): {text}"))
                })?;
                prop_assert!(v["error"].is_string(), "{method} {path}: {text}");
            }
            Ok(())
        })
        .unwrap();
    rt.block_on(city.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_an_upload_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let keys = common::test_keys();
    let engine = engine::Engine::open(engine::EngineOptions::new(dir.path().join("data")), keys)
        .await
        .unwrap();
    engine
        .ops()
        .add_user(
            &ops::NewUser {
                name: "admin",
                role: "admin",
                region: None,
                community: None,
            },
            1,
        )
        .await
        .unwrap();
    let (token, _) = engine
        .ops()
        .create_token("admin", "t", 1, None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = server::ServeOptions {
        spool: Some(dir.path().join("spool")),
        ..Default::default()
    };
    let server = tokio::spawn(server::serve(engine.clone(), opts, listener, async {
        let _ = stopped.await;
    }));

    // The body arrives in two parts, with the shutdown in between.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let client = reqwest::Client::new();
    let upload = tokio::spawn(
        client
            .post(format!("{base}/api/v1/ingest/venues"))
            .bearer_auth(token)
            .header("X-Purpose", "data_management")
            .body(body)
            .send(),
    );
    tx.send(Ok(
        b"venue_id,name,kind,region,community_id,lat,lon\nV1,A,market,330302,C1,28,120\n".to_vec(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send(Ok(b"V2,B,market,330302,C1,28,120\n".to_vec()))
        .await
        .unwrap();
    drop(tx);
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["rows_accepted"], 2, "{v}");
    server.await.unwrap().unwrap();
    // Both rows are in the store after the server stopped.
    let store = store::Store::open(&dir.path().join("data"), common::test_keys().key_id()).unwrap();
    assert_eq!(store.manifest().kind_stats()[&model::Kind::Venues].rows, 2);
    // Regression: the source was recorded (and answered) by the server's spool path.
    let names: Vec<&str> = store
        .manifest()
        .sources()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["upload:venues.csv"]);
    let spool = dir.path().join("spool").display().to_string();
    assert!(!v.to_string().contains(&spool), "{v}");
    let manifest = std::fs::read_to_string(dir.path().join("data/manifest.json")).unwrap();
    assert!(!manifest.contains(&spool) && !manifest.contains("upload-"));
}

/// A stream over a channel's receiver.
fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Kinds, names and formats that try to leave the spool or break a parser: encoded dot-dot
/// segments and slashes (once and twice encoded), backslashes, NUL, an absolute path, very
/// long text, other scripts, and real kinds with something appended. Each names the marker, so
/// a file it managed to write can be found. None points above `root` (the test's own folder,
/// holding the spool and the data dir): the flaw this guards against removed the folder a
/// file landed in, so a regression must fail the test, not empty the system's temp dir.
fn hostile_part(root: &std::path::Path) -> impl Strategy<Value = String> + use<> {
    let absolute = enc(&root.join("victim/fuzz-written").display().to_string());
    prop_oneof![
        Just("..%2F..%2Ffuzz-written".to_string()),
        Just("..%2F..%2Fvictim%2Ffuzz-written".to_string()),
        Just("%2E%2E%2F%2E%2E%2Fvictim%2Ffuzz-written".to_string()),
        Just("%252E%252E%252Ffuzz-written".to_string()),
        Just("..%5C..%5Cfuzz-written".to_string()),
        Just(absolute),
        Just("venues%2F..%2F..%2F..%2Fvictim%2Ffuzz-written".to_string()),
        Just("venues%00fuzz-written".to_string()),
        Just("venues%0A..%2Ffuzz-written".to_string()),
        Just("%C0%AE%C0%AE%2Ffuzz-written".to_string()),
        Just("%FF%FE".to_string()),
        Just("venues".to_string()),
        Just("travel".to_string()),
        Just("persons.csv".to_string()),
        Just(" venues ".to_string()),
        Just(String::new()),
        "[a-z_]{1,12}",
        "[\\p{Han}\\p{Cyrillic}\\p{Arabic}]{1,8}",
        "[ -~]{0,30}".prop_map(|s| enc(&s)),
        (1usize..6).prop_map(|n| "x".repeat(n * 1500)),
    ]
}

/// Bodies: a valid file of the kind most tried, broken CSV, JSON Lines, bytes that are not
/// UTF-8, Parquet's magic around garbage, nothing.
fn hostile_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(
            b"venue_id,name,kind,region,community_id,lat,lon\nFZ1,Fuzz,market,330302,C1,28,120\n"
                .to_vec()
        ),
        Just(b"venue_id,name\n\"unterminated\n".to_vec()),
        Just(b"{\"venue_id\": \"FZ2\"}\n{not json\n".to_vec()),
        Just(b"PAR1\x00\x01garbagePAR1".to_vec()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

/// Every entry under `root` (relative paths), leaving out `skip`.
fn tree(root: &std::path::Path, skip: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p == skip {
                continue;
            }
            out.insert(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn hostile_uploads_never_touch_a_path_outside_the_spool() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let city = rt.block_on(City::start());
    let root = city.dir.path().to_path_buf();
    let (data, spool) = (root.join("data"), root.join("spool"));
    // Something beside the spool and the data dir to lose, and the temp dir above them.
    let victim = root.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    let above = root.parent().unwrap().to_path_buf();
    let marked = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().contains("fuzz-written"))
                    .count()
            })
            .unwrap_or(0)
    };
    let before = tree(&root, &data);
    // In the data dir, files come and go with every accepted upload; none may carry the mark.
    let marked_in_data = || {
        tree(&data, &spool)
            .iter()
            .filter(|p| p.contains("fuzz-written"))
            .count()
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    // Half the kinds real, so hostile formats, names and bodies reach the ingest; most
    // requests from the one role that may upload.
    let kinds = prop_oneof![
        1 => hostile_part(&root),
        1 => prop_oneof![
            Just("venues".to_string()),
            Just("travel".to_string()),
            Just("persons".to_string()),
            Just("checkins".to_string()),
            Just("lab_results".to_string()),
        ],
    ];
    let strategy = (
        kinds,
        proptest::option::of(hostile_part(&root)),
        proptest::option::of(hostile_part(&root)),
        prop_oneof![
            Just("text/csv".to_string()),
            Just("application/x-ndjson".to_string()),
            Just("application/vnd.apache.parquet".to_string()),
            "[ -~]{0,40}",
        ],
        hostile_body(),
        prop_oneof![
            4 => Just("admin"),
            1 => Just("epi"),
            1 => Just("cw"),
            1 => Just("analyst"),
            1 => Just("gate")
        ],
        prop_oneof![
            3 => Just("data_management".to_string()),
            1 => Just("analysis".to_string()),
            1 => Just("data%5Fmanagement".to_string()),
        ],
    );
    runner
        .run(
            &strategy,
            |(kind, name, format, content_type, body, who, purpose)| {
                let mut url = format!("{}/api/v1/ingest/{kind}?purpose={purpose}", city.base);
                if let Some(n) = &name {
                    url.push_str(&format!("&name={n}"));
                }
                if let Some(f) = &format {
                    url.push_str(&format!("&format={f}"));
                }
                let (status, text) = rt.block_on(async {
                    let mut r = city.client.post(&url).bearer_auth(city.token(who));
                    if let Ok(v) = reqwest::header::HeaderValue::from_str(&content_type) {
                        r = r.header("Content-Type", v);
                    }
                    match r.body(body.clone()).send().await {
                        Ok(resp) => (Some(resp.status()), resp.text().await.unwrap_or_default()),
                        // A URL the client itself refuses to send.
                        Err(e) if e.is_builder() => (None, String::new()),
                        Err(e) => panic!("{url}: {e}"),
                    }
                });
                if let Some(status) = status {
                    prop_assert!(
                        status != StatusCode::INTERNAL_SERVER_ERROR,
                        "{who} {url}: 500 {text}"
                    );
                    if !status.is_success() {
                        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                            TestCaseError::fail(format!("{url}: {status} not JSON ({e}): {text}"))
                        })?;
                        prop_assert!(v["error"].is_string(), "{url}: {text}");
                    }
                    // Who may not upload is refused first, whatever else the request says
                    // (unless the URL named no upload route at all: `.` and `..` segments).
                    if who != "admin" || purpose == "analysis" {
                        prop_assert!(
                            status == StatusCode::FORBIDDEN || text.contains("no such endpoint"),
                            "{} {}: {} {}",
                            who,
                            url,
                            status,
                            text
                        );
                    }
                }
                // Nothing outside the spool and the data dir changed; the spool is empty;
                // nothing with the mark appeared anywhere.
                prop_assert_eq!(&tree(&root, &data), &before, "{} {}", who, url);
                prop_assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
                prop_assert_eq!(marked(&above) + marked(&root) + marked_in_data(), 0);
                prop_assert_eq!(marked(&std::env::temp_dir()), 0);
                // And the server still answers.
                let alive = rt.block_on(async {
                    city.client
                        .get(format!("{}/healthz", city.base))
                        .send()
                        .await
                        .map(|r| r.status())
                });
                prop_assert_eq!(alive.ok(), Some(StatusCode::OK));
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(victim.join("keep.txt")).unwrap(),
        "mine"
    );
    rt.block_on(city.stop());
}

#[test]
fn a_spool_is_cleared_of_the_servers_leftovers_only() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("upload-0123456789abcdef")).unwrap();
    std::fs::write(spool.join("upload-0123456789abcdef/travel.csv"), "raw").unwrap();
    std::fs::create_dir_all(spool.join("operators-own")).unwrap();
    std::fs::write(spool.join("operators-own/keep.txt"), "mine").unwrap();
    std::fs::write(spool.join("notes.txt"), "mine").unwrap();
    // Regression: every entry of a configured spool was removed at start.
    let got = server::spool_dir(Some(spool.clone())).unwrap();
    assert_eq!(got, spool);
    assert!(!spool.join("upload-0123456789abcdef").exists());
    assert!(spool.join("operators-own/keep.txt").exists());
    assert!(spool.join("notes.txt").exists());
    // A symbolic link is not taken for the spool (someone may have planted it).
    #[cfg(unix)]
    {
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(server::spool_dir(Some(link)).is_err());
    }
}
