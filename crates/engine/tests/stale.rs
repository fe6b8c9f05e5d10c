//! Answers follow the store: a trace or a code asked after another process ingested new
//! sources includes them, and one asked after records were removed never comes from an index
//! built before the removal — even when the removal stopped before the index folder was
//! emptied (the store's registry of derived data judges the index, not the index itself).

use std::path::{Path, PathBuf};

use fangyi_engine as engine;

use engine::{Account, Caller, Engine, EngineOptions};
use model::{Date, Kind, PersonId, Zone};
use privacy::{Purpose, Role, Scope};
use store::{Derived, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([33; 32]))
}

fn person(i: u32) -> PersonId {
    PersonId::from_parts(420106, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
}

/// Ingests files as another process would (the store's writer, not the engine).
fn ingest(data: &Path, dir: &Path, files: &[(&str, String)]) {
    std::fs::create_dir_all(dir).unwrap();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, text)| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect();
    let s = ingest::into_data_dir(data, &keys(), Zone::CST, &paths).unwrap();
    assert_eq!(s.rows_rejected, 0);
}

/// Person 0 and person `who` at venue `venue` on 19 January, `hour` to an hour later.
fn visit(venue: &str, who: u32, hour: u32) -> String {
    let mut t = String::from("person_id,venue_id,time_in,time_out\n");
    for p in [0, who] {
        t += &format!(
            "{},{venue},2020-01-19T{hour:02}:00:00+08:00,2020-01-19T{:02}:00:00+08:00\n",
            person(p),
            hour + 1
        );
    }
    t
}

fn epidemiologist() -> Caller {
    let account = Account {
        name: "epi".into(),
        role: Role::Epidemiologist,
        scope: Scope::default(),
    };
    Caller::new(account, Purpose::OutbreakResponse, "a test's question")
}

/// The case's contacts, by person number.
async fn contacts(e: &Engine) -> Vec<u32> {
    let t = e
        .contacts(
            &epidemiologist(),
            &person(0).to_string(),
            Some("2020-01-25"),
            1,
        )
        .await
        .unwrap();
    let mut found: Vec<u32> = t
        .contacts
        .iter()
        .map(|c| {
            (0..3)
                .find(|&i| person(i).to_string() == c.person_id)
                .unwrap()
        })
        .collect();
    found.sort_unstable();
    found
}

async fn color(e: &Engine, p: u32) -> &'static str {
    e.person_code(
        &epidemiologist(),
        &person(p).to_string(),
        Some("2020-01-25"),
    )
    .await
    .unwrap()
    .color
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_and_codes_follow_new_sources_and_never_removed_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut persons = String::from("person_id,home_region,household_id\n");
    for p in 0..3 {
        persons += &format!("{},330106,\n", person(p));
    }
    let labs = format!(
        "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
         {},2020-01-20T09:00:00+08:00,positive,confirmed,,2020-01-20T12:00:00+08:00\n",
        person(0)
    );
    ingest(
        &data,
        &dir.path().join("in0"),
        &[
            ("persons.csv", persons),
            ("lab_results.csv", labs),
            ("checkins-a.csv", visit("V1", 1, 10)),
        ],
    );
    let e = Engine::open(EngineOptions::new(&data), keys())
        .await
        .unwrap();
    assert_eq!(contacts(&e).await, [1]);
    assert_ne!(color(&e, 1).await, "green");
    assert_eq!(color(&e, 2).await, "green");

    // Another process ingests a check-in of person 2 with the case.
    ingest(
        &data,
        &dir.path().join("in1"),
        &[("checkins-b.csv", visit("V2", 2, 14))],
    );
    assert_eq!(contacts(&e).await, [1, 2]);
    assert_ne!(color(&e, 2).await, "green");

    // Another process's retention removes every check-in and stops before emptying the index
    // folder: the segments of the removed check-ins are still there, and every source they
    // cover is still listed (retention keeps sources listed).
    let index_dir = Derived::TraceIndex.dir(&data);
    let before = dir.path().join("index-before");
    copy_dir(&index_dir, &before);
    let mut w = Writer::open(&data, keys().key_id(), Zone::CST, || {}).unwrap();
    w.remove_before(Kind::Checkins, "2020-01-20".parse().unwrap(), false)
        .unwrap();
    drop(w);
    copy_dir(&before, &index_dir);
    // Regression: the index looked current and both were answered from removed check-ins.
    assert_eq!(contacts(&e).await, Vec::<u32>::new());
    assert_eq!(color(&e, 1).await, "green");
    assert_eq!(color(&e, 2).await, "green");
}
