//! The resident's own signed code as a QR image (`GET /resident/code.png`), for the page at
//! `/me` to show: the same answer as `GET /resident/code` (audited, recorded so it can be
//! revoked), drawn by the engine's QR encoder, so the page needs no QR library.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::routes::resident::{CodeQuery, ResidentAuthed};

/// The resident's signed code (`FY1:`) as a PNG QR code, for the end of `as_of` (default now).
/// `503` when the deployment signs no codes (no issuer key) or the resident is not registered.
#[utoipa::path(get, path = "/resident/code.png", tag = "resident", security(("bearer" = [])),
    params(CodeQuery),
    // The PNG is described in words, not as an `image/png` content: client generators
    // (openapi-python-client) refuse that content type and the document's check fails.
    responses((status = 200, description = "the QR code, a PNG image (image/png)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "no signed code to show")))]
pub async fn code_png(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> Result<Response, ApiError> {
    let code = state
        .engine
        .resident_code(&caller, q.as_of.as_deref())
        .await?;
    let Some(payload) = code.payload else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no signed code: the deployment has no issuer key (fangyi keys init --region CODE)",
        ));
    };
    let png = engine::qr_png(&payload).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("drawing the QR code: {e}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}
