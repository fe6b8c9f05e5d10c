//! `trace --all` as SQL against the trace index, row for row: on a generated city (degree 1
//! and 2, several as-of instants) and on a hand-made one whose rows sit on each rule's edge —
//! flight rows exactly 3 and 4 apart, a stay touching the window's start, a stay overlapping
//! exactly 15 minutes, a case with no contacts, a contact met by two routes, a diagnosis
//! reported after the as-of, a pass whose occupants' times differ.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fangyi_query::{Query, SqlContact};
use model::{Date, PersonId, Timestamp, Zone};
use store::{Store, Writer};
use trace::Via;

mod common;
use common::{by_index, ingest, keys};

fn by_sql(store: &Store, as_of: i64, depth: u8) -> Vec<SqlContact> {
    let q = Query::open(store, &keys()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows = rt
        .block_on(q.trace_all_rows(as_of, store.zone(), depth))
        .unwrap();
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(
        rows.iter().map(|r| (r.case, r.person)).collect::<Vec<_>>(),
        sorted
            .iter()
            .map(|r| (r.case, r.person))
            .collect::<Vec<_>>(),
        "rows come in (case, person) order"
    );
    sorted
}

fn same(store: &Store, as_of: i64, depth: u8) -> Vec<SqlContact> {
    let index = by_index(store, as_of, depth);
    let sql = by_sql(store, as_of, depth);
    if index != sql {
        let missing: Vec<_> = index.iter().filter(|r| !sql.contains(r)).take(10).collect();
        let extra: Vec<_> = sql.iter().filter(|r| !index.contains(r)).take(10).collect();
        panic!(
            "SQL differs from the index at depth {depth} ({} vs {} rows)\nmissing: {missing:#?}\nextra: {extra:#?}",
            sql.len(),
            index.len()
        );
    }
    index
}

#[test]
fn a_generated_city_gives_the_index_rows_at_both_depths_and_several_instants() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let config = synth::Config {
        persons: 3_000,
        days: 10,
        ..synth::Config::default()
    };
    synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
    let store = ingest(&dir.path().join("data"), Zone::CST, &[input]);
    let zone = store.zone();
    let last = config.start.add_days(config.days as i32 - 1);
    let mut total = 0;
    for (i, as_of) in [
        last.end_of_day(zone).millis(),
        last.add_days(-4).end_of_day(zone).millis(),
        last.add_days(-4).start(zone).millis() + 12 * 3_600_000,
    ]
    .into_iter()
    .enumerate()
    {
        let one = same(&store, as_of, 1);
        total += one.len();
        if i == 0 {
            assert!(
                one.len() > 20,
                "the city's cases have contacts: {}",
                one.len()
            );
            let two = same(&store, as_of, 2);
            assert!(two.iter().any(|r| r.degree == 2), "degree 2 is reached");
        }
    }
    assert!(total > 0);
}

// ---- a hand-made city on the rules' edges --------------------------------------------------

fn pid(i: u32) -> PersonId {
    PersonId::from_parts(330106, Date::from_ymd(1985, 3, 1 + i).unwrap(), 100 + i).unwrap()
}

fn ms(t: &str) -> i64 {
    Timestamp::parse_rfc3339(format!("2020-{t}:00+08:00").as_bytes())
        .unwrap()
        .millis()
}

