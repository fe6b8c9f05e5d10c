//! The trust hub over HTTP (`fangyi hub serve`): the newest signed trust list with change
//! polling, the provinces' signed key submissions, and a status page. No engine and no data
//! dir: a hub holds public keys only (its folder, `engine::issuer_api::hub::Hub`).
//!
//! - `GET /hub/v1/trust-list` — the signed list (`application/cose`), `ETag: "v<version>"`;
//!   `If-None-Match` with that tag, or `?since=<version>` at or above it, answers 304 with no
//!   body, so a deployment polling every minute moves a few hundred bytes when nothing changed.
//!   404 before the first publication.
//! - `POST /hub/v1/submissions` — a province's signed keys (`exchange::submission`): 200 with
//!   the province's keys as recorded, 400 malformed, 403 not signed by a key the hub holds for
//!   that region, 409 a replay. They take effect at the operator's next `fangyi hub publish`.
//! - `GET /hub/v1/status` — the version, the anchor, each province's key count.
//!
//! The list needs no transport security for integrity — every deployment checks the anchor's
//! signature and version — so plain HTTP behind the deployment's own TLS relay is enough.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::issuer_api::hub::{ExchangeError, Hub, submission};
use serde::Deserialize;

/// The path of the signed list.
pub const LIST_PATH: &str = "/hub/v1/trust-list";

/// Where provinces send their signed keys.
pub const SUBMISSIONS_PATH: &str = "/hub/v1/submissions";

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

fn failure(e: ExchangeError) -> Response {
    let status = match &e {
        ExchangeError::Bad(_) => StatusCode::BAD_REQUEST,
        ExchangeError::Refused(_) => StatusCode::FORBIDDEN,
        ExchangeError::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("hub: {e}");
        return json_error(status, "internal error; the hub's log has the details");
    }
    json_error(status, &e.to_string())
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExchangeError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(failure),
        Err(_) => Err(json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    since: Option<u64>,
}

fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

async fn trust_list(
    State(hub): State<Hub>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let latest = match blocking(move || hub.latest()).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some((version, bytes)) = latest else {
        return json_error(
            StatusCode::NOT_FOUND,
            "nothing published yet: the hub's operator runs fangyi hub publish",
        );
    };
    let tag = etag(version);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if matches || q.since.is_some_and(|s| s >= version) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "application/cose; cose-type=\"cose-sign1\"".to_string(),
            ),
            (header::ETAG, tag),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn submit(State(hub): State<Hub>, body: Bytes) -> Response {
    let now = engine::Timestamp::now().secs();
    match blocking(move || submission::accept(&hub, &body, now)).await {
        Ok(p) => {
            tracing::info!(
                "hub: region {} submitted {} keys",
                p.region,
                p.entries.len()
            );
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({
                    "region": p.region,
                    "keys": p.entries.iter().map(|e| e.kid_b64()).collect::<Vec<_>>(),
                    "published": false,
                    "note": "the keys take effect at the hub operator's next publication",
                })
                .to_string(),
            )
                .into_response()
        }
        Err(r) => r,
    }
}

async fn status(State(hub): State<Hub>) -> Response {
    let answer = blocking(move || {
        let provinces: Vec<_> = hub
            .provinces()?
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "region": p.region,
                    "keys": p.entries.len(),
                    "via": p.via,
                    "updated_at": p.updated_at,
                })
            })
            .collect();
        Ok(serde_json::json!({
            "version": hub.latest_version()?,
            "anchor": hub.anchor()?.map(|a| a.to_b64()),
            "provinces": provinces,
            "revoked": hub.revoked()?.len(),
        }))
    })
    .await;
    match answer {
        Ok(v) => ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response(),
        Err(r) => r,
    }
}

/// The hub's routes over its folder.
pub fn router(hub: Hub) -> Router {
    Router::new()
        .route(LIST_PATH, get(trust_list))
        .route(SUBMISSIONS_PATH, post(submit))
        .route("/hub/v1/status", get(status))
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "no such hub route") })
        .layer(DefaultBodyLimit::max(submission::MAX_SUBMISSION_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(hub)
}

/// Serves the hub until `shutdown` completes; requests in flight finish.
pub async fn serve(
    hub: Hub,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(hub);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
