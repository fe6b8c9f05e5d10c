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

/// `text` with every run that looks like a person id (17 digits and a check character)
/// masked, so the audit log's record of a request never holds an ID number.
pub fn mask_ids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let is_id = i + 18 <= b.len()
            && b[i..i + 17].iter().all(u8::is_ascii_digit)
            && (b[i + 17].is_ascii_digit() || b[i + 17] == b'X' || b[i + 17] == b'x')
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && (i + 18 == b.len() || !b[i + 18].is_ascii_digit());
        if is_id {
            out.push_str(&privacy::mask_id(&text[i..i + 18]));
            i += 18;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
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
    mask_ids(&format!("{} {}", parts.method, path))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_in_requests_are_masked() {
        assert_eq!(
            mask_ids("GET /api/v1/persons/420106199001010015/code?as_of=2020-02-01"),
            "GET /api/v1/persons/420106********0015/code?as_of=2020-02-01"
        );
        assert_eq!(
            mask_ids("x=11010519491231002X&y=1"),
            "x=110105********002X&y=1"
        );
        // Not 18 characters of id: left alone.
        assert_eq!(mask_ids("4201061990010100151"), "4201061990010100151");
        assert_eq!(mask_ids("张三 420106"), "张三 420106");
    }

    proptest! {
        #[test]
        fn masking_never_panics_and_never_leaves_an_id(s in ".{0,60}", id in "[1-6][0-9]{16}[0-9X]") {
            let _ = mask_ids(&s);
            let text = format!("{s}/{id}/");
            prop_assert!(!mask_ids(&text).contains(&id));
        }
    }
}
