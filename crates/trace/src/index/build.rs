//! Building a segment in a memory budget (an external sort): scan the needed columns of the
//! sources' stored files (through the store's typed scans, a file per worker), turn rows into
//! events keyed by group; when a worker's share of the budget is full, sort what it holds and
//! spill it as a *run* to the build's scratch folder; then merge the runs' dictionaries and
//! k-way merge their records into the segment's columns, which are stitched into one file.
//!
//! What fits in the budget is never written out: the runs left in memory at the end are merged
//! as they are, so a small build is the in-memory sort it always was. The bytes written do not
//! depend on the budget (tests hold it so).
//!
//! Memory, by phase (see [`Shares`]): reading holds at most half the budget in runs (40 bytes
//! an event, 40 a lab row, 32 an arrival, 24 a fever, about 100 plus twice the length of each
//! distinct group key or label the run names); the merge holds the runs still in memory, a
//! 4-byte map per distinct label of each run (labels are cars, seats and checkpoints: they grow
//! with distinct values, not events), buffers of a few KiB per run and column, and the
//! postings' sort buffer (16 bytes a posting, a quarter of the budget, spilled likewise).
//! Group keys never sit in memory all at once: each run's local → global map is written
//! beside it and read back in step with its events, which are sorted by group.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arrow::array::{Array, StringArray};
use bytemuck::{Pod, Zeroable};
use model::{Diagnosis, Kind, Zone};
use rayon::prelude::*;
use store::arrivals::{ARRIVAL_KINDS, Ends, arrival_columns, read_arrivals};
use store::{Batch, DataFile, StoreError};

use super::budget::MemoryBudget;
use super::segment::{SegmentFile, SegmentWriter};
use super::spill::{RecordReader, RecordWriter, Scratch, Strings, StringsReader, StringsWriter};
use super::{FEVER_FLOOR_C, GroupKey, NO_LABEL, NO_ONSET, NO_ROW, lab_flags};
use crate::rules::{seat_row, stay_end};
use crate::{TraceError, Via};

/// What a build read and wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    pub rows: u64,
    pub events: u64,
    pub groups: u64,
    pub labs: u64,
    pub arrivals: u64,
    pub fevers: u64,
    pub bytes: u64,
    /// Sorted runs spilled to scratch files (0: everything fit in the budget).
    pub runs: u64,
}

/// An event as runs hold it (fixed width, so a run spills as plain records). `group` and
/// `label` number the run's own dictionaries in their sorted order.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
struct RawEvent {
    person: i64,
    start: i64,
    end: i64,
    group: u32,
    label: u32,
    num: i32,
    pad: u32,
}

/// The order of events in a segment (dictionary numbers in sorted order stand for their
/// strings), and their identity: the same fact from two sources is one event.
type EventKey = (u32, i64, i64, i64, u32, i32);

impl RawEvent {
    #[inline]
    fn key(&self) -> EventKey {
        (
            self.group,
            self.start,
            self.person,
            self.end,
            self.label,
            self.num,
        )
    }
}

/// A lab row; ordered by every field (person first, then as reported), so ties never depend on
/// how the input was cut into runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Pod, Zeroable)]
#[repr(C)]
struct RawLab {
    person: i64,
    reported: i64,
    sample: i64,
    rid: i64,
    onset: i32,
    flags: u8,
    pad: [u8; 3],
}

/// An arrival from a region (contract §4, as `store::arrivals` reads it), for health codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Pod, Zeroable)]
#[repr(C)]
struct RawArrival {
    person: i64,
    date: i32,
    origin: u32,
    kind: u8,
    pad: [u8; 7],
    /// The record's own time (a registration's: the start of its date).
    time: i64,
}

/// A self-reported temperature at or above [`FEVER_FLOOR_C`]. The temperature's bits order as
/// the temperatures do, all being positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Pod, Zeroable)]
#[repr(C)]
struct RawFever {
    person: i64,
    time: i64,
    temperature: u64,
}

/// Interns byte strings to dense local numbers.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<[u8]>, u32>,
    list: Vec<Box<[u8]>>,
    /// Bytes of the strings held (twice: the map's and the list's copy).
    bytes: usize,
}

/// What an interned string costs beyond its bytes (twice): two allocations, a map entry and a
/// list entry, and the sort's order and rank.
const INTERNED_OVERHEAD: usize = 100;

impl Interner {
    fn id(&mut self, key: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(key.into());
        self.ids.insert(key.into(), id);
        self.bytes += 2 * key.len() + INTERNED_OVERHEAD;
        id
    }

    /// The strings sorted, and each local number's rank among them.
    fn into_sorted(self) -> (Vec<Box<[u8]>>, Vec<u32>) {
        drop(self.ids);
        let list = self.list;
        let mut order: Vec<u32> = (0..list.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| list[a as usize].cmp(&list[b as usize]));
        let mut rank = vec![0u32; list.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let mut slots: Vec<Option<Box<[u8]>>> = list.into_iter().map(Some).collect();
        let sorted = order
            .iter()
            .map(|&i| slots[i as usize].take().expect("each once"))
            .collect();
        (sorted, rank)
    }
}

/// What one worker gathered since its last run.
#[derive(Default)]
struct Partial {
    groups: Interner,
    labels: Interner,
    events: Vec<RawEvent>,
    labs: Vec<RawLab>,
    arrivals: Vec<RawArrival>,
    fevers: Vec<RawFever>,
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> TraceError {
    TraceError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    (a.is_valid(i) && !a.value(i).is_empty()).then(|| a.value(i))
}

/// The columns each kind contributes to events, lab results and fevers (its arrivals' are
/// `store::arrivals`'s).
fn columns_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Travel => &[
            "person_id",
            "mode",
            "service_no",
            "service_date",
            "car",
            "seat",
            "depart_time",
            "arrive_time",
        ],
        Kind::Checkpoint => &["pass_id", "person_id", "checkpoint_id", "time"],
        Kind::SelfReports => &["person_id", "time", "temperature_c"],
        Kind::Checkins => &["person_id", "time_in", "time_out"],
        Kind::Persons => &["person_id", "household_id"],
        Kind::LabResults => &[
            "person_id",
            "sample_time",
            "result",
            "diagnosis",
            "onset_date",
            "reported_time",
            store::RID_COLUMN,
        ],
        _ => &[],
    }
}

