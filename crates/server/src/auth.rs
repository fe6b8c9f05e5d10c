//! Who is calling and why: the bearer token (`Authorization: Bearer …`) names the account, the
//! purpose comes from `X-Purpose` (or `?purpose=`), and what was asked is recorded with every
//! person id in it masked.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use engine::Caller;
use privacy::Purpose;

use crate::AppState;
use crate::error::ApiError;

/// An authenticated request with its purpose.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "use `Authorization: Bearer TOKEN` (a token from `fangyi users add` or POST /api/v1/login)",
        ));
    }
    Ok(Some(token.trim().to_string()))
}

/// The purpose of a request: `X-Purpose`, else the `purpose` query parameter.
pub fn purpose(parts: &Parts) -> Result<Purpose, ApiError> {
    let from_header = parts
        .headers
        .get("x-purpose")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("the X-Purpose header is not text"))?;
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "purpose")
            .map(|(_, v)| v.to_string())
    });
    let Some(p) = from_header.or(from_query) else {
        return Err(ApiError::bad_request(format!(
            "name the purpose of this request in the X-Purpose header (one of {})",
            Purpose::names()
        )));
    };
    Purpose::parse(&p).ok_or_else(|| {
        ApiError::bad_request(format!(
            "X-Purpose {p}: not a purpose (one of {})",
            Purpose::names()
        ))
    })
}

/// What was asked, as the audit log records it.
pub fn request_text(parts: &Parts) -> String {
    // The full URI, before nesting stripped `/api/v1` off it.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    privacy::mask_ids(&format!("{} {}", parts.method, path))
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Authed, ApiError> {
        let Some(token) = bearer(&parts.headers)? else {
            return Err(ApiError::unauthorized(
                "this needs a token: `Authorization: Bearer TOKEN`",
            ));
        };
        let account = state.engine.authenticate(&token).await?;
        let purpose = purpose(parts)?;
        Ok(Authed(Caller::new(account, purpose, request_text(parts))))
    }
}
