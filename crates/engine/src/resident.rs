//! Residents signing in (contract §10): a one-time code sent through a [`Notifier`] when an ID
//! number and phone match `persons`, a resident session for the right code, and the account
//! such a session is — the resident role, scoped to that one person. No answer tells whether a
//! pair exists: a code request is answered before anything is looked up (the lookup and the
//! sending run afterwards), and wrong codes are counted and locked the same way for everyone.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use codesign::hex;
use model::{PersonId, Timestamp};
use privacy::{Action, AuditEntry, Purpose, Role, Scope};
use serde::Serialize;

use crate::{Account, Engine, EngineError, parse_person};

/// How long a one-time code is valid.
pub const OTP_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong codes in a row that lock a person's sign-in, and for how long.
pub const OTP_LOCK_AFTER: i64 = 5;
pub const OTP_LOCK_MS: i64 = 15 * 60 * 1000;
/// At most one code per person in this time (a second request is quietly not sent).
pub const OTP_RESEND_MS: i64 = 60 * 1000;
/// How long a resident session lasts.
pub const SESSION_MS: i64 = 60 * 60 * 1000;
/// Resident tokens begin with this, staff tokens with `ops::TOKEN_PREFIX`.
pub const RESIDENT_TOKEN_PREFIX: &str = "fyr_";

/// One message with a one-time code, as the outbox stores it and a webhook receives it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OtpMessage {
    pub to: String,
    pub code: String,
    pub text: String,
}

/// A future a notifier returns.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where one-time codes go: the outbox folder, or an SMS gateway's webhook (the server's).
pub trait Notifier: Send + Sync + 'static {
    fn send<'a>(&'a self, message: &'a OtpMessage) -> Sending<'a>;
    /// What it is, for the log (`outbox /srv/outbox`, `webhook http://…`).
    fn describe(&self) -> String;
}

/// The built-in notifier: each message one JSON file in a folder (readable by its owner only).
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Uses (and creates) `dir`.
    pub fn new(dir: &Path) -> std::io::Result<Outbox> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Outbox {
            dir: dir.to_path_buf(),
        })
    }

    fn write(&self, message: &OtpMessage) -> std::io::Result<()> {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(std::io::Error::other)?;
        let name = format!("{}-{}", Timestamp::now().millis(), hex(&random));
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let body = serde_json::to_vec(message).map_err(std::io::Error::other)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        {
            use std::io::Write;
            let mut f = opts.open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        // Renamed into place whole, so a reader polling the folder never sees half a message.
        std::fs::rename(&tmp, self.dir.join(format!("{name}.json")))
    }
}

impl Notifier for Outbox {
    fn send<'a>(&'a self, message: &'a OtpMessage) -> Sending<'a> {
        Box::pin(async move {
            let this = Outbox {
                dir: self.dir.clone(),
            };
            let message = message.clone();
            tokio::task::spawn_blocking(move || this.write(&message))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("writing to the outbox {}: {e}", self.dir.display()))
        })
    }

    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }
}

/// A phone number as `persons` and a resident may write it, reduced to its digits (a leading
/// `+86`/`0086` country code dropped); `None` when it cannot be a phone number.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let phone = phone.trim();
    if phone.is_empty() || phone.len() > 32 {
        return None;
    }
    if !phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
    {
        return None;
    }
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = if let Some(rest) = digits.strip_prefix("0086") {
        rest.to_string()
    } else if phone.starts_with('+') {
        digits.strip_prefix("86")?.to_string()
    } else if digits.len() == 13 && digits.starts_with("86") {
        digits[2..].to_string()
    } else {
        digits
    };
    (5..=15).contains(&digits.len()).then_some(digits)
}

/// Resident sessions this process checked lately (token hash → person, expiry, when to check
/// again), so a resident's requests do not each ask the database. An entry is trusted for at
/// most [`SESSION_RECHECK`]; a sign-out here forgets it at once, one on another server within
/// that.
#[derive(Debug, Default)]
pub(crate) struct SessionCache(
    std::sync::Mutex<std::collections::HashMap<String, (i64, i64, std::time::Instant)>>,
);