/// The text columns each kind contributes read keyed (each distinct value decoded and interned
/// once per batch): the venues of check-ins, most of a province's events.
fn keyed_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Checkins => &["venue_id"],
        _ => &[],
    }
}

impl Partial {
    /// Reads the columns of `file` the index needs, a batch at a time, handing itself to
    /// `spill` whenever it holds `share` bytes or more.
    fn read(
        &mut self,
        file: &DataFile,
        zone: Zone,
        progress: &AtomicU64,
        share: usize,
        spill: &mut dyn FnMut(Partial) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        let kind = file.kind();
        let wanted: Vec<&str> = columns_of(kind)
            .iter()
            .chain(arrival_columns(kind, Ends::From))
            .copied()
            .collect();
        for batch in file.scan_keyed(&wanted, keyed_of(kind))? {
            let batch = batch?;
            match kind {
                Kind::Travel => self.travel(&batch)?,
                Kind::Checkpoint => self.checkpoint(&batch)?,
                Kind::SelfReports => self.self_reports(&batch)?,
                Kind::Checkins => self.checkins(&batch)?,
                Kind::Persons => self.persons(&batch)?,
                Kind::LabResults => self.lab_results(&batch)?,
                _ => {}
            }
            if ARRIVAL_KINDS.contains(&kind) {
                self.arrivals(kind, &batch, zone)?;
            }
            progress.fetch_add(batch.rows() as u64, Ordering::Relaxed);
            if self.bytes() >= share {
                spill(std::mem::take(self))?;
            }
        }
        Ok(())
    }

    /// What it holds, by the capacity of its vectors.
    fn bytes(&self) -> usize {
        self.groups.bytes
            + self.labels.bytes
            + self.events.capacity() * size_of::<RawEvent>()
            + self.labs.capacity() * size_of::<RawLab>()
            + self.arrivals.capacity() * size_of::<RawArrival>()
            + self.fevers.capacity() * size_of::<RawFever>()
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.labs.is_empty()
            && self.arrivals.is_empty()
            && self.fevers.is_empty()
    }

    /// Sorted and deduplicated, dictionaries in order: a run in memory.
    fn into_run(self) -> Run {
        let (keys, grank) = self.groups.into_sorted();
        let (labels, lrank) = self.labels.into_sorted();
        let mut events = self.events;
        for e in &mut events {
            e.group = grank[e.group as usize];
            if e.label != NO_LABEL {
                e.label = lrank[e.label as usize];
            }
        }
        drop((grank, lrank));
        events.sort_unstable_by_key(RawEvent::key);
        events.dedup_by_key(|e| e.key());
        let mut labs = self.labs;
        labs.sort_unstable();
        let mut arrivals = self.arrivals;
        arrivals.sort_unstable();
        arrivals.dedup();
        let mut fevers = self.fevers;
        fevers.sort_unstable();
        fevers.dedup();
        Run {
            keys: Texts::Mem(keys),
            labels: Texts::Mem(labels),
            events: Recs::Mem(events),
            labs: Recs::Mem(labs),
            arrivals: Recs::Mem(arrivals),
            fevers: Recs::Mem(fevers),
        }
    }

