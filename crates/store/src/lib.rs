//! The data directory: immutable Parquet files per kind (partitioned by date), the vault files
//! holding sealed personal fields, and one manifest that says which files exist.
//!
//! Layout of `DIR`:
//! ```text
//! manifest.json                      committed sources and their files (replaced atomically)
//! .lock                              held by the one writer
//! tables/<kind>/<YYYY-MM-DD>/<seq>-<chunk>.parquet   rows of a partitioned kind
//! tables/<kind>/<seq>-<chunk>.parquet                rows of a reference kind
//! vault/<kind>/[<YYYY-MM-DD>/]<seq>-<chunk>.parquet  sealed personal fields of those rows
//! staging/<seq>/…                    a source being written; never read
//! rejects/<time>-<n>.csv             bad rows of each ingest run
//! index/trace/, codes/               data derived from the records (see `Derived`)
//! ```
//! Invariant: a file is visible only once the manifest lists it, and the manifest changes by
//! one rename, so a crash leaves each source either wholly present or absent. Other crates read
//! the stored files only through typed scans ([`DataFile::scan`]); data derived from them is
//! registered here ([`Derived`]) and invalidated by every removal.

pub mod arrivals;
mod derived;
mod manifest;
mod scan;
mod schema;
mod settings;
mod writer;

use std::path::{Path, PathBuf};

pub use derived::{Basis, Derived, DerivedLock, Standing, TRACE_INDEX_KINDS};
pub use manifest::{KindStats, Manifest, SourceEntry, StoredFile};
pub use scan::{BATCH_ROWS, Batch, Batches, DataFile, KeyedTexts, Part};
pub use schema::{RID_COLUMN, VAULT_SCHEMA_FIELDS, arrow_schema, parquet_properties, vault_schema};
pub use settings::{MAX_SETTINGS_BYTES, read_settings};
pub use writer::{Committed, Removed, SourceId, Staging, Writer};

use model::{Kind, Zone};

/// The manifest's file name in a data dir: a folder is a data dir when it has one.
pub const MANIFEST_FILE: &str = manifest::MANIFEST;

/// Errors of the store, each naming the path involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: not a fangyi manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "{path} was written with another master key (key id {found}, this key is {expected}); \
         use the key this data dir was created with (FANGYI_MASTER_KEY or --key-file)"
    )]
    WrongKey {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{path}: no fangyi data here yet (run `fangyi ingest` first)")]
    Missing { path: PathBuf },
    #[error("writing Parquet {path}: {cause}")]
    Parquet {
        path: PathBuf,
        cause: parquet::errors::ParquetError,
    },
    #[error("{path}: unreadable stored file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{kind} stores no column {column}{}", if *vault { " in the vault" } else { "" })]
    NoColumn {
        kind: &'static str,
        vault: bool,
        column: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |cause| StoreError::Io { path, cause }
    }
}

/// A cheap content fingerprint: BLAKE3 of the size, the first MiB and the last MiB. Equal
/// files have equal probes; a probe no committed source has means the file is new.
pub fn probe(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    const SPAN: u64 = 1 << 20;
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let mut h = blake3::Hasher::new();
    h.update(&size.to_le_bytes());
    let mut buf = Vec::with_capacity(SPAN as usize);
    (&mut f).take(SPAN).read_to_end(&mut buf)?;
    h.update(&buf);
    if size > SPAN {
        buf.clear();
        f.seek(SeekFrom::Start(size.saturating_sub(SPAN).max(SPAN)))?;
        f.take(SPAN).read_to_end(&mut buf)?;
        h.update(&buf);
    }
    Ok(h.finalize().to_hex()[..32].to_string())
}

/// A read-only view of a data dir at the moment it was opened.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    manifest: Manifest,
}

impl Store {
    /// Opens an existing data dir, checking that `key_id` is the key it was written with.
    pub fn open(root: &Path, key_id: &str) -> Result<Store, StoreError> {
        let manifest = Manifest::load(root)?.ok_or_else(|| StoreError::Missing {
            path: root.to_path_buf(),
        })?;
        manifest.check_key(root, key_id)?;
        Ok(Store {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Opens a data dir, or an empty view if nothing was ingested yet.
    pub fn open_or_empty(root: &Path, key_id: &str, zone: Zone) -> Result<Store, StoreError> {
        match Manifest::load(root)? {
            Some(m) => {
                m.check_key(root, key_id)?;
                Ok(Store {
                    root: root.to_path_buf(),
                    manifest: m,
                })
            }
            None => Ok(Store {
                root: root.to_path_buf(),
                manifest: Manifest::new(zone, key_id),
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn zone(&self) -> Zone {
        self.manifest.zone()
    }

    /// Absolute paths of the committed table files of `kind`, for the crates that read Parquet
    /// themselves (`query`'s tables, `ingest`'s tests); others scan [`Store::tables`].
    pub fn table_paths(&self, kind: Kind) -> Vec<PathBuf> {
        self.manifest
            .files(kind)
            .map(|f| self.root.join(&f.path))
            .collect()
    }

    /// Absolute paths of the committed vault files of `kind` (see [`Store::table_paths`]).
    pub fn vault_paths(&self, kind: Kind) -> Vec<PathBuf> {
        self.manifest
            .vault_files(kind)
            .map(|f| self.root.join(&f.path))
            .collect()
    }
}
