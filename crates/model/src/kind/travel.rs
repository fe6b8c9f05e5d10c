//! `travel`: real-name tickets (rail, flight, coach, ship), one row per passenger leg.

use super::{FieldType as T, Kind, KindSpec, RowCheck, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Travel,
    about: "real-name tickets: one passenger leg by rail, flight, coach or ship",
    columns: &[
        req("person_id", T::PersonId),
        req("mode", T::MODE),
        req("service_no", T::Token),
        req("service_date", T::Date),
        opt("car", T::Car),
        opt("seat", T::Token),
        opt("from_station", T::Text),
        req("from_region", T::Region),
        req("depart_time", T::Timestamp),
        opt("to_station", T::Text),
        req("to_region", T::Region),
        req("arrive_time", T::Timestamp),
    ],
    partition_by: Some("service_date"),
    checks: &[RowCheck::NotBefore {
        earlier: "depart_time",
        later: "arrive_time",
    }],
};