    fn label(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NO_LABEL, |s| self.labels.id(s.as_bytes()))
    }

    /// The arrivals from a region the rows state (those naming an origin).
    fn arrivals(&mut self, kind: Kind, b: &Batch<'_>, zone: Zone) -> Result<(), StoreError> {
        read_arrivals(kind, b.record_batch(), zone, Ends::From, |a| {
            if let Some(origin) = a.from {
                self.arrivals.push(RawArrival {
                    person: a.person,
                    date: a.date.days(),
                    origin: origin.code(),
                    kind: a.kind as u8,
                    pad: [0; 7],
                    time: a.time.millis(),
                });
            }
        })
        .map_err(|e| b.file().corrupt(e))
    }

    fn travel(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let person = b.ints("person_id")?;
        let mode = b.texts("mode")?;
        let service = b.texts("service_no")?;
        let date = b.dates("service_date")?;
        let car = b.texts("car")?;
        let seat = b.texts("seat")?;
        let depart = b.instants("depart_time")?;
        let arrive = b.instants("arrive_time")?;
        let mut key = Vec::with_capacity(32);
        for i in 0..b.rows() {
            let via = Via::from_mode(mode.value(i)).ok_or_else(|| {
                b.file()
                    .corrupt(format!("unknown mode {:?}", mode.value(i)))
            })?;
            GroupKey::ride(&mut key, via, date.value(i), service.value(i));
            let (label, num) = match via {
                Via::Rail => (self.label(opt_str(car, i)), NO_ROW),
                Via::Flight => {
                    let s = opt_str(seat, i);
                    (self.label(s), s.and_then(seat_row).unwrap_or(NO_ROW))
                }
                _ => (NO_LABEL, NO_ROW),
            };
            self.events.push(RawEvent {
                group: self.groups.id(&key),
                label,
                num,
                person: person.value(i),
                start: depart.value(i),
                end: arrive.value(i),
                pad: 0,
            });
        }
        Ok(())
    }

    fn checkpoint(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let pass = b.texts("pass_id")?;
        let person = b.ints("person_id")?;
        let checkpoint = b.texts("checkpoint_id")?;
        let time = b.instants("time")?;
        let mut key = Vec::with_capacity(32);
        for i in 0..b.rows() {
            GroupKey::id(&mut key, Via::Vehicle, pass.value(i));
            let label = self.label(opt_str(checkpoint, i));
            self.events.push(RawEvent {
                group: self.groups.id(&key),
                label,
                num: NO_ROW,
                person: person.value(i),
                start: time.value(i),
                end: time.value(i),
                pad: 0,
            });
        }
        Ok(())
    }

    fn checkins(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let person = b.ints("person_id")?;
        let venue = b.keyed_texts("venue_id")?;
        let time_in = b.instants("time_in")?;
        let time_out = b.instants("time_out")?;
        let mut key = Vec::with_capacity(32);
        // Each venue's group, interned when a row of the batch first names it.
        let mut group_of = vec![u32::MAX; venue.values().len()];
        for i in 0..b.rows() {
            let group = match venue.key(i) {
                Some(k) if group_of[k] != u32::MAX => group_of[k],
                k => {
                    GroupKey::id(&mut key, Via::Venue, venue.get(i).unwrap_or(""));
                    let g = self.groups.id(&key);
                    if let Some(k) = k {
                        group_of[k] = g;
                    }
                    g
                }
            };
            let start = time_in.value(i);
            let out = time_out.is_valid(i).then(|| time_out.value(i));
            self.events.push(RawEvent {
                group,
                label: NO_LABEL,
                num: NO_ROW,
                person: person.value(i),
                start,
                end: stay_end(start, out),
                pad: 0,
            });
        }
        Ok(())
    }

    fn persons(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let person = b.ints("person_id")?;
        let household = b.texts("household_id")?;
        let mut key = Vec::with_capacity(32);
        for i in 0..b.rows() {
            let Some(h) = opt_str(household, i) else {
                continue;
            };
            GroupKey::id(&mut key, Via::Household, h);
            self.events.push(RawEvent {
                group: self.groups.id(&key),
                label: NO_LABEL,
                num: NO_ROW,
                person: person.value(i),
                // A household is shared all the time: the whole window.
                start: i64::MIN,
                end: i64::MAX,
                pad: 0,
            });
        }
        Ok(())
    }

    fn self_reports(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let person = b.ints("person_id")?;
        let time = b.instants("time")?;
        let temperature = b.floats("temperature_c")?;
        for i in 0..b.rows() {
            if temperature.is_valid(i) && temperature.value(i) >= FEVER_FLOOR_C {
                self.fevers.push(RawFever {
                    person: person.value(i),
                    time: time.value(i),
                    temperature: temperature.value(i).to_bits(),
                });
            }
        }
        Ok(())
    }

    fn lab_results(&mut self, b: &Batch<'_>) -> Result<(), StoreError> {
        let person = b.ints("person_id")?;
        let sample = b.instants("sample_time")?;
        let result = b.texts("result")?;
        let diagnosis = b.texts("diagnosis")?;
        let onset = b.dates("onset_date")?;
        let reported = b.instants("reported_time")?;
        let rid = b.ints(store::RID_COLUMN)?;
        for i in 0..b.rows() {
            let d = match opt_str(diagnosis, i) {
                None => None,
                Some(s) => Some(
                    Diagnosis::parse(s)
                        .ok_or_else(|| b.file().corrupt(format!("unknown diagnosis {s:?}")))?,
                ),
            };
            self.labs.push(RawLab {
                person: person.value(i),
                reported: reported.value(i),
                sample: sample.value(i),
                rid: rid.value(i),
                flags: lab_flags(result.value(i) == "positive", d),
                onset: if onset.is_valid(i) {
                    onset.value(i)
                } else {
                    NO_ONSET
                },
                pad: [0; 3],
            });
        }
        Ok(())
    }
}

/// Opens a reader of records given its buffer size.
type Opener<T> = Box<dyn FnOnce(usize) -> Result<Reader<T>, TraceError> + Send>;

/// Records of one kind in a run: in memory, spilled to a scratch file, or read from the
/// columns of an existing segment (`len`, and how to open them).
enum Recs<T> {
    Mem(Vec<T>),
    File(PathBuf, u64),
    Columns(u64, Opener<T>),
}

impl<T: Pod> Recs<T> {
    fn spill(
        self,
        scratch: &Mutex<Scratch>,
        what: &str,
        buffer: usize,
    ) -> Result<Self, TraceError> {
        let Recs::Mem(v) = self else {
            return Ok(self);
        };
        let path = scratch.lock().expect("scratch lock").file(what);
        let mut w = RecordWriter::create(path, buffer)?;
        w.push_all(&v)?;
        let (path, n) = w.finish()?;
        Ok(Recs::File(path, n))
    }

    fn reader(self, buffer: usize) -> Result<Reader<T>, TraceError> {
        Ok(match self {
            Recs::Mem(v) => Reader::Mem(v.into_iter()),
            Recs::File(path, n) => Reader::File(RecordReader::open(&path, n, buffer)?),
            Recs::Columns(_, open) => open(buffer)?,
        })
    }

    fn len(&self) -> u64 {
        match self {
            Recs::Mem(v) => v.len() as u64,
            Recs::File(_, n) | Recs::Columns(n, _) => *n,
        }
    }
}

/// The next record of a segment's columns, read together.
type Next<T> = Box<dyn FnMut() -> Result<Option<T>, TraceError> + Send>;

/// Reads a run's records back in order.
enum Reader<T> {
    Mem(std::vec::IntoIter<T>),
    File(RecordReader<T>),
    Columns(Next<T>),
}

impl<T: Pod> Reader<T> {
    #[inline]
    fn next(&mut self) -> Result<Option<T>, TraceError> {
        match self {
            Reader::Mem(it) => Ok(it.next()),
            Reader::File(r) => r.next(),
            Reader::Columns(next) => next(),
        }
    }
}

/// A run's sorted, distinct strings (group keys or labels).
enum Texts {
    Mem(Vec<Box<[u8]>>),
    File(Strings),
}

impl Texts {
    fn spill(self, scratch: &Mutex<Scratch>, buffer: usize) -> Result<Texts, TraceError> {
        let Texts::Mem(list) = self else {
            return Ok(self);
        };
        let mut s = scratch.lock().expect("scratch lock");
        let mut w = StringsWriter::create(&mut s, buffer)?;
        drop(s);
        for k in &list {
            w.push(k)?;
        }
        Ok(Texts::File(w.finish()?))
    }

    fn reader(self, buffer: usize) -> Result<TextReader, TraceError> {
        Ok(match self {
            Texts::Mem(v) => TextReader::Mem(v.into_iter(), None),
            Texts::File(s) => TextReader::File(StringsReader::open(&s, buffer)?),
        })
    }
}

