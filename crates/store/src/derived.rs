//! The registry of data derived from the stored records and kept beside them in the data dir:
//! the trace index and the last population run's codes. The store says where each lives, which
//! kinds it is derived from, and its *generation*, a number in the manifest.
//!
//! New sources are noticed by the derived data itself (it lists the sources it covers).
//! Removing records is the store's to announce: every removal ([`crate::Writer::remove_before`],
//! [`crate::Writer::remove_sources`]) moves on the generation of each derived dataset built from
//! a kind it touched, in the same manifest commit, and then empties that dataset's folder under
//! its lock. Derived data records the generation it was built at and is current only while the
//! manifest still has it — so neither a crash between the commit and the deletion nor a build
//! racing a removal can leave data derived from removed records looking current.

use std::fs::File;
use std::path::{Path, PathBuf};

use model::Kind;

use crate::{Store, StoreError};

/// The kinds the trace index is built from.
pub const TRACE_INDEX_KINDS: [Kind; 7] = [
    Kind::Travel,
    Kind::Checkpoint,
    Kind::Checkins,
    Kind::Persons,
    Kind::LabResults,
    Kind::Registrations,
    Kind::SelfReports,
];

/// Data derived from the stored records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Derived {
    /// `index/trace/`: segments of events, lab results, arrivals and fevers (`trace::index`).
    TraceIndex,
    /// `codes/`: the not-green codes of the last whole-population run (`rules::saved`).
    SavedCodes,
}

const LOCK: &str = ".lock";

impl Derived {
    pub const ALL: [Derived; 2] = [Derived::TraceIndex, Derived::SavedCodes];

