//! The exposed list on a small hand-made store: every arrival kind, the covers rule, period
//! bounds in the deployment zone, and where a person stays (registration, home, unknown).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

use fangyi_inflow::{ArrivalKind, ExposedPerson, Period, StaySource, by_stay, exposed};
use model::{Date, Region, Zone};
use query::Query;
use store::Store;

/// The scenario (dates are deployment-zone dates in +08:00):
/// - A: rail from Wuchang 420106 on the 15th, and registered from 420100 that day, staying
///   at 330304 / C9; home 330302 / C1.
/// - B: a flight from 420100 landing 2020-01-09T16:30Z (the 10th in +08:00) and another
///   landing 2020-01-23T23:30Z (the 24th); home 330302 without a community.
/// - C: a car through a checkpoint from 420111 on the 20th; no persons row.
/// - D: a self-report listing 330100 and 420102 on the 22nd; registered earlier from 420100
///   (staying 330304 / C9) and later, on 2020-02-01, from Hangzhou staying 330302 / C2;
///   home 330303 / C5.
/// - E: rail from Yichang 420500 and from Changsha 430100: not from Wuhan.
/// - F: registered from 420100 with arrival on the 9th: before the period.
/// - G: registered from 420102 on the 12th without a stay region; home 330302 / C1, moved to
///   330303 / C7 by a later persons file.
/// - H: two registrations from 420100 on the 18th, the later line staying 330303 / Y.
/// - I: checkpoint from 420100 at 2020-01-23T16:30Z (the 24th); J: at 15:59Z (the 23rd).
fn scenario(dir: &Path) -> Vec<Vec<PathBuf>> {
    let first = vec![
        file(
            dir,
            "travel.csv",
            TRAVEL,
            &[
                "{A},rail,G1722,2020-01-15,3,07A,武昌,420106,2020-01-15T08:00:00+08:00,温州南,330302,2020-01-15T14:00:00+08:00",
                "{B},flight,MU5321,2020-01-09,,23C,,420100,2020-01-09T14:00:00Z,,330300,2020-01-09T16:30:00Z",
                "{B},flight,MU5323,2020-01-24,,12A,,420100,2020-01-23T21:00:00Z,,330300,2020-01-23T23:30:00Z",
                "{E},rail,D3072,2020-01-16,2,01A,宜昌东,420500,2020-01-16T08:00:00+08:00,温州南,330302,2020-01-16T18:00:00+08:00",
                "{E},rail,G1380,2020-01-17,2,01A,长沙南,430100,2020-01-17T08:00:00+08:00,温州南,330302,2020-01-17T15:00:00+08:00",
            ],
        ),
        file(
            dir,
            "checkpoint.csv",
            CHECKPOINT,
            &[
                "P1,浙C12345,{C},driver,G15-01,330302,2020-01-20T10:00:00+08:00,420111,330302,",
                "P2,浙C22222,{I},driver,G15-01,330302,2020-01-23T16:30:00Z,420100,330302,",
                "P3,浙C33333,{J},driver,G15-01,330302,2020-01-23T15:59:00Z,420100,330302,",
                "P4,浙C44444,{E},driver,G15-01,330302,2020-01-21T10:00:00+08:00,,330302,",
            ],
        ),
        file(
            dir,
            "registrations.csv",
            REGISTRATIONS,
            &[
                "{A},2020-01-15,420100,330304,C9,,",
                "{D},2020-01-08,420100,330304,C9,,",
                "{D},2020-02-01,330100,330302,C2,,",
                "{F},2020-01-09,420100,330302,C1,,",
                "{G},2020-01-12,420102,,,,",
                "{H},2020-01-18,420100,330302,X,,",
                "{H},2020-01-18,420100,330303,Y,,",
            ],
        ),
        file(
            dir,
            "self_reports.csv",
            SELF_REPORTS,
            &[
                "{D},2020-01-22T09:00:00+08:00,36.6,,330100;420102,",
                "{E},2020-01-22T09:00:00+08:00,36.6,,330100,",
                "{G},2020-01-22T09:00:00+08:00,36.6,,,",
            ],
        ),
        file(
            dir,
            "persons.csv",
            PERSONS,
            &[
                "{A},,,,,330302,C1,,",
                "{B},,,,,330302,,,",
                "{D},,,,,330303,C5,,",
                "{G},,,,,330302,C1,,",
            ],
        ),
    ];
    let second = vec![file(
        dir,
        "persons-update.csv",
        PERSONS,
        &["{G},,,,,330303,C7,,"],
    )];
    vec![first, second]
}

