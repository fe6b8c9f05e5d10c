//! Helpers shared by the ingest tests that read back what was stored: run an ingest, read its
//! rejects file, and read `persons` rows back with ids revealed and sealed fields opened.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int64Type};
use fangyi_ingest as ingest;
use ingest::{IngestError, Options, Summary};
use model::{Kind, Zone};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

pub fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([9; 32]))
}

pub fn try_ingest(data: &Path, paths: &[PathBuf], opts: &Options) -> Result<Summary, IngestError> {
    let k = keys();
    let mut w = Writer::open(data, k.key_id(), Zone::CST, || {}).unwrap();
    ingest::run(&mut w, &k, paths, opts, &|_| {}, &AtomicBool::new(false))
}

pub fn ingest(data: &Path, paths: &[PathBuf]) -> Summary {
    try_ingest(
        data,
        paths,
        &Options {
            threads: 2,
            ..Options::default()
        },
    )
    .unwrap()
}

/// One row of a rejects file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectRow {
    pub file: String,
    pub line: u64,
    pub last_line: u64,
    pub column: String,
    pub reason: String,
}

pub fn rejects(summary: &Summary) -> Vec<RejectRow> {
    let mut rdr = csv::Reader::from_path(&summary.rejects).unwrap();
    assert_eq!(
        rdr.headers().unwrap(),
        vec!["file", "line", "column", "reason", "last_line"]
    );
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            RejectRow {
                file: r[0].to_string(),
                line: r[1].parse().unwrap(),
                last_line: r[4].parse().unwrap(),
                column: r[2].to_string(),
                reason: r[3].to_string(),
            }
        })
        .collect()
}

pub fn read_all(files: &[PathBuf]) -> Vec<RecordBatch> {
    files
        .iter()
        .flat_map(|f| {
            let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap();
            r.map(Result::unwrap).collect::<Vec<_>>()
        })
        .collect()
}

/// A stored `persons` row: its source line (or row) and its fields in the kind's column
/// order, as text — the id revealed, sealed fields opened, dates as `YYYY-MM-DD`.
pub type PersonRow = (u64, Vec<Option<String>>);

pub fn stored_persons(data: &Path) -> Vec<PersonRow> {
    let k = keys();
    let store = Store::open(data, k.key_id()).unwrap();
    let mut sealed: BTreeMap<i64, Vec<Option<String>>> = BTreeMap::new();
    for b in read_all(&store.vault_paths(Kind::Persons)) {
        let rid = b.column(0).as_primitive::<Int64Type>();
        let pid = b.column(1).as_primitive::<Int64Type>();
        let salt = b.column(2).as_fixed_size_binary();
        let cells = b.column(3).as_binary::<i32>();
        for r in 0..b.num_rows() {
            let salt: [u8; 16] = salt.value(r).try_into().unwrap();
            let fields = k
                .opener(&salt)
                .open("persons", pid.value(r), rid.value(r), cells.value(r))
                .unwrap();
            sealed.insert(rid.value(r), fields);
        }
    }
    let mut rows = Vec::new();
    for b in read_all(&store.table_paths(Kind::Persons)) {
        let col = |name: &str| b.column_by_name(name).unwrap().clone();
        let (id, birth, rid) = (col("person_id"), col("birth_date"), col("_rid"));
        let (id, birth, rid) = (
            id.as_primitive::<Int64Type>(),
            birth.as_primitive::<Date32Type>(),
            rid.as_primitive::<Int64Type>(),
        );
        let text = |name: &str, r: usize| {
            let a = b.column_by_name(name).unwrap();
            let a = a.as_string::<i32>();
            (!a.is_null(r)).then(|| a.value(r).to_string())
        };
        for r in 0..b.num_rows() {
            let rid = rid.value(r);
            let open = sealed
                .remove(&rid)
                .unwrap_or_else(|| vec![None, None, None]);
            let person = k.pseudonyms.reveal(id.value(r)).unwrap().to_string();
            let birth = (!birth.is_null(r)).then(|| model::Date(birth.value(r)).to_string());
            rows.push((
                (rid & 0xFFFF_FFFF) as u64,
                vec![
                    Some(person),
                    open[0].clone(),
                    open[1].clone(),
                    birth,
                    text("sex", r),
                    text("home_region", r),
                    text("community_id", r),
                    text("household_id", r),
                    open[2].clone(),
                ],
            ));
        }
    }
    assert!(
        sealed.is_empty(),
        "every sealed row belongs to a stored row"
    );
    rows.sort();
    rows
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The shared data folder beside the repository: `<repo>/../shared/data/<folder>`.
pub fn shared(folder: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(folder);
    assert!(p.is_dir(), "{} beside the repository", p.display());
    p
}
