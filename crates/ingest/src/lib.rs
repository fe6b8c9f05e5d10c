//! Validated ingest of CSV, JSON Lines and Parquet sources into a data dir.
//!
//! Each source is hashed (the same content is never ingested twice as one kind), cut into
//! chunks of whole records, parsed in parallel against the contract's rules into partitioned
//! Parquet files in a staging area, and committed atomically once all its chunks are done.
//! Bad rows go to the run's rejects file; the good rows of the same source still land. Every
//! input line (Parquet row) is stored, rejected, or blank and skipped; CSV records follow one
//! rule (`records.rs`) for chunking and parsing alike. A file that cannot be read at all is
//! refused by name and not recorded.
//!
//! Invariant: no person id, name, phone, address, plate or note leaves this crate in clear:
//! ids become pseudonyms and personal fields are sealed before anything is written.

mod chunk;
mod columns;
mod discover;
mod formats;
mod pipeline;
mod records;
mod rejects;
mod split;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub use chunk::Reject;
pub use discover::{Format, Source, discover};
pub use formats::{RecordError, check_json_record};
pub use pipeline::{into_data_dir, run};

/// How to run an ingest.
#[derive(Clone, Debug)]
pub struct Options {
    /// Read every source as this kind instead of naming it by its file name.
    pub kind: Option<model::Kind>,
    /// Worker threads (default: the machine's cores).
    pub threads: usize,
    /// Target size of a chunk of text input, in bytes.
    pub chunk_bytes: usize,
    /// What to call every source in the manifest, the rejects file and the reports instead of
    /// its path: an upload is named by what it is (`upload:travel.csv`), not by where the
    /// server spooled it, so no server path is stored in the data dir or shown to a client.
    pub source_name: Option<String>,
    /// Accept only rows whose `enterprise_id` is this one (an enterprise uploading its own
    /// applications); any other row is rejected at its `enterprise_id`.
    pub only_enterprise: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kind: None,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            chunk_bytes: 16 << 20,
            source_name: None,
            only_enterprise: None,
        }
    }
}

/// What happened to one source.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub kind: String,
    /// Already ingested (same kind, same content): nothing added.
    pub duplicate: bool,
    /// Why the file as a whole could not be read (not UTF-8 text, not a readable Parquet
    /// file): nothing was added and the source is not recorded, so a fixed copy can follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// Source columns the kind does not know, which were ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_columns: Vec<String>,
}

/// The result of an ingest run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub files: u64,
    pub files_duplicate: u64,
    /// Files refused as a whole (see [`FileReport::refused`]).
    pub files_refused: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejects: PathBuf,
    pub bytes: u64,
    pub elapsed_secs: f64,
    pub by_kind: BTreeMap<String, KindCounts>,
    pub sources: Vec<FileReport>,
    /// Files met while walking folders that are not input (with why).
    pub not_input: Vec<(PathBuf, String)>,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct KindCounts {
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

/// Progress of a run, for bars and logs.
#[derive(Clone, Debug)]
pub enum Progress {
    Started {
        files: usize,
        bytes: u64,
    },
    /// Bytes of input read or hashed.
    Bytes(u64),
    Finished(FileReport),
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A path given on the command line cannot be ingested (bad usage, not bad data).
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: reading Parquet: {reason}")]
    ParquetInput { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
    #[error("interrupted; {committed} source(s) were committed before, the rest left no trace")]
    Interrupted { committed: u64 },
}
