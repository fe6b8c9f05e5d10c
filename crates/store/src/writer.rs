//! The single writer of a data dir: holds the lock, stages each source's files under
//! `staging/<seq>/`, and commits a source by moving its files into place and then swapping in
//! a manifest that lists them. Anything a crash left behind is removed when a writer opens.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow::array::RecordBatch;
use model::{Date, Kind, Timestamp, Zone};
use parquet::arrow::ArrowWriter;

use crate::manifest::sync_dir;
use crate::{Derived, Manifest, SourceEntry, StoreError, StoredFile, parquet_properties};

/// What identifies a source's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceId {
    /// BLAKE3 of all its bytes.
    pub blake3: String,
    /// A cheap fingerprint (see [`crate::probe`]) that tells most new files apart without
    /// reading them twice.
    pub probe: String,
}

/// The outcome of [`Writer::commit`].
#[derive(Debug)]
pub enum Committed<'a> {
    New(&'a SourceEntry),
    /// The same content was already committed as this kind; nothing was added.
    Duplicate,
}

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

    /// Starts writing a source with `slots` concurrent writers (one per worker thread); its
    /// files are invisible until [`Writer::commit`].
    pub fn begin(
        &mut self,
        kind: Kind,
        name: String,
        bytes: u64,
        slots: usize,
    ) -> Result<Staging, StoreError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let dir = self.root.join("staging").join(format!("{seq:06}"));
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let slots = (0..slots.max(1))
            .map(|_| Mutex::new(Slot::default()))
            .collect();
        Ok(Staging {
            seq,
            kind,
            name,
            bytes,
            dir,
            slots,
        })
    }

    /// Moves a source's staged files into place and commits the manifest that lists them —
    /// unless the manifest already holds this content as this kind (say, a copy of the file
    /// earlier in the same run), in which case nothing is added.
    pub fn commit(
        &mut self,
        staging: Staging,
        id: SourceId,
        rows_accepted: u64,
        rows_rejected: u64,
    ) -> Result<Committed<'_>, StoreError> {
        if self.manifest.find(staging.kind, &id.blake3).is_some() {
            self.abort(staging);
            return Ok(Committed::Duplicate);
        }
        let mut files = Vec::new();
        for slot in &staging.slots {
            let mut slot = slot.lock().expect("no panics while holding the lock");
            slot.close_all()?;
            files.append(&mut slot.finished);
        }
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
            blake3: id.blake3,
            probe: id.probe,
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
        Ok(Committed::New(
            self.manifest.sources().last().expect("just pushed"),
        ))
    }

    /// Removes every stored file (table and vault) of `kind` whose partition date is before
    /// `before`: one manifest commit, then the files are deleted (a crash in between leaves
    /// unlisted files, which the next writer removes). Sources stay listed with what is left,
    /// so re-ingesting an old export does not bring its expired rows back. The commit moves on
    /// the generation of the data derived from `kind` ([`Derived`]), whose folders are then
    /// emptied. `dry_run` only counts.
    pub fn remove_before(
        &mut self,
        kind: Kind,
        before: Date,
        dry_run: bool,
    ) -> Result<Removed, StoreError> {
        let old = |f: &StoredFile| f.dated_before(before);
        let mut removed = Removed::default();
        let mut next = self.manifest.clone();
        let mut doomed: Vec<String> = Vec::new();
        for src in next.sources_mut() {
            if src.kind() != Some(kind) {
                continue;
            }
            for f in src.files.iter().filter(|f| old(f)) {
                removed.files += 1;
                removed.rows += f.rows;
                removed.bytes += f.bytes;
                doomed.push(f.path.clone());
            }
            for f in src.vault_files.iter().filter(|f| old(f)) {
                removed.files += 1;
                removed.bytes += f.bytes;
                doomed.push(f.path.clone());
            }
            if !dry_run {
                src.files.retain(|f| !old(f));
                src.vault_files.retain(|f| !old(f));
            }
        }
        if dry_run || doomed.is_empty() {
            return Ok(removed);
        }
        let derived = next.invalidate(&[kind]);
        next.save(&self.root)?;
        self.manifest = next;
        self.delete_files(&doomed)?;
        self.clear_derived(&derived)?;
        Ok(removed)
    }

    /// Removes whole sources — their manifest entries, table and vault files — that `doomed`
    /// picks: one manifest commit, then the files are deleted and the derived data of their
    /// kinds invalidated, as [`Writer::remove_before`] does. Unlike retention, the sources are forgotten, so their content may be ingested
    /// again later (a dataset derived anew replaces the earlier derivation).
    pub fn remove_sources(
        &mut self,
        doomed: impl Fn(&SourceEntry) -> bool,
    ) -> Result<Removed, StoreError> {
        let mut removed = Removed::default();
        let mut next = self.manifest.clone();
        let mut paths = Vec::new();
        let mut kinds = Vec::new();
        next.retain_sources(|s| {
            if !doomed(s) {
                return true;
            }
            kinds.extend(s.kind());
            for f in &s.files {
                removed.files += 1;
                removed.rows += f.rows;
                removed.bytes += f.bytes;
                paths.push(f.path.clone());
            }
            for f in &s.vault_files {
                removed.files += 1;
                removed.bytes += f.bytes;
                paths.push(f.path.clone());
            }
            false
        });
        if next.sources().len() == self.manifest.sources().len() {
            return Ok(removed);
        }
        let derived = next.invalidate(&kinds);
        next.save(&self.root)?;
        self.manifest = next;
        self.delete_files(&paths)?;
        self.clear_derived(&derived)?;
        Ok(removed)
    }

    /// Empties the folders of derived data a removal invalidated: what is derived from removed
    /// records must not outlive them. (Its generation moved on in the commit already, so a
    /// crash before this leaves nothing that looks current.)
    fn clear_derived(&self, derived: &[Derived]) -> Result<(), StoreError> {
        for d in derived {
            d.clear(&self.root)?;
        }
        Ok(())
    }

    /// Deletes files the manifest no longer lists, and partition folders left empty.
    fn delete_files(&self, paths: &[String]) -> Result<(), StoreError> {
        for path in paths {
            let p = self.root.join(path);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::Io { path: p, cause: e }),
            }
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        Ok(())
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

