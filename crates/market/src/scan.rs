//! The rules over the store: the reference tables read once into hash tables, then the
//! `listings` files a day at a time (the store partitions them by the capture's deployment-zone
//! date, so a period's days are found without opening the others, and a day's median needs no
//! other day), days in parallel, only the columns the rules read decoded. Memory grows with the
//! largest day and the reference tables, never with the whole period.

use std::collections::BTreeMap;

use arrow::array::{Array, StringArray};
use model::{Date, Kind, Product, Region, Timestamp};
use rayon::prelude::*;
use store::{DataFile, RID_COLUMN, Store};

use crate::MarketError;
use crate::check::{self, Baseline, Capture, Flagged, Reference, Registration};
use crate::money::micro;
use crate::rules::MarketRules;

/// What a scan found.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanReport {
    /// Flagged captures, sorted by platform, listing, capture time.
    pub flagged: Vec<Flagged>,
    /// Captures read in the period (one per platform, listing and instant).
    pub captures: u64,
}

/// The store's reference tables, hashed.
pub fn reference(store: &Store) -> Result<Reference, MarketError> {
    let mut r = Reference::default();
    for f in store.tables(Kind::Enterprises) {
        for b in f.scan(&["enterprise_id"])? {
            let b = b?;
            let ids = b.texts("enterprise_id")?;
            for i in 0..b.rows() {
                r.add_enterprise(ids.value(i));
            }
        }
    }
    for f in store.tables(Kind::DeviceRegistrations) {
        let cols = [
            "registration_no",
            "holder_enterprise_id",
            "product",
            "valid_from",
            "valid_to",
        ];
        for b in f.scan(&cols)? {
            let b = b?;
            let (numbers, holders, products) = (
                b.texts("registration_no")?,
                b.texts("holder_enterprise_id")?,
                b.texts("product")?,
            );
            let (from, to) = (b.dates("valid_from")?, b.dates("valid_to")?);
            for i in 0..b.rows() {
                r.add_registration(
                    numbers.value(i),
                    Registration {
                        holder: holders.value(i).to_string(),
                        product: product(&f, products.value(i))?,
                        valid_from: Date(from.value(i)),
                        valid_to: to.is_valid(i).then(|| Date(to.value(i))),
                    },
                );
            }
        }
    }
    for f in store.tables(Kind::PriceBaselines) {
        let cols = ["shop_id", "product", "unit_price_cny", "date", RID_COLUMN];
        for b in f.scan(&cols)? {
            let b = b?;
            let (shops, products, prices, dates, rids) = (
                b.texts("shop_id")?,
                b.texts("product")?,
                b.floats("unit_price_cny")?,
                b.dates("date")?,
                b.ints(RID_COLUMN)?,
            );
            for i in 0..b.rows() {
                r.add_baseline(
                    shops.value(i),
                    product(&f, products.value(i))?,
                    Baseline {
                        unit_price_micro: micro(prices.value(i)),
                        date: Date(dates.value(i)),
                        rid: rids.value(i),
                    },
                );
            }
        }
    }
    Ok(r)
}

