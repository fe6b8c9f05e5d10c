//! Daily arrivals per region (contract §7): counts only, narrowed to the caller's scope.

use axum::Json;
use axum::extract::State;
use engine::alerts_api::{WatchParams, WatchView};
use engine::inflow_api::{InflowParams, InflowView, RoadView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

/// Arrivals into each region per day, by kind, origin and origin risk: the contract's rows
/// with region names and the origin-risk split added.
#[utoipa::path(get, path = "/inflow", tag = "inflow", security(("bearer" = [])),
    params(InflowParams),
    responses((status = 200, body = Vec<InflowView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn inflow(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(p): ApiQuery<InflowParams>,
) -> Result<Json<Vec<InflowView>>, ApiError> {
    Ok(Json(state.engine.inflow(&caller, &p).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoadsQuery {
    /// The last day counted (YYYY-MM-DD; default today).
    pub as_of: Option<String>,
    /// How many days ending on `as_of` (default 1).
    pub days: Option<u32>,
    /// Only checkpoints in regions this code covers.
    pub region: Option<String>,
}

/// Expressway checkpoint passes per county and day: vehicles, occupants (and how many of them
/// arriving), origin prefectures, destination counties and declared purposes.
#[utoipa::path(get, path = "/inflow/roads", tag = "inflow", security(("bearer" = [])),
    params(RoadsQuery),
    responses((status = 200, body = Vec<RoadView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn roads(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<RoadsQuery>,
) -> Result<Json<Vec<RoadView>>, ApiError> {
    let p = InflowParams {
        as_of: q.as_of,
        level: None,
        days: Some(q.days.unwrap_or(1)),
        region: q.region,
    };
    Ok(Json(state.engine.roads(&caller, &p).await?))
}

/// Returnees from high-risk areas within their days, per community where they stay.
#[utoipa::path(get, path = "/watch", tag = "inflow", security(("bearer" = [])),
    params(WatchParams),
    responses((status = 200, body = WatchView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn watch(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<WatchParams>,
) -> Result<Json<WatchView>, ApiError> {
    Ok(Json(state.engine.watch_for(&caller, &q).await?))
}
