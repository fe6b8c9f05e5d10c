//! Price monitoring on the generator's market read from a real store: the days agree with the
//! scan of the same captures (the flagged listings per day, prefecture and product are the
//! scan's; the medians are those `price_outlier` evidence quotes), a filter keeps exactly its
//! groups, a period its days, and the generator's prices rise after 2020-01-20.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;

use fangyi_market::{MarketRules, PriceDay, prices, scan};
use model::{Date, Product, Region, Zone};
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn store(dir: &std::path::Path) -> Store {
    let out = dir.join("gen");
    let config = synth::Config {
        persons: 20_000,
        days: 12,
        start: Date::from_ymd(2020, 1, 14).unwrap(),
        region: Region::new(330300).unwrap(),
        format: synth::Format::Parquet,
        power_baseline_days: 0,
        power_last_year: false,
        ..synth::Config::default()
    };
    synth::generate(&config, &out, &|_| {}, &AtomicBool::new(false)).unwrap();
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            [
                "listings",
                "device_registrations",
                "price_baselines",
                "enterprises",
            ]
            .contains(&name.split(['-', '.']).next().unwrap_or(""))
        })
        .collect();
    let k = Keys::derive(&MasterKey::from_bytes([5; 32]));
    let data = dir.join("data");
    let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    ingest::run(
        &mut w,
        &k,
        &files,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    drop(w);
    Store::open(&data, k.key_id()).unwrap()
}

type Group = (Date, Region, Product);

#[test]
fn prices_agree_with_the_scan_filter_by_group_and_rise_after_the_20th() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let rules = MarketRules::default();
    let all = prices(&store, &rules, None, None, &|_, _| true).unwrap();
    let report = scan(&store, &rules, None, None).unwrap();
    assert_eq!(all.captures, report.captures);
    assert!(all.days.len() > 20, "{}", all.days.len());

    // The flagged listings of each group are the scan's.
    let mut flagged: BTreeMap<Group, BTreeSet<(String, String)>> = BTreeMap::new();
    for f in &report.flagged {
        if let Some(r) = f.seller_region {
            flagged
                .entry((f.captured_time.date(Zone::CST), r.prefecture(), f.product))
                .or_default()
                .insert((f.platform.clone(), f.listing_id.clone()));
        }
    }
    for d in &all.days {
        let want = flagged
            .get(&(d.date, d.prefecture, d.product))
            .map_or(0, |s| s.len() as u64);
        assert_eq!(d.flagged, want, "{d:?}");
        assert!(d.flagged <= d.listings && d.listings <= d.captures && d.captures > 0);
    }
    // Each outlier's evidence quotes its group's median and count.
    for f in &report.flagged {
        if let Some(e) = &f.evidence.price_outlier {
            let d = all
                .days
                .iter()
                .find(|d| {
                    d.date.to_string() == e.date
                        && d.prefecture.to_string() == e.prefecture
                        && d.product.as_str() == e.product
                })
                .expect("the outlier's group");
            assert_eq!(
                (d.median.cny(), d.captures),
                (e.median_unit_price_cny, e.captures)
            );
        }
    }

    // A filter keeps exactly its groups; a period exactly its days.
    let first = all.days[0].prefecture;
    let some = prices(&store, &rules, None, None, &|r, p| {
        r == first && p == Product::Surgical
    })
    .unwrap();
    let want: Vec<&PriceDay> = all
        .days
        .iter()
        .filter(|d| d.prefecture == first && d.product == Product::Surgical)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(some.days.iter().collect::<Vec<_>>(), want);
    let (from, to) = (Date::from_ymd(2020, 1, 18), Date::from_ymd(2020, 1, 21));
    let period = prices(&store, &rules, from, to, &|_, _| true).unwrap();
    let want: Vec<&PriceDay> = all
        .days
        .iter()
        .filter(|d| Some(d.date) >= from && Some(d.date) <= to)
        .collect();
    assert_eq!(period.days.iter().collect::<Vec<_>>(), want);
    let none = prices(&store, &rules, None, None, &|_, _| false).unwrap();
    assert!(none.days.is_empty());

    // The generator's prices rise after 2020-01-20: the last day's median is above the first's
    // for most groups seen on both.
    let day = |d: &PriceDay| (d.prefecture, d.product);
    let (mut up, mut seen) = (0, 0);
    for d in all
        .days
        .iter()
        .filter(|d| d.date == Date::from_ymd(2020, 1, 25).unwrap())
    {
        if let Some(b) = all
            .days
            .iter()
            .find(|b| day(b) == day(d) && b.date == Date::from_ymd(2020, 1, 14).unwrap())
        {
            seen += 1;
            up += usize::from(d.median > b.median);
        }
    }
    assert!(seen > 0 && up * 2 > seen, "{up} of {seen} groups rose");
}
