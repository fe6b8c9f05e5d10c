//! Published figures for the dashboard — risk areas, movement shares, case curves — and a
//! case's public trail. No identities in any answer.

use axum::Json;
use axum::extract::State;
use engine::open_api::{CaseDayView, RiskAreaView, ShareView, TrailView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// The day (YYYY-MM-DD; default today).
    pub as_of: Option<String>,
}

/// Risk areas valid on the day.
#[utoipa::path(get, path = "/risk-areas", tag = "open data", security(("bearer" = [])),
    params(DayQuery),
    responses((status = 200, body = Vec<RiskAreaView>), (status = 403, body = ErrorBody)))]
pub async fn risk_areas(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> Result<Json<Vec<RiskAreaView>>, ApiError> {
    Ok(Json(
        state.engine.risk_areas(&caller, q.as_of.as_deref()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MigrationQuery {
    /// The place (420100: Wuhan).
    pub region: String,
    /// `out` (where its departures went, default) or `in` (where its arrivals came from).
    pub direction: Option<String>,
    /// The day, YYYY-MM-DD.
    pub date: String,
    /// At most this many shares (default 30).
    pub limit: Option<usize>,
}

/// The largest movement shares of a place on a day (public data such as Baidu Qianxi,
/// loaded with `fangyi import baidu-migration`).
#[utoipa::path(get, path = "/migration", tag = "open data", security(("bearer" = [])),
    params(MigrationQuery),
    responses((status = 200, body = Vec<ShareView>), (status = 400, body = ErrorBody)))]
pub async fn migration(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<MigrationQuery>,
) -> Result<Json<Vec<ShareView>>, ApiError> {
    let outbound = match q.direction.as_deref().unwrap_or("out") {
        "out" => true,
        "in" => false,
        other => {
            return Err(engine::EngineError::BadRequest(format!(
                "direction {other}: expected out or in"
            ))
            .into());
        }
    };
    Ok(Json(
        state
            .engine
            .migration(&caller, &q.region, outbound, &q.date, q.limit.unwrap_or(30))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurveQuery {
    /// The area: every published code it covers is summed.
    pub region: String,
    pub from: String,
    pub to: String,
}

/// Published daily confirmed cases of an area (public data such as DXY, loaded with
/// `fangyi import dxy-cases`), cumulative and new.
#[utoipa::path(get, path = "/case-curve", tag = "open data", security(("bearer" = [])),
    params(CurveQuery),
    responses((status = 200, body = Vec<CaseDayView>), (status = 400, body = ErrorBody)))]
pub async fn case_curve(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<CurveQuery>,
) -> Result<Json<Vec<CaseDayView>>, ApiError> {
    Ok(Json(
        state
            .engine
            .case_curve(&caller, &q.region, &q.from, &q.to)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// As of this time or day (default now).
    pub as_of: Option<String>,
}

/// A case's public trail: rides and venue visits from the day before onset to the report, with
/// no identity — what may be published.
#[utoipa::path(get, path = "/cases/{id}/trail", tag = "tracing", security(("bearer" = [])),
    params(("id" = String, Path, description = "the case's 18-character ID number"), TrailQuery),
    responses((status = 200, body = TrailView), (status = 404, body = ErrorBody)))]
pub async fn trail(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TrailQuery>,
) -> Result<Json<TrailView>, ApiError> {
    Ok(Json(
        state
            .engine
            .case_trail(&caller, &id, q.as_of.as_deref())
            .await?,
    ))
}
