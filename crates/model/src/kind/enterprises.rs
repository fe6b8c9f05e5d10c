//! `enterprises`: employers with industry, size and whether they are critical.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Enterprises,
    about: "enterprises: industry, region, size, output, critical flag",
    columns: &[
        req("enterprise_id", T::EnterpriseId),
        req("name", T::Text),
        req("industry", T::Text),
        req("region", T::Region),
        opt(
            "employees",
            T::Int {
                min: 0,
                max: 10_000_000,
            },
        ),
        opt("local_worker_share", T::Float { min: 0.0, max: 1.0 }),
        opt(
            "annual_output_cny",
            T::Float {
                min: 0.0,
                max: 1e15,
            },
        ),
        opt("critical", T::Bool),
    ],
    partition_by: None,
    checks: &[],
};
