//! Market supervision (contract §9): the scan, the leads with their workflow, the rules diff and
//! price monitoring (the daily median unit price and share flagged per prefecture and product),
//! through the `market` crate. Listings name enterprises and shops, never a person, but an
//! officer's work on them is still authorised and audited like every other question: the
//! [`Engine`](crate::Engine) methods here go through `Engine::ask` (actions `market` and `update_lead`),
//! narrowed to the caller's region by where each lead is routed, and keep the leads in the
//! operational database (`ops::StoredLead`) with their notes sealed.

use std::collections::BTreeMap;
use std::path::Path;

use market::Flagged;
use model::Date;
use privacy::Denied;

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

/// What a leads request asks: the same parameters for `GET /market/leads`, the engine and
/// `fangyi market leads` (which converts its flags into this).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct LeadParams {
    /// Only leads in this state: `new`, `assigned`, `verified`, `closed` or `dismissed`.
    pub status: Option<String>,
    /// Only leads routed to a region this code covers (within your scope).
    pub region: Option<String>,
    /// At most this many leads, the highest ranked.
    pub top: Option<usize>,
}

/// One stored lead as shown: the scan's figures and where it stands in the workflow.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredLeadView {
    /// Its number in the workflow (`POST /market/leads/{id}/status`).
    pub id: i64,
    /// Its place among the leads shown: more distinct rules first, then more sales.
    pub rank: usize,
    /// `seller:<credit code>` or `shop:<platform>/<shop id>`.
    pub subject: String,
    pub seller_enterprise_id: Option<String>,
    pub platform: Option<String>,
    pub shop_id: Option<String>,
    /// The county (or coarser region) it is routed to; `null` when no listing said.
    pub county: Option<String>,
    pub county_name: Option<&'static str>,
    /// The distinct rules its flagged captures broke, sorted.
    pub rules: Vec<String>,
    pub listings: i64,
    pub captures: i64,
    pub sales: i64,
    /// Its first and latest flagged capture (RFC 3339, deployment zone).
    pub first_seen: String,
    pub last_seen: String,
    /// `new`, `assigned`, `verified`, `closed` or `dismissed`.
    pub status: &'static str,
    /// When it was opened and last moved (ms since the epoch), and by whom.
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
    /// The latest note (a dismissal's reason), opened.
    pub note: Option<String>,
}

/// A lead moved: the state it had and the one it has.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeadChange {
    pub id: i64,
    pub from: &'static str,
    pub to: &'static str,
}

/// What a prices request asks: the same parameters for `GET /market/prices`, the engine and
/// `fangyi market prices`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceParams {
    /// The first day of capture (YYYY-MM-DD, deployment zone); default: the first there is.
    pub from: Option<String>,
    /// The last day of capture (YYYY-MM-DD, included); default: the last there is.
    pub to: Option<String>,
    /// Only this product: `medical_protective`, `surgical`, `medical`, `respirator`, `daily`.
    pub product: Option<String>,
    /// Only the prefectures this code covers (a county's code: its prefecture), within your
    /// scope.
    pub region: Option<String>,
}

/// One day of one product's market in one prefecture (of the sellers' `seller_region`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PriceDayView {
    /// The captures' calendar day in the deployment zone.
    pub date: String,
    pub prefecture: String,
    pub prefecture_name: Option<&'static str>,
    pub product: &'static str,
    /// The median unit price (price / units; an even count's median the mean of the middle
    /// two), in micro-yuan rounded half up: exact, as the `price_outlier` rule compares it.
    pub median_unit_price_micro: i64,
    /// The same in yuan.
    pub median_unit_price_cny: f64,
    /// Captures counted (one per platform, listing and instant; those without a region in none).
    pub captures: u64,
    /// Distinct listings among them.
    pub listings: u64,
    /// Listings with a capture that day flagged by any rule.
    pub flagged: u64,
    /// `flagged / listings`, rounded to six decimals.
    pub flagged_share: f64,
}

