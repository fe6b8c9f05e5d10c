//! Shared by the integration tests: the scenario persons, CSV files written from lines with
//! `{A}`-style placeholders, and a store loaded from them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use model::{Date, PersonId, Zone};
use query::Query;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

pub fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([5; 32]))
}

/// The persons of the scenario, by letter.
pub fn id(who: char) -> PersonId {
    let i = u32::from(who) - u32::from('A');
    PersonId::from_parts(330302, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
}

pub const TRAVEL: &str = "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time";
pub const CHECKPOINT: &str = "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose";
pub const REGISTRATIONS: &str =
    "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone";
pub const SELF_REPORTS: &str = "person_id,time,temperature_c,symptoms,visited_regions,note";
pub const PERSONS: &str =
    "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address";

/// `{A}` … `{Z}` in a line stand for the persons' ids.
pub fn file(dir: &Path, name: &str, header: &str, lines: &[&str]) -> PathBuf {
    let mut text = format!("{header}\n");
    for l in lines {
        let mut l = l.to_string();
        for c in 'A'..='Z' {
            l = l.replace(&format!("{{{c}}}"), &id(c).to_string());
        }
        text.push_str(&l);
        text.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Ingests each batch of files in its own run (later runs are later input), in `zone`.
pub fn load(dir: &Path, zone: Zone, runs: &[Vec<PathBuf>]) -> (Store, Query) {
    let k = keys();
    let data = dir.join("data");
    for files in runs {
        let mut writer = Writer::open(&data, k.key_id(), zone, || {}).unwrap();
        let s = ingest::run(
            &mut writer,
            &k,
            files,
            &ingest::Options {
                threads: 1,
                ..ingest::Options::default()
            },
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(s.rows_rejected, 0, "every hand-made row is good");
    }
    let store = Store::open(&data, k.key_id()).unwrap();
    let q = Query::open(&store, &k).unwrap();
    (store, q)
}

/// The letter of the scenario person behind a pseudonym.
pub fn letter(pseudonym: i64) -> char {
    let k = keys();
    ('A'..='Z')
        .find(|&c| k.pseudonyms.pseudonym(id(c)) == pseudonym)
        .expect("a scenario person")
}
