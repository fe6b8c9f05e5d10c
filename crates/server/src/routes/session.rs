//! Logging in with a password for a session token, and asking who the token is.

use axum::Json;
use axum::extract::State;
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
    pub community: Option<String>,
    /// The purposes this role may name, per action.
    pub purposes: std::collections::BTreeMap<String, Vec<String>>,
}

/// How long a session from a password login lasts.
const SESSION_HOURS: i64 = 12;

fn account_view(a: &engine::Account) -> AccountView {
    let purposes = privacy::Action::ALL
        .iter()
        .filter_map(|action| {
            let p = privacy::purposes(a.role, *action);
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
        community: a.scope.community.clone(),
        purposes,
    }
}

/// A session token for a user name and password (Argon2id).
#[utoipa::path(post, path = "/login", tag = "session",
    request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginAnswer>, ApiError> {
    let (token, account) = state
        .engine
        .login(&req.name, &req.password, SESSION_HOURS)
        .await?;
    Ok(Json(LoginAnswer {
        token,
        expires_in: SESSION_HOURS * 3600,
        account: account_view(&account),
    }))
}

/// The account a token belongs to, and what it may do.
#[utoipa::path(get, path = "/me", tag = "session", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<AccountView>, ApiError> {
    let token = bearer(&headers)?.ok_or_else(|| ApiError::unauthorized("this needs a token"))?;
    let account = state.engine.authenticate(&token).await?;
    Ok(Json(account_view(&account)))
}
