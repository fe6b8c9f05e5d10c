//! The tokens this process has checked, remembered so that a request costs a hash and a lookup
//! instead of a database query, and forgotten at once whenever credentials change anywhere:
//! in this process directly, and in another process sharing the SQLite file (`fangyi users
//! revoke-token` beside a running `fangyi serve`) through a *stamp* file next to the database
//! that every change rewrites and every lookup reads. With PostgreSQL — several servers, no
//! shared file — nothing is remembered and every token is checked against the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::users::Principal;

/// Tokens remembered at most; past this the memory is emptied and filled again.
const MAX_REMEMBERED: usize = 4096;

/// Who else can change the database this process has open.
#[derive(Debug, Clone)]
pub(crate) enum Sharing {
    /// Nobody: an in-memory SQLite database.
    Nobody,
    /// Other processes on this machine, through the SQLite file; the stamp file beside it.
    File(PathBuf),
    /// Other servers: nothing is remembered.
    Server,
}

impl Sharing {
    /// For a SQLite database file: its stamp is `FILE-credentials`.
    pub fn sqlite_file(db: &Path) -> Sharing {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push("-credentials");
        Sharing::File(db.with_file_name(name))
    }

    /// From a `sqlite:` URL: a file (percent escapes decoded), or nobody for `:memory:`.
    pub fn sqlite_url(url: &str) -> Sharing {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let path = rest.split('?').next().unwrap_or("");
        if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
            return Sharing::Nobody;
        }
        let b = path.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if b[i] == b'%'
                && i + 2 < b.len()
                && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        Sharing::sqlite_file(Path::new(&String::from_utf8_lossy(&out).into_owned()))
    }
}

#[derive(Debug)]
struct Remembered {
    principal: Principal,
    expires: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    /// The stamp file's content when the tokens below were checked.
    stamp: Option<Vec<u8>>,
    /// By token hash.
    tokens: HashMap<String, Remembered>,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A live token of an active account, checked since credentials last changed.
    Known(Principal),
    /// Ask the database, then [`Credentials::remember`] the answer with this stamp.
    Ask(Option<Vec<u8>>),
}

/// The remembered tokens of one open database.
#[derive(Debug)]
pub(crate) struct Credentials {
    sharing: Sharing,
    state: Mutex<State>,
}

impl Credentials {
    pub fn new(sharing: Sharing) -> Credentials {
        Credentials {
            sharing,
            state: Mutex::new(State::default()),
        }
    }

    /// The stamp file's content (empty when there is none yet).
    fn stamp(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_default()
    }

    /// The principal of the token with hash `hash` if it was checked since credentials last
    /// changed and has not expired at `now`.
    pub fn lookup(&self, hash: &str, now: i64) -> Lookup {
        let stamp = match &self.sharing {
            Sharing::Server => return Lookup::Ask(None),
            Sharing::Nobody => Vec::new(),
            Sharing::File(path) => Credentials::stamp(path),
        };
        let mut state = self.state.lock().expect("credentials lock");
        if state.stamp.as_ref() != Some(&stamp) {
            state.tokens.clear();
            state.stamp = Some(stamp.clone());
        }
        match state.tokens.get(hash) {
            Some(r) if r.expires.is_none_or(|e| e > now) => Lookup::Known(r.principal.clone()),
            _ => Lookup::Ask(Some(stamp)),
        }
    }

    /// Remembers a live token the database confirmed, if credentials did not change since
    /// `stamp` was read (before the database was asked).
    pub fn remember(
        &self,
        hash: &str,
        stamp: Option<Vec<u8>>,
        principal: &Principal,
        expires: Option<i64>,
    ) {
        let Some(stamp) = stamp else { return };
        let mut state = self.state.lock().expect("credentials lock");
        if state.stamp.as_ref() != Some(&stamp) {
            return;
        }
        if state.tokens.len() >= MAX_REMEMBERED {
            state.tokens.clear();
        }
        state.tokens.insert(
            hash.to_string(),
            Remembered {
                principal: principal.clone(),
                expires,
            },
        );
    }

    /// Credentials changed (a token revoked, an account disabled): forget every token here, and
    /// tell the other processes by rewriting the stamp. Called after the change is committed.
    pub fn changed(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("credentials lock");
        state.tokens.clear();
        state.stamp = None;
        drop(state);
        if let Sharing::File(path) = &self.sharing {
            let mut fresh = [0u8; 16];
            getrandom::fill(&mut fresh).map_err(|e| std::io::Error::other(e.to_string()))?;
            std::fs::write(path, crate::to_hex(&fresh))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_beside_the_database_file() {
        let Sharing::File(p) = Sharing::sqlite_url("sqlite:///tmp/a%3Fb/ops.db?mode=rwc") else {
            panic!("a file")
        };
        assert_eq!(p, Path::new("/tmp/a?b/ops.db-credentials"));
        assert!(matches!(
            Sharing::sqlite_url("sqlite::memory:"),
            Sharing::Nobody
        ));
    }
}
