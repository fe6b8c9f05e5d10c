//! Community alerts through the boundary: computed for a day from the current snapshot, kept
//! in the operational database with their status (open, acknowledged, done), narrowed to the
//! caller's region and community, the persons they name shown as the role allows, and every
//! list and status change audited.

pub use alerts::AlertRules;
use alerts::{Alert, Sources};
use model::{Date, Region, Zone};
use ops::{AlertRecord, AlertState, AlertStatus};
use privacy::{Action, Denied, Scope};
use serde::Serialize;
use store::Store;

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::disclose::PersonView;
use crate::{Caller, Engine, EngineError, inflow_api};

/// The alert thresholds and the built-in ones as a file to edit (`fangyi alerts --show-rules`).
pub use alerts::DEFAULT_ALERT_RULES;

/// What an alert list asks: the same parameters for `GET /alerts`, the engine and
/// `fangyi alerts` (which converts its flags into this).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AlertParams {
    /// The day (YYYY-MM-DD, or a time whose date is taken; default today).
    pub as_of: Option<String>,
    /// Only alerts with this status: `open`, `acknowledged` or `done`.
    pub status: Option<String>,
    /// Only alerts in places this region code covers (within your scope).
    pub region: Option<String>,
    /// Only alerts of this community (within your scope).
    pub community: Option<String>,
}

/// One alert as shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct AlertView {
    pub id: String,
    /// `high_risk_arrivals`, `arrival_jump`, `case_trail` or `unregistered_returnee`.
    pub rule: &'static str,
    /// `high`, `medium` or `low`.
    pub severity: &'static str,
    pub date: String,
    pub region: String,
    pub region_name: Option<&'static str>,
    /// Absent: persons staying in no known community of the region.
    pub community: Option<String>,
    pub detail: String,
    /// `visit`, `register`, `home_quarantine_check` or `disinfect`.
    pub task: &'static str,
    pub task_detail: String,
    pub count: u32,
    /// The persons the task is about, as the caller may see them.
    pub persons: Vec<PersonView>,
    pub venue: Option<String>,
    /// How the person travelled (`rail`, …), for roles that may see travel detail
    /// (`privacy::sees_travel`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub travel: Option<&'static str>,
    /// `open`, `acknowledged` or `done`.
    pub status: &'static str,
    /// When it was first raised and last changed (ms since the epoch), and by whom.
    pub first_seen: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
    pub note: Option<String>,
}

/// Runs `work` over the alert sources of a store: its pseudonymised tables, its index, its
/// zone and the risk of an origin from its published areas.
async fn with_sources<T>(
    store: &Store,
    index: &trace::Index,
    risk: &rules::RiskAreas,
    work: impl AsyncFnOnce(&Sources<'_>) -> Result<T, alerts::AlertError>,
) -> Result<T, EngineError> {
    let q = query::Query::open_pseudonymised(store).map_err(EngineError::internal)?;
    let lookup = |origin: Region, date: Date| inflow_api::origin_risk(risk, origin, date);
    let src = Sources {
        query: &q,
        index,
        zone: store.zone(),
        risk: &lookup,
    };
    work(&src).await.map_err(EngineError::internal)
}

/// Computes the alerts of `day` from a store and its index (no scope, no status), for
/// [`Engine::alerts`]: the one path of the CLI, the API and the demo.
pub(crate) async fn compute(
    store: &Store,
    index: &trace::Index,
    risk: &rules::RiskAreas,
    rules: &AlertRules,
    day: Date,
) -> Result<Vec<Alert>, EngineError> {
    with_sources(store, index, risk, async |src| {
        alerts::compute(src, rules, day).await
    })
    .await
}

/// The record an alert is stored as.
pub fn record(a: &Alert) -> AlertRecord {
    AlertRecord {
        id: a.id.clone(),
        rule: a.rule.as_str().into(),
        severity: a.severity.as_str().into(),
        date: a.date.to_string(),
        region: a.region.to_string(),
        community: a.community.clone().unwrap_or_default(),
        detail: a.detail.clone(),
        task: a.task.as_str().into(),
        task_detail: a.task_detail.clone(),
        persons: i64::from(a.count),
    }
}

/// What is shown of one person's watch, beside who they are (the API's and the CLI's shape).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct WatchFields {
    /// Their latest arrival from a high-risk area: the day, from where, and how — the last
    /// only for roles that may see travel detail (`privacy::sees_travel`).
    pub arrived: String,
    pub origin: String,
    pub origin_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The last day of the watch.
    pub until: String,
    pub stay_region: Option<String>,
    pub stay_community: Option<String>,
}

