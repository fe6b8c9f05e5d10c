//! SQL from outside through the real server: statements past each bound answer 400 and the
//! server stays up (the finding was a ~6 KB `SELECT 1+1+…` that overflowed a worker's stack and
//! aborted the process); a query cut off by the time limit is cancelled and still audited with
//! its statement; `EXPLAIN` shows no path on the server; and random statements — deep and wide
//! expressions, nested subqueries, CTE chains, huge IN lists, long names and strings, comments,
//! several statements, writes, functions asked for huge values — never take the server down,
//! are each answered with JSON and audited once, and keep its memory near the pool's.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::City;
use fangyi_server as server;
use proptest::prelude::*;
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

/// The process's peak resident memory so far, in MiB (`VmHWM`), where the system says.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib >> 10)
}

/// A count a function may be asked to make: small, large, past `i32`, negative.
fn count() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..20).prop_map(|n| n.to_string()),
        Just("1000000".to_string()),
        Just("100000000".to_string()),
        Just("1000000000".to_string()),
        Just("2147483648".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-1".to_string()),
    ]
}

/// Text hard on a SQL lexer and on value sizes: quotes, comments, other scripts, long runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,12}",
        "[\\p{Han}\\p{Cyrillic}\\p{Emoji}]{0,6}",
        Just("'';--/*".to_string()),
        (1usize..5_000).prop_map(|n| "x".repeat(n)),
    ]
    .prop_map(|t| format!("'{}'", t.replace('\'', "''")))
}

/// An expression, nested up to `depth` levels, from operators, functions (those that make
/// large values among them), CASE, CAST, IN lists and subqueries.
fn expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        (0i64..1000).prop_map(|n| n.to_string()),
        text(),
        Just("NULL".to_string()),
        Just("mode".to_string()),
        Just("car".to_string()),
        Just("service_no".to_string()),
        "[a-z_]{1,300}",
    ]
    .boxed();
    if depth == 0 {
        return leaf.boxed();
    }
    let e = || expr(depth - 1);
    prop_oneof![
        // The leaf twice, so that it comes up about as often as the deepest two operators.
        leaf.clone(),
        leaf,
        (
            e(),
            prop::sample::select(vec!["+", "-", "*", "/", "%", "||", "=", "<", "AND", "OR"]),
            e()
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        (e(), count()).prop_map(|(a, n)| format!("repeat(CAST({a} AS VARCHAR), {n})")),
        (e(), count()).prop_map(|(a, n)| format!("lpad(CAST({a} AS VARCHAR), {n}, 'y')")),
        (count(), count()).prop_map(|(a, b)| format!("cardinality(range({a}, {b}))")),
        (count(), count()).prop_map(|(a, b)| format!("cardinality(generate_series({a}, {b}))")),
        (e(), count()).prop_map(|(a, n)| format!("cardinality(array_repeat({a}, {n}))")),
        (e(), e(), e()).prop_map(|(a, b, c)| format!(
            "replace(CAST({a} AS VARCHAR), CAST({b} AS VARCHAR), CAST({c} AS VARCHAR))"
        )),
        (e(), text())
            .prop_map(|(a, r)| format!("regexp_replace(CAST({a} AS VARCHAR), '.', {r}, 'g')")),
        prop::collection::vec(e(), 1..6).prop_map(|v| format!("concat({})", v.join(", "))),
        e().prop_map(|a| format!("length(CAST({a} AS VARCHAR))")),
        (e(), e(), e()).prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
        (e(), prop::collection::vec(0i64..100, 0..3000)).prop_map(|(a, v)| format!(
            "({a} IN ({}))",
            if v.is_empty() {
                "NULL".into()
            } else {
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            }
        )),
        e().prop_map(|a| format!("(SELECT {a})")),
        e().prop_map(|a| format!("EXISTS (SELECT 1 FROM travel WHERE {a})")),
        (e(), 1usize..3000).prop_map(|(a, n)| format!("{a}{}", "+1".repeat(n))),
        (e(), 1usize..200).prop_map(|(a, n)| format!("{}{a}{}", "(".repeat(n), ")".repeat(n))),
    ]
    .boxed()
}

