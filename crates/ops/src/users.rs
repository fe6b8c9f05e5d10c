//! Accounts and their credentials: API tokens (random, shown once, stored as a BLAKE3 hash) and
//! optional passwords (Argon2id), for the sessions a login hands out.

use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::Semaphore;

use crate::credentials::Lookup;
use crate::{Ops, OpsError, random, to_hex};

/// Token text starts with this, so a leaked one is recognisable (and scannable for) as ours.
pub const TOKEN_PREFIX: &str = "fyt_";

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// A role name (`privacy::Role`); checked by the caller.
    pub role: String,
    /// The region code the account's scope is limited to.
    pub region: Option<String>,
    /// The community a community worker serves.
    pub community: Option<String>,
    pub created: i64,
    pub disabled: Option<i64>,
    pub has_password: bool,
}

/// What `add_user` needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub region: Option<&'a str>,
    pub community: Option<&'a str>,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub label: String,
    pub created: i64,
    pub expires: Option<i64>,
    pub revoked: Option<i64>,
}

/// Who a presented token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub token_id: String,
}

/// Argon2 hashes being computed at once in this process: half the cores, at least one. Each
/// takes tens of milliseconds of CPU and memory, so a flood of logins must neither occupy the
/// async worker threads (every other request would wait behind it) nor every core.
fn argon2_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new((cores / 2).max(1)))
    })
}

/// Runs an Argon2 computation on the blocking pool, at most [`argon2_slots`] at a time; the
/// slot is held by the computation itself, so a caller that gives up waiting does not free it
/// early.
async fn argon2_off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let slot = argon2_slots().clone().acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || {
        let out = work();
        drop(slot);
        out
    })
    .await
    .ok()
}

/// A hash of no one's password, with the same parameters as every stored one: checked when an
/// account is unknown, disabled or has no password, so those answers take as long as a wrong
/// password and the timing does not tell which accounts have passwords.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"fangyi decoy: matches no password")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The stored hash of a token's text.
pub fn token_hash(token: &str) -> String {
    to_hex(blake3::hash(token.as_bytes()).as_bytes())
}

