//! The public nearby-cases search over real HTTP: cases' trail points near a place, grouped
//! and counted, the window of §5 and the 14 recent days, no identity anywhere in the answer,
//! hostile parameters refused by name, and every search audited with the cases it showed.

mod common;

use common::City;
use reqwest::StatusCode;
use serde_json::Value;

const OK: StatusCode = StatusCode::OK;

/// Venues and check-ins beside the city's files, and a second case (the rail rider).
async fn more_files(c: &City) {
    let p = &c.people;
    let venues = "venue_id,name,kind,region,community_id,lat,lon\n\
                  V1,五马街菜场,market,330302,C1,28.0200,120.6600\n\
                  V2,江心屿茶室,restaurant,330302,C2,,\n\
                  V3,武昌餐馆,restaurant,420106,,30.5500,114.3100\n";
    let checkins = format!(
        "person_id,venue_id,time_in,time_out\n\
         {case},V1,2020-01-21T10:00:00+08:00,2020-01-21T11:00:00+08:00\n\
         {rail},V1,2020-01-21T10:00:00+08:00,2020-01-21T11:00:00+08:00\n\
         {returnee},V1,2020-01-21T10:00:00+08:00,2020-01-21T11:00:00+08:00\n\
         {case},V2,2020-01-22T09:00:00+08:00,\n\
         {case},V1,2020-01-18T10:00:00+08:00,2020-01-18T11:00:00+08:00\n\
         {case},V3,2020-01-20T06:00:00+08:00,2020-01-20T07:00:00+08:00\n",
        case = p.case,
        rail = p.rail,
        returnee = p.returnee
    );
    // The rail rider is confirmed a day after the case; onset 2020-01-22, so their trail starts
    // on 2020-01-21 (their ride on the 20th is before it).
    let labs = format!(
        "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
         {},2020-01-23T09:00:00+08:00,positive,confirmed,2020-01-22,2020-01-24T09:00:00+08:00\n",
        p.rail
    );
    for (kind, body) in [
        ("venues", venues.to_string()),
        ("checkins", checkins),
        ("lab_results", labs),
    ] {
        let (s, v) = c.upload("admin", kind, body.into_bytes(), "text/csv").await;
        assert_eq!(s, OK, "{kind}: {v}");
        assert_eq!(v["rows_rejected"], 0, "{kind}: {v}");
    }
}

async fn nearby(c: &City, query: &str) -> (StatusCode, Value) {
    c.get(None, None, &format!("/api/v1/public/nearby?{query}"))
        .await
}

