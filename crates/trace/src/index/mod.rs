//! The trace index beside the store (`DIR/index/trace/`): segments of sorted, memory-mapped
//! columns built from committed sources, and the small manifest saying which sources each
//! segment covers. New sources get a new segment; at [`MAX_SEGMENTS`] the newest segments are
//! merged with them (size-tiered, [`merge_count`]), so a lookup touches few files however often
//! data arrives, and a large old segment is not rewritten for every few small arrivals.

mod budget;
mod build;
mod diagnosed;
mod segment;
mod spill;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use model::{ArrivalKind, Date, Diagnosis, Kind};
use serde::{Deserialize, Serialize};
use store::{Basis, DataFile, Derived, Part, Standing, Store};

use crate::rules::LabRow;
use crate::{TraceError, Via};
use segment::SegmentFile;

pub use budget::{MEMORY_ENV, MemoryBudget};
pub use build::BuildStats;

/// The kinds the index reads (the store's registry of derived data says so).
pub const INDEXED_KINDS: [Kind; 7] = store::TRACE_INDEX_KINDS;

/// Self-reported temperatures below this are not kept: no fever rule may use a lower
/// threshold (the rules crate refuses one).
pub const FEVER_FLOOR_C: f64 = 37.0;

/// An arrival from `origin` (a region code) on `date` (deployment zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arrival {
    pub person: i64,
    pub date: Date,
    pub origin: u32,
    pub kind: ArrivalKind,
    /// The record's time, so an as-of instant excludes what came after it (a registration's
    /// is the start of its arrival date).
    pub time: i64,
}

/// One event of a person, as [`Index::events_of`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonEvent {
    pub via: Via,
    /// Instants (ms since the epoch).
    pub start: i64,
    pub end: i64,
    /// The service number (rides), pass id (vehicle), venue id or household id.
    pub id: String,
    /// Rides: the service date.
    pub service_date: Option<Date>,
    /// Rides: the car (rail) or seat (flight); vehicle passes: the checkpoint.
    pub label: Option<String>,
}

/// A self-report of a temperature of at least [`FEVER_FLOOR_C`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeverReport {
    pub person: i64,
    pub time: i64,
    pub temperature_c: f64,
}

/// At this many segments the next update merges the newest ones with its new sources.
pub const MAX_SEGMENTS: usize = 6;

/// A segment joins a merge of the newer ones when it is no more than this many times as large
/// as all of them together (events), so each event is rewritten about log₄(index / arrival)
/// times over the index's life rather than at every [`MAX_SEGMENTS`]th arrival.
const MERGE_RATIO: u64 = 4;

const FORMAT: u32 = 3;
const MANIFEST: &str = "index.json";

/// Where the index lives inside a data dir (the store's registry says: [`Derived::dir`]).
pub fn index_dir(store_root: &Path) -> PathBuf {
    Derived::TraceIndex.dir(store_root)
}

/// A group's key: its kind (one byte, the [`Via`] tag), then for rides the service date
/// (4 bytes, big-endian, sign bit flipped so keys sort by date) and the service number; for
/// the others the id (`pass_id`, `venue_id`, `household_id`).
pub(crate) struct GroupKey;

impl GroupKey {
    pub fn ride(out: &mut Vec<u8>, via: Via, date: i32, service: &str) {
        out.clear();
        out.push(via.tag());
        out.extend_from_slice(&((date as u32) ^ 0x8000_0000).to_be_bytes());
        out.extend_from_slice(service.as_bytes());
    }

    pub fn id(out: &mut Vec<u8>, via: Via, id: &str) {
        out.clear();
        out.push(via.tag());
        out.extend_from_slice(id.as_bytes());
    }

    pub fn via(key: &[u8]) -> Via {
        Via::from_tag(key[0]).expect("keys are written with a valid tag")
    }

