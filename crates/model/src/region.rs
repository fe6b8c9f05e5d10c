//! GB/T 2260 region codes, the contract's "covers" rule, and the embedded table of real
//! codes with names, levels, parents and coordinates (vendored, MIT; see `data/README.md`).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::FieldError;

/// A 6-digit region code such as `420106`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(u32);

impl Region {
    /// Parses exactly 6 ASCII digits; `000000` names no region.
    pub fn parse(b: &[u8]) -> Result<Region, FieldError> {
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(FieldError::new("region must be a 6-digit GB/T 2260 code"));
        }
        let v = crate::time::digits(b).expect("6 digits");
        if v < 10_000 {
            return Err(FieldError::new("region code has no province part"));
        }
        Ok(Region(v))
    }

    /// `None` unless `code` has 6 digits and a province part.
    pub fn new(code: u32) -> Option<Region> {
        (10_000..=999_999).contains(&code).then_some(Region(code))
    }

    pub fn code(self) -> u32 {
        self.0
    }

    /// The 6 ASCII digits, without allocating.
    pub fn digits(self) -> [u8; 6] {
        let mut out = [b'0'; 6];
        let mut v = self.0;
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out
    }

    /// The number of leading digits that carry meaning: the code with trailing `00` pairs removed.
    pub fn significant_digits(self) -> u32 {
        if self.0.is_multiple_of(10_000) {
            2
        } else if self.0.is_multiple_of(100) {
            4
        } else {
            6
        }
    }

    /// `self` covers `other` when `self`, without its trailing `00` pairs, is a prefix of `other`.
    pub fn covers(self, other: Region) -> bool {
        let div = match self.significant_digits() {
            2 => 10_000,
            4 => 100,
            _ => 1,
        };
        other.0 / div == self.0 / div
    }

    /// The province code `XX0000`.
    pub fn province(self) -> Region {
        Region(self.0 / 10_000 * 10_000)
    }

    /// The code's structural level: `XX0000` province, `XXXX00` prefecture, else county.
    pub fn level(self) -> Level {
        match self.significant_digits() {
            2 => Level::Province,
            4 => Level::Prefecture,
            _ => Level::County,
        }
    }

    /// The prefecture an origin or destination rolls up to (contract §7): a county code to its
    /// parent in the region table, a prefecture or province code to itself, a code not in the
    /// table to its first four digits + `00`.
    pub fn prefecture(self) -> Region {
        match self.level() {
            Level::Province | Level::Prefecture => self,
            Level::County => match RegionTable::get().info(self) {
                Some(info) => info.parent.unwrap_or(self),
                None => Region(self.0 / 100 * 100),
            },
        }
    }

    /// The ancestor of this code at `level` (contract §7); a code above `level` stays.
    pub fn at_level(self, level: Level) -> Region {
        match level {
            Level::County => self,
            Level::Prefecture => self.prefecture(),
            Level::Province => self.province(),
        }
    }

    /// The name from the region table, if the code is in it.
    pub fn name(self) -> Option<&'static str> {
        RegionTable::get().info(self).map(|i| i.name.as_str())
    }

    /// The name a reader knows the place by: the table's name, or for a placeholder row
    /// (`110100 市辖区`: Beijing's districts) the name of the unit it belongs to (`北京市`).
    pub fn place_name(self) -> Option<&'static str> {
        let table = RegionTable::get();
        let info = table.info(self)?;
        if info.is_placeholder()
            && let Some(parent) = info.parent.and_then(|p| table.info(p))
        {
            return Some(parent.name.as_str());
        }
        Some(info.name.as_str())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({:06})", self.0)
    }
}

impl std::str::FromStr for Region {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s.trim().as_bytes())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Province,
    Prefecture,
    County,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::Prefecture => "prefecture",
            Level::County => "county",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "province" => Some(Level::Province),
            "prefecture" => Some(Level::Prefecture),
            "county" => Some(Level::County),
            _ => None,
        }
    }
}

/// One row of the region table.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionInfo {
    pub region: Region,
    pub name: String,
    pub level: Level,
    pub parent: Option<Region>,
    /// Longitude and latitude of a representative point, where the table has one.
    pub point: Option<(f64, f64)>,
}

impl RegionInfo {
    /// Placeholder rows (`市辖区`, `县`, `省直辖县级行政区划`, …) group real units and are not places.
    pub fn is_placeholder(&self) -> bool {
        matches!(
            self.name.as_str(),
            "市辖区" | "县" | "省直辖县级行政区划" | "自治区直辖县级行政区划"
        )
    }
}

/// The real region codes, loaded once from the embedded CSV.
#[derive(Debug)]
pub struct RegionTable {
    rows: Vec<RegionInfo>,
    by_code: HashMap<Region, usize>,
}

static EMBEDDED_CSV: &str = include_str!("../data/regions.csv");
static TABLE: OnceLock<RegionTable> = OnceLock::new();

