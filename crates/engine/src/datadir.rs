//! The data dir as its key holder keeps it, beside the questions about people: the master key,
//! creating a data dir, ingesting files, counts per kind and the trace index. None of this
//! shows a person (counts, files in, keys), so none of it is a question for
//! [`Engine::ask`](crate::Engine); the command line calls it here instead of the crates beneath
//! the engine, and ingests files by the same run as an upload ([`ingest_files`], which
//! `Engine::ingest_file` runs too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use model::{Date, Kind, Zone};
use store::{Store, Writer};

use crate::EngineError;

/// What ingest takes and reports, as the command line names them.
pub use ingest::{
    IngestError, Options as IngestOptions, Progress as IngestProgress, Summary as IngestSummary,
};
/// The file marking a generator's ground-truth folder, which ingest's walk passes over.
pub use model::GROUND_TRUTH_MARKER;
/// Health-code rule sets and colours, and how a sweep over everyone reports its stages.
pub use rules::{
    Color, OVERRIDE_DESCRIPTION, PEER_ATTESTATION_DESCRIPTION, RuleSet, SweepProgress,
};
/// Rows, files and dates of one kind, from the manifest; the trace index's last update.
pub use store::{KindStats, MANIFEST_FILE};
pub use trace::{Freshness, MEMORY_ENV, MemoryBudget, UpdateReport as IndexReport};
/// The master key: where it comes from, what loading it found, the keys derived from it.
pub use vault::{KeyLocation, KeySource, Keys, LoadedKey, VaultError};

/// The deployment zone of the data dir at `data`; `None` when it has no store yet.
pub fn zone_of(data: &Path) -> Result<Option<Zone>, EngineError> {
    Ok(store::Manifest::load(data)
        .map_err(EngineError::internal)?
        .map(|m| m.zone()))
}

/// What [`init`] found or made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Init {
    /// The data dir was there already (its zone was fixed when it was created).
    pub existed: bool,
    pub zone: Zone,
    pub sources: usize,
}

/// Makes `data` an empty data dir counting days in `zone` under `keys` (its manifest), or
/// finds the one there.
pub fn init(data: &Path, keys: &Keys, zone: Zone) -> Result<Init, EngineError> {
    let existed = store::Manifest::load(data)
        .map_err(EngineError::internal)?
        .is_some();
    let writer = Writer::open(data, keys.key_id(), zone, || {}).map_err(EngineError::internal)?;
    let m = writer.manifest();
    Ok(Init {
        existed,
        zone: m.zone(),
        sources: m.sources().len(),
    })
}

/// Ingests `paths` into the data dir at `data` (created in `zone` if it has no store yet), as
/// `opts` says: the one run behind `fangyi ingest`, `fangyi import` and an upload. `waiting`
/// is told once if another writer holds the data dir; `progress` hears each file's bytes;
/// `cancel` stops at the next chunk.
#[allow(clippy::too_many_arguments)]
pub fn ingest_files(
    data: &Path,
    keys: &Keys,
    zone: Zone,
    paths: &[PathBuf],
    opts: &IngestOptions,
    progress: &(dyn Fn(IngestProgress) + Sync),
    cancel: &AtomicBool,
    waiting: impl FnOnce(),
) -> Result<IngestSummary, IngestError> {
    let mut writer = Writer::open(data, keys.key_id(), zone, waiting)?;
    ingest::run(&mut writer, keys, paths, opts, progress, cancel)
}

/// The data dir opened by its key holder for what shows no person: counts, dates, the trace
/// index.
pub struct DataDir {
    store: Store,
}

impl DataDir {
    /// Opens the store at `data` (it must have one) with the keys it was written with.
    pub fn open(data: &Path, keys: &Keys) -> Result<DataDir, EngineError> {
        let store = Store::open(data, keys.key_id()).map_err(EngineError::internal)?;
        Ok(DataDir { store })
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }

    pub fn zone(&self) -> Zone {
        self.store.zone()
    }

    /// The fingerprint of the key the data dir is written with.
    pub fn key_id(&self) -> &str {
        self.store.manifest().key_id()
    }