    /// For rides, the service date and number; for the others, the id.
    pub fn parts(key: &[u8]) -> (Option<Date>, &str) {
        let via = GroupKey::via(key);
        if via.is_ride() {
            let d = u32::from_be_bytes(key[1..5].try_into().expect("4 bytes")) ^ 0x8000_0000;
            (
                Some(Date(d as i32)),
                std::str::from_utf8(&key[5..]).expect("utf-8 key"),
            )
        } else {
            (None, std::str::from_utf8(&key[1..]).expect("utf-8 key"))
        }
    }
}

/// `lab.flags`: bit 0 positive, bits 1–3 the diagnosis (0 none).
pub(super) fn lab_flags(positive: bool, diagnosis: Option<Diagnosis>) -> u8 {
    let d = match diagnosis {
        None => 0,
        Some(Diagnosis::Confirmed) => 1,
        Some(Diagnosis::Suspected) => 2,
        Some(Diagnosis::Asymptomatic) => 3,
        Some(Diagnosis::Recovered) => 4,
    };
    u8::from(positive) | (d << 1)
}

fn lab_diagnosis(flags: u8) -> Option<Diagnosis> {
    match flags >> 1 {
        1 => Some(Diagnosis::Confirmed),
        2 => Some(Diagnosis::Suspected),
        3 => Some(Diagnosis::Asymptomatic),
        4 => Some(Diagnosis::Recovered),
        _ => None,
    }
}

/// `lab.onset` for a missing onset date.
pub(super) const NO_ONSET: i32 = i32::MIN;
/// `ev.label` for a missing label.
pub(crate) const NO_LABEL: u32 = u32::MAX;
/// `ev.num` for a missing seat row.
pub(crate) const NO_ROW: i32 = -1;

/// Located, checked sections of one segment.
#[derive(Debug)]
pub(crate) struct Segment {
    file: SegmentFile,
    key_bytes: Range<usize>,
    key_off: Range<usize>,
    group_off: Range<usize>,
    group_maxdur: Range<usize>,
    ev_person: Range<usize>,
    ev_start: Range<usize>,
    ev_end: Range<usize>,
    ev_label: Range<usize>,
    ev_num: Range<usize>,
    label_bytes: Range<usize>,
    label_off: Range<usize>,
    post_person: Range<usize>,
    post_off: Range<usize>,
    post_event: Range<usize>,
    lab_person: Range<usize>,
    lab_reported: Range<usize>,
    lab_sample: Range<usize>,
    lab_rid: Range<usize>,
    lab_flags: Range<usize>,
    lab_onset: Range<usize>,
    arr_person: Range<usize>,
    arr_date: Range<usize>,
    arr_origin: Range<usize>,
    arr_kind: Range<usize>,
    arr_time: Range<usize>,
    fev_person: Range<usize>,
    fev_time: Range<usize>,
    fev_temp: Range<usize>,
}

macro_rules! columns {
    ($($name:ident : $ty:ty),* $(,)?) => {
        impl Segment {
            fn open(path: &Path) -> Result<Segment, TraceError> {
                let file = SegmentFile::open(path)?;
                $(
                    let $name = file.locate(&stringify!($name).replacen('_', ".", 1))?;
                    file.check::<$ty>(stringify!($name), &$name)?;
                )*
                Ok(Segment { file, $($name),* })
            }
            $(
                #[inline]
                fn $name(&self) -> &[$ty] {
                    self.file.slice(&self.$name)
                }
            )*
        }
    };
}

columns! {
    key_bytes: u8, key_off: u64, group_off: u64, group_maxdur: i64,
    ev_person: i64, ev_start: i64, ev_end: i64, ev_label: u32, ev_num: i32,
    label_bytes: u8, label_off: u64,
    post_person: i64, post_off: u64, post_event: u32,
    lab_person: i64, lab_reported: i64, lab_sample: i64, lab_rid: i64, lab_flags: u8, lab_onset: i32,
    arr_person: i64, arr_date: i32, arr_origin: u32, arr_kind: u8, arr_time: i64,
    fev_person: i64, fev_time: i64, fev_temp: f64,
}

