//! `fangyi market` end to end on a small generated market: twelve shops on three platforms,
//! two listings each captured twice a day for three days, with violations of every rule of
//! contract §9 injected by shop. The scan's JSON and the leads are golden files
//! (`UPDATE_GOLDEN=1 cargo test -p fangyi --test market` rewrites them); the period, the rules
//! file (show, a bad one, diff) and bad flags are checked here.

mod common;

use common::{Env, golden, indent_json};

/// A valid unified social credit code for enterprise `n` of Wenzhou's Lucheng district.
fn uscc(n: usize) -> String {
    let mut body = *b"91330302MA0000000";
    let charset = model::EnterpriseId::charset();
    let mut v = n;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[v % 31];
        v /= 31;
    }
    model::EnterpriseId::from_body(&body).unwrap().to_string()
}

const PRODUCTS: [&str; 5] = [
    "medical_protective",
    "surgical",
    "medical",
    "respirator",
    "daily",
];
const STANDARDS: [&str; 5] = [
    "GB 19083-2010",
    "YY 0469-2011",
    "YY/T 0969-2013",
    "GB 2626-2019",
    "GB/T 32610-2016",
];
/// Unit prices before the emergency, in fen.
const BASE_FEN: [u32; 5] = [600, 120, 80, 450, 40];
const DAYS: [&str; 3] = ["2020-01-24", "2020-01-25", "2020-01-26"];

/// Writes the market's four files under `in/`.
fn generate(env: &Env) {
    let ents: Vec<String> = (1..=6).map(uscc).collect();
    // Enterprise 6 sells but is not in `enterprises`.
    let mut e = String::from("enterprise_id,name,industry,region\n");
    for (i, id) in ents.iter().take(5).enumerate() {
        e += &format!("{id},口罩商{i},retail,330302\n");
    }
    env.write("in/enterprises.csv", &e);
    let mut regs =
        String::from("registration_no,holder_enterprise_id,product,valid_from,valid_to\n");
    for (i, p) in PRODUCTS.iter().enumerate().take(3) {
        regs += &format!("浙械注准2019214000{i},{},{p},2019-01-01,\n", ents[0]);
    }
    // One that ends on the 25th: valid for the 25th's captures, not the 26th's.
    regs += &format!(
        "浙械注准20192149999,{},surgical,2019-01-01,2020-01-25\n",
        ents[1]
    );
    env.write("in/device_registrations.csv", &regs);
    let mut base = String::from("shop_id,product,unit_price_cny,date\n");
    let mut listings = String::from(
        "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time\n",
    );
    let platforms = ["jd", "pinduoduo", "tmall"];
    for s in 0..12usize {
        let platform = platforms[s % 3];
        let shop = format!("S{s:02}");
        let seller = match s {
            9 | 11 => String::new(),
            10 => ents[5].clone(),
            _ => ents[s % 5].clone(),
        };
        let region = match s {
            9 => "",
            s if s % 2 == 0 => "330302",
            _ => "330304",
        };
        for l in 0..2usize {
            let p = (s + l) % 5;
            let product = PRODUCTS[p];
            // Shops 0–5 have baselines (an older, higher one first: the latest counts).
            if s <= 5 {
                base += &format!(
                    "{shop},{product},{:.2},2019-10-01\n",
                    BASE_FEN[p] as f64 * 2.0 / 100.0
                );
                base += &format!(
                    "{shop},{product},{:.2},2019-12-20\n",
                    BASE_FEN[p] as f64 / 100.0
                );
            }
            let standard = match s {
                11 => String::new(),
                3 => "GB 2626".to_string(),
                4 => STANDARDS[p].to_lowercase().replace(' ', ""),
                _ => STANDARDS[p].to_string(),
            };
            let registration = if p >= 3 {
                String::new()
            } else {
                match s {
                    5 => String::new(),
                    6 if p == 1 => "浙械注准20192149999".to_string(),
                    6 => format!("浙械注准2019214000{}", (p + 1) % 3),
                    8 => "浙械注准20190000000".to_string(),
                    _ => format!("浙械注准2019214000{p}"),
                }
            };
            let title = if s == 7 && p >= 3 {
                format!("{product} 口罩 防病毒 99.99%")
            } else {
                format!("{product} 口罩")
            };
            let units = 1 + (s % 3) as u32 * 9;
            for (d, day) in DAYS.iter().enumerate() {
                for (h, time) in ["09:00:00+08:00", "13:00:00Z"].iter().enumerate() {
                    let mut fen = BASE_FEN[p];
                    // Shop 2 raises its prices by a fifth from the second day.
                    if s == 2 && d >= 1 {
                        fen = fen * 6 / 5;
                    }
                    // Shop 8 (no baseline) asks ten times the market on the last evening.
                    if s == 8 && d == 2 && h == 1 {
                        fen *= 10;
                    }
                    let price = fen as f64 * units as f64 / 100.0;
                    let sales = 100 * s + 10 * d + h;
                    listings += &format!(
                        "{platform},{platform}-{s}-{l},{shop},{seller},{region},{title},{product},{standard},{registration},{price:.2},{units},{sales},{day}T{time}\n"
                    );
                }
            }
        }
    }
    env.write("in/price_baselines.csv", &base);
    env.write("in/listings.csv", &listings);
}

fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn scan_leads_and_rules_on_a_generated_market() {
    let env = Env::new();
    generate(&env);
    let out = env.ok(&[
        "ingest",
        env.path("in").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["rows_rejected"], 0, "{out}");

    let scan = env.ok(&["market", "scan", "--format", "json"]);
    let rows = jsonl(&scan);
    golden(
        "market-scan.json",
        &scan.lines().map(indent_json).collect::<String>(),
    );
    // Every rule fires somewhere; rules are sorted; rows in the contract's order.
    let mut seen = std::collections::BTreeSet::new();
    for r in &rows {
        let rules: Vec<&str> = r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(rules.is_sorted(), "{r}");
        assert_eq!(
            r.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "captured_time",
                "evidence",
                "listing_id",
                "platform",
                "rules",
                "shop_id",
                "unit_price_cny"
            ]
        );
        for rule in &rules {
            assert!(
                r["evidence"].get(rule).is_some(),
                "{rule} without evidence: {r}"
            );
        }
        seen.extend(rules.into_iter().map(str::to_string));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "efficacy_claim",
            "no_standard",
            "price_outlier",
            "price_rise",
            "standard_mismatch",
            "unknown_seller",
            "unregistered"
        ]
    );
    let key = |r: &serde_json::Value| {
        (
            r["platform"].as_str().unwrap().to_string(),
            r["listing_id"].as_str().unwrap().to_string(),
            model::Timestamp::parse_rfc3339(r["captured_time"].as_str().unwrap().as_bytes())
                .unwrap(),
        )
    };
    assert!(rows.windows(2).all(|w| key(&w[0]) < key(&w[1])));

    // One day: the captures of the 26th in +08:00 only.
    let day = jsonl(&env.ok(&[
        "market",
        "scan",
        "--from",
        "2020-01-26",
        "--to",
        "2020-01-26",
        "--format",
        "json",
    ]));
    assert!(!day.is_empty());
    assert!(day.iter().all(|r| {
        r["captured_time"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-26")
    }));
    let want: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["captured_time"]
                .as_str()
                .unwrap()
                .starts_with("2020-01-26")
        })
        .cloned()
        .collect();
    assert_eq!(day, want);

    // The stored leads: the times they were opened and moved are the wall clock's, so they
    // are checked here and left out of the golden file.
    let mut stored: serde_json::Value =
        serde_json::from_str(&env.ok(&["market", "leads", "--format", "json"])).unwrap();
    for l in stored.as_array_mut().unwrap() {
        let l = l.as_object_mut().unwrap();
        let (c, u) = (
            l.remove("created_at").unwrap(),
            l.remove("updated_at").unwrap(),
        );
        assert!(c.as_i64().unwrap() > 1_600_000_000_000 && c == u, "{l:?}");
    }
    golden("market-leads.json", &indent_json(&stored.to_string()));
    let top: serde_json::Value = serde_json::from_str(&env.ok(&[
        "market", "leads", "--top", "1", "--region", "330304", "--format", "json",
    ]))
    .unwrap();
    assert_eq!(top.as_array().unwrap().len(), 1);
    assert_eq!(top[0]["county"], "330304");
    let table = env.ok(&["market", "leads", "--format", "table"]);
    assert!(table.contains("(no region)"), "{table}");

    // The rules file: the built-in one, checked and changed.
    let shown = env.ok(&["market", "rules", "show"]);
    assert!(shown.contains("tolerance_percent = 0") && shown.contains("\"灭活\""));
    let lenient = env.write(
        "lenient.toml",
        &shown.replace("tolerance_percent = 0", "tolerance_percent = 25"),
    );
    let lenient = lenient.to_str().unwrap();
    env.ok(&["market", "rules", "show", "--rules", lenient]);
    let diff: serde_json::Value =
        serde_json::from_str(&env.ok(&["market", "rules", "diff", lenient, "--format", "json"]))
            .unwrap();
    let rise = &diff["rules"]["price_rise"];
    assert_eq!(rise["proposed"], 0, "{diff}");
    assert_eq!(rise["removed"], rise["current"]);
    assert!(rise["current"].as_u64().unwrap() > 0);
    assert_eq!(diff["rules"]["unregistered"]["added"], 0);
    let text = env.ok(&["market", "rules", "diff", lenient]);
    assert!(text.contains("price_rise"), "{text}");
    let scan_lenient = jsonl(&env.ok(&["market", "scan", "--rules", lenient, "--format", "json"]));
    assert!(
        scan_lenient
            .iter()
            .all(|r| r["evidence"].get("price_rise").is_none())
    );

    let bad = env.write("bad.toml", &shown.replace("k = 3", "k = -1"));
    let err = env.fails(
        &["market", "rules", "show", "--rules", bad.to_str().unwrap()],
        2,
    );
    assert!(err.contains("price_outlier.k"), "{err}");
    let err = env.fails(&["market", "scan", "--rules", bad.to_str().unwrap()], 2);
    assert!(err.contains("bad.toml"), "{err}");
    let err = env.fails(
        &[
            "market",
            "scan",
            "--from",
            "2020-01-26",
            "--to",
            "2020-01-24",
        ],
        2,
    );
    assert!(err.contains("--from"), "{err}");
    let err = env.fails(&["market", "scan", "--from", "2020-02-30"], 2);
    assert!(err.contains("2020-02-30"), "{err}");
    env.fails(&["market", "leads", "--region", "3303"], 2);
    leads_workflow(&env, &stored);
}

