//! `power`: daily electricity meter readings per enterprise.

use super::{FieldType as T, Kind, KindSpec, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Power,
    about: "daily power readings per enterprise (kWh)",
    columns: &[
        req("enterprise_id", T::EnterpriseId),
        req("date", T::Date),
        req(
            "kwh",
            T::Float {
                min: 0.0,
                max: 1e12,
            },
        ),
    ],
    partition_by: Some("date"),
    checks: &[],
};
