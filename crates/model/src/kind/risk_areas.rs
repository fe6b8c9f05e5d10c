//! `risk_areas`: published risk levels of areas with their validity (inclusive dates).

use super::{FieldType as T, Kind, KindSpec, RowCheck, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::RiskAreas,
    about: "risk levels of areas, valid from a date to an optional date (inclusive)",
    columns: &[
        req("region", T::Region),
        req("level", T::RISK_LEVEL),
        req("valid_from", T::Date),
        opt("valid_to", T::Date),
    ],
    partition_by: None,
    checks: &[RowCheck::NotBefore {
        earlier: "valid_from",
        later: "valid_to",
    }],
};
