//! Provinces that trust each other: the trust hub (`hub.rs`) that collects the provinces'
//! signer keys and publishes them as one list signed by an offline trust anchor
//! (`codesign::anchor`), the provinces' signed key submissions to it (`submission.rs`), the
//! anchor's key files (`keyfile.rs`), and a deployment's side (`deploy.rs`): accepting a
//! pulled list — anchor signature, version, revoked keys — and replacing its trust list with it
//! atomically; and the health attestations deployments exchange (`attest.rs`: the signed
//! request and the answer that carries only color, rule groups and validity).
//!
//! No HTTP here: the server serves a hub's list and pulls one (`server::hub`,
//! `hub_pull`); this crate turns bytes into decisions and files.

pub mod attest;
pub mod deploy;
pub mod hub;
pub mod keyfile;
pub mod submission;

pub use codesign::anchor::{AnchorError, AnchorKey, AnchorPublic, RevokedKey, SignedList};
pub use deploy::{Accepted, PullOutcome};
pub use hub::{Hub, Province, Published};

/// Why a hub or a deployment refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The request or file given is malformed (a usage error at the command line, 400 over
    /// HTTP).
    #[error("{0}")]
    Bad(String),
    /// Not signed by a key the hub holds for the province (403).
    #[error("{0}")]
    Refused(String),
    /// Conflicts with what is recorded: a replayed submission, another anchor (409).
    #[error("{0}")]
    Conflict(String),
    /// The signed list was refused (its reason says why).
    #[error("{0}")]
    Anchor(#[from] AnchorError),
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{0}")]
    Codesign(#[from] codesign::CodesignError),
}

impl ExchangeError {
    pub(crate) fn io(path: &std::path::Path, cause: std::io::Error) -> ExchangeError {
        ExchangeError::Io {
            path: path.display().to_string(),
            cause,
        }
    }
}

/// Writes `bytes` to `path` whole or not at all (temporary file, fsync, rename).
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), ExchangeError> {
    Ok(codesign::issuer::write_atomic(path, bytes)?)
}

/// Reads a JSON file of at most `limit` bytes, `None` when it does not exist.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    limit: u64,
) -> Result<Option<T>, ExchangeError> {
    match model::files::read_text(path, limit) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ExchangeError::Bad(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExchangeError::io(path, e)),
    }
}

/// At most 40 characters of untrusted text, for a message.
pub(crate) fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// RFC 3339 text as Unix seconds.
pub(crate) fn secs(t: &str) -> Option<i64> {
    model::Timestamp::parse_rfc3339(t.as_bytes())
        .ok()
        .map(|t| t.millis().div_euclid(1000))
}
