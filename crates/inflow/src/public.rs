//! Public figures beside the records: movement shares (`migration`, e.g. Baidu Qianxi) and
//! published case counts (`city_cases`, e.g. DXY), read for the dashboard's flows and curves.

use std::collections::BTreeMap;

use model::{Date, Region};
use query::Query;

use crate::InflowError;
use crate::scan::{Columns, date, for_each_batch};

/// One movement share.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub origin: Region,
    pub destination: Region,
    pub share_pct: f64,
}

/// The largest shares of `place`'s departures (`out`: `place` is the origin) or arrivals
/// (`in`: `place` is the destination) on `day`, most first, at most `limit`.
pub async fn shares(
    query: &Query,
    place: Region,
    outbound: bool,
    day: Date,
    limit: usize,
) -> Result<Vec<Share>, InflowError> {
    let (direction, column) = if outbound {
        ("out", "origin_region")
    } else {
        ("in", "destination_region")
    };
    let sql = format!(
        "SELECT origin_region, destination_region, share_pct FROM migration \
         WHERE date = $day AND direction = '{direction}' AND {column} = '{place}'"
    );
    let mut out = Vec::new();
    for_each_batch(query, "migration", &sql, vec![("day", date(day))], |b| {
        let c = Columns {
            table: "migration",
            batch: b,
        };
        let (o, d, s) = (c.strings(0)?, c.strings(1)?, c.floats(2)?);
        for i in 0..b.num_rows() {
            if let (Ok(origin), Ok(destination)) = (o.value(i).parse(), d.value(i).parse()) {
                out.push(Share {
                    origin,
                    destination,
                    share_pct: s.value(i),
                });
            }
        }
        Ok(())
    })
    .await?;
    out.sort_by(|a, b| {
        b.share_pct
            .total_cmp(&a.share_pct)
            .then(a.destination.cmp(&b.destination))
            .then(a.origin.cmp(&b.origin))
    });
    out.truncate(limit);
    Ok(out)
}

/// Published cases of an area on one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseDay {
    pub date: Date,
    /// Cumulative confirmed cases of every published code the area covers, each carried
    /// forward from its last published day.
    pub confirmed: u64,
    /// The rise since the day before (0 when a correction lowered it).
    pub new: u64,
}

/// Daily cumulative and new confirmed cases of the codes `area` covers, for `first..=last`.
/// Days before any code of the area was published are left out.
pub async fn case_curve(
    query: &Query,
    area: Region,
    first: Date,
    last: Date,
) -> Result<Vec<CaseDay>, InflowError> {
    let sql = format!(
        "SELECT region, date, confirmed FROM city_cases \
         WHERE date <= $last AND covers('{area}', region)"
    );
    // code → date → confirmed
    let mut series: BTreeMap<String, BTreeMap<Date, u64>> = BTreeMap::new();
    for_each_batch(query, "city_cases", &sql, vec![("last", date(last))], |b| {
        let c = Columns {
            table: "city_cases",
            batch: b,
        };
        let (r, d, n) = (c.strings(0)?, c.dates(1)?, c.ints(2)?);
        for i in 0..b.num_rows() {
            series
                .entry(r.value(i).to_string())
                .or_default()
                .insert(Date(d.value(i)), n.value(i).max(0) as u64);
        }
        Ok(())
    })
    .await?;
    let Some(start) = series
        .values()
        .filter_map(|s| s.keys().next())
        .min()
        .copied()
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut previous = 0u64;
    let mut day = start;
    while day <= last {
        let total: u64 = series
            .values()
            .map(|s| s.range(..=day).next_back().map_or(0, |(_, &n)| n))
            .sum();
        if day >= first {
            out.push(CaseDay {
                date: day,
                confirmed: total,
                new: total.saturating_sub(previous),
            });
        }
        previous = total;
        day = day.add_days(1);
    }
    Ok(out)
}
