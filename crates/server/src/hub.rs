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
//!   that region, 409 a replay, 429 with `Retry-After` past [`SUBMISSIONS_PER_MINUTE`] from one
//!   address or accepted for one region. They take effect at the operator's next `fangyi hub
//!   publish`.
//! - `GET /hub/v1/status` — the version, the anchor, each province's key count.
//!
//! The list needs no transport security for integrity — every deployment checks the anchor's
//! signature and version — so plain HTTP behind the deployment's own TLS relay is enough.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::issuer_api::hub::{ExchangeError, Hub, submission};
use serde::Deserialize;

use crate::ratelimit::RateLimiter;

/// The path of the signed list.
pub const LIST_PATH: &str = "/hub/v1/trust-list";

/// Where provinces send their signed keys.
pub const SUBMISSIONS_PATH: &str = "/hub/v1/submissions";

/// Submissions a minute, after a burst of as many: from one address (any submission, so a
/// flood of forgeries costs the hub few signature checks), and accepted for one region (only
/// accepted ones count, so nobody else can use up a province's allowance). The attestation
/// endpoint's rate; a province submits a few times a year.
pub const SUBMISSIONS_PER_MINUTE: u32 = 20;

/// The hub's state: its folder and the submission limits.
#[derive(Clone)]
struct HubState {
    hub: Hub,
    by_address: Arc<RateLimiter<IpAddr>>,
    by_region: Arc<RateLimiter<String>>,
}

impl FromRef<HubState> for Hub {
    fn from_ref(s: &HubState) -> Hub {
        s.hub.clone()
    }
}

fn too_many(wait: f64, what: &str) -> Response {
    let secs = wait.ceil().max(1.0) as u64;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::RETRY_AFTER, secs.to_string()),
        ],
        serde_json::json!({
            "error": format!(
                "too many submissions {what}: at most {SUBMISSIONS_PER_MINUTE} a minute; retry in {secs} s"
            )
        })
        .to_string(),
    )
        .into_response()
}

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

