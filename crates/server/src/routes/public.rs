//! The public co-travel self-check: no token, rate-limited per client, counts only.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use engine::tracing_api::{CotravelParams, CotravelView};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiQuery, ErrorBody};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CotravelQuery {
    /// rail, flight, coach or ship.
    pub mode: String,
    /// Train, flight or coach number (G1234, CA1234).
    pub service: String,
    /// Service date, YYYY-MM-DD.
    pub date: String,
    /// Rail: the car you rode in.
    pub car: Option<String>,
    /// Flight: your seat (cases within 3 rows count).
    pub seat: Option<String>,
    pub as_of: Option<String>,
}

/// Were confirmed or asymptomatic cases aboard, and how many while infectious? Never who.
#[utoipa::path(get, path = "/cotravel", tag = "public",
    params(CotravelQuery),
    responses((status = 200, body = CotravelView), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "too many requests from this address")))]
pub async fn cotravel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiQuery(q): ApiQuery<CotravelQuery>,
) -> Result<Json<CotravelView>, ApiError> {
    if let Err(wait) = state.limiter.take(peer.ip()) {
        return Err(ApiError::too_many(
            format!("too many requests; try again in {:.0} s", wait.ceil()),
            wait.ceil() as u64,
        ));
    }
    let p = CotravelParams {
        mode: q.mode,
        service: q.service,
        date: q.date,
        car: q.car,
        seat: q.seat,
        as_of: q.as_of,
    };
    Ok(Json(state.engine.cotravel(p).await?))
}
