//! `GET /api/v1/resume/index` end to end: the power index as each role may ask for it, narrowed
//! to the caller's region, bad parameters as 400s, and the route in the OpenAPI document.

mod common;

use common::City;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A valid unified social credit code for enterprise `n` of `county`.
fn uscc(county: u32, n: usize) -> String {
    let mut body = *format!("91{county}MA0000000")
        .as_bytes()
        .first_chunk::<17>()
        .unwrap();
    let charset = model::EnterpriseId::charset();
    let mut v = n;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[v % 31];
        v /= 31;
    }
    model::EnterpriseId::from_body(&body).unwrap().to_string()
}

/// Two Wenzhou (Lucheng) shops and one Wuhan factory, with December baselines and one
/// February day: one Wenzhou shop resumed, the Wuhan factory resumed.
async fn load(city: &City) {
    let (a, b, c) = (uscc(330302, 1), uscc(330302, 2), uscc(420106, 3));
    let enterprises = format!(
        "enterprise_id,name,industry,region\n{a},A,retail,330302\n{b},B,retail,330302\n{c},C,chemicals,420106\n"
    );
    let power = format!(
        "enterprise_id,date,kwh\n{a},2019-12-02,10\n{b},2019-12-02,20\n{c},2019-12-02,100\n\
         {a},2020-02-10,5\n{b},2020-02-10,1\n{c},2020-02-10,30\n"
    );
    for (kind, body) in [("enterprises", enterprises), ("power", power)] {
        let (status, v) = city
            .upload("admin", kind, body.into_bytes(), "text/csv")
            .await;
        assert_eq!(status, StatusCode::OK, "{kind}: {v}");
        assert_eq!(v["rows_rejected"], 0, "{kind}: {v}");
    }
}

const PATH: &str = "/api/v1/resume/index?from=2020-02-10&to=2020-02-10";

#[tokio::test(flavor = "multi_thread")]
async fn the_index_by_role_and_region() {
    let city = City::start().await;
    load(&city).await;

    let (status, v) = city.get(Some("admin"), Some("analysis"), PATH).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Wenzhou: 1 of 2 resumed (A: 5 ≥ 3), 5 kWh of 30: 100 × (½ · 0.1667 + ½ · 0.5) = 33.33.
    // Wuhan: 30 ≥ 30, 30 of 100: 100 × (½ · 0.3 + ½ · 1) = 65.
    assert_eq!(
        v,
        json!([
            {"region": "330300", "industry": "all", "date": "2020-02-10", "indexed": 2,
             "resumed": 1, "firms_share": 0.5, "power_share": 0.1667, "index": 33.33},
            {"region": "420100", "industry": "all", "date": "2020-02-10", "indexed": 1,
             "resumed": 1, "firms_share": 1.0, "power_share": 0.3, "index": 65.0},
        ])
    );
    let regions = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["region"].as_str().unwrap().to_string())
            .collect()
    };
    // The analyst sees every region; the epidemiologists their own only.
    let (status, v) = city.get(Some("analyst"), Some("analysis"), PATH).await;
    assert_eq!(
        (status, regions(&v)),
        (StatusCode::OK, vec!["330300".into(), "420100".into()])
    );
    let (status, v) = city.get(Some("epi"), Some("analysis"), PATH).await;
    assert_eq!(
        (status, regions(&v)),
        (StatusCode::OK, vec!["330300".into()])
    );
    let (status, v) = city.get(Some("epi_hubei"), Some("analysis"), PATH).await;
    assert_eq!(
        (status, regions(&v)),
        (StatusCode::OK, vec!["420100".into()])
    );
    // By industry and county.
    let (status, v) = city
        .get(
            Some("admin"),
            Some("analysis"),
            &format!("{PATH}&level=county&by=industry&theta=0.1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let keys: Vec<(String, String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap().into(),
                r["industry"].as_str().unwrap().into(),
                r["resumed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("330302".into(), "retail".into(), 1),
            ("420106".into(), "chemicals".into(), 1)
        ]
    );

    // Refused: a community worker and a checkpoint by role, a purpose not allowed.
    for (who, purpose) in [
        ("cw", "community_service"),
        ("gate", "verification"),
        ("analyst", "outbreak_response"),
    ] {
        let (status, v) = city.get(Some(who), Some(purpose), PATH).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {v}");
    }
    let (status, _) = city.get(None, Some("analysis"), PATH).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Bad parameters name themselves.
    for (query, says) in [
        ("from=2020-02-31", "from 2020-02-31"),
        ("from=2020-02-10&theta=1.5", "theta 1.5"),
        ("from=2020-02-10&level=city", "level city"),
        ("from=2020-02-10&by=region", "by region"),
        ("from=2020-02-10&baseline=2019-12-01", "baseline 2019-12-01"),
        (
            "from=2020-02-10&to=2020-02-01",
            "the end is before the start",
        ),
    ] {
        let (status, v) = city
            .get(
                Some("admin"),
                Some("analysis"),
                &format!("/api/v1/resume/index?{query}"),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(says), "{query}: {e}");
    }

    // Forecasts: one series per region, the days asked for, each inside its interval.
    let forecast = "/api/v1/resume/forecast?as_of=2020-02-10&days=3&level=prefecture";
    let (status, v) = city.get(Some("epi"), Some("analysis"), forecast).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(regions(&v), ["330300"]);
    assert_eq!(v[0]["method"], "weekly");
    let days: Vec<&str> = v[0]["forecast"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["date"].as_str().unwrap())
        .collect();
    assert_eq!(days, ["2020-02-11", "2020-02-12", "2020-02-13"]);
    let (status, _) = city
        .get(Some("cw"), Some("community_service"), forecast)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = city
        .get(
            Some("admin"),
            Some("analysis"),
            "/api/v1/resume/forecast?as_of=2020-02-10&method=magic",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    let (status, doc) = city.get(None, None, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|p| p.ends_with("/resume/index") || p.ends_with("/resume/forecast"))
            .count()
            == 2,
        "documented"
    );
    city.stop().await;
}

/// The index's answers are kept between requests (a dashboard asks the same question again
/// and again); new readings must change the next answer, and other uploads must not lose it.
#[tokio::test(flavor = "multi_thread")]
async fn a_kept_answer_follows_new_readings() {
    let city = City::start().await;
    load(&city).await;
    let wenzhou = |v: &Value| v[0]["resumed"].as_u64().unwrap();
    let (status, v) = city.get(Some("epi"), Some("analysis"), PATH).await;
    assert_eq!((status, wenzhou(&v)), (StatusCode::OK, 1), "{v}");

    // Another kind arrives: the same answer.
    let report = format!(
        "person_id,time,temperature_c,visited_regions\n{},2020-02-10T09:00:00+08:00,36.6,\n",
        city.people.rail
    );
    let (status, v) = city
        .upload("admin", "self_reports", report.into_bytes(), "text/csv")
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, again) = city.get(Some("epi"), Some("analysis"), PATH).await;
    assert_eq!(wenzhou(&again), 1, "{again}");

    // A later reading for shop B (20 kWh baseline: 7 ≥ 0.3 × 20) resumes it.
    let power = format!("enterprise_id,date,kwh\n{},2020-02-10,7\n", uscc(330302, 2));
    let (status, v) = city
        .upload("admin", "power", power.into_bytes(), "text/csv")
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, after) = city.get(Some("epi"), Some("analysis"), PATH).await;
    assert_eq!(wenzhou(&after), 2, "{after}");
    city.stop().await;
}
