//! Building a segment: scan the needed columns of the sources' stored files in parallel
//! (through the store's typed scans), turn rows into events keyed by group, merge the
//! per-thread dictionaries, sort, write.
//!
//! Memory is about 40 bytes per event plus 16 per posting while sorting (4 GB for 100 M
//! events); the sort is in memory, which is what a province's data needs on one machine.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, StringArray};
use model::{Diagnosis, Kind, Zone};
use rayon::prelude::*;
use store::arrivals::{ARRIVAL_KINDS, Ends, arrival_columns, read_arrivals};
use store::{Batch, DataFile, StoreError};

use super::segment::SegmentWriter;
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
}

#[derive(Clone, Copy, Debug)]
struct RawEvent {
    group: u32,
    label: u32,
    num: i32,
    person: i64,
    start: i64,
    end: i64,
}

#[derive(Clone, Copy, Debug)]
struct RawLab {
    person: i64,
    reported: i64,
    sample: i64,
    rid: i64,
    flags: u8,
    onset: i32,
}

/// An arrival from a region (contract §4, as `store::arrivals` reads it), for health codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RawArrival {
    person: i64,
    date: i32,
    origin: u32,
    kind: u8,
    /// The record's own time (a registration's: the start of its date).
    time: i64,
}

/// A self-reported temperature at or above [`FEVER_FLOOR_C`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct RawFever {
    person: i64,
    time: i64,
    temperature: f64,
}

/// Interns byte strings to dense local numbers.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<[u8]>, u32>,
    list: Vec<Box<[u8]>>,
}

impl Interner {
    fn id(&mut self, key: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(key.into());
        self.ids.insert(key.into(), id);
        id
    }
}

/// What one worker gathered from its share of the files.
#[derive(Default)]
struct Partial {
    groups: Interner,
    labels: Interner,
    events: Vec<RawEvent>,
    labs: Vec<RawLab>,
    arrivals: Vec<RawArrival>,
    fevers: Vec<RawFever>,
    rows: u64,
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
    /// Reads the columns of `file` the index needs, a batch at a time.
    fn read(
        &mut self,
        file: &DataFile,
        zone: Zone,
        progress: &AtomicU64,
    ) -> Result<(), StoreError> {
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
            self.rows += batch.rows() as u64;
            progress.fetch_add(batch.rows() as u64, Ordering::Relaxed);
        }
        Ok(())
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
                    temperature: temperature.value(i),
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
            });
        }
        Ok(())
    }
}

/// Sorted, deduplicated union of the workers' strings, and each worker's local → global map.
fn merge_dictionaries(lists: Vec<&[Box<[u8]>]>) -> (Vec<Box<[u8]>>, Vec<Vec<u32>>) {
    let mut all: Vec<Box<[u8]>> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
    all.par_sort_unstable();
    all.dedup();
    let maps = lists
        .iter()
        .map(|l| {
            l.par_iter()
                .map(|k| all.binary_search(k).expect("present") as u32)
                .collect()
        })
        .collect();
    (all, maps)
}