impl PriceDayView {
    fn new(d: &market::PriceDay) -> PriceDayView {
        PriceDayView {
            date: d.date.to_string(),
            prefecture: d.prefecture.to_string(),
            prefecture_name: d.prefecture.place_name(),
            product: d.product.as_str(),
            median_unit_price_micro: i64::try_from(d.median.micro()).unwrap_or(i64::MAX),
            median_unit_price_cny: d.median.cny(),
            captures: d.captures,
            listings: d.listings,
            flagged: d.flagged,
            flagged_share: (d.flagged_share() * 1e6).round() / 1e6,
        }
    }
}

fn parse_day(flag: &str, s: Option<&str>) -> Result<Option<Date>, EngineError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) => Date::parse(d.as_bytes()).map(Some).map_err(|e| {
            EngineError::BadRequest(format!("{flag} {}: {}", crate::quoted(d, 20), e.reason()))
        }),
    }
}

fn parse_product(s: Option<&str>) -> Result<Option<model::Product>, EngineError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => model::Product::parse(p).map(Some).ok_or_else(|| {
            EngineError::BadRequest(format!(
                "product {}: expected medical_protective, surgical, medical, respirator or daily",
                crate::quoted(p, 20)
            ))
        }),
    }
}

/// Whether a `region` filter keeps `prefecture`: a county's code keeps its prefecture, any
/// other code the prefectures it covers.
fn region_keeps(region: model::Region, prefecture: model::Region) -> bool {
    match region.level() {
        model::Level::County => region.prefecture() == prefecture,
        _ => region.covers(prefecture),
    }
}

/// What a note is sealed for (with the lead's id as its owner): a sealed note cannot be moved
/// to another lead or field.
const NOTE_CONTEXT: &str = "market lead note";
/// A note's bound, in bytes.
const NOTE_MAX: usize = 2000;

/// Whether a lead routed to `county` is the caller's: an unrestricted scope sees every lead,
/// a region's scope the leads routed within it (a lead routed nowhere is no region's).
fn lead_in_scope(scope: &privacy::Scope, county: Option<model::Region>) -> bool {
    scope.is_everyone() || county.is_some_and(|c| scope.covers_region(c))
}

fn parse_region(flag: &str, s: Option<&str>) -> Result<Option<model::Region>, EngineError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) => model::Region::parse(r.as_bytes())
            .map(Some)
            .map_err(|e| EngineError::BadRequest(format!("{flag} {r}: {}", e.reason()))),
    }
}

fn parse_lead_status(s: &str) -> Result<ops::LeadStatus, EngineError> {
    ops::LeadStatus::parse(s.trim()).ok_or_else(|| {
        EngineError::BadRequest(format!(
            "status {}: expected new, assigned, verified, closed or dismissed",
            crate::quoted(s, 20)
        ))
    })
}

/// The flagged captures whose leads are routed within `scope` (all of them for an unrestricted
/// one), in the scan's order.
fn narrow(flagged: Vec<Flagged>, scope: &privacy::Scope) -> Vec<Flagged> {
    if scope.is_everyone() {
        return flagged;
    }
    let mine: std::collections::BTreeSet<market::Subject> = market::leads(&flagged)
        .into_iter()
        .filter(|l| lead_in_scope(scope, l.county))
        .map(|l| l.subject)
        .collect();
    flagged
        .into_iter()
        .filter(|f| mine.contains(&subject_of(f)))
        .collect()
}

/// A flagged capture's lead subject, as `market::leads` groups it.
fn subject_of(f: &Flagged) -> market::Subject {
    match &f.seller_enterprise_id {
        Some(s) => market::Subject::Seller(s.clone()),
        None => market::Subject::Shop {
            platform: f.platform.clone(),
            shop_id: f.shop_id.clone(),
        },
    }
}

/// The last scan whose leads were stored: by which engine, of which snapshot, under which
/// rules. A leads request that matches it stores nothing new, so the dashboard's reads do not
/// scan every capture each time; an ingest (a new manifest) or other rules scan again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scanned {
    engine: usize,
    stamp: crate::Stamp,
    rules: String,
}

static SCANNED: std::sync::Mutex<Option<Scanned>> = std::sync::Mutex::new(None);

fn lock_scanned() -> std::sync::MutexGuard<'static, Option<Scanned>> {
    SCANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The record a computed lead is stored as.
