//! The seven rules of contract §9 over listing captures held in memory, with the evidence that
//! made each fire. The store pass ([`crate::scan`]) hands this a day of captures at a time,
//! borrowing their text from the decoded columns; the reference tables (enterprises,
//! registrations, baselines) are hashed once ([`Reference`]), so each capture costs a handful
//! of lookups and the median of its day, prefecture and product is computed once per group.

use std::collections::hash_map::Entry;

use model::{Date, Product, Region, Timestamp, Zone};
use serde::Serialize;

use crate::money::{MICRO, Ratio};
use crate::rules::{K_SCALE, MarketRules, PERCENT_SCALE, normalise_standard};
use crate::{FastMap, FastSet};

/// A rule's id. The variants are in the ids' alphabetical order, so sorting rules sorts ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    EfficacyClaim,
    NoStandard,
    PriceOutlier,
    PriceRise,
    StandardMismatch,
    UnknownSeller,
    Unregistered,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::EfficacyClaim,
        Rule::NoStandard,
        Rule::PriceOutlier,
        Rule::PriceRise,
        Rule::StandardMismatch,
        Rule::UnknownSeller,
        Rule::Unregistered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::EfficacyClaim => "efficacy_claim",
            Rule::NoStandard => "no_standard",
            Rule::PriceOutlier => "price_outlier",
            Rule::PriceRise => "price_rise",
            Rule::StandardMismatch => "standard_mismatch",
            Rule::UnknownSeller => "unknown_seller",
            Rule::Unregistered => "unregistered",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Products that are medical devices and need a registration.
pub fn needs_registration(p: Product) -> bool {
    matches!(
        p,
        Product::MedicalProtective | Product::Surgical | Product::Medical
    )
}

/// Whether a registration number has the shape registrations are published in: the issuing
/// authority (`国` for the national administration, or a province's abbreviation), `械注`,
/// `准` (domestic), `进` (imported) or `许` (Hong Kong, Macao, Taiwan), then eleven digits
/// beginning with the year (`浙械注准20192140001`, `国械注进20153462055`). Evidence only: a
/// number of another shape is simply not found among the registrations.
pub fn published_shape(no: &str) -> bool {
    let mut chars = no.chars();
    let authority = chars
        .next()
        .is_some_and(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let rest: String = chars.collect();
    let Some(tail) = rest.strip_prefix("械注") else {
        return false;
    };
    let mut tail = tail.chars();
    let kind = matches!(tail.next(), Some('准' | '进' | '许'));
    let digits: Vec<char> = tail.collect();
    let year_ok = digits.len() == 11
        && digits.iter().all(char::is_ascii_digit)
        && matches!((digits[0], digits[1]), ('1', '9') | ('2', '0'));
    authority && kind && year_ok
}

/// Products whose titles may make no medical claim.
pub fn no_claims_allowed(p: Product) -> bool {
    matches!(p, Product::Daily | Product::Respirator)
}

/// One stored listing capture, its text borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Capture<'a> {
    pub platform: &'a str,
    pub listing_id: &'a str,
    pub shop_id: &'a str,
    pub seller: Option<&'a str>,
    pub region: Option<Region>,
    pub title: &'a str,
    pub product: Product,
    pub standard: Option<&'a str>,
    pub registration_no: Option<&'a str>,
    /// The listing's price in micro-yuan ([`crate::money::micro`]).
    pub price_micro: i64,
    /// Masks per listing unit, at least 1.
    pub units: i64,
    pub sales: Option<i64>,
    pub time: Timestamp,
    /// The row id: of two captures of one listing at one instant, the later ingested counts.
    pub rid: i64,
}

impl Capture<'_> {
    /// `price_cny / units`, exactly.
    pub fn unit_price(&self) -> Ratio {
        Ratio::new(self.price_micro, self.units)
    }
}

/// One row of `device_registrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub holder: String,
    pub product: Product,
    pub valid_from: Date,
    /// `None`: open.
    pub valid_to: Option<Date>,
}

impl Registration {
    pub fn valid_on(&self, day: Date) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }
}

/// A shop's baseline for one product: the row with the latest date (of several on that date,
/// the later ingested).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baseline {
    pub unit_price_micro: i64,
    pub date: Date,
    pub rid: i64,
}

/// The reference tables, hashed.
#[derive(Debug, Default)]
pub struct Reference {
    enterprises: FastSet<String>,
    registrations: FastMap<String, Vec<Registration>>,
    baselines: FastMap<String, [Option<Baseline>; 5]>,
}

