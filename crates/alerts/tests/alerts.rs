//! The four alert rules on a small hand-made store in Wenzhou, every alert worked out by hand,
//! and the public trail of a case.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use fangyi_alerts::{AlertRule, AlertRules, Sources, Task, compute, public_trail};
use inflow::OriginRisk;
use model::{Date, PersonId, Region, Zone};
use query::Query;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([9; 32]))
}

/// Person `n` (1..=26), a Wenzhou resident's id.
fn id(n: u32) -> PersonId {
    PersonId::from_parts(330302, Date::from_ymd(1980, 1, n).unwrap(), 10 + n).unwrap()
}

/// `{n}` in a line stands for person n's id.
fn lines(header: &str, rows: &[&str]) -> String {
    let mut text = format!("{header}\n");
    for r in rows {
        let mut r = r.to_string();
        for n in (1..=26).rev() {
            r = r.replace(&format!("{{{n}}}"), &id(n).to_string());
        }
        text.push_str(&r);
        text.push('\n');
    }
    text
}

fn rail(p: u32, from: &str, to: &str, day: &str, time: &str) -> String {
    format!(
        "{{{p}}},rail,G{p},{day},01,01A,,{from},{day}T06:00:00+08:00,,{to},{day}T{time}:00+08:00"
    )
}

