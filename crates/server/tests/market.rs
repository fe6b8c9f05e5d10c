//! Market supervision over HTTP (contract §9, issue 20) on the hand-made city with three flagged
//! sellers — one in Wenzhou, one in Wuhan, one shop that names neither seller nor region: each
//! region's supervisor sees its own leads only, a lead moves new → assigned → verified →
//! closed and no other way, notes are stored sealed, a scan again refreshes rather than
//! duplicates, and every read and change is audited.

mod common;

use common::{City, ENT, OTHER_ENT};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MS: Option<&str> = Some("market_supervision");

/// Three listings, each breaking a rule: ENT (Lucheng) sells a daily mask with a medical
/// protective standard; OTHER_ENT (not in `enterprises`, Wuhan) is an unknown seller; shop S3
/// names no seller, no region and no standard.
fn listings() -> String {
    format!(
        "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time\n\
         jd,L1,S1,{ENT},330302,日用口罩,daily,GB 19083-2010,,10.00,10,100,2020-01-24T10:00:00+08:00\n\
         tmall,L2,S2,{OTHER_ENT},420106,日用口罩,daily,GB/T 32610-2016,,10.00,10,50,2020-01-24T11:00:00+08:00\n\
         pinduoduo,L3,S3,,,日用口罩,daily,,,10.00,10,5,2020-01-24T12:00:00+08:00\n"
    )
}

fn subjects(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|l| l["subject"].as_str().unwrap().to_string())
        .collect()
}

