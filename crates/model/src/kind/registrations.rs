//! `registrations`: returnee registrations with where the person stays.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Registrations,
    about: "returnee registrations: arrival, origin, where the person stays",
    columns: &[
        req("person_id", T::PersonId),
        req("arrival_date", T::Date),
        req("from_region", T::Region),
        opt("stay_region", T::Region),
        opt("stay_community", T::Token),
        opt("stay_address", T::Text).sealed(),
        opt("phone", T::Phone).sealed(),
    ],
    partition_by: Some("arrival_date"),
    checks: &[],
};
