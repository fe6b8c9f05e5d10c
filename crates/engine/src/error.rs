//! The engine's errors, each of a kind the server maps to one HTTP status.

use privacy::Denied;

/// What went wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No credentials, or credentials that name no active account (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The role, purpose or scope does not allow it (403).
    #[error("{0}")]
    Denied(#[from] Denied),
    /// The request itself is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// What it names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// It conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The deployment lacks something the request needs (503: no issuer key, say).
    #[error("{0}")]
    Unavailable(String),
    /// Too many attempts; try again after the seconds given (429: a locked login).
    #[error("{0}")]
    Throttled(String, u64),
    /// Anything else (500); the message is for the log, the client gets a generic one.
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    /// A short name of the kind, for audit outcomes and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Unauthenticated(_) => "unauthenticated",
            EngineError::Denied(_) => "denied",
            EngineError::BadRequest(_) => "bad_request",
            EngineError::NotFound(_) => "not_found",
            EngineError::Conflict(_) => "conflict",
            EngineError::Unavailable(_) => "unavailable",
            EngineError::Throttled(..) => "throttled",
            EngineError::Internal(_) => "internal",
        }
    }

    /// The audit log's outcome text: `denied: …` or `error: <kind>: …` (internal details stay
    /// in the server log). The message may quote what the client sent; the engine's one audit
    /// writer masks ids and mobile numbers in it before it is stored.
    pub fn outcome(&self) -> String {
        match self {
            EngineError::Denied(d) => format!("denied: {d}"),
            EngineError::Internal(_) => "error: internal".into(),
            e => format!("error: {}: {e}", e.kind()),
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> EngineError {
        EngineError::Internal(e.to_string())
    }
}

impl From<ops::OpsError> for EngineError {
    fn from(e: ops::OpsError) -> EngineError {
        match e {
            ops::OpsError::Invalid(m) => EngineError::BadRequest(m),
            e => EngineError::Internal(e.to_string()),
        }
    }
}

impl From<trace::TraceError> for EngineError {
    fn from(e: trace::TraceError) -> EngineError {
        match e {
            e @ trace::TraceError::NotACase { .. } => EngineError::NotFound(e.to_string()),
            e => EngineError::Internal(e.to_string()),
        }
    }
}
