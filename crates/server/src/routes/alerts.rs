//! Community alerts: the day's list within the caller's scope, and status changes (open →
//! acknowledged → done), each audited.

use axum::Json;
use axum::extract::State;
use engine::alerts_api::{AlertParams, AlertView};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

/// The day's alerts in your region (community workers: your community), with severity, task
/// and status.
#[utoipa::path(get, path = "/alerts", tag = "inflow", security(("bearer" = [])),
    params(AlertParams),
    responses((status = 200, body = Vec<AlertView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<AlertParams>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    Ok(Json(state.engine.alerts(&caller, &q).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    /// `open`, `acknowledged` or `done`.
    pub status: String,
    /// What was done (at most 2000 bytes).
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusChanged {
    pub id: String,
    pub from: &'static str,
    pub to: &'static str,
}

/// Sets an alert's status (an alert of your region or community).
#[utoipa::path(post, path = "/alerts/{id}/status", tag = "inflow", security(("bearer" = [])),
    params(("id" = String, Path, description = "the alert's id")),
    request_body = StatusChange,
    responses((status = 200, body = StatusChanged),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatusChange>,
) -> Result<Json<StatusChanged>, ApiError> {
    let (from, to) = state
        .engine
        .set_alert_status(&caller, &id, &req.status, &req.note)
        .await?;
    Ok(Json(StatusChanged { id, from, to }))
}
