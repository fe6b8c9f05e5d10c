//! The API end to end over loopback HTTP: every role against every endpoint (the access
//! matrix), region and community scoping, masking per role, tokens, audit entries and their
//! chain, errors as JSON, concurrent uploads, and graceful shutdown.

mod common;

use common::City;
use fangyi_server as server;
use reqwest::StatusCode;
use serde_json::{Value, json};

const OK: StatusCode = StatusCode::OK;
const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;

/// One endpoint as the matrix calls it.
struct Call {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Value,
}

fn calls(c: &City) -> Vec<Call> {
    let p = &c.people;
    let get = |name, path: String| Call {
        name,
        method: "GET",
        path,
        body: Value::Null,
    };
    vec![
        get(
            "person_code",
            format!("/api/v1/persons/{}/code?as_of=2020-01-25", p.case),
        ),
        get(
            "trace",
            format!("/api/v1/cases/{}/contacts?as_of=2020-01-25", p.case),
        ),
        get(
            "case_trail",
            format!("/api/v1/cases/{}/trail?as_of=2020-01-25", p.case),
        ),
        get(
            "community_codes",
            "/api/v1/communities/C1/codes?as_of=2020-01-25".into(),
        ),
        get(
            "returnees",
            "/api/v1/returnees?region=420100&from=2020-01-15&to=2020-01-25".into(),
        ),
        get(
            "returnees_summary",
            "/api/v1/returnees?region=420100&from=2020-01-15&to=2020-01-25&summary=true".into(),
        ),
        get(
            "inflow",
            "/api/v1/inflow?as_of=2020-01-25&level=community".into(),
        ),
        get("alerts", "/api/v1/alerts?as_of=2020-01-23".into()),
        Call {
            name: "sql",
            method: "POST",
            path: "/api/v1/sql".into(),
            body: json!({"sql": "SELECT count(*) AS n FROM travel"}),
        },
        get("audit_read", "/api/v1/audit?limit=5".into()),
        Call {
            name: "verify_code",
            method: "POST",
            path: "/api/v1/codes/verify".into(),
            body: json!({"payload": "FY1:NOTACODE"}),
        },
        get(
            "resume_decide",
            "/api/v1/resume/applications/APP1?as_of=2020-02-02".into(),
        ),
        get("resume_plan", "/api/v1/resume/plan".into()),
        // Both power routes are one action (an aggregate of enterprises, no persons).
        get(
            "resume_index",
            "/api/v1/resume/index?from=2020-01-20&to=2020-01-25".into(),
        ),
        get(
            "resume_index",
            "/api/v1/resume/forecast?as_of=2020-01-25".into(),
        ),
        Call {
            name: "resume_match",
            method: "POST",
            path: "/api/v1/resume/match".into(),
            body: json!({"date": "2020-02-03"}),
        },
        Call {
            name: "resume_consent",
            method: "POST",
            path: "/api/v1/resume/consents".into(),
            body: json!({"person_id": p.returnee.to_string(), "enterprise_id": common::OTHER_ENT}),
        },
        Call {
            name: "resume_consent",
            method: "POST",
            path: "/api/v1/resume/consents/withdraw".into(),
            body: json!({"person_id": p.returnee.to_string(), "enterprise_id": common::OTHER_ENT}),
        },
        get("market", "/api/v1/market/leads".into()),
        // No lead exists: the admin is told so, a scoped account refused alike either way.
        Call {
            name: "update_lead",
            method: "POST",
            path: "/api/v1/market/leads/1/status".into(),
            body: json!({"status": "assigned"}),
        },
    ]
}

/// The purpose each role names for an action in the matrix: the first its role allows, or one
/// that fits the action when the role allows none (to show the role, not the purpose, refuses).
fn purpose_for(role: privacy::Role, action: privacy::Action) -> &'static str {
    privacy::purposes(role, action).first().map_or(
        match action {
            privacy::Action::Sql
            | privacy::Action::ReturneesSummary
            | privacy::Action::Inflow
            | privacy::Action::ResumeIndex => "analysis",
            privacy::Action::AuditRead => "oversight",
            privacy::Action::VerifyCode => "verification",
            privacy::Action::ResumeDecide
            | privacy::Action::ResumeMatch
            | privacy::Action::ResumeConsent => "work_resumption",
            privacy::Action::Market | privacy::Action::UpdateLead => "market_supervision",
            _ => "outbreak_response",
        },
        |p| p.as_str(),
    )
}

