//! The HTTP API: axum routes over the engine. Bearer tokens name the account, `X-Purpose` the
//! purpose; the engine authorises, masks and audits. Errors are JSON with one status mapping
//! (`error.rs`); bodies are limited in size, requests in time; a panic becomes a 500; metrics
//! count every route; shutdown waits for requests in flight (an accepted upload is finished).
//!
//! Invariant: no handler reads the store or the vault itself — every answer comes from an
//! `engine` call, so no endpoint can forget the policy, the masking or the audit entry.

pub mod auth;
pub mod error;
pub mod exchange;
pub mod headers;
pub mod hub;
pub mod hub_pull;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod stream;
pub mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use engine::Engine;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
    /// Password logins per client address.
    pub login_limiter: Arc<RateLimiter>,
    /// Residents' code requests and sign-ins per client address.
    pub resident_limiter: Arc<RateLimiter>,
    /// Whether `/metrics` answers without an admin token.
    pub public_metrics: bool,
    /// Where uploads are spooled before ingest (outside the data dir).
    pub spool: PathBuf,
    pub max_upload: u64,
    pub openapi: Arc<String>,
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
    /// The longest any request may take (uploads get ten times as long).
    pub timeout: Duration,
    /// Public self-checks per second per client address, and the burst allowed.
    pub public_rate: f64,
    pub public_burst: u32,
    /// Password logins per second per client address, and the burst allowed.
    pub login_rate: f64,
    pub login_burst: u32,
    /// Serve `/metrics` without a token (for a scraper on a private network); by default it
    /// needs an admin's.
    pub public_metrics: bool,
    /// Where uploads are spooled; default a private folder in the system's temp dir.
    pub spool: Option<PathBuf>,
    /// Residents' one-time code requests and sign-ins per second per client address, and the
    /// burst allowed (each person is limited by the engine besides).
    pub resident_rate: f64,
    pub resident_burst: u32,
    /// Where residents' one-time codes go: an outbox folder, or an SMS gateway's webhook
    /// (`http://…`). Neither: no codes are sent (each request is audited as such).
    pub outbox: Option<PathBuf>,
    pub sms_webhook: Option<String>,
    /// How often residents' reports are moved from the inbox into the store; zero: only at
    /// start and stop.
    pub flush_every: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_upload: 2 << 30,
            timeout: Duration::from_secs(60),
            public_rate: 5.0,
            public_burst: 20,
            login_rate: 0.2,
            login_burst: 10,
            public_metrics: false,
            spool: None,
            resident_rate: 2.0,
            resident_burst: 30,
            outbox: None,
            sms_webhook: None,
            flush_every: Duration::from_secs(30),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fangyi",
        description = "The command centre's API: health codes, contact tracing, returnees, uploads, \
            signed-code verification, analyst SQL and the audit log. Every request with personal data \
            names a purpose (`X-Purpose`) that the caller's role allows for it, and is audited.",
        license(name = "Apache-2.0")
    ),
    servers((url = "/api/v1")),
    modifiers(&Security, &Vocabularies),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `fangyi users add` or POST /login; name the purpose in X-Purpose.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The role and purpose vocabularies as schemas, from the policy's own lists.
struct Vocabularies;

impl utoipa::Modify for Vocabularies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let components = openapi.components.get_or_insert_with(Default::default);
        let vocabulary = |values: Vec<&'static str>, about: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values))
                .description(Some(about.to_string()))
                .build()
        };
        components.schemas.insert(
            "Purpose".into(),
            vocabulary(
                engine::Purpose::ALL.iter().map(|p| p.as_str()).collect(),
                "The purpose named in X-Purpose.",
            )
            .into(),
        );
        components.schemas.insert(
            "Role".into(),
            vocabulary(
                engine::Role::ALL.iter().map(|r| r.as_str()).collect(),
                "An account's role.",
            )
            .into(),
        );
    }
}

/// Every response has the `description` OpenAPI requires (validators and client generators
/// refuse a document without): a route that gives none gets its status's meaning in this API.
/// Runs after the routes are merged in, so it sees every operation.
struct Descriptions;

