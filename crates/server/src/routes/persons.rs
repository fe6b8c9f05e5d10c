//! A person's health code, and their signed codes: issue (JSON or the QR as PNG) and revoke.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use engine::codes::CodeView;
use engine::signing::{IssuedView, RevokedView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The end of this date (YYYY-MM-DD), or an RFC 3339 time whose date is taken; default today.
    pub as_of: Option<String>,
}

/// Contract §4: a person's color, every reason, valid_until.
#[utoipa::path(get, path = "/persons/{id}/code", tag = "health codes", security(("bearer" = [])),
    params(("id" = String, Path, description = "18-character ID number"), AsOf),
    responses((status = 200, body = CodeView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn code(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AsOf>,
) -> Result<Json<CodeView>, ApiError> {
    Ok(Json(
        state
            .engine
            .person_code(&caller, &id, q.as_of.as_deref())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IssueParams {
    pub as_of: Option<String>,
    /// Hours the signed code stays valid offline (1–168, default 24).
    pub ttl: Option<u32>,
    /// `json` (default) or `png` (the QR code).
    pub format: Option<String>,
}

/// Signs the person's code as an `FY1:` payload (recorded, so it can be revoked).
#[utoipa::path(post, path = "/persons/{id}/code/issue", tag = "health codes", security(("bearer" = [])),
    params(("id" = String, Path, description = "18-character ID number"), IssueParams),
    responses((status = 200, body = IssuedView, description = "JSON, or image/png with format=png"),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody, description = "no issuer key")))]
pub async fn issue(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<IssueParams>,
) -> Result<Response, ApiError> {
    let png = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("png") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format {other}: json or png"
            )));
        }
    };
    let issued = state
        .engine
        .issue_code(&caller, &id, q.as_of.as_deref(), q.ttl)
        .await?;
    if png {
        let bytes = engine::qr_png(&issued.payload).map_err(ApiError::bad_request)?;
        return Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response());
    }
    Ok(Json(issued).into_response())
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
pub struct RevokeRequest {
    /// Why, kept with the revocation.
    #[serde(default)]
    pub reason: String,
}

/// Revokes every signed code of the person that has not expired.
#[utoipa::path(post, path = "/persons/{id}/code/revoke", tag = "health codes", security(("bearer" = [])),
    params(("id" = String, Path, description = "18-character ID number")),
    request_body = RevokeRequest,
    responses((status = 200, body = RevokedView), (status = 403, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<RevokedView>, ApiError> {
    // The body is optional: none, or `{"reason": "…"}`.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<RevokeRequest>(&body)
            .map_err(|e| ApiError::bad_request(format!("the JSON body: {e}")))?
            .reason
    };
    Ok(Json(
        state.engine.revoke_codes(&caller, &id, &reason).await?,
    ))
}
