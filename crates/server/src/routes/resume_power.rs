//! The power index of resumption (contract §8.3): counts and shares of enterprises per region,
//! industry and day, narrowed to the caller's region.

use axum::Json;
use axum::extract::State;
use engine::resume_power::{ResumeIndexParams, ResumeIndexView};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

/// How far enterprises have resumed by their power use: per region at the level, industry (or
/// `all`) and day, the indexed and resumed enterprises, their shares and the index.
#[utoipa::path(get, path = "/resume/index", tag = "resume", security(("bearer" = [])),
    params(ResumeIndexParams),
    responses((status = 200, body = Vec<ResumeIndexView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn index(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(p): ApiQuery<ResumeIndexParams>,
) -> Result<Json<Vec<ResumeIndexView>>, ApiError> {
    Ok(Json(state.engine.resume_index(&caller, &p).await?))
}