enum TextReader {
    Mem(std::vec::IntoIter<Box<[u8]>>, Option<Box<[u8]>>),
    File(StringsReader),
}

impl TextReader {
    fn next(&mut self) -> Result<Option<&[u8]>, TraceError> {
        match self {
            TextReader::Mem(it, cur) => {
                *cur = it.next();
                Ok(cur.as_deref())
            }
            TextReader::File(r) => r.next(),
        }
    }
}

/// A sorted run: its dictionaries in order, events by [`RawEvent::key`], the rest by their
/// own order.
struct Run {
    keys: Texts,
    labels: Texts,
    events: Recs<RawEvent>,
    labs: Recs<RawLab>,
    arrivals: Recs<RawArrival>,
    fevers: Recs<RawFever>,
}

impl Run {
    fn spill(self, scratch: &Mutex<Scratch>, buffer: usize) -> Result<Run, TraceError> {
        Ok(Run {
            keys: self.keys.spill(scratch, buffer)?,
            labels: self.labels.spill(scratch, buffer)?,
            events: self.events.spill(scratch, "events", buffer)?,
            labs: self.labs.spill(scratch, "labs", buffer)?,
            arrivals: self.arrivals.spill(scratch, "arrivals", buffer)?,
            fevers: self.fevers.spill(scratch, "fevers", buffer)?,
        })
    }
}

/// How the budget is shared out. Reading: half of it in runs, split between the workers (the
/// rest is for the Parquet decoder's batches and the process itself). Merging: the runs still
/// in memory, a quarter for the postings' sort buffer, an eighth for read buffers.
struct Shares {
    /// Bytes of runs one reading worker holds before it spills.
    worker: usize,
    /// The postings' sort buffer, in postings.
    postings: usize,
    /// The read buffers of all runs' streams together.
    readers: usize,
    /// One write buffer.
    write_buffer: usize,
}

impl Shares {
    fn of(budget: MemoryBudget, workers: usize) -> Shares {
        let workers = workers.max(1) as u64;
        Shares {
            worker: (budget.share(1, 2, 1 << 16) / workers) as usize,
            postings: budget.share(1, 4, 1 << 16) as usize / size_of::<Posting>(),
            readers: budget.share(1, 8, 1 << 16) as usize,
            write_buffer: budget.share(1, 256, 4 << 10).min(1 << 20) as usize,
        }
    }

    /// The buffer of each of `streams` readers.
    fn read_buffer(&self, streams: usize) -> usize {
        (self.readers / streams.max(1)).clamp(4 << 10, 1 << 20)
    }
}

/// Where a build's scratch files go, and how much memory it may use.
pub(crate) struct BuildPlan<'a> {
    pub budget: MemoryBudget,
    /// A folder of its own (created, and removed when the build ends).
    pub scratch: PathBuf,
    pub zone: Zone,
    pub progress: &'a (dyn Fn(u64) + Sync),
}

/// Reads `files` into sorted runs, spilling each worker's share when full.
fn read_runs(
    files: &[DataFile],
    plan: &BuildPlan<'_>,
    shares: &Shares,
    scratch: &Mutex<Scratch>,
) -> Result<(Vec<Run>, u64), TraceError> {
    let counter = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let runs: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let workers = rayon::current_num_threads().min(files.len()).max(1);
    let work = || -> Result<(), TraceError> {
        let mut p = Partial::default();
        let mut spill = |p: Partial| -> Result<(), TraceError> {
            let run = p.into_run().spill(scratch, shares.write_buffer)?;
            runs.lock().expect("runs lock").push(run);
            Ok(())
        };
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= files.len() || failed.load(Ordering::Relaxed) {
                break;
            }
            if let Err(e) = p.read(&files[i], plan.zone, &counter, shares.worker, &mut spill) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            (plan.progress)(counter.load(Ordering::Relaxed));
        }
        // What is left stays in memory: within the share, and merged from there.
        if !p.is_empty() {
            runs.lock().expect("runs lock").push(p.into_run());
        }
        Ok(())
    };
    let results: Vec<Result<(), TraceError>> =
        (0..workers).into_par_iter().map(|_| work()).collect();
    results.into_iter().collect::<Result<(), _>>()?;
    let mut runs = runs.into_inner().expect("runs lock");
    // Runs in a fixed order (spilled ones first, as they came) does not change the bytes
    // written: every merge below breaks ties by value alone.
    runs.sort_by_key(|r| matches!(r.events, Recs::Mem(_)));
    Ok((runs, counter.load(Ordering::Relaxed)))
}

/// A map from a run's dictionary numbers to the merged dictionary's, as the merge reads it.
enum Map {
    Mem(Vec<u32>),
    File(PathBuf, u64),
}

/// Merges the runs' sorted dictionaries into `out` (each string once, in order) and returns,
/// per run, where each of its strings went.
fn merge_texts(
    texts: Vec<Texts>,
    out: &mut StringsWriter,
    to_file: &[bool],
    scratch: &Mutex<Scratch>,
    shares: &Shares,
) -> Result<Vec<Map>, TraceError> {
    let buffer = shares.read_buffer(texts.len() * 2);
    let mut readers = texts
        .into_iter()
        .map(|t| t.reader(buffer))
        .collect::<Result<Vec<_>, _>>()?;
    enum MapOut {
        Mem(Vec<u32>),
        File(RecordWriter<u32>),
    }
    let mut maps = Vec::with_capacity(readers.len());
    for &f in to_file {
        maps.push(if f {
            let path = scratch.lock().expect("scratch lock").file("map");
            MapOut::File(RecordWriter::create(path, shares.write_buffer)?)
        } else {
            MapOut::Mem(Vec::new())
        });
    }
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(s) = r.next()? {
            heap.push(Reverse((s.to_vec(), i)));
        }
    }
    let mut last: Option<Vec<u8>> = None;
    while let Some(Reverse((s, i))) = heap.pop() {
        if last.as_deref() != Some(&s[..]) {
            out.push(&s)?;
            last = Some(s);
        }
        let id = u32::try_from(out.count() - 1)
            .map_err(|_| corrupt(&PathBuf::new(), "more than 4 billion distinct strings"))?;
        match &mut maps[i] {
            MapOut::Mem(v) => v.push(id),
            MapOut::File(w) => w.push(id)?,
        }
        if let Some(s) = readers[i].next()? {
            heap.push(Reverse((s.to_vec(), i)));
        }
    }
    maps.into_iter()
        .map(|m| {
            Ok(match m {
                MapOut::Mem(v) => Map::Mem(v),
                MapOut::File(w) => {
                    let (p, n) = w.finish()?;
                    Map::File(p, n)
                }
            })
        })
        .collect()
}

