//! The index over readings in memory: the published example end to end, duplicates, θ = 0,
//! and a property test against the plain reading in `reference.rs`.

use std::collections::BTreeSet;

use model::{Date, Level, Region};
use proptest::prelude::*;

use super::reference::{self, Firm, Reading};
use super::*;

/// Enterprises and readings as rows, read back in the order given.
struct Mem {
    firms: Vec<Firm>,
    readings: Vec<Reading>,
}

impl PowerSource for Mem {
    fn firms(&self, each: &mut dyn FnMut(FirmRow<'_>)) -> Result<(), PowerError> {
        for (id, region, industry, rid) in &self.firms {
            each(FirmRow {
                id: id.as_bytes(),
                region: *region,
                industry,
                rid: *rid,
            });
        }
        Ok(())
    }

    fn days(&self, from: Date, to: Date) -> Vec<Date> {
        let days: BTreeSet<Date> = self.readings.iter().map(|r| r.1).collect();
        days.range(from..=to).copied().collect()
    }

    fn read_day(
        &self,
        day: Date,
        exact: bool,
        each: &mut dyn FnMut(&[u8], f64, i64),
    ) -> Result<(), PowerError> {
        for (id, d, kwh, rid) in &self.readings {
            if *d == day {
                let order = if exact { *rid } else { rid & !0xFFFF_FFFF };
                each(id.as_bytes(), *kwh, order);
            }
        }
        Ok(())
    }
}

fn day(m: u32, d: u32) -> Date {
    let y = if m >= 10 { 2019 } else { 2020 };
    Date::from_ymd(y, m, d).unwrap()
}

fn id(n: usize) -> String {
    format!("91330106MA{n:07}X")
}

fn region(code: u32) -> Region {
    Region::new(code).unwrap()
}

#[test]
fn the_published_example_end_to_end() {
    // 333,427 firms in one prefecture, each with a baseline of 1 kWh (one December reading);
    // on 2020-02-10, 64,590 of them use 104,929.477 kWh between them (31.47 % of 333,427 kWh),
    // each at least 0.3 kWh; the others read less than 0.3 kWh or nothing.
    let n = 333_427;
    let resumed = 64_590;
    let total_wh: i64 = 104_929_477;
    let mut firms = Vec::with_capacity(n);
    let mut readings = Vec::with_capacity(2 * n);
    let feb10 = day(2, 10);
    for i in 0..n {
        firms.push((id(i), region(330106), "manufacturing".to_string(), i as i64));
        readings.push((id(i), day(12, 1), 1.0, (1 << 32) + i as i64));
    }
    let each = total_wh / resumed as i64;
    for i in 0..resumed {
        let wh = if i == 0 {
            total_wh - each * (resumed as i64 - 1)
        } else {
            each
        };
        readings.push((id(i), feb10, wh as f64 / 1000.0, (2 << 32) + i as i64));
    }
    for i in resumed..n {
        if i % 2 == 0 {
            readings.push((id(i), feb10, 0.299, (2 << 32) + i as i64));
        }
    }
    let mem = Mem { firms, readings };
    let q = IndexQuery::new(feb10, feb10);
    let rows = power_index(&mem, &q).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.region, r.industry_name(), r.date),
        (region(330100), "all", feb10)
    );
    assert_eq!((r.indexed, r.resumed), (333_427, 64_590));
    assert_eq!(
        (r.firms_share(), r.power_share(), r.index()),
        (0.1937, 0.3147, 25.42)
    );
}

#[test]
fn the_latest_reading_of_a_day_wins_and_identical_copies_count_once() {
    let firms = vec![(id(0), region(330106), "retail".to_string(), 1)];
    let feb = day(2, 3);
    let readings = vec![
        (id(0), day(12, 1), 10.0, 1 << 32),
        // The same reading twice in one source (as from a file given twice under two names).
        (id(0), day(12, 2), 10.0, (1 << 32) + 1),
        (id(0), day(12, 2), 10.0, (2 << 32) + 1),
        // A correction in a later source wins; within one source, the later line.
        (id(0), feb, 9.0, (2 << 32) + 5),
        (id(0), feb, 1.0, (3 << 32) + 7),
        (id(0), feb, 2.0, (3 << 32) + 2),
    ];
    let mem = Mem { firms, readings };
    let rows = power_index(&mem, &IndexQuery::new(feb, feb)).unwrap();
    // Baseline 10 kWh (two days of 10), the day's reading 1 kWh: not resumed.
    assert_eq!(rows[0].resumed, 0);
    assert_eq!(
        rows,
        reference::index(&mem.firms, &mem.readings, &IndexQuery::new(feb, feb))
    );
}

