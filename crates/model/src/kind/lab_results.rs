//! `lab_results`: nucleic-acid tests with diagnosis, onset and report time.

use super::{FieldType as T, Kind, KindSpec, RowCheck, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::LabResults,
    about: "lab results: sample, result, diagnosis, onset and report time",
    columns: &[
        req("person_id", T::PersonId),
        req("sample_time", T::Timestamp),
        req("result", T::LAB_RESULT),
        opt("diagnosis", T::DIAGNOSIS),
        opt("onset_date", T::Date),
        req("reported_time", T::Timestamp),
    ],
    partition_by: Some("reported_time"),
    checks: &[RowCheck::NotBefore {
        earlier: "sample_time",
        later: "reported_time",
    }],
};
