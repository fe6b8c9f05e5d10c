//! The trace index never answers from records the store no longer has, and learns of sources
//! ingested since it was built: both judged by the store's registry of derived data
//! (`Store::standing`), not by the index's own reading of the manifest.

use std::path::{Path, PathBuf};

use fangyi_trace::{Freshness, Index, TraceError, Tracer, freshness, update};
use model::{Date, Kind, PersonId, Timestamp, Zone};
use store::{Derived, Store, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([5; 32]))
}

fn person(i: u32) -> PersonId {
    PersonId::from_parts(420106, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
}

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

/// The contacts of the case (person 0), by person number.
fn contacts(store: &Store) -> Vec<u32> {
    let index = Index::open(store).unwrap();
    let pseudonym = |i| keys().pseudonyms.pseudonym(person(i));
    let as_of = Timestamp::parse_rfc3339(b"2020-01-25T00:00:00+08:00")
        .unwrap()
        .millis();
    let trace = Tracer::new(&index, Zone::CST)
        .trace(pseudonym(0), as_of, 1)
        .unwrap();
    let mut found: Vec<u32> = trace
        .contacts
        .iter()
        .map(|c| (0..3).find(|&i| pseudonym(i) == c.person).unwrap())
        .collect();
    found.sort_unstable();
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn new_sources_are_indexed_and_removed_records_are_never_answered_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let view = || Store::open(&data, keys().key_id()).unwrap();
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
    update(&view(), &|_| {}).unwrap();
    assert_eq!(contacts(&view()), [1]);

    // A source ingested since: the index is behind until updated, then answers with it.
    ingest(
        &data,
        &dir.path().join("in1"),
        &[("checkins-b.csv", visit("V2", 2, 14))],
    );
    assert_eq!(freshness(&view()).unwrap(), Freshness::Behind(1));
    let r = update(&view(), &|_| {}).unwrap();
    assert_eq!((r.sources_indexed, r.rebuilt), (1, false));
    assert_eq!(contacts(&view()), [1, 2]);

    // Retention removes every check-in but keeps the sources listed. Suppose the process
    // stopped between the store's commit and its emptying of the index folder: the old
    // segments are still there, covering only sources the store still lists.
    let index_dir = Derived::TraceIndex.dir(&data);
    let before = dir.path().join("index-before");
    copy_dir(&index_dir, &before);
    let older_view = view();
    let k = keys();
    let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    let removed = w
        .remove_before(Kind::Checkins, "2020-01-20".parse().unwrap(), false)
        .unwrap();
    drop(w);
    assert_eq!(removed.rows, 4);
    assert!(
        !index_dir.join("index.json").exists(),
        "the store empties it"
    );
    copy_dir(&before, &index_dir);
    // Regression: the index looked current (every source it covered was still listed) and
    // answered with the removed check-ins.
    assert_eq!(freshness(&view()).unwrap(), Freshness::Invalid);
    match Index::open(&view()) {
        Err(TraceError::Outdated { .. }) => {}
        other => panic!("opened an index of removed records: {other:?}"),
    }
    // A build from a view older than the removal is not saved, even though it may have read
    // the files before they went.
    std::fs::remove_dir_all(&index_dir).unwrap();
    match update(&older_view, &|_| {}) {
        Err(TraceError::Outdated { .. }) => {}
        other => panic!("saved an index of removed records: {other:?}"),
    }
    assert!(!index_dir.join("index.json").exists());
    let r = update(&view(), &|_| {}).unwrap();
    assert_eq!(r.sources_indexed, 4, "all of them, anew");
    assert_eq!(freshness(&view()).unwrap(), Freshness::Current);
    assert_eq!(contacts(&view()), Vec::<u32>::new());

    // Throwing the index away (`fangyi index --rebuild`) empties its folder under the lock an
    // update holds, rather than deleting the lock under a running update.
    fangyi_trace::index::remove(&view()).unwrap();
    assert!(index_dir.join(".lock").exists());
    assert!(!index_dir.join("index.json").exists());
    assert_eq!(freshness(&view()).unwrap(), Freshness::Behind(4));
}
