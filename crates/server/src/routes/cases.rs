//! A case's close contacts: contract §3's JSON, or CSV for a spreadsheet.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::TraceOut;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::stream::{ListHead, json_with_list};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactsParams {
    /// An RFC 3339 time, or a date meaning the end of that day; default now.
    pub as_of: Option<String>,
    /// 1 (default) or 2 (contacts of contacts).
    pub depth: Option<u8>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    pub format: Option<String>,
}

/// Every close contact of a case, with evidence and quarantine end.
#[utoipa::path(get, path = "/cases/{id}/contacts", tag = "tracing", security(("bearer" = [])),
    params(("id" = String, Path, description = "the case's 18-character ID number"), ContactsParams),
    responses((status = 200, body = TraceOut, description = "JSON, or text/csv"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "not a case")))]
pub async fn contacts(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ContactsParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wants_csv = match q.format.as_deref().map(str::trim) {
        Some("csv") => true,
        Some("json") => false,
        Some("") | None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format {other}: json or csv"
            )));
        }
    };
    let depth = q.depth.unwrap_or(1);
    if wants_csv {
        let csv = state
            .engine
            .contacts_csv(&caller, &id, q.as_of.as_deref(), depth)
            .await?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"contacts.csv\"",
                ),
            ],
            csv,
        )
            .into_response());
    }
    let out = state
        .engine
        .contacts(&caller, &id, q.as_of.as_deref(), depth)
        .await?;
    // Hundreds of contacts: written as the connection takes them, not built whole first.
    let head = ListHead::new(&[("case", &out.case), ("as_of", &out.as_of)], "contacts")
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(json_with_list(head, out.contacts))
}
