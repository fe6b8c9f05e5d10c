//! Signing in and out: a password login hands out a session token, a logout revokes the token
//! presented. Logins are guarded — after a few failures an account name is locked for a while
//! (longer each time), only a bounded number are checked at once (Argon2 runs on the blocking
//! pool, in `ops`) — and every attempt, granted or not, is an audit entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use privacy::{Action, AuditEntry};

use crate::{Account, Engine, EngineError};

/// Failures allowed before a name is locked.
pub const FREE_FAILURES: u32 = 5;
/// The first lock; each failure after it doubles the next one, up to [`MAX_LOCK`].
pub const FIRST_LOCK: Duration = Duration::from_secs(60);
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Logins checked at once (waiting for Argon2 included); more are answered 503 at once.
pub const MAX_LOGINS_IN_FLIGHT: usize = 32;
/// Names remembered; past this, names neither locked nor failing for an hour are forgotten.
const MAX_TRACKED: usize = 10_000;

/// The audit entries of logins and logouts name no purpose: they are not accesses to data.
const NO_PURPOSE: &str = "-";

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Failed logins per account name, and how many logins are being checked now.
#[derive(Debug, Default)]
pub(crate) struct LoginGuard {
    failures: Mutex<HashMap<String, Failures>>,
    in_flight: AtomicUsize,
}

/// One login being checked; counts against [`MAX_LOGINS_IN_FLIGHT`] until dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LoginGuard {
    /// `Err(wait)` while `name` is locked.
    fn check(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().expect("login guard lock");
        match failures.get(name).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; from the [`FREE_FAILURES`]th on, locks the name.
    fn failed(&self, name: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("login guard lock");
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now)
                    || now.duration_since(f.last) < Duration::from_secs(3600)
            });
        }
        let f = failures.entry(name.to_string()).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        f.count += 1;
        f.last = now;
        if f.count >= FREE_FAILURES {
            let doublings = (f.count - FREE_FAILURES).min(16);
            let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
            f.locked_until = Some(now + lock);
        }
    }

    fn succeeded(&self, name: &str) {
        self.failures.lock().expect("login guard lock").remove(name);
    }

    fn slot(&self) -> Option<Slot<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(&self.in_flight);
        (before < MAX_LOGINS_IN_FLIGHT).then_some(slot)
    }
}

/// Whether `name` could be an account name at all (the rule `ops` creates them by).
fn plausible_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
}

impl Engine {
    /// A session token for a user name and password (Argon2id), valid for `hours`. Every
    /// attempt is audited (`request` is what was asked, as the log records it). A name that
    /// failed [`FREE_FAILURES`] times in a row is locked — its logins refused unchecked,
    /// whatever the password — for [`FIRST_LOCK`], doubling with each later failure up to
    /// [`MAX_LOCK`]; a success clears it. Unknown names are locked the same way, so the
    /// answers never tell which accounts exist.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        hours: i64,
        request: &str,
    ) -> Result<(String, Account), EngineError> {
        let result = self.check_login(name, password, hours).await;
        let (actor, role) = match &result {
            Ok((_, a)) => (a.name.clone(), a.role.as_str()),
            Err(_) if plausible_name(name) => (name.to_string(), "public"),
            Err(_) => ("(not an account name)".to_string(), "public"),
        };
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.outcome(),
        };
        self.append_audit(AuditEntry {
            at_ms: model::Timestamp::now().millis(),
            actor,
            role: role.into(),
            purpose: NO_PURPOSE.into(),
            action: Action::Login.as_str().into(),
            query: request.to_string(),
            persons: Vec::new(),
            rows: 0,
            outcome,
        })
        .await?;
        result
    }

    async fn check_login(
        &self,
        name: &str,
        password: &str,
        hours: i64,
    ) -> Result<(String, Account), EngineError> {
        let wrong = || EngineError::Unauthenticated("wrong user name or password".into());
        if !plausible_name(name) || password.len() > 1024 {
            return Err(wrong());
        }
        let guard = &self.inner.logins;
        if let Err(wait) = guard.check(name, Instant::now()) {
            return Err(EngineError::Throttled(
                format!(
                    "too many failed sign-ins for this name; try again in {} s",
                    wait.as_secs().max(1)
                ),
                wait.as_secs().max(1),
            ));
        }
        let Some(_slot) = guard.slot() else {
            return Err(EngineError::Unavailable(
                "too many sign-ins at once; try again shortly".into(),
            ));
        };
        let Some(user) = self.inner.ops.check_password(name, password).await? else {
            guard.failed(name, Instant::now());
            return Err(wrong());
        };
        guard.succeeded(name);
        let now = model::Timestamp::now().secs();
        let (token, _) = self
            .inner
            .ops
            .create_token(&user.name, "session", now, Some(now + hours * 3600))
            .await?;
        Ok((token, Account::from_user(&user)?))
    }

    /// Ends a session: the token presented is revoked at once (a session's, or an API token's)
    /// and the logout audited. An unknown, revoked or expired token is 401.
    pub async fn logout(&self, token: &str, request: &str) -> Result<(), EngineError> {
        let account = self.authenticate(token).await?;
        let revoked = self
            .inner
            .ops
            .revoke_token(token.trim(), model::Timestamp::now().secs())
            .await;
        let outcome = match &revoked {
            Ok(_) => "ok".to_string(),
            Err(_) => "error: internal".to_string(),
        };
        self.append_audit(AuditEntry {
            at_ms: model::Timestamp::now().millis(),
            actor: account.name.clone(),
            role: account.role.as_str().into(),
            purpose: NO_PURPOSE.into(),
            action: Action::Logout.as_str().into(),
            query: request.to_string(),
            persons: Vec::new(),
            rows: 0,
            outcome,
        })
        .await?;
        revoked?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_after_its_free_failures_and_longer_each_time() {
        let g = LoginGuard::default();
        let t0 = Instant::now();
        for i in 0..FREE_FAILURES {
            assert!(g.check("admin", t0).is_ok(), "attempt {i}");
            g.failed("admin", t0);
        }
        assert_eq!(g.check("admin", t0), Err(FIRST_LOCK));
        assert!(g.check("other", t0).is_ok(), "names are locked one by one");
        // After the lock, one more failure locks it twice as long.
        let t1 = t0 + FIRST_LOCK;
        assert!(g.check("admin", t1).is_ok());
        g.failed("admin", t1);
        assert_eq!(g.check("admin", t1), Err(FIRST_LOCK * 2));
        // Never longer than the cap.
        let mut t = t1;
        for _ in 0..40 {
            t += MAX_LOCK;
            g.failed("admin", t);
        }
        assert_eq!(g.check("admin", t), Err(MAX_LOCK));
        // A success clears the record.
        g.succeeded("admin");
        assert!(g.check("admin", t).is_ok());
    }

    #[test]
    fn only_so_many_logins_are_checked_at_once() {
        let g = LoginGuard::default();
        let slots: Vec<_> = (0..MAX_LOGINS_IN_FLIGHT)
            .map(|_| g.slot().expect("a free slot"))
            .collect();
        assert!(g.slot().is_none());
        drop(slots);
        assert!(g.slot().is_some(), "slots are given back");
    }

    #[test]
    fn account_names_follow_the_accounts_rule() {
        assert!(plausible_name("li.wei@cdc-3"));
        for bad in ["", "a b", "../x", "张三", &"x".repeat(65), "a\0b"] {
            assert!(!plausible_name(bad), "{bad:?}");
        }
    }
}
