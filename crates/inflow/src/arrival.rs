//! Arrivals (contract §4, read with the *covers* rule): the records saying a person came from
//! a region on a date, how (`ArrivalKind`), and the scans finding them for a period.

use futures_util::future::try_join4;
use model::{Date, Mode, Region, Timestamp, Zone};
use query::Query;

use crate::InflowError;
use crate::period::Period;
use crate::scan::{Columns, Params, date, for_each_batch, instant};

/// How a person arrived: by a ticketed mode, by road (an expressway checkpoint), by registering
/// as a returnee, or by declaring a visit in a health self-report. Ordered as listed here,
/// which is the order lists of kinds are printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArrivalKind {
    Travel(Mode),
    Road,
    Registration,
    SelfReport,
}

impl ArrivalKind {
    /// Every kind, in order.
    pub const ALL: [ArrivalKind; 7] = [
        ArrivalKind::Travel(Mode::Rail),
        ArrivalKind::Travel(Mode::Flight),
        ArrivalKind::Travel(Mode::Coach),
        ArrivalKind::Travel(Mode::Ship),
        ArrivalKind::Road,
        ArrivalKind::Registration,
        ArrivalKind::SelfReport,
    ];

    /// `rail`, `flight`, `coach`, `ship`, `road`, `registration` or `self_report`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrivalKind::Travel(m) => m.as_str(),
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
        ArrivalKind::ALL
            .iter()
            .position(|&k| k == self)
            .expect("every kind is listed")
    }
}

impl std::fmt::Display for ArrivalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One arrival: a person (pseudonym), the deployment-zone date, the kind, and the origin the
/// record names (a region the queried region covers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arrival {
    pub person: i64,
    pub date: Date,
    pub kind: ArrivalKind,
    pub origin: Region,
}

/// Every arrival from a region `origin` covers, dated in `period` (see the crate docs for what
/// counts). The four tables are scanned concurrently, each only where its statistics overlap
/// the period; rows come back in no particular order.
pub async fn arrivals_from(
    query: &Query,
    zone: Zone,
    origin: Region,
    period: Period,
) -> Result<Vec<Arrival>, InflowError> {
    let (start, end) = period.instants(zone);
    let instants =
        || -> Params { vec![("start", instant(start, zone)), ("end", instant(end, zone))] };
    let travel = async {
        let sql = format!(
            "SELECT person_id, arrive_time, mode, from_region FROM travel \
             WHERE arrive_time >= $start AND arrive_time < $end AND covers('{origin}', from_region)"
        );
        let mut out = Vec::new();
        for_each_batch(query, "travel", &sql, instants(), |b| {
            let c = Columns {
                table: "travel",
                batch: b,
            };
            let (person, at, mode, from) =
                (c.ints(0)?, c.instants(1)?, c.strings(2)?, c.strings(3)?);
            for i in 0..b.num_rows() {
                let Some(kind) = Mode::parse(mode.value(i)).map(ArrivalKind::Travel) else {
                    continue;
                };
                push(
                    &mut out,
                    person.value(i),
                    Timestamp(at.value(i)).date(zone),
                    kind,
                    from.value(i),
                );
            }
            Ok(())
        })
        .await?;
        Ok(out)
    };
    let road = async {
        let sql = format!(
            "SELECT person_id, time, origin_region FROM checkpoint \
             WHERE time >= $start AND time < $end AND covers('{origin}', origin_region)"
        );
        let mut out = Vec::new();
        for_each_batch(query, "checkpoint", &sql, instants(), |b| {
            let c = Columns {
                table: "checkpoint",
                batch: b,
            };
            let (person, at, from) = (c.ints(0)?, c.instants(1)?, c.strings(2)?);
            for i in 0..b.num_rows() {
                let date = Timestamp(at.value(i)).date(zone);
                push(
                    &mut out,
                    person.value(i),
                    date,
                    ArrivalKind::Road,
                    from.value(i),
                );
            }
            Ok(())
        })
        .await?;
        Ok(out)
    };
    let registrations = async {
        let sql = format!(
            "SELECT person_id, arrival_date, from_region FROM registrations \
             WHERE arrival_date >= $first AND arrival_date <= $last AND covers('{origin}', from_region)"
        );
        let params = vec![
            ("first", date(period.first())),
            ("last", date(period.last())),
        ];
        let mut out = Vec::new();
        for_each_batch(query, "registrations", &sql, params, |b| {
            let c = Columns {
                table: "registrations",
                batch: b,
            };
            let (person, day, from) = (c.ints(0)?, c.dates(1)?, c.strings(2)?);
            for i in 0..b.num_rows() {
                let date = Date(day.value(i));
                push(
                    &mut out,
                    person.value(i),
                    date,
                    ArrivalKind::Registration,
                    from.value(i),
                );
            }
            Ok(())
        })
        .await?;
        Ok(out)
    };
    let self_reports = async {
        let sql = format!(
            "SELECT person_id, time, visited FROM ( \
               SELECT person_id, time, unnest(visited_regions) AS visited FROM self_reports \
               WHERE time >= $start AND time < $end AND visited_regions IS NOT NULL) \
             WHERE covers('{origin}', visited)"
        );
        let mut out = Vec::new();
        for_each_batch(query, "self_reports", &sql, instants(), |b| {
            let c = Columns {
                table: "self_reports",
                batch: b,
            };
            let (person, at, visited) = (c.ints(0)?, c.instants(1)?, c.strings(2)?);
            for i in 0..b.num_rows() {
                let date = Timestamp(at.value(i)).date(zone);
                push(
                    &mut out,
                    person.value(i),
                    date,
                    ArrivalKind::SelfReport,
                    visited.value(i),
                );
            }
            Ok(())
        })
        .await?;
        Ok(out)
    };
    let (mut all, road, registrations, self_reports) =
        try_join4(travel, road, registrations, self_reports).await?;
    all.extend(road);
    all.extend(registrations);
    all.extend(self_reports);
    Ok(all)
}

/// Adds an arrival; a region the store holds is always valid, so a bad one is skipped.
fn push(out: &mut Vec<Arrival>, person: i64, date: Date, kind: ArrivalKind, origin: &str) {
    if let Ok(origin) = origin.parse::<Region>() {
        out.push(Arrival {
            person,
            date,
            kind,
            origin,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_print_by_their_contract_names_in_order() {
        let names: Vec<_> = ArrivalKind::ALL.iter().map(|k| k.as_str()).collect();
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
        }
        assert_eq!(ArrivalKind::parse("walk"), None);
    }
}
