//! Uploads: a file of one kind in the request body, streamed to a private spool file (never
//! into the data dir, where a raw file would leak), ingested with the CLI's validation, and
//! removed whatever happens.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use engine::ingest_api::{IngestView, extension};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// csv, jsonl or parquet; default from Content-Type, else csv.
    pub format: Option<String>,
    /// A name for the source in rejects and the manifest (letters, digits, `-_.`).
    pub name: Option<String>,
}

/// Removes a spooled upload when the request ends, however it ends.
struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn safe_name(name: &str) -> Option<String> {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(80)
        .collect();
    let n = n.trim_matches('.').to_string();
    (!n.is_empty()).then_some(n)
}

/// Ingests the body as one file of `kind`; the answer is the ingest summary with the rejected
/// rows (file line, column, reason).
#[utoipa::path(post, path = "/ingest/{kind}", tag = "data", security(("bearer" = [])),
    params(("kind" = String, Path, description = "an input kind: travel, persons, checkins, …"), UploadParams),
    request_body(content = String, description = "the file (CSV, JSON Lines or Parquet)",
        content_type = "text/csv"),
    responses((status = 200, body = IngestView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestView>, ApiError> {
    let format = match (&q.format, headers.get(header::CONTENT_TYPE)) {
        (Some(f), _) => f.clone(),
        (None, Some(ct)) => {
            let ct = ct
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if ct.is_empty() || ct == "application/octet-stream" || ct == "text/plain" {
                "csv".into()
            } else {
                ct
            }
        }
        (None, None) => "csv".into(),
    };
    let ext = extension(&format)?;
    let mut rand = [0u8; 8];
    getrandom::fill(&mut rand)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let dir = state
        .spool
        .join(rand.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let name = q
        .name
        .as_deref()
        .and_then(safe_name)
        .map(|n| {
            if n.contains('.') {
                n
            } else {
                format!("{n}.{ext}")
            }
        })
        .unwrap_or_else(|| format!("{}.{ext}", kind.trim()));
    let path = dir.join(&name);
    let internal = |e: std::io::Error| {
        tracing::error!("spooling an upload to {}: {e}", path.display());
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not spool the upload",
        )
    };
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let spooled = Spooled(path.clone());
    let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?;
        size += chunk.len() as u64;
        if size > state.max_upload {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the upload is larger than {} bytes", state.max_upload),
            ));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    file.sync_all().await.map_err(internal)?;
    drop(file);
    let view = state
        .engine
        .ingest_file(&caller, &kind, path.clone())
        .await?;
    drop(spooled);
    Ok(Json(view))
}