async fn set(c: &City, who: &str, id: &Value, status: &str, note: &str) -> (StatusCode, Value) {
    c.post(
        Some(who),
        MS,
        &format!("/api/v1/market/leads/{id}/status"),
        json!({"status": status, "note": note}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_are_scoped_worked_through_their_states_sealed_and_audited() {
    let c = City::start().await;
    let (s, v) = c
        .upload("admin", "listings", listings().into_bytes(), "text/csv")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows_rejected"], 0, "{v}");

    // Each region's supervisor sees the leads routed there; the admin every lead.
    let (s, v) = c.get(Some("market"), MS, "/api/v1/market/leads").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(subjects(&v), [format!("seller:{ENT}")]);
    let lead = &v[0];
    assert_eq!(
        (
            lead["status"].as_str(),
            lead["county"].as_str(),
            lead["rank"].as_u64()
        ),
        (Some("new"), Some("330302"), Some(1))
    );
    assert_eq!(lead["rules"], json!(["standard_mismatch"]));
    assert_eq!(
        (lead["listings"].as_i64(), lead["sales"].as_i64()),
        (Some(1), Some(100))
    );
    let wz = lead["id"].clone();
    let (s, v) = c.get(Some("market_hb"), MS, "/api/v1/market/leads").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(subjects(&v), [format!("seller:{OTHER_ENT}")]);
    let hb = v[0]["id"].clone();
    let (s, v) = c.get(Some("admin"), MS, "/api/v1/market/leads").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = subjects(&v);
    assert_eq!(all.len(), 3, "{v}");
    // Two rules outrank one.
    assert_eq!(all[0], "shop:pinduoduo/S3", "{v}");
    // Filters, within the scope.
    let (_, v) = c
        .get(Some("market"), MS, "/api/v1/market/leads?region=420000")
        .await;
    assert_eq!(subjects(&v), Vec::<String>::new());
    let (s, v) = c
        .get(Some("market"), MS, "/api/v1/market/leads?status=open")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = c
        .get(Some("market"), MS, "/api/v1/market/leads?region=33")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Other roles, and other purposes, are refused.
    let (s, _) = c
        .get(
            Some("epi"),
            Some("outbreak_response"),
            "/api/v1/market/leads",
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get(Some("market"), Some("analysis"), "/api/v1/market/leads")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Hubei's supervisor may not touch Wenzhou's lead, nor learn which numbers exist.
    for id in [
        wz.clone(),
        json!(999),
        json!("x'; DROP TABLE market_leads;--"),
    ] {
        let (s, v) = set(&c, "market_hb", &id, "assigned", "").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{id}: {v}");
    }
    let (s, _) = set(&c, "admin", &json!(999), "assigned", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = set(&c, "admin", &json!(-1), "assigned", "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The workflow, one step at a time; a note may name a person, so it is sealed.
    let note = "张三 at the shop confirmed the stock";
    let (s, v) = set(&c, "market", &wz, "verified", "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = set(&c, "market", &wz, "assigned", note).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("new"), Some("assigned"))
    );
    for bad in ["open", "", "ASSIGNED"] {
        let (s, v) = set(&c, "market", &wz, bad, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (s, _) = set(&c, "market", &wz, "verified", &"x".repeat(2001)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = set(&c, "market", &wz, "verified", "two\nlines").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c
        .post(
            Some("market"),
            MS,
            &format!("/api/v1/market/leads/{wz}/status"),
            json!({"status": "verified", "color": "green"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = set(&c, "market", &wz, "verified", "").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = set(&c, "market", &wz, "closed", note).await;
    assert_eq!(s, StatusCode::OK);
    for again in ["new", "assigned", "closed", "dismissed"] {
        let (s, v) = set(&c, "market", &wz, again, "reason").await;
        assert_eq!(s, StatusCode::CONFLICT, "{again}: {v}");
    }
    // Dismissing needs a reason.
    let (s, v) = set(&c, "market_hb", &hb, "dismissed", " ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = set(
        &c,
        "market_hb",
        &hb,
        "dismissed",
        "a reseller's old listing",
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Read again (a scan again): the same leads, not duplicated, with their state and note.
    let (_, v) = c.get(Some("admin"), MS, "/api/v1/market/leads").await;
    assert_eq!(subjects(&v).len(), 3, "{v}");
    let (_, v) = c
        .get(Some("market"), MS, "/api/v1/market/leads?status=closed")
        .await;
    assert_eq!(subjects(&v), [format!("seller:{ENT}")]);
    assert_eq!(
        (v[0]["note"].as_str(), v[0]["updated_by"].as_str()),
        (Some(note), Some("market"))
    );
    let stored = c
        .engine
        .ops()
        .lead(wz.as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.note.is_empty());
    assert!(
        !String::from_utf8_lossy(&stored.note).contains("张三")
            && !stored.note.windows(6).any(|w| w == "张三".as_bytes()),
        "the note is stored in clear"
    );
    let db = std::fs::read(c.dir.path().join("data/ops.db")).unwrap_or_default();
    assert!(
        !db.windows(6).any(|w| w == "张三".as_bytes()),
        "the note is in the database file in clear"
    );

    // New captures: the open shop lead gets the figures, the closed seller's lead stays closed
    // and a new lead is opened for what came after it.
    let more = format!(
        "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time\n\
         jd,L5,S1,{ENT},330302,日用口罩,daily,GB 2626-2019,,10.00,10,7,2020-01-25T10:00:00+08:00\n\
         pinduoduo,L3,S3,,,日用口罩,daily,,,10.00,10,9,2020-01-25T12:00:00+08:00\n"
    );
    let (s, v) = c
        .upload("admin", "listings", more.into_bytes(), "text/csv")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = c.get(Some("admin"), MS, "/api/v1/market/leads").await;
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{v}");
    let shop: Vec<&Value> = rows
        .iter()
        .filter(|l| l["subject"] == "shop:pinduoduo/S3")
        .collect();
    assert_eq!(shop.len(), 1, "{v}");
    assert_eq!(
        (shop[0]["captures"].as_i64(), shop[0]["sales"].as_i64()),
        (Some(2), Some(9))
    );
    let ent: Vec<(&str, i64)> = rows
        .iter()
        .filter(|l| l["subject"] == format!("seller:{ENT}"))
        .map(|l| (l["status"].as_str().unwrap(), l["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(ent.len(), 2, "{v}");
    assert!(ent.contains(&("closed", wz.as_i64().unwrap())), "{ent:?}");
    assert!(ent.iter().any(|(s, id)| *s == "new" && *id > 3), "{ent:?}");

    // Every read and change is in the audit log, refusals too.
    let entries = c
        .engine
        .ops()
        .audit_records(&ops::AuditFilter::default())
        .await
        .unwrap();
    let of = |actor: &str, action: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|r| r.entry.actor == actor && r.entry.action == action)
            .map(|r| r.entry.outcome.clone())
            .collect()
    };
    let changes = of("market", "update_lead");
    let ok: Vec<&String> = changes.iter().filter(|o| o.starts_with("ok")).collect();
    assert_eq!(
        ok,
        [
            &format!("ok: lead {wz} new -> assigned"),
            &format!("ok: lead {wz} assigned -> verified"),
            &format!("ok: lead {wz} verified -> closed"),
        ]
    );
    assert!(
        changes.iter().any(|o| o.contains("cannot become")),
        "{changes:?}"
    );
    assert!(
        of("market_hb", "update_lead")
            .iter()
            .filter(|o| o.starts_with("denied: "))
            .count()
            >= 3
    );
    assert!(of("market", "market").iter().any(|o| o.starts_with("ok")));
    assert!(
        of("epi", "market")
            .iter()
            .all(|o| o.starts_with("denied: "))
    );
    assert!(
        entries.iter().all(|r| !r.entry.query.contains("张三")),
        "a note reached the audit log"
    );

    // The routes are in the OpenAPI document, with the purpose among X-Purpose's values.
    let (_, doc) = c.get(None, None, "/api/openapi.json").await;
    for (path, method) in [
        ("/market/leads", "get"),
        ("/market/leads/{id}/status", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in ["StoredLeadView", "LeadChange", "LeadStatusChange"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert!(doc.to_string().contains("market_supervision"));
    c.stop().await;
}

/// Two days of daily masks in Wenzhou (two shops in Lucheng, one in Longwan) and one in Wuhan;
/// on the 25th Lucheng's second shop asks ten times the rest.
fn priced() -> String {
    let mut s = String::from(
        "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time\n",
    );
    for (day, hike) in [("2020-01-24", 1.0), ("2020-01-25", 10.0)] {
        for (listing, region, price) in [
            ("W1", "330302", 1.0),
            ("W2", "330302", 1.0 * hike),
            ("W3", "330303", 2.0),
            ("H1", "420106", 3.0),
        ] {
            s += &format!(
                "jd,{listing},S{listing},{ENT},{region},日用口罩,daily,GB/T 32610-2016,,{price:.2},1,1,{day}T10:00:00+08:00\n"
            );
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_are_per_prefecture_within_the_region_and_refused_outside_it() {
    let mut c = City::start().await;
    let (s, v) = c
        .upload("admin", "listings", priced().into_bytes(), "text/csv")
        .await;
    assert_eq!((s, &v["rows_rejected"]), (StatusCode::OK, &json!(0)), "{v}");
    let days = |v: &Value| -> Vec<(String, String, i64, u64)> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|d| {
                (
                    d["date"].as_str().unwrap().to_string(),
                    d["prefecture"].as_str().unwrap().to_string(),
                    d["median_unit_price_micro"].as_i64().unwrap(),
                    d["flagged"].as_u64().unwrap(),
                )
            })
            .collect()
    };

    // Wenzhou's supervisor sees Wenzhou; the 25th's median is 2 yuan and the 10 yuan listing
    // is flagged (above 3 × 2).
    let (s, v) = c.get(Some("market"), MS, "/api/v1/market/prices").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        days(&v),
        [
            ("2020-01-24".into(), "330300".into(), 1_000_000, 0),
            ("2020-01-25".into(), "330300".into(), 2_000_000, 1),
        ]
    );
    let d = &v[1];
    assert_eq!(
        (
            d["product"].as_str(),
            d["captures"].as_u64(),
            d["listings"].as_u64(),
            d["flagged_share"].as_f64(),
            d["median_unit_price_cny"].as_f64()
        ),
        (Some("daily"), Some(3), Some(3), Some(0.333333), Some(2.0))
    );
    // Hubei's sees Wuhan only, the admin both.
    let (_, v) = c.get(Some("market_hb"), MS, "/api/v1/market/prices").await;
    let hb: Vec<String> = days(&v).into_iter().map(|d| d.1).collect();
    assert_eq!(hb, ["420100", "420100"]);
    let (_, v) = c.get(Some("admin"), MS, "/api/v1/market/prices").await;
    assert_eq!(days(&v).len(), 4, "{v}");

    // Filters within the region; a region outside it is refused, not emptied.
    let (s, v) = c
        .get(
            Some("market"),
            MS,
            "/api/v1/market/prices?region=330302&product=daily&from=2020-01-25&to=2020-01-25",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(days(&v).len(), 1, "{v}");
    let (_, v) = c
        .get(Some("market"), MS, "/api/v1/market/prices?product=surgical")
        .await;
    assert_eq!(v, json!([]));
    // A code no table knows is a region like any other: nothing there.
    let (s, v) = c
        .get(Some("admin"), MS, "/api/v1/market/prices?region=990000")
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    for outside in ["420000", "420106", "330000"] {
        let (s, v) = c
            .get(
                Some("market"),
                MS,
                &format!("/api/v1/market/prices?region={outside}"),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{outside}: {v}");
    }
    for bad in [
        "product=n95",
        "region=33",
        "from=2020-01-25&to=2020-01-24",
        "from=2020-02-30",
        "color=green",
    ] {
        let (s, v) = c
            .get(Some("market"), MS, &format!("/api/v1/market/prices?{bad}"))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let long = format!("/api/v1/market/prices?product={}", "x".repeat(20_000));
    let (s, v) = c.get(Some("market"), MS, &long).await;
    assert!(
        s == StatusCode::BAD_REQUEST || s == StatusCode::URI_TOO_LONG,
        "{s} {v}"
    );
    assert!(
        v.to_string().len() < 500,
        "the error echoes the value whole"
    );

    // Another role, another purpose, no token.
    let (s, _) = c
        .get(
            Some("epi"),
            Some("outbreak_response"),
            "/api/v1/market/prices",
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c
        .get(Some("market"), Some("analysis"), "/api/v1/market/prices")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.get(None, MS, "/api/v1/market/prices").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Audited, refusals too; documented with its own operation id.
    let entries = c
        .engine
        .ops()
        .audit_records(&ops::AuditFilter::default())
        .await
        .unwrap();
    let outcomes = |actor: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|r| r.entry.actor == actor && r.entry.action == "market")
            .map(|r| r.entry.outcome.clone())
            .collect()
    };
    let mine = outcomes("market");
    assert!(mine.iter().any(|o| o.starts_with("ok")), "{mine:?}");
    assert!(
        mine.iter().filter(|o| o.starts_with("denied")).count() >= 3,
        "{mine:?}"
    );
    assert!(outcomes("epi").iter().all(|o| o.starts_with("denied")));
    let (_, doc) = c.get(None, None, "/api/openapi.json").await;
    let op = &doc["paths"]["/market/prices"]["get"];
    assert_eq!(op["operationId"], "market_prices", "{op}");
    assert!(doc["components"]["schemas"]["PriceDayView"].is_object());

    // A county's officer (Lucheng) sees the prices of the prefecture around it, and may name
    // it; the province stays outside.
    c.engine
        .ops()
        .add_user(
            &ops::NewUser {
                name: "market_lc",
                role: "market_supervisor",
                region: Some("330302"),
                community: None,
            },
            1,
        )
        .await
        .unwrap();
    let (token, _) = c
        .engine
        .ops()
        .create_token("market_lc", "test", 1, None)
        .await
        .unwrap();
    c.tokens.insert("market_lc", token);
    let (s, v) = c.get(Some("market_lc"), MS, "/api/v1/market/prices").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let seen: Vec<String> = days(&v).into_iter().map(|d| d.1).collect();
    assert_eq!(seen, ["330300", "330300"], "{v}");
    for (region, status) in [
        ("330300", StatusCode::OK),
        ("330000", StatusCode::FORBIDDEN),
        ("330303", StatusCode::FORBIDDEN),
    ] {
        let (s, v) = c
            .get(
                Some("market_lc"),
                MS,
                &format!("/api/v1/market/prices?region={region}"),
            )
            .await;
        assert_eq!(s, status, "{region}: {v}");
    }
    c.stop().await;
}