/// A run's group map read in step with its events (both in group order).
struct GroupMap {
    reader: Reader<u32>,
    local: u32,
    global: u32,
    started: bool,
}

impl GroupMap {
    fn new(map: Map, buffer: usize) -> Result<GroupMap, TraceError> {
        let reader = match map {
            Map::Mem(v) => Reader::Mem(v.into_iter()),
            Map::File(p, n) => Reader::File(RecordReader::open(&p, n, buffer)?),
        };
        Ok(GroupMap {
            reader,
            local: 0,
            global: 0,
            started: false,
        })
    }

    /// The merged number of local group `g` (never below the last asked).
    #[inline]
    fn get(&mut self, g: u32) -> Result<u32, TraceError> {
        while !self.started || self.local < g {
            self.global = self
                .reader
                .next()?
                .ok_or_else(|| corrupt(&PathBuf::new(), "a run's event names a group it lacks"))?;
            if self.started {
                self.local += 1;
            }
            self.started = true;
        }
        Ok(self.global)
    }
}

/// A person's event, for the postings (person → positions of their events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Pod, Zeroable)]
#[repr(C)]
struct Posting {
    person: i64,
    event: u32,
    pad: u32,
}

/// The postings as the events are written: sorted in memory, spilled when the buffer is full.
struct Postings<'a> {
    buf: Vec<Posting>,
    cap: usize,
    runs: Vec<Recs<Posting>>,
    scratch: &'a Mutex<Scratch>,
    write_buffer: usize,
}

impl Postings<'_> {
    fn push(&mut self, p: Posting) -> Result<(), TraceError> {
        if self.buf.len() == self.cap {
            let mut full = std::mem::take(&mut self.buf);
            full.par_sort_unstable();
            self.runs
                .push(Recs::Mem(full).spill(self.scratch, "postings", self.write_buffer)?);
            self.buf = Vec::with_capacity(self.cap.min(1 << 20));
        }
        self.buf.push(p);
        Ok(())
    }

    fn finish(mut self) -> Vec<Recs<Posting>> {
        let mut last = std::mem::take(&mut self.buf);
        last.par_sort_unstable();
        self.runs.push(Recs::Mem(last));
        self.runs
    }
}

/// K-way merges sorted readers, calling `f` with each value in order (each once if `dedup`).
fn merge<T: Pod + Ord>(
    readers: Vec<Reader<T>>,
    dedup: bool,
    mut f: impl FnMut(T) -> Result<(), TraceError>,
) -> Result<(), TraceError> {
    let mut readers = readers;
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(v) = r.next()? {
            heap.push(Reverse((v, i)));
        }
    }
    let mut last: Option<T> = None;
    while let Some(Reverse((v, i))) = heap.pop() {
        if !(dedup && last == Some(v)) {
            f(v)?;
            last = Some(v);
        }
        if let Some(n) = readers[i].next()? {
            heap.push(Reverse((n, i)));
        }
    }
    Ok(())
}