fn user_from(r: &AnyRow) -> User {
    User {
        name: r.get("name"),
        role: r.get("role"),
        region: r.get("region"),
        community: r.get("community"),
        created: r.get("created"),
        disabled: r.get("disabled"),
        has_password: r.get::<Option<String>, _>("password").is_some(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
}

impl Ops {
    /// Creates an account; an error if the name is taken or malformed.
    pub async fn add_user(&self, u: &NewUser<'_>, now: i64) -> Result<User, OpsError> {
        if !valid_name(u.name) {
            return Err(OpsError::Invalid(format!(
                "user name {:?}: 1–64 letters, digits, '_', '-', '.' or '@'",
                u.name
            )));
        }
        if self.user(u.name).await?.is_some() {
            return Err(OpsError::Invalid(format!("user {} already exists", u.name)));
        }
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO users (name, role, region, community, password, created, disabled) \
             VALUES ($1, $2, $3, $4, NULL, $5, NULL)",
        )
        .bind(u.name)
        .bind(u.role)
        .bind(u.region)
        .bind(u.community)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        self.user(u.name)
            .await?
            .ok_or_else(|| self.malformed("user just created"))
    }

    /// One account by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>, OpsError> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.as_ref().map(user_from))
    }

    /// Every account, by name.
    pub async fn users(&self) -> Result<Vec<User>, OpsError> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(rows.iter().map(user_from).collect())
    }

    /// Disables an account and revokes its tokens; false when there is no such active user.
    pub async fn disable_user(&self, name: &str, now: i64) -> Result<bool, OpsError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2 AND disabled IS NULL")
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        sqlx::query("UPDATE tokens SET revoked = $1 WHERE user_name = $2 AND revoked IS NULL")
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        self.credentials_changed()?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets (or replaces) an account's password, stored as an Argon2id PHC string.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), OpsError> {
        if password.chars().count() < 12 {
            return Err(OpsError::Invalid(
                "a password needs at least 12 characters".into(),
            ));
        }
        let password = password.to_string();
        let phc = argon2_off_thread(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await
        .ok_or_else(|| self.malformed("password hash (the hashing task failed)"))?
        .map_err(|e| OpsError::Invalid(format!("hashing the password: {e}")))?;
        let _turn = self.write_turn().await;
        let done = sqlx::query("UPDATE users SET password = $1 WHERE name = $2")
            .bind(phc)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        if done.rows_affected() == 0 {
            return Err(OpsError::Invalid(format!("no user {name}")));
        }
        Ok(())
    }

    /// The active account whose password this is; `None` for any mismatch (unknown user,
    /// disabled, no password, wrong password — deliberately indistinguishable, in the answer
    /// and in the time it takes: a decoy hash is checked when there is no stored one). Argon2
    /// runs on the blocking pool, a bounded number at once.
    pub async fn check_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, OpsError> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1 AND disabled IS NULL")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let user = row.as_ref().map(user_from);
        let stored = row
            .as_ref()
            .and_then(|r| r.get::<Option<String>, _>("password"));
        let has_hash = stored.is_some();
        let password = password.to_string();
        let matched = argon2_off_thread(move || {
            let phc = stored.unwrap_or_else(|| decoy_hash().to_string());
            let parsed = PasswordHash::new(&phc).ok()?;
            Some(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .ok_or_else(|| self.malformed("password check (the hashing task failed)"))?;
        match matched {
            None if has_hash => Err(self.malformed("password hash")),
            Some(true) if has_hash => Ok(user),
            _ => Ok(None),
        }
    }

    /// Creates a token for an active account and returns its text, which is never stored:
    /// `fyt_` + 64 hex digits. `expires` (Unix seconds) for sessions; `None` for API tokens.
    pub async fn create_token(
        &self,
        user: &str,
        label: &str,
        now: i64,
        expires: Option<i64>,
    ) -> Result<(String, TokenInfo), OpsError> {
        match self.user(user).await? {
            Some(u) if u.disabled.is_none() => {}
            Some(_) => return Err(OpsError::Invalid(format!("user {user} is disabled"))),
            None => return Err(OpsError::Invalid(format!("no user {user}"))),
        }
        let token = format!("{TOKEN_PREFIX}{}", to_hex(&random::<32>()?));
        let hash = token_hash(&token);
        let id = hash[..12].to_string();
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO tokens (id, user_name, hash, label, created, expires, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(&id)
        .bind(user)
        .bind(&hash)
        .bind(label)
        .bind(now)
        .bind(expires)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let info = TokenInfo {
            id,
            user: user.to_string(),
            label: label.to_string(),
            created: now,
            expires,
            revoked: None,
        };
        Ok((token, info))
    }

    /// The account a token belongs to, if the token is known, not revoked, not expired at
    /// `now`, and its account is active.
    pub async fn authenticate(&self, token: &str, now: i64) -> Result<Option<Principal>, OpsError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
            return Ok(None);
        }
        let hash = token_hash(token);
        // A token checked since credentials last changed (anywhere) needs no query.
        let stamp = match self.credentials.lookup(&hash, now) {
            Lookup::Known(p) => return Ok(Some(p)),
            Lookup::Ask(stamp) => stamp,
        };
        let row = sqlx::query(
            "SELECT u.*, t.id AS token_id, t.expires AS token_expires FROM tokens t \
             JOIN users u ON u.name = t.user_name \
             WHERE t.hash = $1 AND t.revoked IS NULL AND (t.expires IS NULL OR t.expires > $2) \
             AND u.disabled IS NULL",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(row.map(|r| {
            let p = Principal {
                user: user_from(&r),
                token_id: r.get("token_id"),
            };
            self.credentials
                .remember(&hash, stamp, &p, r.get("token_expires"));
            p
        }))
    }

    /// Credentials changed: forget the tokens checked here, and tell the other processes
    /// sharing this database's file. Called after the change is committed.
    fn credentials_changed(&self) -> Result<(), OpsError> {
        self.credentials.changed().map_err(|e| {
            OpsError::Invalid(format!(
                "{}: the change is made, but servers running on this database could not be told \
                 (the stamp file beside it: {e}); restart them",
                self.target
            ))
        })
    }

    /// Revokes a token by id (or by its text); false when no live token matched.
    pub async fn revoke_token(&self, id_or_token: &str, now: i64) -> Result<bool, OpsError> {
        let id = if id_or_token.starts_with(TOKEN_PREFIX) {
            token_hash(id_or_token)[..12].to_string()
        } else {
            id_or_token.to_string()
        };
        let _turn = self.write_turn().await;
        let done = sqlx::query("UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        self.credentials_changed()?;
        Ok(done.rows_affected() > 0)
    }

    /// Tokens, of one account or all, oldest first.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, OpsError> {
        let rows = sqlx::query(
            "SELECT id, user_name, label, created, expires, revoked FROM tokens \
             WHERE (CAST($1 AS TEXT) IS NULL OR user_name = $1) ORDER BY created, id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(rows
            .iter()
            .map(|r| TokenInfo {
                id: r.get("id"),
                user: r.get("user_name"),
                label: r.get("label"),
                created: r.get("created"),
                expires: r.get("expires"),
                revoked: r.get("revoked"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;

    use super::*;

    #[tokio::test]
    async fn tokens_authenticate_until_revoked_or_expired() {
        for db in testing::all().await {
            let ops = &db.ops;
            let epi = NewUser {
                name: "epi",
                role: "epidemiologist",
                region: Some("330300"),
                community: None,
            };
            let u = ops.add_user(&epi, 10).await.unwrap();
            assert_eq!(u.region.as_deref(), Some("330300"));
            assert!(ops.add_user(&epi, 11).await.is_err(), "names are unique");
            assert!(
                ops.add_user(
                    &NewUser {
                        name: "bad name",
                        ..epi.clone()
                    },
                    11
                )
                .await
                .is_err()
            );

            let (token, info) = ops.create_token("epi", "laptop", 20, None).await.unwrap();
            assert!(token.starts_with(TOKEN_PREFIX) && token.len() == 68);
            let p = ops.authenticate(&token, 30).await.unwrap().unwrap();
            assert_eq!(
                (p.user.name.as_str(), p.token_id.as_str()),
                ("epi", info.id.as_str())
            );
            assert_eq!(ops.authenticate("fyt_nope", 30).await.unwrap(), None);
            let mut wrong = token.clone();
            wrong.replace_range(10..11, if &token[10..11] == "0" { "1" } else { "0" });
            assert_eq!(ops.authenticate(&wrong, 30).await.unwrap(), None);

            // Sessions expire.
            let (session, _) = ops
                .create_token("epi", "session", 20, Some(100))
                .await
                .unwrap();
            assert!(ops.authenticate(&session, 99).await.unwrap().is_some());
            assert!(ops.authenticate(&session, 100).await.unwrap().is_none());

            assert!(ops.revoke_token(&info.id, 40).await.unwrap());
            assert!(!ops.revoke_token(&info.id, 41).await.unwrap());
            assert_eq!(ops.authenticate(&token, 50).await.unwrap(), None);
            assert_eq!(ops.tokens(Some("epi")).await.unwrap().len(), 2);
            let all = ops.tokens(None).await.unwrap();
            let revoked = all.iter().find(|t| t.id == info.id).unwrap();
            assert_eq!(revoked.revoked, Some(40));

            // Disabling a user revokes everything they hold.
            let (t2, _) = ops.create_token("epi", "other", 60, None).await.unwrap();
            assert!(ops.disable_user("epi", 70).await.unwrap());
            assert_eq!(ops.authenticate(&t2, 80).await.unwrap(), None);
            assert!(ops.create_token("epi", "x", 90, None).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_remembered_token_is_refused_once_another_process_revokes_it() {
        // Tokens checked once are remembered (no query per request); a revocation or a
        // disabled account through another handle on the same file — another process, as
        // `fangyi users revoke-token` beside a running server — must still shut them out.
        let db = testing::sqlite().await;
        let server = &db.ops;
        let other = Ops::connect(&db.url).await.unwrap();
        for name in ["epi", "cw"] {
            let u = NewUser {
                name,
                role: "epidemiologist",
                region: None,
                community: None,
            };
            server.add_user(&u, 10).await.unwrap();
        }
        let (epi, info) = server.create_token("epi", "t", 20, None).await.unwrap();
        let (cw, _) = server.create_token("cw", "t", 20, None).await.unwrap();
        let (session, _) = server.create_token("cw", "s", 20, Some(100)).await.unwrap();
        for t in [&epi, &cw, &session] {
            assert!(server.authenticate(t, 30).await.unwrap().is_some());
            assert!(
                server.authenticate(t, 31).await.unwrap().is_some(),
                "remembered"
            );
        }
        // A remembered session still expires.
        assert!(server.authenticate(&session, 100).await.unwrap().is_none());
        assert!(other.revoke_token(&info.id, 40).await.unwrap());
        assert_eq!(server.authenticate(&epi, 41).await.unwrap(), None);
        assert!(server.authenticate(&cw, 41).await.unwrap().is_some());
        assert!(other.disable_user("cw", 50).await.unwrap());
        assert_eq!(server.authenticate(&cw, 51).await.unwrap(), None);
    }

    #[tokio::test]
    async fn passwords_are_argon2_and_checked() {
        let db = testing::sqlite().await;
        let ops = &db.ops;
        ops.add_user(
            &NewUser {
                name: "admin",
                role: "admin",
                region: None,
                community: None,
            },
            1,
        )
        .await
        .unwrap();
        assert!(ops.set_password("admin", "short").await.is_err());
        ops.set_password("admin", "correct horse battery")
            .await
            .unwrap();
        assert!(ops.user("admin").await.unwrap().unwrap().has_password);
        assert!(
            ops.check_password("admin", "correct horse battery")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            ops.check_password("admin", "wrong horse battery")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            ops.check_password("nobody", "correct horse battery")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn accounts_without_a_password_cost_a_check_like_those_with_one() {
        let db = testing::sqlite().await;
        let ops = &db.ops;
        for name in ["admin", "nopass"] {
            ops.add_user(
                &NewUser {
                    name,
                    role: "admin",
                    region: None,
                    community: None,
                },
                1,
            )
            .await
            .unwrap();
        }
        ops.set_password("admin", "correct horse battery")
            .await
            .unwrap();
        // The decoy checked for an unknown account or one without a password is a hash of the
        // same algorithm and cost as a stored one, so the check takes as long.
        let stored: String = sqlx::query("SELECT password FROM users WHERE name = 'admin'")
            .fetch_one(&ops.pool)
            .await
            .unwrap()
            .get("password");
        let (stored, decoy) = (
            PasswordHash::new(&stored).unwrap(),
            PasswordHash::new(decoy_hash()).unwrap(),
        );
        assert_eq!(stored.algorithm, decoy.algorithm);
        assert_eq!(stored.version, decoy.version);
        assert_eq!(stored.params, decoy.params);
        // And nothing matches it, not even the text it was made from.
        for (name, password) in [
            ("nopass", "fangyi decoy: matches no password"),
            ("nobody", "fangyi decoy: matches no password"),
            ("nopass", ""),
        ] {
            assert_eq!(ops.check_password(name, password).await.unwrap(), None);
        }
    }
}
