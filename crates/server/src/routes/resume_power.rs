//! The power index of resumption (contract §8.3) and its forecasts: counts and shares of
//! enterprises per region, industry and day, narrowed to the caller's region.

use axum::Json;
use axum::extract::State;
use engine::resume_power::{
    ResumeForecastParams, ResumeForecastView, ResumeIndexParams, ResumeIndexView,
};

use crate::AppState;
use crate::auth::Authed;
use crate::error::{ApiError, ApiQuery, ErrorBody};

/// How far enterprises have resumed by their power use: per region at the level, industry (or
/// `all`) and day, the indexed and resumed enterprises, their shares and the index.
#[utoipa::path(get, path = "/resume/index", tag = "resume", security(("bearer" = [])),
    params(ResumeIndexParams),
    responses((status = 200, body = Vec<ResumeIndexView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn index(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(p): ApiQuery<ResumeIndexParams>,
) -> Result<Json<Vec<ResumeIndexView>>, ApiError> {
    Ok(Json(state.engine.resume_index(&caller, &p).await?))
}

/// Forecasts of the power index per region (and industry): the next days with an 80 %
/// interval, and the method's backtest error on the series' own history (MASE against "same
/// as the last day").
#[utoipa::path(get, path = "/resume/forecast", tag = "resume", security(("bearer" = [])),
    params(ResumeForecastParams),
    responses((status = 200, body = Vec<ResumeForecastView>),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn forecast(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(p): ApiQuery<ResumeForecastParams>,
) -> Result<Json<Vec<ResumeForecastView>>, ApiError> {
    Ok(Json(state.engine.resume_forecast(&caller, &p).await?))
}
