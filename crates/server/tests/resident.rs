//! The resident's API (contract §10) over loopback HTTP: a one-time code through the outbox,
//! a session reaching only the resident's own data, reports validated like file rows and
//! stored through the inbox, the resident's code, the access log, and what a resident token
//! cannot reach.

mod common;

use std::time::{Duration, Instant};

use common::City;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The messages in the outbox, oldest first.
fn outbox(c: &City) -> Vec<Value> {
    let dir = c.dir.path().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Waits until the outbox holds `n` messages (the code is sent after the answer).
async fn wait_for_messages(c: &City, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let m = outbox(c);
        if m.len() >= n {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} messages, waited for {n}",
            m.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn send(
    c: &City,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}/api/v1{path}", c.base);
    let mut r = match method {
        "GET" => c.client.get(url),
        _ => c.client.post(url),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Signs `person` in with `phone` through the outbox; the resident token.
async fn sign_in(c: &City, person: &str, phone: &str) -> String {
    let before = outbox(c).len();
    let (s, v) = send(
        c,
        "POST",
        "/resident/otp",
        None,
        Some(json!({"person_id": person, "phone": phone})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let messages = wait_for_messages(c, before + 1).await;
    let code = messages.last().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = send(
        c,
        "POST",
        "/resident/session",
        None,
        Some(json!({"person_id": person, "code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_signs_in_with_a_code_and_sees_their_own_code() {
    let c = City::start().await;
    let me = c.people.returnee.to_string();
    let (s, _) = send(
        &c,
        "POST",
        "/resident/otp",
        None,
        Some(json!({"person_id": me, "phone": "+86 135 1234 5678"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let m = wait_for_messages(&c, 1).await;
    assert_eq!(m[0]["to"], "13512345678");
    let code = m[0]["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(m[0]["text"].as_str().unwrap().contains(code));

    // A wrong code is refused; the right one gives a token, once.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (s, v) = send(
        &c,
        "POST",
        "/resident/session",
        None,
        Some(json!({"person_id": me, "code": wrong})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = send(
        &c,
        "POST",
        "/resident/session",
        None,
        Some(json!({"person_id": me, "code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("fyr_"));
    assert!(v["expires"].as_str().unwrap().ends_with("+08:00"), "{v}");
    let (s, _) = send(
        &c,
        "POST",
        "/resident/session",
        None,
        Some(json!({"person_id": me, "code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a code is used once");

    // Their code: red for the arrival from Wuhan, their own id in full, no payload without an
    // issuer key.
    let (s, v) = send(
        &c,
        "GET",
        "/resident/code?as_of=2020-01-25",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["person_id"], me);
    assert_eq!(v["color"], "red");
    assert_eq!(v["reasons"][0]["rule"], "high_risk_arrival");
    assert!(v.get("payload").is_none(), "{v}");

    // Signed out, the token is dead.
    let (s, _) = send(&c, "POST", "/resident/logout", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(&c, "GET", "/resident/code", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_tells_whether_a_pair_exists_and_wrong_codes_lock() {
    let c = City::start().await;
    let me = c.people.returnee.to_string();
    let unknown = "11010519491231002X";
    // A wrong phone, an unregistered id, a right pair: the same answer, quickly; only the
    // right pair gets a message.
    for (person, phone) in [
        (me.as_str(), "13900000000"),
        (unknown, "13512345678"),
        (me.as_str(), "13512345678"),
    ] {
        let t = Instant::now();
        let (s, v) = send(
            &c,
            "POST",
            "/resident/otp",
            None,
            Some(json!({"person_id": person, "phone": phone})),
        )
        .await;
        assert_eq!(
            (s, v.clone()),
            (StatusCode::ACCEPTED, Value::String(String::new()))
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }
    let m = wait_for_messages(&c, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox(&c).len(), 1, "{m:?}");
    // A second request within a minute sends nothing more.
    send(
        &c,
        "POST",
        "/resident/otp",
        None,
        Some(json!({"person_id": me, "phone": "13512345678"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox(&c).len(), 1);

    // Malformed input is a 400 naming the field, nothing about existence.
    let (s, v) = send(
        &c,
        "POST",
        "/resident/otp",
        None,
        Some(json!({"person_id": "12345", "phone": "13512345678"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = send(
        &c,
        "POST",
        "/resident/otp",
        None,
        Some(json!({"person_id": me, "phone": "call me"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("phone"), "{v}");

    // Five wrong codes lock the id — the known one and the unknown one alike — and then even
    // the right code is refused.
    let code = m[0]["code"].as_str().unwrap().to_string();
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for person in [me.as_str(), unknown] {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let (s, _) = send(
                &c,
                "POST",
                "/resident/session",
                None,
                Some(json!({"person_id": person, "code": wrong})),
            )
            .await;
            statuses.push(s.as_u16());
        }
        assert_eq!(statuses, [401, 401, 401, 401, 429, 429], "{person}");
    }
    let (s, v) = send(
        &c,
        "POST",
        "/resident/session",
        None,
        Some(json!({"person_id": me, "code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");

    // Every attempt is in the audit log; none names the phone or the id in clear.
    let log = c
        .engine
        .ops()
        .audit_records(&ops::AuditFilter {
            action: Some("resident_sign_in".into()),
            ..ops::AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(log.len() >= 16, "{}", log.len());
    for r in &log {
        let text = format!("{:?}", r.entry);
        assert!(
            !text.contains(&me) && !text.contains("13512345678"),
            "{text}"
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_checked_like_file_rows_and_reach_the_code() {
    let c = City::start().await;
    let rail = c.people.rail.to_string();
    let token = sign_in(&c, &rail, "13712345678").await;
    for (body, field) in [
        (json!({"temperature_c": "hot"}), "temperature_c"),
        (json!({"time": "2020-01-24T08:00:00"}), "time"),
        (json!({"visited_regions": ["42010"]}), "visited_regions"),
        (json!({"person_id": c.people.case.to_string()}), "person_id"),
        (json!({"note": "x"}), "note"),
    ] {
        let (s, v) = send(
            &c,
            "POST",
            "/resident/self-reports",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains(field), "{field}: {v}");
    }
    let (s, v) = send(
        &c,
        "POST",
        "/resident/self-reports",
        Some(&token),
        Some(
            json!({"time": "2020-01-24T08:00:00+08:00", "temperature_c": 37.8,
                    "symptoms": "cough", "visited_regions": ["330302"]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["kind"], "self_reports");
    let (s, v) = send(
        &c,
        "POST",
        "/resident/registrations",
        Some(&token),
        Some(
            json!({"arrival_date": "2020-01-22", "from_region": "430100",
                    "stay_region": "330302", "stay_address": "温州市鹿城区二号"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = send(
        &c,
        "POST",
        "/resident/registrations",
        Some(&token),
        Some(json!({"arrival_date": "2020-01-22"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("from_region"), "{v}");

    // Acknowledged reports are in the inbox, sealed: the database shows no clear value.
    assert_eq!(c.engine.inbox_pending().await.unwrap(), 2);
    let db = std::fs::read(c.dir.path().join("data/ops.db")).unwrap_or_default();
    let wal = std::fs::read(c.dir.path().join("data/ops.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&rail) && !text.contains("鹿城区二号"));
    }
    let flushed = c.engine.flush_inbox().await.unwrap();
    assert_eq!((flushed.rows_accepted, flushed.rows_rejected), (2, 0));
    assert_eq!(c.engine.inbox_pending().await.unwrap(), 0);

    // The fever counts towards the resident's code, as staff see it too.
    let (s, v) = send(
        &c,
        "GET",
        "/resident/code?as_of=2020-01-25",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rules: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"fever"), "{v}");
    let (_, staff) = c
        .get(
            Some("admin"),
            Some("health_code"),
            &format!("/api/v1/persons/{rail}/code?as_of=2020-01-25"),
        )
        .await;
    // The same rules; a resident's details leave out how the case travelled, as a community
    // worker's do.
    let ids = |v: &Value| -> Vec<String> {
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule"].to_string())
            .collect()
    };
    assert_eq!(ids(&staff), ids(&v));
    assert!(!v.to_string().contains(&c.people.case.to_string()), "{v}");
    // Flushing again adds nothing; the sources are named for what they are.
    assert_eq!(c.engine.flush_inbox().await.unwrap().batches, 0);
    let manifest = std::fs::read_to_string(c.dir.path().join("data/manifest.json")).unwrap();
    assert!(manifest.contains("resident:self_reports-"), "{manifest}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_shows_staff_by_role_and_region_and_a_token_reaches_no_one_else() {
    let c = City::start().await;
    let p = &c.people;
    let me = p.returnee.to_string();
    let token = sign_in(&c, &me, "13512345678").await;
    let (s, _) = c
        .get(
            Some("epi"),
            Some("health_code"),
            &format!("/api/v1/persons/{me}/code?as_of=2020-01-25"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, log) = send(&c, "GET", "/resident/access-log", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entries = log.as_array().unwrap();
    let epi = entries
        .iter()
        .find(|e| e["who"] == "epidemiologist")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(epi["region"], "330300");
    assert_eq!(epi["action"], "person_code");
    assert_eq!(epi["purpose"], "health_code");
    // Staff are never named.
    assert!(entries.iter().all(|e| e["who"] != "epi"), "{log}");

    // The resident token against everything else: own code only.
    let own = format!("/api/v1/persons/{me}/code?as_of=2020-01-25");
    let r = c
        .client
        .get(format!("{}{own}", c.base))
        .bearer_auth(&token)
        .header("X-Purpose", "self_check")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let others = [
        (
            "GET",
            format!("/api/v1/persons/{}/code?as_of=2020-01-25", p.case),
        ),
        (
            "GET",
            format!("/api/v1/persons/{}/code?as_of=2020-01-25", p.household),
        ),
        (
            "GET",
            format!("/api/v1/cases/{}/contacts?as_of=2020-01-25", p.case),
        ),
        (
            "GET",
            format!("/api/v1/cases/{}/trail?as_of=2020-01-25", p.case),
        ),
        (
            "GET",
            "/api/v1/communities/C1/codes?as_of=2020-01-25".to_string(),
        ),
        (
            "GET",
            "/api/v1/returnees?region=420100&from=2020-01-15&to=2020-01-25".to_string(),
        ),
        ("GET", "/api/v1/alerts?as_of=2020-01-23".to_string()),
        ("GET", "/api/v1/audit?limit=5".to_string()),
        ("GET", format!("/api/v1/audit?person={}", p.case)),
        ("POST", "/api/v1/sql".to_string()),
        ("POST", format!("/api/v1/persons/{}/code/issue", p.case)),
        (
            "GET",
            "/api/v1/resume/applications/APP1?as_of=2020-02-02".to_string(),
        ),
    ];
    for (method, path) in others {
        for purpose in [
            "self_check",
            "outbreak_response",
            "health_code",
            "analysis",
            "oversight",
        ] {
            let url = format!("{}{path}", c.base);
            let r = match method {
                "GET" => c.client.get(url),
                _ => c.client.post(url).json(&json!({"sql": "SELECT 1"})),
            };
            let r = r
                .bearer_auth(&token)
                .header("X-Purpose", purpose)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap();
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
                "{method} {path} as a resident for {purpose}: {status} {body}"
            );
            for other in [p.case, p.household, p.rail, p.far] {
                assert!(!body.contains(&other.to_string()), "{path}: {body}");
            }
        }
    }
    // Staff tokens are not residents': the resident routes refuse them.
    let r = c
        .client
        .get(format!("{}/api/v1/resident/code", c.base))
        .bearer_auth(c.token("admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Every resident read and write is audited under the resident's account.
    let log = c
        .engine
        .ops()
        .audit_records(&ops::AuditFilter::default())
        .await
        .unwrap();
    let mine: Vec<_> = log
        .iter()
        .filter(|r| r.entry.role == "resident" && r.entry.action != "resident_sign_in")
        .collect();
    assert!(mine.iter().any(|r| r.entry.action == "access_log"));
    assert!(mine.iter().all(|r| r.entry.actor.starts_with("resident:")));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_disputes_a_rule_and_sees_the_outcome() {
    let c = City::start().await;
    let me = c.people.returnee.to_string();
    let token = sign_in(&c, &me, "13512345678").await;
    // A rule that does not apply is refused; the one behind the code is taken.
    let (s, v) = send(
        &c,
        "POST",
        "/resident/corrections",
        Some(&token),
        Some(json!({"rule": "fever", "reason": "no fever", "as_of": "2020-01-25"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, filed) = send(
        &c,
        "POST",
        "/resident/corrections",
        Some(&token),
        Some(
            json!({"rule": "high_risk_arrival", "reason": "I came from Wenzhou, not Wuhan",
                    "as_of": "2020-01-25"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["status"], "open");
    let id = filed["id"].as_i64().unwrap();
    // Another person's rule cannot be filed through a resident token.
    let (s, _) = send(
        &c,
        "POST",
        "/resident/corrections",
        Some(&token),
        Some(json!({"rule": "high_risk_arrival", "reason": "x", "person_id": c.people.case.to_string()})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown field");

    // Wenzhou's epidemiologist accepts it until a day.
    let (s, v) = c
        .post(
            Some("epi"),
            Some("health_code"),
            &format!("/api/v1/corrections/{id}/decision"),
            json!({"accept": true, "reason": "ticket shows Wenzhou", "until": "2020-02-04"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, mine) = send(&c, "GET", "/resident/corrections", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    let list = mine.as_array().unwrap();
    assert_eq!(list.len(), 1, "{mine}");
    assert_eq!(list[0]["status"], "accepted", "{mine}");
    // The code now sets the rule aside, saying so.
    let (_, code) = send(
        &c,
        "GET",
        "/resident/code?as_of=2020-01-25",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(code["color"], "green", "{code}");
    assert!(code.to_string().contains("override"), "{code}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_gets_one_signed_payload_until_it_is_revoked() {
    let c = City::start().await;
    let key = codesign::IssuerKey::from_seed(&c.keys.issuer_seed(1));
    let issuer = codesign::Issuer::new("330300", &key, model::Timestamp::now().secs());
    issuer.save(c.engine.data()).unwrap();
    issuer.sync_trust(c.engine.data()).unwrap();
    let me = c.people.returnee.to_string();
    let token = sign_in(&c, &me, "13512345678").await;
    let code = |token: String| {
        let c = &c;
        async move {
            let (s, v) = send(
                c,
                "GET",
                "/resident/code?as_of=2020-01-25",
                Some(&token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["payload"].as_str().unwrap().to_string()
        }
    };
    let first = code(token.clone()).await;
    assert!(first.starts_with("FY1:"), "{first}");
    // Looking again: the same payload, signed and recorded once.
    assert_eq!(code(token.clone()).await, first);
    // Revoked by staff: never handed out again.
    let (s, v) = c
        .post(
            Some("admin"),
            Some("health_code"),
            &format!("/api/v1/persons/{me}/code/revoke"),
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let again = code(token.clone()).await;
    assert_ne!(again, first);
    let (s, v) = c
        .post(
            Some("gate"),
            Some("verification"),
            "/api/v1/codes/verify",
            json!({"payload": again}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    let (_, v) = c
        .post(
            Some("gate"),
            Some("verification"),
            "/api/v1/codes/verify",
            json!({"payload": first}),
        )
        .await;
    assert_eq!(v["valid"], false, "{v}");
    c.stop().await;
}
