//! Online mask listings for market supervision (contract §9): shops on four platforms selling
//! the five kinds of mask, captured once or twice a day; the device registrations of the
//! medical ones; the shops' pre-emergency prices; and a known set of violations of each rule,
//! recorded per capture in `truth/market.csv` (under the contract's default rules).
//!
//! Everything else is clean by construction, so the truth is exactly what a correct scan
//! flags: sellers are enterprises of `enterprises` (with their county as region), standards
//! and registrations match, titles make no claim, a shop with a baseline never asks more than
//! it, and prices without one stay within a band (0.8–2.3 times the product's reference, rising
//! from 2020-01-20) whose ends are less than k = 3 apart, so only an injected price of ten
//! times the reference is an outlier — injected only into a (day, prefecture, product) group of
//! at least five captures, one per group, so the median stays a clean price.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use model::{Date, EnterpriseId, Kind, Product, Region, Timestamp};

use crate::World;
use crate::bad_rows::BadRow;
use crate::rng::{Rng, tag};
use crate::writer::{FileStat, Row, Sink};
use crate::{Error, truth};

const PLATFORMS: [(&str, &str); 4] = [
    ("taobao", "TB"),
    ("tmall", "TM"),
    ("jd", "JD"),
    ("pinduoduo", "PD"),
];
/// Reference unit prices before the emergency, in fen, in [`Product::ALL`]'s order.
const REF_FEN: [i64; 5] = [800, 120, 60, 400, 30];
/// How often each product is listed.
const PRODUCT_WEIGHTS: [f64; 5] = [0.1, 0.2, 0.15, 0.15, 0.4];
/// The standard each product names, spelled a few ways a shop writes it.
const STANDARDS: [[&str; 3]; 5] = [
    ["GB 19083-2010", "GB19083", "gb 19083-2010"],
    ["YY 0469-2011", "YY0469", "yy 0469-2011"],
    ["YY/T 0969-2013", "YY/T0969", "yy/t 0969"],
    ["GB 2626-2006", "GB2626-2019", "gb 2626"],
    ["GB/T 32610-2016", "GB/T32610", "gb/t32610-2016"],
];
const TITLES: [&str; 5] = [
    "医用防护口罩 独立包装",
    "医用外科口罩 三层 灭菌级",
    "一次性使用医用口罩",
    "KN95 防护口罩 五层",
    "一次性防护口罩 三层 熔喷布",
];
const CLAIMS: [&str; 5] = ["医用", "防病毒", "抗病毒", "灭活", "99.99%"];
/// The most shops a market has.
const MAX_SHOPS: u64 = 50_000;
/// The day prices start rising (the first-level responses of late January).
const RISE_FROM: (i32, u32, u32) = (2020, 1, 20);

/// What a listing is, fixed over its captures.
struct Listing {
    platform: usize,
    shop: usize,
    id: String,
    seller: Option<String>,
    /// Whether the seller is in `enterprises`.
    known: bool,
    region: Option<Region>,
    product: Product,
    standard: Option<&'static str>,
    mismatch: bool,
    registration: Option<String>,
    /// Injected registration fault (`Some(None)`: no longer valid after that day).
    unregistered: Option<Option<Date>>,
    title: String,
    claim: bool,
    units: i64,
    /// The shop's baseline unit price for the product (fen), if it has one.
    baseline: Option<i64>,
    /// From this day on, priced above the baseline.
    rise_from: Option<Date>,
    /// One capture priced at ten times the reference, if its group allows.
    outlier_day: Option<Date>,
    sales: i64,
    captures_a_day: u32,
}

/// One capture of a day, before its price is settled.
struct Capture {
    listing: usize,
    time: Timestamp,
    price_fen: i64,
    outlier: bool,
    sales: i64,
}

