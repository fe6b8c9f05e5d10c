//! The forecast on the generator's data, across the restart: for every as-of day from the
//! week before work resumed to two weeks after, each method's 7-day forecast scored against the
//! index that came (from the same store), as MASE against "same as the last day". The default
//! method must beat it (MASE < 1); the table printed is the measurement the README cites.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use fangyi_resume::forecast::{ForecastQuery, Method, power_forecast};
use fangyi_resume::power::{IndexQuery, StoreSource, power_index};
use model::{Date, Level};

#[test]
fn the_weekly_method_beats_the_last_day_across_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let config = synth::Config {
        persons: 30_000,
        days: 50,
        ..synth::Config::default()
    };
    synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("power") || name.starts_with("enterprises")
        })
        .collect();
    let keys = vault::Keys::derive(&vault::MasterKey::from_bytes([9; 32]));
    let data = dir.path().join("data");
    let mut w = store::Writer::open(&data, keys.key_id(), model::Zone::CST, || {}).unwrap();
    let s = ingest::run(
        &mut w,
        &keys,
        &files,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(s.rows_rejected, 0);
    drop(w);
    let st = store::Store::open(&data, keys.key_id()).unwrap();
    let source = StoreSource::new(&st).unwrap();

    // The index that came: province level, all industries and by industry.
    let day = |m, d| Date::from_ymd(2020, m, d).unwrap();
    let actual = |by_industry: bool| {
        let mut q = IndexQuery::new(day(1, 14), day(3, 3));
        q.level = Level::Province;
        q.by_industry = by_industry;
        power_index(&source, &q).unwrap()
    };
    let (all, industries) = (actual(false), actual(true));
    let truth = |industry: Option<&str>, date: Date| -> f64 {
        let rows = if industry.is_some() {
            &industries
        } else {
            &all
        };
        rows.iter()
            .find(|r| r.date == date && r.industry.as_deref() == industry)
            .map(|r| r.index())
            .unwrap()
    };

    let mut table = Vec::new();
    for by_industry in [false, true] {
        let mut err = [0.0f64; 4];
        let mut naive = 0.0;
        let mut as_of = day(2, 3);
        while as_of <= day(2, 24) {
            for (i, method) in Method::ALL.into_iter().enumerate() {
                let mut q = ForecastQuery::new(as_of);
                q.history = 40;
                q.method = method;
                q.index.by_industry = by_industry;
                for s in power_forecast(&source, &q).unwrap() {
                    let last = truth(s.industry.as_deref(), as_of);
                    for p in &s.points {
                        let y = truth(s.industry.as_deref(), p.date);
                        err[i] += (y - p.index).abs();
                        if method == Method::Naive {
                            naive += (y - last).abs();
                        }
                        assert!(p.low <= p.index && p.index <= p.high, "{p:?}");
                    }
                }
            }
            as_of = as_of.add_days(1);
        }
        let row: Vec<(Method, f64)> = Method::ALL
            .into_iter()
            .zip(err)
            .map(|(m, e)| (m, e / naive))
            .collect();
        eprintln!(
            "7-day MASE across the restart ({}): {}",
            if by_industry { "by industry" } else { "all" },
            row.iter()
                .map(|(m, v)| format!("{} {v:.3}", m.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        table.push(row);
    }
    for row in &table {
        assert!((row[0].1 - 1.0).abs() < 1e-9, "naive scores 1: {row:?}");
        let weekly = row.iter().find(|(m, _)| *m == Method::Weekly).unwrap().1;
        assert!(weekly < 1.0, "the default beats the last day: {row:?}");
    }
}
