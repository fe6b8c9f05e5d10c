//! `checkpoint`: expressway exit passes, one row per vehicle occupant.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Checkpoint,
    about: "expressway checkpoint passes, one row per vehicle occupant",
    columns: &[
        req("pass_id", T::Token),
        req("plate", T::Text).sealed(),
        req("person_id", T::PersonId),
        opt("role", T::OCCUPANT_ROLE),
        req("checkpoint_id", T::Token),
        req("region", T::Region),
        req("time", T::Timestamp),
        opt("origin_region", T::Region),
        opt("destination_region", T::Region),
        opt("purpose", T::Text),
    ],
    partition_by: Some("time"),
    checks: &[],
};
