//! `persons`: residents with their home region, community and household.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Persons,
    about: "residents: identity, home region, community and household",
    columns: &[
        req("person_id", T::PersonId),
        opt("name", T::Text).sealed(),
        opt("phone", T::Phone).sealed(),
        opt("birth_date", T::Date),
        opt("sex", T::Sex),
        req("home_region", T::Region),
        opt("community_id", T::Token),
        opt("household_id", T::Token),
        opt("address", T::Text).sealed(),
    ],
    partition_by: None,
    checks: &[],
};
