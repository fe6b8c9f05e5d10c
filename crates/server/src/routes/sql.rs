//! Read-only SQL over the pseudonymised tables, for analysts.

use axum::Json;
use axum::extract::State;
use engine::sql::SqlAnswer;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ErrorBody};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SqlRequest {
    /// One SELECT statement; every kind is a table of its name.
    pub sql: String,
}

/// Runs one read-only statement; at most 10,000 rows come back.
#[utoipa::path(post, path = "/sql", tag = "analysis", security(("bearer" = [])),
    request_body = SqlRequest,
    responses((status = 200, body = SqlAnswer), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn sql(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(req): ApiJson<SqlRequest>,
) -> Result<Json<SqlAnswer>, ApiError> {
    Ok(Json(state.engine.sql(&caller, &req.sql).await?))
}
