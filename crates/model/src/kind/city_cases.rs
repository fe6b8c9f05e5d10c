//! `city_cases`: published cumulative case counts per city (or district) and day (DXY and the
//! like): public aggregates, the basis of derived risk areas and the case curves.

use super::{FieldType as T, Kind, KindSpec, opt, req};

const COUNT: T = T::Int {
    min: 0,
    max: 100_000_000,
};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::CityCases,
    about: "published cumulative case counts per region and day (confirmed, suspected, cured, dead)",
    columns: &[
        req("date", T::Date),
        req("region", T::Region),
        req("confirmed", COUNT),
        opt("suspected", COUNT),
        opt("cured", COUNT),
        opt("dead", COUNT),
        opt("source", T::Text),
    ],
    partition_by: Some("date"),
    checks: &[],
};