impl RegionTable {
    /// The embedded table (3,511 codes).
    pub fn get() -> &'static RegionTable {
        TABLE.get_or_init(|| {
            RegionTable::from_csv(EMBEDDED_CSV).expect("embedded region table is valid")
        })
    }

    /// Reads `code,name,level,parent_code,longitude,latitude` (header required).
    pub fn from_csv(text: &str) -> Result<RegionTable, String> {
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            let err = |what: &str| format!("regions line {}: {what}", n + 1);
            if f.len() != 6 {
                return Err(err("expected 6 fields"));
            }
            let region = Region::parse(f[0].as_bytes()).map_err(|e| err(&e.to_string()))?;
            let level = Level::parse(f[2]).ok_or_else(|| err("unknown level"))?;
            let parent = if f[3].is_empty() {
                None
            } else {
                Some(Region::parse(f[3].as_bytes()).map_err(|e| err(&e.to_string()))?)
            };
            let point = match (f[4].parse::<f64>(), f[5].parse::<f64>()) {
                (Ok(lon), Ok(lat)) => Some((lon, lat)),
                _ => None,
            };
            rows.push(RegionInfo {
                region,
                name: f[1].to_string(),
                level,
                parent,
                point,
            });
        }
        rows.sort_by_key(|r| r.region);
        let by_code = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.region, i))
            .collect();
        Ok(RegionTable { rows, by_code })
    }

    pub fn info(&self, region: Region) -> Option<&RegionInfo> {
        self.by_code.get(&region).map(|&i| &self.rows[i])
    }

    pub fn contains(&self, region: Region) -> bool {
        self.by_code.contains_key(&region)
    }

    /// All rows, sorted by code.
    pub fn rows(&self) -> &[RegionInfo] {
        &self.rows
    }

    /// Rows whose parent is `region`, sorted by code.
    pub fn children(&self, region: Region) -> impl Iterator<Item = &RegionInfo> {
        self.rows.iter().filter(move |r| r.parent == Some(region))
    }

    /// Real (non-placeholder) county-level units that `region` covers, sorted by code.
    pub fn counties_under(&self, region: Region) -> Vec<&RegionInfo> {
        self.rows
            .iter()
            .filter(|r| r.level == Level::County && !r.is_placeholder() && region.covers(r.region))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: u32) -> Region {
        Region::new(code).unwrap()
    }

    #[test]
    fn covers_follows_the_contract_examples() {
        assert!(r(420000).covers(r(420106)));
        assert!(r(420100).covers(r(420106)));
        assert!(r(420106).covers(r(420106)));
        assert!(!r(420106).covers(r(420100)));
        assert!(!r(420100).covers(r(420200)));
        assert!(!r(420000).covers(r(430100)));
        assert!(r(420000).covers(r(420000)));
        assert!(r(420100).covers(r(420100)));
        assert!(!r(420100).covers(r(420000)));
        // A county code whose last pair is 00 is structurally a prefecture: it covers by 4 digits.
        assert!(r(429000).covers(r(429004)));
    }

    #[test]
    fn parses_six_digits_only() {
        assert_eq!(Region::parse(b"420106").unwrap().code(), 420106);
        assert_eq!(&Region::parse(b"110101").unwrap().digits(), b"110101");
        for bad in [
            &b"42010"[..],
            b"4201066",
            b"42010a",
            b"000000",
            b"009999",
            b" 42010",
        ] {
            assert!(
                Region::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn prefecture_roll_up_uses_the_table() {
        assert_eq!(r(110101).prefecture(), r(110100));
        assert_eq!(r(429004).prefecture(), r(429000));
        assert_eq!(r(420106).prefecture(), r(420100));
        assert_eq!(r(420100).prefecture(), r(420100));
        assert_eq!(r(420000).prefecture(), r(420000));
        // Not in the table: first four digits + 00.
        assert!(!RegionTable::get().contains(r(330213)));
        assert_eq!(r(330213).prefecture(), r(330200));
        assert_eq!(r(330106).at_level(Level::Province), r(330000));
        assert_eq!(r(330106).at_level(Level::County), r(330106));
    }

    #[test]
    fn placeholders_are_named_by_the_unit_they_belong_to() {
        assert_eq!(r(110100).name(), Some("市辖区"));
        assert_eq!(r(110100).place_name(), Some("北京市"));
        assert_eq!(r(330300).place_name(), Some("温州市"));
        assert_eq!(r(330302).place_name(), Some("鹿城区"));
        assert_eq!(r(330399).place_name(), None);
    }

    #[test]
    fn the_embedded_table_is_the_real_one() {
        let t = RegionTable::get();
        assert_eq!(t.rows().len(), 3511);
        let count = |l| t.rows().iter().filter(|r| r.level == l).count();
        assert_eq!(
            (
                count(Level::Province),
                count(Level::Prefecture),
                count(Level::County)
            ),
            (34, 344, 3133)
        );
        assert_eq!(r(420100).name(), Some("武汉市"));
        assert_eq!(r(330106).name(), Some("西湖区"));
        let wuhan = t.info(r(420100)).unwrap();
        assert_eq!(wuhan.parent, Some(r(420000)));
        assert!(wuhan.point.is_some());
        // Every parent exists, and every code's level matches its structure.
        for row in t.rows() {
            if let Some(p) = row.parent {
                assert!(t.contains(p), "{} has a missing parent", row.region);
                assert!(p.covers(row.region));
            }
            assert_eq!(row.region.level(), row.level, "{}", row.region);
        }
        let wuhan_counties = t.counties_under(r(420100));
        assert_eq!(wuhan_counties.len(), 13);
        assert!(wuhan_counties.iter().all(|c| !c.is_placeholder()));
    }
}