fn lead_record(l: &market::Lead) -> ops::LeadRecord {
    let (seller, platform, shop) = match &l.subject {
        market::Subject::Seller(s) => (s.clone(), String::new(), String::new()),
        market::Subject::Shop { platform, shop_id } => {
            (String::new(), platform.clone(), shop_id.clone())
        }
    };
    ops::LeadRecord {
        subject: l.subject.id(),
        seller_enterprise_id: seller,
        platform,
        shop_id: shop,
        county: l.county.map(|r| r.to_string()).unwrap_or_default(),
        rules: l
            .rules
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        listings: l.listings.len() as i64,
        captures: l.captures as i64,
        sales: l.sales,
        first_seen: l.first_seen.millis(),
        last_seen: l.last_seen.millis(),
    }
}

impl crate::Engine {
    /// The flagged captures of `from..=to` under `rules` (default the built-in ones) and the
    /// leads they make, narrowed to the leads routed within the caller's region.
    pub async fn market_scan(
        &self,
        caller: &crate::Caller,
        rules: Option<MarketRules>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<MarketScan, EngineError> {
        let work = crate::ask::Async(move |asking: crate::ask::Asking| async move {
            check_period(from, to)?;
            let rules = rules.map_or_else(|| load_rules(None), Ok)?;
            let scope = asking.caller().account.scope.clone();
            let value = asking
                .blocking(move |ctx: &crate::ask::Ctx<'_>| {
                    let store = &ctx.snap.store;
                    let report =
                        market::scan(store, &rules, from, to).map_err(EngineError::internal)?;
                    let zone = store.zone();
                    let flagged = narrow(report.flagged, &scope);
                    let leads = market::leads(&flagged)
                        .iter()
                        .enumerate()
                        .map(|(i, l)| LeadView::new(i + 1, l, zone))
                        .collect();
                    Ok(MarketScan {
                        captures: report.captures,
                        flagged: flagged.iter().map(|f| FlaggedView::new(f, zone)).collect(),
                        leads,
                    })
                })
                .await?;
            let rows = value.flagged.len() as i64;
            Ok(crate::ask::Answer::new(value, rows))
        });
        self.ask(caller, privacy::Action::Market, work).await
    }

    /// What `proposed` would flag that `current` does not, and the reverse, per rule, over the
    /// captures of `from..=to` whose leads are routed within the caller's region: counts only.
    pub async fn market_diff(
        &self,
        caller: &crate::Caller,
        current: MarketRules,
        proposed: MarketRules,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<MarketDiff, EngineError> {
        let work = crate::ask::Async(move |asking: crate::ask::Asking| async move {
            check_period(from, to)?;
            let scope = asking.caller().account.scope.clone();
            let value = asking
                .blocking(move |ctx: &crate::ask::Ctx<'_>| {
                    let mut reports =
                        market::scan_many(&ctx.snap.store, &[&current, &proposed], from, to)
                            .map_err(EngineError::internal)?;
                    for r in &mut reports {
                        r.flagged = narrow(std::mem::take(&mut r.flagged), &scope);
                    }
                    let (b, a) = (reports.pop().expect("two"), reports.pop().expect("two"));
                    Ok(diff_of(&a, &b))
                })
                .await?;
            Ok(crate::ask::Answer::new(value, 0))
        });
        self.ask(caller, privacy::Action::Market, work).await
    }

