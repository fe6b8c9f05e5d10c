//! Inflow: who arrived from where, and when. The "exposed" list — everyone who arrived from a
//! region in a period, with where they stay now — the "who came back from Wuhan" list a
//! command centre hands to counties and communities; and the daily inflow figures (contract
//! §7, [`daily_inflow`]): arrivals into each region per day by kind, origin and origin risk.
//!
//! # Arrivals from a region
//!
//! An arrival from region `R` on date `A` follows contract §4, with `R` read through the
//! contract's *covers* rule so a prefecture or province code means what an operator expects
//! (`420100` Wuhan counts an arrival from its district `420106`):
//!
//! - a `travel` leg whose `from_region` `R` covers, `A` being the deployment-zone date of its
//!   `arrive_time` (kind: its `mode`);
//! - a `checkpoint` pass whose `origin_region` `R` covers, dated by its `time` (kind `road`);
//! - a `registration` whose `from_region` `R` covers, dated by its `arrival_date`
//!   (kind `registration`);
//! - a `self_reports` row listing a region `R` covers in `visited_regions`, dated by its `time`
//!   (kind `self_report`).
//!
//! Only arrivals with `A` in the period `[first, last]` (inclusive, deployment-zone dates)
//! count. Each scan filters its table's partition column (`arrive_time`, `time`,
//! `arrival_date`) with literal instants or dates of the table's own type, so DataFusion skips
//! the Parquet files and row groups outside the period by their statistics. Travel is filed by
//! `service_date`, but its files' `arrive_time` statistics prune the same files without
//! assuming how long a journey lasts (multi-day trains, flights across time zones).
//!
//! # The list
//!
//! One row per person with an arrival: the first and last arrival date in the period, the
//! distinct kinds of their arrival records (in the order `rail`, `flight`, `coach`, `ship`,
//! `road`, `registration`, `self_report`), the distinct origins those records name (ascending
//! codes, each covered by `R`), and where the person stays. Rows are sorted by stay region,
//! then stay community (an unknown region or absent community after the known ones), then
//! person; [`by_stay`] counts them per stay region ("county": the code the record gives) and
//! community in the same order.
//!
//! # Where an exposed person stays
//!
//! "Now" means everything the store holds: the latest `registration` of the person that names a
//! `stay_region` (latest by `arrival_date`, then by input order, the row id), whatever it came
//! from, gives the stay region and its `stay_community` (source `registration`); failing that
//! the person's `persons` row (the last ingested, when there are several) gives `home_region`
//! and `community_id` (source `home`); failing that the stay is unknown. Neither table has a
//! date to prune by, so both are read once per request (four narrow columns each), filtered
//! by the set of exposed persons as they stream.
//!
//! Works on pseudonyms only: revealing who a pseudonym is belongs to the caller, which holds
//! the key.

mod arrival;
mod daily;
mod exposed;
mod period;
pub mod public;
mod roads;
mod scan;
mod stay;
mod venue;

pub use arrival::arrivals_from;
pub use daily::{
    INFLOW_KINDS, InflowLevel, InflowQuery, InflowRow, OriginCount, OriginRisk, RiskOf,
    daily_inflow,
};
pub use exposed::{CommunityCount, ExposedPerson, StayCount, by_stay, exposed};
/// How a person arrived: the one kind `model` defines, which exposed rows list.
pub use model::ArrivalKind;
pub use period::Period;
pub use roads::{Counted, RoadRow, road_flows};
pub use stay::{Stay, StaySource, stays};
pub use venue::{Venue, venues};

use model::Date;

#[derive(Debug, thiserror::Error)]
pub enum InflowError {
    /// The period's first day is after its last.
    #[error("the period starts on {first}, after its last day {last}")]
    EmptyPeriod { first: Date, last: Date },
    /// Reading a table failed (I/O, resources, or a store whose schema is not the expected one).
    #[error("reading {table}: {message}")]
    Query {
        table: &'static str,
        message: String,
    },
}
