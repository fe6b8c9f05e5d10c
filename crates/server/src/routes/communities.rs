//! The codes of a community's residents, with names and phones as the role may see them.

use axum::Json;
use axum::extract::State;
use engine::codes::CommunityCodes;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::routes::persons::AsOf;

/// Every resident of a community (`community_id` in `persons`) with their color.
#[utoipa::path(get, path = "/communities/{id}/codes", tag = "health codes", security(("bearer" = [])),
    params(("id" = String, Path, description = "community id"), AsOf),
    responses((status = 200, body = CommunityCodes), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn codes(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AsOf>,
) -> Result<Json<CommunityCodes>, ApiError> {
    Ok(Json(
        state
            .engine
            .community_codes(&caller, &id, q.as_of.as_deref())
            .await?,
    ))
}
