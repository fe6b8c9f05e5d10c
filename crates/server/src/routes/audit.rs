//! The audit log: who accessed whose data, when and why; and the check of its chain.

use axum::Json;
use axum::extract::State;
use engine::audit_api::{AuditCheck, AuditEntryView, AuditQuery};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries that showed this person (18-character ID number).
    pub person: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries after this sequence number.
    pub after: Option<i64>,
    /// At most this many (default 1,000).
    pub limit: Option<i64>,
}

/// Audit entries, oldest first. Reading the log is audited too.
#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = Vec<AuditEntryView>), (status = 403, body = ErrorBody)))]
pub async fn entries(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    let q = AuditQuery {
        person: q.person,
        actor: q.actor,
        action: q.action,
        after: q.after,
        limit: q.limit,
    };
    Ok(Json(state.engine.audit_entries(&caller, &q).await?))
}

/// Checks every entry's hash and link, the head's MAC and the checkpoint kept outside the
/// database: finds edits, deletions, reordering and entries cut off the end. The check is
/// audited, a refusal included.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = AuditCheck), (status = 403, body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<AuditCheck>, ApiError> {
    Ok(Json(state.engine.audit_check(&caller).await?))
}
