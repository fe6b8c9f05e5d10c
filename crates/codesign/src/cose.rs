//! COSE_Sign1 (RFC 9052) as both payload kinds use it: parsing (with or without the CWT tag 61
//! and the COSE_Sign1 tag 18), the key id and algorithm, and the bytes a signature covers.

use ciborium::Value;
use coset::iana::EnumI64;
use coset::{AsCborValue, CoseSign1, RegisteredLabelWithPrivate, iana};

use crate::VerifyError;

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
    /// Parses the bytes of a COSE_Sign1, optionally tagged 61 (CWT) and/or 18 (COSE_Sign1).
    pub fn parse(bytes: &[u8]) -> Result<Sign1, VerifyError> {
        let mut v: Value = ciborium::from_reader(bytes)
            .map_err(|e| VerifyError::Cose(format!("not CBOR: {e}")))?;
        loop {
            match v {
                Value::Tag(61 | 18, inner) => v = *inner,
                Value::Tag(t, _) => {
                    return Err(VerifyError::Cose(format!(
                        "unexpected CBOR tag {t} (expected 18, COSE_Sign1)"
                    )));
                }
                _ => break,
            }
        }
        let inner = CoseSign1::from_cbor_value(v)
            .map_err(|e| VerifyError::Cose(format!("not a COSE_Sign1: {e}")))?;
        Ok(Sign1 { inner })
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
                    "{other:?} ({})",
                    other.to_i64()
                ))),
            },
            Some(other) => Err(VerifyError::UnsupportedAlgorithm(format!("{other:?}"))),
            None => Err(VerifyError::UnsupportedAlgorithm(
                "(none in the COSE headers)".into(),
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
