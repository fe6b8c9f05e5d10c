//! The manifest: which sources were ingested (by content hash) and which files hold their rows.
//! Saved by write-to-temp, fsync, rename, fsync-dir, so readers see the old or the new one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use model::{Date, Kind, Zone};
use serde::{Deserialize, Serialize};

use crate::{Derived, StoreError};

pub(crate) const MANIFEST: &str = "manifest.json";
const FORMAT: u32 = 1;

/// One stored Parquet file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredFile {
    /// Relative to the data dir, `/`-separated.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// The partition date, for partitioned kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl StoredFile {
    /// Whether its partition is dated before `before` (a reference kind's file never is):
    /// what [`crate::Writer::remove_before`] removes.
    pub fn dated_before(&self, before: Date) -> bool {
        self.date
            .as_deref()
            .is_some_and(|d| Date::parse(d.as_bytes()).is_ok_and(|d| d < before))
    }
}

/// One ingested source file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceEntry {
    pub seq: u32,
    pub kind: String,
    /// The path the source was ingested from, as given.
    pub name: String,
    /// BLAKE3 of the source's bytes: the same content is never ingested twice as one kind.
    pub blake3: String,
    /// A cheap fingerprint of the content (size, first and last MiB); equal content has an
    /// equal probe, so a source whose probe is new is new.
    #[serde(default)]
    pub probe: String,
    pub bytes: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub committed_at: String,
    pub files: Vec<StoredFile>,
    #[serde(default)]
    pub vault_files: Vec<StoredFile>,
}

impl SourceEntry {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
}

/// Rows, files and date range of one kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindStats {
    pub sources: u64,
    pub files: u64,
    pub rows: u64,
    pub rows_rejected: u64,
    pub bytes: u64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    format: u32,
    /// The deployment zone calendar days are counted in; fixed when the data dir is created.
    zone: String,
    /// Fingerprint of the master key the data dir is written with.
    key_id: String,
    next_seq: u32,
    sources: Vec<SourceEntry>,
    /// The generation of each derived dataset ([`Derived::name`]); absent is 0.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    derived: BTreeMap<String, u64>,
}

impl Manifest {
    pub fn new(zone: Zone, key_id: &str) -> Manifest {
        Manifest {
            format: FORMAT,
            zone: zone.to_string(),
            key_id: key_id.to_string(),
            next_seq: 1,
            sources: Vec::new(),
            derived: BTreeMap::new(),
        }
    }

