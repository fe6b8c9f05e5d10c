//! Leads (contract §9): the flagged captures grouped per seller (per shop of a platform when
//! the listing names no seller), ranked by the number of distinct rules, then total sales,
//! and routed to the county of the seller's region.

use std::collections::{BTreeMap, BTreeSet};

use model::{Region, Timestamp};

use crate::check::{Flagged, Rule};

/// Who a lead is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// A seller by its credit code (known to `enterprises` or not).
    Seller(String),
    /// A shop of a platform, for listings that name no seller.
    Shop { platform: String, shop_id: String },
}

impl Subject {
    /// A stable id: `seller:<credit code>` or `shop:<platform>/<shop id>`.
    pub fn id(&self) -> String {
        match self {
            Subject::Seller(s) => format!("seller:{s}"),
            Subject::Shop { platform, shop_id } => format!("shop:{platform}/{shop_id}"),
        }
    }
}

/// One lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lead {
    pub subject: Subject,
    /// Where it is routed: the seller region of its latest flagged capture that has one (of
    /// two at one instant, the later in the scan's order), as given (a county code, or a
    /// coarser one when that is all the listing said); `None` when no capture said.
    pub county: Option<Region>,
    /// Distinct rules among its flagged captures, sorted.
    pub rules: Vec<Rule>,
    /// Distinct flagged listings (platform, listing id), sorted.
    pub listings: Vec<(String, String)>,
    pub captures: u64,
    /// Per flagged listing the sales of its latest flagged capture (sales are a listing's
    /// running count, so captures are not added up), summed.
    pub sales: i64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Groups `flagged` (in the scan's order) into leads, ranked: more distinct rules first, then more
/// sales, then by id.
pub fn leads(flagged: &[Flagged]) -> Vec<Lead> {
    struct Acc<'a> {
        rules: BTreeSet<Rule>,
        // Per listing: the latest capture's time and sales.
        listings: BTreeMap<(&'a str, &'a str), (Timestamp, Option<i64>)>,
        region: Option<(Timestamp, Region)>,
        captures: u64,
        first: Timestamp,
        last: Timestamp,
    }
    let mut groups: BTreeMap<Subject, Acc<'_>> = BTreeMap::new();
    for f in flagged {
        let subject = match &f.seller_enterprise_id {
            Some(s) => Subject::Seller(s.clone()),
            None => Subject::Shop {
                platform: f.platform.clone(),
                shop_id: f.shop_id.clone(),
            },
        };
        let t = f.captured_time;
        let acc = groups.entry(subject).or_insert_with(|| Acc {
            rules: BTreeSet::new(),
            listings: BTreeMap::new(),
            region: None,
            captures: 0,
            first: t,
            last: t,
        });
        acc.rules.extend(f.rules.iter().copied());
        acc.captures += 1;
        acc.first = acc.first.min(t);
        acc.last = acc.last.max(t);
        let l = acc
            .listings
            .entry((f.platform.as_str(), f.listing_id.as_str()))
            .or_insert((t, f.sales));
        if t > l.0 {
            *l = (t, f.sales);
        }
        if let Some(r) = f.seller_region
            && acc.region.is_none_or(|(at, _)| t >= at)
        {
            acc.region = Some((t, r));
        }
    }
    let mut out: Vec<Lead> = groups
        .into_iter()
        .map(|(subject, a)| Lead {
            subject,
            county: a.region.map(|(_, r)| r),
            rules: a.rules.into_iter().collect(),
            sales: a
                .listings
                .values()
                .filter_map(|(_, s)| *s)
                .fold(0i64, i64::saturating_add),
            listings: a
                .listings
                .keys()
                .map(|(p, l)| (p.to_string(), l.to_string()))
                .collect(),
            captures: a.captures,
            first_seen: a.first,
            last_seen: a.last,
        })
        .collect();
    out.sort_by(|a, b| {
        b.rules
            .len()
            .cmp(&a.rules.len())
            .then(b.sales.cmp(&a.sales))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    out
}

#[cfg(test)]
mod tests {

    use model::{Product, Region, Timestamp};
    use proptest::prelude::*;

    use super::*;
    use crate::check::Evidence;
    use crate::money::Ratio;

    type Draw = (usize, usize, Option<usize>, Option<usize>, Option<i64>, u8);

    fn flagged(draws: &[Draw]) -> Vec<Flagged> {
        let mut seen = BTreeSet::new();
        draws
            .iter()
            .enumerate()
            // One capture per listing and instant, as the scan hands them over.
            .filter(|(_, d)| seen.insert((d.0, d.1)))
            .map(
                |(i, &(listing, hour, seller, region, sales, rules))| Flagged {
                    platform: ["jd", "tmall"][listing % 2].to_string(),
                    listing_id: format!("L{listing}"),
                    shop_id: format!("S{}", listing / 2),
                    captured_time: Timestamp(hour as i64 * 3_600_000),
                    unit_price: Ratio::new(1, 1),
                    rules: Rule::ALL
                        .into_iter()
                        .enumerate()
                        .filter(|(b, _)| rules & (1 << b) != 0)
                        .map(|(_, r)| r)
                        .collect(),
                    evidence: Evidence::default(),
                    seller_enterprise_id: seller.map(|s| format!("E{s}")),
                    seller_region: region
                        .map(|r| Region::new([330302, 330304, 330106][r]).unwrap()),
                    sales: sales.map(|s| s + i as i64 % 3),
                    product: Product::Daily,
                },
            )
            .collect()
    }

    /// A lead as compared: id, county, rules, listings, sales.
    type Plain = (String, Option<Region>, Vec<Rule>, usize, i64);

    /// Leads the plain way: every subject, then everything about it by a scan of all captures.
    fn plain(all: &[Flagged]) -> Vec<Plain> {
        let subject = |f: &Flagged| match &f.seller_enterprise_id {
            Some(s) => format!("seller:{s}"),
            None => format!("shop:{}/{}", f.platform, f.shop_id),
        };
        let ids: BTreeSet<String> = all.iter().map(subject).collect();
        let mut out: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let mine: Vec<&Flagged> = all.iter().filter(|f| subject(f) == id).collect();
                let mut rules: Vec<Rule> = mine.iter().flat_map(|f| f.rules.clone()).collect();
                rules.sort();
                rules.dedup();
                let mut latest: BTreeMap<(&str, &str), &Flagged> = BTreeMap::new();
                for f in &mine {
                    let k = (f.platform.as_str(), f.listing_id.as_str());
                    if latest
                        .get(&k)
                        .is_none_or(|l| f.captured_time > l.captured_time)
                    {
                        latest.insert(k, f);
                    }
                }
                let sales = latest.values().filter_map(|f| f.sales).sum();
                let county = mine
                    .iter()
                    .filter(|f| f.seller_region.is_some())
                    .max_by_key(|f| f.captured_time)
                    .and_then(|f| f.seller_region);
                (id, county, rules, latest.len(), sales)
            })
            .collect();
        out.sort_by(|a, b| (b.2.len(), b.4, &a.0).cmp(&(a.2.len(), a.4, &b.0)));
        out
    }

    proptest! {
        #[test]
        fn leads_agree_with_the_plain_reading(draws in proptest::collection::vec(
            (0..8usize, 0..6usize, proptest::option::of(0..3usize),
             proptest::option::of(0..3usize), proptest::option::of(0i64..1000), 1u8..128),
            0..40,
        )) {
            let all = flagged(&draws);
            let got: Vec<_> = leads(&all)
                .into_iter()
                .map(|l| (l.subject.id(), l.county, l.rules, l.listings.len(), l.sales))
                .collect();
            prop_assert_eq!(got, plain(&all));
        }
    }
}