/// How long a checked session is trusted before the database is asked again, at most.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);
/// Up to how much sooner a session is checked again, by its token: sessions checked together
/// (a server's first seconds after a restart) would otherwise all be due in the same second
/// and their requests wait on the database together.
const SESSION_RECHECK_SPREAD_MS: u64 = 10_000;

/// When a session checked now is checked again: [`SESSION_RECHECK`] less a share of
/// [`SESSION_RECHECK_SPREAD_MS`] that the token's hash picks.
fn recheck_due(hash: &str) -> std::time::Instant {
    let pick = hash
        .get(..8)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    let sooner = std::time::Duration::from_millis(pick % SESSION_RECHECK_SPREAD_MS);
    std::time::Instant::now() + SESSION_RECHECK - sooner
}
/// Sessions remembered at most; past it the memory starts afresh.
const SESSIONS_MAX: usize = 200_000;

impl SessionCache {
    fn get(&self, hash: &str, now_ms: i64) -> Option<i64> {
        let map = self.0.lock().expect("session cache lock");
        map.get(hash)
            .filter(|(_, expires, due)| *expires > now_ms && std::time::Instant::now() < *due)
            .map(|(person, _, _)| *person)
    }

    fn put(&self, hash: String, person: i64, expires: i64) {
        let mut map = self.0.lock().expect("session cache lock");
        if map.len() >= SESSIONS_MAX {
            map.clear();
        }
        let due = recheck_due(&hash);
        map.insert(hash, (person, expires, due));
    }

    fn forget(&self, hash: &str) {
        self.0.lock().expect("session cache lock").remove(hash);
    }
}

/// A resident's token's session as the account it is.
pub fn resident_account(person: i64) -> Account {
    Account {
        name: format!("resident:{person:016x}"),
        role: Role::Resident,
        scope: Scope {
            person: Some(person),
            ..Scope::default()
        },
    }
}

/// What a successful sign-in hands out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ResidentSessionView {
    pub token: String,
    /// RFC 3339, in the deployment's zone.
    pub expires: String,
}

impl Engine {
    /// Sets where one-time codes are sent (the server's `--outbox` or webhook).
    pub fn set_notifier(&self, notifier: Arc<dyn Notifier>) {
        *self.inner.notifier.write().expect("notifier lock") = Some(notifier);
    }

    fn notifier(&self) -> Option<Arc<dyn Notifier>> {
        self.inner.notifier.read().expect("notifier lock").clone()
    }

    /// The keyed hash a one-time code is stored as (the key derived from the audit key, which
    /// the database does not hold).
    fn otp_mac(&self, person: i64, code: &str) -> String {
        let key = blake3::derive_key(
            "fangyi 2020 resident one-time code v1",
            &self.keys().audit_key(),
        );
        let mut h = blake3::Hasher::new_keyed(&key);
        h.update(&person.to_le_bytes());
        h.update(code.as_bytes());
        h.finalize().to_hex().to_string()
    }

    /// Asks for a one-time code for `person_id` and `phone`. Answers at once and the same way
    /// whether or not the pair exists (only a malformed id or phone is an error); the lookup,
    /// the rate limit, the lock and the sending happen afterwards, each attempt audited.
    pub async fn request_otp(
        &self,
        person_id: &str,
        phone: &str,
        request: &str,
    ) -> Result<(), EngineError> {
        let id = parse_person(person_id)?;
        let phone = normalize_phone(phone).ok_or_else(|| {
            EngineError::BadRequest("phone: not a phone number (digits, at most 15)".into())
        })?;
        let (engine, request) = (self.clone(), request.to_string());
        tokio::spawn(async move {
            if let Err(e) = engine.send_otp(id, phone, request).await {
                tracing::error!("sending a one-time code: {e}");
            }
        });
        Ok(())
    }

