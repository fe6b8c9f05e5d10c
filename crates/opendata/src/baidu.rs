//! Baidu Qianxi migration shares (the folder `baidu_migration`, see its README) as `migration`
//! rows: `out` rows say what share of an origin's departures went to a destination, `in` rows
//! what share of a destination's arrivals came from an origin.
//!
//! - `outflow_wuhan_hubei.csv` → `out` rows from 420100 (Wuhan) and 420000 (Hubei, whose row
//!   counts only trips leaving the province);
//! - `inflow_major_cities.csv` → `in` rows of five destinations from their top origins;
//! - `inflow_share_from_hubei.csv` → for every destination, an `in` row from 420100 (the Wuhan
//!   share) and one from 420000 (the listed Hubei cities together, a lower bound).
//!
//! A (date, direction, origin, destination) given twice (Wenzhou's Wuhan share is in two
//! files) is kept once, the first file in the order above winning. Rows whose place has no
//! code are counted as unmapped and left out.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use model::{Date, Region};

use crate::{OpenDataError, Row, Table};

/// The files of the folder, in the order they are read.
pub const FILES: [&str; 3] = [
    "outflow_wuhan_hubei.csv",
    "inflow_major_cities.csv",
    "inflow_share_from_hubei.csv",
];

/// The `source` written on every row.
pub const SOURCE: &str = "baidu_qianxi";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Out,
    In,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// One share.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub date: Date,
    pub direction: Direction,
    pub origin: Region,
    pub destination: Region,
    pub share_pct: f64,
    pub rank: Option<u64>,
}

/// What a folder held.
#[derive(Clone, Debug, Default)]
pub struct Migration {
    pub shares: Vec<Share>,
    /// Rows left out because a place had no code.
    pub unmapped: u64,
    /// Rows given again by a later file.
    pub duplicates: u64,
    /// Rows read per file, in [`FILES`] order.
    pub rows_read: [u64; 3],
}

impl Migration {
    pub fn first_date(&self) -> Option<Date> {
        self.shares.iter().map(|s| s.date).min()
    }

    pub fn last_date(&self) -> Option<Date> {
        self.shares.iter().map(|s| s.date).max()
    }

    /// The shares as a `migration` CSV file (header included).
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.shares.len() * 56 + 80);
        out.push_str("date,direction,origin_region,destination_region,share_pct,rank,source\n");
        for s in &self.shares {
            let rank = s.rank.map(|r| r.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{rank},{SOURCE}",
                s.date,
                s.direction.as_str(),
                s.origin,
                s.destination,
                s.share_pct
            );
        }
        out
    }
}

struct Reader {
    m: Migration,
    seen: HashSet<(Date, Direction, Region, Region)>,
}

impl Reader {
    fn add(
        &mut self,
        row: &Row<'_>,
        direction: Direction,
        origin: Option<Region>,
        destination: Option<Region>,
        share_pct: f64,
        rank: Option<u64>,
    ) -> Result<(), OpenDataError> {
        let (Some(origin), Some(destination)) = (origin, destination) else {
            self.m.unmapped += 1;
            return Ok(());
        };
        if share_pct > 100.0 {
            return Err(row.error("share_pct", format!("{share_pct} is over 100")));
        }
        let date = row.date("date")?;
        if !self.seen.insert((date, direction, origin, destination)) {
            self.m.duplicates += 1;
            return Ok(());
        }
        self.m.shares.push(Share {
            date,
            direction,
            origin,
            destination,
            share_pct,
            rank,
        });
        Ok(())
    }
}

/// Reads the three files of a `baidu_migration` folder.
pub fn read(dir: &Path) -> Result<Migration, OpenDataError> {
    let mut r = Reader {
        m: Migration::default(),
        seen: HashSet::new(),
    };
    let long = [
        "date",
        "origin_code",
        "destination_code",
        "rank",
        "share_pct",
    ];
    for (i, (file, direction)) in [(FILES[0], Direction::Out), (FILES[1], Direction::In)]
        .into_iter()
        .enumerate()
    {
        let t = Table::read(&dir.join(file), &long)?;
        for row in t.rows() {
            r.m.rows_read[i] += 1;
            let share = row
                .number("share_pct")?
                .ok_or_else(|| row.error("share_pct", "empty"))?;
            let (origin, destination) =
                (row.region("origin_code")?, row.region("destination_code")?);
            let rank = row.count("rank")?;
            r.add(&row, direction, origin, destination, share, rank)?;
        }
    }
    let t = Table::read(
        &dir.join(FILES[2]),
        &[
            "date",
            "destination_code",
            "share_from_wuhan_pct",
            "share_from_hubei_cities_pct",
        ],
    )?;
    let wuhan = Region::new(420100).expect("a region");
    let hubei = Region::new(420000).expect("a region");
    for row in t.rows() {
        r.m.rows_read[2] += 1;
        let destination = row.region("destination_code")?;
        for (column, origin) in [
            ("share_from_wuhan_pct", wuhan),
            ("share_from_hubei_cities_pct", hubei),
        ] {
            // Empty: not among the destination's listed origins that day.
            if let Some(share) = row.number(column)? {
                r.add(&row, Direction::In, Some(origin), destination, share, None)?;
            }
        }
    }
    Ok(r.m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const OUT: &str = "date,origin_name,origin_code,destination_name,destination_code,rank,share_pct\n\
        2020-01-01,武汉市,420100,孝感市,420900,1,16.93\n\
        2020-01-01,武汉市,420100,北屯市,,50,0.02\n";
    const MAJOR: &str = "date,destination_name,destination_code,origin_name,origin_code,rank,share_pct\n\
        2020-01-01,温州市,330300,武汉市,420100,9,1.25\n";
    const SHARE: &str = "date,destination_name,destination_code,share_from_wuhan_pct,share_from_hubei_cities_pct,origins_listed,listed_total_pct\n\
        2020-01-01,温州市,330300,1.30,2.50,100,97.1\n\
        2020-01-01,天津市,120000,,0.29,100,94.57\n";

    #[test]
    fn every_file_becomes_rows_of_one_kind() {
        let dir = folder(&[(FILES[0], OUT), (FILES[1], MAJOR), (FILES[2], SHARE)]);
        let m = read(dir.path()).unwrap();
        assert_eq!(m.rows_read, [2, 1, 2]);
        assert_eq!((m.unmapped, m.duplicates), (1, 1));
        assert_eq!(
            m.to_csv(),
            "date,direction,origin_region,destination_region,share_pct,rank,source\n\
             2020-01-01,out,420100,420900,16.93,1,baidu_qianxi\n\
             2020-01-01,in,420100,330300,1.25,9,baidu_qianxi\n\
             2020-01-01,in,420000,330300,2.5,,baidu_qianxi\n\
             2020-01-01,in,420000,120000,0.29,,baidu_qianxi\n"
        );
    }

    #[test]
    fn a_bad_field_names_its_file_line_and_column() {
        let bad = OUT.replace("16.93", "lots");
        let dir = folder(&[(FILES[0], &bad), (FILES[1], MAJOR), (FILES[2], SHARE)]);
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("outflow_wuhan_hubei.csv line 2, column share_pct"),
            "{e}"
        );
        let dir = folder(&[(FILES[0], OUT), (FILES[1], MAJOR)]);
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("inflow_share_from_hubei.csv"), "{e}");
    }
}