    /// Scans every capture under `rules` (default the built-in ones), stores what it found as
    /// leads (a seller's open lead refreshed, never duplicated) and answers the stored leads
    /// routed within the caller's region, ranked, with where each stands.
    pub async fn market_leads(
        &self,
        caller: &crate::Caller,
        rules: Option<MarketRules>,
        params: &LeadParams,
    ) -> Result<Vec<StoredLeadView>, EngineError> {
        let params = params.clone();
        let work = crate::ask::Async(move |asking: crate::ask::Asking| async move {
            let rules = rules.map_or_else(|| load_rules(None), Ok)?;
            let wanted = params
                .status
                .as_deref()
                .map(parse_lead_status)
                .transpose()?;
            let within = parse_region("region", params.region.as_deref())?;
            let engine_id = std::sync::Arc::as_ptr(&asking.engine().inner) as usize;
            let (records, zone, key) = asking
                .blocking(move |ctx: &crate::ask::Ctx<'_>| {
                    let store = &ctx.snap.store;
                    let key = Scanned {
                        engine: engine_id,
                        stamp: ctx.snap.stamp,
                        rules: rules.text.clone(),
                    };
                    // The same records under the same rules were scanned and stored already.
                    if lock_scanned().as_ref() == Some(&key) {
                        return Ok((None, store.zone(), key));
                    }
                    let report =
                        market::scan(store, &rules, None, None).map_err(EngineError::internal)?;
                    let records: Vec<ops::LeadRecord> = market::leads(&report.flagged)
                        .iter()
                        .map(lead_record)
                        .collect();
                    Ok((Some(records), store.zone(), key))
                })
                .await?;
            let engine = asking.engine();
            let ops = engine.ops();
            if let Some(records) = records {
                ops.sync_leads(&records, model::Timestamp::now().millis())
                    .await?;
                *lock_scanned() = Some(key);
            }
            let scope = &asking.caller().account.scope;
            let sealer = engine.keys().text_sealer();
            let mut shown: Vec<(ops::StoredLead, Option<model::Region>)> = Vec::new();
            for l in ops.leads().await? {
                let county = match l.record.county.as_str() {
                    "" => None,
                    c => Some(model::Region::parse(c.as_bytes()).map_err(|_| {
                        EngineError::internal("a stored lead's county is not a region code")
                    })?),
                };
                if lead_in_scope(scope, county)
                    && within.is_none_or(|w| county.is_some_and(|c| w.covers(c)))
                    && wanted.is_none_or(|w| l.status == w)
                {
                    shown.push((l, county));
                }
            }
            let rules_of = |l: &ops::StoredLead| l.record.rules.split(',').count();
            shown.sort_by(|(a, _), (b, _)| {
                rules_of(b)
                    .cmp(&rules_of(a))
                    .then(b.record.sales.cmp(&a.record.sales))
                    .then(a.record.subject.cmp(&b.record.subject))
                    .then(a.id.cmp(&b.id))
            });
            shown.truncate(params.top.unwrap_or(usize::MAX));
            let mut value = Vec::with_capacity(shown.len());
            for (i, (l, county)) in shown.into_iter().enumerate() {
                let note = if l.note.is_empty() {
                    None
                } else {
                    Some(
                        sealer
                            .open(NOTE_CONTEXT, l.id, &l.note)
                            .map_err(EngineError::internal)?,
                    )
                };
                let at = |ms: i64| model::Timestamp(ms).to_rfc3339(zone);
                let r = l.record;
                value.push(StoredLeadView {
                    id: l.id,
                    rank: i + 1,
                    subject: r.subject,
                    seller_enterprise_id: (!r.seller_enterprise_id.is_empty())
                        .then_some(r.seller_enterprise_id),
                    platform: (!r.platform.is_empty()).then_some(r.platform),
                    shop_id: (!r.shop_id.is_empty()).then_some(r.shop_id),
                    county: county.map(|c| c.to_string()),
                    county_name: county.and_then(model::Region::place_name),
                    rules: r.rules.split(',').map(str::to_string).collect(),
                    listings: r.listings,
                    captures: r.captures,
                    sales: r.sales,
                    first_seen: at(r.first_seen),
                    last_seen: at(r.last_seen),
                    status: l.status.as_str(),
                    created_at: l.created_at,
                    updated_at: l.updated_at,
                    updated_by: (!l.updated_by.is_empty()).then_some(l.updated_by),
                    note,
                });
            }
            let rows = value.len() as i64;
            Ok(crate::ask::Answer::new(value, rows))
        });
        self.ask(caller, privacy::Action::Market, work).await
    }

    /// Price monitoring: per capture day, prefecture and product, the median unit price, the
    /// captures and listings and the share of listings flagged under `rules` (default the
    /// built-in ones), for the prefectures within the caller's region (a region filter outside
    /// it is refused), sorted by prefecture, product, date.
    pub async fn market_prices(
        &self,
        caller: &crate::Caller,
        rules: Option<MarketRules>,
        params: &PriceParams,
    ) -> Result<Vec<PriceDayView>, EngineError> {
        let params = params.clone();
        let work = crate::ask::Async(move |asking: crate::ask::Asking| async move {
            let from = parse_day("from", params.from.as_deref())?;
            let to = parse_day("to", params.to.as_deref())?;
            check_period(from, to)?;
            let product = parse_product(params.product.as_deref())?;
            let within = parse_region("region", params.region.as_deref())?;
            let rules = rules.map_or_else(|| load_rules(None), Ok)?;
            let scope = asking.caller().account.scope.clone();
            // Prices are of public listings, kept per prefecture: a county's officer sees the
            // prefecture around the county too (its chart would be empty otherwise).
            let visible = move |r: model::Region| {
                scope.covers_region(r) || scope.region.is_some_and(|own| own.prefecture() == r)
            };
            if let Some(w) = within
                && !visible(w)
            {
                let scope = &asking.caller().account.scope;
                return Err(Denied::OutOfScope {
                    what: format!("region {w}"),
                    scope: scope.describe(),
                }
                .into());
            }
            let value = asking
                .blocking(move |ctx: &crate::ask::Ctx<'_>| {
                    let keep = |pref: model::Region, p: model::Product| {
                        visible(pref)
                            && within.is_none_or(|w| region_keeps(w, pref))
                            && product.is_none_or(|want| want == p)
                    };
                    let report = market::prices(&ctx.snap.store, &rules, from, to, &keep)
                        .map_err(EngineError::internal)?;
                    Ok(report
                        .days
                        .iter()
                        .map(PriceDayView::new)
                        .collect::<Vec<_>>())
                })
                .await?;
            let rows = value.len() as i64;
            Ok(crate::ask::Answer::new(value, rows))
        });
        self.ask(caller, privacy::Action::Market, work).await
    }

    /// Moves a lead routed within the caller's region to `status`, with a note (required to
    /// dismiss: the reason), sealed before it is stored. A move the workflow does not allow
    /// from where the lead stands is a conflict.
    pub async fn set_lead_status(
        &self,
        caller: &crate::Caller,
        id: &str,
        status: &str,
        note: &str,
    ) -> Result<LeadChange, EngineError> {
        let (id, status, note) = (id.trim().to_string(), status.to_string(), note.to_string());
        let work = crate::ask::Async(move |asking: crate::ask::Asking| async move {
            let to = parse_lead_status(&status)?;
            let note = note.trim();
            if note.len() > NOTE_MAX {
                return Err(EngineError::BadRequest(format!(
                    "a note of at most {NOTE_MAX} bytes"
                )));
            }
            if note.contains(['\n', '\r']) || note.chars().any(char::is_control) {
                return Err(EngineError::BadRequest(
                    "a note on one line, without control characters".into(),
                ));
            }
            if to == ops::LeadStatus::Dismissed && note.is_empty() {
                return Err(EngineError::BadRequest(
                    "dismissing a lead needs a reason: give it as the note".into(),
                ));
            }
            let account = &asking.caller().account;
            let scope = &account.scope;
            // A scoped account gets one refusal for a lead outside its region and for one that
            // does not exist: which leads exist elsewhere is not its to learn.
            let refused = || -> EngineError {
                Denied::OutOfScope {
                    what: format!("lead {}", crate::quoted(&id, 20)),
                    scope: scope.describe(),
                }
                .into()
            };
            let not_found = || EngineError::NotFound(format!("no lead {}", crate::quoted(&id, 20)));
            let Some(n) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
                return Err(if scope.is_everyone() {
                    EngineError::BadRequest(format!(
                        "lead {}: a lead's number",
                        crate::quoted(&id, 20)
                    ))
                } else {
                    refused()
                });
            };
            let engine = asking.engine();
            let ops = engine.ops();
            let Some(stored) = ops.lead(n).await? else {
                return Err(if scope.is_everyone() {
                    not_found()
                } else {
                    refused()
                });
            };
            let county = match stored.record.county.as_str() {
                "" => None,
                c => Some(model::Region::parse(c.as_bytes()).map_err(|_| {
                    EngineError::internal("a stored lead's county is not a region code")
                })?),
            };
            if !lead_in_scope(scope, county) {
                return Err(refused());
            }
            let sealed = if note.is_empty() {
                Vec::new()
            } else {
                engine
                    .keys()
                    .text_sealer()
                    .seal(NOTE_CONTEXT, n, note)
                    .map_err(EngineError::internal)?
            };
            let moved = ops
                .set_lead_status(
                    n,
                    to,
                    &account.name,
                    &sealed,
                    model::Timestamp::now().millis(),
                )
                .await?
                .ok_or_else(not_found)?;
            match moved {
                ops::LeadMove::Moved(from) => {
                    let value = LeadChange {
                        id: n,
                        from: from.as_str(),
                        to: to.as_str(),
                    };
                    let outcome = format!("ok: lead {n} {} -> {}", value.from, value.to);
                    Ok(crate::ask::Answer::new(value, 1).outcome(outcome))
                }
                ops::LeadMove::Refused(from) => Err(EngineError::Conflict(format!(
                    "lead {n} is {}: it cannot become {} (new -> assigned -> verified -> \
                     closed, or dismissed while open)",
                    from.as_str(),
                    to.as_str()
                ))),
            }
        });
        self.ask(caller, privacy::Action::UpdateLead, work).await
    }
}

