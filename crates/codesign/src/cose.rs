//! COSE_Sign1 (RFC 9052) as both payload kinds use it: parsing (with or without the CWT tag 61
//! and the COSE_Sign1 tag 18), the key id and algorithm, and the bytes a signature covers; and
//! the strict CBOR reading both kinds' claims share (one item, nothing after it, no map with a
//! key twice).
//!
//! An `FY1:` message must be exactly what fangyi's signer writes — tagged 18 once, every length
//! and number in its shortest form, nothing in the unprotected header — so that no byte outside
//! the signature's reach can change without the code failing. An `HC1:` message keeps what the
//! DCC specification allows: tags 61 and 18 optional, the kid (and algorithm) in the
//! unprotected header.

use ciborium::Value;
use coset::iana::EnumI64;
use coset::{AsCborValue, CoseSign1, RegisteredLabelWithPrivate, TaggedCborSerializable, iana};

use crate::VerifyError;

/// Nesting deeper than this is refused (a code's CBOR is a few levels deep).
const MAX_DEPTH: usize = 64;

/// Reads exactly one CBOR item from `bytes`: an error (a plain sentence about `what`) when the
/// bytes are not well-formed CBOR, end inside the item, or go on after it.
pub fn decode_exact(bytes: &[u8], what: &str) -> Result<Value, String> {
    let mut rest = bytes;
    let v: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH).map_err(
        |e| match e {
            ciborium::de::Error::Io(_) => format!("{what} end in the middle of a CBOR item"),
            ciborium::de::Error::Syntax(at) => {
                format!("{what} are not well-formed CBOR (at byte {})", at + 1)
            }
            ciborium::de::Error::Semantic(Some(at), _) => {
                format!(
                    "{what} hold a CBOR item this reader does not accept (at byte {})",
                    at + 1
                )
            }
            ciborium::de::Error::Semantic(None, _) => {
                format!("{what} hold a CBOR item this reader does not accept")
            }
            ciborium::de::Error::RecursionLimitExceeded => {
                format!("{what} nest more than {MAX_DEPTH} levels deep")
            }
        },
    )?;
    if !rest.is_empty() {
        return Err(format!(
            "{} {} the CBOR item of the {what}",
            rest.len(),
            if rest.len() == 1 {
                "byte follows"
            } else {
                "bytes follow"
            }
        ));
    }
    Ok(v)
}

/// Refuses a map, at any depth of `v`, that has a key twice (RFC 8949 §5.6: not valid CBOR,
/// and two readers could each believe a different value).
pub fn unique_keys(v: &Value, what: &str) -> Result<(), String> {
    match v {
        Value::Map(m) => {
            for (i, (k, _)) in m.iter().enumerate() {
                if m[..i].iter().any(|(earlier, _)| earlier == k) {
                    return Err(format!("{what} have a map with a key twice"));
                }
            }
            m.iter().try_for_each(|(k, v)| {
                unique_keys(k, what)?;
                unique_keys(v, what)
            })
        }
        Value::Array(a) => a.iter().try_for_each(|x| unique_keys(x, what)),
        Value::Tag(_, inner) => unique_keys(inner, what),
        _ => Ok(()),
    }
}

/// A parsed COSE_Sign1 message.
#[derive(Debug, Clone)]
pub struct Sign1 {
    pub inner: CoseSign1,
}

/// The signature algorithms we verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDsa,
    Es256,
    Ps256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDsa => "EdDSA",
            Alg::Es256 => "ES256",
            Alg::Ps256 => "PS256",
        }
    }
}

impl Sign1 {
    /// Parses the bytes of a COSE_Sign1, optionally tagged 61 (CWT) and/or 18 (COSE_Sign1), as
    /// the DCC allows: exactly one CBOR item, nothing after it.
    pub fn parse(bytes: &[u8]) -> Result<Sign1, VerifyError> {
        let mut v = decode_exact(bytes, "COSE bytes").map_err(VerifyError::Cose)?;
        // At most one of each, CWT outside: 61(18(message)), 61(message), 18(message), message.
        for tag in [61, 18] {
            v = match v {
                Value::Tag(t, inner) if t == tag => *inner,
                v => v,
            };
        }
        if let Value::Tag(t, _) = v {
            return Err(VerifyError::Cose(format!(
                "the message has CBOR tag {t} where only 61 (CWT) then 18 (COSE_Sign1) may be"
            )));
        }
        let inner = CoseSign1::from_cbor_value(v).map_err(|e| {
            VerifyError::Cose(match e {
                coset::CoseError::DuplicateMapKey => {
                    "a COSE header has a label twice".to_string()
                }
                _ => "the message is not a COSE_Sign1 (an array of protected header, unprotected header, payload and signature)".to_string(),
            })
        })?;
        Ok(Sign1 { inner })
    }

