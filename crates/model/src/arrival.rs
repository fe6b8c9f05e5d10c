//! Arrivals, the one notion behind health codes (contract §4), the trace index's arrivals and
//! inflow (§7): how a person came (`ArrivalKind`), one arrival as a stored record states it
//! (`Arrival`: who, when, how, from where and into where), and the two rules read from it —
//! an arrival *from* a region (§4) and an arrival *into* an area (§7).
//!
//! Which records are arrivals, and which of their columns give the date, the time and the two
//! ends, is written once, in `store::arrivals`, the reader every consumer scans with.

use std::fmt;

use crate::{Date, Mode, Region, Timestamp};

/// How a person arrived: by a ticketed mode, by road (an expressway checkpoint pass), by
/// registering as a returnee, or by declaring a visit in a health self-report. Ordered as
/// listed, which is the order lists of kinds print in; the discriminant is the kind's number
/// in the trace index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ArrivalKind {
    Rail = 0,
    Flight = 1,
    Coach = 2,
    Ship = 3,
    /// An expressway checkpoint pass.
    Road = 4,
    Registration = 5,
    /// A region listed in a self-report's `visited_regions`.
    SelfReport = 6,
}

impl ArrivalKind {
    /// Every kind, in order.
    pub const ALL: [ArrivalKind; 7] = [
        ArrivalKind::Rail,
        ArrivalKind::Flight,
        ArrivalKind::Coach,
        ArrivalKind::Ship,
        ArrivalKind::Road,
        ArrivalKind::Registration,
        ArrivalKind::SelfReport,
    ];

    /// `rail`, `flight`, `coach`, `ship`, `road`, `registration` or `self_report`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrivalKind::Rail => "rail",
            ArrivalKind::Flight => "flight",
            ArrivalKind::Coach => "coach",
            ArrivalKind::Ship => "ship",
            ArrivalKind::Road => "road",
            ArrivalKind::Registration => "registration",
            ArrivalKind::SelfReport => "self_report",
        }
    }

    pub fn parse(s: &str) -> Option<ArrivalKind> {
        ArrivalKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Position in [`ArrivalKind::ALL`] (for compact sets of kinds).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind numbered `n` (see [`ArrivalKind::index`]), if there is one.
    pub fn from_index(n: usize) -> Option<ArrivalKind> {
        ArrivalKind::ALL.get(n).copied()
    }

    /// A ticket's kind: its mode.
    pub fn of_mode(mode: Mode) -> ArrivalKind {
        match mode {
            Mode::Rail => ArrivalKind::Rail,
            Mode::Flight => ArrivalKind::Flight,
            Mode::Coach => ArrivalKind::Coach,
            Mode::Ship => ArrivalKind::Ship,
        }
    }

    /// Whether inflow counts arrivals of this kind (§7: every kind but self-reported visits).
    pub fn counts_as_inflow(self) -> bool {
        self != ArrivalKind::SelfReport
    }
}

impl fmt::Display for ArrivalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One arrival as a stored record states it. `from` is the origin the record names (`None`: it
/// names none, as a checkpoint pass may not); `to` where the person arrived, when the record
/// says and the reader was asked for it (a ride's `to_region`, a pass's checkpoint `region`, a
/// registration's `stay_region`; a self-reported visit names no destination).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arrival {
    /// The person's pseudonym.
    pub person: i64,
    /// The arrival date in the deployment zone.
    pub date: Date,
    /// The record's time, so an as-of instant excludes what came after it (a registration's is
    /// the start of its arrival date).
    pub time: Timestamp,
    pub kind: ArrivalKind,
    pub from: Option<Region>,
    pub to: Option<Region>,
}

impl Arrival {
    /// Whether this is an arrival from `region` in contract §4's sense, read with the covers
    /// rule (a prefecture or province means every region inside it). A record naming no origin
    /// is no arrival from anywhere.
    pub fn is_from(&self, region: Region) -> bool {
        self.from.is_some_and(|f| region.covers(f))
    }
}

/// Contract §7: a record of a counted kind into an area `area` (the destination's ancestor at
/// the level counted) is an arrival into it unless `area` covers its origin — a move within
/// the area is not an arrival. A record naming no origin arrives.
pub fn enters(area: Region, from: Option<Region>) -> bool {
    from.is_none_or(|f| !area.covers(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_print_by_their_contract_names_in_order() {
        let names = ArrivalKind::ALL.map(ArrivalKind::as_str);
        assert_eq!(
            names,
            [
                "rail",
                "flight",
                "coach",
                "ship",
                "road",
                "registration",
                "self_report"
            ]
        );
        let mut sorted = ArrivalKind::ALL;
        sorted.sort();
        assert_eq!(sorted, ArrivalKind::ALL);
        for (i, k) in ArrivalKind::ALL.into_iter().enumerate() {
            assert_eq!(ArrivalKind::parse(k.as_str()), Some(k));
            assert_eq!(k.index(), i);
            assert_eq!(ArrivalKind::from_index(i), Some(k));
        }
        assert_eq!(ArrivalKind::from_index(7), None);
        assert_eq!(ArrivalKind::parse("walk"), None);
        for m in Mode::ALL {
            assert_eq!(ArrivalKind::of_mode(*m).as_str(), m.as_str());
        }
        assert!(!ArrivalKind::SelfReport.counts_as_inflow());
        assert!(ArrivalKind::Road.counts_as_inflow());
    }

    fn region(code: u32) -> Region {
        Region::new(code).unwrap()
    }

    #[test]
    fn from_a_region_by_the_covers_rule() {
        let a = Arrival {
            person: 1,
            date: Date(0),
            time: Timestamp(0),
            kind: ArrivalKind::Road,
            from: Some(region(420106)),
            to: None,
        };
        assert!(a.is_from(region(420106)) && a.is_from(region(420100)));
        assert!(a.is_from(region(420000)) && !a.is_from(region(420111)));
        let nowhere = Arrival { from: None, ..a };
        assert!(!nowhere.is_from(region(420000)));
    }

    #[test]
    fn a_move_within_the_area_does_not_enter_it() {
        // 420111 → 420106: into the district, not into Wuhan.
        let from = Some(region(420111));
        assert!(enters(region(420106), from));
        assert!(!enters(region(420100), from));
        assert!(!enters(region(420000), from));
        assert!(enters(region(330300), None));
    }
}
