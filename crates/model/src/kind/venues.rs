//! `venues`: places with a check-in code (markets, restaurants, offices, clinics, …).

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Venues,
    about: "places with a check-in code: markets, restaurants, offices, clinics",
    columns: &[
        req("venue_id", T::Token),
        opt("name", T::Text),
        opt("kind", T::Text),
        req("region", T::Region),
        opt("community_id", T::Token),
        opt(
            "lat",
            T::Float {
                min: -90.0,
                max: 90.0,
            },
        ),
        opt(
            "lon",
            T::Float {
                min: -180.0,
                max: 180.0,
            },
        ),
    ],
    partition_by: None,
    checks: &[],
};
