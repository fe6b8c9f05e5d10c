//! The single writer of a data dir: holds the lock, stages each source's files under
//! `staging/<seq>/`, and commits a source by moving its files into place and then swapping in
//! a manifest that lists them. Anything a crash left behind is removed when a writer opens.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use model::{Date, Kind, Timestamp, Zone};
use parquet::arrow::ArrowWriter;

use crate::manifest::sync_dir;
use crate::{Manifest, SourceEntry, StoreError, StoredFile, parquet_properties};

/// The exclusive writer of a data dir.
#[derive(Debug)]
pub struct Writer {
    root: PathBuf,
    manifest: Manifest,
    next_seq: u32,
    _lock: File,
}

impl Writer {
    /// Opens (creating if needed) the data dir at `root` for writing. Waits for another writer
    /// to finish, calling `on_wait` once if it has to.
    pub fn open(
        root: &Path,
        key_id: &str,
        zone: Zone,
        on_wait: impl FnOnce(),
    ) -> Result<Writer, StoreError> {
        std::fs::create_dir_all(root).map_err(StoreError::io(root))?;
        let lock_path = root.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                lock.lock().map_err(StoreError::io(&lock_path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    cause: e,
                });
            }
        }
        let manifest = match Manifest::load(root)? {
            Some(m) => {
                m.check_key(root, key_id)?;
                m
            }
            None => {
                let m = Manifest::new(zone, key_id);
                m.save(root)?;
                m
            }
        };
        let next_seq = manifest.next_seq();
        let w = Writer {
            root: root.to_path_buf(),
            manifest,
            next_seq,
            _lock: lock,
        };
        w.collect_garbage()?;
        Ok(w)
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

    /// Removes staging leftovers and any stored file the manifest does not list: the debris of
    /// a crash between moving files into place and committing the manifest.
    fn collect_garbage(&self) -> Result<(), StoreError> {
        let staging = self.root.join("staging");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(StoreError::io(&staging))?;
        }
        let listed: HashSet<&str> = self.manifest.all_paths().collect();
        for top in ["tables", "vault"] {
            let dir = self.root.join(top);
            if dir.exists() {
                remove_unlisted(&self.root, &dir, &listed)?;
            }
        }
        let _ = std::fs::remove_file(self.root.join("manifest.json.tmp"));
        Ok(())
    }

    /// Starts writing a source; its files are invisible until [`Writer::commit`].
    pub fn begin(
        &mut self,
        kind: Kind,
        name: String,
        blake3: String,
        bytes: u64,
    ) -> Result<Staging, StoreError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let dir = self.root.join("staging").join(format!("{seq:06}"));
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        Ok(Staging {
            seq,
            kind,
            name,
            blake3,
            bytes,
            dir,
            files: Mutex::new(Vec::new()),
        })
    }

    /// Moves a source's staged files into place and commits the manifest that lists them.
    pub fn commit(
        &mut self,
        staging: Staging,
        rows_accepted: u64,
        rows_rejected: u64,
    ) -> Result<&SourceEntry, StoreError> {
        let mut files = staging
            .files
            .into_inner()
            .expect("no panics while holding the lock");
        files.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        let mut dirs = HashSet::new();
        for (f, _) in &files {
            let from = staging.dir.join(&f.path);
            let to = self.root.join(&f.path);
            let parent = to
                .parent()
                .expect("stored files live in a folder")
                .to_path_buf();
            if dirs.insert(parent.clone()) {
                std::fs::create_dir_all(&parent).map_err(StoreError::io(&parent))?;
            }
            std::fs::rename(&from, &to).map_err(StoreError::io(&to))?;
        }
        for d in &dirs {
            sync_dir(d)?;
        }
        let (vault_files, table_files): (Vec<_>, Vec<_>) =
            files.into_iter().partition(|(_, vault)| *vault);
        let entry = SourceEntry {
            seq: staging.seq,
            kind: staging.kind.name().to_string(),
            name: staging.name,
            blake3: staging.blake3,
            bytes: staging.bytes,
            rows_accepted,
            rows_rejected,
            committed_at: now_rfc3339(),
            files: table_files.into_iter().map(|(f, _)| f).collect(),
            vault_files: vault_files.into_iter().map(|(f, _)| f).collect(),
        };
        let mut next = self.manifest.clone();
        next.push(entry);
        next.save(&self.root)?;
        self.manifest = next;
        remove_staging(&staging.dir);
        Ok(self.manifest.sources().last().expect("just pushed"))
    }

    /// Drops a source's staged files.
    pub fn abort(&mut self, staging: Staging) {
        remove_staging(&staging.dir);
    }

    /// A new, unique path for this run's rejects file.
    pub fn rejects_path(&self) -> Result<PathBuf, StoreError> {
        let dir = self.root.join("rejects");
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let stamp = now_rfc3339().replace([':', '-'], "").replace("+0000", "Z");
        for n in 0.. {
            let p = dir.join(format!("{stamp}-{n}.csv"));
            if !p.exists() {
                return Ok(p);
            }
        }
        unreachable!("some suffix is free")
    }
}

