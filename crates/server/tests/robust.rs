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
}

/// A stream over a channel's receiver.
fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
