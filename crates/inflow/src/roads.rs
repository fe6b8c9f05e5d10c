//! Expressway checkpoints per county and day: how many vehicles and occupants passed, where
//! they came from and were going, and what they declared as the purpose — the road O/D a
//! county's checkpoint staff report.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::Array;
use model::{Date, Level, Region, Timestamp, Zone};
use query::Query;

use crate::InflowError;
use crate::period::Period;
use crate::scan::{Columns, for_each_batch, instant};

/// A count under a label (an origin, a destination, a purpose).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted<T> {
    pub key: T,
    pub persons: u32,
}

/// Passes at the checkpoints of one county on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoadRow {
    /// The checkpoint's region (the county, or the code the records give).
    pub region: Region,
    pub date: Date,
    /// Distinct passes (one per vehicle and crossing).
    pub vehicles: u32,
    /// Distinct occupants.
    pub persons: u32,
    /// Occupants arriving (contract §7: an origin the county does not cover, or none).
    pub arriving: u32,
    /// Occupants per origin prefecture, most first (ties by code), at most `top`.
    pub origins: Vec<Counted<Region>>,
    /// Occupants per destination county, most first, at most `top`.
    pub destinations: Vec<Counted<Region>>,
    /// Occupants per declared purpose (as written, trimmed; empty purposes left out), most
    /// first, at most `top`.
    pub purposes: Vec<Counted<String>>,
}

#[derive(Default)]
struct Acc {
    passes: HashSet<String>,
    persons: HashSet<i64>,
    arriving: HashSet<i64>,
    origins: HashMap<Region, HashSet<i64>>,
    destinations: HashMap<Region, HashSet<i64>>,
    purposes: HashMap<String, HashSet<i64>>,
}

fn ranked<T: Ord + Clone>(m: HashMap<T, HashSet<i64>>, top: usize) -> Vec<Counted<T>> {
    let mut v: Vec<Counted<T>> = m
        .into_iter()
        .map(|(key, p)| Counted {
            key,
            persons: p.len() as u32,
        })
        .collect();
    v.sort_by(|a, b| b.persons.cmp(&a.persons).then(a.key.cmp(&b.key)));
    v.truncate(top);
    v
}

/// Road rows for every checkpoint county with a pass in `period`, sorted by region then date.
pub async fn road_flows(
    query: &Query,
    zone: Zone,
    period: Period,
    top: usize,
) -> Result<Vec<RoadRow>, InflowError> {
    let (start, end) = period.instants(zone);
    let sql = "SELECT pass_id, person_id, region, time, origin_region, destination_region, purpose \
               FROM checkpoint WHERE time >= $start AND time < $end";
    let params = vec![("start", instant(start, zone)), ("end", instant(end, zone))];
    let mut acc: BTreeMap<(Region, Date), Acc> = BTreeMap::new();
    for_each_batch(query, "checkpoint", sql, params, |b| {
        let c = Columns {
            table: "checkpoint",
            batch: b,
        };
        let (pass, person, region, time) =
            (c.strings(0)?, c.ints(1)?, c.strings(2)?, c.instants(3)?);
        let (origin, dest, purpose) = (c.strings(4)?, c.strings(5)?, c.strings(6)?);
        for i in 0..b.num_rows() {
            // Stored regions were validated at ingest; an unreadable one says nothing.
            let Ok(county) = region.value(i).parse::<Region>() else {
                continue;
            };
            let date = Timestamp(time.value(i)).date(zone);
            let p = person.value(i);
            let a = acc.entry((county, date)).or_default();
            a.passes.insert(pass.value(i).to_string());
            a.persons.insert(p);
            let from = origin
                .is_valid(i)
                .then(|| origin.value(i).parse::<Region>().ok())
                .flatten();
            if from.is_none_or(|f| !county.covers(f)) {
                a.arriving.insert(p);
            }
            if let Some(f) = from {
                a.origins
                    .entry(f.at_level(Level::Prefecture))
                    .or_default()
                    .insert(p);
            }
            if let Some(d) = dest
                .is_valid(i)
                .then(|| dest.value(i).parse::<Region>().ok())
                .flatten()
            {
                a.destinations.entry(d).or_default().insert(p);
            }
            if purpose.is_valid(i) {
                let text = purpose.value(i).trim();
                if !text.is_empty() {
                    a.purposes.entry(text.to_string()).or_default().insert(p);
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(acc
        .into_iter()
        .map(|((region, date), a)| RoadRow {
            region,
            date,
            vehicles: a.passes.len() as u32,
            persons: a.persons.len() as u32,
            arriving: a.arriving.len() as u32,
            origins: ranked(a.origins, top),
            destinations: ranked(a.destinations, top),
            purposes: ranked(a.purposes, top),
        })
        .collect())
}
