//! Who is calling and why: the bearer token (`Authorization: Bearer …`) names the account, the
//! purpose comes from `X-Purpose` (or `?purpose=`, URL-decoded like every query parameter), and
//! what was asked is recorded decoded — as the server understood it, so a percent-encoded id
//! cannot slip past the masking — with every person id in it masked.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use engine::Caller;
use engine::Purpose;

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
    let from_query = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, _)| k == "purpose"))
        .map(|(_, v)| v);
    let Some(p) = from_header.or(from_query) else {
        return Err(ApiError::bad_request(format!(
            "name the purpose of this request in the X-Purpose header (one of {})",
            Purpose::names()
        )));
    };
    Purpose::parse(&p).ok_or_else(|| {
        ApiError::bad_request(format!(
            "X-Purpose {}: not a purpose (one of {})",
            engine::quoted(&p, 40),
            Purpose::names()
        ))
    })
}

/// `text` with `%XX` escapes decoded (and `+` as a space, in a query), invalid UTF-8 replaced,
/// and control characters shown as escapes so a request cannot forge lines in the log.
fn decoded(text: &str, plus_is_space: bool) -> String {
    let b = text.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    let mut shown = String::with_capacity(out.len());
    for c in String::from_utf8_lossy(&out).chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// What was asked, as the audit log records it.
pub fn request_text(parts: &Parts) -> String {
    // The full URI, before nesting stripped `/api/v1` off it.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let mut text = format!("{} {}", parts.method, decoded(uri.path(), false));
    if let Some(q) = uri.query() {
        text.push('?');
        text.push_str(&decoded(q, true));
    }
    engine::mask_ids(&text)
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

    fn parts(uri: &str) -> Parts {
        axum::http::Request::get(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn the_purpose_parameter_is_url_decoded() {
        // Regression: `?purpose=health%5Fcode` was read as the text `health%5Fcode`.
        for uri in [
            "/x?purpose=health%5Fcode",
            "/x?as_of=2020-01-01&purpose=%68ealth_code",
            "/x?purpose=health_code",
        ] {
            assert_eq!(purpose(&parts(uri)).unwrap(), Purpose::HealthCode, "{uri}");
        }
        assert!(purpose(&parts("/x?purpose=health%")).is_err());
    }

    #[test]
    fn requests_are_recorded_decoded_with_ids_masked() {
        // Regression: an id with a percent-encoded digit reached the audit log in clear.
        let p = parts("/api/v1/persons/4201061990010%31001%35/code?as_of=2020%2D01%2D25&q=a+b%0Ac");
        let text = request_text(&p);
        assert_eq!(
            text,
            "GET /api/v1/persons/420106********0015/code?as_of=2020-01-25&q=a b\\nc"
        );
        assert_eq!(decoded("100%", false), "100%");
        assert_eq!(decoded("%zz%4", false), "%zz%4");
        assert_eq!(decoded("%FF", false), "\u{fffd}");
    }
}
