//! The generator's market (synth) scanned from a real store: every injected violation recorded
//! in `truth/market.csv` is found and nothing else is flagged (precision = recall = 1), under
//! the default rules the truth assumes.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use fangyi_market::{MarketRules, scan};
use model::{Date, Zone};
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([5; 32]))
}

type Finding = (String, String, String, String);

fn truth(dir: &Path) -> BTreeSet<Finding> {
    let text = std::fs::read_to_string(dir.join("truth/market.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

fn generated(format: synth::Format, bad_rows: f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let config = synth::Config {
        persons: 20_000,
        days: 12,
        start: Date::from_ymd(2020, 1, 14).unwrap(),
        region: model::Region::new(330300).unwrap(),
        format,
        bad_row_rate: bad_rows,
        power_baseline_days: 0,
        power_last_year: false,
        ..synth::Config::default()
    };
    synth::generate(&config, &out, &|_| {}, &AtomicBool::new(false)).unwrap();
    let want = truth(&out);
    let rules: BTreeSet<&str> = want.iter().map(|f| f.3.as_str()).collect();
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        [
            "efficacy_claim",
            "no_standard",
            "price_outlier",
            "price_rise",
            "standard_mismatch",
            "unknown_seller",
            "unregistered"
        ],
        "every rule injected"
    );

    // Only the kinds the scan reads.
    let mut files = Vec::new();
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if [
            "listings",
            "device_registrations",
            "price_baselines",
            "enterprises",
        ]
        .iter()
        .any(|k| name.split(['-', '.']).next() == Some(*k))
        {
            files.push(p);
        }
    }
    let data = dir.path().join("data");
    let k = keys();
    let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    let s = ingest::run(
        &mut w,
        &k,
        &files,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(s.rows_accepted > 5_000, "{s:?}");
    drop(w);
    let store = Store::open(&data, k.key_id()).unwrap();
    let report = scan(&store, &MarketRules::default(), None, None).unwrap();
    let got: BTreeSet<Finding> = report
        .flagged
        .iter()
        .flat_map(|f| {
            f.rules.iter().map(|r| {
                (
                    f.platform.clone(),
                    f.listing_id.clone(),
                    f.captured_time.to_rfc3339(Zone::CST),
                    r.as_str().to_string(),
                )
            })
        })
        .collect();
    let missed: Vec<_> = want.difference(&got).take(10).collect();
    let extra: Vec<_> = got.difference(&want).take(10).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{} of {} truth rows missed, {} flagged beyond it\nmissed: {missed:?}\nextra: {extra:?}",
        want.difference(&got).count(),
        want.len(),
        got.difference(&want).count()
    );
}

#[test]
fn every_injected_violation_is_found_and_nothing_else() {
    generated(synth::Format::Csv, 0.0);
}

#[test]
fn bad_rows_and_parquet_change_nothing() {
    generated(synth::Format::Parquet, 0.01);
}
