//! Corrections over HTTP on the hand-made city: filed at a community service desk, the queue
//! with the evidence behind each disputed rule (the household, the train car), decisions by the
//! region's epidemiologist, and the override in the person's code; every role and scope held to
//! what it may reach.

mod common;

use common::City;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_are_filed_queued_with_evidence_and_decided() {
    let city = City::start().await;
    let p = &city.people;
    let (household, rail) = (p.household.to_string(), p.rail.to_string());
    let day = "2020-01-25";
    let file = |person: &str, rule: &str| json!({"person_id": person, "rule": rule, "reason": "I was not there", "as_of": day});
    let cs = Some("community_service");
    let hc = Some("health_code");

    // C1's desk files for the household member; C2's desk may not, nor may an analyst read.
    let (s, v) = city
        .post(
            Some("cw"),
            cs,
            "/api/v1/corrections",
            file(&household, "close_contact"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["id"].as_i64(), v["status"].as_str()),
        (Some(1), Some("open"))
    );
    let (s, v) = city
        .post(
            Some("cw"),
            cs,
            "/api/v1/corrections",
            file(&household, "close_contact"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = city
        .post(
            Some("cw2"),
            cs,
            "/api/v1/corrections",
            file(&household, "close_contact"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = city
        .post(
            Some("cw"),
            cs,
            "/api/v1/corrections",
            file(&household, "fever"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("close_contact"),
        "{v}"
    );
    let mut extra = file(&household, "close_contact");
    extra["color"] = json!("green");
    let (s, _) = city
        .post(Some("cw"), cs, "/api/v1/corrections", extra)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = city
        .get(Some("analyst"), Some("analysis"), "/api/v1/corrections")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // C2's desk files for the rider of the case's car.
    let (s, v) = city
        .post(
            Some("cw2"),
            cs,
            "/api/v1/corrections",
            file(&rail, "close_contact"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Wenzhou's epidemiologist sees both with their evidence; Hubei's sees neither.
    let (s, q) = city
        .get(Some("epi"), hc, "/api/v1/corrections?status=open")
        .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let q = q.as_array().unwrap();
    assert_eq!(q.len(), 2);
    let shared = |c: &serde_json::Value| c["evidence"]["contacts"][0]["shared"][0].clone();
    assert_eq!(q[0]["id"], 2);
    assert_eq!(shared(&q[0])["kind"], "rail", "{:?}", q[0]);
    assert_eq!(shared(&q[0])["service_no"], "G1234", "{:?}", q[0]);
    assert_eq!(shared(&q[0])["car"], "05", "{:?}", q[0]);
    assert_eq!(shared(&q[1])["kind"], "household", "{:?}", q[1]);
    let (s, v) = city
        .get(Some("epi_hubei"), hc, "/api/v1/corrections?status=open")
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, _) = city
        .get(Some("epi_hubei"), hc, "/api/v1/corrections/1")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = city.get(Some("epi"), hc, "/api/v1/corrections/1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["reason"], "I was not there");
    // The community worker reads their desk's correction without how anyone travelled.
    let (s, v) = city.get(Some("cw2"), cs, "/api/v1/corrections/2").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(shared(&v), serde_json::Value::Null, "{v}");

    // Decisions: the desk may not; accept needs until; a decided one is a conflict.
    let accept = json!({"accept": true, "reason": "lives elsewhere", "until": "2020-02-10"});
    let (s, _) = city
        .post(
            Some("cw"),
            cs,
            "/api/v1/corrections/1/decision",
            accept.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = city
        .post(
            Some("epi"),
            hc,
            "/api/v1/corrections/1/decision",
            json!({"accept": true, "reason": "lives elsewhere"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = city
        .post(
            Some("epi"),
            hc,
            "/api/v1/corrections/1/decision",
            accept.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "accepted");
    let (s, _) = city
        .post(Some("epi"), hc, "/api/v1/corrections/1/decision", accept)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = city
        .post(
            Some("epi"),
            hc,
            "/api/v1/corrections/2/decision",
            json!({"accept": false, "reason": "the ticket names car 05"}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{v}"
    );
    let (s, _) = city.get(Some("epi"), hc, "/api/v1/corrections/999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The household member's code is green with the override; the rider's stays red.
    let code = |who: &str| format!("/api/v1/persons/{who}/code?as_of={day}");
    let (s, v) = city.get(Some("epi"), hc, &code(&household)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["color"], "green", "{v}");
    assert_eq!(v["reasons"][0]["rule"], "override", "{v}");
    let (_, v) = city.get(Some("epi"), hc, &code(&rail)).await;
    assert_eq!(v["color"], "red", "{v}");

    // The routes are in the OpenAPI document.
    let (_, doc) = city.get(None, None, "/api/openapi.json").await;
    for (path, method) in [
        ("/corrections", "get"),
        ("/corrections", "post"),
        ("/corrections/{id}", "get"),
        ("/corrections/{id}/decision", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["CorrectionEvidence"].is_object());
    city.stop().await;
}