/// The stored leads worked at the command line: one step at a time, a reason to dismiss, the
/// note shown but stored sealed, and a scan again changing no lead's state or number.
fn leads_workflow(env: &Env, stored: &serde_json::Value) {
    let first = stored[0]["id"].as_i64().unwrap().to_string();
    let second = stored[1]["id"].as_i64().unwrap().to_string();
    let note = "李四 took the listing down";
    let out = env.ok(&[
        "market", "leads", "--status", &first, "assigned", "--note", note,
    ]);
    assert_eq!(out.trim(), format!("lead {first}: new -> assigned"));
    let err = env.fails(&["market", "leads", "--status", &first, "closed"], 2);
    assert!(err.contains("cannot become closed"), "{err}");
    let err = env.fails(&["market", "leads", "--status", &second, "dismissed"], 2);
    assert!(err.contains("reason"), "{err}");
    env.ok(&[
        "market",
        "leads",
        "--status",
        &second,
        "dismissed",
        "--note",
        "a test listing",
    ]);
    let err = env.fails(&["market", "leads", "--status", "99999", "assigned"], 2);
    assert!(err.contains("lead 99999"), "{err}");
    env.fails(&["market", "leads", "--status", &first, "open"], 2);
    env.fails(&["market", "leads", "--status", &first], 2);
    let assigned: serde_json::Value = serde_json::from_str(
        &env.ok(&["market", "leads", "--state", "assigned", "--format", "json"]),
    )
    .unwrap();
    assert_eq!(assigned.as_array().unwrap().len(), 1, "{assigned}");
    assert_eq!(assigned[0]["id"].as_i64(), stored[0]["id"].as_i64());
    assert_eq!(assigned[0]["note"], note);
    let table = env.ok(&["market", "leads", "--format", "table"]);
    assert!(
        table.contains("assigned") && table.contains("dismissed"),
        "{table}"
    );
    // Scanned again: as many leads, the same numbers.
    let again: serde_json::Value =
        serde_json::from_str(&env.ok(&["market", "leads", "--format", "json"])).unwrap();
    let ids = |v: &serde_json::Value| {
        let mut ids: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(stored));
    // The note is in the operational database only sealed.
    let db = std::fs::read(env.path("data/ops.db")).unwrap();
    assert!(!db.windows(6).any(|w| w == "李四".as_bytes()));
}