async fn submit(
    State(state): State<HubState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Err(wait) = state.by_address.take(peer.ip()) {
        tracing::warn!("hub: submissions from {} past the rate", peer.ip());
        return too_many(wait, &format!("from {}", peer.ip()));
    }
    let region = submission::claimed_region(&body);
    if let Some(r) = &region
        && let Err(wait) = state.by_region.peek(r)
    {
        tracing::warn!("hub: submissions for region {r} past the rate");
        return too_many(wait, &format!("for region {r}"));
    }
    let now = engine::Timestamp::now().secs();
    let hub = state.hub.clone();
    match blocking(move || submission::accept(&hub, &body, now)).await {
        Ok(p) => {
            // Charged once genuine: signed by the region and newer than its last.
            let _ = state.by_region.take(p.region.clone());
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
    let per_second = f64::from(SUBMISSIONS_PER_MINUTE) / 60.0;
    let state = HubState {
        hub,
        by_address: Arc::new(RateLimiter::new(per_second, SUBMISSIONS_PER_MINUTE)),
        by_region: Arc::new(RateLimiter::new(per_second, SUBMISSIONS_PER_MINUTE)),
    };
    Router::new()
        .route(LIST_PATH, get(trust_list))
        .route(SUBMISSIONS_PATH, post(submit))
        .route("/hub/v1/status", get(status))
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "no such hub route") })
        .layer(DefaultBodyLimit::max(submission::MAX_SUBMISSION_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(state)
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use engine::issuer_api::hub::AnchorKey;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(hub: &Hub, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        call_on(&router(hub.clone()), req, [127, 0, 0, 1]).await
    }

    /// A request to `app` as if from `ip`.
    async fn call_on(
        app: &Router,
        mut req: Request<Body>,
        ip: [u8; 4],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        let resp = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    fn post(path: &str, body: Vec<u8>) -> Request<Body> {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn the_list_is_served_with_change_polling_and_hostile_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        // Nothing published: 404 with a reason.
        let (s, _, body) = call(&hub, get(LIST_PATH)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(&body).contains("nothing published"));

        let anchor = AnchorKey::from_seed(&[9; 32]);
        hub.publish(&anchor, 1_580_515_200).unwrap();
        let (s, h, body) = call(&hub, get(LIST_PATH)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::ETAG], "\"v1\"");
        assert_eq!(body, hub.latest().unwrap().unwrap().1);
        for req in [
            Request::get(LIST_PATH)
                .header(header::IF_NONE_MATCH, "\"v1\"")
                .body(Body::empty())
                .unwrap(),
            get(&format!("{LIST_PATH}?since=1")),
            get(&format!("{LIST_PATH}?since=99")),
        ] {
            let (s, _, body) = call(&hub, req).await;
            assert_eq!(s, StatusCode::NOT_MODIFIED);
            assert!(body.is_empty());
        }
        let (s, _, _) = call(&hub, get(&format!("{LIST_PATH}?since=0"))).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = call(
            &hub,
            Request::get(LIST_PATH)
                .header(header::IF_NONE_MATCH, "\"v0\"")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(s, StatusCode::OK);

        // Hostile: a bad since, garbage and oversized submissions, unknown routes and methods.
        let (s, _, _) = call(&hub, get(&format!("{LIST_PATH}?since=-1"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _, body) = call(&hub, post(SUBMISSIONS_PATH, b"\x00\xff{".to_vec())).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let (s, _, _) = call(
            &hub,
            post(
                SUBMISSIONS_PATH,
                vec![b' '; submission::MAX_SUBMISSION_BYTES + 1],
            ),
        )
        .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let (s, _, _) = call(&hub, get("/hub/v1/../../etc/passwd")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = call(&hub, post(LIST_PATH, vec![])).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        // A signed-looking submission without signatures.
        let empty = submission::sign("330300", &[], &[], 1_580_515_200_000);
        let (s, _, _) = call(&hub, post(SUBMISSIONS_PATH, empty)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "no signatures");
        let (s, _, body) = call(&hub, get("/hub/v1/status")).await;
        assert_eq!(s, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["anchor"], anchor.public().to_b64());
    }

    #[tokio::test]
    async fn submissions_are_limited_per_address_and_per_region_with_retry_after() {
        use codesign::IssuerKey;
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let a = IssuerKey::from_seed(&[1; 32]);
        let b = IssuerKey::from_seed(&[2; 32]);
        let t0 = engine::Timestamp::now().secs();
        hub.enrol(&[a.trust_entry("330300", None)], t0).unwrap();
        hub.enrol(&[b.trust_entry("440300", None)], t0).unwrap();
        let app = router(hub.clone());
        let genuine = |seed: u8, region: &str, n: i64| {
            let key = IssuerKey::from_seed(&[seed; 32]);
            submission::sign(
                region,
                &[key.trust_entry(region, None)],
                &[key],
                (t0 - 60) * 1000 + n,
            )
        };
        let n = i64::from(SUBMISSIONS_PER_MINUTE);

        // Forgeries claiming region 330300, each from its own address, do not use up the
        // region's allowance: refused one by one (403), and the genuine ones still pass.
        for i in 0..n + 5 {
            let forged = submission::sign("330300", &[], &[IssuerKey::from_seed(&[66; 32])], i);
            let (s, _, _) =
                call_on(&app, post(SUBMISSIONS_PATH, forged), [10, 0, 1, i as u8]).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
        }
        // The region's genuine submissions, from addresses of their own: the allowance, then 429.
        for i in 0..n {
            let (s, _, body) = call_on(
                &app,
                post(SUBMISSIONS_PATH, genuine(1, "330300", i + 1)),
                [10, 0, 2, i as u8],
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{i}: {}", String::from_utf8_lossy(&body));
        }
        let (s, h, body) = call_on(
            &app,
            post(SUBMISSIONS_PATH, genuine(1, "330300", n + 1)),
            [10, 0, 3, 1],
        )
        .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=3).contains(&wait), "{wait}");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("region 330300"), "{text}");
        // Another region is not affected.
        let (s, _, _) = call_on(
            &app,
            post(SUBMISSIONS_PATH, genuine(2, "440300", 1)),
            [10, 0, 3, 2],
        )
        .await;
        assert_eq!(s, StatusCode::OK);

        // One address: any submission counts, garbage included; then 429, others unaffected.
        for i in 0..n {
            let (s, _, _) =
                call_on(&app, post(SUBMISSIONS_PATH, vec![b'x'; 10]), [10, 9, 9, 9]).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{i}");
        }
        let (s, h, body) =
            call_on(&app, post(SUBMISSIONS_PATH, vec![b'x'; 10]), [10, 9, 9, 9]).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(h.contains_key(header::RETRY_AFTER));
        assert!(String::from_utf8_lossy(&body).contains("from 10.9.9.9"));
        let (s, _, _) = call_on(&app, post(SUBMISSIONS_PATH, vec![b'x'; 10]), [10, 9, 9, 8]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // Reading the list is not limited.
        for _ in 0..n + 5 {
            let (s, _, _) = call_on(&app, get("/hub/v1/status"), [10, 9, 9, 9]).await;
            assert_eq!(s, StatusCode::OK);
        }
    }
}
