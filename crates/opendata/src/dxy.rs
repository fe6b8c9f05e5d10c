//! DXY cumulative case counts per city and day (`dxy_city_daily.csv`, see its README) as
//! `city_cases` rows.
//!
//! Rows without a `city_code` (cases not yet assigned to a place, imported cases, prisons,
//! economic zones without a code) are counted as unmapped and left out. When several DXY
//! names map to one code on one day (a division and its city, a place listed twice), the
//! largest count of each column is kept: they describe the same cases, and adding them would
//! count people twice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use model::{Date, Region};

use crate::{OpenDataError, Table};

/// The file of the folder.
pub const FILE: &str = "dxy_city_daily.csv";

/// The `source` written on every row.
pub const SOURCE: &str = "dxy";

/// Cumulative counts of one region on one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseCount {
    pub date: Date,
    pub region: Region,
    pub confirmed: u64,
    pub suspected: u64,
    pub cured: u64,
    pub dead: u64,
}

/// What the file held, one row per (region, date), sorted by region then date.
#[derive(Clone, Debug, Default)]
pub struct CityCases {
    pub counts: Vec<CaseCount>,
    pub rows_read: u64,
    /// Rows left out because the city had no code.
    pub unmapped: u64,
    /// Rows merged into another of the same code and day.
    pub merged: u64,
}

impl CityCases {
    pub fn first_date(&self) -> Option<Date> {
        self.counts.iter().map(|c| c.date).min()
    }

    pub fn last_date(&self) -> Option<Date> {
        self.counts.iter().map(|c| c.date).max()
    }

    /// Distinct regions with counts.
    pub fn regions(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for c in &self.counts {
            if last != Some(c.region) {
                n += 1;
                last = Some(c.region);
            }
        }
        n
    }

    /// The counts as a `city_cases` CSV file (header included).
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.counts.len() * 40 + 64);
        out.push_str("date,region,confirmed,suspected,cured,dead,source\n");
        for c in &self.counts {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{SOURCE}",
                c.date, c.region, c.confirmed, c.suspected, c.cured, c.dead
            );
        }
        out
    }
}

/// Reads `dxy_city_daily.csv` from the folder `dir` (or the file itself).
pub fn read(path: &Path) -> Result<CityCases, OpenDataError> {
    let file = if path.is_dir() {
        path.join(FILE)
    } else {
        path.to_path_buf()
    };
    let t = Table::read(
        &file,
        &[
            "date",
            "city_code",
            "confirmed",
            "suspected",
            "cured",
            "dead",
        ],
    )?;
    let mut out = CityCases::default();
    let mut by_key: BTreeMap<(Region, Date), CaseCount> = BTreeMap::new();
    for row in t.rows() {
        out.rows_read += 1;
        let Some(region) = row.region("city_code")? else {
            out.unmapped += 1;
            continue;
        };
        let date = row.date("date")?;
        let confirmed = row
            .count("confirmed")?
            .ok_or_else(|| row.error("confirmed", "empty"))?;
        let count = |c: &str| row.count(c).map(|v| v.unwrap_or(0));
        let c = CaseCount {
            date,
            region,
            confirmed,
            suspected: count("suspected")?,
            cured: count("cured")?,
            dead: count("dead")?,
        };
        match by_key.get_mut(&(region, date)) {
            None => {
                by_key.insert((region, date), c);
            }
            Some(e) => {
                out.merged += 1;
                e.confirmed = e.confirmed.max(c.confirmed);
                e.suspected = e.suspected.max(c.suspected);
                e.cured = e.cured.max(c.cured);
                e.dead = e.dead.max(c.dead);
            }
        }
    }
    out.counts = by_key.into_values().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "date,province_name,province_code,city_name,city_code,confirmed,suspected,cured,dead,update_time,dxy_location_id\n";

    #[test]
    fn unmapped_rows_are_left_out_and_one_code_one_day_is_one_row() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{HEADER}2020-01-24,北京市,110000,外地来京人员,,10,0,0,0,2020-01-24 23:35:03.158,-1\n\
             2020-01-24,北京市,110000,朝阳,110105,5,0,0,0,2020-01-24 23:35:03.158,\n\
             2020-01-25,北京市,110000,朝阳区,110105,7,0,1,0,2020-01-25 23:35:03.158,\n\
             2020-01-25,北京市,110000,朝阳,110105,6,1,0,0,2020-01-25 23:35:03.158,\n"
        );
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let c = read(dir.path()).unwrap();
        assert_eq!((c.rows_read, c.unmapped, c.merged), (4, 1, 1));
        assert_eq!(c.regions(), 1);
        assert_eq!(
            c.to_csv(),
            "date,region,confirmed,suspected,cured,dead,source\n\
             2020-01-24,110105,5,0,0,0,dxy\n\
             2020-01-25,110105,7,1,1,0,dxy\n"
        );
    }

    #[test]
    fn a_bad_count_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            format!("{HEADER}2020-01-24,北京市,110000,朝阳,110105,-5,0,0,0,2020-01-24 23:35:03,\n");
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("line 2, column confirmed"), "{e}");
    }
}