impl Descriptions {
    fn of(status: &str) -> &'static str {
        match status {
            "200" => "The answer.",
            "201" => "Created.",
            "204" => "Done; no body.",
            "400" => "Bad input: a malformed id, date, query string or body; `error` says which.",
            "401" => {
                "No token, or an unknown, revoked or expired one (`WWW-Authenticate: Bearer`)."
            }
            "403" => "The role, purpose or scope does not allow this; the refusal is audited.",
            "404" => "Not found.",
            "409" => "Conflicts with the current state.",
            "413" => "The body is over the limit.",
            "429" => "Too many requests from this address; try again later.",
            "500" => "Internal error; the server's log has the details.",
            "503" => "Not available now: no issuer key yet, or the request took too long.",
            s if s.starts_with('2') => "Success.",
            s if s.starts_with('4') => "The request cannot be answered as sent; `error` says why.",
            _ => "The server could not answer; `error` says why.",
        }
    }
}

impl utoipa::Modify for Descriptions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        let fill = |responses: &mut std::collections::BTreeMap<
            String,
            RefOr<utoipa::openapi::Response>,
        >| {
            for (status, r) in responses.iter_mut() {
                if let RefOr::T(r) = r
                    && r.description.trim().is_empty()
                {
                    r.description = Descriptions::of(status).to_string();
                }
            }
        };
        for op in operations(openapi) {
            fill(&mut op.responses.responses);
        }
        if let Some(c) = openapi.components.as_mut() {
            fill(&mut c.responses);
        }
    }
}

/// A request body sent as something other than JSON is a file uploaded as it is (CSV, JSON
/// Lines, Parquet): its schema says so (`format: binary`, raw bytes), where a route's `String`
/// would claim text — which a Parquet file is not — and leave client generators unable to send it.
struct RawBodies;

impl utoipa::Modify for RawBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat, SchemaType, Type};
        for op in operations(openapi) {
            let Some(RefOr::T(body)) = op.request_body.as_mut() else {
                continue;
            };
            for (media, content) in body.content.iter_mut() {
                let RefOr::T(content) = content else { continue };
                if media.contains("json") {
                    continue;
                }
                if let Some(RefOr::T(Schema::Object(o))) = content.schema.as_mut()
                    && o.schema_type == SchemaType::Type(Type::String)
                    && o.format.is_none()
                {
                    o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Binary));
                }
            }
        }
    }
}

/// Every operation of the document.
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
            &mut item.query,
        ]
        .into_iter()
        .flatten()
        .chain(item.additional_operations.values_mut())
    })
}

/// The OpenAPI document of the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(routes::api().split_for_parts().1);
    doc.merge(routes::uploads().split_for_parts().1);
    utoipa::Modify::modify(&Descriptions, &mut doc);
    utoipa::Modify::modify(&RawBodies, &mut doc);
    doc
}

/// Answers 503 with a JSON body when a request takes longer than `limit`.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request took longer than {} s", limit.as_secs()),
        )),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /api/docs")
}

/// The whole application.
pub fn app(engine: Engine, opts: &ServeOptions, spool: PathBuf) -> Router {
    let (api, _) = routes::api().split_for_parts();
    let (upload_routes, _) = routes::uploads().split_for_parts();
    let openapi = openapi().to_pretty_json().unwrap_or_else(|_| "{}".into());
    let state = AppState {
        engine,
        metrics: Arc::new(Metrics::default()),
        limiter: Arc::new(RateLimiter::new(opts.public_rate, opts.public_burst)),
        login_limiter: Arc::new(RateLimiter::new(opts.login_rate, opts.login_burst)),
        resident_limiter: Arc::new(RateLimiter::new(opts.resident_rate, opts.resident_burst)),
        public_metrics: opts.public_metrics,
        spool,
        max_upload: opts.max_upload,
        openapi: Arc::new(openapi),
    };
    // Uploads stream to the spool with their own limit and a longer timeout.
    let uploads = Router::new()
        .nest("/api/v1", upload_routes)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            opts.timeout * 10,
            time_limit,
        ));
    let rest = Router::new()
        .nest("/api/v1", api)
        .route("/", get(routes::dashboard::index))
        .route("/app.js", get(routes::dashboard::app))
        .route("/style.css", get(routes::dashboard::style))
        .route("/app.js.LEGAL.txt", get(routes::dashboard::legal))
        .route("/me", get(routes::dashboard::me))
        .route("/me.js", get(routes::dashboard::me_script))
        .route("/me.css", get(routes::dashboard::me_style))
        .route("/favicon.ico", get(routes::dashboard::favicon))
        .route("/regions.json", get(routes::dashboard::regions))
        .route("/healthz", get(routes::system::healthz))
        // Another deployment's signed attestation request (no token: its signature is checked).
        .route(
            exchange::ATTESTATIONS_PATH,
            axum::routing::post(exchange::attestations),
        )
        .route("/metrics", get(routes::system::metrics))
        .route("/api/openapi.json", get(routes::system::openapi))
        .route("/api/docs", get(routes::system::docs))
        .route("/api/docs.js", get(routes::system::docs_script))
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(axum::middleware::from_fn_with_state(
            opts.timeout,
            time_limit,
        ));
    uploads
        .merge(rest)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the server log has the details",
            ))
        }))
        .layer(axum::middleware::from_fn(headers::security))
        .with_state(state)
}

