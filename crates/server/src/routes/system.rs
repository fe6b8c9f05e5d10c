//! The health check, metrics, the OpenAPI document and its interactive page. Neither the
//! health check nor anything else without a token tells how much data there is: the figures
//! are in `/metrics` (an admin's token, unless the operator opens it) and `/api/v1/status`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::auth::bearer;
use crate::error::ApiError;

#[derive(Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub store: &'static str,
    pub database: &'static str,
}

/// `GET /healthz`: 200 when the store and the database answer, 503 otherwise; whether each
/// does, and no figures.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.engine.status().await.is_ok();
    let db = state.engine.ops().audit_head().await.is_ok();
    let ok = store && db;
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        store: if store { "ok" } else { "unreadable" },
        database: if db { "ok" } else { "unreachable" },
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Refuses a `/metrics` request without an admin's token, unless metrics are public.
async fn may_read_metrics(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.public_metrics {
        return Ok(());
    }
    let token = bearer(headers)?.ok_or_else(|| {
        ApiError::unauthorized("metrics need an admin's token (or serve --public-metrics)")
    })?;
    let account = state.engine.authenticate(&token).await?;
    if account.role != engine::Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("metrics are for admins, not the role {}", account.role),
        ));
    }
    Ok(())
}

/// `GET /metrics`: Prometheus text format, for an admin's token (or anyone, with
/// `public_metrics`).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = may_read_metrics(&state, &headers).await {
        return e.into_response();
    }
    let mut extra: Vec<(&str, &str, f64)> = Vec::new();
    if let Ok(s) = state.engine.status().await {
        extra.push(("fangyi_store_rows", "Rows in the store.", s.rows as f64));
        extra.push((
            "fangyi_store_sources",
            "Sources committed to the store.",
            s.sources as f64,
        ));
        extra.push((
            "fangyi_index_events",
            "Events in the trace index.",
            s.index_events as f64,
        ));
    }
    // The trust hub list's age and time left, for an alert on a frozen hub (deploy::list_age).
    let data = state.engine.data().to_path_buf();
    if let Ok(Ok(Some(a))) =
        tokio::task::spawn_blocking(move || engine::issuer_api::hub_accepted(&data)).await
    {
        let now = engine::Timestamp::now().secs();
        let secs = |t: &str| {
            engine::Timestamp::parse_rfc3339(t.as_bytes())
                .map(|t| t.0.div_euclid(1000))
                .unwrap_or(0)
        };
        extra.push((
            "fangyi_trust_list_age_seconds",
            "Seconds since the accepted trust hub list was issued.",
            (now - secs(&a.issued_at)) as f64,
        ));
        if let Some(exp) = &a.expires_at {
            extra.push((
                "fangyi_trust_list_expires_in_seconds",
                "Seconds until the accepted trust hub list expires (negative: expired).",
                (secs(exp) - now) as f64,
            ));
        }
    }
    if let Ok((seq, _)) = state.engine.ops().audit_head().await {
        extra.push((
            "fangyi_audit_entries",
            "Entries in the audit log.",
            seq as f64,
        ));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&extra),
    )
        .into_response()
}

/// `GET /api/openapi.json`.
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_str().to_string(),
    )
        .into_response()
}

/// `GET /api/docs`: a page that reads the OpenAPI document and lets you try each call.
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// `GET /api/docs.js`: the page's script (a file of its own: the Content-Security-Policy
/// allows no inline script).
pub async fn docs_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("docs.js"),
    )
        .into_response()
}