impl Reference {
    pub fn add_enterprise(&mut self, id: &str) {
        if !self.enterprises.contains(id) {
            self.enterprises.insert(id.to_string());
        }
    }

    pub fn add_registration(&mut self, number: &str, r: Registration) {
        match self.registrations.get_mut(number) {
            Some(v) => v.push(r),
            None => {
                self.registrations.insert(number.to_string(), vec![r]);
            }
        }
    }

    pub fn add_baseline(&mut self, shop: &str, product: Product, b: Baseline) {
        let slots = match self.baselines.get_mut(shop) {
            Some(s) => s,
            None => self.baselines.entry(shop.to_string()).or_default(),
        };
        let slot = &mut slots[product as usize];
        if slot.is_none_or(|old| (b.date, b.rid) > (old.date, old.rid)) {
            *slot = Some(b);
        }
    }

    pub fn has_enterprise(&self, id: &str) -> bool {
        self.enterprises.contains(id)
    }

    pub fn registrations(&self, number: &str) -> &[Registration] {
        self.registrations.get(number).map_or(&[], Vec::as_slice)
    }

    pub fn baseline(&self, shop: &str, product: Product) -> Option<Baseline> {
        self.baselines.get(shop).and_then(|s| s[product as usize])
    }
}

/// What made each rule fire; only the rules that fired are present (in the ids' order). Each
/// is boxed: most captures fire one rule or none, and a flagged capture stays small to move
/// (a scan's answer holds hundreds of thousands).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efficacy_claim: Option<Box<ClaimEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_standard: Option<Box<NoStandardEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_outlier: Option<Box<OutlierEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_rise: Option<Box<RiseEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_mismatch: Option<Box<MismatchEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_seller: Option<Box<SellerEvidence>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unregistered: Option<Box<RegistrationEvidence>>,
}

/// The claim words found in the title of a product that may make none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClaimEvidence {
    pub product: &'static str,
    pub words: Vec<String>,
}

/// No standard named, and no known maker.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoStandardEvidence {
    pub standard: Option<String>,
    pub seller_enterprise_id: Option<String>,
}

/// The median the unit price was compared with: of which day, prefecture and product, over
/// how many captures, and the factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutlierEvidence {
    pub date: String,
    pub prefecture: String,
    pub product: &'static str,
    pub median_unit_price_cny: f64,
    pub captures: u64,
    pub k: f64,
}

/// The baseline the unit price rose above.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiseEvidence {
    pub baseline_unit_price_cny: f64,
    pub baseline_date: String,
    pub tolerance_percent: f64,
}

/// The standard named and the one the product must name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MismatchEvidence {
    pub product: &'static str,
    pub given: String,
    pub expected: String,
}

/// The seller id given (none, or one not in `enterprises`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SellerEvidence {
    pub seller_enterprise_id: Option<String>,
    /// `empty` or `not_in_enterprises`.
    pub reason: &'static str,
}

/// Why a medical mask's registration does not hold, with what the registrations say.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegistrationEvidence {
    pub product: &'static str,
    pub registration_no: Option<String>,
    /// Whether the number has the published shape ([`published_shape`]); `None` without one.
    pub published_shape: Option<bool>,
    /// The capture's deployment-zone date, against which validity is judged.
    pub capture_date: String,
    /// `empty`, `not_found`, `other_product` or `not_valid`.
    pub reason: &'static str,
    /// Every registration row of that number.
    pub registered: Vec<RegisteredView>,
}

/// One registration row, as evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegisteredView {
    pub product: &'static str,
    pub holder_enterprise_id: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

/// One flagged capture.
#[derive(Clone, Debug, PartialEq)]
pub struct Flagged {
    pub platform: String,
    pub listing_id: String,
    pub shop_id: String,
    pub captured_time: Timestamp,
    pub unit_price: Ratio,
    /// Sorted, each once.
    pub rules: Vec<Rule>,
    pub evidence: Evidence,
    /// For leads: who sells, where, how much, what.
    pub seller_enterprise_id: Option<String>,
    pub seller_region: Option<Region>,
    pub sales: Option<i64>,
    pub product: Product,
}

impl Flagged {
    /// The contract's order: platform, listing, capture time (stable). A flagged capture is
    /// large (its evidence inline, hundreds of bytes), so the order is found on indices (a
    /// stable sort) and each capture is then moved into place once, by swaps along the
    /// permutation's cycles.
    /// Sorting the captures themselves moved each several times through a scratch copy as
    /// large as the whole answer (at 1 M captures, gigabytes of copying and fresh pages).
    pub fn sort(all: &mut [Flagged]) {
        fn key(f: &Flagged) -> (&str, &str, Timestamp) {
            (&f.platform, &f.listing_id, f.captured_time)
        }
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by(|&a, &b| key(&all[a]).cmp(&key(&all[b])));
        // `order[k]` is where position k's capture is now; follow each cycle once.
        for start in 0..all.len() {
            let mut k = start;
            while order[k] != k {
                let from = order[k];
                order[k] = k;
                if from == start {
                    break;
                }
                all.swap(k, from);
                k = from;
            }
        }
    }
}