/// What [`Writer::remove_before`] removed (or would remove).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
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
    Timestamp(Timestamp::now().secs() * 1000).to_rfc3339(Zone::UTC)
}

/// Files open at once per worker; past this the least recently used one is finished, so a
/// source spanning many dates cannot hold unbounded memory (at most 64 × 4 MiB buffered).
const MAX_OPEN_PER_SLOT: usize = 64;
/// An open file's buffered row group is flushed past this many bytes.
const ROW_GROUP_BYTES: usize = 4 << 20;

/// One output file being appended to.
struct OpenFile {
    rel: String,
    path: PathBuf,
    date: Option<Date>,
    writer: ArrowWriter<File>,
    rows: u64,
    last_use: u64,
}

impl OpenFile {
    fn finish(self) -> Result<StoredFile, StoreError> {
        let pq = |cause| StoreError::Parquet {
            path: self.path.clone(),
            cause,
        };
        let file = self.writer.into_inner().map_err(pq)?;
        file.sync_all().map_err(StoreError::io(&self.path))?;
        let bytes = file.metadata().map_err(StoreError::io(&self.path))?.len();
        Ok(StoredFile {
            path: self.rel,
            rows: self.rows,
            bytes,
            date: self.date.map(|d| d.to_string()),
        })
    }
}

/// The files one worker writes for a source.
#[derive(Default)]
struct Slot {
    open: HashMap<(bool, Option<Date>), OpenFile>,
    finished: Vec<(StoredFile, bool)>,
    files_made: u32,
    clock: u64,
}

