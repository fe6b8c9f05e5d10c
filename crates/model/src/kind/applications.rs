//! `applications`: an enterprise asks for employees to return to work (contract §8), one row
//! per employee.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Applications,
    about: "return-to-work applications: enterprise, employee, first working day",
    columns: &[
        req("application_id", T::Token),
        req("enterprise_id", T::EnterpriseId),
        req("person_id", T::PersonId),
        req("start_date", T::Date),
        opt("submitted_time", T::Timestamp),
    ],
    partition_by: None,
    checks: &[],
};
