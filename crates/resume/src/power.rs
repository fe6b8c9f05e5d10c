//! The power index of resumption (contract §8.3, after State Grid Zhejiang's definition): per
//! region at a level, industry (or `all`) and day, how many indexed enterprises used at least θ
//! of their baseline power, and what share of the baseline they used.
//!
//! Computed over dense arrays, so memory grows with the number of enterprises, never with the
//! number of readings: one pass over `enterprises` interns every id to a dense index with its
//! group (region at the level × industry); then the readings are read a day at a time (the store
//! files `power` by date, so a day's files are found without opening the others), each day's
//! readings settled per enterprise (duplicates: the latest ingested wins) and folded — baseline
//! days into a sum and a count per enterprise, period days into resumed counts and kWh per group.
//! Days run in parallel. Every quantity is an integer (`fixed`), so the answer does not depend on
//! the order of the files, the threads or the rows.

pub mod fixed;
mod ids;
mod source;

#[cfg(test)]
mod reference;

use std::collections::BTreeMap;

use model::{Date, Level, Region};
use rayon::prelude::*;

pub use fixed::{Shares, Theta};
pub use ids::ID_LEN;
pub use source::StoreSource;

use ids::Ids;

/// The longest period (and baseline period) one question may cover, in days.
pub const MAX_DAYS: i32 = 366;

#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A question that cannot be answered as asked (the message names the parameter).
    #[error("{0}")]
    Bad(String),
}

/// What the index is asked: the period, the level, whether by industry, θ and the baseline
/// period (both ends inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexQuery {
    pub from: Date,
    pub to: Date,
    pub level: Level,
    pub by_industry: bool,
    pub theta: Theta,
    pub baseline: (Date, Date),
}

impl IndexQuery {
    /// The contract's defaults for the period `from..=to`: prefecture level, all industries,
    /// θ = 0.30, the baseline October 1 to December 31 of the year before `from`'s.
    pub fn new(from: Date, to: Date) -> IndexQuery {
        IndexQuery {
            from,
            to,
            level: Level::Prefecture,
            by_industry: false,
            theta: Theta::DEFAULT,
            baseline: default_baseline(from),
        }
    }

    /// Refuses an empty or reversed period or baseline, or one longer than [`MAX_DAYS`].
    pub fn check(&self) -> Result<(), PowerError> {
        let span = |what: &str, a: Date, b: Date| {
            if a > b {
                Err(PowerError::Bad(format!(
                    "{what} {a}..{b}: the end is before the start"
                )))
            } else if b.days() - a.days() >= MAX_DAYS {
                Err(PowerError::Bad(format!(
                    "{what} {a}..{b}: at most {MAX_DAYS} days"
                )))
            } else {
                Ok(())
            }
        };
        span("period", self.from, self.to)?;
        span("baseline", self.baseline.0, self.baseline.1)
    }
}

/// October 1 to December 31 of the year before `from`'s year.
pub fn default_baseline(from: Date) -> (Date, Date) {
    let year = from.ymd().0 - 1;
    (
        Date::from_ymd(year, 10, 1).expect("a valid day"),
        Date::from_ymd(year, 12, 31).expect("a valid day"),
    )
}

/// One row of the answer: a region at the level, an industry (`None`: all), a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRow {
    pub region: Region,
    pub industry: Option<String>,
    pub date: Date,
    pub indexed: u64,
    pub resumed: u64,
    pub shares: Shares,
}

impl IndexRow {
    /// The industry as the contract writes it (`all` without `--by industry`).
    pub fn industry_name(&self) -> &str {
        self.industry.as_deref().unwrap_or("all")
    }

    pub fn firms_share(&self) -> f64 {
        self.shares.firms_e4 as f64 / 1e4
    }

    pub fn power_share(&self) -> f64 {
        self.shares.power_e4 as f64 / 1e4
    }

    pub fn index(&self) -> f64 {
        self.shares.index_e2 as f64 / 1e2
    }
}

/// One row of `enterprises` as the index needs it.
#[derive(Clone, Copy, Debug)]
pub struct FirmRow<'a> {
    pub id: &'a [u8],
    pub region: Region,
    pub industry: &'a str,
    /// The row id: of two rows for one enterprise, the larger (the later ingested) wins.
    pub rid: i64,
}

