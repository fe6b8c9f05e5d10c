//! Trust lists (contract §6): a JSON array of signer entries `{"kid": "<base64>",
//! "certificate": "<base64 DER X.509>"}` or `{"kid": …, "public_key": …}`, with optional fields
//! fangyi adds for its own keys (`region`, `issuer`, `not_after`) that other verifiers ignore.
//!
//! Key ids: an entry without `kid` gets the first 8 bytes of the SHA-256 of its certificate
//! (as the DCC trust list does) or, without a certificate, of its public key bytes. A fangyi
//! Ed25519 key's kid is the first 8 bytes of the SHA-256 of the raw 32-byte public key.
//! `public_key` is a raw 32-byte Ed25519 key or a DER SubjectPublicKeyInfo (EC P-256, RSA,
//! Ed25519). Several entries may share a kid (the DCC allows it); each is tried.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cose::Alg;
use crate::dcc::CertType;
use crate::{CodesignError, VerifyError, b64, unb64};

/// One entry of a trust list file, as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// fangyi: the 6-digit region whose codes this key signs (checked against `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// fangyi: who runs the key, for people reading the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// fangyi: after this RFC 3339 time the key is refused (a retired key, kept until every
    /// code it signed has expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Any other fields, kept when a list is merged and written again.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A verification key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(Box<rsa::PublicKey>),
}

impl PublicKey {
    pub fn name(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::P256(_) => "EC P-256",
            PublicKey::Rsa(_) => "RSA",
        }
    }

    /// Parses a raw 32-byte Ed25519 key or a DER SubjectPublicKeyInfo.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map_err(|e| format!("not an Ed25519 public key: {e}"))?;
            // A small-order key would accept forged signatures; refusing it here lets
            // `verify` skip the strict variant's per-signature checks.
            if key.is_weak() {
                return Err("a weak (small-order) Ed25519 public key".into());
            }
            return Ok(PublicKey::Ed25519(key));
        }
        use x509_cert::der::Decode;
        let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(bytes)
            .map_err(|e| format!("neither a raw Ed25519 key nor a SubjectPublicKeyInfo: {e}"))?;
        PublicKey::from_spki(&spki)
    }

    fn from_spki(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<PublicKey, String> {
        let oid = spki.algorithm.oid.to_string();
        let raw = spki.subject_public_key.raw_bytes();
        match oid.as_str() {
            "1.2.840.10045.2.1" => p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                .map(PublicKey::P256)
                .map_err(|e| format!("not an EC P-256 key: {e}")),
            "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                rsa::PublicKey::from_pkcs1_der(raw)
                    .map(|k| PublicKey::Rsa(Box::new(k)))
                    .map_err(|e| format!("not an RSA key: {e}"))
            }
            "1.3.101.112" => PublicKey::from_bytes(raw),
            other => Err(format!("unsupported public key algorithm {other}")),
        }
    }

    /// Checks `sig` over `msg` for algorithm `alg`.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8], kid: &str) -> Result<(), VerifyError> {
        use rsa::signature::Verifier;
        let mismatch = || VerifyError::AlgorithmMismatch {
            kid: kid.to_string(),
            key: self.name(),
            alg: alg.name().to_string(),
        };
        match (self, alg) {
            (PublicKey::Ed25519(k), Alg::EdDsa) => {
                let sig = <[u8; 64]>::try_from(sig).map_err(|_| VerifyError::BadSignature)?;
                // Canonical S is enforced and weak keys were refused when the trust list was
                // read, so the cofactorless check is sound and saves decompressing R.
                use ed25519_dalek::Verifier as _;
                k.verify(msg, &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| VerifyError::BadSignature)
            }
            (PublicKey::P256(k), Alg::Es256) => {
                let sig = p256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| VerifyError::BadSignature)?;
                k.verify(msg, &sig).map_err(|_| VerifyError::BadSignature)
            }
            (PublicKey::Rsa(k), Alg::Ps256) => {
                let v = rsa::pss::VerifyingKey::<Sha256>::new_with_auto_salt_len((**k).clone());
                let sig =
                    rsa::pss::Signature::try_from(sig).map_err(|_| VerifyError::BadSignature)?;
                v.verify(msg, &sig).map_err(|_| VerifyError::BadSignature)
            }
            _ => Err(mismatch()),
        }
    }
}

/// A trust list entry ready for verification.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub kid: Vec<u8>,
    pub key: PublicKey,
    /// DCC certificate types the certificate's extended key usage allows; `None` = all.
    pub allowed: Option<Vec<CertType>>,
    pub region: Option<String>,
    /// Unix seconds after which the key is refused.
    pub not_after: Option<i64>,
}

/// `kid` of raw bytes: the first 8 bytes of their SHA-256.
pub fn kid_of(bytes: &[u8]) -> [u8; 8] {
    let h = Sha256::digest(bytes);
    h[..8].try_into().expect("8 bytes")
}