#[test]
fn an_empty_store_flags_nothing_and_no_store_is_refused() {
    let env = Env::new();
    env.fails(&["market", "scan", "--format", "json"], 2);
    // `rules show` needs no data dir.
    env.ok(&["market", "rules", "show"]);
    env.write(
        "in/enterprises.csv",
        &format!(
            "enterprise_id,name,industry,region\n{},甲,retail,330302\n",
            uscc(1)
        ),
    );
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    assert_eq!(env.ok(&["market", "scan", "--format", "json"]), "");
    assert_eq!(
        env.ok(&["market", "leads", "--format", "json"]).trim(),
        "[]"
    );
}

#[test]
fn prices_per_day_prefecture_and_product() {
    let env = Env::new();
    generate(&env);
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    // Every seller here is in Wenzhou's Lucheng or Longwan (330300), or names no region: one
    // prefecture, five products, three days. Shop 8's ten-fold evening price on the 26th is the
    // one outlier; the share flagged counts listings, not captures.
    let json = env.ok(&["market", "prices", "--format", "json"]);
    golden("market-prices.json", &indent_json(json.trim()));
    let days: serde_json::Value = serde_json::from_str(&json).unwrap();
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 15, "{json}");
    for d in days {
        assert_eq!(d["prefecture"], "330300");
        let (n, flagged) = (
            d["listings"].as_u64().unwrap(),
            d["flagged"].as_u64().unwrap(),
        );
        assert!(flagged <= n && n <= d["captures"].as_u64().unwrap());
    }

    // Filters: a product, a county (its prefecture), a period; another prefecture is empty.
    let some: serde_json::Value = serde_json::from_str(&env.ok(&[
        "market",
        "prices",
        "--product",
        "surgical",
        "--region",
        "330302",
        "--from",
        "2020-01-25",
        "--format",
        "json",
    ]))
    .unwrap();
    let want: Vec<&serde_json::Value> = days
        .iter()
        .filter(|d| d["product"] == "surgical" && d["date"] != "2020-01-24")
        .collect();
    assert_eq!(some.as_array().unwrap().iter().collect::<Vec<_>>(), want);
    assert_eq!(
        env.ok(&["market", "prices", "--region", "420000", "--format", "json"])
            .trim(),
        "[]"
    );
    let csv = env.ok(&["market", "prices", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 16, "{csv}");
    assert!(csv.starts_with("date,prefecture,product,median_unit_price_micro,"));
    let table = env.ok(&["market", "prices", "--format", "table"]);
    assert!(table.contains("330300"), "{table}");

    // Bad flags, and a role that is not the market's.
    for bad in [
        &["market", "prices", "--product", "n95"][..],
        &["market", "prices", "--region", "33"],
        &[
            "market",
            "prices",
            "--from",
            "2020-01-26",
            "--to",
            "2020-01-24",
        ],
        &["market", "prices", "--to", "2020-13-01"],
        &["--as-role", "epidemiologist", "market", "prices"],
    ] {
        env.fails(bad, 2);
    }
}