    async fn send_otp(
        &self,
        id: PersonId,
        phone: String,
        request: String,
    ) -> Result<(), EngineError> {
        let person = self.keys().pseudonyms.pseudonym(id);
        let (engine, wanted) = (self.clone(), phone.clone());
        let matches = tokio::task::spawn_blocking(move || -> Result<bool, EngineError> {
            let snap = engine.snapshot()?;
            let directory = snap.directory()?;
            if !directory.contains(person) {
                return Ok(false);
            }
            let found = directory.identities(engine.keys(), &[person])?;
            Ok(found
                .get(&person)
                .and_then(|i| i.phone.as_deref())
                .and_then(normalize_phone)
                .is_some_and(|p| p == wanted))
        })
        .await
        .map_err(EngineError::internal)??;
        let now = Timestamp::now().millis();
        let outcome = if !matches {
            "ok: not sent (no such pair)".to_string()
        } else {
            let state = self.ops().otp_state(person).await?;
            if state.locked_until > now {
                "ok: not sent (locked after wrong codes)".to_string()
            } else if now - state.sent_at < OTP_RESEND_MS {
                "ok: not sent (one was sent less than a minute ago)".to_string()
            } else {
                match self.notifier() {
                    None => "error: no notifier is configured".to_string(),
                    Some(notifier) => {
                        let code = six_digits()?;
                        let mac = self.otp_mac(person, &code);
                        self.ops()
                            .otp_set_code(person, &mac, now + OTP_TTL_MS, now)
                            .await?;
                        let message = OtpMessage {
                            to: phone.clone(),
                            text: format!(
                                "fangyi: your sign-in code is {code}, valid for 10 minutes. \
                                 防疫登录验证码 {code}，10分钟内有效。"
                            ),
                            code,
                        };
                        match notifier.send(&message).await {
                            Ok(()) => "ok: sent".to_string(),
                            Err(e) => format!("error: the notifier failed: {e}"),
                        }
                    }
                }
            }
        };
        self.sign_in_entry("public", Role::Public, &request, matches, person, outcome)
            .await
    }

    async fn sign_in_entry(
        &self,
        actor: &str,
        role: Role,
        request: &str,
        shown: bool,
        person: i64,
        outcome: String,
    ) -> Result<(), EngineError> {
        self.append_audit(AuditEntry {
            at_ms: Timestamp::now().millis(),
            actor: actor.to_string(),
            role: role.as_str().into(),
            purpose: Purpose::SelfCheck.as_str().into(),
            action: Action::ResidentSignIn.as_str().into(),
            query: request.to_string(),
            persons: if shown { vec![person] } else { Vec::new() },
            rows: 0,
            outcome,
        })
        .await
    }