fn period(first: &str, last: &str) -> Period {
    Period::new(first.parse().unwrap(), last.parse().unwrap()).unwrap()
}

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

/// The rows by person letter (the key is only in the test; the store holds pseudonyms).
fn by_letter(rows: &[ExposedPerson]) -> BTreeMap<char, &ExposedPerson> {
    rows.iter().map(|r| (letter(r.person), r)).collect()
}

/// The letters of the persons exposed to `origin` in `p`.
async fn letters(q: &Query, zone: Zone, origin: &str, p: Period) -> String {
    let rows = exposed(q, zone, region(origin), p).await.unwrap();
    by_letter(&rows).keys().collect()
}

fn kinds(r: &ExposedPerson) -> Vec<&'static str> {
    r.kinds.iter().map(|k| k.as_str()).collect()
}

fn origins(r: &ExposedPerson) -> Vec<String> {
    r.origins.iter().map(Region::to_string).collect()
}

fn place(r: &ExposedPerson) -> (Option<String>, Option<&str>, StaySource) {
    (
        r.stay.region.map(|g| g.to_string()),
        r.stay.community.as_deref(),
        r.stay.source,
    )
}

#[tokio::test]
async fn who_came_back_from_wuhan() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q) = load(dir.path(), Zone::CST, &scenario(dir.path()));
    let rows = exposed(
        &q,
        store.zone(),
        region("420100"),
        period("2020-01-10", "2020-01-23"),
    )
    .await
    .unwrap();
    let m = by_letter(&rows);
    assert_eq!(
        m.keys().collect::<String>(),
        "ABCDGHJ",
        "E is not from Wuhan, F and I arrived outside the period"
    );

    let a = m[&'A'];
    assert_eq!(kinds(a), ["rail", "registration"]);
    assert_eq!(
        origins(a),
        ["420100", "420106"],
        "a district of Wuhan counts"
    );
    assert_eq!(
        (a.first_arrival, a.last_arrival),
        (d("2020-01-15"), d("2020-01-15"))
    );
    assert_eq!(
        place(a),
        (Some("330304".into()), Some("C9"), StaySource::Registration),
        "a registration's stay wins over the home"
    );

    let b = m[&'B'];
    assert_eq!(kinds(b), ["flight"]);
    assert_eq!(
        (b.first_arrival, b.last_arrival),
        (d("2020-01-10"), d("2020-01-10")),
        "16:30Z on the 9th is the 10th in +08:00; 23:30Z on the 23rd is the 24th"
    );
    assert_eq!(place(b), (Some("330302".into()), None, StaySource::Home));

    let c = m[&'C'];
    assert_eq!(
        (kinds(c), origins(c)),
        (vec!["road"], vec!["420111".to_string()])
    );
    assert_eq!(place(c), (None, None, StaySource::Unknown));

    let dd = m[&'D'];
    assert_eq!(kinds(dd), ["self_report"]);
    assert_eq!(
        origins(dd),
        ["420102"],
        "only the visited region Wuhan covers"
    );
    assert_eq!(dd.first_arrival, d("2020-01-22"));
    assert_eq!(
        place(dd),
        (Some("330302".into()), Some("C2"), StaySource::Registration),
        "the latest registration with a stay, whatever its origin or date"
    );

    let g = m[&'G'];
    assert_eq!(kinds(g), ["registration"]);
    assert_eq!(
        place(g),
        (Some("330303".into()), Some("C7"), StaySource::Home),
        "a registration without a stay region leaves the home, from the latest persons row"
    );

    let h = m[&'H'];
    assert_eq!(
        place(h),
        (Some("330303".into()), Some("Y"), StaySource::Registration),
        "same arrival date: the later input line wins"
    );

    let j = m[&'J'];
    assert_eq!((kinds(j), j.first_arrival), (vec!["road"], d("2020-01-23")));

    // Sorted by stay place, unknown last; the counts follow the same order.
    let places: Vec<_> = rows.iter().map(|r| place(r).0).collect();
    let mut sorted = places.clone();
    sorted.sort_by_key(|p| (p.is_none(), p.clone()));
    assert_eq!(places, sorted);
    let counts = by_stay(rows.iter().map(|r| &r.stay));
    let summary: Vec<_> = counts
        .iter()
        .map(|c| {
            let communities: Vec<_> = c
                .communities
                .iter()
                .map(|m| (m.community.clone(), m.persons))
                .collect();
            (c.region.map(|r| r.to_string()), c.persons, communities)
        })
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        summary,
        [
            (some("330302"), 2, vec![(some("C2"), 1), (None, 1)]),
            (some("330303"), 2, vec![(some("C7"), 1), (some("Y"), 1)]),
            (some("330304"), 1, vec![(some("C9"), 1)]),
            (None, 2, vec![(None, 2)]),
        ]
    );
}

