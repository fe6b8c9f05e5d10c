//! Signed, offline-verifiable health codes and EU Digital COVID Certificate verification.
//!
//! An `FY1:` code is `"FY1:" + base45(zlib(COSE_Sign1(CWT claims)))`, signed with Ed25519
//! (COSE `EdDSA`) by a province's issuer key and carrying only a keyed pseudonym of the person,
//! the color and its validity (`fy1.rs`). An `HC1:` payload is an EU DCC with the same
//! transport (`transport.rs`), signed with ES256, PS256 or EdDSA by a document signer whose
//! certificate is in a DCC-format trust list (`dcc.rs`, `trust.rs`). [`Verifier`] checks
//! either offline: decode, signature (by key id), key usage, expiry and revocation, each
//! failure with its own [`VerifyError`].
//!
//! The issuer's public side (`issuer.rs`: region, key generations, the trust list it exports)
//! lives in the data dir; private keys never do: the caller derives each generation's seed from
//! the master key (crate `vault`) and hands it to [`IssuerKey::from_seed`].

pub mod anchor;
pub mod cose;
pub mod dcc;
pub mod fy1;
pub mod issuer;
pub mod qr;
pub mod revocation;
pub mod transport;
pub mod trust;
mod verify;

pub use fy1::{Claims, IssuerKey, MAX_TTL_SECS};
pub use issuer::{Generation, Issuer};
/// The color a code carries: the one defined in `model`, which the rules give.
pub use model::Color;
pub use revocation::RevocationList;
pub use transport::Kind;
pub use trust::{PublicKey, TrustEntry, TrustList, TrustedKey, kid_of};
pub use verify::{CLOCK_SKEW_SECS, Checks, DecodedClaims, Outcome, Verifier};

/// Why a payload failed verification; every failure has its own variant and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "not a signed code: the payload must start with FY1: or HC1: ({})",
        shown_start(found)
    )]
    BadPrefix { found: String },
    #[error("the payload is not valid Base45: {0}")]
    Base45(String),
    #[error("the compressed data is invalid: {0}")]
    Zlib(String),
    #[error("malformed COSE_Sign1: {0}")]
    Cose(String),
    #[error("malformed claims: {0}")]
    Claims(String),
    #[error("unknown key id {kid}: no key in the trust list has it")]
    UnknownKid { kid: String },
    #[error("no key id in the COSE headers")]
    NoKid,
    #[error("unsupported signature algorithm: {0} (EdDSA, ES256 and PS256 are checked)")]
    UnsupportedAlgorithm(String),
    #[error("the key for kid {kid} ({key}) cannot check a {alg} signature")]
    AlgorithmMismatch {
        kid: String,
        key: &'static str,
        alg: String,
    },
    #[error("signature invalid: the payload was altered or signed with another key")]
    BadSignature,
    #[error("expired at {exp}")]
    Expired { exp: String },
    #[error("not yet valid: issued at {iat}")]
    NotYetValid { iat: String },
    #[error("revoked at {at}")]
    Revoked { at: String },
    #[error("key {kid} was retired; codes it signed expired by {not_after}")]
    KeyRetired { kid: String, not_after: String },
    #[error("key {kid} of region {region} may not sign codes of issuer {iss}")]
    IssuerMismatch {
        kid: String,
        region: String,
        iss: String,
    },
    #[error("key usage not allowed: the signer certificate may sign {allowed}, not {cert_type}")]
    KeyUsage { cert_type: String, allowed: String },
    #[error("the certificate does not follow the DCC schema: {0}")]
    Schema(String),
    #[error("the certificate uses a code outside the EU value sets: {0}")]
    ValueSet(String),
    #[error("the QR image could not be read: {0}")]
    Image(String),
}

/// How a payload that lacks a known prefix starts, for its message.
fn shown_start(found: &str) -> String {
    if found.is_empty() {
        "it is empty".into()
    } else {
        format!("it starts with {}", printable(found, 4))
    }
}

/// Untrusted text shown in a message: at most `max` characters, each control or other
/// invisible character as `?`.
pub(crate) fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| {
            if c.is_control() || c.is_whitespace() && c != ' ' {
                '?'
            } else {
                c
            }
        })
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

impl VerifyError {
    /// The check a failure belongs to in the contract's `checks` object.
    pub fn check(&self) -> Check {
        use VerifyError::*;
        match self {
            BadPrefix { .. } | Base45(_) | Zlib(_) | Cose(_) | Claims(_) | Image(_) => {
                Check::Decode
            }
            UnknownKid { .. }
            | NoKid
            | UnsupportedAlgorithm(_)
            | AlgorithmMismatch { .. }
            | BadSignature => Check::Signature,
            KeyRetired { .. } | IssuerMismatch { .. } | KeyUsage { .. } => Check::KeyUsage,
            Expired { .. } | NotYetValid { .. } => Check::Expiry,
            Revoked { .. } => Check::Revocation,
            Schema(_) => Check::Schema,
            ValueSet(_) => Check::ValueSet,
        }
    }
}

/// The steps of verification, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Decode,
    Signature,
    /// DCC only: the signed payload against the DCC schema (after the signature, before
    /// expiry); `FY1:` codes have no such check and their JSON no `schema` key.
    Schema,
    /// DCC only: the payload's codes against the EU value sets (after the schema).
    ValueSet,
    KeyUsage,
    Expiry,
    /// Not one of the contract's `checks`: a revoked code has every check passed and
    /// `valid: false`.
    Revocation,
}

/// Errors of reading and writing key files, trust lists and images (not verification results).
#[derive(Debug, thiserror::Error)]
pub enum CodesignError {
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: {reason}")]
    Format { path: String, reason: String },
    #[error("trust entry {index}: {reason}")]
    TrustEntry { index: usize, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl CodesignError {
    pub(crate) fn io(path: &std::path::Path, cause: std::io::Error) -> CodesignError {
        CodesignError::Io {
            path: path.display().to_string(),
            cause,
        }
    }

    pub(crate) fn format(path: &std::path::Path, reason: impl ToString) -> CodesignError {
        CodesignError::Format {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// `secs` as an RFC 3339 UTC time (`2020-02-01T00:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let mut s = model::Timestamp(secs.saturating_mul(1000)).to_rfc3339(model::Zone::UTC);
    if s.ends_with("+00:00") {
        s.truncate(s.len() - 6);
        s.push('Z');
    }
    s
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lowercase or uppercase hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Standard base64 with padding.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64 (padding optional, whitespace ignored), or URL-safe base64.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(&s)
        .or_else(|_| STANDARD_NO_PAD.decode(&s))
        .or_else(|_| URL_SAFE.decode(&s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(&s))
        .ok()
}
