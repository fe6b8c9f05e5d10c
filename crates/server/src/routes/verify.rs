//! Verifying a presented code (`FY1:` or an EU DCC `HC1:`), as a checkpoint does.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ErrorBody};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    /// The QR code's text.
    pub payload: String,
}

/// The contract's verify JSON: `{"valid", "kind", "checks", "reason", "claims"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VerifyAnswer {
    pub valid: bool,
    /// `fangyi`, `dcc`, or null when the payload is neither.
    pub kind: Option<String>,
    /// `decode`, `signature`, `expiry`, `key_usage`: true, false, or null when not reached.
    #[schema(value_type = Object)]
    pub checks: serde_json::Value,
    pub reason: String,
    #[schema(value_type = Object)]
    pub claims: serde_json::Value,
}

/// Checks signature, expiry, key usage and revocation against this deployment's trust list.
#[utoipa::path(post, path = "/codes/verify", tag = "health codes", security(("bearer" = [])),
    request_body = VerifyRequest,
    responses((status = 200, body = VerifyAnswer, description = "valid or not: see `valid`"),
        (status = 403, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let json = state.engine.verify_code(&caller, &req.payload).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}
