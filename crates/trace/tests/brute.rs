//! The indexed engine against a brute-force reading of the contract: random small worlds are
//! written as CSV, ingested into a real store, indexed (in one or several segments), traced,
//! and compared with every pair checked by hand, in several deployment zones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fangyi_trace::{CotravelQuery, Index, Tracer, Via};
use model::{Date, Diagnosis, PersonId, Timestamp, Zone};
use proptest::prelude::*;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

const MIN: i64 = 60_000;
const PERSONS: usize = 6;

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([3; 32]))
}

fn base() -> i64 {
    Timestamp::parse_rfc3339(b"2020-01-18T00:00:00+08:00")
        .unwrap()
        .millis()
}

/// Times are multiples of 15 minutes over eight days, so boundaries are hit exactly.
fn at(slot: u16) -> i64 {
    base() + i64::from(slot) * 15 * MIN
}

const ZONES: [i32; 3] = [8 * 3600, 0, -5 * 3600];

fn zone(i: u8) -> Zone {
    Zone::from_offset_secs(ZONES[usize::from(i) % ZONES.len()]).unwrap()
}

fn person_id(i: usize) -> PersonId {
    PersonId::from_parts(
        420106,
        Date::from_ymd(1980, 1, 1 + i as u32).unwrap(),
        10 + i as u32,
    )
    .unwrap()
}

#[derive(Clone, Debug)]
struct Ride {
    person: usize,
    mode: usize,
    service: usize,
    date: usize,
    car: Option<usize>,
    seat: Option<usize>,
    depart: u16,
    minutes: u16,
    tz: u8,
}

#[derive(Clone, Debug)]
struct Pass {
    person: usize,
    pass: usize,
    time: u16,
    tz: u8,
}

#[derive(Clone, Debug)]
struct Stay {
    person: usize,
    venue: usize,
    time_in: u16,
    minutes: Option<u16>,
    tz: u8,
}

#[derive(Clone, Debug)]
struct Lab {
    person: usize,
    sample: u16,
    delay: u16,
    positive: bool,
    diagnosis: Option<usize>,
    onset: Option<u8>,
    tz: u8,
}

#[derive(Clone, Debug)]
struct World {
    households: Vec<Option<usize>>,
    rides: Vec<Ride>,
    passes: Vec<Pass>,
    stays: Vec<Stay>,
    labs: Vec<Lab>,
    /// Deployment zone.
    zone: u8,
    as_of: Option<u16>,
    /// Ingest rows in two batches (two index segments) after this many of each kind.
    split: bool,
}

const MODES: [&str; 3] = ["rail", "flight", "coach"];
const SERVICES: [&str; 2] = ["G1", "CA9"];
const CARS: [&str; 3] = ["01", "02", "03"];
const SEATS: [&str; 6] = ["1A", "3C", "4B", "5F", "12F", "A1"];
const DIAGNOSES: [Diagnosis; 4] = [
    Diagnosis::Confirmed,
    Diagnosis::Suspected,
    Diagnosis::Asymptomatic,
    Diagnosis::Recovered,
];