    /// Rows, files, bytes and dates per kind, from the manifest (no scan).
    pub fn kind_stats(&self) -> BTreeMap<Kind, KindStats> {
        self.store.manifest().kind_stats()
    }

    /// The latest partition date of any kind: the day its newest dated record is of.
    pub fn newest_date(&self) -> Option<Date> {
        self.kind_stats()
            .values()
            .filter_map(|k| k.last_date.as_deref())
            .filter_map(|d| Date::parse(d.as_bytes()).ok())
            .max()
    }

    /// What `policy` would remove as of `as_of`, read from the manifest (nothing is removed;
    /// `Engine::apply_retention` does that).
    pub fn retention_plan(
        &self,
        policy: &crate::retention::RetentionPolicy,
        as_of: Date,
    ) -> crate::retention::RetentionReport {
        crate::retention::plan(self.store.manifest(), policy, as_of, true)
    }

    /// Whether the trace index covers what the store holds.
    pub fn index_freshness(&self) -> Result<Freshness, EngineError> {
        Ok(trace::freshness(&self.store)?)
    }

    /// Rows the trace index has yet to read.
    pub fn index_pending_rows(&self) -> Result<u64, EngineError> {
        Ok(trace::pending_rows(&self.store)?)
    }

    /// Brings the trace index up to date, its build holding about `budget` bytes at most;
    /// `progress` hears rows read.
    pub fn update_index(
        &self,
        budget: MemoryBudget,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<IndexReport, EngineError> {
        Ok(trace::update_within(&self.store, budget, progress)?)
    }

    /// Deletes the trace index, so the next update builds it whole.
    pub fn remove_index(&self) -> Result<(), EngineError> {
        Ok(trace::index::remove(&self.store)?)
    }

    /// What the trace index holds (it must be current: [`DataDir::update_index`]).
    pub fn index_summary(&self) -> Result<IndexSummary, EngineError> {
        let index = trace::Index::open(&self.store)?;
        Ok(IndexSummary {
            events: index.events() as u64,
            segments: index.segment_count(),
            files: index.files().iter().map(|p| p.to_path_buf()).collect(),
        })
    }

    /// How many people in `persons` would move from each colour under `current` to each under
    /// `proposed` as of the end of `as_of`: counts only, no one named. Brings the trace index
    /// up to date first if it is behind.
    pub fn rules_diff(
        &self,
        current: &RuleSet,
        proposed: &RuleSet,
        as_of: Date,
        progress: &dyn SweepProgress,
    ) -> Result<RulesDiff, EngineError> {
        if self.index_freshness()? != Freshness::Current {
            // FANGYI_MEMORY's budget, else the machine's.
            trace::update(&self.store, &|_| {})?;
        }
        let index = trace::Index::open(&self.store)?;
        let risk = rules::RiskAreas::load(&self.store).map_err(EngineError::internal)?;
        let engine = rules::CodeEngine::new(&index, risk, self.store.zone());
        let sweep = engine.sweep(&[current, proposed], as_of, progress);
        let population = rules::persons(&self.store).map_err(EngineError::internal)?;
        // moves[from][to], over people in `persons`; everyone not swept is green under both.
        let mut moves = [[0u64; 3]; 3];
        for p in &population {
            let (from, to) = sweep
                .codes
                .get(p)
                .map_or((Color::Green, Color::Green), |v| (v[0].color, v[1].color));
            moves[from as usize][to as usize] += 1;
        }
        Ok(RulesDiff {
            persons: population.len() as u64,
            moves,
        })
    }
}

/// The trace index's size and files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSummary {
    pub events: u64,
    pub segments: usize,
    pub files: Vec<PathBuf>,
}

/// What [`DataDir::rules_diff`] counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesDiff {
    /// People in `persons`.
    pub persons: u64,
    /// `moves[from][to]`: people green (0), yellow (1) or red (2) under the current rules and
    /// each colour under the proposed ones.
    pub moves: [[u64; 3]; 3],
}