#[test]
fn theta_zero_counts_a_day_without_a_reading_as_resumed() {
    let firms = vec![
        (id(0), region(330106), "retail".to_string(), 1),
        (id(1), region(330106), "retail".to_string(), 2),
    ];
    let readings = vec![
        (id(0), day(12, 1), 10.0, 1 << 32),
        (id(1), day(12, 1), 10.0, (1 << 32) + 1),
        (id(1), day(2, 3), 4.0, 2 << 32),
    ];
    let mem = Mem { firms, readings };
    let mut q = IndexQuery::new(day(2, 3), day(2, 4));
    q.theta = Theta::parse("0").unwrap();
    let rows = power_index(&mem, &q).unwrap();
    assert_eq!(rows.iter().map(|r| r.resumed).collect::<Vec<_>>(), [2, 2]);
    assert_eq!(rows[0].power_share(), 0.2);
    assert_eq!(rows, reference::index(&mem.firms, &mem.readings, &q));
}

#[test]
fn periods_are_checked() {
    let mem = Mem {
        firms: vec![],
        readings: vec![],
    };
    let e = power_index(&mem, &IndexQuery::new(day(2, 3), day(2, 1))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "period 2020-02-03..2020-02-01: the end is before the start"
    );
    let mut q = IndexQuery::new(day(2, 3), day(2, 3));
    q.baseline = (day(10, 1), day(10, 1).add_days(400));
    let e = power_index(&mem, &q).unwrap_err();
    assert!(e.to_string().contains("at most 366 days"), "{e}");
    assert_eq!(
        default_baseline(day(2, 3)),
        (day(10, 1), Date::from_ymd(2019, 12, 31).unwrap())
    );
}

/// Counties in two prefectures of one province and one of another.
const COUNTIES: [u32; 4] = [330106, 330108, 330203, 420106];
const INDUSTRIES: [&str; 3] = ["a", "b", "c"];
const KWH: [f64; 8] = [0.0, 0.0004, 0.0005, 1.0, 2.9995, 3.0, 10.0, 123.4567];

