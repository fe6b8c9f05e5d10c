//! Signing in with a password for a session token (limited per client address, and per account
//! name by the engine), signing out (the token revoked), asking who the token is, and the
//! store's figures for a signed-in account.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::bearer;
use crate::error::{ApiError, ApiJson, ErrorBody};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    /// A bearer token for the session.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    pub account: AccountView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub name: String,
    pub role: String,
    pub region: Option<String>,
    /// A community worker's community.
    pub community: Option<String>,
    /// An enterprise account's enterprise (`enterprise_id`), whose own applications and
    /// openings are all it sees.
    pub enterprise: Option<String>,
    /// The purposes this role may name, per action.
    pub purposes: std::collections::BTreeMap<String, Vec<String>>,
}

/// How long a session from a password login lasts.
const SESSION_HOURS: i64 = 12;

fn account_view(a: &engine::Account) -> AccountView {
    let purposes = engine::Action::ALL
        .iter()
        .filter_map(|action| {
            let p = engine::purposes(a.role, *action);
            (!p.is_empty()).then(|| {
                (
                    action.as_str().to_string(),
                    p.iter().map(|x| x.as_str().to_string()).collect(),
                )
            })
        })
        .collect();
    AccountView {
        name: a.name.clone(),
        role: a.role.as_str().into(),
        region: a.scope.region.map(|r| r.to_string()),
        // An enterprise account keeps its enterprise where a worker's community is kept; it is
        // named as what it is, never as a community.
        community: a
            .enterprise()
            .is_none()
            .then(|| a.scope.community.clone())
            .flatten(),
        enterprise: a.enterprise().map(str::to_string),
        purposes,
    }
}

/// A session token for a user name and password (Argon2id). Every attempt is audited. Each
/// client address has a few attempts and then a slow steady rate; an account name that failed
/// five times in a row is locked for a minute, doubling with each later failure (up to 15
/// minutes) — both answered 429 with `Retry-After`.
#[utoipa::path(post, path = "/login", tag = "session",
    request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "too many attempts from this address or for this name")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginAnswer>, ApiError> {
    if let Err(wait) = state.login_limiter.take(peer.ip()) {
        return Err(ApiError::too_many(
            format!(
                "too many sign-ins from this address; try again in {:.0} s",
                wait.ceil()
            ),
            wait.ceil() as u64,
        ));
    }
    let (token, account) = state
        .engine
        .login(
            &req.name,
            &req.password,
            SESSION_HOURS,
            "POST /api/v1/login",
        )
        .await?;
    Ok(Json(LoginAnswer {
        token,
        expires_in: SESSION_HOURS * 3600,
        account: account_view(&account),
    }))
}

/// Signs out: the token presented is revoked at once (a session's, or an API token's), and the
/// logout audited.
#[utoipa::path(post, path = "/logout", tag = "session", security(("bearer" = [])),
    responses((status = 204, description = "the token is revoked"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers)?.ok_or_else(|| ApiError::unauthorized("this needs a token"))?;
    state.engine.logout(&token, "POST /api/v1/logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The store's figures — rows, sources, index events, the last day with personal records (the
/// dashboard's default day) — for any signed-in account. (`/healthz` says only whether the
/// server is up.)
#[utoipa::path(get, path = "/status", tag = "session", security(("bearer" = [])),
    responses((status = 200, body = engine::Status), (status = 401, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<engine::Status>, ApiError> {
    let token = bearer(&headers)?.ok_or_else(|| ApiError::unauthorized("this needs a token"))?;
    state.engine.authenticate(&token).await?;
    Ok(Json(state.engine.status().await?))
}

/// The account a token belongs to, and what it may do.
#[utoipa::path(get, path = "/me", tag = "session", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<AccountView>, ApiError> {
    let token = bearer(&headers)?.ok_or_else(|| ApiError::unauthorized("this needs a token"))?;
    let account = state.engine.authenticate(&token).await?;
    Ok(Json(account_view(&account)))
}