/// Removes one source's staging folder, and `staging/` itself once nothing else is staged.
fn remove_staging(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

fn remove_unlisted(root: &Path, dir: &Path, listed: &HashSet<&str>) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(StoreError::io(&path))?.is_dir() {
            remove_unlisted(root, &path, listed)?;
        } else {
            let rel = relative(root, &path);
            if !listed.contains(rel.as_str()) {
                tracing::info!(path = %path.display(), "removing a file no commit lists");
                std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
            }
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms - ms % 1000).to_rfc3339(Zone::UTC)
}

/// The files of one source being written. Shared by the threads that write its chunks.
#[derive(Debug)]
pub struct Staging {
    seq: u32,
    kind: Kind,
    name: String,
    blake3: String,
    bytes: u64,
    dir: PathBuf,
    files: Mutex<Vec<(StoredFile, bool)>>,
}

impl Staging {
    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Writes `batches` as one Parquet file of chunk `chunk` (partition `date`), in the tables
    /// or the vault, and records it. Empty input writes nothing.
    pub fn write(
        &self,
        vault: bool,
        date: Option<Date>,
        chunk: u32,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), StoreError> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(());
        }
        let top = if vault { "vault" } else { "tables" };
        let name = format!("{:06}-{chunk:05}.parquet", self.seq);
        let rel = match date {
            Some(d) => format!("{top}/{}/{d}/{name}", self.kind.name()),
            None => format!("{top}/{}/{name}", self.kind.name()),
        };
        let path = self.dir.join(&rel);
        let bytes = write_parquet(&path, schema, batches)?;
        let file = StoredFile {
            path: rel,
            rows: rows as u64,
            bytes,
            date: date.map(|d| d.to_string()),
        };
        self.files
            .lock()
            .expect("no panics while holding the lock")
            .push((file, vault));
        Ok(())
    }
}

/// Writes one durable Parquet file; returns its size in bytes.
pub fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    }
    let file = File::create(path).map_err(StoreError::io(path))?;
    let props = parquet_properties(&schema);
    let pq = |cause| StoreError::Parquet {
        path: path.to_path_buf(),
        cause,
    };
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).map_err(pq)?;
    for b in batches {
        w.write(b).map_err(pq)?;
    }
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(StoreError::io(path))?;
    Ok(file.metadata().map_err(StoreError::io(path))?.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, arrow_schema};
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(rows: i64) -> RecordBatch {
        let schema = arrow_schema(Kind::Employment, Zone::CST);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|_| "91350100M000100Y43"),
            )),
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(Int64Array::from_iter_values(0..rows)),
        ];
        RecordBatch::try_new(schema, cols).unwrap()
    }

    #[test]
    fn files_become_visible_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        let st = w
            .begin(Kind::Employment, "employment.csv".into(), "h1".into(), 10)
            .unwrap();
        let b = batch(3);
        st.write(false, None, 0, b.schema(), &[b]).unwrap();
        assert!(
            Store::open(root, "k1")
                .unwrap()
                .table_files(Kind::Employment)
                .is_empty()
        );
        w.commit(st, 3, 1).unwrap();
        let store = Store::open(root, "k1").unwrap();
        let files = store.table_files(Kind::Employment);
        assert_eq!(files.len(), 1);
        assert!(files[0].exists());
        assert!(store.manifest().find(Kind::Employment, "h1").is_some());
        assert!(store.manifest().find(Kind::Persons, "h1").is_none());
        let stats = store.manifest().kind_stats();
        assert_eq!(stats[&Kind::Employment].rows, 3);
        assert_eq!(stats[&Kind::Employment].rows_rejected, 1);
        assert!(!root.join("staging").join("000001").exists());
    }

    #[test]
    fn a_crash_before_commit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        {
            let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
            let st = w
                .begin(Kind::Employment, "a.csv".into(), "h1".into(), 10)
                .unwrap();
            let b = batch(3);
            st.write(false, None, 0, b.schema(), &[b]).unwrap();
            // Simulate a crash after the files were moved but before the manifest changed.
            let stray = root.join("tables/employment/000001-00000.parquet");
            std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
            std::fs::copy(
                st.dir.join("tables/employment/000001-00000.parquet"),
                &stray,
            )
            .unwrap();
            std::mem::forget(st);
        }
        let w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        assert!(!root.join("staging").exists());
        assert!(!root.join("tables/employment/000001-00000.parquet").exists());
        assert_eq!(w.manifest().sources().len(), 0);
    }

    #[test]
    fn another_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Writer::open(dir.path(), "k1", Zone::CST, || {}).unwrap());
        let e = Store::open(dir.path(), "k2").unwrap_err();
        assert!(e.to_string().contains("another master key"), "{e}");
        assert!(Writer::open(dir.path(), "k2", Zone::CST, || {}).is_err());
    }

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let w = Writer::open(dir.path(), "k1", Zone::CST, || {}).unwrap();
        let root = dir.path().to_path_buf();
        let waited = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let t = std::thread::spawn(move || {
            Writer::open(&root, "k1", Zone::CST, || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .map(|_| ())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(w);
        t.join().unwrap().unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
    }
}
