//! Corrections of health codes on the staff side: the queue with the evidence behind each
//! disputed rule, one correction, a decision (accept with an end date: an override; or reject),
//! and a correction filed at a community service desk for someone without a phone. Residents
//! file and read their own under `/resident/corrections`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use engine::corrections::{
    CorrectionDecision, CorrectionOut, CorrectionQuery, NewCorrectionRequest,
};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

/// The corrections of persons in your scope, newest first (`?status=open`: the queue), each
/// with the person and the evidence behind the disputed rule: the contact (train and car,
/// flight and seat, venue, household), the arrival, the self-report or the lab results.
#[utoipa::path(get, path = "/corrections", operation_id = "list_corrections", tag = "health codes", security(("bearer" = [])),
    params(CorrectionQuery),
    responses((status = 200, body = Vec<CorrectionOut>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<CorrectionQuery>,
) -> Result<Json<Vec<CorrectionOut>>, ApiError> {
    Ok(Json(state.engine.corrections(&caller, &q).await?))
}

/// One correction of a person in your scope, with its evidence.
#[utoipa::path(get, path = "/corrections/{id}", tag = "health codes", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the correction's id")),
    responses((status = 200, body = CorrectionOut),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CorrectionOut>, ApiError> {
    Ok(Json(state.engine.correction(&caller, id).await?))
}

/// Decides an open correction (an epidemiologist of the person's region, or an admin):
/// `{"accept": true, "reason": "…", "until": "YYYY-MM-DD"}` sets the rule aside for the person
/// through `until` (an `override` in their code; signed codes issued before are revoked), or
/// `{"accept": false, "reason": "…"}` rejects it. A correction decided already is 409.
#[utoipa::path(post, path = "/corrections/{id}/decision", tag = "health codes",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "the correction's id")),
    request_body = CorrectionDecision,
    responses((status = 200, body = CorrectionOut),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CorrectionDecision>,
) -> Result<Json<CorrectionOut>, ApiError> {
    Ok(Json(
        state.engine.decide_correction(&caller, id, &req).await?,
    ))
}

/// Files a correction for a person of your community (a community worker at a service desk,
/// for someone without a phone): the rule must apply to their code today (or `as_of`); one open
/// correction per person and rule (409).
#[utoipa::path(post, path = "/corrections", tag = "health codes", security(("bearer" = [])),
    request_body = NewCorrectionRequest,
    responses((status = 201, body = CorrectionOut),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn file(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(req): ApiJson<NewCorrectionRequest>,
) -> Result<(StatusCode, Json<CorrectionOut>), ApiError> {
    let out = state
        .engine
        .file_correction_as_of(
            &caller,
            Some(&req.person_id),
            &req.rule,
            &req.reason,
            req.as_of.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