/// Where the enterprises and readings come from: the store ([`StoreSource`]) or, in tests,
/// memory.
pub trait PowerSource: Sync {
    /// Every row of `enterprises`, in any order.
    fn firms(&self, each: &mut dyn FnMut(FirmRow<'_>)) -> Result<(), PowerError>;

    /// The days in `from..=to` that may have readings (others are read as none), ascending.
    fn days(&self, from: Date, to: Date) -> Vec<Date>;

    /// Every reading of `day` as `(enterprise_id, kwh, order)`, in any order. `order` is the
    /// row id with `exact`; without, only its source part (the row id's high 32 bits, the low
    /// bits zero), which is cheaper to read and decides all but duplicates within one source.
    fn read_day(
        &self,
        day: Date,
        exact: bool,
        each: &mut dyn FnMut(&[u8], f64, i64),
    ) -> Result<(), PowerError>;
}

/// The enterprises, interned: dense index → group, and the groups' keys.
struct Firms {
    ids: Ids,
    /// Per dense index: its group, or `NO_GROUP` (never: every interned firm has one).
    group: Vec<u32>,
    /// Per group: region and industry (`None`: all), sorted as the rows are.
    keys: Vec<(Region, Option<String>)>,
}

impl Firms {
    fn load(
        source: &impl PowerSource,
        level: Level,
        by_industry: bool,
    ) -> Result<Firms, PowerError> {
        let mut ids = Ids::new();
        // Per dense index: (row id, region, industry) of the latest row.
        let mut latest: Vec<(i64, Region, u32)> = Vec::new();
        let mut industries: BTreeMap<String, u32> = BTreeMap::new();
        let mut names: Vec<String> = Vec::new();
        source.firms(&mut |f| {
            let Ok(id) = <&[u8; ID_LEN]>::try_from(f.id) else {
                return;
            };
            let industry = match industries.get(f.industry) {
                Some(&i) => i,
                None => {
                    let i = names.len() as u32;
                    industries.insert(f.industry.to_string(), i);
                    names.push(f.industry.to_string());
                    i
                }
            };
            let e = ids.intern(id) as usize;
            let row = (f.rid, f.region.at_level(level), industry);
            if e == latest.len() {
                latest.push(row);
            } else if f.rid > latest[e].0 {
                latest[e] = row;
            }
        })?;
        // Groups in row order: region, then industry name.
        let mut keys: Vec<(Region, Option<String>)> = latest
            .iter()
            .map(|&(_, r, i)| (r, by_industry.then(|| names[i as usize].clone())))
            .collect();
        keys.sort();
        keys.dedup();
        let group = latest
            .iter()
            .map(|&(_, r, i)| {
                let key = (r, by_industry.then(|| names[i as usize].clone()));
                keys.binary_search(&key).expect("every key listed") as u32
            })
            .collect();
        Ok(Firms { ids, group, keys })
    }
}

/// One day's readings settled per enterprise; reused across days by one worker.
struct DayBuf {
    stamp: Vec<u32>,
    milli: Vec<i64>,
    order: Vec<i64>,
    touched: Vec<u32>,
    tag: u32,
}

impl DayBuf {
    fn new(n: usize) -> DayBuf {
        DayBuf {
            stamp: vec![0; n],
            milli: vec![0; n],
            order: vec![0; n],
            touched: Vec::new(),
            tag: 0,
        }
    }

    /// Reads `day` and hands each enterprise's one reading (milli-kWh) to `emit`: of several,
    /// the one with the largest row id. Read first by source only; a day where one source gives
    /// one enterprise two different readings is read again with the row ids.
    fn read(
        &mut self,
        source: &impl PowerSource,
        ids: &Ids,
        day: Date,
        mut emit: impl FnMut(usize, i64),
    ) -> Result<(), PowerError> {
        for exact in [false, true] {
            self.tag += 1;
            self.touched.clear();
            let mut ambiguous = false;
            let (tag, stamp, milli, order, touched) = (
                self.tag,
                &mut self.stamp,
                &mut self.milli,
                &mut self.order,
                &mut self.touched,
            );
            source.read_day(day, exact, &mut |id, kwh, rid| {
                let (Some(e), Some(m)) = (ids.get(id), fixed::milli_kwh(kwh)) else {
                    return;
                };
                let e = e as usize;
                if stamp[e] != tag {
                    stamp[e] = tag;
                    milli[e] = m;
                    order[e] = rid;
                    touched.push(e as u32);
                } else if rid > order[e] {
                    milli[e] = m;
                    order[e] = rid;
                } else if rid == order[e] && m != milli[e] {
                    ambiguous = true;
                }
            })?;
            if !ambiguous || exact {
                break;
            }
        }
        for &e in &self.touched {
            emit(e as usize, self.milli[e as usize]);
        }
        Ok(())
    }
}

/// Splits `days` into one run per worker thread (each run reuses one [`DayBuf`]).
fn runs(days: &[Date]) -> usize {
    days.len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1)
}

/// Contract §8.3's rows for `q`, sorted by region, industry, date; a group with no indexed
/// enterprise has no rows.
pub fn power_index(source: &impl PowerSource, q: &IndexQuery) -> Result<Vec<IndexRow>, PowerError> {
    q.check()?;
    let firms = Firms::load(source, q.level, q.by_industry)?;
    let n = firms.ids.len();

    // Baseline: per enterprise, the sum of its settled readings and the days it has one.
    let days = source.days(q.baseline.0, q.baseline.1);
    let parts = days
        .par_chunks(runs(&days))
        .map(|run| {
            let mut buf = DayBuf::new(n);
            let (mut sum, mut count) = (vec![0i64; n], vec![0u32; n]);
            for &day in run {
                buf.read(source, &firms.ids, day, |e, m| {
                    sum[e] += m;
                    count[e] += 1;
                })?;
            }
            Ok((sum, count))
        })
        .collect::<Result<Vec<_>, PowerError>>()?;
    let (mut sum, mut count) = (vec![0i64; n], vec![0u32; n]);
    for (s, c) in parts {
        sum.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        count.iter_mut().zip(c).for_each(|(a, b)| *a += b);
    }
    let baseline: Vec<i128> = sum
        .iter()
        .zip(&count)
        .map(|(&s, &c)| {
            if s > 0 {
                fixed::baseline_micro(s, c)
            } else {
                0
            }
        })
        .collect();
    drop((sum, count));
    let groups = firms.keys.len();
    let mut indexed = vec![0u64; groups];
    let mut base_sum = vec![0i128; groups];
    for (e, &b) in baseline.iter().enumerate() {
        if b > 0 {
            let g = firms.group[e] as usize;
            indexed[g] += 1;
            base_sum[g] += b;
        }
    }

    // The period: per day and group, the resumed and their kWh.
    let days = source.days(q.from, q.to);
    let theta = q.theta;
    let per_day = days
        .par_chunks(runs(&days))
        .map(|run| {
            let mut buf = DayBuf::new(n);
            let mut out = Vec::with_capacity(run.len());
            for &day in run {
                let mut acc = vec![(0u64, 0i128); groups];
                buf.read(source, &firms.ids, day, |e, m| {
                    let b = baseline[e];
                    if b > 0 && fixed::resumed(m, b, theta) {
                        let a = &mut acc[firms.group[e] as usize];
                        a.0 += 1;
                        a.1 += i128::from(m);
                    }
                })?;
                out.push((day, acc));
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>, PowerError>>()?;
    let per_day: BTreeMap<Date, Vec<(u64, i128)>> = per_day.into_iter().flatten().collect();

    let mut rows = Vec::new();
    for (g, (region, industry)) in firms.keys.iter().enumerate() {
        if indexed[g] == 0 {
            continue;
        }
        let mut day = q.from;
        while day <= q.to {
            let (mut resumed, kwh) = per_day.get(&day).map_or((0, 0), |acc| acc[g]);
            if theta.micros() == 0 {
                // θ = 0: no reading (0 kWh) is ≥ 0 × the baseline too.
                resumed = indexed[g];
            }
            rows.push(IndexRow {
                region: *region,
                industry: industry.clone(),
                date: day,
                indexed: indexed[g],
                resumed,
                shares: fixed::shares(resumed, indexed[g], kwh, base_sum[g]),
            });
            day = day.add_days(1);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
