//! A case's public trail: its rides and venue visits from the day before onset until it was
//! reported, with no identity — what public disclosure rules allow a city to publish.

use model::{Date, Timestamp, Zone};
use trace::{CaseInfo, Index, Via};

/// One stop of a trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailStop {
    pub via: Via,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The service number (rides) or venue id.
    pub place: String,
    /// Rides: the service date; the car (rail) or seat row is left out on purpose (it
    /// narrows a crowd to a few people).
    pub service_date: Option<Date>,
}

/// The window a trail covers: from the start of the day before onset to the report.
pub fn trail_window(case: &CaseInfo, zone: Zone) -> (i64, i64) {
    (
        case.onset.add_days(-1).start(zone).millis(),
        case.report_time,
    )
}

/// The public trail of `case` (rides and venue visits; vehicle passes and households say
/// nothing a public notice should), in time order.
pub fn public_trail(index: &Index, case: i64, info: &CaseInfo, zone: Zone) -> Vec<TrailStop> {
    let (from, to) = trail_window(info, zone);
    index
        .events_of(case, from, to)
        .into_iter()
        .filter(|e| e.via.is_ride() || e.via == Via::Venue)
        .map(|e| TrailStop {
            via: e.via,
            start: Timestamp(e.start.max(from)),
            end: Timestamp(e.end.min(to)),
            place: e.id,
            service_date: e.service_date,
        })
        .collect()
}
