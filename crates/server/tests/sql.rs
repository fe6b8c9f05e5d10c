//! SQL from outside through the real server: statements past each bound answer 400 and the
//! server stays up (the finding was a ~6 KB `SELECT 1+1+…` that overflowed a worker's stack and
//! aborted the process); a query cut off by the time limit is cancelled and still audited with
//! its statement; `EXPLAIN` shows no path on the server.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::City;
use fangyi_server as server;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn sql(c: &City, who: &str, statement: &str) -> (StatusCode, Value) {
    c.post(
        Some(who),
        Some("analysis"),
        "/api/v1/sql",
        json!({ "sql": statement }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_past_the_bounds_answer_400_and_the_server_stays_up() {
    let c = City::start().await;
    let sum = |n: usize| format!("SELECT {}", vec!["1"; n].join("+"));
    let nested = |open: &str, inner: &str, close: &str, n: usize| {
        format!("SELECT {}{inner}{} AS x", open.repeat(n), close.repeat(n))
    };
    let mut ctes = "WITH c0 AS (SELECT 1 AS x)".to_string();
    for i in 1..40 {
        ctes.push_str(&format!(
            ", c{i} AS (SELECT x FROM c{p} UNION ALL SELECT x FROM c{p})",
            p = i - 1
        ));
    }
    ctes.push_str(" SELECT count(*) FROM c39");
    let hostile = [
        ("the finding: 3,000 terms", sum(3_000)),
        ("just past the depth limit", sum(130)),
        ("far past it", sum(30_000)),
        ("parentheses", nested("(", "1", ")", 10_000)),
        ("function calls", nested("abs(", "1", ")", 10_000)),
        ("subqueries", nested("(SELECT ", "1", ")", 1_000)),
        ("a UNION chain", vec!["SELECT 1"; 5_000].join(" UNION ALL ")),
        ("CTEs doubling", ctes),
        (
            "past the text limit",
            format!("SELECT 1{}", " ".repeat(70_000)),
        ),
    ];
    for (what, statement) in &hostile {
        let (s, v) = sql(&c, "analyst", statement).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {v}");
        assert!(v["error"].is_string(), "{what}: {v}");
        // Still up, and still answering SQL.
        let (s, _) = c.get(None, None, "/healthz").await;
        assert_eq!(s, StatusCode::OK, "after {what}");
    }
    let (s, v) = sql(&c, "analyst", "SELECT count(*) AS n FROM travel").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows"], json!([{"n": 4}]));
    // Each refusal is in the audit log with its statement.
    let (s, v) = c
        .get(
            Some("admin"),
            Some("oversight"),
            "/api/v1/audit?actor=analyst&action=sql&limit=100",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let refused = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["outcome"]
                .as_str()
                .unwrap()
                .starts_with("error: bad_request")
        })
        .count();
    assert_eq!(refused, hostile.len(), "{v}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_cut_off_by_the_time_limit_is_cancelled_and_audited_with_its_statement() {
    let c = City::start().await;
    // The same engine behind a second server whose requests may take a second.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = server::ServeOptions {
        addr,
        timeout: Duration::from_secs(1),
        spool: Some(c.dir.path().join("spool-short")),
        ..Default::default()
    };
    let short = tokio::spawn(server::serve(c.engine.clone(), opts, listener, async {
        let _ = stopped.await;
    }));
    let endless = "SELECT sum(value) AS n FROM generate_series(1, 1000000000000)";
    let resp = c
        .client
        .post(format!("http://{addr}/api/v1/sql"))
        .bearer_auth(c.token("analyst"))
        .header("X-Purpose", "analysis")
        .json(&json!({ "sql": endless }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The entry is written by the request's own task once the query is cancelled.
    let mut tries = 0;
    let entry = loop {
        let (s, v) = c
            .get(
                Some("admin"),
                Some("oversight"),
                "/api/v1/audit?actor=analyst&action=sql",
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if let Some(e) = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["query"].as_str().unwrap().contains("generate_series"))
        {
            break e.clone();
        }
        tries += 1;
        assert!(tries < 600, "no audit entry for the cut-off query: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        entry["outcome"].as_str().unwrap().contains("cancelled"),
        "{entry}"
    );
    assert!(
        entry["query"].as_str().unwrap().contains(endless),
        "{entry}"
    );
    // The SQL threads are free again: a query after it answers.
    let (s, v) = sql(&c, "analyst", "SELECT count(*) AS n FROM travel").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = c
        .get(Some("admin"), Some("oversight"), "/api/v1/audit/verify")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    let _ = stop.send(());
    short.await.unwrap().unwrap();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_no_path_on_the_server() {
    let c = City::start().await;
    let root = c.dir.path().canonicalize().unwrap();
    for who in ["admin", "epi", "analyst"] {
        let (s, v) = sql(&c, who, "EXPLAIN SELECT * FROM travel WHERE car = '05'").await;
        assert_eq!(s, StatusCode::OK, "{who}: {v}");
        let text = v.to_string();
        assert!(text.contains("tables/travel/"), "{who}: {text}");
        for path in [root.to_string_lossy(), c.dir.path().to_string_lossy()] {
            assert!(!text.contains(path.as_ref()), "{who}: {text}");
        }
    }
    c.stop().await;
}
