//! `listings`: one capture of an online listing of masks (contract §9), for market supervision.
//! Sellers are enterprises, so nothing here is a person's.

use super::{FieldType as T, Kind, KindSpec, opt, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::Listings,
    about: "captures of online mask listings: shop, seller, product, standard, registration, price",
    columns: &[
        req("platform", T::Text),
        req("listing_id", T::Text),
        req("shop_id", T::Text),
        opt("seller_enterprise_id", T::EnterpriseId),
        opt("seller_region", T::Region),
        req("title", T::Text),
        req("product", T::PRODUCT),
        opt("standard", T::Text),
        // Kept as given: whether it names a registration is the market rules' question.
        opt("registration_no", T::Text),
        req("price_cny", T::Float { min: 0.0, max: 1e9 }),
        req(
            "units",
            T::Int {
                min: 1,
                max: 1_000_000,
            },
        ),
        opt(
            "sales",
            T::Int {
                min: 0,
                max: 1_000_000_000_000,
            },
        ),
        req("captured_time", T::Timestamp),
    ],
    partition_by: Some("captured_time"),
    checks: &[],
};