/// Row `i` of a nullable text column.
fn opt(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn product(f: &DataFile, s: &str) -> Result<Product, MarketError> {
    Product::parse(s).ok_or_else(|| f.corrupt(format!("product {s:?}")).into())
}

/// The columns of `listings` the rules read.
const COLUMNS: [&str; 14] = [
    "platform",
    "listing_id",
    "shop_id",
    "seller_enterprise_id",
    "seller_region",
    "title",
    "product",
    "standard",
    "registration_no",
    "price_cny",
    "units",
    "sales",
    "captured_time",
    RID_COLUMN,
];

/// The `listings` files of each day in `from..=to` (either end open).
pub(crate) fn days(
    store: &Store,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<BTreeMap<Date, Vec<DataFile>>, MarketError> {
    let mut by_day: BTreeMap<Date, Vec<DataFile>> = BTreeMap::new();
    for f in store.tables(Kind::Listings) {
        let day = f
            .date()
            .ok_or_else(|| f.corrupt("a listings file without its partition day"))?;
        if from.is_some_and(|d| day < d) || to.is_some_and(|d| day > d) {
            continue;
        }
        by_day.entry(day).or_default().push(f);
    }
    Ok(by_day)
}

/// Every flagged capture of `from..=to` (deployment-zone dates of capture, both ends inclusive;
/// `None` open) under `rules`.
pub fn scan(
    store: &Store,
    rules: &MarketRules,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<ScanReport, MarketError> {
    scan_many(store, &[rules], from, to).map(|mut v| v.remove(0))
}

/// The same captures under several rule sets (a rules diff), read once.
pub fn scan_many(
    store: &Store,
    rule_sets: &[&MarketRules],
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Vec<ScanReport>, MarketError> {
    let reference = reference(store)?;
    let zone = store.zone();
    let by_day = days(store, from, to)?;
    let per_day: Vec<(u64, Vec<Vec<Flagged>>)> = by_day
        .par_iter()
        .map(|(_, files)| {
            read_day(files, |captures| {
                let flagged = rule_sets
                    .iter()
                    .map(|rules| check::check(captures, &reference, rules, zone))
                    .collect();
                (captures.len() as u64, flagged)
            })
        })
        .collect::<Result<_, _>>()?;
    let mut out: Vec<ScanReport> = rule_sets
        .iter()
        .map(|_| ScanReport {
            flagged: Vec::new(),
            captures: 0,
        })
        .collect();
    // Sized once: the answer can be hundreds of megabytes, and growing it copies it.
    for (i, report) in out.iter_mut().enumerate() {
        let n: usize = per_day.iter().map(|(_, sets)| sets[i].len()).sum();
        report.flagged.reserve_exact(n);
    }
    for (n, sets) in per_day {
        for (report, flagged) in out.iter_mut().zip(sets) {
            report.captures += n;
            report.flagged.extend(flagged);
        }
    }
    for r in &mut out {
        Flagged::sort(&mut r.flagged);
    }
    Ok(out)
}

/// Reads one day's files and hands `f` its captures, one per platform, listing and instant
/// ([`check::dedupe`]), their text borrowed from the decoded columns: the scan and the price
/// monitoring ([`crate::prices`]) share this pass.
pub(crate) fn read_day<T>(
    files: &[DataFile],
    f: impl FnOnce(&[Capture<'_>]) -> T,
) -> Result<T, MarketError> {
    let mut batches = Vec::new();
    for f in files {
        for b in f.scan(&COLUMNS)? {
            batches.push(b?);
        }
    }
    let rows: usize = batches.iter().map(|b| b.rows()).sum();
    let mut captures: Vec<Capture<'_>> = Vec::with_capacity(rows);
    for b in &batches {
        let f = b.file();
        let text = |n: &str| b.texts(n);
        let (platform, listing, shop, seller, region, title, products, standard, reg) = (
            text("platform")?,
            text("listing_id")?,
            text("shop_id")?,
            text("seller_enterprise_id")?,
            text("seller_region")?,
            text("title")?,
            text("product")?,
            text("standard")?,
            text("registration_no")?,
        );
        let (price, units, sales, time, rid) = (
            b.floats("price_cny")?,
            b.ints("units")?,
            b.ints("sales")?,
            b.instants("captured_time")?,
            b.ints(RID_COLUMN)?,
        );
        for i in 0..b.rows() {
            let region = match opt(region, i) {
                Some(r) => Some(
                    Region::parse(r.as_bytes())
                        .map_err(|e| f.corrupt(format!("seller_region: {}", e.reason())))?,
                ),
                None => None,
            };
            let units = units.value(i);
            if units < 1 {
                return Err(f.corrupt("units below 1").into());
            }
            captures.push(Capture {
                platform: platform.value(i),
                listing_id: listing.value(i),
                shop_id: shop.value(i),
                seller: opt(seller, i),
                region,
                title: title.value(i),
                product: product(f, products.value(i))?,
                standard: opt(standard, i),
                registration_no: opt(reg, i),
                price_micro: micro(price.value(i)),
                units,
                sales: sales.is_valid(i).then(|| sales.value(i)),
                time: Timestamp(time.value(i)),
                rid: rid.value(i),
            });
        }
    }
    check::dedupe(&mut captures);
    Ok(f(&captures))
}