fn summary(v: &Value) -> Vec<(String, Option<String>, u64, String)> {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["place"].as_str().unwrap().to_string(),
                p["stop"].as_str().map(str::to_string),
                p["cases"].as_u64().unwrap(),
                p["start"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Nothing in `text` that names or points to a person of the city.
fn assert_no_identity(c: &City, text: &str) {
    let p = &c.people;
    for id in [p.case, p.household, p.rail, p.far, p.returnee] {
        let pseudonym = c.keys.pseudonyms.pseudonym(id).to_string();
        assert!(!text.contains(&id.to_string()), "an id in {text}");
        assert!(!text.contains(&pseudonym), "a pseudonym in {text}");
    }
    for word in [
        "张三",
        "李四",
        "王五",
        "赵六",
        "钱七",
        "张*",
        "13812345678",
        "13912345678",
        "13712345678",
        "13612345678",
        "13512345678",
        "05A",
        "07C",
        "09F",
        "H1",
    ] {
        assert!(!text.contains(word), "{word} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_near_a_place_are_counted_never_named() {
    let c = City::start().await;
    more_files(&c).await;

    // Lucheng's centre, 6 km: the tea house (no coordinates: at Lucheng's point), the market
    // (two cases at the same hour, one point; the returnee was there too, but is no case; the
    // case's visit before its window is not shown) and the train's arrival at Wenzhou's point.
    let q = "lat=28.015737&lon=120.655271&radius_m=6000&as_of=2020-01-25";
    let (s, v) = nearby(&c, q).await;
    assert_eq!(s, OK, "{v}");
    assert_no_identity(&c, &v.to_string());
    assert_eq!(
        summary(&v),
        vec![
            ("V2".into(), None, 1, "2020-01-22T09:00:00+08:00".into()),
            ("V1".into(), None, 2, "2020-01-21T10:00:00+08:00".into()),
            (
                "G1234".into(),
                Some("arrival".into()),
                1,
                "2020-01-20T08:00:00+08:00".into()
            ),
        ],
        "{v}"
    );
    let points = v["points"].as_array().unwrap();
    let (tea, market, train) = (&points[0], &points[1], &points[2]);
    assert_eq!(tea["position"], "region");
    assert_eq!(tea["distance_m"], 0);
    assert_eq!(tea["end"], "2020-01-22T10:00:00+08:00");
    assert_eq!(tea["place_name"], "江心屿茶室");
    assert_eq!(market["kind"], "venue");
    assert_eq!(market["position"], "venue");
    assert_eq!(
        (market["lat"].as_f64(), market["lon"].as_f64()),
        (Some(28.02), Some(120.66))
    );
    assert_eq!(market["region"], "330302");
    assert_eq!(market["region_name"], "鹿城区");
    let d = market["distance_m"].as_u64().unwrap();
    assert!((400..800).contains(&d), "{market}");
    assert_eq!(train["kind"], "rail");
    assert_eq!(train["place_name"], "温州南");
    assert_eq!(train["region"], "330300");
    assert_eq!(train["end"], "2020-01-20T14:00:00+08:00");
    assert_eq!(v["truncated"], false);
    assert_eq!(v["since"], "2020-01-11");

    // Before the rail rider's report, the market's point is the case's alone.
    let (_, v) = nearby(
        &c,
        "lat=28.02&lon=120.66&radius_m=100&as_of=2020-01-23T12:00:00%2B08:00",
    )
    .await;
    assert_eq!(
        summary(&v),
        vec![("V1".into(), None, 1, "2020-01-21T10:00:00+08:00".into())]
    );
    // Before the case's report, nothing; fifteen days after the visits, nothing.
    for as_of in ["2020-01-23T09:59:59%2B08:00", "2020-02-07"] {
        let (s, v) = nearby(
            &c,
            &format!("lat=28.02&lon=120.66&radius_m=6000&as_of={as_of}"),
        )
        .await;
        assert_eq!(s, OK);
        assert_eq!(v["points"], Value::Array(vec![]), "{as_of}: {v}");
    }
    // Asked now, 2020's trails are long past: an empty answer, not an error.
    let (s, v) = nearby(&c, "lat=28.02&lon=120.66&radius_m=50000").await;
    assert_eq!(
        (s, v["points"].as_array().map(Vec::len)),
        (OK, Some(0)),
        "{v}"
    );

    // In Wuhan: the ride's departure and the restaurant visit on the first day of the window.
    let (s, v) = nearby(
        &c,
        "lat=30.593175&lon=114.305469&radius_m=20000&as_of=2020-01-25",
    )
    .await;
    assert_eq!(s, OK, "{v}");
    assert_no_identity(&c, &v.to_string());
    assert_eq!(
        summary(&v),
        vec![
            (
                "G1234".into(),
                Some("departure".into()),
                1,
                "2020-01-20T08:00:00+08:00".into()
            ),
            ("V3".into(), None, 1, "2020-01-20T06:00:00+08:00".into()),
        ],
        "{v}"
    );
    assert_eq!(v["points"][0]["place_name"], "武汉");

    // A new upload is a new snapshot: the index is gathered again.
    let more = format!(
        "person_id,venue_id,time_in,time_out\n{},V2,2020-01-23T08:00:00+08:00,2020-01-23T08:30:00+08:00\n",
        c.people.rail
    );
    let (s, _) = c
        .upload("admin", "checkins", more.into_bytes(), "text/csv")
        .await;
    assert_eq!(s, OK);
    let (_, v) = nearby(
        &c,
        "lat=28.015737&lon=120.655271&radius_m=10&as_of=2020-01-25",
    )
    .await;
    assert_eq!(
        summary(&v),
        vec![
            ("V2".into(), None, 1, "2020-01-22T09:00:00+08:00".into()),
            ("V2".into(), None, 1, "2020-01-23T08:00:00+08:00".into()),
        ]
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_parameters_are_refused_and_every_search_audited() {
    let c = City::start().await;
    more_files(&c).await;
    let before = c.engine.ops().audit_head().await.unwrap().0;
    let hostile = [
        ("lat=NaN&lon=120.66", "lat"),
        ("lat=1e308&lon=120.66", "lat"),
        ("lat=-inf&lon=120.66", "lat"),
        ("lat=28&lon=1e308", "lon"),
        ("lat=28&lon=120.66&radius_m=-5", "radius_m"),
        ("lat=28&lon=120.66&radius_m=0", "radius_m"),
        ("lat=28&lon=120.66&radius_m=1e308", "radius_m"),
        ("lat=28&lon=120.66&radius_m=50001", "radius_m"),
        ("lat=28&lon=120.66&radius_m=NaN", "radius_m"),
        ("lon=120.66", "lat"),
        ("lat=28", "lon"),
        ("", "lat"),
        ("lat=&lon=", "lat"),
        ("lat=28%00&lon=120", "lat"),
        ("lat=28&lon=120.66&as_of=tomorrow", "as_of"),
    ];
    for (q, name) in hostile {
        let (s, v) = nearby(&c, q).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        let e = v["error"].as_str().unwrap_or_else(|| panic!("{q}: {v}"));
        assert!(e.contains(name), "{q}: {e}");
    }
    // A parameter of 4,000 digits is a number out of range; one past the server's limit on
    // request heads is refused or the connection closed, never answered.
    let (s, v) = nearby(&c, &format!("lat={}&lon=120", "9".repeat(4_000))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let huge = format!(
        "{}/api/v1/public/nearby?lat={}&lon=120",
        c.base,
        "9".repeat(1 << 20)
    );
    if let Ok(r) = c.client.get(huge).send().await {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let (s, _) = nearby(&c, "lat=28&lat=29&lon=120").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A search that found the market: its entry is the public's, for self_check, the place
    // kept to two decimals, and names the two cases it showed (by pseudonym, in the log only).
    let (s, v) = nearby(
        &c,
        "lat=28.020004&lon=120.660004&radius_m=500&as_of=2020-01-25",
    )
    .await;
    assert_eq!((s, v["points"].as_array().unwrap().len()), (OK, 1), "{v}");
    let filter = ops::AuditFilter {
        after_seq: Some(before),
        action: Some("nearby".into()),
        ..ops::AuditFilter::default()
    };
    let entries = c.engine.ops().audit_records(&filter).await.unwrap();
    assert!(
        entries.len() > hostile.len(),
        "every search audited: {}",
        entries.len()
    );
    for r in &entries {
        assert_eq!(
            (r.entry.actor.as_str(), r.entry.role.as_str()),
            ("public", "public")
        );
        assert_eq!(r.entry.purpose, "self_check");
    }
    let last = &entries.last().unwrap().entry;
    assert_eq!(last.outcome, "ok");
    assert!(
        last.query.contains("lat=28.02 lon=120.66"),
        "{}",
        last.query
    );
    assert!(!last.query.contains("28.020004"), "{}", last.query);
    let mut shown = vec![
        c.keys.pseudonyms.pseudonym(c.people.case),
        c.keys.pseudonyms.pseudonym(c.people.rail),
    ];
    shown.sort_unstable();
    assert_eq!(last.persons, shown);
    assert!(entries.iter().filter(|r| r.entry.outcome != "ok").count() >= hostile.len());
    // "Who looked at my data?": the case sees that the public search showed their trail.
    let (s, v) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?person={}&action=nearby", c.people.case),
        )
        .await;
    assert_eq!(s, OK, "{v}");
    assert!(!v.as_array().unwrap().is_empty(), "{v}");

    // The route is in the OpenAPI document, public (no security).
    let (s, doc) = c.get(None, None, "/api/openapi.json").await;
    assert_eq!(s, OK);
    let op = &doc["paths"]["/api/v1/public/nearby"]["get"];
    let op = if op.is_object() {
        op
    } else {
        &doc["paths"]["/public/nearby"]["get"]
    };
    assert!(op.is_object(), "{}", doc["paths"]);
    assert!(op["security"].is_null(), "{op}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_shares_the_public_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine::Engine::open(
        engine::EngineOptions::new(dir.path().join("data")),
        common::test_keys(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = fangyi_server::ServeOptions {
        public_rate: 0.1,
        public_burst: 3,
        spool: Some(dir.path().join("spool")),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(fangyi_server::serve(engine, opts, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for path in [
        "/api/v1/cotravel?mode=rail&service=G1&date=2020-01-20",
        "/api/v1/public/nearby?lat=28&lon=120",
        "/api/v1/public/nearby?lat=28&lon=120&radius_m=100",
        "/api/v1/public/nearby?lat=28&lon=120",
        "/api/v1/cotravel?mode=rail&service=G1&date=2020-01-20",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            // An empty store: nothing near, and the answer still has its shape.
            if path.contains("nearby") {
                assert_eq!(body["points"], Value::Array(vec![]), "{body}");
                assert_eq!(body["truncated"], false);
            }
        } else {
            assert!(body["error"].is_string(), "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}
