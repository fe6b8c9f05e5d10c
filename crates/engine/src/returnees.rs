//! Returnees through the boundary: who arrived from a region in a period and where they stay
//! now — for epidemiologists within their region and community workers within their community
//! (names and phones, no ticket detail) — and the counts per county and community, which
//! analysts may see too.

use inflow::{ExposedPerson, by_stay};
use model::{Date, Region};
use privacy::{Action, Scope};
use serde::Serialize;

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::disclose::PersonView;
pub use crate::inflow_api::InflowVia;
use crate::{Caller, Engine, EngineError};

/// A period of days, and why one is refused.
pub use inflow::{InflowError, Period};

/// What a returnee list asks: the query parameters of `GET /returnees`, and what
/// `fangyi exposed` converts its flags into — defined once here.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ReturneesParams {
    /// The origin region (420100 is Wuhan with its districts).
    pub region: String,
    /// First arrival date, YYYY-MM-DD.
    pub from: String,
    /// Last arrival date (included).
    pub to: String,
    /// Only counts per stay county and community.
    pub summary: Option<bool>,
}

/// One returnee.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ReturneeView {
    #[serde(flatten)]
    pub person: PersonView,
    pub first_arrival: String,
    pub last_arrival: String,
    /// How they came (`rail`, `flight`, …); left out for roles without travel detail
    /// (`privacy::sees_travel`: community workers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<&'static str>>,
    pub origins: Vec<String>,
    pub stay_region: Option<String>,
    pub stay_community: Option<String>,
    pub stay_source: &'static str,
}

/// Counts per stay county and community.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ReturneesSummary {
    pub region: String,
    pub from: String,
    pub to: String,
    pub persons: usize,
    pub counties: Vec<CountyCount>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CountyCount {
    pub region: Option<String>,
    pub name: Option<&'static str>,
    pub persons: usize,
    pub communities: Vec<CommunityCount>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CommunityCount {
    pub community: Option<String>,
    pub persons: usize,
}

fn parse(p: &ReturneesParams) -> Result<(Region, Period), EngineError> {
    let bad = |m: String| EngineError::BadRequest(m);
    let region = Region::parse(p.region.trim().as_bytes())
        .map_err(|e| bad(format!("region {}: {}", p.region, e.reason())))?;
    let date = |s: &str, what: &str| {
        Date::parse(s.trim().as_bytes()).map_err(|e| bad(format!("{what} {s}: {}", e.reason())))
    };
    let period =
        Period::new(date(&p.from, "from")?, date(&p.to, "to")?).map_err(|e| bad(e.to_string()))?;
    if period.days() > 366 {
        return Err(bad("a period of at most 366 days".into()));
    }
    Ok((region, period))
}

/// Whether a returnee staying at `stay` is within `scope` (where they are now, not where their
/// home is: a community worker serves whoever stays in the community).
fn stays_within(scope: &Scope, e: &ExposedPerson) -> bool {
    let region_ok = match scope.region {
        None => true,
        Some(r) => e.stay.region.is_some_and(|s| r.covers(s)),
    };
    let community_ok = match &scope.community {
        None => true,
        Some(c) => e.stay.community.as_deref() == Some(c.as_str()),
    };
    region_ok && community_ok
}

/// Everyone who arrived from the request's region in its period and stays within the
/// caller's scope.
async fn exposed_within(
    asking: &Asking,
    params: &ReturneesParams,
    via: InflowVia,
) -> Result<Vec<ExposedPerson>, EngineError> {
    let (region, period) = parse(params)?;
    let all = match via {
        InflowVia::Scan => {
            let snap = asking.snapshot().await?;
            let q = query::Query::open_pseudonymised(&snap.store).map_err(EngineError::internal)?;
            inflow::exposed(&q, snap.zone(), region, period)
                .await
                .map_err(EngineError::internal)?
        }
        InflowVia::Sql => crate::inflow_api::exposed_sql(asking, region, period).await?,
    };
    let scope = &asking.caller().account.scope;
    Ok(all.into_iter().filter(|e| stays_within(scope, e)).collect())
}

impl Engine {
    /// Everyone who arrived from `region` in the period and stays within the caller's scope.
    pub async fn returnees(
        &self,
        caller: &Caller,
        params: &ReturneesParams,
    ) -> Result<Vec<ReturneeView>, EngineError> {
        self.returnees_via(caller, params, InflowVia::Scan).await
    }

    /// [`Engine::returnees`] computed as `via` says (`fangyi exposed --via sql`, `--cluster`):
    /// the same persons, scoped, shown and audited alike.
    pub async fn returnees_via(
        &self,
        caller: &Caller,
        params: &ReturneesParams,
        via: InflowVia,
    ) -> Result<Vec<ReturneeView>, EngineError> {
        let params = params.clone();
        let travel = privacy::sees_travel(caller.account.role);
        let work = Async(move |asking: Asking| async move {
            let exposed = exposed_within(&asking, &params, via).await?;
            let value = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let persons: Vec<i64> = exposed.iter().map(|e| e.person).collect();
                    // The list is narrowed to the caller's area by where people stay.
                    let shown = view.persons_where(&persons, &|_| true)?;
                    Ok(exposed
                        .into_iter()
                        .zip(shown)
                        .map(|(e, person)| ReturneeView {
                            person,
                            first_arrival: e.first_arrival.to_string(),
                            last_arrival: e.last_arrival.to_string(),
                            kinds: travel.then(|| e.kinds.iter().map(|k| k.as_str()).collect()),
                            origins: e.origins.iter().map(|r| r.to_string()).collect(),
                            stay_region: e.stay.region.map(|r| r.to_string()),
                            stay_community: e.stay.community.clone(),
                            stay_source: e.stay.source.as_str(),
                        })
                        .collect::<Vec<_>>())
                })
                .await?;
            let rows = value.len() as i64;
            Ok(Answer::new(value, rows))
        });
        self.ask(caller, Action::Returnees, work).await
    }

    /// How many returnees stay in each county and community within the caller's scope. No
    /// identities: analysts may ask.
    pub async fn returnees_summary(
        &self,
        caller: &Caller,
        params: &ReturneesParams,
    ) -> Result<ReturneesSummary, EngineError> {
        self.returnees_summary_via(caller, params, InflowVia::Scan)
            .await
    }

    /// [`Engine::returnees_summary`] computed as `via` says.
    pub async fn returnees_summary_via(
        &self,
        caller: &Caller,
        params: &ReturneesParams,
        via: InflowVia,
    ) -> Result<ReturneesSummary, EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let exposed = exposed_within(&asking, &params, via).await?;
            let counts = by_stay(exposed.iter().map(|e| &e.stay));
            let summary = ReturneesSummary {
                region: params.region.trim().to_string(),
                from: params.from.trim().to_string(),
                to: params.to.trim().to_string(),
                persons: exposed.len(),
                counties: counts
                    .into_iter()
                    .map(|c| CountyCount {
                        region: c.region.map(|r| r.to_string()),
                        name: c.region.and_then(|r| r.name()),
                        persons: c.persons,
                        communities: c
                            .communities
                            .into_iter()
                            .map(|m| CommunityCount {
                                community: m.community,
                                persons: m.persons,
                            })
                            .collect(),
                    })
                    .collect(),
            };
            let rows = summary.persons as i64;
            Ok(Answer::new(summary, rows))
        });
        self.ask(caller, Action::ReturneesSummary, work).await
    }
}
