//! `job_seekers`: people looking for work, by skill and region.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::JobSeekers,
    about: "job seekers by skill, region and availability",
    columns: &[
        req("person_id", T::PersonId),
        req("skill", T::Text),
        req("region", T::Region),
        opt("available_from", T::Date),
    ],
    partition_by: None,
    checks: &[],
};
