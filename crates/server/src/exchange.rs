//! Health attestations between deployments over HTTP (issue 19 item 1).
//!
//! - `POST /exchange/v1/attestations` (the home province, A): the body is a signed request
//!   (`exchange::attest`, `application/cose`), authenticated by its signature against A's
//!   trust list — no token; the answer is A's signed answer (200), or 400 malformed, 401 not
//!   signed by a trusted key of the region it names, 409 a replay or stale, 429 past the rate.
//! - [`fetch`] (the arrival province, B; `fangyi peer fetch`, `fangyi serve --peer`): one
//!   request per batch of arrivals from A's region, each answer recorded by the engine, or
//!   "home data unavailable" when A is down, slow ([`ANSWER_TIMEOUT`]) or refuses.
//!   [`fetch_every`] repeats it, retrying sooner (with backoff) after a failure.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use engine::attest_api::PeerReceived;
use engine::{Caller, Engine, EngineError};
use http_body_util::{BodyExt, Full, Limited};

use crate::AppState;
use crate::error::ApiError;

/// Where a home province answers.
pub const ATTESTATIONS_PATH: &str = "/exchange/v1/attestations";

/// How long B waits for one answer before A counts as slow.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer B reads (10,000 items are about 600 KB).
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// `POST /exchange/v1/attestations`.
pub async fn attestations(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let answer = match state.engine.answer_attestation(&body).await {
        Ok(a) => a,
        Err(e) => {
            // A request refused before it was authenticated has no audit entry (no one to
            // name); the server's log keeps it.
            if matches!(
                e,
                EngineError::Unauthenticated(_) | EngineError::BadRequest(_)
            ) {
                tracing::warn!("attestation request refused: {e}");
            }
            return Err(e.into());
        }
    };
    // Persons' colors: no cache between the provinces may keep them.
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/cose; cose-type=\"cose-sign1\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        answer,
    )
        .into_response())
}

/// `http://HOST[:PORT]` → (authority, the attestations URL).
fn peer_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .trim()
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| {
            format!("{url}: a peer is an http://HOST[:PORT] URL (the messages are signed)")
        })?;
    if rest.is_empty() || rest.contains(['/', '@', '?', ' ']) {
        return Err(format!("{url}: not http://HOST[:PORT]"));
    }
    Ok((
        rest.to_string(),
        format!("http://{rest}{ATTESTATIONS_PATH}"),
    ))
}

/// Posts one request; the answer's bytes, or why there is none.
async fn post(authority: &str, full: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("{full}: connecting: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{full}: {e}"))?;
    tokio::spawn(conn);
    let req = hyper::Request::post(ATTESTATIONS_PATH)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/cose")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("{full}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{full}: {e}"))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{full}: reading the answer: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let why = v["error"].as_str().unwrap_or("no reason given");
        return Err(format!("{full} answered {status}: {why}"));
    }
    Ok(body.to_vec())
}

/// B asks the home province at `url` (region `home`) about everyone who arrived from it in
/// the days up to `as_of`, and records each answer (or its absence). One entry per batch.
pub async fn fetch(
    engine: &Engine,
    caller: &Caller,
    url: &str,
    home: &str,
    purpose: &str,
    as_of: Option<&str>,
    timeout: Duration,
) -> Result<Vec<PeerReceived>, EngineError> {
    let (authority, full) = peer_url(url).map_err(EngineError::BadRequest)?;
    let batches = engine.peer_requests(caller, home, purpose, as_of).await?;
    let mut out = Vec::with_capacity(batches.len());
    for batch in &batches {
        let answer =
            match tokio::time::timeout(timeout, post(&authority, &full, batch.request.clone()))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(format!("{full}: no answer within {} s", timeout.as_secs())),
            };
        out.push(engine.peer_receive(caller, batch, answer).await?);
    }
    Ok(out)
}

/// `fangyi serve --peer REGION=URL`: [`fetch`] every `every` (for the day `as_of`, default
/// each round's today); after a round with a province unavailable, again after 15 s, then
/// 30 s, … up to `every`.
pub async fn fetch_every(
    engine: Engine,
    peers: Vec<(String, String)>,
    every: Duration,
    as_of: Option<String>,
) {
    let caller = Caller::new(
        engine::Account::local(),
        engine::Purpose::ArrivalRegistration,
        "fangyi serve --peer",
    );
    let mut backoff = Duration::from_secs(15);
    loop {
        let mut failed = false;
        for (home, url) in &peers {
            match fetch(
                &engine,
                &caller,
                url,
                home,
                "arrival_registration",
                as_of.as_deref(),
                ANSWER_TIMEOUT,
            )
            .await
            {
                Ok(got) => {
                    for r in got.iter().filter(|r| r.error.is_some()) {
                        failed = true;
                        tracing::warn!(
                            "peer {home}: home data unavailable for {} persons: {}",
                            r.unavailable,
                            r.error.as_deref().unwrap_or("")
                        );
                    }
                }
                Err(e) => {
                    failed = true;
                    tracing::warn!("peer {home}: {e}");
                }
            }
        }
        let wait = if failed {
            let w = backoff.min(every);
            backoff = (backoff * 2).min(every);
            w
        } else {
            backoff = Duration::from_secs(15);
            every
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls() {
        assert_eq!(
            peer_url("http://127.0.0.1:8081/").unwrap(),
            (
                "127.0.0.1:8081".to_string(),
                "http://127.0.0.1:8081/exchange/v1/attestations".to_string()
            )
        );
        for bad in [
            "https://a",
            "a:1",
            "http://",
            "http://u@a",
            "http://a/x",
            "http://a?b",
        ] {
            assert!(peer_url(bad).is_err(), "{bad}");
        }
    }
}