    /// Signs a resident in with the one-time code sent to them: a token reaching only their own
    /// data for [`SESSION_MS`]. A wrong, used or expired code is one answer for everyone;
    /// the [`OTP_LOCK_AFTER`]th wrong one in a row locks the id for [`OTP_LOCK_MS`] (429).
    pub async fn resident_sign_in(
        &self,
        person_id: &str,
        code: &str,
        request: &str,
    ) -> Result<ResidentSessionView, EngineError> {
        let id = parse_person(person_id)?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::BadRequest("code: six digits".into()));
        }
        let person = self.keys().pseudonyms.pseudonym(id);
        let now = Timestamp::now().millis();
        let state = self.ops().otp_state(person).await?;
        if state.locked_until > now {
            let wait = ((state.locked_until - now + 999) / 1000) as u64;
            self.sign_in_entry(
                "public",
                Role::Public,
                request,
                false,
                person,
                "denied: locked".into(),
            )
            .await?;
            return Err(EngineError::Throttled(
                format!(
                    "too many wrong codes: try again in {} minutes",
                    wait.div_ceil(60)
                ),
                wait,
            ));
        }
        let mac = self.otp_mac(person, code);
        if !self.ops().otp_consume(person, &mac, now).await? {
            let locked = self
                .ops()
                .otp_failed(person, now, OTP_LOCK_AFTER, OTP_LOCK_MS)
                .await?;
            self.sign_in_entry(
                "public",
                Role::Public,
                request,
                false,
                person,
                "denied: wrong code".into(),
            )
            .await?;
            return Err(match locked {
                Some(_) => EngineError::Throttled(
                    "too many wrong codes: try again in 15 minutes".into(),
                    (OTP_LOCK_MS / 1000) as u64,
                ),
                None => EngineError::Unauthenticated(
                    "the code is wrong or has expired; ask for a new one".into(),
                ),
            });
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(EngineError::internal)?;
        let token = format!("{RESIDENT_TOKEN_PREFIX}{}", hex(&random));
        let expires = now + SESSION_MS;
        self.ops()
            .add_resident_session(&ops::token_hash(&token), person, now, expires)
            .await?;
        let account = resident_account(person);
        self.sign_in_entry(
            &account.name,
            Role::Resident,
            request,
            true,
            person,
            "ok".into(),
        )
        .await?;
        Ok(ResidentSessionView {
            token,
            expires: Timestamp(expires).to_rfc3339(model::Zone::CST),
        })
    }

    /// The account of a resident token, if it is one that is current.
    pub(crate) async fn resident_session(&self, token: &str) -> Result<Account, EngineError> {
        let now = Timestamp::now().millis();
        let hash = ops::token_hash(token);
        let cache = &self.inner.resident_sessions;
        if let Some(person) = cache.get(&hash, now) {
            return Ok(resident_account(person));
        }
        match self.ops().resident_session(&hash, now).await? {
            Some(s) => {
                cache.put(hash, s.person, s.expires_at);
                Ok(resident_account(s.person))
            }
            None => Err(EngineError::Unauthenticated(
                "the resident session is unknown or has expired; sign in again".into(),
            )),
        }
    }

    /// Ends a resident's session (their token stops working at once).
    pub async fn resident_sign_out(&self, token: &str, request: &str) -> Result<(), EngineError> {
        let account = self.resident_session(token).await?;
        let hash = ops::token_hash(token);
        self.inner.resident_sessions.forget(&hash);
        self.ops().end_resident_session(&hash).await?;
        let person = account.scope.person.unwrap_or_default();
        self.sign_in_entry(
            &account.name,
            Role::Resident,
            request,
            true,
            person,
            "ok: signed out".into(),
        )
        .await
    }
}

/// Six random digits, uniformly.
fn six_digits() -> Result<String, EngineError> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(EngineError::internal)?;
        let n = u32::from_le_bytes(b);
        // Rejecting the top of the range keeps every code equally likely.
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_checked_together_are_checked_again_spread_out() {
        let start = std::time::Instant::now();
        let dues: Vec<std::time::Duration> = (0..200)
            .map(|i| recheck_due(&ops::token_hash(&format!("token {i}"))) - start)
            .collect();
        let earliest =
            SESSION_RECHECK - std::time::Duration::from_millis(SESSION_RECHECK_SPREAD_MS);
        assert!(
            dues.iter().all(
                |d| *d >= earliest && *d <= SESSION_RECHECK + std::time::Duration::from_secs(1)
            )
        );
        // Spread over the window, not one moment: every second of it has some.
        let seconds: std::collections::BTreeSet<u64> = dues.iter().map(|d| d.as_secs()).collect();
        assert!(seconds.len() >= 10, "{seconds:?}");
    }

    #[test]
    fn phones_reduce_to_their_digits() {
        assert_eq!(
            normalize_phone("13800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalize_phone("+86 138-0013-8000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalize_phone("0086 13800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalize_phone("8613800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(
            normalize_phone("(010) 6512 3456").as_deref(),
            Some("01065123456")
        );
        for bad in [
            "",
            "abc",
            "1234",
            "+1 555 0100",
            "1380013800x",
            &"1".repeat(40),
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = six_digits().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_resident_account_reaches_one_person() {
        let a = resident_account(42);
        assert_eq!(a.role, Role::Resident);
        assert_eq!(a.scope.person, Some(42));
        assert!(!a.scope.is_everyone());
    }
}
