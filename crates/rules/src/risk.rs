//! Risk areas (`risk_areas`): which levels cover a region on a day, looked up by the region's
//! three possible covering prefixes instead of a scan of the published areas.

use std::collections::HashMap;

use arrow::array::Array;
use model::{Date, Kind};
use store::{DataFile, Store};

use crate::CodeError;
use crate::ruleset::RiskLevel;

/// One published risk area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskArea {
    /// A 6-digit region code; it covers the regions under it.
    pub region: u32,
    pub level: RiskLevel,
    pub valid_from: Date,
    /// Inclusive; `None` is open-ended.
    pub valid_to: Option<Date>,
}

/// Risk areas keyed by the prefix their code covers (`420100` → `4201`).
#[derive(Clone, Debug, Default)]
pub struct RiskAreas {
    by_prefix: HashMap<(u8, u32), Vec<RiskArea>>,
    count: usize,
}

/// Risk areas lent to a [`crate::CodeEngine`] (a server's snapshot keeps them for every request).
impl<'a> From<&'a RiskAreas> for std::borrow::Cow<'a, RiskAreas> {
    fn from(risk: &'a RiskAreas) -> Self {
        std::borrow::Cow::Borrowed(risk)
    }
}

/// Risk areas handed over to a [`crate::CodeEngine`] for good.
impl From<RiskAreas> for std::borrow::Cow<'_, RiskAreas> {
    fn from(risk: RiskAreas) -> Self {
        std::borrow::Cow::Owned(risk)
    }
}

/// The prefix a code covers, as (digits, value): `420000` → (2, 42), `420106` → (6, 420106).
fn covered_prefix(code: u32) -> (u8, u32) {
    match code {
        0 => (0, 0),
        c if c % 10_000 == 0 => (2, c / 10_000),
        c if c % 100 == 0 => (4, c / 100),
        c => (6, c),
    }
}

impl RiskAreas {
    pub fn new(areas: impl IntoIterator<Item = RiskArea>) -> RiskAreas {
        let mut by_prefix: HashMap<(u8, u32), Vec<RiskArea>> = HashMap::new();
        let mut count = 0;
        for a in areas {
            by_prefix
                .entry(covered_prefix(a.region))
                .or_default()
                .push(a);
            count += 1;
        }
        RiskAreas { by_prefix, count }
    }

    /// Every `risk_areas` row in the store.
    pub fn load(store: &Store) -> Result<RiskAreas, CodeError> {
        let mut areas = Vec::new();
        for file in store.tables(Kind::RiskAreas) {
            read_file(&file, &mut areas)?;
        }
        Ok(RiskAreas::new(areas))
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every published area valid on `date`, sorted by region then level.
    pub fn valid_on(&self, date: Date) -> Vec<RiskArea> {
        let mut out: Vec<RiskArea> = self
            .by_prefix
            .values()
            .flatten()
            .filter(|a| a.valid_from <= date && a.valid_to.is_none_or(|to| date <= to))
            .copied()
            .collect();
        out.sort_by_key(|a| (a.region, a.level, a.valid_from));
        out
    }

    /// Whether an area of `level` covering `region` is valid on `date`.
    pub fn covers(&self, level: RiskLevel, region: u32, date: Date) -> bool {
        let keys = [(6, region), (4, region / 100), (2, region / 10_000), (0, 0)];
        keys.iter().any(|k| {
            self.by_prefix.get(k).is_some_and(|v| {
                v.iter().any(|a| {
                    a.level == level
                        && a.valid_from <= date
                        && a.valid_to.is_none_or(|to| date <= to)
                })
            })
        })
    }

    /// The levels `rules` ask about that cover `region` on `date`, as a bit set.
    pub fn levels(&self, region: u32, date: Date) -> u8 {
        let mut bits = 0;
        for level in [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High] {
            if self.covers(level, region, date) {
                bits |= 1 << level as u8;
            }
        }
        bits
    }
}

fn read_file(file: &DataFile, out: &mut Vec<RiskArea>) -> Result<(), CodeError> {
    for batch in file.scan(&["region", "level", "valid_from", "valid_to"])? {
        let batch = batch?;
        let (region, level) = (batch.texts("region")?, batch.texts("level")?);
        let (from, to) = (batch.dates("valid_from")?, batch.dates("valid_to")?);
        for i in 0..batch.rows() {
            let (Ok(code), Some(lv)) = (region.value(i).parse(), RiskLevel::parse(level.value(i)))
            else {
                return Err(file
                    .corrupt(format!(
                        "risk area {:?} level {:?} is not valid",
                        region.value(i),
                        level.value(i)
                    ))
                    .into());
            };
            out.push(RiskArea {
                region: code,
                level: lv,
                valid_from: Date(from.value(i)),
                valid_to: to.is_valid(i).then(|| Date(to.value(i))),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn a_code_covers_the_regions_under_it_while_valid() {
        let r = RiskAreas::new([
            RiskArea {
                region: 420100,
                level: RiskLevel::High,
                valid_from: d("2020-01-20"),
                valid_to: Some(d("2020-02-10")),
            },
            RiskArea {
                region: 330000,
                level: RiskLevel::Medium,
                valid_from: d("2020-01-25"),
                valid_to: None,
            },
            RiskArea {
                region: 110105,
                level: RiskLevel::Low,
                valid_from: d("2020-01-01"),
                valid_to: Some(d("2020-01-01")),
            },
        ]);
        assert!(r.covers(RiskLevel::High, 420106, d("2020-01-20")));
        assert!(r.covers(RiskLevel::High, 420100, d("2020-02-10")));
        assert!(!r.covers(RiskLevel::High, 420106, d("2020-02-11")));
        assert!(!r.covers(RiskLevel::High, 420106, d("2020-01-19")));
        assert!(!r.covers(RiskLevel::High, 420500, d("2020-01-25")));
        assert!(!r.covers(RiskLevel::Medium, 420106, d("2020-01-25")));
        assert!(r.covers(RiskLevel::Medium, 330106, d("2030-01-01")));
        assert!(r.covers(RiskLevel::Low, 110105, d("2020-01-01")));
        assert!(!r.covers(RiskLevel::Low, 110100, d("2020-01-01")));
        assert_eq!(
            r.levels(420106, d("2020-01-21")),
            1 << RiskLevel::High as u8
        );
    }
}