/// A credit code of the generator's own, not among the economy's (theirs start `91`).
fn outside_enterprise(region: Region, n: u64) -> String {
    let mut body = *b"92000000MA0000000";
    let mut x = region.code();
    for i in (2..8).rev() {
        body[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let charset = EnterpriseId::charset();
    let mut v = n;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[(v % 31) as usize];
        v /= 31;
    }
    EnterpriseId::from_body(&body)
        .expect("charset body")
        .to_string()
}

fn fen_text(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Writes the market's files into `out` and its truth into `truth_dir`.
pub fn write(
    world: &World,
    out: &Path,
    truth_dir: &Path,
    cancel: &AtomicBool,
) -> Result<Vec<(FileStat, Vec<BadRow>)>, Error> {
    let config = world.config;
    let layout = world.layout;
    let eco = world.economy;
    // Capped, so memory (every listing is held for the days' prices) stays bounded whatever the
    // population: 50,000 shops is some 100,000 listings.
    let shops = ((layout.residents as f64 * world.rates.market_shops / 1000.0).round() as u64)
        .min(MAX_SHOPS);
    if shops == 0 || eco.total == 0 {
        return Ok(Vec::new());
    }
    let zone = world.zone;
    let ext = config.format.extension();
    let sink = |name: String, kind: Kind| {
        Sink::create(
            out,
            name,
            kind,
            config.format,
            config.bad_row_rate,
            config.seed,
        )
    };
    let mut written = Vec::new();
    let mut regs = sink(
        format!("device_registrations.{ext}"),
        Kind::DeviceRegistrations,
    )?;
    let mut bases = sink(format!("price_baselines.{ext}"), Kind::PriceBaselines)?;
    let mut row = Row::default();
    let mut next_reg = 0u64;
    let mut registration = |holder: &str,
                            product: Product,
                            to: Option<Date>,
                            row: &mut Row|
     -> Result<String, Error> {
        next_reg += 1;
        let no = format!("浙械注准2019214{next_reg:05}");
        row.clear();
        row.str(&no);
        row.str(holder);
        row.str(product.as_str());
        row.date(Date::from_ymd(2019, 1, 1).expect("a day"));
        match to {
            Some(d) => row.date(d),
            None => row.empty(),
        }
        regs.write(row)?;
        Ok(no)
    };
    let first = config.start;
    let last = first.add_days(config.days as i32 - 1);
    let rise_start = Date::from_ymd(RISE_FROM.0, RISE_FROM.1, RISE_FROM.2).expect("a day");
    let mut listings: Vec<Listing> = Vec::new();
    for s in 0..shops {
        if s % 4096 == 0 && cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let mut r = Rng::at(world.seed, tag::MARKET, s, 0);
        let platform = (s % 4) as usize;
        let shop_id = format!("{}{s:06}", PLATFORMS[platform].1);
        let county = r.below(layout.counties.len() as u64) as usize;
        let (seller, known, mut region) = match r.f64() {
            x if x < 0.04 => (None, false, Some(layout.counties[county].region)),
            x if x < 0.08 => {
                let c = layout.counties[county].region;
                (Some(outside_enterprise(c, s)), false, Some(c))
            }
            _ => {
                let e = eco.enterprise(layout, r.below(eco.total));
                let c = layout.counties[e.county].region;
                (Some(e.id.to_string()), true, Some(c))
            }
        };
        if r.chance(0.05) {
            region = None;
        }
        let has_baseline = r.chance(0.6);
        let mut shop_baselines: HashMap<Product, i64> = HashMap::new();
        for l in 0..1 + r.below(3) {
            let mut lr = Rng::at(world.seed, tag::MARKET, s, 1 + l);
            let product = Product::ALL[lr.weighted(&PRODUCT_WEIGHTS)];
            let p = product as usize;
            let units = match product {
                Product::MedicalProtective | Product::Respirator => *lr.pick(&[1i64, 5, 10]),
                _ => *lr.pick(&[10i64, 30, 50]),
            };
            let baseline = if has_baseline {
                let b = *shop_baselines.entry(product).or_insert_with(|| {
                    let mut br = Rng::at(world.seed, tag::MARKET, s, 100 + p as u64);
                    let b = (REF_FEN[p] as f64 * (0.9 + 0.2 * br.f64())).round() as i64;
                    b.max(10)
                });
                Some(b)
            } else {
                None
            };
            let mismatch = lr.chance(0.03);
            let standard = if mismatch {
                // Another product's standard: a daily mask sold as a respirator, and so on.
                Some(STANDARDS[(p + 1 + lr.below(4) as usize) % 5][0])
            } else if lr.chance(if known { 0.15 } else { 0.4 }) {
                None
            } else {
                Some(STANDARDS[p][lr.below(3) as usize])
            };
            let medical = matches!(
                product,
                Product::MedicalProtective | Product::Surgical | Product::Medical
            );
            // The registration's holder: the seller, or for a seller not in `enterprises` a
            // maker it resells.
            let holder = match (&seller, known) {
                (Some(id), true) => id.clone(),
                _ => eco.enterprise(layout, lr.below(eco.total)).id.to_string(),
            };
            let (registration, unregistered) = if !medical {
                (None, None)
            } else {
                match lr.f64() {
                    x if x < 0.02 => (None, Some(None)),
                    x if x < 0.04 => (
                        Some(format!("浙械注准2019299{:05}", lr.below(100_000))),
                        Some(None),
                    ),
                    x if x < 0.06 => {
                        let other = Product::ALL[(p + 1 + lr.below(2) as usize) % 3];
                        (
                            Some(registration(&holder, other, None, &mut row)?),
                            Some(None),
                        )
                    }
                    x if x < 0.08 && config.days > 2 => {
                        // Valid until a day inside the period: captures after it are not.
                        let end = first.add_days(1 + lr.below(config.days as u64 - 2) as i32);
                        let no = registration(&holder, product, Some(end), &mut row)?;
                        (Some(no), Some(Some(end)))
                    }
                    _ => {
                        let to = lr
                            .chance(0.5)
                            .then(|| Date::from_ymd(2024, 12, 31).expect("a day"));
                        (Some(registration(&holder, product, to, &mut row)?), None)
                    }
                }
            };
            let claim = matches!(product, Product::Daily | Product::Respirator) && lr.chance(0.05);
            let title = if claim {
                format!("{} {}", TITLES[p], CLAIMS[lr.below(5) as usize])
            } else {
                TITLES[p].to_string()
            };
            let rise_from =
                (baseline.is_some() && lr.chance(0.08) && last >= rise_start).then(|| {
                    let span = (last.days() - rise_start.days()).max(0) as u64 + 1;
                    rise_start.add_days(lr.below(span) as i32)
                });
            let outlier_day = (baseline.is_none() && region.is_some() && lr.chance(0.03))
                .then(|| first.add_days(lr.below(config.days as u64) as i32));
            listings.push(Listing {
                platform,
                shop: s as usize,
                id: format!("{shop_id}-{l}"),
                seller: seller.clone(),
                known,
                region,
                product,
                standard,
                mismatch,
                registration,
                unregistered,
                title,
                claim,
                units,
                baseline,
                rise_from,
                outlier_day,
                sales: lr.below(5_000) as i64,
                captures_a_day: 1 + lr.below(2) as u32,
            });
        }
        if let Some(prices) = has_baseline.then_some(&shop_baselines) {
            let mut sorted: Vec<_> = prices.iter().collect();
            sorted.sort();
            for (product, fen) in sorted {
                // An older, higher price first: the latest date is the baseline.
                for (date, price) in [((2019, 6, 18), fen * 13 / 10), ((2019, 12, 20), *fen)] {
                    row.clear();
                    row.str(&format!("{}{s:06}", PLATFORMS[platform].1));
                    row.str(product.as_str());
                    row.str(&fen_text(price));
                    row.date(Date::from_ymd(date.0, date.1, date.2).expect("a day"));
                    bases.write(&row)?;
                }
            }
        }
    }
    written.push(regs.finish()?);
    written.push(bases.finish()?);

    let mut truth_rows: Vec<(String, String, Timestamp, &'static str)> = Vec::new();
    for d in 0..config.days {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let day = first.add_days(d as i32);
        // Prices rise 4 % a day from the 20th, to twice the reference at most (in permille).
        let rise = (1000 + 40 * (day.days() - rise_start.days()).max(0) as i64).min(2000);
        let mut caps: Vec<Capture> = Vec::new();
        for (i, l) in listings.iter_mut().enumerate() {
            let mut r = Rng::at(world.seed, tag::MARKET, i as u64, 10_000 + d as u64);
            let p = l.product as usize;
            for c in 0..l.captures_a_day {
                let minute = if c == 0 {
                    8 * 60 + r.below(5 * 60) as i64
                } else {
                    15 * 60 + r.below(7 * 60) as i64
                };
                let time = day
                    .start(zone)
                    .add_ms(minute * 60_000 + r.below(60) as i64 * 1000);
                l.sales += r.below(200) as i64;
                let price_fen = match l.baseline {
                    Some(b) if l.rise_from.is_some_and(|f| day >= f) => {
                        // Above the baseline by a fifth to a half, rounded up.
                        let m = 120 + r.below(31) as i64;
                        (b * l.units * m + 99) / 100
                    }
                    // At or below the baseline, rounded down.
                    Some(b) => b * l.units * [100, 95, 90][r.below(3) as usize] / 100,
                    None => {
                        let jitter = 900 + r.below(201) as i64;
                        (REF_FEN[p] * l.units * rise * jitter + 500_000) / 1_000_000
                    }
                };
                let outlier = c == 0 && l.outlier_day == Some(day);
                caps.push(Capture {
                    listing: i,
                    time,
                    price_fen,
                    outlier,
                    sales: l.sales,
                });
            }
        }
        // An outlier only where its group has at least five captures, one per group.
        let mut group_size: HashMap<(Region, Product), usize> = HashMap::new();
        for c in &caps {
            let l = &listings[c.listing];
            if let Some(r) = l.region {
                *group_size.entry((r.prefecture(), l.product)).or_default() += 1;
            }
        }
        let mut taken: HashMap<(Region, Product), bool> = HashMap::new();
        for c in &mut caps {
            if !c.outlier {
                continue;
            }
            let l = &listings[c.listing];
            let key = (
                l.region.expect("outliers have a region").prefecture(),
                l.product,
            );
            let used = taken.entry(key).or_default();
            if group_size[&key] >= 5 && !*used {
                *used = true;
                c.price_fen = REF_FEN[l.product as usize] * l.units * 10 * rise / 1000;
            } else {
                c.outlier = false;
            }
        }
        caps.sort_by_key(|c| (listings[c.listing].platform, c.listing, c.time));
        let mut file = sink(format!("listings-{day}.{ext}"), Kind::Listings)?;
        for c in &caps {
            let l = &listings[c.listing];
            row.clear();
            row.str(PLATFORMS[l.platform].0);
            row.str(&l.id);
            row.str(&format!("{}{:06}", PLATFORMS[l.platform].1, l.shop));
            match &l.seller {
                Some(s) => row.str(s),
                None => row.empty(),
            }
            match l.region {
                Some(r) => row.region(r),
                None => row.empty(),
            }
            row.str(&l.title);
            row.str(l.product.as_str());
            match l.standard {
                Some(s) => row.str(s),
                None => row.empty(),
            }
            match &l.registration {
                Some(s) => row.str(s),
                None => row.empty(),
            }
            row.str(&fen_text(c.price_fen));
            row.int(l.units);
            row.int(c.sales);
            row.ts(c.time, zone);
            file.write(&row)?;
            let mut rules: Vec<&'static str> = Vec::new();
            if !l.known {
                rules.push("unknown_seller");
                if l.standard.is_none() {
                    rules.push("no_standard");
                }
            }
            if l.mismatch {
                rules.push("standard_mismatch");
            }
            match l.unregistered {
                Some(None) => rules.push("unregistered"),
                Some(Some(end)) if day > end => rules.push("unregistered"),
                _ => {}
            }
            if l.claim {
                rules.push("efficacy_claim");
            }
            if l.baseline.is_some() && l.rise_from.is_some_and(|f| day >= f) {
                rules.push("price_rise");
            }
            if c.outlier {
                rules.push("price_outlier");
            }
            let platform = PLATFORMS[l.platform].0.to_string();
            for rule in rules {
                truth_rows.push((platform.clone(), l.id.clone(), c.time, rule));
            }
        }
        // Every listing is captured every day, so no day's file is empty.
        written.push(file.finish()?);
    }
    truth_rows.sort();
    let mut text = String::from("platform,listing_id,captured_time,rule\n");
    for (platform, listing, time, rule) in &truth_rows {
        text.push_str(&format!(
            "{platform},{listing},{},{rule}\n",
            time.to_rfc3339(zone)
        ));
    }
    truth::write_file(&truth_dir.join("market.csv"), text.as_bytes())?;
    Ok(written)
}