/// 100 % in the tolerance's fixed point.
const HUNDRED_PERCENT: i64 = 100 * PERCENT_SCALE;

/// Keeps one capture per platform, listing and instant: the later ingested (the larger row id),
/// in the place of the first of them; the captures keep their order otherwise. A hash of the
/// key rather than a sort: sorting a day's captures by their text keys was a sixth of a scan
/// (tens of comparisons each), and only the flagged ones need the contract's order
/// ([`Flagged::sort`]).
pub fn dedupe(captures: &mut Vec<Capture<'_>>) {
    let mut slot: FastMap<(&str, &str, Timestamp), usize> =
        FastMap::with_capacity_and_hasher(captures.len(), Default::default());
    let mut kept = 0;
    for i in 0..captures.len() {
        let c = captures[i];
        match slot.entry((c.platform, c.listing_id, c.time)) {
            Entry::Vacant(e) => {
                e.insert(kept);
                captures[kept] = c;
                kept += 1;
            }
            Entry::Occupied(e) => {
                let k = &mut captures[*e.get()];
                if c.rid > k.rid {
                    *k = c;
                }
            }
        }
    }
    captures.truncate(kept);
}

/// The medians of a set of captures: per deployment-zone day, prefecture of `seller_region` and
/// product, the median unit price and the number of captures (those without a region are not
/// counted).
pub fn medians(
    captures: &[Capture<'_>],
    zone: Zone,
) -> FastMap<(Date, Region, Product), (Ratio, u64)> {
    let mut groups: FastMap<(Date, Region, Product), Vec<Ratio>> = FastMap::default();
    let mut memo: Option<(Region, Region)> = None;
    for c in captures {
        let Some(region) = c.region else { continue };
        // Captures of one seller come together often: the roll-up is looked up once for them.
        let pref = match memo {
            Some((r, p)) if r == region => p,
            _ => {
                let p = region.prefecture();
                memo = Some((region, p));
                p
            }
        };
        groups
            .entry((c.time.date(zone), pref, c.product))
            .or_default()
            .push(c.unit_price());
    }
    groups
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            let n = v.len();
            let m = if n % 2 == 1 {
                v[n / 2]
            } else {
                Ratio::mean(v[n / 2 - 1], v[n / 2])
            };
            (k, (m, n as u64))
        })
        .collect()
}