/// Persons: 1 the case (onset 01-17 → window from 01-15 00:00 to its report 01-20 12:00),
/// 2 a second case confirmed only after the early as-of, 3 a case with nothing shared, 4 a
/// suspected person; 10.. contacts or near misses (see each row).
fn edge_city(dir: &Path) -> Vec<PathBuf> {
    let p = |i: u32| pid(i).to_string();
    let files = [
        (
            "lab_results.csv",
            format!(
                "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
                 {},2020-01-19T10:00:00+08:00,positive,confirmed,2020-01-17,2020-01-20T12:00:00+08:00\n\
                 {},2020-01-21T10:00:00+08:00,positive,confirmed,,2020-01-25T10:00:00+08:00\n\
                 {},2020-01-18T10:00:00+08:00,positive,asymptomatic,,2020-01-19T10:00:00+08:00\n\
                 {},2020-01-18T10:00:00+08:00,positive,,,2020-01-19T10:00:00+08:00\n",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
        ),
        (
            "travel.csv",
            format!(
                "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
                 {c},flight,CA1,2020-01-19,,12C,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {r15},flight,CA1,2020-01-19,,15A,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {r9},flight,CA1,2020-01-19,,9F,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {r16},flight,CA1,2020-01-19,,16A,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {r8},flight,CA1,2020-01-19,,8A,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {rx},flight,CA1,2020-01-19,,X1,,420100,2020-01-19T14:00:00+08:00,,330100,2020-01-19T16:00:00+08:00\n\
                 {c},rail,G1,2020-01-18,05,01A,,420100,2020-01-18T08:00:00+08:00,,330100,2020-01-18T12:00:00+08:00\n\
                 {two},rail,G1,2020-01-18,05,02A,,420100,2020-01-18T11:00:00+08:00,,330100,2020-01-18T13:00:00+08:00\n\
                 {car6},rail,G1,2020-01-18,06,02A,,420100,2020-01-18T08:00:00+08:00,,330100,2020-01-18T12:00:00+08:00\n\
                 {nocar},rail,G1,2020-01-18,,,,420100,2020-01-18T12:00:00+08:00,,330100,2020-01-18T13:00:00+08:00\n\
                 {late},rail,G1,2020-01-21,05,02A,,420100,2020-01-21T08:00:00+08:00,,330100,2020-01-21T12:00:00+08:00\n\
                 {c},rail,G9,2020-01-21,01,01A,,420100,2020-01-21T08:00:00+08:00,,330100,2020-01-21T12:00:00+08:00\n\
                 {after},rail,G9,2020-01-21,01,01B,,420100,2020-01-21T08:00:00+08:00,,330100,2020-01-21T12:00:00+08:00\n",
                c = p(1),
                r15 = p(10),
                r9 = p(11),
                r16 = p(12),
                r8 = p(13),
                rx = p(14),
                two = p(15),
                car6 = p(16),
                nocar = p(2),
                late = p(17),
                after = p(18),
            ),
        ),
        (
            "checkins.csv",
            format!(
                "person_id,venue_id,time_in,time_out\n\
                 {c},V1,2020-01-17T10:00:00+08:00,2020-01-17T11:00:00+08:00\n\
                 {two},V1,2020-01-17T10:45:00+08:00,2020-01-17T11:30:00+08:00\n\
                 {short},V1,2020-01-17T10:45:01+08:00,2020-01-17T11:30:00+08:00\n\
                 {noout},V1,2020-01-17T10:30:00+08:00,\n\
                 {c},V2,2020-01-14T23:00:00+08:00,\n\
                 {edge},V2,2020-01-14T23:00:00+08:00,2020-01-15T00:30:00+08:00\n\
                 {before},V2,2020-01-14T22:00:00+08:00,2020-01-14T23:20:00+08:00\n\
                 {c},V3,2020-01-18T23:50:00+08:00,2020-01-19T01:00:00+08:00\n\
                 {night},V3,2020-01-18T23:00:00+08:00,2020-01-19T00:30:00+08:00\n",
                c = p(1),
                two = p(15),
                short = p(20),
                noout = p(21),
                edge = p(22),
                before = p(23),
                night = p(24),
            ),
        ),
        (
            "checkpoint.csv",
            format!(
                "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose\n\
                 P1,浙A12345,{c},driver,K1,330100,2020-01-14T23:58:00+08:00,,,\n\
                 P1,浙A12345,{skew},passenger,K1,330100,2020-01-15T00:05:00+08:00,,,\n\
                 P2,浙A12345,{c},driver,K1,330100,2020-01-16T09:00:00+08:00,,,\n\
                 P2,浙A12345,{two},passenger,K1,330100,2020-01-16T09:00:00+08:00,,,\n",
                c = p(1),
                skew = p(25),
                two = p(15),
            ),
        ),
        (
            "persons.csv",
            format!(
                "person_id,home_region,household_id\n\
                 {},330106,H1\n{},330106,H1\n{},330106,\n{},330106,\n{},330106,H3\n{},330106,H3\n",
                p(1),
                p(26),
                p(3),
                p(27),
                p(4),
                p(28)
            ),
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

#[test]
fn the_rules_edges_give_the_index_rows_and_the_contract_answer() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = edge_city(&dir.path().join("input"));
    let store = ingest(&dir.path().join("data"), Zone::CST, &inputs);
    let k = keys();
    let pseudo = |i: u32| k.pseudonyms.pseudonym(pid(i));
    let as_of = ms("01-31T23:59");
    let rows = same(&store, as_of, 1);
    let of = |case: u32, person: u32| {
        rows.iter()
            .find(|r| r.case == pseudo(case) && r.person == pseudo(person))
    };
    let contacts = |case: u32| rows.iter().filter(|r| r.case == pseudo(case)).count();
    // Flight rows 12 and 15 (3 apart) and 9 are contacts, 16 and 8 (4 apart) not; a seat
    // without leading digits matches any.
    for near in [10, 11, 14] {
        assert_eq!(of(1, near).unwrap().evidence, "flight", "{near}");
    }
    for far in [12, 13] {
        assert!(of(1, far).is_none(), "{far}");
    }
    // Two routes (rail and venue, and a pass): one row, every kind, the earliest and latest.
    let two = of(1, 15).unwrap();
    assert_eq!(two.evidence, "rail;vehicle;venue");
    assert_eq!(two.first_exposure, ms("01-16T09:00"));
    assert_eq!(two.last_exposure, ms("01-18T12:00"));
    assert_eq!(two.quarantine_until, Date::from_ymd(2020, 2, 1).unwrap());
    // Exactly 15 minutes counts, a second less does not; no time_out is an hour.
    assert!(of(1, 20).is_none());
    assert_eq!(of(1, 21).unwrap().last_exposure, ms("01-17T11:00"));
    // A stay touching the window's start (00:00 on 01-15) shares that instant; one before not.
    let edge = of(1, 22).unwrap();
    assert_eq!(
        (edge.first_exposure, edge.last_exposure),
        (ms("01-15T00:00"), ms("01-15T00:00"))
    );
    assert!(of(1, 23).is_none());
    // Stays across midnight meet on the later start's day.
    assert_eq!(of(1, 24).unwrap().first_exposure, ms("01-18T23:50"));
    // Another car does not count; a missing car matches; the other case is flagged.
    assert!(of(1, 16).is_none());
    assert!(of(1, 2).unwrap().is_case);
    // A pass whose occupants' times differ spans both; rides after the report do not count.
    assert_eq!(of(1, 25).unwrap().first_exposure, ms("01-15T00:00"));
    assert!(of(1, 18).is_none() && of(1, 17).is_none());
    // The household spans the window.
    let home = of(1, 26).unwrap();
    assert_eq!(
        (home.first_exposure, home.last_exposure),
        (ms("01-15T00:00"), ms("01-20T12:00"))
    );
    // A case with no shared record has no row; a suspected person is no case.
    assert_eq!(contacts(3), 0);
    assert_eq!(contacts(4), 0);
    assert!(!rows.iter().any(|r| r.case == r.person));

    // As of before person 2's diagnosis: 2 is neither a case nor flagged as one.
    let early = same(&store, ms("01-24T23:59"), 1);
    assert!(early.iter().all(|r| r.case != pseudo(2)));
    assert!(
        !early
            .iter()
            .find(|r| r.person == pseudo(2))
            .unwrap()
            .is_case
    );
    // Before the first report there is nothing at all.
    assert!(same(&store, ms("01-19T09:59"), 1).is_empty());
    // Degree 2 on the edges, and the via rule.
    let deep = same(&store, as_of, 2);
    assert!(deep.iter().any(|r| r.degree == 2));
    // The rules are the same in another zone: calendar days move, the answers agree.
    let dir2 = tempfile::tempdir().unwrap();
    let inputs = edge_city(&dir2.path().join("input"));
    let west = Zone::from_offset_secs(-5 * 3600).unwrap();
    let store = ingest(&dir2.path().join("data"), west, &inputs);
    same(&store, as_of, 1);
    same(&store, as_of, 2);
}

#[test]
fn no_records_no_rows_and_depth_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let k = keys();
    drop(Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap());
    let store = Store::open(&data, k.key_id()).unwrap();
    assert!(by_sql(&store, i64::MAX / 4, 1).is_empty());
    assert!(by_sql(&store, 0, 2).is_empty());
    let q = Query::open(&store, &k).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(rt.block_on(q.trace_all_rows(0, Zone::CST, 3)).is_err());
    let _ = Via::ALL;
}

// ---- random small worlds, times on a 15-minute grid so boundaries are met exactly ----------

mod worlds {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;
    const MODES: [&str; 4] = ["rail", "flight", "coach", "ship"];
    const CARS: [&str; 3] = ["01", "02", ""];
    const SEATS: [&str; 8] = ["1A", "3C", "4B", "7F", "12F", "A1", "", "0000000000004C"];
    const DIAGNOSES: [&str; 5] = ["confirmed", "suspected", "asymptomatic", "recovered", ""];
    const ZONES: [i32; 3] = [8 * 3600, 0, -5 * 3600];

    fn at(slot: u16) -> i64 {
        ms("01-18T00:00") + i64::from(slot) * 15 * MIN
    }

    fn ts(t: i64, zone: Zone) -> String {
        Timestamp(t).to_rfc3339(zone)
    }

    /// Person, mode, service, date, car, seat, departure slot, quarter hours aboard.
    type Ride = (u32, usize, u8, u8, usize, usize, u16, u16);

    #[derive(Clone, Debug)]
    struct World {
        households: Vec<Option<u8>>,
        rides: Vec<Ride>,
        passes: Vec<(u32, u8, u16)>,
        stays: Vec<(u32, u8, u16, Option<u16>)>,
        labs: Vec<(u32, u16, u16, bool, usize, Option<u8>)>,
        zone: usize,
        as_of: u16,
        split: bool,
    }

    fn world() -> impl Strategy<Value = World> {
        let person = 0..7u32;
        let ride = (
            person.clone(),
            0..4usize,
            0..2u8,
            0..2u8,
            0..3usize,
            0..8usize,
            0..400u16,
            0..30u16,
        );
        let pass = (person.clone(), 0..3u8, 0..400u16);
        let stay = (
            person.clone(),
            0..2u8,
            0..400u16,
            proptest::option::of(0..8u16),
        );
        let lab = (
            person,
            0..380u16,
            0..40u16,
            any::<bool>(),
            0..5usize,
            proptest::option::of(0..8u8),
        );
        (
            proptest::collection::vec(proptest::option::of(0..2u8), 7),
            proptest::collection::vec(ride, 0..20),
            proptest::collection::vec(pass, 0..8),
            proptest::collection::vec(stay, 0..20),
            proptest::collection::vec(lab, 1..12),
            0..3usize,
            0..480u16,
            any::<bool>(),
        )
            .prop_map(
                |(households, rides, passes, stays, labs, zone, as_of, split)| World {
                    households,
                    rides,
                    passes,
                    stays,
                    labs,
                    zone,
                    as_of,
                    split,
                },
            )
    }

    /// The world as CSV files, its rows in two parts when split (two index segments).
    fn write(dir: &Path, w: &World, part: usize) -> Vec<PathBuf> {
        let zone = Zone::from_offset_secs(ZONES[w.zone]).unwrap();
        let take = |n: usize| match (w.split, part) {
            (false, 0) => 0..n,
            (false, _) => 0..0,
            (true, 0) => 0..n / 2,
            (true, _) => n / 2..n,
        };
        let p = |i: u32| pid(i).to_string();
        let mut travel = String::from(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n",
        );
        for &(who, mode, service, date, car, seat, dep, q) in &w.rides[take(w.rides.len())] {
            let date = Date::from_ymd(2020, 1, 18 + u32::from(date)).unwrap();
            travel += &format!(
                "{},{},S{service},{date},{},{},,420100,{},,330100,{}\n",
                p(who),
                MODES[mode],
                CARS[car],
                SEATS[seat],
                ts(at(dep), zone),
                ts(at(dep) + i64::from(q) * 15 * MIN, zone)
            );
        }
        let mut checkpoint = String::from(
            "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose\n",
        );
        for &(who, pass, t) in &w.passes[take(w.passes.len())] {
            checkpoint += &format!(
                "P{pass},浙A12345,{},,K1,330100,{},,,\n",
                p(who),
                ts(at(t), zone)
            );
        }
        let mut checkins = String::from("person_id,venue_id,time_in,time_out\n");
        for &(who, venue, t, q) in &w.stays[take(w.stays.len())] {
            checkins += &format!(
                "{},V{venue},{},{}\n",
                p(who),
                ts(at(t), zone),
                q.map_or(String::new(), |q| ts(at(t) + i64::from(q) * 15 * MIN, zone))
            );
        }
        let mut labs =
            String::from("person_id,sample_time,result,diagnosis,onset_date,reported_time\n");
        for &(who, sample, delay, positive, d, onset) in &w.labs[take(w.labs.len())] {
            labs += &format!(
                "{},{},{},{},{},{}\n",
                p(who),
                ts(at(sample), zone),
                if positive { "positive" } else { "negative" },
                DIAGNOSES[d],
                onset.map_or(String::new(), |o| Date::from_ymd(
                    2020,
                    1,
                    16 + u32::from(o)
                )
                .unwrap()
                .to_string()),
                ts(at(sample + delay), zone)
            );
        }
        let mut files = vec![
            ("travel.csv", travel),
            ("checkpoint.csv", checkpoint),
            ("checkins.csv", checkins),
            ("lab_results.csv", labs),
        ];
        if part == 0 {
            let mut persons = String::from("person_id,home_region,household_id\n");
            for (i, h) in w.households.iter().enumerate() {
                persons += &format!(
                    "{},330106,{}\n",
                    p(i as u32),
                    h.map_or(String::new(), |h| format!("H{h}"))
                );
            }
            files.push(("persons.csv", persons));
        }
        std::fs::create_dir_all(dir).unwrap();
        files
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn random_worlds_give_the_index_rows(w in world()) {
            let dir = tempfile::tempdir().unwrap();
            let zone = Zone::from_offset_secs(ZONES[w.zone]).unwrap();
            let data = dir.path().join("data");
            let mut store = None;
            for part in 0..2 {
                let inputs = write(&dir.path().join(format!("in{part}")), &w, part);
                store = Some(ingest(&data, zone, &inputs));
            }
            let store = store.unwrap();
            same(&store, at(w.as_of), 1);
            same(&store, at(w.as_of), 2);
        }
    }
}