#[tokio::test]
async fn a_province_covers_more_and_a_county_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q) = load(dir.path(), Zone::CST, &scenario(dir.path()));
    let p = period("2020-01-10", "2020-01-23");
    let hubei = exposed(&q, store.zone(), region("420000"), p)
        .await
        .unwrap();
    let m = by_letter(&hubei);
    assert_eq!(m.keys().collect::<String>(), "ABCDEGHJ");
    assert_eq!(origins(m[&'E']), ["420500"], "Yichang, not Changsha");
    assert_eq!(kinds(m[&'E']), ["rail"]);

    let wuchang = exposed(&q, store.zone(), region("420106"), p)
        .await
        .unwrap();
    let m = by_letter(&wuchang);
    assert_eq!(m.keys().collect::<String>(), "A");
    assert_eq!(
        kinds(m[&'A']),
        ["rail"],
        "the registration said 420100, not 420106"
    );
    assert_eq!(origins(m[&'A']), ["420106"]);

    let nowhere = exposed(&q, store.zone(), region("110000"), p)
        .await
        .unwrap();
    assert!(nowhere.is_empty());
}

#[tokio::test]
async fn period_bounds_are_deployment_zone_days() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q) = load(dir.path(), Zone::CST, &scenario(dir.path()));
    let zone = store.zone();
    let day = |s: &'static str| letters(&q, zone, "420100", period(s, s));
    assert_eq!(
        day("2020-01-24").await,
        "BI",
        "23:30Z and 16:30Z on the 23rd"
    );
    assert_eq!(day("2020-01-23").await, "J", "15:59Z is 23:59 in +08:00");
    assert_eq!(day("2020-01-10").await, "B");
    assert_eq!(day("2020-01-09").await, "F");
    assert_eq!(day("2020-01-25").await, "");
}

#[tokio::test]
async fn a_store_in_another_zone_counts_its_own_days() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q) = load(dir.path(), Zone::UTC, &scenario(dir.path()));
    assert_eq!(store.zone(), Zone::UTC);
    let rows = exposed(
        &q,
        store.zone(),
        region("420100"),
        period("2020-01-23", "2020-01-23"),
    )
    .await
    .unwrap();
    let m = by_letter(&rows);
    assert_eq!(
        m.keys().collect::<String>(),
        "BIJ",
        "all three are on the 23rd in UTC"
    );
    assert_eq!(m[&'B'].first_arrival, d("2020-01-23"));
    assert!(
        rows.iter()
            .all(|r| r.kinds.iter().all(|k| ArrivalKind::ALL.contains(k))),
        "kinds are the contract's"
    );
    assert_eq!(m[&'B'].kinds, [ArrivalKind::Flight]);
}

#[tokio::test]
async fn an_empty_store_has_no_one_exposed() {
    let k = keys();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_empty(dir.path(), k.key_id(), Zone::CST).unwrap();
    let q = Query::open(&store, &k).unwrap();
    let rows = exposed(
        &q,
        store.zone(),
        region("420100"),
        period("2020-01-10", "2020-01-23"),
    )
    .await
    .unwrap();
    assert!(rows.is_empty());
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}
