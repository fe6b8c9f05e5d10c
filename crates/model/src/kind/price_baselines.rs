//! `price_baselines`: a shop's last unit price of a product before the emergency (contract §9).

use super::{FieldType as T, Kind, KindSpec, req};

pub(super) static SPEC: KindSpec = KindSpec {
    kind: Kind::PriceBaselines,
    about: "a shop's last unit price of a mask product before the emergency",
    columns: &[
        req("shop_id", T::Text),
        req("product", T::PRODUCT),
        req("unit_price_cny", T::Float { min: 0.0, max: 1e9 }),
        req("date", T::Date),
    ],
    partition_by: None,
    checks: &[],
};