/// The diff of two scans of the same captures.
fn diff_of(a: &market::ScanReport, b: &market::ScanReport) -> MarketDiff {
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
    MarketDiff {
        captures: a.captures,
        flagged_current: a.flagged.len() as u64,
        flagged_proposed: b.flagged.len() as u64,
        leads_current: market::leads(&a.flagged).len() as u64,
        leads_proposed: market::leads(&b.flagged).len() as u64,
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(c: u32) -> model::Region {
        model::Region::new(c).unwrap()
    }

    #[test]
    fn a_region_sees_the_leads_routed_within_it_and_none_routed_nowhere() {
        let wenzhou = privacy::Scope {
            region: Some(region(330300)),
            ..privacy::Scope::default()
        };
        assert!(lead_in_scope(&wenzhou, Some(region(330302))));
        assert!(!lead_in_scope(&wenzhou, Some(region(420106))));
        // A coarser region than the scope's is not within it.
        assert!(!lead_in_scope(&wenzhou, Some(region(330000))));
        assert!(!lead_in_scope(&wenzhou, None));
        let everyone = privacy::Scope::default();
        assert!(lead_in_scope(&everyone, None));
        assert!(lead_in_scope(&everyone, Some(region(420106))));
    }

    #[test]
    fn a_region_filter_keeps_its_prefectures_and_a_county_its_own() {
        let (wenzhou, lucheng, wuhan) = (region(330300), region(330302), region(420100));
        assert!(region_keeps(region(330000), wenzhou));
        assert!(region_keeps(wenzhou, wenzhou));
        assert!(region_keeps(lucheng, wenzhou));
        assert!(!region_keeps(lucheng, wuhan));
        assert!(!region_keeps(region(330000), wuhan));
        for bad in ["mask", "Daily", "daily;--", &"x".repeat(5_000)] {
            let e = parse_product(Some(bad)).unwrap_err();
            assert!(e.to_string().len() < 200, "{e}");
        }
        assert_eq!(
            parse_product(Some(" daily ")).unwrap(),
            Some(model::Product::Daily)
        );
        assert_eq!(parse_product(Some("")).unwrap(), None);
        assert!(parse_day("from", Some("2020-02-30")).is_err());
        assert!(
            parse_day("from", Some(&"9".repeat(5_000)))
                .unwrap_err()
                .to_string()
                .len()
                < 200
        );
    }

    #[test]
    fn statuses_and_regions_are_parsed_strictly() {
        assert_eq!(
            parse_lead_status(" closed ").unwrap(),
            ops::LeadStatus::Closed
        );
        for bad in ["", "open", "Closed", "closed;--", &"x".repeat(10_000)] {
            let e = parse_lead_status(bad).unwrap_err();
            assert!(matches!(e, EngineError::BadRequest(_)), "{bad}");
            assert!(
                e.to_string().len() < 200,
                "the message echoes a long value whole"
            );
        }
        assert_eq!(parse_region("region", Some(" ")).unwrap(), None);
        assert!(parse_region("region", Some("33")).is_err());
        assert_eq!(
            parse_region("region", Some("330300")).unwrap(),
            Some(region(330300))
        );
    }
}
