//! The generator's power readings for work resumption: the baseline period of the year before,
//! the simulated days' lunar-calendar twins, the festival dip and restart in the readings, and
//! the true per-industry recovery curves in `truth/power_recovery.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use fangyi_synth::{Config, generate};

/// (date → (readings, total kWh)) of every power file in `dir`.
fn readings(dir: &Path) -> BTreeMap<String, (u64, f64)> {
    let mut by_day: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("power")
        {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let d = by_day.entry(cells[1].to_string()).or_default();
            d.0 += 1;
            d.1 += cells[2].parse::<f64>().unwrap();
        }
    }
    by_day
}

#[test]
fn the_year_before_the_dip_the_restart_and_the_true_curves() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        persons: 4_000,
        days: 40,
        power_baseline_days: 31,
        ..Config::default()
    };
    generate(&config, dir.path(), &|_| {}, &AtomicBool::new(false)).unwrap();
    let by_day = readings(dir.path());
    let enterprises = std::fs::read_to_string(dir.path().join("enterprises.csv"))
        .unwrap()
        .lines()
        .count() as u64
        - 1;
    // December 2019 in full, every enterprise every day; nothing in November.
    let december: Vec<&String> = by_day.keys().filter(|d| d.starts_with("2019-12")).collect();
    assert_eq!(december.len(), 31);
    assert!(by_day.keys().all(|d| !d.starts_with("2019-11")));
    assert!(by_day.values().all(|(n, _)| *n == enterprises));
    // The simulated days (from 2020-01-14) and their twins 354 days earlier (from 2019-01-25).
    assert!(by_day.contains_key("2020-01-14") && by_day.contains_key("2020-02-22"));
    assert!(by_day.contains_key("2019-01-25") && by_day.contains_key("2019-03-05"));
    assert!(!by_day.contains_key("2019-03-06"));
    // Power falls over the festival and comes back: a December workday, the extended holiday,
    // two weeks after work resumed.
    let kwh = |d: &str| by_day[d].1;
    assert!(kwh("2020-02-05") < 0.5 * kwh("2019-12-04"));
    assert!(kwh("2020-02-20") > 1.5 * kwh("2020-02-05"));
    // Last year the dip was around 2019-02-05 and over sooner.
    assert!(kwh("2019-02-06") < 0.5 * kwh("2019-12-04"));
    assert!(kwh("2019-02-27") > 0.8 * kwh("2019-12-04"));

    // The truth: per industry and simulated day, the share of normal power use.
    let truth = std::fs::read_to_string(dir.path().join("truth/power_recovery.csv")).unwrap();
    let mut lines = truth.lines();
    assert_eq!(lines.next(), Some("industry,date,enterprises,activity"));
    let mut curve: BTreeMap<(String, String), f64> = BTreeMap::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        curve.insert((c[0].into(), c[1].into()), c[3].parse().unwrap());
    }
    let industries: BTreeSet<&String> = curve.keys().map(|(i, _)| i).collect();
    assert!(industries.len() > 5, "{industries:?}");
    assert_eq!(curve.len(), industries.len() * 40);
    // Everyone at work before the festival; catering (never critical) at its floor in the
    // extended holiday; shoes and clothing (labour-intensive, slow) not yet back on February 20.
    let at = |i: &str, d: &str| curve[&(i.to_string(), d.to_string())];
    assert!(industries.iter().all(|i| at(i, "2020-01-14") == 1.0));
    assert_eq!(at("住宿餐饮", "2020-02-05"), 0.12);
    assert!(at("制造业-鞋服", "2020-02-20") < 0.8);
    assert!(curve.values().all(|a| (0.0..=1.0).contains(a)));
}