fn world() -> impl Strategy<Value = (Vec<Firm>, Vec<Reading>, IndexQuery)> {
    let firm = (0..12usize, 0..4usize, 0..3usize, 0..4i64);
    let reading = (0..14usize, 0..6usize, 0..8usize, 0..4i64, 0..50i64);
    (
        prop::collection::vec(firm, 0..16),
        prop::collection::vec(reading, 0..80),
        0..3usize,
        any::<bool>(),
        prop::sample::select(vec!["0", "0.3", "0.5", "1", "0.000001"]),
    )
        .prop_map(|(fs, rs, level, by, theta)| {
            let firms = fs
                .into_iter()
                .enumerate()
                .map(|(i, (e, c, ind, src))| {
                    (
                        id(e),
                        region(COUNTIES[c]),
                        INDUSTRIES[ind].to_string(),
                        (src << 32) + i as i64,
                    )
                })
                .collect();
            // Days 0–2 fall in the baseline (December), 3–5 in the period (February).
            let days = [
                day(12, 1),
                day(12, 2),
                day(12, 31),
                day(2, 1),
                day(2, 2),
                day(2, 3),
            ];
            let readings = rs
                .into_iter()
                .enumerate()
                .map(|(i, (e, d, k, src, line))| {
                    (id(e), days[d], KWH[k], (src << 32) + line * 1000 + i as i64)
                })
                .collect();
            let mut q = IndexQuery::new(day(2, 1), day(2, 4));
            q.level = [Level::Province, Level::Prefecture, Level::County][level];
            q.by_industry = by;
            q.theta = Theta::parse(theta).unwrap();
            (firms, readings, q)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_dense_index_is_the_plain_reading((firms, readings, q) in world(), seed in any::<u64>()) {
        let want = reference::index(&firms, &readings, &q);
        let mut mem = Mem { firms, readings };
        prop_assert_eq!(&power_index(&mem, &q).unwrap(), &want);
        // Any order of the rows gives the same answer.
        let mut s = seed | 1;
        for i in (1..mem.readings.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            mem.readings.swap(i, (s % (i as u64 + 1)) as usize);
        }
        mem.firms.reverse();
        prop_assert_eq!(&power_index(&mem, &q).unwrap(), &want);
    }
}

/// A valid unified social credit code for enterprise `n` of county 330106.
fn uscc(n: usize) -> String {
    let mut body = *b"91330106MA0000000";
    let charset = model::EnterpriseId::charset();
    let mut v = n;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[v % 31];
        v /= 31;
    }
    model::EnterpriseId::from_body(&body).unwrap().to_string()
}

#[test]
fn from_the_store_a_day_at_a_time_with_corrections() {
    use std::sync::atomic::AtomicBool;

    let dir = tempfile::tempdir().unwrap();
    let (data, input) = (dir.path().join("data"), dir.path().join("in"));
    std::fs::create_dir_all(&input).unwrap();
    let files = [
        (
            "enterprises.csv",
            format!(
                "enterprise_id,name,industry,region\n{},A,retail,330106\n{},B,retail,330108\n{},C,chemicals,330203\n",
                uscc(0),
                uscc(1),
                uscc(2)
            ),
        ),
        // Baseline: A 10 kWh, B 4 and 6 (mean 5), C none (not indexed).
        (
            "power-baseline.csv",
            format!(
                "enterprise_id,date,kwh\n{a},2019-12-01,10\n{b},2019-12-01,4\n{b},2019-12-02,6\n",
                a = uscc(0),
                b = uscc(1)
            ),
        ),
        // February 3: A 2.9 (not resumed), B 1.5 (resumed: 0.3 × 5), C 100; a later line of the
        // same file corrects A to 3.5.
        (
            "power-feb.csv",
            format!(
                "enterprise_id,date,kwh\n{a},2020-02-03,2.9\n{b},2020-02-03,1.5\n{c},2020-02-03,100\n{a},2020-02-03,3.5\n",
                a = uscc(0),
                b = uscc(1),
                c = uscc(2)
            ),
        ),
    ];
    let mut paths = Vec::new();
    for (name, text) in &files {
        let p = input.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let keys = vault::Keys::derive(&vault::MasterKey::from_bytes([3; 32]));
    let mut w = store::Writer::open(&data, keys.key_id(), model::Zone::CST, || {}).unwrap();
    let run = |w: &mut store::Writer, paths: &[std::path::PathBuf]| {
        let s = ingest::run(
            w,
            &keys,
            paths,
            &ingest::Options::default(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(s.rows_rejected, 0);
    };
    run(&mut w, &paths);
    let index = || {
        let st = store::Store::open(&data, keys.key_id()).unwrap();
        let mut q = IndexQuery::new(day(2, 3), day(2, 4));
        q.level = Level::County;
        power_index(&StoreSource::new(&st).unwrap(), &q).unwrap()
    };
    let rows = index();
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.region.code(),
                r.date.to_string(),
                r.indexed,
                r.resumed,
                r.index(),
            )
        })
        .collect();
    // A: 3.5 ≥ 3 resumed, power 0.35 → 100 × (0.175 + 0.5) = 67.5; B: 1.5 ≥ 1.5 → 65.
    assert_eq!(
        got,
        [
            (330106, "2020-02-03".to_string(), 1, 1, 67.5),
            (330106, "2020-02-04".to_string(), 1, 0, 0.0),
            (330108, "2020-02-03".to_string(), 1, 1, 65.0),
            (330108, "2020-02-04".to_string(), 1, 0, 0.0),
        ]
    );
    // A later file corrects A's February 3 down to 1 kWh: the later source wins.
    let fix = input.join("power-fix.csv");
    std::fs::write(
        &fix,
        format!("enterprise_id,date,kwh\n{},2020-02-03,1\n", uscc(0)),
    )
    .unwrap();
    run(&mut w, &[fix]);
    let rows = index();
    assert_eq!((rows[0].resumed, rows[0].index()), (0, 0.0));
}
