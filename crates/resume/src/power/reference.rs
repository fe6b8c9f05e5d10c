//! A plain reading of contract §8.3 for the property tests: maps keyed by enterprise and day,
//! one reading kept per enterprise-day (the largest row id), every sum recomputed from scratch,
//! rounding by quotient and remainder. Slow, obviously right, and nothing shared with the dense
//! path but the definition of a reading in watt-hours and a baseline in micro-kWh.

use std::collections::{BTreeMap, BTreeSet};

use model::{Date, Region};

use super::{IndexQuery, IndexRow, Shares};

/// An enterprise row: id, region, industry, row id.
pub type Firm = (String, Region, String, i64);
/// A reading: id, day, kWh, row id.
pub type Reading = (String, Date, f64, i64);

/// `num / den` to `scale` decimals, rounded half up, by quotient and remainder.
fn rounded(num: i128, den: i128) -> i64 {
    let (q, r) = (num / den, num % den);
    (if 2 * r >= den { q + 1 } else { q }) as i64
}

pub fn index(firms: &[Firm], readings: &[Reading], q: &IndexQuery) -> Vec<IndexRow> {
    // The latest row of each enterprise.
    let mut firm: BTreeMap<&str, (i64, Region, &str)> = BTreeMap::new();
    for (id, region, industry, rid) in firms {
        let e = firm.entry(id).or_insert((*rid, *region, industry));
        if *rid > e.0 {
            *e = (*rid, *region, industry);
        }
    }
    // The reading with the largest row id of each enterprise and day.
    let mut reading: BTreeMap<(&str, Date), (i64, f64)> = BTreeMap::new();
    for (id, day, kwh, rid) in readings {
        let e = reading.entry((id, *day)).or_insert((*rid, *kwh));
        if *rid > e.0 {
            *e = (*rid, *kwh);
        }
    }
    let wh = |kwh: f64| (kwh * 1000.0).round() as i128;
    // Baselines in micro-kWh.
    let mut baseline: BTreeMap<&str, i128> = BTreeMap::new();
    for id in firm.keys() {
        let days: Vec<i128> = reading
            .iter()
            .filter(|((e, d), _)| e == id && (q.baseline.0..=q.baseline.1).contains(d))
            .map(|(_, (_, kwh))| wh(*kwh))
            .collect();
        let sum: i128 = days.iter().sum();
        if sum > 0 {
            baseline.insert(id, i128::from(rounded(sum * 1000, days.len() as i128)));
        }
    }
    let group = |id: &str| {
        let (_, region, industry) = firm[id];
        (
            region.at_level(q.level),
            q.by_industry.then(|| industry.to_string()),
        )
    };
    let groups: BTreeSet<(Region, Option<String>)> = baseline.keys().map(|id| group(id)).collect();
    let mut rows = Vec::new();
    for g in groups {
        let members: Vec<&str> = baseline
            .keys()
            .copied()
            .filter(|id| group(id) == g)
            .collect();
        let indexed = members.len() as i128;
        let base: i128 = members.iter().map(|id| baseline[id]).sum();
        let mut day = q.from;
        while day <= q.to {
            let (mut resumed, mut kwh) = (0i128, 0i128);
            for id in &members {
                let used = reading.get(&(*id, day)).map_or(0, |(_, k)| wh(*k));
                // used ≥ θ × baseline, in micro-kWh × millionths.
                if used * 1000 * 1_000_000 >= i128::from(q.theta.micros()) * baseline[id] {
                    resumed += 1;
                    kwh += used;
                }
            }
            let shares = Shares {
                firms_e4: rounded(resumed * 10_000, indexed),
                power_e4: rounded(kwh * 1000 * 10_000, base),
                index_e2: rounded(
                    50 * 100 * (kwh * 1000 * indexed + resumed * base),
                    base * indexed,
                ),
            };
            rows.push(IndexRow {
                region: g.0,
                industry: g.1.clone(),
                date: day,
                indexed: indexed as u64,
                resumed: resumed as u64,
                shares,
            });
            day = day.add_days(1);
        }
    }
    rows
}
