//! Work resumption's answers about enterprises and their people (contract §8.1, §8.2, §8.4):
//! an application's decisions, the whitelist, job matching and seekers' consent. An enterprise
//! sees its own applications and openings only, never the reasons.

use axum::Json;
use axum::extract::State;
use engine::resume_decide::{DecideAnswer, DecideParams};
use engine::resume_match::{ConsentParams, ConsentView, MatchParams, MatchView, WithdrawalView};
use engine::resume_plan::{PlanParams, PlanRowView};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::routes::persons::AsOf;

/// One application's decisions: the count of each verdict and one row per employee (verdict,
/// office date, and for the command centre the reasons). An enterprise sees its own
/// applications only (another's is 404), without reasons.
#[utoipa::path(get, path = "/resume/applications/{id}", tag = "resume", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id"), AsOf),
    responses((status = 200, body = DecideAnswer), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn application(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AsOf>,
) -> Result<Json<DecideAnswer>, ApiError> {
    let params = DecideParams {
        application: Some(id),
        as_of: q.as_of,
    };
    Ok(Json(state.engine.resume_decide(&caller, &params).await?))
}

/// The whitelist under the built-in plan (contract §8.2): every enterprise the caller's region
/// covers with its tier, rank in the whole list, resume date and `office_ready` (its employees
/// whose §8.1 verdict for that date is `office`). Counts per enterprise, never a person.
#[utoipa::path(get, path = "/resume/plan", tag = "resume", security(("bearer" = [])),
    params(AsOf),
    responses((status = 200, body = Vec<PlanRowView>), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn plan(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<AsOf>,
) -> Result<Json<Vec<PlanRowView>>, ApiError> {
    let params = PlanParams {
        plan: None,
        as_of: q.as_of,
    };
    Ok(Json(state.engine.resume_plan(&caller, &params).await?))
}

/// Contract §8.4's matches on a day: one object per job in the order filled. An enterprise
/// sees its own jobs only, each seeker masked until they consent to it.
#[utoipa::path(post, path = "/resume/match", tag = "resume", security(("bearer" = [])),
    request_body = MatchParams,
    responses((status = 200, body = Vec<MatchView>), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn matches(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(p): ApiJson<MatchParams>,
) -> Result<Json<Vec<MatchView>>, ApiError> {
    Ok(Json(state.engine.resume_match(&caller, &p).await?))
}

/// Records that a job seeker consents to an enterprise seeing who they are (the command
/// centre, audited naming the person).
#[utoipa::path(post, path = "/resume/consents", tag = "resume", security(("bearer" = [])),
    request_body = ConsentParams,
    responses((status = 200, body = ConsentView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn consent(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(p): ApiJson<ConsentParams>,
) -> Result<Json<ConsentView>, ApiError> {
    Ok(Json(state.engine.resume_consent(&caller, &p).await?))
}

/// Withdraws a job seeker's consent to an enterprise: its matches show them masked again (the
/// command centre, audited naming the person).
#[utoipa::path(post, path = "/resume/consents/withdraw", tag = "resume", security(("bearer" = [])),
    request_body = ConsentParams,
    responses((status = 200, body = WithdrawalView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(p): ApiJson<ConsentParams>,
) -> Result<Json<WithdrawalView>, ApiError> {
    Ok(Json(
        state.engine.resume_withdraw_consent(&caller, &p).await?,
    ))
}
