//! `jobs`: open positions by skill and region.

use super::{FieldType as T, Kind, KindSpec, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Jobs,
    about: "job openings by enterprise, skill and region",
    columns: &[
        req("job_id", T::Token),
        req("enterprise_id", T::EnterpriseId),
        req("skill", T::Text),
        req(
            "openings",
            T::Int {
                min: 0,
                max: 1_000_000,
            },
        ),
        req("region", T::Region),
    ],
    partition_by: None,
    checks: &[],
};
