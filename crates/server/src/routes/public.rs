//! The public self-checks: no token, rate-limited per client (one bucket for both), no
//! identity in any answer — the co-travel check (counts only) and the nearby-cases search.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use engine::nearby::{NearbyOut, NearbyParams};
use engine::tracing_api::{CotravelParams, CotravelView};
use engine::{Account, Caller, Purpose};
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyQuery {
    /// Latitude of the place to search around, degrees (WGS 84), -90 to 90.
    pub lat: Option<String>,
    /// Longitude, degrees, -180 to 180.
    pub lon: Option<String>,
    /// Metres, more than 0 and at most 50,000 (default 3,000).
    pub radius_m: Option<String>,
    /// A date (its end) or an RFC 3339 time; default now. Points show while they ended at
    /// most 14 days before it: give a date in the data's period to search old records.
    pub as_of: Option<String>,
}

/// Cases' public trail points near a place (contract §10): venue visits and the ends of rides
/// from the day before onset to the report, within the radius, nearest first (at most 500),
/// identical points of several cases counted together. Never who.
#[utoipa::path(get, path = "/public/nearby", tag = "public",
    params(NearbyQuery),
    responses((status = 200, body = NearbyOut), (status = 400, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "too many requests from this address")))]
pub async fn nearby(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiQuery(q): ApiQuery<NearbyQuery>,
) -> Result<Json<NearbyOut>, ApiError> {
    if let Err(wait) = state.limiter.take(peer.ip()) {
        return Err(ApiError::too_many(
            format!("too many requests; try again in {:.0} s", wait.ceil()),
            wait.ceil() as u64,
        ));
    }
    let p = NearbyParams {
        lat: q.lat,
        lon: q.lon,
        radius_m: q.radius_m,
        as_of: q.as_of,
    };
    // Anyone, for the one purpose everyone has; audited like any answer about cases.
    let caller = Caller::new(Account::public(), Purpose::SelfCheck, p.request_text());
    Ok(Json(state.engine.nearby(&caller, p).await?))
}
