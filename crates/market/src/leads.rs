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
    /// Where it is routed: the seller region of its latest flagged capture that has one, as
    /// given (a county code, or a coarser one when that is all the listing said); `None` when
    /// no capture said.
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

/// Groups `flagged` into leads, ranked: more distinct rules first, then more sales, then by id.
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
            && acc.region.is_none_or(|(at, _)| t > at)
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
