//! The registry of data derived from the stored records and kept beside them in the data dir:
//! the trace index and the last population run's codes. The store says where each lives, which
//! kinds it is derived from, and its *generation*, a number in the manifest.
//!
//! Derived data records its [`Basis`]: the generation it was built at and the sources it
//! covers. [`Store::standing`] is the one judgement of whether it may still be used: a source
//! of its kinds committed since (an ingest) makes it [`Standing::Behind`], with the sources to
//! add; a removal ([`crate::Writer::remove_before`], [`crate::Writer::remove_sources`]) moves
//! on the generation of each derived dataset built from a kind it touched, in the same manifest
//! commit, and then empties that dataset's folder under its lock, which makes it
//! [`Standing::Invalid`] — so neither a crash between the commit and the deletion nor a build
//! racing a removal can leave data derived from removed records looking current.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use model::Kind;

use crate::{SourceEntry, Store, StoreError};

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

/// What a derived dataset was built from: the store's generation of it then, and the sources
/// (of its kinds, by sequence number) it covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Basis {
    pub generation: u64,
    pub sources: BTreeSet<u32>,
}

/// How data derived from a [`Basis`] stands against a view of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It covers exactly the view's sources of its kinds.
    Current,
    /// Sources of its kinds were committed since (these, in commit order): it holds none of
    /// their records, and everything else it holds is still true.
    Behind(Vec<u32>),
    /// Records it was built from were removed since (its generation moved on, or a source it
    /// covers is gone): never answer from it; build it anew.
    Invalid,
}

impl Store {
    /// The committed sources `derived` is built from: those of its kinds, in commit order.
    pub fn sources_of(&self, derived: Derived) -> impl Iterator<Item = &SourceEntry> {
        self.manifest()
            .sources()
            .iter()
            .filter(move |s| s.kind().is_some_and(|k| derived.kinds().contains(&k)))
    }

    /// What `derived` built from this view would be built from.
    pub fn basis(&self, derived: Derived) -> Basis {
        Basis {
            generation: self.generation(derived),
            sources: self.sources_of(derived).map(|s| s.seq).collect(),
        }
    }

    /// Whether data derived from `built` may answer for this view, or what it lacks.
    pub fn standing(&self, derived: Derived, built: &Basis) -> Standing {
        let now = self.basis(derived);
        if built.generation != now.generation || !built.sources.is_subset(&now.sources) {
            return Standing::Invalid;
        }
        let new: Vec<u32> = self
            .sources_of(derived)
            .map(|s| s.seq)
            .filter(|s| !built.sources.contains(s))
            .collect();
        if new.is_empty() {
            Standing::Current
        } else {
            Standing::Behind(new)
        }
    }

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
        ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
        new_null_array,
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
                    DataType::Timestamp(_, zone) => Arc::new(
                        TimestampMillisecondArray::from(vec![1]).with_timezone_opt(zone.clone()),
                    ),
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
    fn standing_follows_ingests_of_its_kinds_and_every_removal() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut w = Writer::open(root, "k1", Zone::CST, || {}).unwrap();
        let day = |d: &str| Some(d.parse::<Date>().unwrap());
        let view = || Store::open(root, "k1").unwrap();
        commit(&mut w, Kind::Travel, "travel.csv", day("2020-01-10"));
        let index = view().basis(Derived::TraceIndex);
        let codes = view().basis(Derived::SavedCodes);
        assert_eq!(index.sources, BTreeSet::from([1]));
        assert_eq!(
            view().standing(Derived::TraceIndex, &index),
            Standing::Current
        );

        // A source of a kind the index is not derived from is nothing to it; codes lack it.
        commit(&mut w, Kind::Employment, "employment.csv", None);
        assert_eq!(
            view().standing(Derived::TraceIndex, &index),
            Standing::Current
        );
        assert_eq!(
            view().standing(Derived::SavedCodes, &codes),
            Standing::Behind(vec![2])
        );
        commit(&mut w, Kind::Travel, "more.csv", day("2020-01-20"));
        assert_eq!(
            view().standing(Derived::TraceIndex, &index),
            Standing::Behind(vec![3])
        );

        // Retention keeps every source listed, yet what was built before it is invalid.
        let before = view().basis(Derived::TraceIndex);
        let r = w
            .remove_before(Kind::Travel, "2020-01-15".parse().unwrap(), false)
            .unwrap();
        assert_eq!(r.files, 1);
        assert_eq!(view().basis(Derived::TraceIndex).sources, before.sources);
        assert_eq!(
            view().standing(Derived::TraceIndex, &before),
            Standing::Invalid
        );
        let now = view().basis(Derived::TraceIndex);
        assert_eq!(
            view().standing(Derived::TraceIndex, &now),
            Standing::Current
        );

        // A basis naming a source the view does not have (forgotten, or another data dir's).
        let mut odd = now.clone();
        odd.sources.insert(99);
        assert_eq!(
            view().standing(Derived::TraceIndex, &odd),
            Standing::Invalid
        );
        // Forgetting a source moves the generation on as well.
        w.remove_sources(|s| s.seq == 3).unwrap();
        let mut kept = now;
        kept.sources.remove(&3);
        assert_eq!(
            view().standing(Derived::TraceIndex, &kept),
            Standing::Invalid
        );
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
