//! What the crate's SQL tests share: the key their stores are written under, ingesting made
//! files into a fresh store (with the trace index, or without), and the index's `trace --all`
//! answer in the SQL's shape to hold the statements to.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fangyi_query::SqlContact;
use model::Zone;
use store::{Store, Writer};
use trace::{CaseSet, Index, Tracer};
use vault::{Keys, MasterKey};

pub fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([7; 32]))
}

/// `inputs` ingested into a new store at `data`; every made row must be good.
pub fn ingest_only(data: &Path, zone: Zone, inputs: &[PathBuf]) -> Store {
    let k = keys();
    let mut w = Writer::open(data, k.key_id(), zone, || {}).unwrap();
    let s = ingest::run(
        &mut w,
        &k,
        inputs,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    drop(w);
    assert_eq!(s.rows_rejected, 0, "every made row is good");
    Store::open(data, k.key_id()).unwrap()
}

/// [`ingest_only`], then the trace index built.
pub fn ingest(data: &Path, zone: Zone, inputs: &[PathBuf]) -> Store {
    let store = ingest_only(data, zone, inputs);
    trace::update(&store, &|_| {}).unwrap();
    store
}

/// The index's answer in the SQL's shape, in (case, person) pseudonym order.
pub fn by_index(store: &Store, as_of: i64, depth: u8) -> Vec<SqlContact> {
    let index = Index::open(store).unwrap();
    let tracer = Tracer::new(&index, store.zone());
    let cases = tracer.cases(as_of);
    let all = CaseSet::new(&cases);
    let mut out = Vec::new();
    for t in tracer.trace_many(&cases, &all, as_of, depth) {
        for c in &t.contacts {
            out.push(SqlContact {
                case: t.case,
                person: c.person,
                degree: c.degree,
                via: c.via,
                is_case: c.is_case,
                first_exposure: c.first_exposure,
                last_exposure: c.last_exposure,
                quarantine_until: c.quarantine_until,
                evidence: trace::evidence_kinds(c),
            });
        }
    }
    out.sort();
    out
}
