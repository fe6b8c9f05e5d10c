//! The contract's JSON of a flagged capture (`fangyi market scan --format json`) and of a lead.

use model::Zone;
use serde::Serialize;

use crate::check::{Evidence, Flagged, Rule};
use crate::leads::{Lead, Subject};

/// One flagged capture: `{"platform", "listing_id", "shop_id", "captured_time",
/// "unit_price_cny", "rules", "evidence"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlaggedView {
    pub platform: String,
    pub listing_id: String,
    pub shop_id: String,
    /// RFC 3339 in the deployment zone.
    pub captured_time: String,
    /// `price_cny / units`, rounded half up to six decimals.
    pub unit_price_cny: f64,
    pub rules: Vec<Rule>,
    pub evidence: Evidence,
}

impl FlaggedView {
    pub fn new(f: &Flagged, zone: Zone) -> FlaggedView {
        FlaggedView {
            platform: f.platform.clone(),
            listing_id: f.listing_id.clone(),
            shop_id: f.shop_id.clone(),
            captured_time: f.captured_time.to_rfc3339(zone),
            unit_price_cny: f.unit_price.cny(),
            rules: f.rules.clone(),
            evidence: f.evidence.clone(),
        }
    }
}

/// One lead, ranked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadView {
    pub rank: usize,
    /// `seller:<credit code>` or `shop:<platform>/<shop id>`.
    pub id: String,
    pub seller_enterprise_id: Option<String>,
    /// The platform and shop, for a lead without a seller id.
    pub platform: Option<String>,
    pub shop_id: Option<String>,
    /// The county (or the coarser region the listings gave) it is routed to; `null` when no
    /// listing said.
    pub county: Option<String>,
    pub county_name: Option<String>,
    pub rules: Vec<Rule>,
    pub listings: usize,
    pub captures: u64,
    pub sales: i64,
    pub first_seen: String,
    pub last_seen: String,
}

impl LeadView {
    pub fn new(rank: usize, l: &Lead, zone: Zone) -> LeadView {
        let (seller, platform, shop) = match &l.subject {
            Subject::Seller(s) => (Some(s.clone()), None, None),
            Subject::Shop { platform, shop_id } => {
                (None, Some(platform.clone()), Some(shop_id.clone()))
            }
        };
        LeadView {
            rank,
            id: l.subject.id(),
            seller_enterprise_id: seller,
            platform,
            shop_id: shop,
            county: l.county.map(|r| r.to_string()),
            county_name: l.county.and_then(|r| r.place_name()).map(str::to_string),
            rules: l.rules.clone(),
            listings: l.listings.len(),
            captures: l.captures,
            sales: l.sales,
            first_seen: l.first_seen.to_rfc3339(zone),
            last_seen: l.last_seen.to_rfc3339(zone),
        }
    }
}
