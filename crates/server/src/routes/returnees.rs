//! Who came back from a region, with where they stay now; or only the counts.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use engine::returnees::{ReturneeView, ReturneesParams, ReturneesSummary};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturneesQuery {
    /// The origin region (420100 is Wuhan with its districts).
    pub region: String,
    /// First arrival date, YYYY-MM-DD.
    pub from: String,
    /// Last arrival date (included).
    pub to: String,
    /// Only counts per stay county and community.
    pub summary: Option<bool>,
}

/// Everyone who arrived from `region` in the period and stays within your scope.
#[utoipa::path(get, path = "/returnees", tag = "inflow", security(("bearer" = [])),
    params(ReturneesQuery),
    responses((status = 200, body = Vec<ReturneeView>, description = "or ReturneesSummary with summary=true"),
        (status = 403, body = ErrorBody)))]
pub async fn returnees(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<ReturneesQuery>,
) -> Result<Response, ApiError> {
    let p = ReturneesParams {
        region: q.region,
        from: q.from,
        to: q.to,
    };
    if q.summary.unwrap_or(false) {
        let s: ReturneesSummary = state.engine.returnees_summary(&caller, &p).await?;
        return Ok(Json(s).into_response());
    }
    Ok(Json(state.engine.returnees(&caller, &p).await?).into_response())
}