    /// Its name in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Derived::TraceIndex => "trace_index",
            Derived::SavedCodes => "saved_codes",
        }
    }

    /// Its folder, relative to the data dir.
    fn rel(self) -> &'static str {
        match self {
            Derived::TraceIndex => "index/trace",
            Derived::SavedCodes => "codes",
        }
    }

    /// Its folder in the data dir at `root`.
    pub fn dir(self, root: &Path) -> PathBuf {
        self.rel()
            .split('/')
            .fold(root.to_path_buf(), |p, c| p.join(c))
    }

    /// The kinds it is derived from: removing records of any of them invalidates it.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Derived::TraceIndex => &TRACE_INDEX_KINDS,
            // Codes read the trace index, the population and the risk areas: every kind.
            Derived::SavedCodes => Kind::ALL,
        }
    }

    /// Waits for and takes the lock of its folder (creating the folder): the holder is the one
    /// process writing or removing it; removals take it too. Released when dropped.
    pub fn lock(self, root: &Path) -> Result<DerivedLock, StoreError> {
        let dir = self.dir(root);
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let path = dir.join(LOCK);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        file.lock().map_err(StoreError::io(&path))?;
        Ok(DerivedLock { _file: file, dir })
    }

    /// Deletes everything in its folder (under its lock), so the next use builds it anew.
    pub fn clear(self, root: &Path) -> Result<(), StoreError> {
        if !self.dir(root).exists() {
            return Ok(());
        }
        let lock = self.lock(root)?;
        for entry in std::fs::read_dir(&lock.dir).map_err(StoreError::io(&lock.dir))? {
            let entry = entry.map_err(StoreError::io(&lock.dir))?;
            if entry.file_name() == LOCK {
                continue;
            }
            let path = entry.path();
            let gone = if entry.file_type().map_err(StoreError::io(&path))?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match gone {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Io { path, cause: e });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The lock of a derived dataset's folder, held while it is written or removed.
#[derive(Debug)]
pub struct DerivedLock {
    _file: File,
    dir: PathBuf,
}

impl DerivedLock {
    /// The folder it locks.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Store {
    /// The folder of `derived` in this data dir.
    pub fn derived_dir(&self, derived: Derived) -> PathBuf {
        derived.dir(self.root())
    }

    /// The generation `derived` must have been built at to be current for this view.
    pub fn generation(&self, derived: Derived) -> u64 {
        self.manifest().generation(derived)
    }

    /// Whether the data dir's manifest still has this view's generation of `derived` (no
    /// removal since this view was opened): worth saving what was derived from the view.
    pub fn still_current(&self, derived: Derived) -> Result<bool, StoreError> {
        let now = crate::Manifest::load(self.root())?.map_or(0, |m| m.generation(derived));
        Ok(now == self.generation(derived))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, new_null_array,
    };
    use arrow::datatypes::DataType;
    use model::{Date, Zone};

    use super::*;
    use crate::{SourceId, Writer, arrow_schema};

    /// Commits a source of `kind` with a file dated `date` holding one row (its values do not
    /// matter here, only its files).
    fn commit(w: &mut Writer, kind: Kind, name: &str, date: Option<Date>) {
        let schema = arrow_schema(kind, Zone::CST);
        let cols: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.data_type() {
                    DataType::Int64 => Arc::new(Int64Array::from(vec![1])),
                    DataType::Date32 => Arc::new(Date32Array::from(vec![1])),
                    DataType::Utf8 => Arc::new(StringArray::from(vec!["1"])),
                    t => new_null_array(t, 1),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let st = w.begin(kind, name.into(), 1, 1).unwrap();
        st.append(0, false, date, &batch).unwrap();
        let id = SourceId {
            blake3: name.into(),
            probe: name.into(),
        };
        w.commit(st, id, 1, 0).unwrap();
    }

    /// Something derived was written into each derived folder.
    fn derive_all(root: &Path) {
        for d in Derived::ALL {
            let lock = d.lock(root).unwrap();
            std::fs::write(lock.dir().join("data"), b"derived").unwrap();
        }
    }

    fn present(root: &Path) -> Vec<Derived> {
        Derived::ALL
            .into_iter()
            .filter(|d| d.dir(root).join("data").exists())
            .collect()
    }

    #[test]
    fn removals_invalidate_what_is_derived_from_their_kinds_and_ingest_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        let day = |d: &str| Some(d.parse::<Date>().unwrap());
        commit(
            &mut w,
            Kind::Employment,
            "employment.csv",
            day("2020-01-10"),
        );
        derive_all(root);
        let generations = |w: &Writer| Derived::ALL.map(|d| w.manifest().generation(d));
        assert_eq!(generations(&w), [0, 0]);

        // New sources: derived data notices them itself; nothing is invalidated.
        commit(&mut w, Kind::Employment, "more.csv", day("2020-01-20"));
        assert_eq!(generations(&w), [0, 0]);
        assert_eq!(present(root), Derived::ALL);

        // Retention of a kind the trace index does not read: only the saved codes go.
        let before = "2020-01-15".parse().unwrap();
        let r = w.remove_before(Kind::Employment, before, true).unwrap();
        assert_eq!(r.files, 1);
        assert_eq!(generations(&w), [0, 0], "a dry run changes nothing");
        w.remove_before(Kind::Employment, before, false).unwrap();
        assert_eq!(generations(&w), [0, 1]);
        assert_eq!(present(root), [Derived::TraceIndex]);
        let store = Store::open(root, "k1").unwrap();
        assert_eq!(
            store.generation(Derived::SavedCodes),
            1,
            "in the committed manifest"
        );
        assert!(store.still_current(Derived::SavedCodes).unwrap());
        assert!(
            Derived::SavedCodes.dir(root).join(LOCK).exists(),
            "the lock stays for whoever waits on it"
        );

        // Removing nothing invalidates nothing.
        derive_all(root);
        w.remove_before(Kind::Employment, before, false).unwrap();
        w.remove_sources(|_| false).unwrap();
        assert_eq!(generations(&w), [0, 1]);

        // A source of an indexed kind forgotten: both go.
        commit(&mut w, Kind::Persons, "persons.csv", None);
        derive_all(root);
        w.remove_sources(|s| s.kind() == Some(Kind::Persons))
            .unwrap();
        assert_eq!(generations(&w), [1, 2]);
        assert!(present(root).is_empty());
        assert!(
            !store.still_current(Derived::SavedCodes).unwrap(),
            "an older view"
        );
        assert!(!store.still_current(Derived::TraceIndex).unwrap());
    }

    #[test]
    fn generations_survive_reopening_and_old_manifests_read_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        commit(&mut w, Kind::Persons, "persons.csv", None);
        let text = std::fs::read_to_string(root.join(crate::MANIFEST_FILE)).unwrap();
        assert!(
            !text.contains("\"derived\""),
            "nothing written until a removal"
        );
        w.remove_sources(|_| true).unwrap();
        drop(w);
        let w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        assert_eq!(w.manifest().generation(Derived::TraceIndex), 1);
        assert_eq!(
            Derived::TraceIndex.dir(root),
            root.join("index").join("trace")
        );
        assert_eq!(Derived::SavedCodes.dir(root), root.join("codes"));
        // Clearing a folder that was never made is nothing.
        Derived::SavedCodes.clear(&root.join("elsewhere")).unwrap();
    }
}