    /// Reads `root/manifest.json`; `None` when the data dir has none yet.
    pub fn load(root: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = root.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { path, cause: e }),
        };
        let bad = |reason: String| StoreError::BadManifest {
            path: path.clone(),
            reason,
        };
        let m: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!(
                "format {} (this fangyi reads format {FORMAT})",
                m.format
            )));
        }
        if Zone::parse(&m.zone).is_none() {
            return Err(bad(format!("zone {:?}", m.zone)));
        }
        if let Some(s) = m.sources.iter().find(|s| s.kind().is_none()) {
            return Err(bad(format!("unknown kind {:?}", s.kind)));
        }
        Ok(Some(m))
    }

    /// Replaces `root/manifest.json` atomically and durably.
    pub(crate) fn save(&self, root: &Path) -> Result<(), StoreError> {
        let path = root.join(MANIFEST);
        let tmp = root.join("manifest.json.tmp");
        let text = serde_json::to_vec_pretty(self).expect("manifest serialises");
        let mut f = std::fs::File::create(&tmp).map_err(StoreError::io(&tmp))?;
        f.write_all(&text).map_err(StoreError::io(&tmp))?;
        f.sync_all().map_err(StoreError::io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(StoreError::io(&path))?;
        sync_dir(root)
    }

    pub(crate) fn check_key(&self, root: &Path, key_id: &str) -> Result<(), StoreError> {
        if self.key_id != key_id {
            return Err(StoreError::WrongKey {
                path: root.to_path_buf(),
                found: self.key_id.clone(),
                expected: key_id.to_string(),
            });
        }
        Ok(())
    }

    pub fn zone(&self) -> Zone {
        Zone::parse(&self.zone).expect("checked on load")
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    pub fn sources(&self) -> &[SourceEntry] {
        &self.sources
    }

    /// The generation of `derived`: moved on by every removal of records it is derived from.
    pub fn generation(&self, derived: Derived) -> u64 {
        self.derived.get(derived.name()).copied().unwrap_or(0)
    }

    /// Moves on the generation of every derived dataset built from one of `kinds`; returns
    /// those datasets.
    pub(crate) fn invalidate(&mut self, kinds: &[Kind]) -> Vec<Derived> {
        let touched: Vec<Derived> = Derived::ALL
            .into_iter()
            .filter(|d| d.kinds().iter().any(|k| kinds.contains(k)))
            .collect();
        for d in &touched {
            *self.derived.entry(d.name().to_string()).or_default() += 1;
        }
        touched
    }

    /// The committed source of `kind` with this content hash, if any.
    pub fn find(&self, kind: Kind, blake3: &str) -> Option<&SourceEntry> {
        self.sources
            .iter()
            .find(|s| s.blake3 == blake3 && s.kind == kind.name())
    }

    /// True when some committed source of `kind` has this probe (it may be the same content).
    pub fn has_probe(&self, kind: Kind, probe: &str) -> bool {
        self.sources
            .iter()
            .any(|s| s.probe == probe && s.kind == kind.name())
    }

    pub fn files(&self, kind: Kind) -> impl Iterator<Item = &StoredFile> {
        self.sources
            .iter()
            .filter(move |s| s.kind == kind.name())
            .flat_map(|s| s.files.iter())
    }

    pub fn vault_files(&self, kind: Kind) -> impl Iterator<Item = &StoredFile> {
        self.sources
            .iter()
            .filter(move |s| s.kind == kind.name())
            .flat_map(|s| s.vault_files.iter())
    }

    /// Every file the manifest references, tables and vault.
    pub fn all_paths(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .flat_map(|s| s.files.iter().chain(s.vault_files.iter()))
            .map(|f| f.path.as_str())
    }

    /// Keeps the sources `keep` says yes to.
    pub(crate) fn retain_sources(&mut self, keep: impl FnMut(&SourceEntry) -> bool) {
        self.sources.retain(keep);
    }

    pub(crate) fn sources_mut(&mut self) -> &mut [SourceEntry] {
        &mut self.sources
    }

    pub(crate) fn push(&mut self, entry: SourceEntry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        self.sources.push(entry);
    }

    /// Rows, files, bytes and date range per kind, from the manifest alone (no scan).
    pub fn kind_stats(&self) -> BTreeMap<Kind, KindStats> {
        let mut out: BTreeMap<Kind, KindStats> = Kind::ALL
            .iter()
            .map(|&k| (k, KindStats::default()))
            .collect();
        for s in &self.sources {
            let Some(kind) = s.kind() else { continue };
            let st = out.get_mut(&kind).expect("every kind present");
            st.sources += 1;
            st.rows_rejected += s.rows_rejected;
            for f in &s.files {
                st.files += 1;
                st.rows += f.rows;
                st.bytes += f.bytes;
                if let Some(d) = &f.date {
                    if st.first_date.as_ref().is_none_or(|x| d < x) {
                        st.first_date = Some(d.clone());
                    }
                    if st.last_date.as_ref().is_none_or(|x| d > x) {
                        st.last_date = Some(d.clone());
                    }
                }
            }
            st.bytes += s.vault_files.iter().map(|f| f.bytes).sum::<u64>();
        }
        out
    }

    /// Partition dates of `kind`, sorted and distinct.
    pub fn dates(&self, kind: Kind) -> Vec<Date> {
        let mut d: Vec<Date> = self
            .files(kind)
            .filter_map(|f| f.date.as_deref())
            .filter_map(|s| s.parse().ok())
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }
}

/// Makes a rename or creation in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(StoreError::io(dir))?;
        d.sync_all().map_err(StoreError::io(dir))?;
    }
    Ok(())
}