fn world() -> impl Strategy<Value = World> {
    let ride = (
        0..PERSONS,
        0..3usize,
        0..2usize,
        0..2usize,
        proptest::option::of(0..3usize),
        proptest::option::of(0..6usize),
        0..768u16,
        1..40u16,
        0..3u8,
    )
        .prop_map(
            |(person, mode, service, date, car, seat, depart, q, tz)| Ride {
                person,
                mode,
                service,
                date,
                car,
                seat,
                depart,
                minutes: q * 15,
                tz,
            },
        );
    let pass =
        (0..PERSONS, 0..3usize, 0..768u16, 0..3u8).prop_map(|(person, pass, time, tz)| Pass {
            person,
            pass,
            time,
            tz,
        });
    let stay = (
        0..PERSONS,
        0..2usize,
        0..768u16,
        proptest::option::of(0..10u16),
        0..3u8,
    )
        .prop_map(|(person, venue, time_in, q, tz)| Stay {
            person,
            venue,
            time_in,
            minutes: q.map(|q| q * 15),
            tz,
        });
    let lab = (
        0..PERSONS,
        0..700u16,
        0..200u16,
        any::<bool>(),
        proptest::option::of(0..4usize),
        proptest::option::of(0..8u8),
        0..3u8,
    )
        .prop_map(
            |(person, sample, delay, positive, diagnosis, onset, tz)| Lab {
                person,
                sample,
                delay,
                positive,
                diagnosis,
                onset,
                tz,
            },
        );
    (
        proptest::collection::vec(proptest::option::of(0..2usize), PERSONS),
        proptest::collection::vec(ride, 0..24),
        proptest::collection::vec(pass, 0..8),
        proptest::collection::vec(stay, 0..24),
        proptest::collection::vec(lab, 1..14),
        0..3u8,
        proptest::option::of(100..800u16),
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

fn ts(ms: i64, tz: u8) -> String {
    Timestamp(ms).to_rfc3339(zone(tz))
}

fn onset_date(day: u8) -> Date {
    Date::parse(b"2020-01-16").unwrap().add_days(i32::from(day))
}

fn service_date(i: usize) -> Date {
    Date::parse(b"2020-01-20").unwrap().add_days(i as i32)
}

// ---- writing the world as CSV ------------------------------------------------------------

fn write_part(dir: &Path, w: &World, part: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let take = |n: usize| -> std::ops::Range<usize> {
        if !w.split {
            return if part == 0 { 0..n } else { 0..0 };
        }
        if part == 0 { 0..n / 2 } else { n / 2..n }
    };
    let mut files = Vec::new();
    let mut write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        files.push(p);
    };
    let mut t = String::from(
        "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n",
    );
    for r in &w.rides[take(w.rides.len())] {
        let dep = at(r.depart);
        t += &format!(
            "{},{},{},{},{},{},,420100,{},,330100,{}\n",
            person_id(r.person),
            MODES[r.mode],
            SERVICES[r.service],
            service_date(r.date),
            r.car.map_or("", |c| CARS[c]),
            r.seat.map_or("", |s| SEATS[s]),
            ts(dep, r.tz),
            ts(dep + i64::from(r.minutes) * MIN, r.tz)
        );
    }
    write("travel.csv", t);
    let mut t = String::from(
        "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose\n",
    );
    for p in &w.passes[take(w.passes.len())] {
        t += &format!(
            "PASS{},浙A12345,{},,K{},330100,{},,,\n",
            p.pass,
            person_id(p.person),
            p.pass,
            ts(at(p.time), p.tz)
        );
    }
    write("checkpoint.csv", t);
    let mut t = String::from("person_id,venue_id,time_in,time_out\n");
    for s in &w.stays[take(w.stays.len())] {
        let tin = at(s.time_in);
        t += &format!(
            "{},V{},{},{}\n",
            person_id(s.person),
            s.venue,
            ts(tin, s.tz),
            s.minutes
                .map_or(String::new(), |m| ts(tin + i64::from(m) * MIN, s.tz))
        );
    }
    write("checkins.csv", t);
    let mut t = String::from("person_id,sample_time,result,diagnosis,onset_date,reported_time\n");
    for l in &w.labs[take(w.labs.len())] {
        let sample = at(l.sample);
        t += &format!(
            "{},{},{},{},{},{}\n",
            person_id(l.person),
            ts(sample, l.tz),
            if l.positive { "positive" } else { "negative" },
            l.diagnosis.map_or("", |d| DIAGNOSES[d].as_str()),
            l.onset.map_or(String::new(), |d| onset_date(d).to_string()),
            ts(sample + i64::from(l.delay) * 15 * MIN, l.tz)
        );
    }
    write("lab_results.csv", t);
    if part == 0 {
        let mut t = String::from("person_id,home_region,household_id\n");
        for (i, h) in w.households.iter().enumerate() {
            t += &format!(
                "{},330106,{}\n",
                person_id(i),
                h.map_or(String::new(), |h| format!("H{h}"))
            );
        }
        write("persons.csv", t);
    }
    files
}

fn load(dir: &Path, w: &World) -> Store {
    let k = keys();
    let data = dir.join("data");
    for part in 0..2 {
        let files = write_part(&dir.join(format!("in{part}")), w, part);
        let mut writer = Writer::open(&data, k.key_id(), zone(w.zone), || {}).unwrap();
        let s = ingest::run(
            &mut writer,
            &k,
            &files,
            &ingest::Options {
                threads: 1,
                ..ingest::Options::default()
            },
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(s.rows_rejected, 0, "generated rows are all good");
        drop(writer);
        let store = Store::open(&data, k.key_id()).unwrap();
        fangyi_trace::update(&store, &|_| {}).unwrap();
    }
    Store::open(&data, k.key_id()).unwrap()
}

// ---- the contract by brute force ----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
struct BruteCase {
    report: i64,
    from: i64,
    to: i64,
}

/// Section 2, read plainly.
fn brute_case(w: &World, person: usize, as_of: i64, z: Zone) -> (Option<BruteCase>, &'static str) {
    let mut rows: Vec<(i64, i64, usize, &Lab)> = w
        .labs
        .iter()
        .enumerate()
        .filter(|(_, l)| l.person == person)
        .map(|(i, l)| {
            let sample = at(l.sample);
            (sample + i64::from(l.delay) * 15 * MIN, sample, i, l)
        })
        .filter(|r| r.0 <= as_of)
        .collect();
    // Input order: the first half of each kind was ingested first when split, and within a
    // file by line, which is the index order either way.
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    let mut status = "none";
    let mut case_row = None;
    for r in &rows {
        let l = r.3;
        if let Some(d) = l.diagnosis {
            status = DIAGNOSES[d].as_str();
        } else if l.positive && status == "none" {
            status = "suspected";
        } else if !l.positive && status == "suspected" {
            status = "none";
        }
        if case_row.is_none() && (status == "confirmed" || status == "asymptomatic") {
            case_row = Some(*r);
        }
    }
    let Some(cr) = case_row else {
        return (None, status);
    };
    let onset = rows
        .iter()
        .find_map(|r| r.3.onset.map(onset_date))
        .or_else(|| {
            rows.iter()
                .filter(|r| r.3.positive)
                .map(|r| r.1)
                .min()
                .map(|s| Timestamp(s).date(z))
        })
        .unwrap_or_else(|| Timestamp(cr.1).date(z));
    (
        Some(BruteCase {
            report: cr.0,
            from: onset.add_days(-2).start(z).millis(),
            to: cr.0,
        }),
        status,
    )
}

/// Every interval a pair shared, by kind (section 3's table), unclipped.
fn shared(w: &World, a: usize, b: usize, from: i64, to: i64) -> Vec<(Via, i64, i64)> {
    let mut out = Vec::new();
    let meet = |x: (i64, i64), y: (i64, i64)| {
        let (s, e) = (x.0.max(y.0), x.1.min(y.1));
        (s <= e).then_some((s, e))
    };
    let row_of = |s: Option<usize>| {
        s.and_then(|s| {
            let d: String = SEATS[s].chars().take_while(char::is_ascii_digit).collect();
            d.parse::<i64>().ok()
        })
    };
    for x in w.rides.iter().filter(|r| r.person == a) {
        for y in w.rides.iter().filter(|r| r.person == b) {
            if (x.mode, x.service, x.date) != (y.mode, y.service, y.date) {
                continue;
            }
            let ok = match MODES[x.mode] {
                "rail" => x.car.is_none() || y.car.is_none() || x.car == y.car,
                "flight" => match (row_of(x.seat), row_of(y.seat)) {
                    (Some(p), Some(q)) => (p - q).abs() <= 3,
                    _ => true,
                },
                _ => true,
            };
            let xi = (at(x.depart), at(x.depart) + i64::from(x.minutes) * MIN);
            let yi = (at(y.depart), at(y.depart) + i64::from(y.minutes) * MIN);
            if let (true, Some((s, e))) = (ok, meet(xi, yi)) {
                let via = [Via::Rail, Via::Flight, Via::Coach][x.mode];
                out.push((via, s, e));
            }
        }
    }
    for x in w.passes.iter().filter(|p| p.person == a) {
        for y in w
            .passes
            .iter()
            .filter(|p| p.person == b && p.pass == x.pass)
        {
            let (s, e) = (at(x.time).min(at(y.time)), at(x.time).max(at(y.time)));
            out.push((Via::Vehicle, s, e));
        }
    }
    let stay = |s: &Stay| {
        let tin = at(s.time_in);
        (tin, tin + i64::from(s.minutes.unwrap_or(60)) * MIN)
    };
    for x in w.stays.iter().filter(|s| s.person == a) {
        for y in w
            .stays
            .iter()
            .filter(|s| s.person == b && s.venue == x.venue)
        {
            if let Some((s, e)) = meet(stay(x), stay(y))
                && e - s >= 15 * MIN
            {
                out.push((Via::Venue, s, e));
            }
        }
    }
    if let (Some(h), Some(k)) = (w.households[a], w.households[b])
        && h == k
    {
        out.push((Via::Household, from, to));
    }
    out
}

/// First and last clipped exposure, and the unclipped shared intervals behind them.
type Exposure = (i64, i64, BTreeSet<(Via, i64, i64)>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Found {
    degree: u8,
    via: usize,
    is_case: bool,
    first: i64,
    last: i64,
    until: Date,
    evidence: BTreeSet<(Via, i64, i64)>,
}

fn exposures(w: &World, a: usize, from: i64, to: i64) -> BTreeMap<usize, Exposure> {
    let mut out = BTreeMap::new();
    for b in (0..PERSONS).filter(|&b| b != a) {
        for (via, s, e) in shared(w, a, b, from, to) {
            let (cs, ce) = (s.max(from), e.min(to));
            if cs > ce {
                continue;
            }
            let entry = out
                .entry(b)
                .or_insert((i64::MAX, i64::MIN, BTreeSet::new()));
            entry.0 = entry.0.min(cs);
            entry.1 = entry.1.max(ce);
            entry.2.insert((via, s, e));
        }
    }
    out
}

fn brute_trace(
    w: &World,
    case: usize,
    c: BruteCase,
    as_of: i64,
    depth: u8,
    z: Zone,
    pseudo: &dyn Fn(usize) -> i64,
) -> BTreeMap<usize, Found> {
    let is_case = |p: usize| brute_case(w, p, as_of, z).0.is_some();
    let found = |degree, via, e: Exposure, p| Found {
        degree,
        via,
        is_case: is_case(p),
        first: e.0,
        last: e.1,
        until: Timestamp(e.1).date(z).add_days(14),
        evidence: e.2,
    };
    let first = exposures(w, case, c.from, c.to);
    let mut out: BTreeMap<usize, Found> = first
        .iter()
        .map(|(&p, e)| (p, found(1, case, e.clone(), p)))
        .collect();
    if depth == 2 {
        // Degree-1 contacts in pseudonym order; the earliest exposure names the via.
        let mut d1: Vec<usize> = first.keys().copied().collect();
        d1.sort_by_key(|&p| pseudo(p));
        let mut second: BTreeMap<usize, (usize, Exposure)> = BTreeMap::new();
        for c1 in d1 {
            for (p, e) in exposures(w, c1, first[&c1].0, as_of) {
                if p == case || first.contains_key(&p) {
                    continue;
                }
                match second.get_mut(&p) {
                    None => {
                        second.insert(p, (c1, e));
                    }
                    Some((via, acc)) => {
                        if e.0 < acc.0 {
                            *via = c1;
                        }
                        acc.0 = acc.0.min(e.0);
                        acc.1 = acc.1.max(e.1);
                        acc.2.extend(e.2);
                    }
                }
            }
        }
        for (p, (via, e)) in second {
            out.insert(p, found(2, via, e, p));
        }
    }
    out
}

// ---- the comparison ------------------------------------------------------------------------

fn check(w: &World) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = load(dir.path(), w);
    let z = zone(w.zone);
    prop_assert_eq!(store.zone(), z);
    let index = Index::open(&store).unwrap();
    let tracer = Tracer::new(&index, z);
    let k = keys();
    let pseudo = |i: usize| k.pseudonyms.pseudonym(person_id(i));
    let who: BTreeMap<i64, usize> = (0..PERSONS).map(|i| (pseudo(i), i)).collect();
    let as_of = w.as_of.map_or(i64::MAX / 2, at);
    let mut brute_cases = Vec::new();
    for p in 0..PERSONS {
        let (bc, status) = brute_case(w, p, as_of, z);
        let a = tracer.assess(pseudo(p), as_of);
        prop_assert_eq!(a.status.as_str(), status, "status of person {}", p);
        prop_assert_eq!(
            a.case.map(|c| (c.report_time, c.window.from, c.window.to)),
            bc.map(|c| (c.report, c.from, c.to)),
            "case of person {}",
            p
        );
        for depth in [1u8, 2] {
            let got = tracer.trace(pseudo(p), as_of, depth);
            let Some(c) = bc else {
                prop_assert!(got.is_err(), "person {} is not a case", p);
                continue;
            };
            let got = got.unwrap();
            let got: BTreeMap<usize, Found> = got
                .contacts
                .iter()
                .map(|c| {
                    (
                        who[&c.person],
                        Found {
                            degree: c.degree,
                            via: who[&c.via],
                            is_case: c.is_case,
                            first: c.first_exposure,
                            last: c.last_exposure,
                            until: c.quarantine_until,
                            evidence: c.evidence.iter().map(|e| (e.via, e.from, e.to)).collect(),
                        },
                    )
                })
                .collect();
            let want = brute_trace(w, p, c, as_of, depth, z, &pseudo);
            prop_assert_eq!(got, want, "contacts of case {} at depth {}", p, depth);
        }
        if bc.is_some() {
            brute_cases.push(pseudo(p));
        }
    }
    // In bulk, with the case set known up front, the answers are the same.
    let all = tracer.cases(as_of);
    let set = fangyi_trace::CaseSet::new(&all);
    for depth in [1u8, 2] {
        let bulk = tracer.trace_many(&all, &set, as_of, depth);
        for (t, (p, _)) in bulk.iter().zip(&all) {
            prop_assert_eq!(t, &tracer.trace(*p, as_of, depth).unwrap());
        }
    }
    // Seen from each person, the cases they are a contact of are exactly the traces that
    // list them (health codes ask this way round).
    for depth in [1u8, 2] {
        let traces = tracer.trace_many(&all, &set, as_of, depth);
        for p in 0..PERSONS {
            let mut want: Vec<(i64, u8, i64, i64, i64, Date)> = traces
                .iter()
                .flat_map(|t| {
                    t.contacts
                        .iter()
                        .filter(|c| c.person == pseudo(p))
                        .map(|c| {
                            (
                                t.case,
                                c.degree,
                                c.via,
                                c.first_exposure,
                                c.last_exposure,
                                c.quarantine_until,
                            )
                        })
                })
                .collect();
            want.sort_unstable();
            let got: Vec<(i64, u8, i64, i64, i64, Date)> = tracer
                .exposures_to_cases(pseudo(p), as_of, depth)
                .into_iter()
                .map(|x| {
                    (
                        x.case,
                        x.degree,
                        x.via,
                        x.first_exposure,
                        x.last_exposure,
                        x.quarantine_until,
                    )
                })
                .collect();
            prop_assert_eq!(
                got,
                want,
                "cases person {} is a contact of, depth {}",
                p,
                depth
            );
        }
    }
    let mut engine_cases: Vec<i64> = all.into_iter().map(|c| c.0).collect();
    engine_cases.sort_unstable();
    brute_cases.sort_unstable();
    prop_assert_eq!(engine_cases, brute_cases);

    // The public self-check against the same brute force.
    for r in &w.rides {
        let car = r.car.map(|c| CARS[c].to_string());
        let seat = r.seat.map(|s| SEATS[s].to_string());
        let q = CotravelQuery {
            via: [Via::Rail, Via::Flight, Via::Coach][r.mode],
            service: SERVICES[r.service].to_string(),
            date: service_date(r.date),
            car: car.clone(),
            seat: seat.clone(),
        };
        let got = tracer.cotravel(&q, as_of);
        let mut cases = BTreeSet::new();
        let mut infectious = BTreeSet::new();
        for o in w
            .rides
            .iter()
            .filter(|o| (o.mode, o.service, o.date) == (r.mode, r.service, r.date))
        {
            let ok = match MODES[r.mode] {
                "rail" => r.car.is_none() || o.car.is_none() || r.car == o.car,
                "flight" => {
                    let row = |s: Option<usize>| {
                        s.and_then(|s| {
                            SEATS[s]
                                .chars()
                                .take_while(char::is_ascii_digit)
                                .collect::<String>()
                                .parse::<i64>()
                                .ok()
                        })
                    };
                    r.seat.is_none()
                        || match (row(r.seat), row(o.seat)) {
                            (Some(a), Some(b)) => (a - b).abs() <= 3,
                            _ => true,
                        }
                }
                _ => true,
            };
            if let (true, (Some(c), _)) = (ok, brute_case(w, o.person, as_of, z)) {
                cases.insert(o.person);
                let (s, e) = (at(o.depart), at(o.depart) + i64::from(o.minutes) * MIN);
                if s.max(c.from) <= e.min(c.to) {
                    infectious.insert(o.person);
                }
            }
        }
        prop_assert_eq!(
            (got.cases, got.infectious),
            (cases.len() as u64, infectious.len() as u64),
            "cotravel {:?}",
            q
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn indexed_engine_matches_brute_force(w in world()) {
        check(&w)?;
    }
}
