//! Trust lists (contract §6): a JSON array of signer entries `{"kid": "<base64>",
//! "certificate": "<base64 DER X.509>"}` or `{"kid": …, "public_key": …}`, with optional fields
//! fangyi adds for its own keys (`region`, `issuer`, `not_after`) that other verifiers ignore.
//!
//! Key ids: an entry without `kid` gets the first 8 bytes of the SHA-256 of its certificate
//! (as the DCC trust list does) or, without a certificate, of its public key bytes. A fangyi
//! Ed25519 key's kid is the first 8 bytes of the SHA-256 of the raw 32-byte public key.
//! `public_key` is a raw 32-byte Ed25519 key, a raw EC P-256 point (SEC1, compressed or not)
//! or a DER SubjectPublicKeyInfo (EC P-256 with either point form, RSA of 2048 bits or more,
//! Ed25519); a certificate or key may also be given in PEM. Several entries may share a kid
//! (the DCC allows it); each is tried.

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

    /// Parses a raw 32-byte Ed25519 key, a raw SEC1 P-256 point (33 bytes compressed, 65
    /// uncompressed) or a DER SubjectPublicKeyInfo.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        if matches!(
            (bytes.len(), bytes.first()),
            (33, Some(2 | 3)) | (65, Some(4))
        ) {
            return p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::P256)
                .map_err(|_| "not a point on the P-256 curve".to_string());
        }
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
            "1.2.840.10045.2.1" => {
                // The named curve; P-256 is the one DCC signers use (ES256).
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
                    .map(|o| o.to_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") | None => {}
                    Some("1.3.132.0.34") => {
                        return Err(
                            "an EC P-384 key (ES384), which this verifier does not check".into(),
                        );
                    }
                    Some(other) => return Err(format!("an EC key on curve {other}, not P-256")),
                }
                // Compressed (33 bytes) or uncompressed (65) points alike.
                p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                    .map(PublicKey::P256)
                    .map_err(|_| "not a point on the P-256 curve".to_string())
            }
            "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                use rsa::traits::PublicKeyParts;
                let k = rsa::PublicKey::from_pkcs1_der(raw)
                    .map_err(|e| format!("not an RSA key: {e}"))?;
                // PS256 signers of the DCC use 2048 bits or more; a shorter key is forgeable.
                let bits = k.n().bit_width();
                if bits < 2048 {
                    return Err(format!(
                        "an RSA key of {bits} bits (at least 2048 are required)"
                    ));
                }
                Ok(PublicKey::Rsa(Box::new(k)))
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
                let der = unb64(unpem(cert)).ok_or("certificate is not base64")?;
                let (key, allowed) = parse_certificate(&der)?;
                (key, allowed, kid_of(&der))
            }
            (None, Some(pk)) => {
                let bytes = unb64(unpem(pk)).ok_or("public_key is not base64")?;
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
        let bytes = unb64(unpem(
            self.certificate.as_ref().or(self.public_key.as_ref())?,
        ))?;
        Some(b64(&kid_of(&bytes)))
    }
}

/// The base64 inside PEM armour (`-----BEGIN CERTIFICATE-----` … `-----END …-----`), or the
/// text itself when it has none.
fn unpem(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("-----BEGIN ") else {
        return t;
    };
    let body = rest.split_once("-----").map_or("", |(_, b)| b);
    body.split_once("-----END ").map_or(body, |(b, _)| b)
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

    /// A DER SubjectPublicKeyInfo of an EC key on `curve` (an OID's DER body) with `point`.
    fn ec_spki(curve: &[u8], point: &[u8]) -> Vec<u8> {
        let oid_ec = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let mut alg = oid_ec.to_vec();
        alg.extend_from_slice(&[0x06, curve.len() as u8]);
        alg.extend_from_slice(curve);
        let mut body = vec![0x30, alg.len() as u8];
        body.extend_from_slice(&alg);
        body.extend_from_slice(&[0x03, point.len() as u8 + 1, 0x00]);
        body.extend_from_slice(point);
        let mut der = vec![0x30, body.len() as u8];
        der.extend_from_slice(&body);
        der
    }

    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    #[test]
    fn ec_keys_in_every_encoding_parse_to_the_same_key() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let vk = *sk.verifying_key();
        let full = vk.to_sec1_point(false);
        let short = vk.to_sec1_point(true);
        assert_eq!((full.as_bytes().len(), short.as_bytes().len()), (65, 33));
        for bytes in [
            ec_spki(P256, full.as_bytes()),
            ec_spki(P256, short.as_bytes()),
            full.as_bytes().to_vec(),
            short.as_bytes().to_vec(),
        ] {
            match PublicKey::from_bytes(&bytes) {
                Ok(PublicKey::P256(k)) => assert_eq!(k, vk),
                other => panic!("{other:?}"),
            }
        }
        // Another curve is named as such; a point off the curve is refused.
        let p384 = [0x2b, 0x81, 0x04, 0x00, 0x22];
        let e = PublicKey::from_bytes(&ec_spki(&p384, full.as_bytes())).unwrap_err();
        assert!(e.contains("P-384"), "{e}");
        let mut off = short.as_bytes().to_vec();
        off[1..].fill(0xff);
        assert!(PublicKey::from_bytes(&off).is_err());
        assert!(PublicKey::from_bytes(&ec_spki(P256, &off)).is_err());
    }

    #[test]
    fn pem_armour_is_read_and_a_short_rsa_key_refused() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let der = ec_spki(P256, sk.verifying_key().to_sec1_point(true).as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64(&der)
        );
        let entry = TrustEntry {
            public_key: Some(pem),
            ..Default::default()
        };
        let key = entry.resolve().unwrap();
        assert_eq!(key.kid, kid_of(&der));
        assert_eq!(entry.kid_b64(), Some(b64(&kid_of(&der))));
        // A 1024-bit RSA key (openssl genrsa 1024, public part).
        let short = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCKl8La5p78VrDryhGatmVJvFrgV3CTDPhzIVGPRy/kYiptFJTcIUqHKztDudL33vM3MbJZHFRDZ6ozh3cI6DK/GOLkDCjqGBImVg7GbWDv8J3AUguwWZq9Fmk9J9+rOTj1e9WKxqD8qIFxuHSAERZBrnAClevxbXalwoJlFws8QIDAQAB";
        let e = TrustEntry {
            public_key: Some(short.into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(e.contains("1024 bits"), "{e}");
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
