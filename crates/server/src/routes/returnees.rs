//! Who came back from a region, with where they stay now; or only the counts.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use engine::returnees::{ReturneeView, ReturneesParams, ReturneesSummary};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

/// Everyone who arrived from `region` in the period and stays within your scope.
#[utoipa::path(get, path = "/returnees", tag = "inflow", security(("bearer" = [])),
    params(ReturneesParams),
    responses((status = 200, body = Vec<ReturneeView>, description = "or ReturneesSummary with summary=true"),
        (status = 403, body = ErrorBody)))]
pub async fn returnees(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(p): ApiQuery<ReturneesParams>,
) -> Result<Response, ApiError> {
    if p.summary.unwrap_or(false) {
        let s: ReturneesSummary = state.engine.returnees_summary(&caller, &p).await?;
        return Ok(Json(s).into_response());
    }
    Ok(Json(state.engine.returnees(&caller, &p).await?).into_response())
}
