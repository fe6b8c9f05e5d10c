//! Market supervision (contract §9) for the command line: the scan, the leads and the rules
//! diff over the data dir, through the `market` crate. Listings, registrations and baselines
//! name enterprises and shops, never a person, so — like the data dir's counts — none of this
//! is a question for [`Engine::ask`](crate::Engine); the HTTP routes and the leads' workflow,
//! with a market supervisor's role and region, are to go through it.

use std::collections::BTreeMap;
use std::path::Path;

use market::Flagged;
use model::{Date, Zone};
use store::Store;
use vault::Keys;

use crate::EngineError;

/// The rules, their views and ids as callers name them.
pub use market::{DEFAULT_RULES, FlaggedView, LeadView, MarketRules, Rule};

/// The rules in `path`, or the built-in ones; an error names the file and the key.
pub fn load_rules(path: Option<&Path>) -> Result<MarketRules, EngineError> {
    MarketRules::load_or_builtin(path).map_err(|e| EngineError::BadRequest(e.to_string()))
}

/// Every rule id, in order.
pub fn rule_ids() -> Vec<&'static str> {
    Rule::ALL.iter().map(|r| r.as_str()).collect()
}

/// A scan's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketScan {
    /// Captures read in the period.
    pub captures: u64,
    /// Flagged captures, sorted by platform, listing, capture time.
    pub flagged: Vec<FlaggedView>,
    /// Leads, ranked.
    pub leads: Vec<LeadView>,
}

/// What a rules diff counted, per rule: captures flagged by it under each rule set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleMoves {
    pub current: u64,
    pub proposed: u64,
    /// Flagged by it under the proposed rules only.
    pub added: u64,
    /// Flagged by it under the current rules only.
    pub removed: u64,
}

/// A rules diff over the same captures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MarketDiff {
    pub captures: u64,
    /// Flagged captures under each rule set.
    pub flagged_current: u64,
    pub flagged_proposed: u64,
    /// Leads under each.
    pub leads_current: u64,
    pub leads_proposed: u64,
    /// Per rule id, every rule listed.
    pub rules: BTreeMap<&'static str, RuleMoves>,
}

/// The data dir opened for market supervision.
pub struct Market {
    store: Store,
}

impl Market {
    /// Opens the store at `data` (it must have one) with the keys it was written with.
    pub fn open(data: &Path, keys: &Keys) -> Result<Market, EngineError> {
        let store = Store::open(data, keys.key_id()).map_err(EngineError::internal)?;
        Ok(Market { store })
    }

    pub fn zone(&self) -> Zone {
        self.store.zone()
    }

    /// The flagged captures of `from..=to` (deployment-zone days of capture; `None` open) under
    /// `rules`, and the leads they make.
    pub fn scan(
        &self,
        rules: &MarketRules,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<MarketScan, EngineError> {
        check_period(from, to)?;
        let report = market::scan(&self.store, rules, from, to).map_err(EngineError::internal)?;
        let zone = self.zone();
        let leads = market::leads(&report.flagged)
            .iter()
            .enumerate()
            .map(|(i, l)| LeadView::new(i + 1, l, zone))
            .collect();
        Ok(MarketScan {
            captures: report.captures,
            flagged: report
                .flagged
                .iter()
                .map(|f| FlaggedView::new(f, zone))
                .collect(),
            leads,
        })
    }

    /// What `proposed` would flag that `current` does not, and the reverse, per rule, over the
    /// captures of `from..=to`: counts only.
    pub fn diff(
        &self,
        current: &MarketRules,
        proposed: &MarketRules,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<MarketDiff, EngineError> {
        check_period(from, to)?;
        let mut reports = market::scan_many(&self.store, &[current, proposed], from, to)
            .map_err(EngineError::internal)?;
        let (b, a) = (reports.pop().expect("two"), reports.pop().expect("two"));
        let (ca, cb) = (by_capture(&a.flagged), by_capture(&b.flagged));
        let mut rules = BTreeMap::new();
        for r in Rule::ALL {
            let has = |m: &ByCapture<'_>, k: &Key<'_>| m.get(k).is_some_and(|v| v.contains(&r));
            let count = |m: &ByCapture<'_>| m.values().filter(|v| v.contains(&r)).count() as u64;
            let added = cb.keys().filter(|k| has(&cb, k) && !has(&ca, k)).count() as u64;
            let removed = ca.keys().filter(|k| has(&ca, k) && !has(&cb, k)).count() as u64;
            rules.insert(
                r.as_str(),
                RuleMoves {
                    current: count(&ca),
                    proposed: count(&cb),
                    added,
                    removed,
                },
            );
        }
        Ok(MarketDiff {
            captures: a.captures,
            flagged_current: a.flagged.len() as u64,
            flagged_proposed: b.flagged.len() as u64,
            leads_current: market::leads(&a.flagged).len() as u64,
            leads_proposed: market::leads(&b.flagged).len() as u64,
            rules,
        })
    }
}

/// A flagged capture's identity: platform, listing, instant.
type Key<'a> = (&'a str, &'a str, i64);
type ByCapture<'a> = BTreeMap<Key<'a>, &'a [Rule]>;

fn by_capture(v: &[Flagged]) -> ByCapture<'_> {
    v.iter()
        .map(|f| {
            let key = (
                f.platform.as_str(),
                f.listing_id.as_str(),
                f.captured_time.millis(),
            );
            (key, f.rules.as_slice())
        })
        .collect()
}

fn check_period(from: Option<Date>, to: Option<Date>) -> Result<(), EngineError> {
    match (from, to) {
        (Some(a), Some(b)) if a > b => Err(EngineError::BadRequest(format!(
            "period {a}..{b}: the end is before the start"
        ))),
        _ => Ok(()),
    }
}
