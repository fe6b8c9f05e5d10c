//! `fangyi resume index` end to end on a small hand-made economy: the contract's JSON as a
//! golden file, by industry and county, CSV, and bad flags as usage errors.

mod common;

use common::{Env, golden, indent_json};

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

/// Five enterprises: three in Hangzhou (two counties, two industries), one in Ningbo, one with
/// no December reading (not indexed); baselines from December, readings for February 10–12,
/// and a later file correcting one reading.
fn load(env: &Env) {
    let ids: Vec<String> = [
        (330106, 1),
        (330106, 2),
        (330108, 3),
        (330203, 4),
        (330203, 5),
    ]
    .iter()
    .map(|&(c, n)| uscc(c, n))
    .collect();
    let mut e = String::from("enterprise_id,name,industry,region,employees\n");
    for (i, (industry, region)) in [
        ("retail", "330106"),
        ("manufacturing", "330106"),
        ("manufacturing", "330108"),
        ("retail", "330203"),
        ("retail", "330203"),
    ]
    .iter()
    .enumerate()
    {
        e += &format!("{},E{i},{industry},{region},10\n", ids[i]);
    }
    env.write("in/enterprises.csv", &e);
    let mut p = String::from("enterprise_id,date,kwh\n");
    // December baselines: 100, 40 (two days: 30 and 50), 200, 10; the fifth none.
    for (i, day, kwh) in [
        (0, "2019-12-02", "100"),
        (1, "2019-12-02", "30"),
        (1, "2019-12-03", "50"),
        (2, "2019-12-02", "200"),
        (3, "2019-12-02", "10"),
    ] {
        p += &format!("{},{day},{kwh}\n", ids[i]);
    }
    for (i, day, kwh) in [
        (0, "2020-02-10", "20"),
        (1, "2020-02-10", "12"),
        (2, "2020-02-10", "59.9995"),
        (3, "2020-02-10", "2.9"),
        (4, "2020-02-10", "500"),
        (0, "2020-02-11", "35.5"),
        (1, "2020-02-11", "11.999"),
        (2, "2020-02-11", "180"),
        (3, "2020-02-11", "3"),
    ] {
        p += &format!("{},{day},{kwh}\n", ids[i]);
    }
    env.write("in/power.csv", &p);
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    // A later delivery corrects enterprise 4's February 10 reading up to 4 kWh.
    env.write(
        "fix/power-fix.csv",
        &format!("enterprise_id,date,kwh\n{},2020-02-10,4\n", ids[3]),
    );
    env.ok(&["ingest", env.path("fix").to_str().unwrap()]);
}

#[test]
fn the_index_as_json_csv_and_by_industry() {
    let env = Env::new();
    load(&env);
    let period = [
        "resume",
        "index",
        "--from",
        "2020-02-10",
        "--to",
        "2020-02-12",
    ];
    golden(
        "resume-index-prefecture.json",
        &indent_json(&env.ok(&[&period[..], &["--format", "json"]].concat())),
    );
    golden(
        "resume-index-county-industry.json",
        &indent_json(
            &env.ok(&[
                &period[..],
                &["--level", "county", "--by", "industry", "--format", "json"],
            ]
            .concat()),
        ),
    );
    let csv = env.ok(&[&period[..], &["--level", "province", "--format", "csv"]].concat());
    assert_eq!(
        csv.lines().next(),
        Some("region,industry,date,indexed,resumed,firms_share,power_share,index")
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // θ and the baseline period change the answer: no December 2 → one baseline day fewer.
    let one: serde_json::Value = serde_json::from_str(&env.ok(&[
        "resume",
        "index",
        "--from",
        "2020-02-11",
        "--to",
        "2020-02-11",
        "--level",
        "province",
        "--theta",
        "0.9",
        "--baseline",
        "2019-12-03..2019-12-31",
        "--format",
        "json",
    ]))
    .unwrap();
    // Only enterprise 2 has a baseline (50); 11.999 < 45.
    assert_eq!(one[0]["indexed"], 1);
    assert_eq!(one[0]["resumed"], 0);

    for (flags, says) in [
        (&["--theta", "1.5"][..], "theta 1.5"),
        (&["--baseline", "2019-12-01"][..], "baseline 2019-12-01"),
        (&["--to", "2020-02-01"][..], "the end is before the start"),
    ] {
        let mut args = vec!["resume", "index", "--from", "2020-02-10"];
        if !flags.contains(&"--to") {
            args.extend(["--to", "2020-02-12"]);
        }
        args.extend_from_slice(flags);
        let e = env.fails(&args, 2);
        assert!(e.contains(says), "{flags:?}: {e}");
    }
}

#[test]
fn a_forecast_per_series_with_its_backtest() {
    let env = Env::new();
    load(&env);
    let out = env.ok(&[
        "resume",
        "forecast",
        "--as-of",
        "2020-02-11",
        "--days",
        "2",
        "--level",
        "prefecture",
        "--history",
        "10",
        "--method",
        "drift",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let series: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["region"].as_str().unwrap(), s["method"].as_str().unwrap()))
        .collect();
    assert_eq!(series, [("330100", "drift"), ("330200", "drift")]);
    // Hangzhou rose 43.92 → 65.02 on the last day; drift over the known days continues the
    // week's average change (from 0 on February 4 to 65.02: 9.29 a day).
    let points = v[0]["forecast"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["date"], "2020-02-12");
    assert_eq!(points[0]["index"], 74.31);
    let e = env.fails(
        &["resume", "forecast", "--as-of", "2020-02-11", "--days", "0"],
        2,
    );
    assert!(e.contains("days 0"), "{e}");
}