impl WatchFields {
    /// The fields as `role` may see them.
    pub fn of(w: &alerts::Watched, role: privacy::Role) -> WatchFields {
        WatchFields {
            arrived: w.arrived.to_string(),
            origin: w.origin.to_string(),
            origin_name: w.origin.place_name(),
            kind: privacy::sees_travel(role).then_some(w.kind),
            until: w.until.to_string(),
            stay_region: w.stay.region.map(|r| r.to_string()),
            stay_community: w.stay.community.clone(),
        }
    }
}

/// One person under watch, as shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct WatchedView {
    #[serde(flatten)]
    pub person: PersonView,
    #[serde(flatten)]
    pub watch: WatchFields,
}

/// Persons under watch in one place.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct WatchCountView {
    pub region: Option<String>,
    pub region_name: Option<&'static str>,
    pub community: Option<String>,
    pub persons: u32,
    /// Of them, those whose watch ends within three days.
    pub ending_soon: u32,
}

/// Returnees from high-risk areas within their days, per community (and, when asked and
/// allowed, who).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct WatchView {
    pub as_of: String,
    pub days: u32,
    pub persons: usize,
    pub communities: Vec<WatchCountView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<WatchedView>>,
}

/// The watch list of `day` (no scope): the CLI's and the API's one path.
pub async fn watch_list(
    store: &Store,
    index: &trace::Index,
    risk: &rules::RiskAreas,
    day: Date,
    days: u32,
) -> Result<Vec<alerts::Watched>, EngineError> {
    with_sources(store, index, risk, async |src| {
        alerts::under_watch(src, day, days).await
    })
    .await
}

/// The counts as shown.
pub fn watch_count_views(list: &[alerts::Watched], day: Date) -> Vec<WatchCountView> {
    alerts::watch_counts(list, day)
        .into_iter()
        .map(|c| WatchCountView {
            region: c.region.map(|r| r.to_string()),
            region_name: c.region.and_then(Region::place_name),
            community: c.community,
            persons: c.persons,
            ending_soon: c.ending_soon,
        })
        .collect()
}

/// Whether an alert at `region` / `community` is the caller's: within their region, and for a
/// community scope exactly their community.
fn in_scope(scope: &Scope, region: Region, community: Option<&str>) -> bool {
    scope.covers_region(region)
        && scope
            .community
            .as_deref()
            .is_none_or(|c| community == Some(c))
}

fn parse_status(s: &str) -> Result<AlertStatus, EngineError> {
    AlertStatus::parse(s.trim()).ok_or_else(|| {
        EngineError::BadRequest(format!("status {s}: expected open, acknowledged or done"))
    })
}

fn parse_day(s: Option<&str>, zone: Zone) -> Result<Date, EngineError> {
    crate::parse_as_of_date(s, zone)
}

/// What a watch request asks: the same parameters for `GET /watch`, the engine and
/// `fangyi watch` (which converts its flags into this).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct WatchParams {
    /// The day (YYYY-MM-DD; default today).
    pub as_of: Option<String>,
    /// The length of the watch (default 14 days, at most 60).
    pub days: Option<u32>,
    /// Also list the persons (a returnee list: epidemiologists and community workers).
    pub persons: Option<bool>,
    /// Only persons staying where this region code covers (within your scope).
    pub region: Option<String>,
    /// Only persons staying in this community (within your scope).
    pub community: Option<String>,
}

impl Engine {
    /// Returnees from high-risk areas within their `days` (14) as of a day, staying within the
    /// caller's scope: counts per community, and with `with_persons` the list itself (a
    /// returnee list: epidemiologists and community workers).
    pub async fn watch(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
        days: Option<u32>,
        with_persons: bool,
    ) -> Result<WatchView, EngineError> {
        let params = WatchParams {
            as_of: as_of.map(str::to_string),
            days,
            persons: Some(with_persons),
            ..WatchParams::default()
        };
        self.watch_for(caller, &params).await
    }

