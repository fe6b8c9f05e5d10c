//! Read-only SQL over the tables the caller's role may see (the engine builds them: stored,
//! within the caller's region, or de-identified), bounded in size, nesting and memory.

use axum::Json;
use axum::extract::State;
use engine::sql::SqlAnswer;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ErrorBody};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SqlRequest {
    /// One SELECT statement (at most 64 KiB); every kind is a table of its name, as the role
    /// may see it.
    pub sql: String,
}

/// Runs one read-only statement; at most 10,000 rows come back. An admin's tables are the
/// stored ones, an epidemiologist's the rows of persons in their region, an analyst's
/// de-identified (quasi-identifiers generalised so every combination holds five persons). A
/// statement past a bound (length, nesting, plan size, memory) is a 400; every statement is
/// audited with its text.
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
