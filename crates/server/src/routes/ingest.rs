//! Uploads: a file of one kind in the request body. Who may upload, the kind and the format
//! are checked by the engine before a byte of the body is read; the body is then streamed to
//! a file in a folder the server creates for this request inside its private spool (never the
//! data dir, where a raw file would leak), under a name the engine gives (the kind's and the
//! format's own names — nothing from the request reaches a path), ingested with the CLI's
//! validation, and that folder is removed whatever happens.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::ingest_api::{IngestView, Upload};
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
}

/// What a spool folder of one request is called: this prefix and 16 random hex digits. At
/// start the server removes only leftovers of this shape from the spool.
pub const SPOOL_PREFIX: &str = "upload-";

/// Whether `name` is one the server gives a request's spool folder.
pub fn is_spool_folder(name: &str) -> bool {
    name.strip_prefix(SPOOL_PREFIX)
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The folder the server created for one upload; removed with its contents when the request
/// ends, however it ends. It holds the path it created, not one derived from a file's.
struct SpoolFolder(PathBuf);

impl SpoolFolder {
    /// Creates a new folder in `spool` (failing if the name exists: it is then not ours).
    async fn create(spool: &Path) -> std::io::Result<SpoolFolder> {
        let mut rand = [0u8; 8];
        getrandom::fill(&mut rand).map_err(std::io::Error::other)?;
        let name: String = rand.iter().map(|b| format!("{b:02x}")).collect();
        let dir = spool.join(format!("{SPOOL_PREFIX}{name}"));
        tokio::fs::create_dir(&dir).await?;
        Ok(SpoolFolder(dir))
    }
}

impl Drop for SpoolFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The format asked for: `?format=`, else the Content-Type, else CSV.
fn format_of(q: &UploadParams, headers: &HeaderMap) -> String {
    match (&q.format, headers.get(header::CONTENT_TYPE)) {
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
    }
}

/// Why an upload under way was refused: the answer, and the outcome the audit log records.
struct Refusal {
    error: ApiError,
    outcome: &'static str,
}

impl Refusal {
    fn too_large(max: u64) -> Refusal {
        Refusal {
            error: ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the upload is larger than {max} bytes"),
            ),
            outcome: "too_large: the upload is over the size limit",
        }
    }

    fn spool(e: std::io::Error) -> Refusal {
        tracing::error!("spooling an upload: {e}");
        Refusal {
            error: ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not spool the upload",
            ),
            outcome: "internal: could not spool the upload",
        }
    }
}

/// Streams the body into `path`, at most `max` bytes.
async fn spool(body: Body, path: &Path, max: u64) -> Result<(), Refusal> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(Refusal::spool)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Refusal {
            error: ApiError::bad_request(format!("reading the upload: {e}")),
            outcome: "bad_request: the upload was cut off",
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(Refusal::too_large(max));
        }
        file.write_all(&chunk).await.map_err(Refusal::spool)?;
    }
    file.flush().await.map_err(Refusal::spool)?;
    file.sync_all().await.map_err(Refusal::spool)?;
    Ok(())
}

/// Ingests the body as one file of `kind`; the answer is the ingest summary with the rejected
/// rows (file line, column, reason).
#[utoipa::path(post, path = "/ingest/{kind}", tag = "data", security(("bearer" = [])),
    params(("kind" = String, Path, description = "an input kind: travel, persons, checkins, …"), UploadParams),
    request_body(content = String, description = "the file (CSV, JSON Lines or Parquet)",
        content_type = "text/csv"),
    responses((status = 200, body = IngestView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such kind"),
        (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    authed: Result<Authed, ApiError>,
    kind: Result<ApiPath<String>, ApiError>,
    q: Result<ApiQuery<UploadParams>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let received = match authed {
        Ok(Authed(caller)) => receive(&state, &caller, kind, q, &headers, body).await,
        Err(e) => Err(e),
    };
    match received {
        Ok(view) => Json(view).into_response(),
        Err(e) => {
            // A refused upload's body was not read to its end (most are refused before it is),
            // so the connection cannot carry another request.
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

async fn receive(
    state: &AppState,
    caller: &engine::Caller,
    kind: Result<ApiPath<String>, ApiError>,
    q: Result<ApiQuery<UploadParams>, ApiError>,
    headers: &HeaderMap,
    body: Body,
) -> Result<IngestView, ApiError> {
    // A kind or query that does not even decode (not UTF-8) is no kind or format at all; it
    // still goes through the same checks, role first, and is audited like any refusal.
    let kind = kind.map_or_else(|_| "\u{fffd}".to_string(), |ApiPath(k)| k);
    let format = q.map_or_else(
        |_| "\u{fffd}".to_string(),
        |ApiQuery(q)| format_of(&q, headers),
    );
    // Role, purpose, kind and format, before the body.
    let upload: Upload = state.engine.begin_upload(caller, &kind, &format).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let spooled = async {
        if declared.is_some_and(|n| n > state.max_upload) {
            return Err(Refusal::too_large(state.max_upload));
        }
        let folder = SpoolFolder::create(&state.spool)
            .await
            .map_err(Refusal::spool)?;
        let path = folder.0.join(upload.file_name());
        spool(body, &path, state.max_upload).await?;
        Ok((folder, path))
    }
    .await;
    let (folder, path) = match spooled {
        Ok(x) => x,
        Err(r) => {
            state.engine.upload_refused(upload, r.outcome).await;
            return Err(r.error);
        }
    };
    let view = state.engine.ingest_file(upload, path).await;
    drop(folder);
    Ok(view?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_of_the_servers_own_shape_are_its_leftovers() {
        assert!(is_spool_folder("upload-0123456789abcdef"));
        for other in [
            "upload-0123",
            "upload-0123456789abcdefg",
            "data",
            "upload-../../x0123456",
            "",
        ] {
            assert!(!is_spool_folder(other), "{other}");
        }
    }
}
