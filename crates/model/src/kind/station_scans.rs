//! `station_scans`: ID-card gate scans into and out of stations.

use super::{FieldType as T, Kind, KindSpec, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::StationScans,
    about: "ID-card gate scans into and out of stations",
    columns: &[
        req("person_id", T::PersonId),
        req("station", T::Text),
        req("region", T::Region),
        req("direction", T::DIRECTION),
        req("time", T::Timestamp),
    ],
    partition_by: Some("time"),
    checks: &[],
};