/// The segment's columns, each in a scratch file until they are stitched together.
struct Columns {
    list: Vec<(&'static str, PathBuf)>,
}

/// Opens one column file per name.
fn column_writers<T: Pod, const N: usize>(
    names: [&'static str; N],
    scratch: &Mutex<Scratch>,
    buffer: usize,
) -> Result<[(&'static str, RecordWriter<T>); N], TraceError> {
    let mut out = Vec::with_capacity(N);
    for n in names {
        let path = scratch.lock().expect("scratch lock").file(n);
        out.push((n, RecordWriter::create(path, buffer)?));
    }
    Ok(out.try_into().unwrap_or_else(|_| unreachable!("N writers")))
}

impl Columns {
    fn add<T: Pod>(
        &mut self,
        (name, w): (&'static str, RecordWriter<T>),
    ) -> Result<(), TraceError> {
        let (path, _) = w.finish()?;
        self.list.push((name, path));
        Ok(())
    }
}

/// Where section `name` of segment `path` lies: its byte offset and how many `T` it holds.
fn section<T: Pod>(f: &SegmentFile, name: &str) -> Result<(u64, u64), TraceError> {
    let r = f.locate(name)?;
    f.check::<T>(name, &r)?;
    Ok((r.start as u64, (r.len() / size_of::<T>().max(1)) as u64))
}

/// A column of segment `path` opened for reading (after skipping `skip` values).
fn column<T: Pod>(
    path: &Path,
    (at, n): (u64, u64),
    skip: u64,
    buffer: usize,
) -> Result<RecordReader<T>, TraceError> {
    let skip = skip.min(n);
    RecordReader::open_at(path, at + skip * size_of::<T>() as u64, n - skip, buffer)
}

/// The next value of a column read alongside another that has one.
fn more<T: Pod>(r: &mut RecordReader<T>, path: &Path) -> Result<T, TraceError> {
    r.next()?
        .ok_or_else(|| corrupt(path, "columns of one table differ in length"))
}

/// An existing segment as a sorted run: its dictionaries are sorted and distinct, its events
/// in [`RawEvent::key`] order, its other records sorted (a segment of an older build may order
/// lab rows that tie on person, report, sample and row id differently, which changes nothing
/// it answers). Read through small buffers, column by column, never mapped whole.
fn segment_run(path: &Path) -> Result<Run, TraceError> {
    let f = SegmentFile::open(path)?;
    let strings = |name: &str| -> Result<Texts, TraceError> {
        let (at, len) = section::<u8>(&f, &format!("{name}.bytes"))?;
        let (off_at, offs) = section::<u64>(&f, &format!("{name}.off"))?;
        Ok(Texts::File(Strings {
            bytes: (path.to_path_buf(), at, len),
            // The offsets start with a 0: each string's end follows.
            ends: (path.to_path_buf(), off_at + 8),
            count: offs.saturating_sub(1),
        }))
    };
    let keys = strings("key")?;
    let labels = strings("label")?;
    let p = path.to_path_buf();

    let ev = [
        section::<i64>(&f, "ev.person")?,
        section::<i64>(&f, "ev.start")?,
        section::<i64>(&f, "ev.end")?,
    ];
    let (ev_label, ev_num) = (
        section::<u32>(&f, "ev.label")?,
        section::<i32>(&f, "ev.num")?,
    );
    let group_off = section::<u64>(&f, "group.off")?;
    let n_events = ev[0].1;
    let events = Recs::Columns(
        n_events,
        Box::new(
            move |buffer: usize| -> Result<Reader<RawEvent>, TraceError> {
                let mut person = column::<i64>(&p, ev[0], 0, buffer)?;
                let mut start = column::<i64>(&p, ev[1], 0, buffer)?;
                let mut end = column::<i64>(&p, ev[2], 0, buffer)?;
                let mut label = column::<u32>(&p, ev_label, 0, buffer)?;
                let mut num = column::<i32>(&p, ev_num, 0, buffer)?;
                // Each group's end: the offsets after the first.
                let mut ends = column::<u64>(&p, group_off, 1, buffer)?;
                let (mut group, mut group_end, mut i) = (0u32, None::<u64>, 0u64);
                Ok(Reader::Columns(Box::new(
                    move || -> Result<Option<RawEvent>, TraceError> {
                        let Some(person) = person.next()? else {
                            return Ok(None);
                        };
                        loop {
                            match group_end {
                                Some(e) if i < e => break,
                                Some(_) => group += 1,
                                None => {}
                            }
                            group_end = Some(more(&mut ends, &p)?);
                        }
                        i += 1;
                        Ok(Some(RawEvent {
                            person,
                            start: more(&mut start, &p)?,
                            end: more(&mut end, &p)?,
                            group,
                            label: more(&mut label, &p)?,
                            num: more(&mut num, &p)?,
                            pad: 0,
                        }))
                    },
                )))
            },
        ),
    );

    let p = path.to_path_buf();
    let lab = [
        section::<i64>(&f, "lab.person")?,
        section::<i64>(&f, "lab.reported")?,
        section::<i64>(&f, "lab.sample")?,
        section::<i64>(&f, "lab.rid")?,
    ];
    let (lab_flags, lab_onset) = (
        section::<u8>(&f, "lab.flags")?,
        section::<i32>(&f, "lab.onset")?,
    );
    let labs = Recs::Columns(
        lab[0].1,
        Box::new(move |buffer: usize| -> Result<Reader<RawLab>, TraceError> {
            let mut person = column::<i64>(&p, lab[0], 0, buffer)?;
            let mut reported = column::<i64>(&p, lab[1], 0, buffer)?;
            let mut sample = column::<i64>(&p, lab[2], 0, buffer)?;
            let mut rid = column::<i64>(&p, lab[3], 0, buffer)?;
            let mut flags = column::<u8>(&p, lab_flags, 0, buffer)?;
            let mut onset = column::<i32>(&p, lab_onset, 0, buffer)?;
            Ok(Reader::Columns(Box::new(
                move || -> Result<Option<RawLab>, TraceError> {
                    let Some(person) = person.next()? else {
                        return Ok(None);
                    };
                    Ok(Some(RawLab {
                        person,
                        reported: more(&mut reported, &p)?,
                        sample: more(&mut sample, &p)?,
                        rid: more(&mut rid, &p)?,
                        onset: more(&mut onset, &p)?,
                        flags: more(&mut flags, &p)?,
                        pad: [0; 3],
                    }))
                },
            )))
        }),
    );

    let p = path.to_path_buf();
    let arr = [
        section::<i64>(&f, "arr.person")?,
        section::<i64>(&f, "arr.time")?,
    ];
    let (arr_date, arr_origin, arr_kind) = (
        section::<i32>(&f, "arr.date")?,
        section::<u32>(&f, "arr.origin")?,
        section::<u8>(&f, "arr.kind")?,
    );
    let arrivals = Recs::Columns(
        arr[0].1,
        Box::new(
            move |buffer: usize| -> Result<Reader<RawArrival>, TraceError> {
                let mut person = column::<i64>(&p, arr[0], 0, buffer)?;
                let mut time = column::<i64>(&p, arr[1], 0, buffer)?;
                let mut date = column::<i32>(&p, arr_date, 0, buffer)?;
                let mut origin = column::<u32>(&p, arr_origin, 0, buffer)?;
                let mut kind = column::<u8>(&p, arr_kind, 0, buffer)?;
                Ok(Reader::Columns(Box::new(
                    move || -> Result<Option<RawArrival>, TraceError> {
                        let Some(person) = person.next()? else {
                            return Ok(None);
                        };
                        Ok(Some(RawArrival {
                            person,
                            date: more(&mut date, &p)?,
                            origin: more(&mut origin, &p)?,
                            kind: more(&mut kind, &p)?,
                            pad: [0; 7],
                            time: more(&mut time, &p)?,
                        }))
                    },
                )))
            },
        ),
    );

    let p = path.to_path_buf();
    let fev = [
        section::<i64>(&f, "fev.person")?,
        section::<i64>(&f, "fev.time")?,
    ];
    let fev_temp = section::<u64>(&f, "fev.temp")?;
    let fevers = Recs::Columns(
        fev[0].1,
        Box::new(
            move |buffer: usize| -> Result<Reader<RawFever>, TraceError> {
                let mut person = column::<i64>(&p, fev[0], 0, buffer)?;
                let mut time = column::<i64>(&p, fev[1], 0, buffer)?;
                let mut temp = column::<u64>(&p, fev_temp, 0, buffer)?;
                Ok(Reader::Columns(Box::new(
                    move || -> Result<Option<RawFever>, TraceError> {
                        let Some(person) = person.next()? else {
                            return Ok(None);
                        };
                        Ok(Some(RawFever {
                            person,
                            time: more(&mut time, &p)?,
                            temperature: more(&mut temp, &p)?,
                        }))
                    },
                )))
            },
        ),
    );
    Ok(Run {
        keys,
        labels,
        events,
        labs,
        arrivals,
        fevers,
    })
}

/// Builds one segment from the store's table `files` and the existing `segments` (merged
/// into it) into `out`, in `plan`'s budget.
pub(crate) fn build(
    files: &[DataFile],
    segments: &[PathBuf],
    out: &Path,
    plan: &BuildPlan<'_>,
) -> Result<BuildStats, TraceError> {
    let scratch = Mutex::new(Scratch::create(plan.scratch.clone())?);
    let workers = rayon::current_num_threads().min(files.len()).max(1);
    let shares = Shares::of(plan.budget, workers);
    let (mut runs, rows) = read_runs(files, plan, &shares, &scratch)?;
    let spilled = runs
        .iter()
        .filter(|r| matches!(r.events, Recs::File(..)))
        .count();
    for s in segments {
        runs.push(segment_run(s)?);
    }
    let mut stats = merge_runs(runs, out, &shares, &scratch)?;
    stats.rows = rows;
    stats.runs = spilled as u64;
    Ok(stats)
}

/// Merges sorted runs into the segment `out`.
fn merge_runs(
    runs: Vec<Run>,
    out: &Path,
    shares: &Shares,
    scratch: &Mutex<Scratch>,
) -> Result<BuildStats, TraceError> {
    let wb = shares.write_buffer;
    let mut cols = Columns { list: Vec::new() };
    // Group maps of runs on disk go to disk too: a segment's may be as long as its events.
    let spilled: Vec<bool> = runs
        .iter()
        .map(|r| !matches!(r.events, Recs::Mem(_)))
        .collect();
    let mut keys = Vec::with_capacity(runs.len());
    let mut labels = Vec::with_capacity(runs.len());
    let mut events = Vec::with_capacity(runs.len());
    let mut labs = Vec::with_capacity(runs.len());
    let mut arrivals = Vec::with_capacity(runs.len());
    let mut fevers = Vec::with_capacity(runs.len());
    for r in runs {
        keys.push(r.keys);
        labels.push(r.labels);
        events.push(r.events);
        labs.push(r.labs);
        arrivals.push(r.arrivals);
        fevers.push(r.fevers);
    }

    // Dictionaries: group keys (maps to files for spilled runs: read back in step with their
    // events), then labels (maps in memory: looked up at random).
    let mut key_out = StringsWriter::create(&mut scratch.lock().expect("scratch lock"), wb)?;
    let group_maps = merge_texts(keys, &mut key_out, &spilled, scratch, shares)?;
    let groups = key_out.count();
    let key_strings = key_out.finish()?;
    let mut label_out = StringsWriter::create(&mut scratch.lock().expect("scratch lock"), wb)?;
    let no_files = vec![false; spilled.len()];
    let label_maps: Vec<Vec<u32>> =
        merge_texts(labels, &mut label_out, &no_files, scratch, shares)?
            .into_iter()
            .map(|m| match m {
                Map::Mem(v) => v,
                Map::File(..) => unreachable!("label maps stay in memory"),
            })
            .collect();
    let label_strings = label_out.finish()?;

    // Events, merged in order, deduplicated; postings gathered on the way.
    let n_runs = events.len();
    let buffer = shares.read_buffer(n_runs * 2);
    let mut readers = Vec::with_capacity(n_runs);
    for (r, m) in events.into_iter().zip(group_maps) {
        readers.push((r.reader(buffer)?, GroupMap::new(m, buffer)?));
    }
    let global = |e: RawEvent, gm: &mut GroupMap, lm: &[u32]| -> Result<EventKey, TraceError> {
        let mut e = e;
        e.group = gm.get(e.group)?;
        if e.label != NO_LABEL {
            e.label = lm[e.label as usize];
        }
        Ok(e.key())
    };
    let mut heap = BinaryHeap::with_capacity(n_runs);
    for (i, (r, gm)) in readers.iter_mut().enumerate() {
        if let Some(e) = r.next()? {
            heap.push(Reverse((global(e, gm, &label_maps[i])?, i)));
        }
    }
    let [mut ev_person, mut ev_start, mut ev_end] =
        column_writers::<i64, 3>(["ev.person", "ev.start", "ev.end"], scratch, wb)?;
    let [mut ev_label] = column_writers::<u32, 1>(["ev.label"], scratch, wb)?;
    let [mut ev_num] = column_writers::<i32, 1>(["ev.num"], scratch, wb)?;
    let [mut group_off] = column_writers::<u64, 1>(["group.off"], scratch, wb)?;
    let [mut group_maxdur] = column_writers::<i64, 1>(["group.maxdur"], scratch, wb)?;
    let mut postings = Postings {
        buf: Vec::with_capacity(shares.postings.min(1 << 20)),
        cap: shares.postings,
        runs: Vec::new(),
        scratch,
        write_buffer: wb,
    };
    let mut n: u64 = 0;
    let mut last: Option<EventKey> = None;
    // The group being written and its longest event so far.
    let mut current: Option<(u32, i64)> = None;
    while let Some(Reverse((k, i))) = heap.pop() {
        if last != Some(k) {
            let (group, start, person, end, label, num) = k;
            if current.is_none_or(|(g, _)| g != group) {
                if let Some((_, d)) = current {
                    group_maxdur.1.push(d)?;
                }
                // Groups without events (none are made, but the format allows them).
                while group_off.1.count() < u64::from(group) {
                    group_off.1.push(n)?;
                    group_maxdur.1.push(0)?;
                }
                group_off.1.push(n)?;
                current = Some((group, 0));
            }
            if let Some((_, d)) = &mut current {
                *d = (*d).max(end.saturating_sub(start));
            }
            let event = u32::try_from(n)
                .map_err(|_| corrupt(out, "more than 4 billion events in one segment"))?;
            ev_person.1.push(person)?;
            ev_start.1.push(start)?;
            ev_end.1.push(end)?;
            ev_label.1.push(label)?;
            ev_num.1.push(num)?;
            postings.push(Posting {
                person,
                event,
                pad: 0,
            })?;
            n += 1;
            last = Some(k);
        }
        let (r, gm) = &mut readers[i];
        if let Some(e) = r.next()? {
            heap.push(Reverse((global(e, gm, &label_maps[i])?, i)));
        }
    }
    drop(readers);
    drop(label_maps);
    if let Some((_, d)) = current {
        group_maxdur.1.push(d)?;
    }
    while group_off.1.count() < groups {
        group_off.1.push(n)?;
        group_maxdur.1.push(0)?;
    }
    group_off.1.push(n)?;
    cols.add(group_off)?;
    cols.add(group_maxdur)?;
    cols.add(ev_person)?;
    cols.add(ev_start)?;
    cols.add(ev_end)?;
    cols.add(ev_label)?;
    cols.add(ev_num)?;

    // Postings: person → positions of their events.
    let posting_runs = postings.finish();
    let buffer = shares.read_buffer(posting_runs.len());
    let readers = posting_runs
        .into_iter()
        .map(|r| r.reader(buffer))
        .collect::<Result<Vec<_>, _>>()?;
    let [mut post_person] = column_writers::<i64, 1>(["post.person"], scratch, wb)?;
    let [mut post_off] = column_writers::<u64, 1>(["post.off"], scratch, wb)?;
    let [mut post_event] = column_writers::<u32, 1>(["post.event"], scratch, wb)?;
    let mut last_person = None;
    merge(readers, false, |p| {
        if last_person != Some(p.person) {
            post_person.1.push(p.person)?;
            post_off.1.push(post_event.1.count())?;
            last_person = Some(p.person);
        }
        post_event.1.push(p.event)
    })?;
    post_off.1.push(post_event.1.count())?;
    cols.add(post_person)?;
    cols.add(post_off)?;
    cols.add(post_event)?;

    // Lab rows, arrivals and fevers: each a merge of the runs' sorted records.
    let n_labs: u64 = labs.iter().map(Recs::len).sum();
    let buffer = shares.read_buffer(n_runs);
    let readers = labs
        .into_iter()
        .map(|r| r.reader(buffer))
        .collect::<Result<Vec<_>, _>>()?;
    let [mut person, mut reported, mut sample, mut rid] = column_writers::<i64, 4>(
        ["lab.person", "lab.reported", "lab.sample", "lab.rid"],
        scratch,
        wb,
    )?;
    let [mut flags] = column_writers::<u8, 1>(["lab.flags"], scratch, wb)?;
    let [mut onset] = column_writers::<i32, 1>(["lab.onset"], scratch, wb)?;
    merge(readers, false, |l| {
        person.1.push(l.person)?;
        reported.1.push(l.reported)?;
        sample.1.push(l.sample)?;
        rid.1.push(l.rid)?;
        flags.1.push(l.flags)?;
        onset.1.push(l.onset)
    })?;
    for c in [person, reported, sample, rid] {
        cols.add(c)?;
    }
    cols.add(flags)?;
    cols.add(onset)?;

    let readers = arrivals
        .into_iter()
        .map(|r| r.reader(buffer))
        .collect::<Result<Vec<_>, _>>()?;
    let [mut person] = column_writers::<i64, 1>(["arr.person"], scratch, wb)?;
    let [mut date] = column_writers::<i32, 1>(["arr.date"], scratch, wb)?;
    let [mut origin] = column_writers::<u32, 1>(["arr.origin"], scratch, wb)?;
    let [mut kind] = column_writers::<u8, 1>(["arr.kind"], scratch, wb)?;
    let [mut time] = column_writers::<i64, 1>(["arr.time"], scratch, wb)?;
    merge(readers, true, |a| {
        person.1.push(a.person)?;
        date.1.push(a.date)?;
        origin.1.push(a.origin)?;
        kind.1.push(a.kind)?;
        time.1.push(a.time)
    })?;
    let n_arrivals = person.1.count();
    cols.add(person)?;
    cols.add(date)?;
    cols.add(origin)?;
    cols.add(kind)?;
    cols.add(time)?;

    let readers = fevers
        .into_iter()
        .map(|r| r.reader(buffer))
        .collect::<Result<Vec<_>, _>>()?;
    let [mut person, mut time] = column_writers::<i64, 2>(["fev.person", "fev.time"], scratch, wb)?;
    let [mut temp] = column_writers::<u64, 1>(["fev.temp"], scratch, wb)?;
    merge(readers, true, |f| {
        person.1.push(f.person)?;
        time.1.push(f.time)?;
        temp.1.push(f.temperature)
    })?;
    let n_fevers = person.1.count();
    cols.add(person)?;
    cols.add(time)?;
    cols.add(temp)?;

    // The segment: the columns stitched in the order the format has always had.
    let mut w = SegmentWriter::create(out)?;
    w.file_section("key.bytes", None, &key_strings.bytes.0)?;
    w.file_section("key.off", Some(0), &key_strings.ends.0)?;
    let find = |name: &str| {
        cols.list
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .expect("every column written")
    };
    for name in [
        "group.off",
        "group.maxdur",
        "ev.person",
        "ev.start",
        "ev.end",
        "ev.label",
        "ev.num",
    ] {
        w.file_section(name, None, &find(name))?;
    }
    w.file_section("label.bytes", None, &label_strings.bytes.0)?;
    w.file_section("label.off", Some(0), &label_strings.ends.0)?;
    for name in [
        "post.person",
        "post.off",
        "post.event",
        "lab.person",
        "lab.reported",
        "lab.sample",
        "lab.rid",
        "lab.flags",
        "lab.onset",
        "arr.person",
        "arr.date",
        "arr.origin",
        "arr.kind",
        "arr.time",
        "fev.person",
        "fev.time",
        "fev.temp",
    ] {
        w.file_section(name, None, &find(name))?;
    }
    let bytes = w.finish()?;
    Ok(BuildStats {
        rows: 0,
        events: n,
        groups,
        labs: n_labs,
        arrivals: n_arrivals,
        fevers: n_fevers,
        bytes,
        runs: 0,
    })
}
