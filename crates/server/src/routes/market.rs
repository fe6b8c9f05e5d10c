//! Market supervision (contract §9): the leads routed to the caller's region with where each
//! stands, moving a lead through its workflow (new → assigned → verified → closed, or
//! dismissed with a reason), and prices over time in the caller's prefectures, each audited.

use axum::Json;
use axum::extract::State;
use engine::market_api::{LeadChange, LeadParams, PriceDayView, PriceParams, StoredLeadView};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

/// The market leads routed to your region, ranked (more distinct rules, then more sales), each
/// with its workflow state. Every capture is scanned under the deployment's rules and what it
/// found is stored first: a seller's open lead is refreshed, never duplicated.
#[utoipa::path(get, path = "/market/leads", operation_id = "market_leads", tag = "market", security(("bearer" = [])),
    params(LeadParams),
    responses((status = 200, body = Vec<StoredLeadView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn leads(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<LeadParams>,
) -> Result<Json<Vec<StoredLeadView>>, ApiError> {
    Ok(Json(state.engine.market_leads(&caller, None, &q).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadStatusChange {
    /// `assigned`, `verified`, `closed` or `dismissed`.
    pub status: String,
    /// What was done, or why it is dismissed (required then): one line of at most 2000 bytes,
    /// stored sealed.
    #[serde(default)]
    pub note: String,
}

/// Moves a lead of your region one step (new → assigned → verified → closed) or dismisses it
/// while open, with a note; any other move is a conflict.
#[utoipa::path(post, path = "/market/leads/{id}/status", operation_id = "set_lead_status", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "the lead's number")),
    request_body = LeadStatusChange,
    responses((status = 200, body = LeadChange),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<LeadStatusChange>,
) -> Result<Json<LeadChange>, ApiError> {
    Ok(Json(
        state
            .engine
            .set_lead_status(&caller, &id, &req.status, &req.note)
            .await?,
    ))
}

/// Prices over time: per capture day (deployment zone), prefecture of the sellers' region and
/// product, the median unit price (exact micro-yuan, rounded half up, and yuan), the captures,
/// the distinct listings and the share of them flagged by the deployment's rules. Only the
/// prefectures your region covers; a `region` outside it is refused. Sorted by prefecture,
/// product, date; a day without captures has no row.
#[utoipa::path(get, path = "/market/prices", operation_id = "market_prices", tag = "market", security(("bearer" = [])),
    params(PriceParams),
    responses((status = 200, body = Vec<PriceDayView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn prices(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<PriceParams>,
) -> Result<Json<Vec<PriceDayView>>, ApiError> {
    Ok(Json(state.engine.market_prices(&caller, None, &q).await?))
}
