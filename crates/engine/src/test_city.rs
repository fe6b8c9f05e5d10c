//! A test city the engine's unit tests share: two households, one in Wenzhou (330302,
//! community C1) and one in Hangzhou (330102, C5), each a confirmed case (reported 2020-01-23)
//! and the person they live with, ingested under a fixed test key.

use std::sync::atomic::AtomicBool;

use model::{Date, PersonId, Zone};
use vault::{Keys, MasterKey};

pub(crate) fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([33; 32]))
}

pub(crate) fn person(region: u32, i: u32) -> PersonId {
    PersonId::from_parts(region, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
}

/// Writes the city's files into `input` and ingests them into `data` under [`keys`].
pub(crate) fn two_households(data: &std::path::Path, input: &std::path::Path) {
    std::fs::create_dir_all(input).unwrap();
    let (a, b) = (person(330302, 1), person(330302, 2));
    let (c, d) = (person(330102, 3), person(330102, 4));
    std::fs::write(
        input.join("persons.csv"),
        format!(
            "person_id,home_region,community_id,household_id\n\
             {a},330302,C1,H1\n{b},330302,C1,H1\n{c},330102,C5,H2\n{d},330102,C5,H2\n"
        ),
    )
    .unwrap();
    std::fs::write(
        input.join("lab_results.csv"),
        format!(
            "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
             {a},2020-01-22T09:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n\
             {c},2020-01-22T09:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n"
        ),
    )
    .unwrap();
    ingest_files(
        data,
        &[input.join("persons.csv"), input.join("lab_results.csv")],
    );
}

/// Ingests `files` into `data` under [`keys`], every row accepted.
pub(crate) fn ingest_files(data: &std::path::Path, files: &[std::path::PathBuf]) {
    let k = keys();
    let mut w = store::Writer::open(data, k.key_id(), Zone::CST, || {}).unwrap();
    let s = ingest::run(
        &mut w,
        &k,
        files,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(s.rows_rejected, 0);
}
