//! `migration`: public population-movement shares between places per day (Baidu Qianxi and the
//! like): no persons, only what share of one place's trips went to or came from another.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Migration,
    about: "public movement shares between places per day: out = share of the origin's departures going to the destination, in = share of the destination's arrivals coming from the origin",
    columns: &[
        req("date", T::Date),
        req("direction", T::Enum(&["out", "in"])),
        req("origin_region", T::Region),
        req("destination_region", T::Region),
        req(
            "share_pct",
            T::Float {
                min: 0.0,
                max: 100.0,
            },
        ),
        opt("rank", T::Int { min: 1, max: 1000 }),
        opt("source", T::Text),
    ],
    partition_by: Some("date"),
    checks: &[],
};