/// Who may do what (account name → the calls answered 200), with everything else 403.
fn expected(account: &str, call: &str) -> StatusCode {
    // Hubei's epidemiologist may decide, but APP1's employees live in Wenzhou: none to show.
    if (account, call) == ("epi_hubei", "resume_decide") {
        return StatusCode::NOT_FOUND;
    }
    if (account, call) == ("admin", "update_lead") {
        return StatusCode::NOT_FOUND;
    }
    let allowed: &[&str] = match account {
        "admin" => &[
            "person_code",
            "trace",
            "case_trail",
            "community_codes",
            "returnees",
            "returnees_summary",
            "inflow",
            "alerts",
            "sql",
            "audit_read",
            "verify_code",
            "resume_decide",
            "resume_plan",
            "resume_index",
            "resume_match",
            "resume_consent",
            "market",
        ],
        // Within Wenzhou: the case and community C1 are theirs.
        "epi" => &[
            "person_code",
            "trace",
            "case_trail",
            "community_codes",
            "returnees",
            "returnees_summary",
            "inflow",
            "alerts",
            "sql",
            "verify_code",
            "resume_decide",
            "resume_plan",
            "resume_index",
        ],
        // Hubei's epidemiologist: the list calls answer (empty), the Wenzhou people do not.
        "epi_hubei" => &[
            "returnees",
            "returnees_summary",
            "inflow",
            "alerts",
            "sql",
            "verify_code",
            "resume_plan",
            "resume_index",
        ],
        "cw" => &[
            "person_code",
            "case_trail",
            "community_codes",
            "returnees",
            "returnees_summary",
            "inflow",
            "alerts",
            "verify_code",
        ],
        // C2's worker: not the case (C1), not C1's list.
        "cw2" => &[
            "returnees",
            "returnees_summary",
            "inflow",
            "alerts",
            "verify_code",
        ],
        "analyst" => &[
            "returnees_summary",
            "inflow",
            "sql",
            "resume_plan",
            "resume_index",
        ],
        "gate" => &["verify_code"],
        // Its own application and openings, nothing else.
        "ent" => &["resume_decide", "resume_match"],
        // The market's leads (none in this city) and nothing else.
        "market" | "market_hb" => &["market"],
        _ => &[],
    };
    if allowed.contains(&call) {
        OK
    } else {
        FORBIDDEN
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_endpoint() {
    let c = City::start().await;
    let mut failures = Vec::new();
    for (account, role, _, _) in common::ACCOUNTS {
        let role = privacy::Role::parse(role).unwrap();
        for call in calls(&c) {
            let action = privacy::Action::parse(call.name).unwrap();
            let purpose = purpose_for(role, action);
            let before = c.engine.ops().audit_head().await.unwrap().0;
            let (status, body) = match call.method {
                "GET" => c.get(Some(account), Some(purpose), &call.path).await,
                _ => {
                    c.post(Some(account), Some(purpose), &call.path, call.body.clone())
                        .await
                }
            };
            let want = expected(account, call.name);
            if status != want {
                failures.push(format!(
                    "{account} {} {} (purpose {purpose}): {status}, expected {want}: {body}",
                    call.method, call.path
                ));
            }
            if status != OK {
                assert!(body["error"].is_string(), "{account} {}: {body}", call.path);
            }
            // Exactly one audit entry either way, of this account, role, purpose and action,
            // written before the answer.
            let filter = ops::AuditFilter {
                after_seq: Some(before),
                ..ops::AuditFilter::default()
            };
            let new = c.engine.ops().audit_records(&filter).await.unwrap();
            let outcome_fits = |o: &str| {
                if status == OK {
                    o.starts_with("ok")
                } else if status == FORBIDDEN {
                    o.starts_with("denied: ")
                } else {
                    !o.starts_with("ok")
                }
            };
            match &new[..] {
                [r] if r.entry.actor == *account
                    && r.entry.role == role.as_str()
                    && r.entry.purpose == purpose
                    && r.entry.action == call.name
                    && outcome_fits(&r.entry.outcome) => {}
                _ => failures.push(format!(
                    "{account} {} {} (purpose {purpose}): audit entries {:?}",
                    call.method,
                    call.path,
                    new.iter().map(|r| &r.entry).collect::<Vec<_>>()
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "access matrix:\n{}",
        failures.join("\n")
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_are_masked_by_role_and_scope() {
    let c = City::start().await;
    let p = &c.people;
    let trace = format!("/api/v1/cases/{}/contacts?as_of=2020-01-25", p.case);

    // Wenzhou's epidemiologist: Wenzhou residents in clear, the Wuhan resident masked.
    let (s, v) = c.get(Some("epi"), Some("outbreak_response"), &trace).await;
    assert_eq!(s, OK, "{v}");
    let ids: Vec<&str> = v["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["person_id"].as_str().unwrap())
        .collect();
    let (rail, far, household) = (
        p.rail.to_string(),
        p.far.to_string(),
        p.household.to_string(),
    );
    assert!(ids.contains(&rail.as_str()), "{ids:?}");
    assert!(ids.contains(&household.as_str()), "{ids:?}");
    assert!(
        ids.contains(&privacy::mask_person_id(p.far).as_str()),
        "{ids:?}"
    );
    assert!(
        !v.to_string().contains(&far),
        "the Wuhan resident's id leaked: {v}"
    );
    assert_eq!(v["case"]["person_id"], p.case.to_string());

    // The admin sees everyone in clear.
    let (_, v) = c
        .get(Some("admin"), Some("outbreak_response"), &trace)
        .await;
    assert!(v.to_string().contains(&far));

    // Hubei's epidemiologist may not trace a Wenzhou case.
    let (s, v) = c
        .get(Some("epi_hubei"), Some("outbreak_response"), &trace)
        .await;
    assert_eq!(s, FORBIDDEN, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("outside your region 420000"),
        "{v}"
    );

    // The community worker of C1: names and phones in clear, ids masked, no travel detail in
    // reasons.
    let (s, v) = c
        .get(
            Some("cw"),
            Some("community_service"),
            "/api/v1/communities/C1/codes?as_of=2020-01-25",
        )
        .await;
    assert_eq!(s, OK, "{v}");
    let residents = v["residents"].as_array().unwrap();
    assert_eq!(residents.len(), 3, "{v}");
    let case = residents
        .iter()
        .find(|r| r["person_id"] == privacy::mask_person_id(p.case))
        .expect("the case, masked");
    assert_eq!(case["name"], "张三");
    assert_eq!(case["phone"], "13812345678");
    assert_eq!(case["disclosure"], "contact");
    assert_eq!(case["color"], "red");
    assert!(!v.to_string().contains(&p.case.to_string()));
    let (s, v) = c
        .get(
            Some("cw"),
            Some("health_code"),
            &format!("/api/v1/persons/{}/code?as_of=2020-01-25", p.household),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["person_id"], privacy::mask_person_id(p.household));
    let detail = v["reasons"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("close contact of a case, quarantine until"),
        "{detail}"
    );
    // The epidemiologist sees which case and what they shared.
    let (_, v) = c
        .get(
            Some("epi"),
            Some("health_code"),
            &format!("/api/v1/persons/{}/code?as_of=2020-01-25", p.household),
        )
        .await;
    let detail = v["reasons"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&privacy::mask_person_id(p.case)) && detail.contains("household"),
        "{detail}"
    );

    // Returnees: the worker sees who stays in C1 with name and phone, not how they came.
    let (s, v) = c
        .get(
            Some("cw"),
            Some("community_service"),
            "/api/v1/returnees?region=420100&from=2020-01-15&to=2020-01-25",
        )
        .await;
    assert_eq!(s, OK, "{v}");
    let list = v.as_array().unwrap();
    let r = list
        .iter()
        .find(|r| r["person_id"] == privacy::mask_person_id(p.returnee))
        .unwrap_or_else(|| panic!("the returnee staying in C1: {v}"));
    assert_eq!(r["name"], "钱七");
    assert!(r.get("kinds").is_none(), "{r}");
    assert!(
        list.iter().all(|r| r["stay_community"] == "C1"),
        "only people staying in C1: {v}"
    );
    // C2's worker does not see C1's returnee.
    let (_, v) = c
        .get(
            Some("cw2"),
            Some("community_service"),
            "/api/v1/returnees?region=420100&from=2020-01-15&to=2020-01-25",
        )
        .await;
    assert!(!v.to_string().contains("钱七"), "{v}");

    // The analyst: counts, and SQL without pseudonym().
    let (s, v) = c
        .post(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/sql",
            json!({"sql": format!("SELECT * FROM travel WHERE person_id = pseudonym('{}')", p.case)}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("pseudonym"), "{v}");
    let (s, v) = c
        .post(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/sql",
            json!({"sql": "SELECT mode, count(*) AS n FROM travel GROUP BY mode"}),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["rows"], json!([{"mode": "rail", "n": 4}]));
    let (_, v) = c
        .post(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/sql",
            json!({"sql": "SELECT * FROM persons"}),
        )
        .await;
    for name in ["张三", "13812345678", &p.case.to_string()] {
        assert!(!v.to_string().contains(name), "{name} in {v}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_purposes_and_errors() {
    let c = City::start().await;
    let code = format!("/api/v1/persons/{}/code", c.people.case);
    // No token, a bad token, a token in the wrong scheme.
    assert_eq!(
        c.get(None, Some("health_code"), &code).await.0,
        StatusCode::UNAUTHORIZED
    );
    let resp = c
        .client
        .get(format!("{}{code}", c.base))
        .header("Authorization", "Bearer fyt_0000")
        .header("X-Purpose", "health_code")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let resp = c
        .client
        .get(format!("{}{code}", c.base))
        .header("Authorization", format!("Basic {}", c.token("admin")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // No purpose, an unknown one, one the role does not have for this action.
    let (s, v) = c.get(Some("epi"), None, &code).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("X-Purpose"), "{v}");
    assert_eq!(
        c.get(Some("epi"), Some("curiosity"), &code).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, v) = c.get(Some("epi"), Some("analysis"), &code).await;
    assert_eq!(s, FORBIDDEN);
    assert!(
        v["error"].as_str().unwrap().contains("purpose analysis"),
        "{v}"
    );
    // The purpose may also come as a parameter, URL-decoded like any other (regression: an
    // encoded `_` was refused).
    for purpose in ["health_code", "health%5Fcode", "%68ealth_code"] {
        let (s, v) = c
            .get(Some("epi"), None, &format!("{code}?purpose={purpose}"))
            .await;
        assert_eq!(s, OK, "{purpose}: {v}");
    }
    // Bad input: JSON errors, never a panic.
    for path in [
        "/api/v1/persons/123/code",
        "/api/v1/persons/420106199001010016/code",
        "/api/v1/persons/%E5%BC%A0/code",
    ] {
        let (s, v) = c.get(Some("epi"), Some("health_code"), path).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v["error"].is_string());
    }
    let (s, v) = c
        .get(
            Some("epi"),
            Some("health_code"),
            &format!("{code}?as_of=yesterday"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = c
        .get(
            Some("epi"),
            Some("outbreak_response"),
            &format!("/api/v1/cases/{}/contacts", c.people.rail),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not a case: {v}");
    let (s, v) = c
        .get(Some("epi"), Some("health_code"), "/api/v1/nothing")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());
    let resp = c
        .client
        .post(format!("{}/api/v1/sql", c.base))
        .bearer_auth(c.token("analyst"))
        .header("X-Purpose", "analysis")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (s, _) = c
        .post(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/sql",
            json!({"sql": "DROP TABLE travel"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "read-only");
    // A body over the limit.
    let big = "x".repeat(2 << 20);
    let resp = c
        .client
        .post(format!("{}/api/v1/sql", c.base))
        .bearer_auth(c.token("analyst"))
        .header("X-Purpose", "analysis")
        .json(&json!({"sql": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Regression: the client reused this connection after it and lost the next request.
    assert_eq!(resp.headers()["connection"], "close");

    // Revoking a token shuts it out at once.
    let id = ops::token_hash(c.token("epi"))[..12].to_string();
    assert!(
        c.engine
            .ops()
            .revoke_token(&id, model::Timestamp::now().secs())
            .await
            .unwrap()
    );
    assert_eq!(
        c.get(Some("epi"), Some("health_code"), &code).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A password login gives a session token.
    c.engine
        .ops()
        .set_password("cw", "a long enough passphrase")
        .await
        .unwrap();
    let (s, v) = c
        .post(
            None,
            None,
            "/api/v1/login",
            json!({"name": "cw", "password": "wrong passphrase!!"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = c
        .post(
            None,
            None,
            "/api/v1/login",
            json!({"name": "cw", "password": "a long enough passphrase"}),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["account"]["community"], "C1");
    let session = v["token"].as_str().unwrap();
    let resp = c
        .client
        .get(format!("{}/api/v1/me", c.base))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["role"], "community_worker");
    assert_eq!(
        me["purposes"]["community_codes"],
        json!(["community_service"])
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_access_is_audited_and_the_chain_holds() {
    let c = City::start().await;
    let p = &c.people;
    let before = c.engine.ops().audit_head().await.unwrap().0;
    let (s, _) = c
        .get(
            Some("epi"),
            Some("outbreak_response"),
            &format!("/api/v1/cases/{}/contacts?as_of=2020-01-25", p.case),
        )
        .await;
    assert_eq!(s, OK);
    let (s, _) = c
        .get(
            Some("gate"),
            Some("health_code"),
            &format!("/api/v1/persons/{}/code", p.case),
        )
        .await;
    assert_eq!(s, FORBIDDEN);
    let after = c.engine.ops().audit_head().await.unwrap().0;
    assert_eq!(
        after,
        before + 2,
        "one entry per access, denied ones included"
    );

    // "Who looked at my data?" — the contact asks about themselves.
    let (s, v) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?person={}", p.rail),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    let entries = v.as_array().unwrap();
    let trace = entries
        .iter()
        .find(|e| e["action"] == "trace")
        .unwrap_or_else(|| panic!("the trace that showed them: {v}"));
    assert_eq!(trace["actor"], "epi");
    assert_eq!(trace["purpose"], "outbreak_response");
    assert_eq!(trace["outcome"], "ok");
    assert!(
        trace["query"]
            .as_str()
            .unwrap()
            .contains(&privacy::mask_person_id(p.case)),
        "{trace}"
    );
    assert!(
        !v.to_string().contains(&p.case.to_string()),
        "no id in the log: {v}"
    );
    let denied = c
        .get(Some("admin"), Some("oversight"), "/api/v1/audit?actor=gate")
        .await
        .1;
    assert!(
        denied[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("denied:"),
        "{denied}"
    );

    // The chain verifies, and the check finds an edited entry.
    let (s, v) = c
        .get(Some("admin"), Some("oversight"), "/api/v1/audit/verify")
        .await;
    assert_eq!(s, OK);
    assert_eq!(v["valid"], true, "{v}");
    let report = c
        .engine
        .ops()
        .verify_audit(&c.keys.audit_key())
        .await
        .unwrap();
    assert_eq!(report.broken, None);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_validate_and_run_concurrently() {
    let c = City::start().await;
    // Rejects come back with line, column and reason, and never quote the value.
    let bad = "person_id,venue_id,time_in,time_out\n\
               420106199001010016,V1,2020-01-20T10:00:00+08:00,\n\
               ,V1,2020-01-20T10:00:00+08:00,\n"
        .to_string();
    let (s, v) = c
        .upload("admin", "checkins", bad.into_bytes(), "text/csv")
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["rows_rejected"], 2, "{v}");
    // Regression: `rejects` was the file's path on the server.
    let rejects = v["rejects"].as_str().unwrap();
    assert!(
        rejects.starts_with("rejects/") && rejects.ends_with(".csv"),
        "{v}"
    );
    let root = c.dir.path().to_string_lossy().to_string();
    assert!(!v.to_string().contains(&root), "a server path: {v}");
    assert_eq!(v["rejected"][0]["line"], 2);
    assert_eq!(v["rejected"][0]["column"], "person_id");
    assert!(!v.to_string().contains("420106199001010016"), "{v}");
    // The same file again adds nothing.
    let venues =
        "venue_id,name,kind,region,community_id,lat,lon\nV1,Market,market,330302,C1,28.0,120.6\n";
    let (_, first) = c
        .upload("admin", "venues", venues.as_bytes().to_vec(), "text/csv")
        .await;
    assert_eq!(first["rows_accepted"], 1);
    let (_, again) = c
        .upload("admin", "venues", venues.as_bytes().to_vec(), "text/csv")
        .await;
    assert_eq!(
        (again["rows_accepted"].clone(), again["duplicate"].clone()),
        (json!(0), json!(true))
    );
    // Unknown kind, wrong role.
    assert_eq!(
        c.upload("admin", "tickets", b"x".to_vec(), "text/csv")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.upload("epi", "venues", b"x".to_vec(), "text/csv").await.0,
        FORBIDDEN
    );

    // Eight uploads at once: all land, none lost.
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let (client, base, token) = (
            c.client.clone(),
            c.base.clone(),
            c.token("admin").to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let body = format!(
                "venue_id,name,kind,region,community_id,lat,lon\nW{i},Shop {i},supermarket,330302,C2,28.0,120.6\nX{i},Clinic {i},pharmacy,330302,C2,28.0,120.6\n"
            );
            let r = client
                .post(format!("{base}/api/v1/ingest/venues?name=shops-{i}"))
                .bearer_auth(token)
                .header("X-Purpose", "data_management")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, OK, "{v}");
        assert_eq!(v["rows_accepted"], 2, "{v}");
    }
    let (_, v) = c
        .post(
            Some("admin"),
            Some("analysis"),
            "/api/v1/sql",
            json!({"sql": "SELECT count(*) AS n FROM venues"}),
        )
        .await;
    assert_eq!(v["rows"], json!([{"n": 17}]));
    // Nothing raw was left in the spool.
    let spool = c.dir.path().join("spool");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_codes_public_check_and_documents() {
    let c = City::start().await;
    let p = &c.people;
    // No issuer key yet: 503 with a hint.
    let issue = format!("/api/v1/persons/{}/code/issue?as_of=2020-01-25", p.case);
    let (s, v) = c
        .post(Some("epi"), Some("health_code"), &issue, Value::Null)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let key = codesign::IssuerKey::from_seed(&c.keys.issuer_seed(1));
    let issuer = codesign::Issuer::new("330300", &key, model::Timestamp::now().secs());
    issuer.save(c.engine.data()).unwrap();
    issuer.sync_trust(c.engine.data()).unwrap();
    let (s, v) = c
        .post(Some("epi"), Some("health_code"), &issue, Value::Null)
        .await;
    assert_eq!(s, OK, "{v}");
    let payload = v["payload"].as_str().unwrap().to_string();
    assert!(payload.starts_with("FY1:"));
    assert_eq!(v["claims"]["color"], "red");
    // A checkpoint verifies it; fields in the contract's order.
    let resp = c
        .client
        .post(format!("{}/api/v1/codes/verify", c.base))
        .bearer_auth(c.token("gate"))
        .header("X-Purpose", "verification")
        .json(&json!({ "payload": payload }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with("{\"valid\":true,\"kind\":\"fangyi\",\"checks\""),
        "{text}"
    );
    // Revoked: the same payload fails (after the verifier's short cache).
    let (s, v) = c
        .post(
            Some("epi"),
            Some("health_code"),
            &format!("/api/v1/persons/{}/code/revoke", p.case),
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["revoked"].as_array().unwrap().len(), 1);
    let (_, v) = c
        .post(
            Some("gate"),
            Some("verification"),
            "/api/v1/codes/verify",
            json!({ "payload": payload }),
        )
        .await;
    assert_eq!(v["valid"], false);
    assert!(v["reason"].as_str().unwrap().starts_with("revoked"), "{v}");
    // The QR as PNG.
    let resp = c
        .client
        .post(format!("{}{issue}&format=png", c.base))
        .bearer_auth(c.token("epi"))
        .header("X-Purpose", "health_code")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "image/png");
    let png = resp.bytes().await.unwrap();
    assert!(codesign::qr::from_png(&png).unwrap().starts_with("FY1:"));

    // The public self-check: counts only, no token needed.
    let (s, v) = c
        .get(
            None,
            None,
            "/api/v1/cotravel?mode=rail&service=G1234&date=2020-01-20&car=5&as_of=2020-01-25",
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(
        (v["cases"].clone(), v["infectious"].clone()),
        (json!(1), json!(1))
    );
    assert!(!v.to_string().contains(&p.case.to_string()));
    let (s, _) = c
        .get(
            None,
            None,
            "/api/v1/cotravel?mode=bus&service=1&date=2020-01-20",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Health, metrics, OpenAPI, docs.
    let (s, v) = c.get(None, None, "/healthz").await;
    assert_eq!((s, v["status"].clone()), (OK, json!("ok")));
    let metrics = c
        .client
        .get(format!("{}/metrics", c.base))
        .bearer_auth(c.token("admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fangyi_http_requests_total{route=\"/api/v1/cotravel\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains(&p.case.to_string()));
    let (s, doc) = c.get(None, None, "/api/openapi.json").await;
    assert_eq!(s, OK);
    for path in [
        "/persons/{id}/code",
        "/cases/{id}/contacts",
        "/ingest/{kind}",
        "/codes/verify",
        "/cotravel",
        "/audit",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["Purpose"]["enum"].is_array());
    let docs = c
        .client
        .get(format!("{}/api/docs", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("openapi.json"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_check_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine::Engine::open(
        engine::EngineOptions::new(dir.path().join("data")),
        common::test_keys(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = server::ServeOptions {
        public_rate: 0.1,
        public_burst: 3,
        spool: Some(dir.path().join("spool")),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(server::serve(engine, opts, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client
            .get(format!(
                "{base}/api/v1/cotravel?mode=rail&service=G1&date=2020-01-20"
            ))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflow_counts_arrivals_within_each_scope() {
    let c = City::start().await;
    let url = |level: &str| format!("/api/v1/inflow?as_of=2020-01-21&days=2&level={level}");
    // Three came from Wuhan (high risk) on the 20th; the returnee came by rail and registered
    // on the 21st: one person, two kinds.
    let (s, v) = c
        .get(Some("analyst"), Some("analysis"), &url("prefecture"))
        .await;
    assert_eq!(s, OK, "{v}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(
        (
            &rows[0]["region"],
            &rows[0]["date"],
            &rows[0]["arrivals"],
            &rows[0]["from_high_risk"]
        ),
        (&json!("330300"), &json!("2020-01-20"), &json!(3), &json!(3))
    );
    assert_eq!(rows[0]["name"], "温州市");
    assert_eq!(
        rows[0]["top_origins"][0],
        json!({"region": "420100", "name": "武汉市", "persons": 3, "share": 1.0})
    );
    assert_eq!(rows[1]["arrivals"], 1);
    assert_eq!(rows[1]["by_kind"]["rail"], 1);
    assert_eq!(rows[1]["by_kind"]["registration"], 1);
    assert_eq!(rows[1]["by_origin_risk"]["high"], 1);

    // C1's worker sees only C1, at the community level, attributed by where people stay.
    let (s, v) = c
        .get(Some("cw"), Some("community_service"), &url("community"))
        .await;
    assert_eq!(s, OK, "{v}");
    let seen: Vec<(String, String, String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap().to_string(),
                r["community"].as_str().unwrap().to_string(),
                r["date"].as_str().unwrap().to_string(),
                r["arrivals"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |d: &str| ("330302".to_string(), "C1".to_string(), d.to_string(), 1);
    assert_eq!(seen, [row("2020-01-20"), row("2020-01-21")]);
    let (s, v) = c
        .get(Some("cw"), Some("community_service"), &url("prefecture"))
        .await;
    assert_eq!(s, FORBIDDEN, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("level=community"),
        "{v}"
    );
    // Hubei's epidemiologist sees no Wenzhou rows.
    let (s, v) = c
        .get(Some("epi_hubei"), Some("analysis"), &url("county"))
        .await;
    assert_eq!((s, v), (OK, json!([])));
    let (s, v) = c
        .get(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/inflow?level=city",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_scoped_and_their_status_changes_audited() {
    let c = City::start().await;
    let p = &c.people;
    let url = "/api/v1/alerts?as_of=2020-01-23";
    let summary = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {}/{} {}",
                    a["rule"].as_str().unwrap(),
                    a["region"].as_str().unwrap(),
                    a["community"].as_str().unwrap_or("-"),
                    a["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    // The case (reported the 23rd) stays in C1; three came from Wuhan on the 20th without
    // registering (the returnee registered on the 21st).
    let (s, v) = c.get(Some("admin"), Some("community_service"), url).await;
    assert_eq!(s, OK, "{v}");
    let mut all = summary(&v);
    all.sort();
    assert_eq!(
        all,
        [
            "case_trail 330302/C1 open",
            "unregistered_returnee 330302/C1 open",
            "unregistered_returnee 330302/C2 open",
            "unregistered_returnee 420106/- open",
        ]
    );
    // The admin sees how each returnee came.
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "unregistered_returnee")
            .all(|a| a["travel"] == "rail"),
        "{v}"
    );

    // C1's worker sees C1's two, with the person in clear (name and phone to visit).
    let (s, v) = c.get(Some("cw"), Some("community_service"), url).await;
    assert_eq!(s, OK, "{v}");
    let mine = v.as_array().unwrap();
    assert_eq!(mine.len(), 2, "{v}");
    let returnee = mine
        .iter()
        .find(|a| a["rule"] == "unregistered_returnee")
        .unwrap();
    assert_eq!(returnee["persons"][0]["name"], "张三");
    assert_eq!(returnee["task"], "register");
    // Not how the returnee came (regression: "… by rail" was in the text).
    assert!(returnee.get("travel").is_none(), "{returnee}");
    assert!(!returnee.to_string().contains("rail"), "{returnee}");
    let trail = mine.iter().find(|a| a["rule"] == "case_trail").unwrap();
    assert!(trail["persons"].as_array().unwrap().is_empty(), "{trail}");
    assert!(
        !trail.to_string().contains(&p.case.to_string()),
        "a trail alert names no one: {trail}"
    );
    let id = returnee["id"].as_str().unwrap().to_string();

    // C2's worker may neither see nor change it.
    let (_, v2) = c.get(Some("cw2"), Some("community_service"), url).await;
    assert_eq!(summary(&v2), ["unregistered_returnee 330302/C2 open"]);
    let change = format!("/api/v1/alerts/{id}/status");
    let (s, v) = c
        .post(
            Some("cw2"),
            Some("community_service"),
            &change,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(s, FORBIDDEN, "{v}");

    // C1's worker acknowledges, then closes it; the list shows the new status.
    for (status, note) in [("acknowledged", "calling"), ("done", "registered at home")] {
        let (s, v) = c
            .post(
                Some("cw"),
                Some("community_service"),
                &change,
                json!({"status": status, "note": note}),
            )
            .await;
        assert_eq!(s, OK, "{v}");
        assert_eq!(v["to"], status);
    }
    let (_, v) = c
        .get(
            Some("cw"),
            Some("community_service"),
            &format!("{url}&status=done"),
        )
        .await;
    let done = v.as_array().unwrap();
    assert_eq!(done.len(), 1, "{v}");
    assert_eq!(done[0]["note"], "registered at home");
    assert_eq!(done[0]["updated_by"], "cw");
    // An alert that does not exist and one outside the scope look the same to a scoped
    // account (regression: 404 and 403 told which alert ids exist elsewhere); an admin is
    // told it does not exist.
    let unknown = "/api/v1/alerts/0000000000000000/status";
    let (s, v) = c
        .post(
            Some("cw2"),
            Some("community_service"),
            unknown,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(s, FORBIDDEN, "{v}");
    let (s, v) = c
        .post(
            Some("admin"),
            Some("community_service"),
            unknown,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _) = c
        .post(
            Some("cw"),
            Some("community_service"),
            &change,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Every change is in the audit log, the refused one too.
    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            "/api/v1/audit?action=update_alert&limit=20",
        )
        .await;
    let outcomes: Vec<&str> = log["entries"]
        .as_array()
        .unwrap_or_else(|| log.as_array().unwrap())
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"ok: open -> acknowledged"), "{log}");
    assert!(outcomes.contains(&"ok: acknowledged -> done"), "{log}");
    assert!(outcomes.iter().any(|o| o.starts_with("denied")), "{log}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returnees_under_watch_per_community() {
    let c = City::start().await;
    let url = "/api/v1/watch?as_of=2020-01-25";
    // All four travellers came from Wuhan (high risk) on the 20th or 21st.
    let (s, v) = c.get(Some("analyst"), Some("analysis"), url).await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["persons"], 4, "{v}");
    assert!(v.get("list").is_none(), "an analyst gets counts only: {v}");
    let (s, _) = c
        .get(
            Some("analyst"),
            Some("analysis"),
            &format!("{url}&persons=true"),
        )
        .await;
    assert_eq!(s, FORBIDDEN);
    // C1's worker: the case (home C1) and the returnee (registered to C1), by name.
    let (s, v) = c
        .get(
            Some("cw"),
            Some("community_service"),
            &format!("{url}&persons=true"),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["persons"], 2, "{v}");
    // Who and where, not how they came (regression: the mode was in each entry).
    for p in v["list"].as_array().unwrap() {
        assert!(p.get("kind").is_none(), "{p}");
        assert!(!p.to_string().contains("rail"), "{p}");
    }
    let (s, epi) = c
        .get(
            Some("epi"),
            Some("outbreak_response"),
            &format!("{url}&persons=true"),
        )
        .await;
    assert_eq!(s, OK, "{epi}");
    assert!(
        epi["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "rail"),
        "the epidemiologist sees how they came: {epi}"
    );
    let names: Vec<&str> = v["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"张三") && names.contains(&"钱七"),
        "{names:?}"
    );
    assert_eq!(v["list"][0]["until"].as_str().unwrap().len(), 10);
    assert_eq!(v["communities"][0]["community"], "C1");
    // Out of their days by 2020-02-10.
    let (_, v) = c
        .get(
            Some("analyst"),
            Some("analysis"),
            "/api/v1/watch?as_of=2020-02-10",
        )
        .await;
    assert_eq!(v["persons"], 0, "{v}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_kept_for_the_dashboard_follow_an_upload() {
    let c = City::start().await;
    let url = "/api/v1/inflow?as_of=2020-01-21&days=1&level=prefecture";
    let arrivals = |v: &Value| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["arrivals"].as_u64().unwrap())
            .sum()
    };
    let (_, before) = c.get(Some("analyst"), Some("analysis"), url).await;
    let (_, again) = c.get(Some("analyst"), Some("analysis"), url).await;
    assert_eq!(before, again);
    assert_eq!(arrivals(&before), 1, "{before}");
    // One more arrival from Wuhan on the 21st, uploaded.
    let id = model::PersonId::from_parts(330302, model::Date::from_ymd(1999, 9, 9).unwrap(), 77)
        .unwrap();
    let body = format!(
        "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
         {id},rail,G5678,2020-01-21,03,02A,武汉,420100,2020-01-21T09:00:00+08:00,温州南,330300,2020-01-21T15:00:00+08:00\n"
    );
    let (s, v) = c
        .upload("admin", "travel", body.into_bytes(), "text/csv")
        .await;
    assert_eq!(s, OK, "{v}");
    let (_, after) = c.get(Some("analyst"), Some("analysis"), url).await;
    assert_eq!(
        arrivals(&after),
        2,
        "the kept answer was for the store before: {after}"
    );
    let (_, alerts) = c
        .get(
            Some("admin"),
            Some("community_service"),
            "/api/v1/alerts?as_of=2020-01-23",
        )
        .await;
    assert_eq!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "unregistered_returnee")
            .count(),
        3,
        "the new traveller stays nowhere known, so no returnee alert: {alerts}"
    );
    c.stop().await;
}

/// Every file and folder under `root`, as paths relative to it, skipping `skip` (a folder
/// whose contents legitimately change).
fn tree(root: &std::path::Path, skip: &[&std::path::Path]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if skip.contains(&p.as_path()) {
                continue;
            }
            out.insert(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_never_write_or_remove_outside_their_own_spool_folder() {
    let c = City::start().await;
    let root = c.dir.path();
    let data = root.join("data");
    let spool = root.join("spool");
    // A folder beside the spool and the data dir, with something in it: the old code wrote
    // `kind`.csv wherever `kind` pointed, then removed the folder it had landed in. (No kind
    // here points above the test's own folder, so a regression fails the test instead of
    // emptying the system's temp dir.)
    let victim = root.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    let before = tree(root, &[data.as_path()]);
    let before_log = c.engine.ops().audit_head().await.unwrap().0;
    let body = "venue_id,name,kind,region,community_id,lat,lon\nV9,X,market,330302,C1,28,120\n";
    for (who, kind, want) in [
        // A checkpoint may not upload at all: refused before the kind is looked at.
        ("gate", "..%2F..%2Fvictim%2Fwritten", FORBIDDEN),
        ("gate", "..%2F..%2Fwritten", FORBIDDEN),
        ("analyst", "%2E%2E%2F%2E%2E%2Fvictim%2Fwritten", FORBIDDEN),
        // The admin may, but no such kind exists.
        ("admin", "..%2F..%2Fvictim%2Fwritten", StatusCode::NOT_FOUND),
        ("admin", "..%2F..%2Fwritten", StatusCode::NOT_FOUND),
        (
            "admin",
            "venues%2F..%2F..%2F..%2Fvictim%2Fwritten",
            StatusCode::NOT_FOUND,
        ),
        ("admin", "venues%00", StatusCode::NOT_FOUND),
    ] {
        let (s, v) = c
            .upload(who, kind, body.as_bytes().to_vec(), "text/csv")
            .await;
        assert_eq!(s, want, "{who} {kind}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    // A hostile `name` or format changes no path either (the name is not used at all).
    let r = c
        .client
        .post(format!(
            "{}/api/v1/ingest/venues?name=..%2F..%2Fvictim%2Fwritten&format=..%2Fx",
            c.base
        ))
        .bearer_auth(c.token("admin"))
        .header("X-Purpose", "data_management")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, v) = c
        .upload("admin", "venues", body.as_bytes().to_vec(), "text/csv")
        .await;
    assert_eq!(s, OK, "{v}");
    assert_eq!(v["rows_accepted"], 1, "{v}");
    assert_eq!(
        tree(root, &[data.as_path()]),
        before,
        "nothing outside the data dir appeared or went away"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    // Every refusal is in the audit log, with the role and the reason.
    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?action=ingest&after={before_log}&limit=50"),
        )
        .await;
    let outcomes: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let refused = |who: &str, starts: &str| {
        outcomes
            .iter()
            .filter(|(a, o)| a == who && o.starts_with(starts))
            .count()
    };
    assert_eq!(refused("gate", "denied:"), 2, "{outcomes:?}");
    assert_eq!(refused("analyst", "denied:"), 1, "{outcomes:?}");
    assert_eq!(refused("admin", "error: not_found"), 4, "{outcomes:?}");
    assert_eq!(refused("admin", "error: bad_request"), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|(_, o)| !o.contains('\u{0}')),
        "{outcomes:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_refused_before_its_body_is_stored() {
    let c = City::start().await;
    let spool = c.dir.path().join("spool");
    let files_in_spool = || {
        tree(&spool, &[])
            .into_iter()
            .filter(|p| p.contains('.'))
            .count()
    };
    for (who, kind, want) in [
        ("gate", "venues", FORBIDDEN),
        ("admin", "no_such_kind", StatusCode::NOT_FOUND),
    ] {
        // The body's first part arrives and the rest is held back: the answer must come while
        // it is still open, and nothing of it may reach the spool.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let request = tokio::spawn(
            c.client
                .post(format!("{}/api/v1/ingest/{kind}", c.base))
                .bearer_auth(c.token(who))
                .header("X-Purpose", "data_management")
                .body(reqwest::Body::wrap_stream(stream_of(rx)))
                .send(),
        );
        tx.send(Ok(
            b"venue_id,name,kind,region,community_id,lat,lon\n".to_vec()
        ))
        .await
        .unwrap();
        while !request.is_finished() {
            assert_eq!(
                files_in_spool(),
                0,
                "{who} {kind}: the body was stored before the upload was checked"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        drop(tx);
        let resp = request.await.unwrap().unwrap();
        assert_eq!(resp.status(), want, "{who} {kind}");
        assert_eq!(resp.headers()["connection"], "close");
    }
    // A declared length over the limit is refused before a byte is read, too.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let resp = c
        .client
        .post(format!("{}/api/v1/ingest/venues", c.base))
        .bearer_auth(c.token("admin"))
        .header("X-Purpose", "data_management")
        .header("Content-Length", (3u64 << 30).to_string())
        .body(reqwest::Body::wrap_stream(stream_of(rx)))
        .send()
        .await
        .unwrap();
    drop(tx);
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(files_in_spool(), 0);
    c.stop().await;
}

/// A stream over a channel's receiver.
fn stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whether_someone_is_a_case_is_not_told_outside_the_scope() {
    let c = City::start().await;
    let p = &c.people;
    let trail: fn(&model::PersonId) -> String =
        |id| format!("/api/v1/cases/{id}/trail?as_of=2020-01-25");
    let contacts: fn(&model::PersonId) -> String =
        |id| format!("/api/v1/cases/{id}/contacts?as_of=2020-01-25");
    // Within the scope: the case's trail, and 404 for a resident who is not a case.
    let (s, v) = c
        .get(Some("epi"), Some("outbreak_response"), &trail(&p.case))
        .await;
    assert_eq!(s, OK, "{v}");
    let (s, _) = c
        .get(Some("epi"), Some("outbreak_response"), &trail(&p.rail))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c
        .get(Some("cw"), Some("community_service"), &trail(&p.case))
        .await;
    assert_eq!(s, OK);
    // Outside it (Hubei's epidemiologist; C2's worker for C1's case): one answer for the
    // case, for someone who is not a case, and for an id nobody has (regression: 200 for a
    // case and 404 for anyone else, to any account).
    let nobody =
        model::PersonId::from_parts(330302, model::Date::from_ymd(1970, 1, 1).unwrap(), 1).unwrap();
    for (who, purpose) in [
        ("epi_hubei", "outbreak_response"),
        ("cw2", "community_service"),
    ] {
        for path in [trail, contacts] {
            let paths = [&p.case, &p.household, &nobody].map(path);
            let answers: Vec<(StatusCode, Value)> = futures_util::future::join_all(
                paths.iter().map(|x| c.get(Some(who), Some(purpose), x)),
            )
            .await;
            assert!(
                answers.iter().all(|a| a == &answers[0]),
                "{who} {}: {answers:?}",
                path(&p.case)
            );
            assert_eq!(answers[0].0, FORBIDDEN, "{who}: {answers:?}");
        }
    }
    // The same for communities: one that exists outside the region and one that does not.
    let (s1, v1) = c
        .get(
            Some("epi_hubei"),
            Some("outbreak_response"),
            "/api/v1/communities/C1/codes",
        )
        .await;
    let (s2, v2) = c
        .get(
            Some("epi_hubei"),
            Some("outbreak_response"),
            "/api/v1/communities/C9/codes",
        )
        .await;
    assert_eq!((s1, s2), (FORBIDDEN, FORBIDDEN), "{v1} {v2}");
    assert_eq!(
        v1["error"].as_str().unwrap().replace("C1", "C9"),
        v2["error"].as_str().unwrap()
    );
    let (s, _) = c
        .get(
            Some("admin"),
            Some("outbreak_response"),
            "/api/v1/communities/C9/codes",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the admin may know");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_outcomes_never_hold_an_id_or_a_phone_from_the_request() {
    let c = City::start().await;
    let p = &c.people;
    let before = c.engine.ops().audit_head().await.unwrap().0;
    // Errors that quote what was asked: a community "named" by an id and by a phone, an id
    // with digits around it, an upload kind.
    let id = p.rail.to_string();
    for path in [
        format!("/api/v1/communities/{id}/codes"),
        "/api/v1/communities/13812345678/codes".to_string(),
        format!("/api/v1/cases/7{id}/trail"),
        // A digit percent-encoded, so the raw text holds no run of 18 digits.
        format!("/api/v1/persons/{}%3{}/code", &id[..10], &id[10..]),
    ] {
        let (s, v) = c.get(Some("cw"), Some("community_service"), &path).await;
        assert!(s.is_client_error(), "{path}: {s} {v}");
    }
    let (s, _) = c
        .upload("admin", &format!("x{id}"), b"x".to_vec(), "text/csv")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?after={before}&limit=50"),
        )
        .await;
    let text = log.to_string();
    assert!(log.as_array().unwrap().len() >= 5, "{log}");
    let encoded = format!("{}%3", &id[..10]);
    for secret in [id.as_str(), &id[6..14], "13812345678", &encoded] {
        assert!(!text.contains(secret), "{secret} in the audit log: {log}");
    }
    assert!(text.contains("138****5678"), "{log}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_guarded_and_audited_and_logout_ends_a_session() {
    let c = City::start().await;
    for name in ["cw", "analyst"] {
        c.engine
            .ops()
            .set_password(name, "a long enough passphrase")
            .await
            .unwrap();
    }
    let login = async |name: &str, password: &str| {
        c.post(
            None,
            None,
            "/api/v1/login",
            json!({"name": name, "password": password}),
        )
        .await
    };
    let before = c.engine.ops().audit_head().await.unwrap().0;
    // Five wrong passwords, then the name is locked: even the right one is refused, 429 with
    // Retry-After. A name with no account is locked the same way, so the answers never tell
    // which names exist.
    for name in ["cw", "nobody"] {
        for _ in 0..5 {
            let (s, v) = login(name, "wrong passphrase!!").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {v}");
        }
        let (s, v) = login(name, "a long enough passphrase").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{name}: {v}");
    }
    let resp = c
        .client
        .post(format!("{}/api/v1/login", c.base))
        .json(&json!({"name": "cw", "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another account is not affected.
    let (s, v) = login("analyst", "a long enough passphrase").await;
    assert_eq!(s, OK, "{v}");
    let session = v["token"].as_str().unwrap().to_string();

    // Every attempt is audited, under the name tried.
    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?action=login&after={before}&limit=50"),
        )
        .await;
    let entries = log.as_array().unwrap();
    let of = |actor: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["actor"] == actor && e["outcome"].as_str().unwrap().starts_with(outcome))
            .count()
    };
    assert_eq!(of("cw", "error: unauthenticated"), 5, "{log}");
    assert_eq!(of("cw", "error: throttled"), 2, "{log}");
    assert_eq!(of("nobody", "error: unauthenticated"), 5, "{log}");
    assert_eq!(of("analyst", "ok"), 1, "{log}");
    assert!(entries.iter().all(|e| e["purpose"] == "-"), "{log}");

    // Signing out revokes the session's token at once, and is audited.
    let me = async |token: &str| {
        c.client
            .get(format!("{}/api/v1/me", c.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(me(&session).await, OK);
    let resp = c
        .client
        .post(format!("{}/api/v1/logout", c.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&session).await, StatusCode::UNAUTHORIZED);
    let resp = c
        .client
        .post(format!("{}/api/v1/logout", c.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "already revoked");
    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            "/api/v1/audit?action=logout&actor=analyst",
        )
        .await;
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log[0]["outcome"], "ok");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_api_answers_are_not_cached() {
    let c = City::start().await;
    let get = async |path: &str, token: Option<&str>| {
        let mut r = c.client.get(format!("{}{path}", c.base));
        if let Some(t) = token {
            r = r.bearer_auth(t).header("X-Purpose", "health_code");
        }
        r.send().await.unwrap()
    };
    let code = format!("/api/v1/persons/{}/code", c.people.case);
    for (path, token) in [
        ("/", None),
        ("/api/docs", None),
        ("/api/docs.js", None),
        ("/api/openapi.json", None),
        ("/healthz", None),
        ("/nowhere", None),
        ("/api/v1/me", Some(c.token("epi"))),
        (code.as_str(), Some(c.token("epi"))),
        (code.as_str(), None),
    ] {
        let resp = get(path, token).await;
        let h = resp.headers();
        // Regression: /api/docs had none of the dashboard's headers.
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        if path.starts_with("/api/v1") {
            // Regression: personal JSON said nothing about caching.
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
    }
    // The docs page's script is a file of its own: the policy allows no inline script.
    let docs = get("/api/docs", None).await.text().await.unwrap();
    assert!(docs.contains("<script src=\"/api/docs.js\"></script>"));
    assert!(!docs.contains("<script>"));

    // Without a token, nothing says how much data there is (regression: /healthz and /metrics
    // showed counts to anyone).
    let (s, v) = c.get(None, None, "/healthz").await;
    assert_eq!(s, OK);
    assert_eq!(v["status"], "ok");
    assert!(!v.to_string().contains("rows"), "{v}");
    assert_eq!(
        get("/metrics", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get("/metrics", Some(c.token("analyst"))).await.status(),
        FORBIDDEN
    );
    let metrics = get("/metrics", Some(c.token("admin"))).await;
    assert_eq!(metrics.status(), OK);
    assert!(metrics.text().await.unwrap().contains("fangyi_store_rows"));
    // A signed-in account gets the figures (the dashboard's default day among them).
    let (s, v) = c.get(Some("gate"), None, "/api/v1/status").await;
    assert_eq!(s, OK, "{v}");
    assert!(v["rows"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["last_date"].as_str().unwrap().len(), 10, "{v}");
    assert_eq!(
        c.get(None, None, "/api/v1/status").await.0,
        StatusCode::UNAUTHORIZED
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_per_address_are_rate_limited_and_metrics_may_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine::Engine::open(
        engine::EngineOptions::new(dir.path().join("data")),
        common::test_keys(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = server::ServeOptions {
        login_rate: 0.01,
        login_burst: 3,
        public_metrics: true,
        spool: Some(dir.path().join("spool")),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(server::serve(engine, opts, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    // Different names each time: the address, not the name, runs out.
    for i in 0..5 {
        let r = client
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"name": format!("user{i}"), "password": "wrong passphrase!!"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
    let r = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), OK, "opened by the operator");
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}
