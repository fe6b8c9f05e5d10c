//! Arrivals from a region (contract §4, read with the *covers* rule) in a period: the scans
//! finding the records for `store::arrivals`, the one reader of what an arrival is.

use futures_util::future::try_join4;
use model::{Arrival, Kind, Region, Zone};
use query::Query;
use store::arrivals::{Ends, read_arrivals};

use crate::InflowError;
use crate::period::Period;
use crate::scan::{Params, date, for_each_batch, instant};

/// Every arrival from a region `origin` covers, dated in `period` (see the crate docs for what
/// counts), each with its `from`. The four tables are scanned concurrently, each only where its
/// statistics overlap the period; rows come back in no particular order.
pub async fn arrivals_from(
    query: &Query,
    zone: Zone,
    origin: Region,
    period: Period,
) -> Result<Vec<Arrival>, InflowError> {
    let (start, end) = period.instants(zone);
    let instants =
        || -> Params { vec![("start", instant(start, zone)), ("end", instant(end, zone))] };
    let dates = || -> Params {
        vec![
            ("first", date(period.first())),
            ("last", date(period.last())),
        ]
    };
    // The origin is filtered in the scan where the record names one region, and among the
    // reader's arrivals for the regions a self-report lists.
    let travel = format!(
        "SELECT person_id, mode, arrive_time, from_region FROM travel \
         WHERE arrive_time >= $start AND arrive_time < $end AND covers('{origin}', from_region)"
    );
    let road = format!(
        "SELECT person_id, time, origin_region FROM checkpoint \
         WHERE time >= $start AND time < $end AND covers('{origin}', origin_region)"
    );
    let registrations = format!(
        "SELECT person_id, arrival_date, from_region FROM registrations \
         WHERE arrival_date >= $first AND arrival_date <= $last AND covers('{origin}', from_region)"
    );
    let self_reports = "SELECT person_id, time, visited_regions FROM self_reports \
                        WHERE time >= $start AND time < $end AND visited_regions IS NOT NULL";
    let scan = |kind, sql, params| scan(query, zone, origin, kind, sql, params);
    let (mut all, road, registrations, self_reports) = try_join4(
        scan(Kind::Travel, &travel, instants()),
        scan(Kind::Checkpoint, &road, instants()),
        scan(Kind::Registrations, &registrations, dates()),
        scan(Kind::SelfReports, self_reports, instants()),
    )
    .await?;
    all.extend(road);
    all.extend(registrations);
    all.extend(self_reports);
    Ok(all)
}

/// The arrivals from a region `origin` covers among the rows `sql` selects from `kind`'s table.
async fn scan(
    query: &Query,
    zone: Zone,
    origin: Region,
    kind: Kind,
    sql: &str,
    params: Params,
) -> Result<Vec<Arrival>, InflowError> {
    let table = kind.name();
    let mut out = Vec::new();
    for_each_batch(query, table, sql, params, |b| {
        read_arrivals(kind, b, zone, Ends::From, |a| {
            if a.is_from(origin) {
                out.push(a);
            }
        })
        .map_err(|e| InflowError::Query {
            table,
            message: e.to_string(),
        })
    })
    .await?;
    Ok(out)
}
