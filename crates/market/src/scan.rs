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

/// A value the contract requires (the store holds none without it; a file without it is not
/// one of ours).
fn needed<'v>(f: &DataFile, column: &str, v: Option<&'v str>) -> Result<&'v str, MarketError> {
    v.ok_or_else(|| f.corrupt(format!("{column} missing")).into())
}

fn product(f: &DataFile, s: &str) -> Result<Product, MarketError> {
    Product::parse(s).ok_or_else(|| f.corrupt(format!("product {s:?}")).into())
}

/// The columns of `listings` the rules read, decoded as text or numbers.
const COLUMNS: [&str; 7] = [
    "listing_id",
    "title",
    "price_cny",
    "units",
    "sales",
    "captured_time",
    RID_COLUMN,
];

/// The text columns of `listings` the rules read whose values repeat (a shop's, a seller's,
/// a product's): read as keys into their distinct values, so Parquet's dictionary pages are
/// not copied out into a string per row, and a region or product is parsed once per value.
const KEYED: [&str; 7] = [
    "platform",
    "shop_id",
    "seller_enterprise_id",
    "seller_region",
    "product",
    "standard",
    "registration_no",
];

/// Each distinct value of a keyed column parsed once: `parse` of the value at key `k`.
struct Parsed<T> {
    values: Vec<Option<T>>,
}

impl<T: Copy> Parsed<T> {
    fn new(distinct: usize) -> Self {
        Parsed {
            values: vec![None; distinct],
        }
    }

    fn get(
        &mut self,
        k: usize,
        text: &StringArray,
        parse: impl FnOnce(&str) -> Result<T, MarketError>,
    ) -> Result<T, MarketError> {
        match self.values.get(k).copied().flatten() {
            Some(v) => Ok(v),
            None => {
                let v = parse(text.value(k))?;
                if let Some(slot) = self.values.get_mut(k) {
                    *slot = Some(v);
                }
                Ok(v)
            }
        }
    }
}

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
                    .map(|rules| {
                        let mut flagged = check::check(captures, &reference, rules, zone);
                        Flagged::sort(&mut flagged);
                        flagged
                    })
                    .collect();
                (captures.len() as u64, flagged)
            })
        })
        .collect::<Result<_, _>>()?;
    let captures: u64 = per_day.iter().map(|(n, _)| n).sum();
    let mut runs: Vec<Vec<Vec<Flagged>>> = rule_sets.iter().map(|_| Vec::new()).collect();
    for (_, sets) in per_day {
        for (runs, flagged) in runs.iter_mut().zip(sets) {
            runs.push(flagged);
        }
    }
    Ok(runs
        .into_iter()
        .map(|days| ScanReport {
            flagged: merge(days),
            captures,
        })
        .collect())
}

/// Merges runs each in the contract's order (a day's answer, sorted) into one,
/// moving each flagged capture once: the answer can be hundreds of megabytes, and sorting it
/// whole moved each capture several times and compared keys the days had already ordered.
fn merge(runs: Vec<Vec<Flagged>>) -> Vec<Flagged> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    fn key(f: &Flagged) -> (&str, &str, Timestamp) {
        (&f.platform, &f.listing_id, f.captured_time)
    }
    let total: usize = runs.iter().map(Vec::len).sum();
    // Which run each place of the answer comes from (a run's captures leave it in order); equal
    // keys, which a scan never has, would keep the runs' order.
    let mut from: Vec<u32> = Vec::with_capacity(total);
    let mut next = vec![0usize; runs.len()];
    let mut heads: BinaryHeap<Reverse<(_, u32)>> = runs
        .iter()
        .enumerate()
        .filter_map(|(r, run)| run.first().map(|f| Reverse((key(f), r as u32))))
        .collect();
    while let Some(Reverse((_, r))) = heads.pop() {
        from.push(r);
        let run = r as usize;
        next[run] += 1;
        if let Some(f) = runs[run].get(next[run]) {
            heads.push(Reverse((key(f), r)));
        }
    }
    let mut runs: Vec<std::vec::IntoIter<Flagged>> = runs.into_iter().map(Vec::into_iter).collect();
    // Sized once (`filter_map` gives no exact length, so collecting grew it by doubling,
    // copying hundreds of megabytes into fresh pages).
    let mut merged = Vec::with_capacity(total);
    merged.extend(from.into_iter().filter_map(|r| runs[r as usize].next()));
    merged
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
        for b in f.scan_keyed(&COLUMNS, &KEYED)? {
            batches.push(b?);
        }
    }
    let rows: usize = batches.iter().map(|b| b.rows()).sum();
    let mut captures: Vec<Capture<'_>> = Vec::with_capacity(rows);
    for b in &batches {
        let f = b.file();
        let keyed = |n: &str| b.keyed_texts(n);
        let (platform, shop, seller, region, products, standard, reg) = (
            keyed("platform")?,
            keyed("shop_id")?,
            keyed("seller_enterprise_id")?,
            keyed("seller_region")?,
            keyed("product")?,
            keyed("standard")?,
            keyed("registration_no")?,
        );
        let (listing, title) = (b.texts("listing_id")?, b.texts("title")?);
        let (price, units, sales, time, rid) = (
            b.floats("price_cny")?,
            b.ints("units")?,
            b.ints("sales")?,
            b.instants("captured_time")?,
            b.ints(RID_COLUMN)?,
        );
        let mut regions = Parsed::new(region.values().len());
        let mut product_of = Parsed::new(products.values().len());
        for i in 0..b.rows() {
            let region = match region.key(i) {
                Some(k) => Some(regions.get(k, region.values(), |r| {
                    Region::parse(r.as_bytes())
                        .map_err(|e| f.corrupt(format!("seller_region: {}", e.reason())).into())
                })?),
                None => None,
            };
            let product = match products.key(i) {
                Some(k) => product_of.get(k, products.values(), |p| product(f, p))?,
                None => return Err(f.corrupt("product missing").into()),
            };
            let units = units.value(i);
            if units < 1 {
                return Err(f.corrupt("units below 1").into());
            }
            captures.push(Capture {
                platform: needed(f, "platform", platform.get(i))?,
                listing_id: listing.value(i),
                shop_id: needed(f, "shop_id", shop.get(i))?,
                seller: seller.get(i),
                region,
                title: title.value(i),
                product,
                standard: standard.get(i),
                registration_no: reg.get(i),
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