/// The range of a person-sorted column holding `person`.
fn person_range(persons: &[i64], person: i64) -> Range<usize> {
    let lo = persons.partition_point(|&p| p < person);
    lo..lo + persons[lo..].partition_point(|&p| p == person)
}

/// One event of a group, as the matching rules need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub person: i64,
    pub start: i64,
    pub end: i64,
    pub label: u32,
    pub num: i32,
}

impl Segment {
    pub fn groups(&self) -> usize {
        self.key_off().len().saturating_sub(1)
    }

    pub fn key(&self, group: u32) -> &[u8] {
        let off = self.key_off();
        let g = group as usize;
        &self.key_bytes()[off[g] as usize..off[g + 1] as usize]
    }

    /// The group with this key, if the segment has it.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.groups());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.key(mid as u32).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Positions of the group's events (sorted by start).
    pub fn members(&self, group: u32) -> Range<usize> {
        let off = self.group_off();
        off[group as usize] as usize..off[group as usize + 1] as usize
    }

    /// The longest event of the group, so a search by start knows how far back to look.
    pub fn max_duration(&self, group: u32) -> i64 {
        self.group_maxdur()[group as usize]
    }

    /// The events of `group` that may overlap `[start, end]`: those starting no later than
    /// `end` and no earlier than the group's longest event before `start`.
    pub fn candidates(&self, group: u32, start: i64, end: i64) -> Range<usize> {
        let all = self.members(group);
        let starts = &self.ev_start()[all.clone()];
        let lo = starts.partition_point(|&s| s < start.saturating_sub(self.max_duration(group)));
        let hi = starts.partition_point(|&s| s <= end);
        all.start + lo..all.start + hi.max(lo)
    }

    pub fn group_of(&self, event: usize) -> u32 {
        (self.group_off().partition_point(|&o| o as usize <= event) - 1) as u32
    }

    #[inline]
    pub fn event(&self, i: usize) -> Event {
        Event {
            person: self.ev_person()[i],
            start: self.ev_start()[i],
            end: self.ev_end()[i],
            label: self.ev_label()[i],
            num: self.ev_num()[i],
        }
    }

    pub fn label(&self, label: u32) -> Option<&str> {
        if label == NO_LABEL {
            return None;
        }
        let off = self.label_off();
        let l = label as usize;
        std::str::from_utf8(&self.label_bytes()[off[l] as usize..off[l + 1] as usize]).ok()
    }

    /// Positions of the events of `person`.
    pub fn events_of(&self, person: i64) -> &[u32] {
        let persons = self.post_person();
        match persons.binary_search(&person) {
            Ok(i) => {
                let off = self.post_off();
                &self.post_event()[off[i] as usize..off[i + 1] as usize]
            }
            Err(_) => &[],
        }
    }

    /// Whether `person` has a lab row in this segment.
    pub fn has_labs(&self, person: i64) -> bool {
        !person_range(self.lab_person(), person).is_empty()
    }

    /// Appends the lab rows of `person` to `out`.
    pub fn labs_of(&self, person: i64, out: &mut Vec<LabRow>) {
        for i in person_range(self.lab_person(), person) {
            out.push(self.lab_row(i));
        }
    }