impl TrustEntry {
    /// Checks the entry and prepares its key.
    pub fn resolve(&self) -> Result<TrustedKey, String> {
        let (key, allowed, derived_kid) = match (&self.certificate, &self.public_key) {
            (Some(cert), _) => {
                let der = unb64(cert).ok_or("certificate is not base64")?;
                let (key, allowed) = parse_certificate(&der)?;
                (key, allowed, kid_of(&der))
            }
            (None, Some(pk)) => {
                let bytes = unb64(pk).ok_or("public_key is not base64")?;
                (PublicKey::from_bytes(&bytes)?, None, kid_of(&bytes))
            }
            (None, None) => return Err("needs a certificate or a public_key".into()),
        };
        let kid = match &self.kid {
            Some(k) => unb64(k).ok_or("kid is not base64")?,
            None => derived_kid.to_vec(),
        };
        let not_after = match &self.not_after {
            Some(t) => Some(
                model::Timestamp::parse_rfc3339(t.as_bytes())
                    .map_err(|e| format!("not_after {t:?}: {}", e.reason()))?
                    .millis()
                    .div_euclid(1000),
            ),
            None => None,
        };
        Ok(TrustedKey {
            kid,
            key,
            allowed,
            region: self.region.clone(),
            not_after,
        })
    }

    /// The kid as written, or derived as [`TrustEntry::resolve`] does.
    pub fn kid_b64(&self) -> Option<String> {
        if let Some(k) = &self.kid {
            return unb64(k).map(|b| b64(&b));
        }
        let bytes = unb64(self.certificate.as_ref().or(self.public_key.as_ref())?)?;
        Some(b64(&kid_of(&bytes)))
    }
}

/// The public key and the DCC certificate types an X.509 certificate's extended key usage
/// allows (`None` when it names none of the DCC OIDs: all types).
pub fn parse_certificate(der: &[u8]) -> Result<(PublicKey, Option<Vec<CertType>>), String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("not a DER X.509 certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let key = PublicKey::from_spki(tbs.subject_public_key_info())?;
    let mut oids = Vec::new();
    for ext in tbs.extensions().into_iter().flatten() {
        if ext.extn_id.to_string() == "2.5.29.37" {
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(|e| format!("bad extended key usage: {e}"))?;
            oids.extend(eku.0.iter().map(|o| o.to_string()));
        }
    }
    Ok((key, CertType::allowed_by(&oids)))
}

/// The keys a verifier trusts, by kid.
#[derive(Debug, Clone, Default)]
pub struct TrustList {
    by_kid: HashMap<Vec<u8>, Vec<TrustedKey>>,
    len: usize,
}

impl TrustList {
    /// Prepares every entry; a bad entry is an error naming it.
    pub fn from_entries(entries: &[TrustEntry]) -> Result<TrustList, CodesignError> {
        let mut list = TrustList::default();
        for (index, e) in entries.iter().enumerate() {
            let k = e
                .resolve()
                .map_err(|reason| CodesignError::TrustEntry { index, reason })?;
            list.add(k);
        }
        Ok(list)
    }

    pub fn add(&mut self, key: TrustedKey) {
        self.by_kid.entry(key.kid.clone()).or_default().push(key);
        self.len += 1;
    }

    pub fn get(&self, kid: &[u8]) -> &[TrustedKey] {
        self.by_kid.get(kid).map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The most a trust list file may hold: some 40,000 entries with certificates, far above the
/// EU's whole gateway list.
pub const MAX_TRUST_BYTES: u64 = 16 * model::files::MIB;

/// Reads a trust list file (a JSON array of entries): a regular file of at most
/// [`MAX_TRUST_BYTES`], so a pipe, a device or a folder named by `--trust` is refused by name.
pub fn read_entries(path: &Path) -> Result<Vec<TrustEntry>, CodesignError> {
    let text =
        model::files::read_text(path, MAX_TRUST_BYTES).map_err(|e| CodesignError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| CodesignError::format(path, format!("not a JSON array of trust entries: {e}")))
}

/// Writes a trust list file atomically (temp file and rename), one entry per line.
pub fn write_entries(path: &Path, entries: &[TrustEntry]) -> Result<(), CodesignError> {
    let mut text = String::from("[\n");
    for (i, e) in entries.iter().enumerate() {
        text.push_str("  ");
        text.push_str(&serde_json::to_string(e).expect("serialisable"));
        text.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
    }
    text.push_str("]\n");
    crate::issuer::write_atomic(path, text.as_bytes())
}

/// Merges `incoming` into `into`: an entry with a new kid or key is added; one already there
/// (same kid and key) is replaced by the incoming copy (a rotation elsewhere sets `not_after`).
/// Returns (added, updated).
pub fn merge(into: &mut Vec<TrustEntry>, incoming: &[TrustEntry]) -> (usize, usize) {
    let (mut added, mut updated) = (0, 0);
    for e in incoming {
        let same = into.iter_mut().find(|x| {
            x.kid_b64() == e.kid_b64()
                && x.certificate == e.certificate
                && x.public_key == e.public_key
        });
        match same {
            Some(x) if x != e => {
                *x = e.clone();
                updated += 1;
            }
            Some(_) => {}
            None => {
                into.push(e.clone());
                added += 1;
            }
        }
    }
    (added, updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_list_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.json");
        let entry = TrustEntry {
            kid: Some("AAAAAAAAAAA=".into()),
            public_key: Some("MCowBQYDK2VwAyEA".into()),
            region: Some("330300".into()),
            ..Default::default()
        };
        write_entries(&path, std::slice::from_ref(&entry)).unwrap();
        assert_eq!(read_entries(&path).unwrap(), vec![entry]);
    }

    #[test]
    fn a_pipe_device_folder_or_oversized_list_is_refused_promptly_by_name() {
        let dir = tempfile::tempdir().unwrap();
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "trust.json",
            MAX_TRUST_BYTES,
            |p| read_entries(p).map(|_| ()).map_err(|e| e.to_string()),
        );
    }
}