impl Slot {
    fn close_all(&mut self) -> Result<(), StoreError> {
        let mut open: Vec<_> = self.open.drain().collect();
        open.sort_by(|a, b| a.1.rel.cmp(&b.1.rel));
        for ((vault, _), f) in open {
            self.finished.push((f.finish()?, vault));
        }
        Ok(())
    }
}

/// The files of one source being written. Shared by the threads that write its chunks; each
/// thread appends to its own slot, so they never wait for each other.
pub struct Staging {
    seq: u32,
    kind: Kind,
    name: String,
    bytes: u64,
    dir: PathBuf,
    slots: Vec<Mutex<Slot>>,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Staging {{ seq: {}, kind: {}, name: {:?} }}",
            self.seq, self.kind, self.name
        )
    }
}

impl Staging {
    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Appends `batch` to the file that `slot` keeps open for (`vault`, `date`), creating it on
    /// first use. Files are finished and made durable at commit.
    pub fn append(
        &self,
        slot: usize,
        vault: bool,
        date: Option<Date>,
        batch: &RecordBatch,
    ) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut s = self.slots[slot % self.slots.len()]
            .lock()
            .expect("no panics while holding the lock");
        s.clock += 1;
        let now = s.clock;
        let key = (vault, date);
        if !s.open.contains_key(&key) {
            if s.open.len() >= MAX_OPEN_PER_SLOT {
                let oldest = *s
                    .open
                    .iter()
                    .min_by_key(|(_, f)| f.last_use)
                    .map(|(k, _)| k)
                    .expect("some file is open");
                let f = s.open.remove(&oldest).expect("present");
                let stored = f.finish()?;
                s.finished.push((stored, oldest.0));
            }
            s.files_made += 1;
            let top = if vault { "vault" } else { "tables" };
            let name = format!("{:06}-{:02}{:04}.parquet", self.seq, slot, s.files_made);
            let rel = match date {
                Some(d) => format!("{top}/{}/{d}/{name}", self.kind.name()),
                None => format!("{top}/{}/{name}", self.kind.name()),
            };
            let path = self.dir.join(&rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
            }
            let file = File::create(&path).map_err(StoreError::io(&path))?;
            let schema = batch.schema();
            let props = parquet_properties((!vault).then_some(self.kind), &schema);
            let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|cause| {
                StoreError::Parquet {
                    path: path.clone(),
                    cause,
                }
            })?;
            s.open.insert(
                key,
                OpenFile {
                    rel,
                    path,
                    date,
                    writer,
                    rows: 0,
                    last_use: now,
                },
            );
        }
        let f = s.open.get_mut(&key).expect("opened above");
        f.last_use = now;
        f.rows += batch.num_rows() as u64;
        let pq = |cause| StoreError::Parquet {
            path: f.path.clone(),
            cause,
        };
        f.writer.write(batch).map_err(pq)?;
        if f.writer.in_progress_size() > ROW_GROUP_BYTES {
            let pq = |cause| StoreError::Parquet {
                path: f.path.clone(),
                cause,
            };
            f.writer.flush().map_err(pq)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, arrow_schema};
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn id(h: &str) -> SourceId {
        SourceId {
            blake3: h.into(),
            probe: format!("p{h}"),
        }
    }

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
            .begin(Kind::Employment, "employment.csv".into(), 10, 2)
            .unwrap();
        st.append(0, false, None, &batch(2)).unwrap();
        st.append(0, false, None, &batch(1)).unwrap();
        assert!(
            Store::open(root, "k1")
                .unwrap()
                .table_paths(Kind::Employment)
                .is_empty()
        );
        w.commit(st, id("h1"), 3, 1).unwrap();
        let store = Store::open(root, "k1").unwrap();
        let files = store.table_paths(Kind::Employment);
        assert_eq!(files.len(), 1);
        assert!(files[0].exists());
        assert!(store.manifest().find(Kind::Employment, "h1").is_some());
        assert!(store.manifest().find(Kind::Persons, "h1").is_none());
        let stats = store.manifest().kind_stats();
        assert_eq!(stats[&Kind::Employment].rows, 3);
        assert_eq!(stats[&Kind::Employment].rows_rejected, 1);
        assert!(!root.join("staging").join("000001").exists());
        // The same content again, even staged before the first commit, adds nothing.
        let st = w.begin(Kind::Employment, "copy.csv".into(), 10, 1).unwrap();
        st.append(0, false, None, &batch(3)).unwrap();
        assert!(matches!(
            w.commit(st, id("h1"), 3, 0).unwrap(),
            Committed::Duplicate
        ));
        assert_eq!(
            Store::open(root, "k1").unwrap().manifest().kind_stats()[&Kind::Employment].rows,
            3
        );
    }

    #[test]
    fn a_crash_before_commit_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        {
            let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
            let st = w.begin(Kind::Employment, "a.csv".into(), 10, 1).unwrap();
            st.append(0, false, None, &batch(3)).unwrap();
            // Simulate a crash after a file was moved but before the manifest changed.
            let stray = root.join("tables/employment/000001-000001.parquet");
            std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
            std::fs::write(&stray, b"PAR1 partial").unwrap();
            std::mem::forget(st);
        }
        let w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        assert!(!root.join("staging").exists());
        assert!(
            !root
                .join("tables/employment/000001-000001.parquet")
                .exists()
        );
        assert_eq!(w.manifest().sources().len(), 0);
    }

    #[test]
    fn a_source_over_many_dates_keeps_few_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), "k1", Zone::CST, || {}).unwrap();
        let st = w.begin(Kind::Employment, "a.csv".into(), 10, 2).unwrap();
        for day in 0..(MAX_OPEN_PER_SLOT as i32 + 8) {
            for slot in 0..2 {
                st.append(slot, false, Some(Date(18_000 + day)), &batch(2))
                    .unwrap();
                st.append(slot, false, Some(Date(18_000 + day)), &batch(1))
                    .unwrap();
            }
        }
        for s in &st.slots {
            assert!(s.lock().unwrap().open.len() <= MAX_OPEN_PER_SLOT);
        }
        w.commit(st, id("h1"), 0, 0).unwrap();
        let store = Store::open(dir.path(), "k1").unwrap();
        let files: Vec<_> = store.manifest().files(Kind::Employment).collect();
        assert_eq!(files.len(), 2 * (MAX_OPEN_PER_SLOT + 8));
        assert!(files.iter().all(|f| f.rows == 3));
        assert_eq!(
            store.manifest().dates(Kind::Employment).len(),
            MAX_OPEN_PER_SLOT + 8
        );
    }

    #[test]
    fn removed_sources_are_forgotten_with_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        for (name, hash) in [("old/risk.csv", "h1"), ("new/risk.csv", "h2")] {
            let st = w.begin(Kind::Employment, name.into(), 10, 1).unwrap();
            st.append(0, false, None, &batch(2)).unwrap();
            w.commit(st, id(hash), 2, 0).unwrap();
        }
        let old: Vec<_> = Store::open(root, "k1").unwrap().manifest().sources()[0]
            .files
            .iter()
            .map(|f| root.join(&f.path))
            .collect();
        let r = w.remove_sources(|s| s.blake3 == "h1").unwrap();
        assert_eq!((r.files, r.rows), (1, 2));
        assert!(old.iter().all(|p| !p.exists()));
        let store = Store::open(root, "k1").unwrap();
        assert_eq!(store.manifest().sources().len(), 1);
        assert_eq!(store.manifest().kind_stats()[&Kind::Employment].rows, 2);
        // Forgotten: the same content is new again.
        let st = w
            .begin(Kind::Employment, "old/risk.csv".into(), 10, 1)
            .unwrap();
        st.append(0, false, None, &batch(2)).unwrap();
        assert!(matches!(
            w.commit(st, id("h1"), 2, 0).unwrap(),
            Committed::New(_)
        ));
        // Nothing picked, nothing committed.
        let r = w.remove_sources(|_| false).unwrap();
        assert_eq!(r.files, 0);
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
