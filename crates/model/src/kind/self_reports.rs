//! `self_reports`: daily health declarations (temperature, symptoms, regions visited).

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::SelfReports,
    about: "health self-reports: temperature, symptoms, regions visited",
    columns: &[
        req("person_id", T::PersonId),
        req("time", T::Timestamp),
        opt(
            "temperature_c",
            T::Float {
                min: 30.0,
                max: 45.0,
            },
        ),
        opt("symptoms", T::Text),
        opt("visited_regions", T::RegionList),
        opt("note", T::Text).sealed(),
    ],
    partition_by: Some("time"),
    checks: &[],
};