    /// Parses an `FY1:` message: [`Sign1::parse`], and it must be exactly the bytes fangyi's
    /// signer writes for it (tag 18 once; shortest lengths and numbers; definite lengths) with
    /// an empty unprotected header. Those are the bytes the signature does not cover; fixing
    /// them leaves one message per signed content.
    pub fn parse_fangyi(bytes: &[u8]) -> Result<Sign1, VerifyError> {
        let s = Sign1::parse(bytes)?;
        if !s.inner.unprotected.is_empty() {
            return Err(VerifyError::Cose(
                "an FY1 code's unprotected header must be empty (it is not signed)".into(),
            ));
        }
        let canonical = s
            .inner
            .clone()
            .to_tagged_vec()
            .map_err(|_| VerifyError::Cose("the message cannot be encoded again".into()))?;
        if canonical != bytes {
            return Err(VerifyError::Cose(
                "the message is not in the one encoding fangyi signs (COSE_Sign1 tagged 18, shortest lengths)".into(),
            ));
        }
        Ok(s)
    }

    /// The key id: from the protected header, else the unprotected one (as the DCC allows).
    pub fn kid(&self) -> Option<&[u8]> {
        let p = &self.inner.protected.header.key_id;
        if !p.is_empty() {
            return Some(p);
        }
        let u = &self.inner.unprotected.key_id;
        (!u.is_empty()).then_some(u.as_slice())
    }

    /// The algorithm: from the protected header, else the unprotected one (some DCC issuers
    /// put it there; the key's type must match it anyway, so it cannot be swapped for effect).
    pub fn alg(&self) -> Result<Alg, VerifyError> {
        let alg = self
            .inner
            .protected
            .header
            .alg
            .as_ref()
            .or(self.inner.unprotected.alg.as_ref());
        match alg {
            Some(RegisteredLabelWithPrivate::Assigned(a)) => match a {
                iana::Algorithm::EdDSA => Ok(Alg::EdDsa),
                iana::Algorithm::ES256 => Ok(Alg::Es256),
                iana::Algorithm::PS256 => Ok(Alg::Ps256),
                other => Err(VerifyError::UnsupportedAlgorithm(format!(
                    "COSE algorithm {}",
                    other.to_i64()
                ))),
            },
            Some(RegisteredLabelWithPrivate::PrivateUse(n)) => Err(
                VerifyError::UnsupportedAlgorithm(format!("private-use COSE algorithm {n}")),
            ),
            Some(RegisteredLabelWithPrivate::Text(t)) => Err(VerifyError::UnsupportedAlgorithm(
                format!("an algorithm named {}", crate::printable(t, 32)),
            )),
            None => Err(VerifyError::UnsupportedAlgorithm(
                "the COSE headers name none".into(),
            )),
        }
    }

    /// The payload bytes (the CWT claims), empty when absent.
    pub fn payload(&self) -> &[u8] {
        self.inner.payload.as_deref().unwrap_or(&[])
    }

    pub fn signature(&self) -> &[u8] {
        &self.inner.signature
    }

    /// The `Sig_structure` the signature covers, built from the protected header bytes as
    /// received.
    pub fn tbs(&self) -> Vec<u8> {
        self.inner.tbs_data(&[])
    }
}

/// Builds and signs a COSE_Sign1 with EdDSA, `kid` in the protected header; returns its bytes
/// (tagged 18).
pub fn sign_ed25519(
    key: &ed25519_dalek::SigningKey,
    kid: &[u8],
    payload: Vec<u8>,
) -> Result<Vec<u8>, coset::CoseError> {
    use coset::TaggedCborSerializable;
    use ed25519_dalek::Signer;
    let protected = coset::HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.to_vec())
        .build();
    coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| key.sign(tbs).to_bytes().to_vec())
        .build()
        .to_tagged_vec()
}

/// A CBOR value as JSON for display: byte strings as base64, tags dropped, non-text map keys
/// as their text.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Integer(i) => {
            let i = i128::from(*i);
            i64::try_from(i)
                .map(J::from)
                .or_else(|_| u64::try_from(i).map(J::from))
                .unwrap_or_else(|_| J::String(i.to_string()))
        }
        Value::Bytes(b) => J::String(crate::b64(b)),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Text(s) => J::String(s.clone()),
        Value::Bool(b) => J::Bool(*b),
        Value::Null => J::Null,
        Value::Tag(_, inner) => to_json(inner),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(s) => s.clone(),
                        other => match to_json(other) {
                            J::String(s) => s,
                            j => j.to_string(),
                        },
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// Looks up an integer key in a CBOR map.
pub fn map_get(map: &[(Value, Value)], key: i64) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| matches!(k, Value::Integer(i) if i128::from(*i) == i128::from(key)))
        .map(|(_, v)| v)
}

/// A CBOR integer (or a float with an integral value, as some issuers write times) as i64.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(i128::from(*i)).ok(),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(*f as i64),
        Value::Tag(1, inner) => as_i64(inner),
        _ => None,
    }
}
