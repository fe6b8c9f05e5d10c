//! The health check, metrics, the OpenAPI document and its interactive page.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::AppState;

#[derive(Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub store: Option<engine::Status>,
    pub database: &'static str,
}

/// `GET /healthz`: 200 with the store's figures when everything answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let status = state.engine.status().await;
    let db = state.engine.ops().audit_head().await.is_ok();
    let ok = status.is_ok() && db;
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        store: status.ok(),
        database: if db { "ok" } else { "unreachable" },
    };
    let code = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
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