/// A private spool folder for uploads: `DIR` if given, else one in the system temp dir, made
/// readable by this user only. It must be a real folder, not a symbolic link (in a shared temp
/// dir someone else could have planted one). Leftovers of an earlier run (a crash
/// mid-upload) are removed — only the folders the server itself makes for an upload
/// (`upload-` and 16 hex digits), never anything else an operator keeps there.
pub fn spool_dir(configured: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let dir = configured.unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "fangyi-uploads-{}",
            std::env::var("USER").unwrap_or_else(|_| "server".into())
        ))
    });
    std::fs::create_dir_all(&dir)?;
    if !std::fs::symlink_metadata(&dir)?.is_dir() {
        return Err(std::io::Error::other(format!(
            "the upload spool {} is not a folder (a symbolic link?)",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    for e in std::fs::read_dir(&dir)?.flatten() {
        let ours = e
            .file_name()
            .to_str()
            .is_some_and(routes::ingest::is_spool_folder);
        if ours && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(dir)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    engine: Engine,
    opts: ServeOptions,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let spool = spool_dir(opts.spool.clone())?;
    if let Some(n) = notifier(&opts)? {
        tracing::info!("residents' one-time codes go to the {}", n.describe());
        engine.set_notifier(n);
    }
    // Reports acknowledged before a crash reach the store now; then every `flush_every`.
    let flusher = tokio::spawn(
        engine
            .clone()
            .run_inbox_flusher(opts.flush_every.max(Duration::from_millis(100))),
    );
    if opts.flush_every.is_zero() {
        flusher.abort();
        if let Err(e) = engine.flush_inbox().await {
            tracing::error!("flushing residents' reports: {e}");
        }
    }
    let app = app(engine.clone(), &opts, spool);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    flusher.abort();
    // Whatever was acknowledged meanwhile goes into the store before the process ends.
    if let Err(e) = engine.flush_inbox().await {
        tracing::error!("flushing residents' reports: {e}");
    }
    served
}

/// The notifier the options name: the webhook, else the outbox folder, else none.
pub fn notifier(
    opts: &ServeOptions,
) -> std::io::Result<Option<Arc<dyn engine::resident::Notifier>>> {
    if let Some(url) = &opts.sms_webhook {
        let hook = webhook::Webhook::new(url).map_err(std::io::Error::other)?;
        return Ok(Some(Arc::new(hook)));
    }
    match &opts.outbox {
        Some(dir) => Ok(Some(Arc::new(engine::resident::Outbox::new(dir)?))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    /// Regression: three routes of the same function name (`code`, `logout`, `list`) gave the
    /// document duplicate operation ids, which validators and client generators refuse.
    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value =
            serde_json::from_str(&super::openapi().to_json().unwrap()).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if let Some(id) = op["operationId"].as_str()
                    && let Some(other) = seen.insert(id.to_string(), format!("{method} {path}"))
                {
                    panic!("operation id {id} of {method} {path} and of {other}");
                }
            }
        }
        assert!(seen.len() > 40, "{}", seen.len());
    }

    /// What a validator and a client generator need of every operation (the full check with
    /// standard tools is `crates/cli/tests/openapi.rs`): a description on every response, and
    /// raw bytes for an uploaded file.
    #[test]
    fn every_response_is_described_and_uploads_are_bytes() {
        let doc: serde_json::Value =
            serde_json::from_str(&super::openapi().to_json().unwrap()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut responses = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    let d = r["description"].as_str().unwrap_or("");
                    assert!(
                        !d.trim().is_empty(),
                        "{method} {path} {status}: no description"
                    );
                    responses += 1;
                }
                for (media, c) in op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    if !media.contains("json") {
                        assert_eq!(c["schema"]["format"], "binary", "{method} {path} {media}");
                    }
                }
            }
        }
        assert!(responses > 50, "{responses} responses");
        let upload = &doc["paths"]["/ingest/{kind}"]["post"]["requestBody"]["content"];
        assert_eq!(upload["text/csv"]["schema"]["format"], "binary", "{upload}");
    }
}