/// A statement: queries of every shape, CTE chains, set operations, several statements,
/// comments, and statements that are not reads.
fn statement() -> impl Strategy<Value = String> {
    let table = prop::sample::select(vec![
        "travel",
        "persons",
        "lab_results",
        "checkins",
        "venues",
        "nothing_here",
    ]);
    let select = (
        prop::collection::vec(expr(3), 1..4),
        table.clone(),
        proptest::option::of(expr(2)),
    )
        .prop_map(|(cols, t, w)| {
            let w = w.map(|w| format!(" WHERE {w}")).unwrap_or_default();
            format!("SELECT {} FROM {t}{w}", cols.join(", "))
        });
    prop_oneof![
        select.clone(),
        select.clone(),
        (select.clone(), 1usize..60).prop_map(|(s, n)| {
            let mut q = format!("WITH c0 AS ({s})");
            for i in 1..n {
                q.push_str(&format!(
                    ", c{i} AS (SELECT * FROM c{} UNION ALL SELECT * FROM c{})",
                    i - 1,
                    i - 1
                ));
            }
            q.push_str(&format!(" SELECT count(*) FROM c{}", n - 1));
            q
        }),
        (text(), 1usize..40).prop_map(|(t, n)| {
            let mut q = format!("WITH a0 AS (SELECT {t} AS s)");
            for i in 1..n {
                q.push_str(&format!(", a{i} AS (SELECT s || s AS s FROM a{})", i - 1));
            }
            q.push_str(&format!(" SELECT length(s) FROM a{}", n - 1));
            q
        }),
        (select.clone(), 1usize..20).prop_map(|(s, n)| {
            let mut q = s;
            for _ in 0..n {
                q = format!("SELECT * FROM ({q}) AS t");
            }
            q
        }),
        (select.clone(), select.clone()).prop_map(|(a, b)| format!("{a} UNION ALL {b}")),
        (select.clone(), select.clone()).prop_map(|(a, b)| format!("{a}; {b}")),
        select.clone().prop_map(|s| format!("/* {s} */ {s} -- {s}")),
        select.prop_map(|s| format!("EXPLAIN {s}")),
        prop::sample::select(vec![
            "CREATE TABLE t AS SELECT 1",
            "INSERT INTO persons SELECT * FROM persons",
            "DELETE FROM travel",
            "DROP TABLE travel",
            "COPY (SELECT 1) TO 'out.csv'",
            "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'",
            "SET datafusion.execution.target_partitions = 1000",
            "SELECT * FROM '/etc/passwd'",
            "SELECT pseudonym('330302198005010113')",
            "",
            ";",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,200}",
    ]
}

#[test]
fn random_statements_never_break_the_server_and_each_is_audited() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(City::start());
    let head = || rt.block_on(c.engine.ops().audit_head()).unwrap().0;
    let send = |who: &'static str, statement: &str| {
        let before = head();
        let (s, v) = rt.block_on(sql(&c, who, statement));
        let shown = statement.chars().take(300).collect::<String>();
        assert!(
            [200, 400, 403, 413, 503].contains(&s.as_u16()),
            "{who} {shown}: {s} {v}"
        );
        assert!(v.is_object(), "{who} {shown}: {s} {v}");
        if s != StatusCode::OK {
            assert!(v["error"].is_string(), "{who} {shown}: {v}");
        }
        // One entry per statement, written before the answer (a 503 cut off by the time
        // limit is written by the request's own task once cancelled: wait for it).
        let mut tries = 0;
        while s == StatusCode::SERVICE_UNAVAILABLE && head() == before && tries < 600 {
            rt.block_on(tokio::time::sleep(Duration::from_millis(50)));
            tries += 1;
        }
        assert_eq!(head(), before + 1, "{who} {shown}: {s} {v}");
        let (h, _) = rt.block_on(c.get(None, None, "/healthz"));
        assert_eq!(h, StatusCode::OK, "after {who} {shown}");
        (s, v)
    };
    // The tables are built and the threads started before memory is measured.
    let (s, v) = send("analyst", "SELECT count(*) AS n FROM persons");
    assert_eq!(s, StatusCode::OK, "{v}");
    let start = peak_rss_mib();
    // Each of these once made one value of gigabytes outside the memory pool.
    for huge in [
        "SELECT length(repeat('x', 1000000000))",
        "SELECT cardinality(range(1, 500000000))",
        "SELECT length(lpad('x', 2000000000, 'y'))",
        "SELECT cardinality(array_repeat(1, 500000000))",
        "SELECT length(replace(repeat('a', 1000000), 'a', repeat('b', 1000)))",
    ] {
        let (s, v) = send("analyst", huge);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{huge}: {v}");
        assert!(v["error"].as_str().unwrap().contains("MiB"), "{huge}: {v}");
    }
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let who = prop::sample::select(vec!["analyst", "epi", "admin", "gate"]);
    runner
        .run(&(who, statement()), |(who, statement)| {
            let (s, _) = send(who, &statement);
            if who == "gate" {
                prop_assert_eq!(s, StatusCode::FORBIDDEN);
            }
            Ok(())
        })
        .unwrap();
    // Nothing held on: the same query answers as before, and memory stayed near the pool's
    // size (1 GiB), not the gigabytes a single unbounded value took.
    let (s, v) = send("analyst", "SELECT count(*) AS n FROM persons");
    assert_eq!(s, StatusCode::OK, "{v}");
    if let (Some(start), Some(end)) = (start, peak_rss_mib()) {
        assert!(
            end < start + 1536,
            "peak memory grew from {start} to {end} MiB"
        );
    }
    rt.block_on(c.stop());
}
