//! `checkins`: venue scans; a missing `time_out` means an hour's stay.

use super::{FieldType as T, Kind, KindSpec, RowCheck, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Checkins,
    about: "venue check-ins (time_out absent: a 60-minute stay)",
    columns: &[
        req("person_id", T::PersonId),
        req("venue_id", T::Token),
        req("time_in", T::Timestamp),
        opt("time_out", T::Timestamp),
    ],
    partition_by: Some("time_in"),
    checks: &[RowCheck::NotBefore {
        earlier: "time_in",
        later: "time_out",
    }],
};
