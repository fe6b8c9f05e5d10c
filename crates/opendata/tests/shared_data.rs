//! The real datasets in `../shared/data` (read in place, never copied): every row is read,
//! the counts match the folders' READMEs, and the derived risk areas say what happened.

use std::path::{Path, PathBuf};

use fangyi_opendata::{baidu, dxy, risk};
use model::{Date, Region};

fn shared(folder: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(folder);
    assert!(p.is_dir(), "{} beside the repository", p.display());
    p
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

#[test]
fn baidu_migration_reads_every_row_of_the_three_files() {
    let m = baidu::read(&shared("baidu_migration")).unwrap();
    // Row counts as the README gives them.
    assert_eq!(m.rows_read, [17_800, 45_500, 35_888]);
    assert_eq!(m.first_date(), Some(d("2020-01-01")));
    assert_eq!(m.last_date(), Some(d("2020-03-31")));
    assert_eq!(
        m.shares.len() as u64 + m.unmapped + m.duplicates,
        98_498 + 170 + 136
    );
    // On the eve of the lockdown, Xiaogan was Wuhan's first destination.
    let wuhan = Region::new(420100).unwrap();
    let top = m
        .shares
        .iter()
        .filter(|s| {
            s.direction == baidu::Direction::Out && s.origin == wuhan && s.date == d("2020-01-22")
        })
        .max_by(|a, b| a.share_pct.total_cmp(&b.share_pct))
        .unwrap();
    assert_eq!(top.destination, Region::new(420900).unwrap());
    assert_eq!(top.rank, Some(1));
}

#[test]
fn dxy_cases_read_and_derive_the_wuhan_outbreak() {
    let c = dxy::read(&shared("dxy_cases")).unwrap();
    assert_eq!(c.rows_read, 21_803);
    // 20,848 rows have a code (README); each (code, day) is one row.
    assert_eq!(c.unmapped, 955);
    assert_eq!(c.counts.len() as u64 + c.merged, 20_848);
    assert_eq!(
        (c.first_date(), c.last_date()),
        (Some(d("2020-01-24")), Some(d("2020-03-28")))
    );
    let areas = risk::derive(&c.counts, risk::RiskRule::default());
    let of = |code: u32| -> Vec<(risk::Level, Date, Date)> {
        areas
            .iter()
            .filter(|a| a.region.code() == code)
            .map(|a| (a.level, a.valid_from, a.valid_to))
            .collect()
    };
    // Wuhan: high from its first published day to the end of the data.
    assert_eq!(
        of(420100),
        [(risk::Level::High, d("2020-01-24"), d("2020-03-28"))]
    );
    // Wenzhou became high within days and was low again by March.
    let wenzhou = of(330300);
    assert!(
        wenzhou.iter().any(|a| a.0 == risk::Level::High),
        "{wenzhou:?}"
    );
    assert!(
        wenzhou
            .iter()
            .any(|a| a.0 == risk::Level::Low && a.1 <= d("2020-03-10") && d("2020-03-10") <= a.2),
        "{wenzhou:?}"
    );
    // Runs of one region never overlap and cover every day from its first to the last.
    for run in areas.chunk_by(|a, b| a.region == b.region) {
        for w in run.windows(2) {
            assert_eq!(w[0].valid_to.add_days(1), w[1].valid_from, "{w:?}");
            assert_ne!(w[0].level, w[1].level);
        }
        assert_eq!(run.last().unwrap().valid_to, d("2020-03-28"));
    }
}
