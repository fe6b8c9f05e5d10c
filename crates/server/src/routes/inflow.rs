//! Daily arrivals per region (contract §7): counts only, narrowed to the caller's scope.

use axum::Json;
use axum::extract::State;
use engine::inflow_api::{InflowParams, InflowView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InflowQuery {
    /// The last day counted (YYYY-MM-DD; default today).
    pub as_of: Option<String>,
    /// `province`, `prefecture` (default), `county` or `community` (community workers: only
    /// `community`).
    pub level: Option<String>,
    /// How many days ending on `as_of` (default 14, at most 366).
    pub days: Option<u32>,
    /// Only destinations this code covers.
    pub region: Option<String>,
}

/// Arrivals into each region per day, by kind, origin and origin risk: the contract's rows
/// with region names and the origin-risk split added.
#[utoipa::path(get, path = "/inflow", tag = "inflow", security(("bearer" = [])),
    params(InflowQuery),
    responses((status = 200, body = Vec<InflowView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn inflow(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<InflowQuery>,
) -> Result<Json<Vec<InflowView>>, ApiError> {
    let p = InflowParams {
        as_of: q.as_of,
        level: q.level,
        days: q.days,
        region: q.region,
    };
    Ok(Json(state.engine.inflow(&caller, &p).await?))
}