/// The scenario (as of 2020-01-22; Wuhan 420100 high risk all January):
/// - persons 1–3 (C1 in 330302) came from Wuhan by rail on the 22nd;
/// - C2 (330302): person 4 from Hangzhou on the 20th, persons 5 and 6 from Hangzhou on the 22nd;
/// - person 7, a case (onset the 20th, reported the 22nd), home 330303 / C4, checked in at V1
///   (330303 / C3) on the 19th and at V2 on the 15th (before the trail window);
/// - person 8 drove in from Wuhan on the 20th (home 330304 / C5) and never registered;
/// - person 9 came by rail from Wuhan on the 20th and registered on the 21st;
/// - person 10 drove in from Wuhan on the 22nd at 08:00 (less than 24 h before the day ends),
///   home 330304 / C5.
fn load(dir: &Path) -> (Store, Query) {
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    let travel: Vec<String> = vec![
        rail(1, "420100", "330302", "2020-01-22", "12:00"),
        rail(2, "420106", "330302", "2020-01-22", "12:00"),
        rail(3, "420100", "330302", "2020-01-22", "13:00"),
        rail(4, "330100", "330302", "2020-01-20", "12:00"),
        rail(5, "330100", "330302", "2020-01-22", "12:00"),
        rail(6, "330100", "330302", "2020-01-22", "12:00"),
        rail(9, "420100", "330302", "2020-01-20", "12:00"),
    ];
    let travel: Vec<&str> = travel.iter().map(String::as_str).collect();
    let files = [
        (
            "travel.csv",
            lines(
                "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time",
                &travel,
            ),
        ),
        (
            "persons.csv",
            lines(
                "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address",
                &[
                    "{1},,,,,330302,C1,,",
                    "{2},,,,,330302,C1,,",
                    "{3},,,,,330302,C1,,",
                    "{4},,,,,330302,C2,,",
                    "{5},,,,,330302,C2,,",
                    "{6},,,,,330302,C2,,",
                    "{7},,,,,330303,C4,H7,",
                    "{8},,,,,330304,C5,,",
                    "{9},,,,,330304,C5,,",
                    "{10},,,,,330304,C5,,",
                ],
            ),
        ),
        (
            "checkpoint.csv",
            lines(
                "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose",
                &[
                    "P8,浙C00008,{8},driver,G15-01,330304,2020-01-20T10:00:00+08:00,420100,330304,返乡",
                    "P10,浙C00010,{10},driver,G15-01,330304,2020-01-22T08:00:00+08:00,420100,330304,返乡",
                ],
            ),
        ),
        (
            "registrations.csv",
            lines(
                "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone",
                &["{9},2020-01-21,420100,330304,C5,,"],
            ),
        ),
        (
            "venues.csv",
            "venue_id,name,kind,region,community_id,lat,lon\nV1,五马街菜场,market,330303,C3,,\nV2,江心屿,park,330302,C1,,\n".to_string(),
        ),
        (
            "checkins.csv",
            lines(
                "person_id,venue_id,time_in,time_out",
                &[
                    "{7},V1,2020-01-19T09:00:00+08:00,2020-01-19T10:30:00+08:00",
                    "{7},V2,2020-01-15T09:00:00+08:00,2020-01-15T10:00:00+08:00",
                ],
            ),
        ),
        (
            "lab_results.csv",
            lines(
                "person_id,sample_time,result,diagnosis,onset_date,reported_time",
                &["{7},2020-01-21T09:00:00+08:00,positive,confirmed,2020-01-20,2020-01-22T10:00:00+08:00"],
            ),
        ),
    ];
    let mut paths = Vec::new();
    for (name, text) in files {
        let p = input.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let k = keys();
    let data = dir.join("data");
    let mut writer = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    let s = ingest::run(
        &mut writer,
        &k,
        &paths,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(s.rows_rejected, 0);
    drop(writer);
    let store = Store::open(&data, k.key_id()).unwrap();
    trace::update(&store, &|_| {}).unwrap();
    let q = Query::open_pseudonymised(&store).unwrap();
    (store, q)
}

fn wuhan_high(origin: Region, _: Date) -> OriginRisk {
    if Region::new(420100).unwrap().covers(origin) {
        OriginRisk::High
    } else {
        OriginRisk::None
    }
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

#[tokio::test]
async fn each_rule_raises_the_alerts_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q) = load(dir.path());
    let index = trace::Index::open(&store).unwrap();
    let src = Sources {
        query: &q,
        index: &index,
        zone: store.zone(),
        risk: &wuhan_high,
    };
    let rules = AlertRules::parse("[arrival_jump]\nmin_arrivals = 2\n", "test").unwrap();
    let alerts = compute(&src, &rules, d("2020-01-22")).await.unwrap();
    let shown: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {}/{} {} {} x{}",
                a.severity.as_str(),
                a.rule.as_str(),
                a.region,
                a.community.as_deref().unwrap_or("-"),
                a.date,
                a.task.as_str(),
                a.count
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "high high_risk_arrivals 330302/C1 2020-01-22 visit x3",
            "high case_trail 330303/C3 2020-01-22 disinfect x1",
            "high case_trail 330303/C4 2020-01-22 home_quarantine_check x1",
            // Person 10, within the 24 h: counted as a high-risk arrival, not yet overdue.
            "high high_risk_arrivals 330304/C5 2020-01-22 visit x1",
            // C1 had no arrivals in the 7 days before.
            "medium arrival_jump 330302/C1 2020-01-22 register x3",
            "medium arrival_jump 330302/C2 2020-01-22 register x2",
            "medium unregistered_returnee 330304/C5 2020-01-21 register x1",
        ]
    );
    let venue = &alerts[1];
    assert_eq!(venue.venue.as_deref(), Some("V1"));
    assert!(venue.detail.contains("五马街菜场"), "{}", venue.detail);
    assert!(
        venue.detail.contains("2020-01-19 09:00–10:30"),
        "{}",
        venue.detail
    );
    assert!(venue.persons.is_empty(), "a trail names no one");
    let returnee = &alerts[6];
    assert_eq!(
        returnee.persons,
        [keys().pseudonyms.pseudonym(id(8))],
        "the one who never registered"
    );
    // How they came is a field of its own, for the viewer's role to show or not.
    assert_eq!(returnee.travel, Some("road"));
    assert!(!returnee.detail.contains("road"), "{}", returnee.detail);
    assert_eq!(alerts[0].task, Task::Visit);

    // Ids are stable: computing again gives the same.
    let again = compute(&src, &rules, d("2020-01-22")).await.unwrap();
    let ids = |v: &[fangyi_alerts::Alert]| v.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&alerts), ids(&again));

    // The built-in jump needs 10 arrivals; turning rules off removes their alerts.
    let builtin = compute(&src, &AlertRules::builtin(), d("2020-01-22"))
        .await
        .unwrap();
    assert!(builtin.iter().all(|a| a.rule != AlertRule::ArrivalJump));
    let quiet = AlertRules::parse(
        "[case_trail]\nenabled = false\n[unregistered_returnee]\nenabled = false\n",
        "test",
    )
    .unwrap();
    let fewer = compute(&src, &quiet, d("2020-01-22")).await.unwrap();
    assert_eq!(fewer.len(), 2);

    // The next day: the case is no longer new; persons 1–3 and 10 are now past their 24 h.
    let next = compute(&src, &rules, d("2020-01-23")).await.unwrap();
    assert!(
        next.iter()
            .all(|a| a.rule == AlertRule::UnregisteredReturnee)
    );
    let mut overdue: Vec<i64> = next.iter().flat_map(|a| a.persons.clone()).collect();
    overdue.sort_unstable();
    let mut want: Vec<i64> = [1, 2, 3, 8, 10]
        .iter()
        .map(|&n| keys().pseudonyms.pseudonym(id(n)))
        .collect();
    want.sort_unstable();
    assert_eq!(overdue, want);
}

#[tokio::test]
async fn the_public_trail_runs_from_the_day_before_onset_to_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = load(dir.path());
    let index = trace::Index::open(&store).unwrap();
    let zone = store.zone();
    let tracer = trace::Tracer::new(&index, zone);
    let case = keys().pseudonyms.pseudonym(id(7));
    let info = tracer
        .assess(case, d("2020-01-22").end_of_day(zone).millis())
        .case
        .unwrap();
    let trail = public_trail(&index, case, &info, zone);
    let stops: Vec<(String, String)> = trail
        .iter()
        .map(|s| (s.place.clone(), s.start.to_rfc3339(zone)))
        .collect();
    assert_eq!(
        stops,
        [("V1".to_string(), "2020-01-19T09:00:00+08:00".to_string())],
        "V2 on the 15th is before the window"
    );
}
