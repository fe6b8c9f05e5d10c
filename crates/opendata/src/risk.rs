//! Risk areas derived from cumulative case counts, by the rule China's State Council used
//! from February 2020, with its two numbers configurable:
//!
//! - **high** on day D: at least `high_cumulative` (50) cases by D, and new cases in the
//!   `window_days` (14) days ending on D;
//! - **medium**: new cases in the window, but fewer cumulative cases (or not yet high);
//! - **low**: no new cases in the window (including no cases at all).
//!
//! "New cases in the window" is the cumulative count on D minus the count on D − window (zero
//! before the region's first published day); a correction that lowers the count is no new case.
//! A region's counts are carried forward over days it was not updated (provinces stopped
//! publishing once they had no new cases), from its first published day to the last day of the
//! data. Consecutive days of one level make one area, valid from its first to its last day
//! (both inclusive); the last one ends on the last day of the data, not open-ended, because
//! nothing after it was observed.

use std::fmt::Write as _;

use model::{Date, Region};

use crate::dxy::CaseCount;

/// The rule's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskRule {
    pub high_cumulative: u64,
    pub window_days: u32,
}

impl Default for RiskRule {
    fn default() -> Self {
        RiskRule {
            high_cumulative: 50,
            window_days: 14,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

/// A derived area: a region at one level for a run of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DerivedArea {
    pub region: Region,
    pub level: Level,
    pub valid_from: Date,
    pub valid_to: Date,
}

/// The areas `rule` derives from `counts` (sorted by region, then date, as
/// [`crate::dxy::read`] returns them), sorted by region then date.
pub fn derive(counts: &[CaseCount], rule: RiskRule) -> Vec<DerivedArea> {
    let Some(last) = counts.iter().map(|c| c.date).max() else {
        return Vec::new();
    };
    let window = rule.window_days.max(1) as usize;
    let mut out = Vec::new();
    for series in counts.chunk_by(|a, b| a.region == b.region) {
        let region = series[0].region;
        let first = series[0].date;
        let days = (last.days() - first.days()) as usize + 1;
        // The cumulative count per day, carried forward.
        let mut cum = vec![0u64; days];
        let mut next = series.iter().peekable();
        let mut current = 0;
        for (i, slot) in cum.iter_mut().enumerate() {
            let day = first.add_days(i as i32);
            while let Some(c) = next.next_if(|c| c.date <= day) {
                current = c.confirmed;
            }
            *slot = current;
        }
        let mut run: Option<DerivedArea> = None;
        for (i, &now) in cum.iter().enumerate() {
            let before = if i >= window { cum[i - window] } else { 0 };
            let new = now.saturating_sub(before);
            let level = match (new > 0, now >= rule.high_cumulative) {
                (true, true) => Level::High,
                (true, false) => Level::Medium,
                (false, _) => Level::Low,
            };
            let day = first.add_days(i as i32);
            match &mut run {
                Some(r) if r.level == level => r.valid_to = day,
                _ => {
                    out.extend(run.take());
                    run = Some(DerivedArea {
                        region,
                        level,
                        valid_from: day,
                        valid_to: day,
                    });
                }
            }
        }
        out.extend(run);
    }
    out
}

/// The areas as a `risk_areas` CSV file (header included).
pub fn to_csv(areas: &[DerivedArea]) -> String {
    let mut out = String::with_capacity(areas.len() * 36 + 40);
    out.push_str("region,level,valid_from,valid_to\n");
    for a in areas {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            a.region,
            a.level.as_str(),
            a.valid_from,
            a.valid_to
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn count(region: u32, date: &str, confirmed: u64) -> CaseCount {
        CaseCount {
            date: d(date),
            region: Region::new(region).unwrap(),
            confirmed,
            suspected: 0,
            cured: 0,
            dead: 0,
        }
    }

    fn shown(areas: &[DerivedArea]) -> Vec<String> {
        areas
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}..{}",
                    a.region,
                    a.level.as_str(),
                    a.valid_from,
                    a.valid_to
                )
            })
            .collect()
    }

    #[test]
    fn levels_follow_cumulative_and_new_cases_in_the_window() {
        let rule = RiskRule {
            high_cumulative: 50,
            window_days: 3,
        };
        let counts = vec![
            // Wenzhou: 10 on the 1st, 60 on the 3rd, then no change (not updated after the 4th).
            count(330300, "2020-02-01", 10),
            count(330300, "2020-02-03", 60),
            count(330300, "2020-02-04", 60),
            // A city with no cases, published from the 5th.
            count(330700, "2020-02-05", 0),
            // A correction down is no new case.
            count(331000, "2020-02-06", 5),
            count(331000, "2020-02-07", 4),
            count(331000, "2020-02-10", 4),
        ];
        assert_eq!(
            shown(&derive(&counts, rule)),
            [
                // New cases within 3 days through the 3rd+2 = 5th; ≥ 50 from the 3rd.
                "330300 medium 2020-02-01..2020-02-02",
                "330300 high 2020-02-03..2020-02-05",
                "330300 low 2020-02-06..2020-02-10",
                "330700 low 2020-02-05..2020-02-10",
                "331000 medium 2020-02-06..2020-02-08",
                "331000 low 2020-02-09..2020-02-10",
            ]
        );
        assert_eq!(
            to_csv(&derive(&counts[..1], rule)),
            "region,level,valid_from,valid_to\n330300,medium,2020-02-01,2020-02-01\n"
        );
    }

    #[test]
    fn no_counts_no_areas() {
        assert!(derive(&[], RiskRule::default()).is_empty());
    }
}
