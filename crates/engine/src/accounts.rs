//! Accounts and API tokens in the operational database, as the key holder manages them at the
//! command line (`fangyi users`, the demo's accounts). Nothing here shows a person's data, so
//! none of it is a question for `Engine::ask`; the server reaches the same accounts through
//! [`Engine::authenticate`](crate::Engine::authenticate) and `login`.

use std::path::Path;

use ops::Ops;

use crate::EngineError;

/// An account to create, an account as stored, and a token's record (never its text).
pub use ops::{NewUser, TokenInfo, User};

/// The accounts of one deployment: `DIR/ops.db`, or the database `db` names.
pub struct Accounts {
    ops: Ops,
}

impl Accounts {
    /// Opens (creating if need be) the operational database of the data dir at `data`, or the
    /// one `db` names (`postgres://…`, `sqlite://…`).
    pub async fn open(data: &Path, db: Option<&str>) -> Result<Accounts, EngineError> {
        Ok(Accounts {
            ops: Ops::open_for(data, db).await?,
        })
    }

    /// Where the accounts are kept, for messages (a file, or a URL without its password).
    pub fn target(&self) -> &str {
        self.ops.target()
    }

    /// Creates an account; a taken or malformed name is a bad request.
    pub async fn add(&self, user: &NewUser<'_>, now: i64) -> Result<User, EngineError> {
        Ok(self.ops.add_user(user, now).await?)
    }

    pub async fn users(&self) -> Result<Vec<User>, EngineError> {
        Ok(self.ops.users().await?)
    }

    /// Every token's record, or one account's.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, EngineError> {
        Ok(self.ops.tokens(user).await?)
    }

    /// A new token for `user` labelled `label`: its text (shown once) and its record.
    pub async fn create_token(
        &self,
        user: &str,
        label: &str,
        now: i64,
    ) -> Result<(String, TokenInfo), EngineError> {
        Ok(self.ops.create_token(user, label, now, None).await?)
    }

    /// Revokes a token by its id or its text; false when no live token matches.
    pub async fn revoke_token(&self, id_or_token: &str, now: i64) -> Result<bool, EngineError> {
        Ok(self.ops.revoke_token(id_or_token, now).await?)
    }

    /// Sets the password an account signs in with (stored as an Argon2id hash).
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), EngineError> {
        Ok(self.ops.set_password(name, password).await?)
    }

    /// Disables an account and revokes its tokens; false when no active account has the name.
    pub async fn disable(&self, name: &str, now: i64) -> Result<bool, EngineError> {
        Ok(self.ops.disable_user(name, now).await?)
    }

    pub async fn close(self) {
        self.ops.close().await;
    }
}