/// The rules over `captures` (one capture per platform, listing and instant: [`dedupe`]),
/// returning the flagged ones in the captures' order (the scan sorts them: [`Flagged::sort`];
/// price monitoring needs no order).
pub fn check(
    captures: &[Capture<'_>],
    reference: &Reference,
    rules: &MarketRules,
    zone: Zone,
) -> Vec<Flagged> {
    let medians = medians(captures, zone);
    let mut memo = Memo::default();
    // Sized for every capture (pages never written cost nothing): growing it by doubling
    // copied each day's answer about twice into fresh pages.
    let mut flagged: Vec<Flagged> = Vec::with_capacity(captures.len());
    flagged.extend(
        captures
            .iter()
            .filter_map(|c| check_one(c, reference, rules, zone, &medians, &mut memo)),
    );
    flagged
}

/// What repeats across captures — a shop's standard, a listing's title — judged once per
/// distinct text (no allocation per capture for the common case).
#[derive(Default)]
struct Memo<'a, 'r> {
    /// (standard, product) → whether it is the product's.
    standards: FastMap<(&'a str, Product), bool>,
    /// title → the claim words in it.
    claims: FastMap<&'a str, Vec<&'r str>>,
}

fn check_one<'a, 'r>(
    c: &Capture<'a>,
    reference: &Reference,
    rules: &'r MarketRules,
    zone: Zone,
    medians: &FastMap<(Date, Region, Product), (Ratio, u64)>,
    memo: &mut Memo<'a, 'r>,
) -> Option<Flagged> {
    let mut ev = Evidence::default();
    let day = c.time.date(zone);
    let unit = c.unit_price();
    let known_seller = c.seller.is_some_and(|s| reference.has_enterprise(s));
    if !known_seller {
        ev.unknown_seller = Some(Box::new(SellerEvidence {
            seller_enterprise_id: c.seller.map(str::to_string),
            reason: if c.seller.is_some() {
                "not_in_enterprises"
            } else {
                "empty"
            },
        }));
    }
    if needs_registration(c.product) {
        let rows = c
            .registration_no
            .map_or(&[][..], |n| reference.registrations(n));
        let reason = if c.registration_no.is_none() {
            Some("empty")
        } else if rows.is_empty() {
            Some("not_found")
        } else if !rows.iter().any(|r| r.product == c.product) {
            Some("other_product")
        } else if !rows
            .iter()
            .any(|r| r.product == c.product && r.valid_on(day))
        {
            Some("not_valid")
        } else {
            None
        };
        if let Some(reason) = reason {
            ev.unregistered = Some(Box::new(RegistrationEvidence {
                product: c.product.as_str(),
                registration_no: c.registration_no.map(str::to_string),
                published_shape: c.registration_no.map(published_shape),
                capture_date: day.to_string(),
                reason,
                registered: rows
                    .iter()
                    .map(|r| RegisteredView {
                        product: r.product.as_str(),
                        holder_enterprise_id: r.holder.clone(),
                        valid_from: r.valid_from.to_string(),
                        valid_to: r.valid_to.map(|d| d.to_string()),
                    })
                    .collect(),
            }));
        }
    }
    match c.standard {
        Some(given) => {
            let (expected, norm) = rules.standard(c.product);
            let ok = *memo
                .standards
                .entry((given, c.product))
                .or_insert_with(|| normalise_standard(given) == norm);
            if !ok {
                ev.standard_mismatch = Some(Box::new(MismatchEvidence {
                    product: c.product.as_str(),
                    given: given.to_string(),
                    expected: expected.to_string(),
                }));
            }
        }
        None if !known_seller => {
            ev.no_standard = Some(Box::new(NoStandardEvidence {
                standard: None,
                seller_enterprise_id: c.seller.map(str::to_string),
            }));
        }
        None => {}
    }
    match reference.baseline(c.shop_id, c.product) {
        Some(b) => {
            let base = Ratio::new(b.unit_price_micro, 1);
            if unit.exceeds(base, HUNDRED_PERCENT + rules.tolerance_e4, HUNDRED_PERCENT) {
                ev.price_rise = Some(Box::new(RiseEvidence {
                    baseline_unit_price_cny: b.unit_price_micro as f64 / MICRO as f64,
                    baseline_date: b.date.to_string(),
                    tolerance_percent: rules.tolerance_percent(),
                }));
            }
        }
        None => {
            if let Some(region) = c.region {
                let pref = region.prefecture();
                if let Some(&(median, n)) = medians.get(&(day, pref, c.product))
                    && unit.exceeds(median, rules.k_e4, K_SCALE)
                {
                    ev.price_outlier = Some(Box::new(OutlierEvidence {
                        date: day.to_string(),
                        prefecture: pref.to_string(),
                        product: c.product.as_str(),
                        median_unit_price_cny: median.cny(),
                        captures: n,
                        k: rules.k(),
                    }));
                }
            }
        }
    }
    if no_claims_allowed(c.product) {
        let words = memo
            .claims
            .entry(c.title)
            .or_insert_with(|| rules.claims_in(c.title))
            .clone();
        if !words.is_empty() {
            ev.efficacy_claim = Some(Box::new(ClaimEvidence {
                product: c.product.as_str(),
                words: words.into_iter().map(str::to_string).collect(),
            }));
        }
    }
    let fired = [
        (Rule::EfficacyClaim, ev.efficacy_claim.is_some()),
        (Rule::NoStandard, ev.no_standard.is_some()),
        (Rule::PriceOutlier, ev.price_outlier.is_some()),
        (Rule::PriceRise, ev.price_rise.is_some()),
        (Rule::StandardMismatch, ev.standard_mismatch.is_some()),
        (Rule::UnknownSeller, ev.unknown_seller.is_some()),
        (Rule::Unregistered, ev.unregistered.is_some()),
    ];
    let rules: Vec<Rule> = fired.iter().filter(|f| f.1).map(|f| f.0).collect();
    if rules.is_empty() {
        return None;
    }
    Some(Flagged {
        platform: c.platform.to_string(),
        listing_id: c.listing_id.to_string(),
        shop_id: c.shop_id.to_string(),
        captured_time: c.time,
        unit_price: unit,
        rules,
        evidence: ev,
        seller_enterprise_id: c.seller.map(str::to_string),
        seller_region: c.region,
        sales: c.sales,
        product: c.product,
    })
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
