//! The headers every response carries, set in one layer around the whole app so no route can
//! forget them: a strict Content-Security-Policy (scripts and styles only from this server, no
//! framing) with `nosniff`, `X-Frame-Options` and `Referrer-Policy`; and `Cache-Control:
//! no-store` on every API answer (they carry personal data, which no browser or proxy cache may
//! keep) and on anything else that did not say how to cache it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Scripts and styles only from this server (ECharts sets styles from script); no plugins, no
/// framing, no `<base>`, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                       img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether `path` is under the API, whose answers are never cached.
fn is_api(path: &str) -> bool {
    path == "/api/v1" || path.starts_with("/api/v1/")
}

/// Sets the security headers on every response, and `no-store` where it belongs.
pub async fn security(req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if api || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_is_everything_under_api_v1() {
        assert!(is_api("/api/v1/persons/x/code"));
        assert!(is_api("/api/v1"));
        assert!(!is_api("/api/v10/x"));
        assert!(!is_api("/api/docs"));
        assert!(!is_api("/"));
    }
}