/// Builds one segment from the store's table `files` into `out`.
pub(crate) fn build(
    files: &[DataFile],
    out: &Path,
    zone: Zone,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BuildStats, TraceError> {
    let counter = AtomicU64::new(0);
    let partials: Vec<Partial> = files
        .par_iter()
        .try_fold(Partial::default, |mut p, file| {
            p.read(file, zone, &counter)?;
            progress(counter.load(Ordering::Relaxed));
            Ok::<_, StoreError>(p)
        })
        .collect::<Result<_, _>>()?;
    let rows = partials.iter().map(|p| p.rows).sum();

    let (keys, group_maps) =
        merge_dictionaries(partials.iter().map(|p| &p.groups.list[..]).collect());
    let (labels, label_maps) =
        merge_dictionaries(partials.iter().map(|p| &p.labels.list[..]).collect());
    // The first worker's vectors grow to hold everything, so the peak is the total plus one
    // worker's share, not twice the total.
    let mut events: Vec<RawEvent> = Vec::new();
    let mut labs: Vec<RawLab> = Vec::new();
    let mut arrivals: Vec<RawArrival> = Vec::new();
    let mut fevers: Vec<RawFever> = Vec::new();
    for ((mut p, gmap), lmap) in partials.into_iter().zip(group_maps).zip(label_maps) {
        p.events.par_iter_mut().for_each(|e| {
            e.group = gmap[e.group as usize];
            if e.label != NO_LABEL {
                e.label = lmap[e.label as usize];
            }
        });
        if events.is_empty() {
            events = std::mem::take(&mut p.events);
        } else {
            events.extend_from_slice(&p.events);
        }
        labs.append(&mut p.labs);
        arrivals.append(&mut p.arrivals);
        fevers.append(&mut p.fevers);
    }
    events.par_sort_unstable_by_key(|e| (e.group, e.start, e.person, e.end, e.label, e.num));
    // The same fact from two sources (a ticket in two files) is one event.
    events.dedup_by_key(|e| (e.group, e.start, e.person, e.end, e.label, e.num));
    if events.len() > u32::MAX as usize {
        return Err(corrupt(out, "more than 4 billion events in one segment"));
    }
    labs.par_sort_unstable_by_key(|l| (l.person, l.reported, l.sample, l.rid));

    let mut w = SegmentWriter::create(out)?;
    write_strings(&mut w, "key", &keys)?;
    let mut group_off = Vec::with_capacity(keys.len() + 1);
    let mut maxdur = vec![0i64; keys.len()];
    for (i, e) in events.iter().enumerate() {
        while group_off.len() <= e.group as usize {
            group_off.push(i as u64);
        }
        let d = &mut maxdur[e.group as usize];
        *d = (*d).max(e.end.saturating_sub(e.start));
    }
    while group_off.len() <= keys.len() {
        group_off.push(events.len() as u64);
    }
    w.section("group.off", group_off)?;
    w.section("group.maxdur", maxdur)?;
    w.section("ev.person", events.iter().map(|e| e.person))?;
    w.section("ev.start", events.iter().map(|e| e.start))?;
    w.section("ev.end", events.iter().map(|e| e.end))?;
    w.section("ev.label", events.iter().map(|e| e.label))?;
    w.section("ev.num", events.iter().map(|e| e.num))?;
    write_strings(&mut w, "label", &labels)?;

    let mut postings: Vec<(i64, u32)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.person, i as u32))
        .collect();
    drop(events);
    postings.par_sort_unstable();
    let mut persons = Vec::new();
    let mut off = Vec::new();
    for (i, (p, _)) in postings.iter().enumerate() {
        if persons.last() != Some(p) {
            persons.push(*p);
            off.push(i as u64);
        }
    }
    off.push(postings.len() as u64);
    w.section("post.person", persons)?;
    w.section("post.off", off)?;
    w.section("post.event", postings.iter().map(|p| p.1))?;
    let n_events = postings.len() as u64;
    drop(postings);

    w.section("lab.person", labs.iter().map(|l| l.person))?;
    w.section("lab.reported", labs.iter().map(|l| l.reported))?;
    w.section("lab.sample", labs.iter().map(|l| l.sample))?;
    w.section("lab.rid", labs.iter().map(|l| l.rid))?;
    w.section("lab.flags", labs.iter().map(|l| l.flags))?;
    w.section("lab.onset", labs.iter().map(|l| l.onset))?;

    arrivals.par_sort_unstable();
    arrivals.dedup();
    w.section("arr.person", arrivals.iter().map(|a| a.person))?;
    w.section("arr.date", arrivals.iter().map(|a| a.date))?;
    w.section("arr.origin", arrivals.iter().map(|a| a.origin))?;
    w.section("arr.kind", arrivals.iter().map(|a| a.kind))?;
    w.section("arr.time", arrivals.iter().map(|a| a.time))?;
    fevers.par_sort_unstable_by(|a, b| {
        (a.person, a.time)
            .cmp(&(b.person, b.time))
            .then(a.temperature.total_cmp(&b.temperature))
    });
    fevers.dedup();
    w.section("fev.person", fevers.iter().map(|f| f.person))?;
    w.section("fev.time", fevers.iter().map(|f| f.time))?;
    w.section("fev.temp", fevers.iter().map(|f| f.temperature))?;
    let bytes = w.finish()?;
    Ok(BuildStats {
        rows,
        events: n_events,
        groups: keys.len() as u64,
        labs: labs.len() as u64,
        arrivals: arrivals.len() as u64,
        fevers: fevers.len() as u64,
        bytes,
    })
}

fn write_strings(w: &mut SegmentWriter, name: &str, list: &[Box<[u8]>]) -> Result<(), TraceError> {
    w.section(
        &format!("{name}.bytes"),
        list.iter().flat_map(|k| k.iter().copied()),
    )?;
    let mut off = Vec::with_capacity(list.len() + 1);
    let mut at = 0u64;
    off.push(0);
    for k in list {
        at += k.len() as u64;
        off.push(at);
    }
    w.section(&format!("{name}.off"), off)
}
