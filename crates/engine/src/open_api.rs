//! Published figures and public trails through the boundary: risk areas valid on a day,
//! movement shares (Baidu Qianxi), case curves (DXY), and a case's public trail. None of them
//! shows a person; each request is audited like any other. A trail is asked for by ID number,
//! so it is scoped like a trace: whether someone is a case is not told to an account whose
//! scope the person is outside.

use model::{Date, Region, Timestamp};
use privacy::Action;
use serde::Serialize;

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::{Caller, Engine, EngineError};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct RiskAreaView {
    pub region: String,
    pub name: Option<&'static str>,
    /// `high`, `medium` or `low`.
    pub level: &'static str,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ShareView {
    pub origin: String,
    pub origin_name: Option<&'static str>,
    pub destination: String,
    pub destination_name: Option<&'static str>,
    /// Percent of the place's departures (out) or arrivals (in).
    pub share_pct: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CaseDayView {
    pub date: String,
    pub confirmed: u64,
    pub new: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct TrailStopView {
    /// `rail`, `flight`, `coach`, `ship` or `venue`.
    pub via: &'static str,
    pub start: String,
    pub end: String,
    /// The service number or venue id.
    pub place: String,
    /// The venue's name, when known.
    pub place_name: Option<String>,
    pub region: Option<String>,
    pub region_name: Option<&'static str>,
    pub community: Option<String>,
}

/// A case's public trail: what may be published, naming no one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct TrailView {
    pub onset: String,
    pub reported: String,
    /// The window shown: from the start of the day before onset to the report.
    pub from: String,
    pub to: String,
    pub stops: Vec<TrailStopView>,
}

/// `[[code, name, level, parent, lon, lat], …]` for every region of the embedded table
/// (GB/T 2260) that has a point, as JSON: public facts, a map's backdrop and positions.
pub fn region_points_json() -> String {
    let rows: Vec<serde_json::Value> = model::RegionTable::get()
        .rows()
        .iter()
        .filter_map(|r| {
            let (lon, lat) = r.point?;
            Some(serde_json::json!([
                r.region.to_string(),
                r.region.place_name().unwrap_or(&r.name),
                r.level.name(),
                r.parent.map(|p| p.to_string()),
                (lon * 1e4).round() / 1e4,
                (lat * 1e4).round() / 1e4,
            ]))
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn region_param(s: &str, what: &str) -> Result<Region, EngineError> {
    Region::parse(s.trim().as_bytes())
        .map_err(|e| EngineError::BadRequest(format!("{what} {s}: {}", e.reason())))
}

fn date_param(s: &str, what: &str) -> Result<Date, EngineError> {
    Date::parse(s.trim().as_bytes())
        .map_err(|e| EngineError::BadRequest(format!("{what} {s}: {}", e.reason())))
}

/// An open-data answer: its rows, counted for the audit entry.
fn rows<T>(value: Vec<T>) -> Result<Answer<Vec<T>>, EngineError> {
    let n = value.len() as i64;
    Ok(Answer::new(value, n))
}

impl Engine {
    /// The published risk areas valid on a day.
    pub async fn risk_areas(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
    ) -> Result<Vec<RiskAreaView>, EngineError> {
        let as_of = as_of.map(str::to_string);
        let work = Async(move |asking: Asking| async move {
            let snap = asking.snapshot().await?;
            let day = crate::parse_as_of_date(as_of.as_deref(), snap.zone())?;
            rows(
                snap.risk
                    .valid_on(day)
                    .into_iter()
                    .filter_map(|a| {
                        let r = Region::new(a.region)?;
                        Some(RiskAreaView {
                            region: r.to_string(),
                            name: r.place_name(),
                            level: a.level.as_str(),
                            valid_from: a.valid_from.to_string(),
                            valid_to: a.valid_to.map(|d| d.to_string()),
                        })
                    })
                    .collect(),
            )
        });
        self.ask(caller, Action::OpenData, work).await
    }

    /// The largest movement shares from (`outbound`) or into a place on a day.
    pub async fn migration(
        &self,
        caller: &Caller,
        place: &str,
        outbound: bool,
        day: &str,
        limit: usize,
    ) -> Result<Vec<ShareView>, EngineError> {
        let (place, day) = (place.to_string(), day.to_string());
        let work = Async(move |asking: Asking| async move {
            let place = region_param(&place, "region")?;
            let day = date_param(&day, "date")?;
            let snap = asking.snapshot().await?;
            let q = query::Query::open_pseudonymised(&snap.store).map_err(EngineError::internal)?;
            let shares = inflow::public::shares(&q, place, outbound, day, limit.clamp(1, 400))
                .await
                .map_err(EngineError::internal)?;
            rows(
                shares
                    .into_iter()
                    .map(|s| ShareView {
                        origin: s.origin.to_string(),
                        origin_name: s.origin.place_name(),
                        destination: s.destination.to_string(),
                        destination_name: s.destination.place_name(),
                        share_pct: s.share_pct,
                    })
                    .collect(),
            )
        });
        self.ask(caller, Action::OpenData, work).await
    }

    /// Published daily cases of an area.
    pub async fn case_curve(
        &self,
        caller: &Caller,
        area: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<CaseDayView>, EngineError> {
        let (area, from, to) = (area.to_string(), from.to_string(), to.to_string());
        let work = Async(move |asking: Asking| async move {
            let area = region_param(&area, "region")?;
            let (first, last) = (date_param(&from, "from")?, date_param(&to, "to")?);
            if first > last || last.days() - first.days() > 400 {
                return Err(EngineError::BadRequest(
                    "from must be on or before to, at most 400 days apart".into(),
                ));
            }
            let snap = asking.snapshot().await?;
            let q = query::Query::open_pseudonymised(&snap.store).map_err(EngineError::internal)?;
            let days = inflow::public::case_curve(&q, area, first, last)
                .await
                .map_err(EngineError::internal)?;
            rows(
                days.into_iter()
                    .map(|d| CaseDayView {
                        date: d.date.to_string(),
                        confirmed: d.confirmed,
                        new: d.new,
                    })
                    .collect(),
            )
        });
        self.ask(caller, Action::OpenData, work).await
    }

    /// A case's public trail as of a time. The person must live within the caller's scope
    /// (checked before their case status is looked at, so the refusal is the same for a case
    /// and for anyone else); within it, someone who is not a case is 404. The audit entry
    /// names the person whose trail was shown.
    pub async fn case_trail(
        &self,
        caller: &Caller,
        id: &str,
        as_of: Option<&str>,
    ) -> Result<TrailView, EngineError> {
        let id = id.to_string();
        let as_of = as_of.map(str::to_string);
        let work = Async(move |asking: Asking| async move {
            let person = crate::parse_person(&id)?;
            let case = asking.engine().keys().pseudonyms.pseudonym(person);
            asking
                .blocking(move |ctx: &Ctx<'_>| {
                    crate::codes::require_in_scope(&ctx.view()?, case, "this person")
                })
                .await?;
            let snap = asking.snapshot().await?;
            let zone = snap.zone();
            let at = crate::parse_as_of_instant(as_of.as_deref(), zone)?;
            let tracer = trace::Tracer::new(&snap.index, zone);
            let Some(info) = tracer.assess(case, at).case else {
                return Err(EngineError::NotFound(
                    "not a confirmed or asymptomatic case by then".into(),
                ));
            };
            let stops = alerts::public_trail(&snap.index, case, &info, zone);
            let ids = stops
                .iter()
                .filter(|s| s.via == trace::Via::Venue)
                .map(|s| s.place.clone())
                .collect();
            let q = query::Query::open_pseudonymised(&snap.store).map_err(EngineError::internal)?;
            let venues = inflow::venues(&q, &ids)
                .await
                .map_err(EngineError::internal)?;
            let (from, to) = alerts::trail_window(&info, zone);
            let trail = TrailView {
                onset: info.onset.to_string(),
                reported: Timestamp(info.report_time).to_rfc3339(zone),
                from: Timestamp(from).to_rfc3339(zone),
                to: Timestamp(to).to_rfc3339(zone),
                stops: stops
                    .into_iter()
                    .map(|s| {
                        let v = venues.get(&s.place);
                        TrailStopView {
                            via: s.via.as_str(),
                            start: s.start.to_rfc3339(zone),
                            end: s.end.to_rfc3339(zone),
                            place_name: v.and_then(|v| v.name.clone()),
                            region: v.map(|v| v.region.to_string()),
                            region_name: v.and_then(|v| v.region.place_name()),
                            community: v.and_then(|v| v.community.clone()),
                            place: s.place,
                        }
                    })
                    .collect(),
            };
            asking.note(case);
            let n = trail.stops.len() as i64;
            Ok(Answer::new(trail, n))
        });
        self.ask(caller, Action::CaseTrail, work).await
    }
}