    /// Every person with at least one lab row, each once, in order.
    pub fn lab_persons(&self, out: &mut Vec<i64>) {
        for &p in self.lab_person() {
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
    }

    fn arrival(&self, i: usize) -> Arrival {
        Arrival {
            person: self.arr_person()[i],
            date: Date(self.arr_date()[i]),
            origin: self.arr_origin()[i],
            kind: ArrivalKind::from_index(usize::from(self.arr_kind()[i]))
                .unwrap_or(ArrivalKind::SelfReport),
            time: self.arr_time()[i],
        }
    }

    pub fn arrivals_of(&self, person: i64, out: &mut Vec<Arrival>) {
        for i in person_range(self.arr_person(), person) {
            out.push(self.arrival(i));
        }
    }

    /// Calls `f` with every arrival dated within `[from, to]` (one pass over the dates).
    pub fn arrivals_between(&self, from: Date, to: Date, f: &mut dyn FnMut(Arrival)) {
        for (i, &d) in self.arr_date().iter().enumerate() {
            if (from.0..=to.0).contains(&d) {
                f(self.arrival(i));
            }
        }
    }

    fn fever(&self, i: usize) -> FeverReport {
        FeverReport {
            person: self.fev_person()[i],
            time: self.fev_time()[i],
            temperature_c: self.fev_temp()[i],
        }
    }

    pub fn fevers_of(&self, person: i64, out: &mut Vec<FeverReport>) {
        for i in person_range(self.fev_person(), person) {
            out.push(self.fever(i));
        }
    }

    /// Calls `f` with every kept temperature report made within `[from, to]`.
    pub fn fevers_between(&self, from: i64, to: i64, f: &mut dyn FnMut(FeverReport)) {
        for (i, &t) in self.fev_time().iter().enumerate() {
            if (from..=to).contains(&t) {
                f(self.fever(i));
            }
        }
    }

    fn lab_row(&self, i: usize) -> LabRow {
        let flags = self.lab_flags()[i];
        let onset = self.lab_onset()[i];
        LabRow {
            reported: self.lab_reported()[i],
            sample: self.lab_sample()[i],
            rid: self.lab_rid()[i],
            positive: flags & 1 == 1,
            diagnosis: lab_diagnosis(flags),
            onset: (onset != NO_ONSET).then_some(Date(onset)),
        }
    }

    /// Every person with a lab row that made or could make them a case (a confirmed or
    /// asymptomatic diagnosis), each once.
    pub fn diagnosed_persons(&self, out: &mut Vec<i64>) {
        let persons = self.lab_person();
        for (i, &f) in self.lab_flags().iter().enumerate() {
            if matches!(
                lab_diagnosis(f),
                Some(Diagnosis::Confirmed | Diagnosis::Asymptomatic)
            ) && out.last() != Some(&persons[i])
            {
                out.push(persons[i]);
            }
        }
    }

    pub fn events(&self) -> usize {
        self.ev_person().len()
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct IndexManifest {
    format: u32,
    key_id: String,
    zone: String,
    next_segment: u32,
    segments: Vec<SegmentEntry>,
    /// The store's generation of the trace index it was built at ([`Store::generation`]):
    /// a removal of records moves it on, and an index of another generation is never used.
    #[serde(default)]
    generation: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
struct SegmentEntry {
    file: String,
    /// Sequence numbers of the store's sources this segment was built from.
    sources: Vec<u32>,
    events: u64,
    labs: u64,
    bytes: u64,
}

impl IndexManifest {
    fn load(dir: &Path) -> Result<Option<IndexManifest>, TraceError> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| TraceError::Corrupt {
                    path,
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TraceError::Io { path, cause: e }),
        }
    }

    fn save(&self, dir: &Path) -> Result<(), TraceError> {
        let path = dir.join(MANIFEST);
        let tmp = dir.join("index.json.tmp");
        let mut f = File::create(&tmp).map_err(TraceError::io(&tmp))?;
        f.write_all(&serde_json::to_vec_pretty(self).expect("serialisable"))
            .and_then(|()| f.sync_all())
            .map_err(TraceError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(TraceError::io(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(TraceError::io(dir))
    }

    fn covered(&self) -> BTreeSet<u32> {
        self.segments
            .iter()
            .flat_map(|s| s.sources.iter().copied())
            .collect()
    }

    /// Built the way this build would build it (format, key, zone).
    fn matches(&self, store: &Store) -> bool {
        self.format == FORMAT
            && self.key_id == store.manifest().key_id()
            && self.zone == store.zone().to_string()
    }

    /// What its segments were built from, for the store's judgement ([`Store::standing`]).
    fn basis(&self) -> Basis {
        Basis {
            generation: self.generation,
            sources: self.covered(),
        }
    }

    /// How it stands against `store`: built another way, it is invalid too.
    fn standing(&self, store: &Store) -> Standing {
        if self.matches(store) {
            store.standing(Derived::TraceIndex, &self.basis())
        } else {
            Standing::Invalid
        }
    }

    /// An empty index for `store`.
    fn empty(store: &Store) -> IndexManifest {
        IndexManifest {
            format: FORMAT,
            key_id: store.manifest().key_id().to_string(),
            zone: store.zone().to_string(),
            generation: store.generation(Derived::TraceIndex),
            ..IndexManifest::default()
        }
    }
}

/// How the index in `dir` stands against `store` (no index is an empty one).
fn standing(dir: &Path, store: &Store) -> Result<(Option<IndexManifest>, Standing), TraceError> {
    let m = IndexManifest::load(dir)?;
    let standing = m
        .as_ref()
        .unwrap_or(&IndexManifest::empty(store))
        .standing(store);
    Ok((m, standing))
}

/// How far the index is behind the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Current,
    /// This many committed sources are not indexed yet.
    Behind(usize),
    /// Built with another key or zone, or from records the store has removed since (its
    /// generation moved on, or a source it covers is gone): it must be rebuilt.
    Invalid,
}

/// Compares the index with the store (the store's judgement: [`Store::standing`]).
pub fn freshness(store: &Store) -> Result<Freshness, TraceError> {
    Ok(match standing(&index_dir(store.root()), store)?.1 {
        Standing::Current => Freshness::Current,
        Standing::Behind(new) => Freshness::Behind(new.len()),
        Standing::Invalid => Freshness::Invalid,
    })
}

/// What an update does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The new sources become another segment.
    Add,
    /// The new sources and this many of the newest segments become one segment (at
    /// [`MAX_SEGMENTS`]): the segments are already sorted, so they are merged as they are, not
    /// read again from the store.
    Merge(usize),
    /// Everything is read again from the store (the index is invalid, or there is none).
    Rebuild,
}

/// The sources an update reads now: those the index lacks, or all of them when it is rebuilt
/// (invalid). `None` when it is current.
fn pending(
    m: Option<&IndexManifest>,
    standing: Standing,
    store: &Store,
) -> Option<(Mode, BTreeSet<u32>)> {
    match standing {
        Standing::Current => None,
        Standing::Behind(new) => {
            let new: BTreeSet<u32> = new.into_iter().collect();
            let mode = match m {
                Some(m) if m.segments.len() >= MAX_SEGMENTS => {
                    let rows = store
                        .sources_of(Derived::TraceIndex)
                        .filter(|s| new.contains(&s.seq))
                        .map(|s| s.rows_accepted)
                        .sum();
                    Mode::Merge(merge_count(&m.segments, rows))
                }
                _ => Mode::Add,
            };
            Some((mode, new))
        }
        Standing::Invalid => Some((
            Mode::Rebuild,
            store
                .sources_of(Derived::TraceIndex)
                .map(|s| s.seq)
                .collect(),
        )),
    }
}

/// How many of the newest `segments` (events each) to merge with new sources of about
/// `new_rows` events: at least two, so the count goes down, then each older segment while it is
/// no more than [`MERGE_RATIO`] times all those after it.
fn merge_count(segments: &[SegmentEntry], new_rows: u64) -> usize {
    let n = segments.len();
    let mut k = n.min(2);
    let mut newer: u64 = new_rows + segments[n - k..].iter().map(|s| s.events).sum::<u64>();
    while k < n && segments[n - k - 1].events <= MERGE_RATIO.saturating_mul(newer.max(1)) {
        newer += segments[n - k - 1].events;
        k += 1;
    }
    k
}

/// Rows an [`update`] would read now (for a progress bar).
pub fn pending_rows(store: &Store) -> Result<u64, TraceError> {
    let (m, standing) = standing(&index_dir(store.root()), store)?;
    let Some((_, todo)) = pending(m.as_ref(), standing, store) else {
        return Ok(0);
    };
    Ok(store
        .sources_of(Derived::TraceIndex)
        .filter(|s| todo.contains(&s.seq))
        .map(|s| s.rows_accepted)
        .sum())
}

/// Deletes the index, so the next [`update`] builds it whole: its folder emptied under its
/// lock, as the store's removals do, so an update running meanwhile finishes first.
pub fn remove(store: &Store) -> Result<(), TraceError> {
    Ok(Derived::TraceIndex.clear(store.root())?)
}

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateReport {
    pub sources_indexed: usize,
    pub rebuilt: bool,
    /// Segments merged into the new one (at [`MAX_SEGMENTS`], the newest: [`merge_count`]).
    pub merged: usize,
    pub stats: BuildStats,
    pub segments: usize,
}

/// [`update_within`] the budget `FANGYI_MEMORY` sets, else the machine's default
/// ([`MemoryBudget::from_env`]).
pub fn update(store: &Store, progress: &(dyn Fn(u64) + Sync)) -> Result<UpdateReport, TraceError> {
    let budget = MemoryBudget::from_env().map_err(TraceError::BadQuery)?;
    update_within(store, budget, progress)
}

/// Brings the index up to date with the store: indexes sources committed since the last update
/// (a new segment, merged with the newest segments when there are [`MAX_SEGMENTS`]), or
/// rebuilds it whole when it was built with another
/// key, or from records the store has removed since (the store's [`Standing::Invalid`]).
/// Refuses to save what it built when records were removed while it read them (this view of
/// the store is older than the data dir's). The build holds about `budget` bytes at most,
/// spilling sorted runs to a scratch folder in the index's (removed when it ends). `progress`
/// receives rows read.
pub fn update_within(
    store: &Store,
    budget: MemoryBudget,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<UpdateReport, TraceError> {
    // The store's removals empty the folder under the same lock, never mid-update.
    let lock = Derived::TraceIndex.lock(store.root())?;
    let dir = lock.dir().to_path_buf();
    let (m, standing) = standing(&dir, store)?;
    let Some((mode, todo)) = pending(m.as_ref(), standing, store) else {
        return Ok(UpdateReport {
            segments: m.map_or(0, |m| m.segments.len()),
            ..UpdateReport::default()
        });
    };
    // Another key, zone or format: nothing of the old index is kept, not even its numbering.
    let mut m = m
        .filter(|m| m.matches(store))
        .unwrap_or_else(|| IndexManifest::empty(store));
    let files: Vec<DataFile> = store
        .sources_of(Derived::TraceIndex)
        .filter(|s| todo.contains(&s.seq))
        .flat_map(|s| store.source_files(s, Part::Table))
        .collect();
    let name = format!("seg-{:06}.fyx", m.next_segment);
    let tmp = dir.join(format!("{name}.tmp"));
    let plan = build::BuildPlan {
        budget,
        scratch: dir.join(format!("{}{name}", spill::SCRATCH_PREFIX)),
        zone: store.zone(),
        progress,
    };
    let merged: Vec<PathBuf> = match mode {
        Mode::Merge(k) => m.segments[m.segments.len() - k..]
            .iter()
            .map(|s| dir.join(&s.file))
            .collect(),
        Mode::Add | Mode::Rebuild => Vec::new(),
    };
    let built = build::build(&files, &merged, &tmp, &plan);
    // Records removed meanwhile (files gone mid-read, or read before they went): keep nothing.
    if !store.still_current(Derived::TraceIndex)? {
        let _ = std::fs::remove_file(&tmp);
        return Err(TraceError::Outdated {
            why: "records were removed from the store while it was built; open the store again",
        });
    }
    let stats = match built {
        Ok(s) => s,
        Err(e) => {
            // Nothing half-built stays: the scratch folder went with the build.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let path = dir.join(&name);
    std::fs::rename(&tmp, &path).map_err(TraceError::io(&path))?;
    let mut sources = todo.clone();
    match mode {
        Mode::Add => {}
        Mode::Merge(k) => {
            let keep = m.segments.len() - k;
            for s in m.segments.drain(keep..) {
                sources.extend(s.sources);
            }
        }
        Mode::Rebuild => {
            m.segments.clear();
            m.generation = store.generation(Derived::TraceIndex);
        }
    }
    let entry = SegmentEntry {
        file: name,
        sources: sources.into_iter().collect(),
        events: stats.events,
        labs: stats.labs,
        bytes: stats.bytes,
    };
    m.segments.push(entry);
    m.next_segment += 1;
    m.save(&dir)?;
    remove_unlisted(&dir, &m)?;
    Ok(UpdateReport {
        sources_indexed: todo.len(),
        rebuilt: mode == Mode::Rebuild,
        merged: merged.len(),
        stats,
        segments: m.segments.len(),
    })
}

/// Deletes segment files the manifest no longer lists (merged away, or left by a crash), and
/// a crashed build's scratch folders (no build runs: the caller holds the index's lock).
fn remove_unlisted(dir: &Path, m: &IndexManifest) -> Result<(), TraceError> {
    let listed: BTreeSet<&str> = m.segments.iter().map(|s| s.file.as_str()).collect();
    for entry in std::fs::read_dir(dir).map_err(TraceError::io(dir))? {
        let entry = entry.map_err(TraceError::io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("seg-") && !listed.contains(name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        } else if name.starts_with(spill::SCRATCH_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// The opened segments of a current index.
#[derive(Debug)]
pub struct Index {
    pub(crate) segments: Vec<Segment>,
    /// The events of everyone who could be a case, built on first use.
    diagnosed: OnceLock<diagnosed::Diagnosed>,
}

impl Index {
    /// Opens the index as it is (possibly behind the store; see [`freshness`]).
    pub fn open(store: &Store) -> Result<Index, TraceError> {
        let dir = index_dir(store.root());
        // An update may replace segments between reading the manifest and opening them; the
        // second attempt reads the new manifest.
        let mut last = None;
        for _ in 0..3 {
            let Some(m) = IndexManifest::load(&dir)?.filter(|m| m.matches(store)) else {
                return Ok(Index {
                    segments: Vec::new(),
                    diagnosed: OnceLock::new(),
                });
            };
            // Behind is fine (the caller decides whether to update first); built from records
            // the store has removed since is not.
            if m.standing(store) == Standing::Invalid {
                return Err(TraceError::Outdated {
                    why: "records it was built from were removed since (run `fangyi index`)",
                });
            }
            match m
                .segments
                .iter()
                .map(|s| Segment::open(&dir.join(&s.file)))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(segments) => {
                    return Ok(Index {
                        segments,
                        diagnosed: OnceLock::new(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("tried"))
    }

    /// Builds now what is otherwise built on first use, so that no request waits for it: a
    /// server does this before it answers from a new index.
    pub fn prepare(&self) {
        self.diagnosed();
    }

    /// Whether what [`Index::prepare`] builds is built.
    pub fn is_prepared(&self) -> bool {
        self.diagnosed.get().is_some()
    }

    /// The diagnosed persons' events (built on first use).
    pub(crate) fn diagnosed(&self) -> &diagnosed::Diagnosed {
        self.diagnosed
            .get_or_init(|| diagnosed::Diagnosed::build(&self.segments))
    }

    /// Total events over all segments.
    pub fn events(&self) -> usize {
        self.segments.iter().map(Segment::events).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The arrivals of `person`, over all segments, sorted and each once.
    pub fn arrivals_of(&self, person: i64) -> Vec<Arrival> {
        let mut out = Vec::new();
        for s in &self.segments {
            s.arrivals_of(person, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every arrival dated within `[from, to]`, segment by segment (a fact in two segments
    /// comes twice).
    pub fn arrivals_between(&self, from: Date, to: Date, f: &mut dyn FnMut(Arrival)) {
        for s in &self.segments {
            s.arrivals_between(from, to, f);
        }
    }

    /// The kept temperature reports of `person`, in time order.
    pub fn fevers_of(&self, person: i64) -> Vec<FeverReport> {
        let mut out = Vec::new();
        for s in &self.segments {
            s.fevers_of(person, &mut out);
        }
        out.sort_by_key(|f| f.time);
        out.dedup();
        out
    }

    /// Every kept temperature report made within `[from, to]`.
    pub fn fevers_between(&self, from: i64, to: i64, f: &mut dyn FnMut(FeverReport)) {
        for s in &self.segments {
            s.fevers_between(from, to, f);
        }
    }

    /// The lab rows of `person` over all segments.
    /// Whether `person` has a lab row in any segment.
    pub fn has_labs(&self, person: i64) -> bool {
        self.segments.iter().any(|s| s.has_labs(person))
    }

    pub fn labs_of(&self, person: i64) -> Vec<LabRow> {
        let mut out = Vec::new();
        for s in &self.segments {
            s.labs_of(person, &mut out);
        }
        out
    }

    /// Everyone with a lab row, sorted, each once.
    pub fn lab_persons(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for s in &self.segments {
            s.lab_persons(&mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The events of `person` overlapping `[from, to]` (instants, ms), over all segments, in
    /// time order and each once: rides with their service, vehicle passes, venue visits and
    /// household membership as the index keeps them.
    pub fn events_of(&self, person: i64, from: i64, to: i64) -> Vec<PersonEvent> {
        let mut out = Vec::new();
        for s in &self.segments {
            for &i in s.events_of(person) {
                let e = s.event(i as usize);
                if e.end < from || e.start > to {
                    continue;
                }
                let key = s.key(s.group_of(i as usize));
                let (service_date, id) = GroupKey::parts(key);
                out.push(PersonEvent {
                    via: GroupKey::via(key),
                    start: e.start,
                    end: e.end,
                    id: id.to_string(),
                    service_date,
                    label: s.label(e.label).map(str::to_string),
                });
            }
        }
        out.sort_by(|a, b| (a.start, a.end, a.via, &a.id).cmp(&(b.start, b.end, b.via, &b.id)));
        out.dedup();
        out
    }

    /// Every segment's file, for reports.
    pub fn files(&self) -> Vec<&Path> {
        self.segments.iter().map(|s| s.file.path()).collect()
    }
}

#[cfg(test)]
mod merge_policy_tests {
    use super::*;

    fn segments(events: &[u64]) -> Vec<SegmentEntry> {
        events
            .iter()
            .enumerate()
            .map(|(i, &e)| SegmentEntry {
                file: format!("seg-{i:06}.fyx"),
                sources: vec![i as u32],
                events: e,
                labs: 0,
                bytes: 0,
            })
            .collect()
    }

    #[test]
    fn the_newest_merge_and_a_large_old_segment_stays() {
        // A province's first load, then five flushes of a few reports each.
        let s = segments(&[2_000_000, 900, 1_000, 800, 1_100, 950]);
        assert_eq!(merge_count(&s, 1_000), 5);
        // Equal arrivals merge all.
        assert_eq!(merge_count(&segments(&[10, 10, 10, 10, 10, 10]), 10), 6);
        // Always at least two, so the count goes down.
        assert_eq!(
            merge_count(&segments(&[1 << 40, 1 << 30, 1 << 20, 1 << 10, 10, 1]), 0),
            2
        );
        // Nothing counted (empty segments) still merges.
        assert_eq!(merge_count(&segments(&[0, 0, 0, 0, 0, 0]), 0), 6);
    }
}
