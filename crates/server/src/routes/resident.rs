//! The resident's API (contract §10) under `/resident`: a one-time code and a session, then
//! their own reports, code, access log and corrections. Resident requests name no purpose
//! (theirs is `self_check`); a resident token reaches only that person's data.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use engine::corrections::{CorrectionOut, CorrectionQuery};
use engine::resident::ResidentSessionView;
use engine::resident_api::{AccessView, ReportAck, ResidentCodeView};
use engine::{Caller, Kind, Purpose};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::{bearer, request_text};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};

/// A request with a resident's token; its purpose is `self_check`.
#[derive(Debug, Clone)]
pub struct ResidentAuthed(pub Caller);

impl FromRequestParts<AppState> for ResidentAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ResidentAuthed, ApiError> {
        let Some(token) = bearer(&parts.headers)? else {
            return Err(ApiError::unauthorized(
                "sign in first: POST /api/v1/resident/otp, then /resident/session",
            ));
        };
        let account = state.engine.authenticate(&token).await?;
        Ok(ResidentAuthed(Caller::new(
            account,
            Purpose::SelfCheck,
            request_text(parts),
        )))
    }
}

fn limited(state: &AppState, peer: &SocketAddr) -> Result<(), ApiError> {
    state.resident_limiter.take(peer.ip()).map_err(|wait| {
        ApiError::too_many(
            format!(
                "too many sign-in requests from this address; try again in {:.0} s",
                wait.ceil()
            ),
            wait.ceil() as u64,
        )
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// The resident's ID number.
    pub person_id: String,
    /// Their mobile number as registered.
    pub phone: String,
}

/// Asks for a one-time code. Always `202` for a well-formed request: when the ID number and
/// phone match a registered person, a 6-digit code valid for 10 minutes is sent to the phone
/// (at most one a minute); the answer never says whether they matched.
#[utoipa::path(post, path = "/resident/otp", operation_id = "resident_otp", tag = "resident",
    request_body = OtpRequest,
    responses((status = 202, description = "accepted; a code is sent if the pair matches"),
        (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn otp(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<OtpRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, &peer)?;
    state
        .engine
        .request_otp(&req.person_id, &req.phone, "POST /api/v1/resident/otp")
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub person_id: String,
    /// The six digits received.
    pub code: String,
}

/// Signs in with the one-time code: a token that reaches only this person's own data, for one
/// hour. Five wrong codes in a row lock the ID number for 15 minutes (429).
#[utoipa::path(post, path = "/resident/session", operation_id = "resident_session", tag = "resident",
    request_body = SessionRequest,
    responses((status = 200, body = ResidentSessionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<SessionRequest>,
) -> Result<Json<ResidentSessionView>, ApiError> {
    limited(&state, &peer)?;
    let view = state
        .engine
        .resident_sign_in(&req.person_id, &req.code, "POST /api/v1/resident/session")
        .await?;
    Ok(Json(view))
}

/// Signs out: the resident token stops working at once.
#[utoipa::path(post, path = "/resident/logout", operation_id = "resident_logout", tag = "resident", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let Some(token) = bearer(&headers)? else {
        return Err(ApiError::unauthorized("no token to sign out"));
    };
    state
        .engine
        .resident_sign_out(&token, "POST /api/v1/resident/logout")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A self-report: `time` (RFC 3339; default now), `temperature_c`, `symptoms`,
/// `visited_regions` (a list of region codes). Checked as a row of a `self_reports` file is.
#[utoipa::path(post, path = "/resident/self-reports", operation_id = "resident_self_report", tag = "resident", security(("bearer" = [])),
    request_body(content = Object, description = "time?, temperature_c?, symptoms?, visited_regions?"),
    responses((status = 201, body = ReportAck), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn self_report(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<ReportAck>), ApiError> {
    report(&state, &caller, Kind::SelfReports, body).await
}

/// An arrival registration: `arrival_date`, `from_region`, and where the resident stays
/// (`stay_region`, `stay_community`, `stay_address`). Checked as a row of a `registrations`
/// file is.
#[utoipa::path(post, path = "/resident/registrations", operation_id = "resident_registration", tag = "resident", security(("bearer" = [])),
    request_body(content = Object, description = "arrival_date, from_region, stay_region?, stay_community?, stay_address?"),
    responses((status = 201, body = ReportAck), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn registration(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<ReportAck>), ApiError> {
    report(&state, &caller, Kind::Registrations, body).await
}

/// A report of `kind` into the residents' inbox; 201 once it is durable.
async fn report(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    body: Map<String, Value>,
) -> Result<(StatusCode, Json<ReportAck>), ApiError> {
    let ack = state.engine.resident_report(caller, kind, body).await?;
    Ok((StatusCode::CREATED, Json(ack)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeQuery {
    /// A date (`YYYY-MM-DD`) or an RFC 3339 time; default now.
    pub as_of: Option<String>,
}

/// The resident's own code (contract §4's JSON) and, when the deployment signs codes, its
/// `FY1:` payload to show as a QR.
#[utoipa::path(get, path = "/resident/code", operation_id = "resident_code", tag = "resident", security(("bearer" = [])),
    params(CodeQuery),
    responses((status = 200, body = ResidentCodeView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn code(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> Result<Json<ResidentCodeView>, ApiError> {
    Ok(Json(
        state
            .engine
            .resident_code(&caller, q.as_of.as_deref())
            .await?,
    ))
}

/// Who read this resident's data: when, role and region (never a name), purpose, what.
#[utoipa::path(get, path = "/resident/access-log", operation_id = "resident_access_log", tag = "resident", security(("bearer" = [])),
    responses((status = 200, body = Vec<AccessView>), (status = 401, body = ErrorBody)))]
pub async fn access_log(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
) -> Result<Json<Vec<AccessView>>, ApiError> {
    Ok(Json(state.engine.access_log(&caller).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentCorrectionRequest {
    /// The rule behind the code disputed (`close_contact`, `high_risk_arrival`, …).
    pub rule: String,
    /// Why, in the resident's words (1 to 500 characters).
    pub reason: String,
    /// The day of the code disputed (default today), as `GET /resident/code?as_of=`.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// Asks for a correction of one rule behind the resident's code; an epidemiologist of their
/// region reviews it with the evidence and accepts (the rule set aside until a day) or rejects.
#[utoipa::path(post, path = "/resident/corrections", operation_id = "resident_file_correction", tag = "resident", security(("bearer" = [])),
    request_body = ResidentCorrectionRequest,
    responses((status = 201, body = CorrectionOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn file_correction(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
    ApiJson(req): ApiJson<ResidentCorrectionRequest>,
) -> Result<(StatusCode, Json<CorrectionOut>), ApiError> {
    let out = state
        .engine
        .file_correction_as_of(&caller, None, &req.rule, &req.reason, req.as_of.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The resident's own corrections, newest first, with status and the reviewer's words.
#[utoipa::path(get, path = "/resident/corrections", operation_id = "resident_corrections", tag = "resident", security(("bearer" = [])),
    responses((status = 200, body = Vec<CorrectionOut>), (status = 401, body = ErrorBody)))]
pub async fn corrections(
    State(state): State<AppState>,
    ResidentAuthed(caller): ResidentAuthed,
) -> Result<Json<Vec<CorrectionOut>>, ApiError> {
    let q = CorrectionQuery::default();
    Ok(Json(state.engine.corrections(&caller, &q).await?))
}
