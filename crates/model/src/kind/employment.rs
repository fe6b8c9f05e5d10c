//! `employment`: which person works for which enterprise.

use super::{FieldType as T, Kind, KindSpec, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Employment,
    about: "employment: enterprise and employee",
    columns: &[
        req("enterprise_id", T::EnterpriseId),
        req("person_id", T::PersonId),
    ],
    partition_by: None,
    checks: &[],
};