    /// [`Engine::watch`] for a [`WatchParams`], narrowed further to a region or community where
    /// it names one (counts, list and audit entry alike).
    pub async fn watch_for(
        &self,
        caller: &Caller,
        params: &WatchParams,
    ) -> Result<WatchView, EngineError> {
        let with_persons = params.persons.unwrap_or(false);
        let action = if with_persons {
            Action::Returnees
        } else {
            Action::ReturneesSummary
        };
        let as_of = params.as_of.clone();
        let days = params.days.unwrap_or(14);
        let region = params.region.clone();
        let community = params.community.clone();
        let role = caller.account.role;
        let work = Async(move |asking: Asking| async move {
            if !(1..=60).contains(&days) {
                return Err(EngineError::BadRequest(format!(
                    "days {days}: between 1 and 60"
                )));
            }
            let within =
                match region.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(r) => Some(Region::parse(r.as_bytes()).map_err(|e| {
                        EngineError::BadRequest(format!("region {r}: {}", e.reason()))
                    })?),
                };
            let snap = asking.snapshot().await?;
            let day = parse_day(as_of.as_deref(), snap.zone())?;
            let list = watch_list(&snap.store, &snap.index, &snap.risk, day, days).await?;
            let scope = &asking.caller().account.scope;
            let mine: Vec<alerts::Watched> = list
                .into_iter()
                .filter(|w| {
                    w.stay.region.is_some_and(|r| scope.covers_region(r)) || scope.is_everyone()
                })
                .filter(|w| {
                    scope
                        .community
                        .as_deref()
                        .is_none_or(|c| w.stay.community.as_deref() == Some(c))
                })
                .filter(|w| within.is_none_or(|r| w.stay.region.is_some_and(|s| r.covers(s))))
                .filter(|w| {
                    community
                        .as_deref()
                        .is_none_or(|c| w.stay.community.as_deref() == Some(c))
                })
                .collect();
            let rows = mine.len() as i64;
            let base = WatchView {
                as_of: day.to_string(),
                days,
                persons: mine.len(),
                communities: watch_count_views(&mine, day),
                list: None,
            };
            if !with_persons {
                return Ok(Answer::new(base, rows));
            }
            let list = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let pseudonyms: Vec<i64> = mine.iter().map(|w| w.person).collect();
                    // The list is already the caller's by where the persons stay.
                    let shown = view.persons_where(&pseudonyms, &|_| true)?;
                    Ok(mine
                        .iter()
                        .zip(shown)
                        .map(|(w, person)| WatchedView {
                            person,
                            watch: WatchFields::of(w, role),
                        })
                        .collect())
                })
                .await?;
            let value = WatchView {
                list: Some(list),
                ..base
            };
            Ok(Answer::new(value, rows))
        });
        self.ask(caller, action, work).await
    }

    /// The alerts of a day within the caller's scope, each with its stored status.
    pub async fn alerts(
        &self,
        caller: &Caller,
        params: &AlertParams,
    ) -> Result<Vec<AlertView>, EngineError> {
        let params = params.clone();
        let travel = privacy::sees_travel(caller.account.role);
        let work = Async(move |asking: Asking| async move {
            let engine = asking.engine();
            let snap = asking.snapshot().await?;
            let day = parse_day(params.as_of.as_deref(), snap.zone())?;
            let wanted = params.status.as_deref().map(parse_status).transpose()?;
            let within =
                match params.region.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(r) => Some(Region::parse(r.as_bytes()).map_err(|e| {
                        EngineError::BadRequest(format!("region {r}: {}", e.reason()))
                    })?),
                };
            let all = engine
                .inner
                .day_alerts
                .get_or_try((snap.stamp, day), async || {
                    compute(
                        &snap.store,
                        &snap.index,
                        &snap.risk,
                        &engine.inner.alert_rules,
                        day,
                    )
                    .await
                })
                .await?;
            let scope = &asking.caller().account.scope;
            let mine: Vec<Alert> = all
                .iter()
                .filter(|a| in_scope(scope, a.region, a.community.as_deref()))
                .filter(|a| within.is_none_or(|w| w.covers(a.region)))
                .filter(|a| {
                    params
                        .community
                        .as_deref()
                        .is_none_or(|c| a.community.as_deref() == Some(c))
                })
                .cloned()
                .collect();
            let records: Vec<AlertRecord> = mine.iter().map(record).collect();
            let states = engine
                .inner
                .ops
                .sync_alerts(&records, model::Timestamp::now().millis())
                .await?;
            let mine: Vec<(Alert, AlertState)> = mine
                .into_iter()
                .filter_map(|a| states.get(&a.id).cloned().map(|s| (a, s)))
                .filter(|(_, s)| wanted.is_none_or(|w| s.status == w))
                .collect();
            let value = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let mut value = Vec::with_capacity(mine.len());
                    for (a, s) in mine {
                        // The alert is already the caller's by where the persons stay.
                        let persons = view.persons_where(&a.persons, &|_| true)?;
                        value.push(AlertView {
                            id: a.id,
                            rule: a.rule.as_str(),
                            severity: a.severity.as_str(),
                            date: a.date.to_string(),
                            region: a.region.to_string(),
                            region_name: a.region.place_name(),
                            community: a.community,
                            detail: a.detail,
                            task: a.task.as_str(),
                            task_detail: a.task_detail,
                            count: a.count,
                            persons,
                            venue: a.venue,
                            travel: a.travel.filter(|_| travel),
                            status: s.status.as_str(),
                            first_seen: s.first_seen,
                            updated_at: s.updated_at,
                            updated_by: (!s.updated_by.is_empty()).then_some(s.updated_by),
                            note: (!s.note.is_empty()).then_some(s.note),
                        });
                    }
                    Ok(value)
                })
                .await?;
            let rows = value.len() as i64;
            Ok(Answer::new(value, rows))
        });
        self.ask(caller, Action::Alerts, work).await
    }

    /// Sets the status of an alert within the caller's scope; returns the status it had.
    pub async fn set_alert_status(
        &self,
        caller: &Caller,
        id: &str,
        status: &str,
        note: &str,
    ) -> Result<(&'static str, &'static str), EngineError> {
        let (id, status, note) = (id.trim().to_string(), status.to_string(), note.to_string());
        let work = Async(move |asking: Asking| async move {
            let to = parse_status(&status)?;
            if note.len() > 2000 {
                return Err(EngineError::BadRequest(
                    "a note of at most 2000 bytes".into(),
                ));
            }
            let account = &asking.caller().account;
            let scope = &account.scope;
            let ops = &asking.engine().inner.ops;
            // A scoped account gets one refusal for an alert outside its scope and for one
            // that does not exist: which alerts exist elsewhere is not its to learn.
            let refused = || -> EngineError {
                Denied::OutOfScope {
                    what: format!("alert {}", crate::quoted(&id, 40)),
                    scope: scope.describe(),
                }
                .into()
            };
            let Some(stored) = ops.alert(&id).await? else {
                if !scope.is_everyone() {
                    return Err(refused());
                }
                return Err(EngineError::NotFound(format!(
                    "no alert {}",
                    crate::quoted(&id, 40)
                )));
            };
            let region = Region::parse(stored.record.region.as_bytes())
                .map_err(|_| EngineError::internal("a stored alert's region is not a code"))?;
            let community =
                (!stored.record.community.is_empty()).then_some(stored.record.community.as_str());
            if !in_scope(scope, region, community) {
                return Err(refused());
            }
            let from = ops
                .set_alert_status(
                    &id,
                    to,
                    &account.name,
                    note.trim(),
                    model::Timestamp::now().millis(),
                )
                .await?
                .ok_or_else(|| {
                    EngineError::NotFound(format!("no alert {}", crate::quoted(&id, 40)))
                })?;
            let value = (from.as_str(), to.as_str());
            Ok(Answer::new(value, 1).outcome(format!("ok: {} -> {}", value.0, value.1)))
        });
        self.ask(caller, Action::UpdateAlert, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_see_their_region_and_community_only() {
        let r = |c: u32| Region::new(c).unwrap();
        let county = Scope {
            region: Some(r(330302)),
            community: None,
            person: None,
        };
        assert!(in_scope(&county, r(330302), Some("C1")));
        assert!(in_scope(&county, r(330302), None));
        assert!(!in_scope(&county, r(330303), Some("C1")));
        let c1 = Scope {
            region: Some(r(330302)),
            community: Some("C1".into()),
            person: None,
        };
        assert!(in_scope(&c1, r(330302), Some("C1")));
        assert!(!in_scope(&c1, r(330302), Some("C2")));
        assert!(
            !in_scope(&c1, r(330302), None),
            "no community is not theirs"
        );
        assert!(in_scope(&Scope::default(), r(110105), None));
        assert!(parse_status("done").is_ok());
        assert!(parse_status("closed").is_err());
    }
}
