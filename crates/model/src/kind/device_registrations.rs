//! `device_registrations`: medical device registrations of masks (contract §9): number, holder,
//! product and validity (inclusive dates; no end date = open).

use super::{FieldType as T, Kind, KindSpec, RowCheck, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::DeviceRegistrations,
    about: "medical device registrations: number, holder enterprise, product, validity",
    columns: &[
        req("registration_no", T::Text),
        req("holder_enterprise_id", T::EnterpriseId),
        req("product", T::PRODUCT),
        req("valid_from", T::Date),
        opt("valid_to", T::Date),
    ],
    partition_by: None,
    checks: &[RowCheck::NotBefore {
        earlier: "valid_from",
        later: "valid_to",
    }],
};
