//! Anchored trust lists: every province's signer keys in one list, signed by an offline
//! trust-anchor key, the way the EU gateway's trust list is signed by its operator.
//!
//! The wire form is a COSE_Sign1 (EdDSA, the anchor's kid in the protected header, tagged 18,
//! nothing unprotected: the one encoding `cose::Sign1::parse_fangyi` accepts) whose payload
//! is the JSON document [`SignedList`]. COSE signs the payload's bytes as they travel, so no
//! canonical JSON is needed (the classic pitfall of signed JSON) and the strict COSE reader
//! and the Ed25519 code of signed codes are reused; JSON keeps the entries in the contract's
//! trust-list shape, readable by an operator. A deployment trusts no key of a list before its
//! signature checks against the anchor's public key, refuses a version lower than one it
//! accepted (a rollback to a list still holding a revoked key) and a different list under a
//! version it already has, and drops every key the list names as revoked.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cose::{Alg, Sign1};
use crate::trust::{MAX_TRUST_BYTES, TrustEntry, TrustList};
use crate::{b64, kid_of, rfc3339, unb64};

/// The `format` of a signed trust list's document.
pub const FORMAT: &str = "fangyi-trust-list/1";

/// Why a signed trust list was refused; each a plain sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("the trust list is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: u64 },
    #[error("the trust list is not a signed list: {0}")]
    Cose(String),
    #[error(
        "the trust list is signed by key {kid}, not by the trust anchor {anchor}: refused, no key in it is trusted"
    )]
    OtherSigner { kid: String, anchor: String },
    #[error(
        "the trust list's signature does not verify against the trust anchor: it was altered or forged; no key in it is trusted"
    )]
    BadSignature,
    #[error("the signed trust list's document is malformed: {0}")]
    Document(String),
    #[error("trust list entry {index}: {reason}")]
    Entry { index: usize, reason: String },
    #[error(
        "the trust list is version {offered}, older than version {accepted} already accepted: a rollback, refused"
    )]
    Rollback { offered: u64, accepted: u64 },
    #[error(
        "the trust list claims version {version}, which was accepted before with other contents: refused"
    )]
    Equivocation { version: u64 },
    #[error("not a trust anchor public key: {0}")]
    BadAnchorKey(String),
    #[error(
        "the trust list (version {version}) expired at {expires_at}: a hub, or someone between, is serving an old list; refused, the last list accepted stays"
    )]
    Expired { version: u64, expires_at: String },
}

/// The offline trust-anchor key: an Ed25519 key from a 32-byte seed the caller keeps (a file
/// outside every data dir, `fangyi hub anchor-keygen`).
pub struct AnchorKey {
    key: SigningKey,
}

impl std::fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnchorKey {{ kid: {} }}", self.public().kid_b64())
    }
}

impl AnchorKey {
    pub fn from_seed(seed: &[u8; 32]) -> AnchorKey {
        AnchorKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// A new key from the operating system's random numbers; returns it and its seed.
    pub fn generate() -> (AnchorKey, [u8; 32]) {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random numbers");
        (AnchorKey::from_seed(&seed), seed)
    }

    pub fn public(&self) -> AnchorPublic {
        AnchorPublic::from_key(self.key.verifying_key())
    }
}

/// A trust anchor's public key, which deployments are configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorPublic {
    key: VerifyingKey,
    kid: [u8; 8],
}

impl AnchorPublic {
    fn from_key(key: VerifyingKey) -> AnchorPublic {
        AnchorPublic {
            kid: kid_of(key.as_bytes()),
            key,
        }
    }

    /// A raw 32-byte Ed25519 public key; a small-order key is refused (it would accept
    /// forgeries).
    pub fn from_bytes(bytes: &[u8]) -> Result<AnchorPublic, AnchorError> {
        let raw = <[u8; 32]>::try_from(bytes)
            .map_err(|_| AnchorError::BadAnchorKey(format!("{} bytes, not 32", bytes.len())))?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| AnchorError::BadAnchorKey("not an Ed25519 point".into()))?;
        if key.is_weak() {
            return Err(AnchorError::BadAnchorKey(
                "a weak (small-order) Ed25519 key".into(),
            ));
        }
        Ok(AnchorPublic::from_key(key))
    }

    /// The key as base64 text (as `anchor-keygen` prints it).
    pub fn parse(text: &str) -> Result<AnchorPublic, AnchorError> {
        let bytes =
            unb64(text.trim()).ok_or_else(|| AnchorError::BadAnchorKey("not base64".into()))?;
        AnchorPublic::from_bytes(&bytes)
    }

    pub fn to_b64(&self) -> String {
        b64(self.key.as_bytes())
    }

    pub fn kid(&self) -> [u8; 8] {
        self.kid
    }

    pub fn kid_b64(&self) -> String {
        b64(&self.kid)
    }
}

/// A signer key the anchor has withdrawn: codes it signed stop verifying once a deployment
/// has a list naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedKey {
    /// Base64 of the key id.
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// RFC 3339.
    pub revoked_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The signed document: every province's signer entries, the revoked keys, a version that
/// only goes up, the time it was issued and (lists from a hub that republishes on a schedule)
/// when it expires. Signed times are what let a deployment notice a freeze: a hub, or a man in
/// the middle, serving an old but validly signed list forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedList {
    pub format: String,
    pub version: u64,
    /// RFC 3339.
    pub issued_at: String,
    /// RFC 3339, after `issued_at`; a deployment refuses the list from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub entries: Vec<TrustEntry>,
    #[serde(default)]
    pub revoked: Vec<RevokedKey>,
}

/// How an offered list stands against the one accepted before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// No list yet, or a higher version: to be accepted.
    Newer,
    /// The very list accepted already (same version, same bytes): nothing to do.
    Same,
}

/// SHA-256 of a signed list's bytes: what a deployment remembers of the list it accepted.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Whether a list of `version` and `digest` may replace the accepted one (`accepted`: its
/// version and digest): a lower version is a rollback, the same version with other bytes an
/// equivocation, both refused.
pub fn check_version(
    accepted: Option<(u64, [u8; 32])>,
    version: u64,
    digest: &[u8; 32],
) -> Result<Freshness, AnchorError> {
    match accepted {
        None => Ok(Freshness::Newer),
        Some((v, _)) if version > v => Ok(Freshness::Newer),
        Some((v, d)) if version == v && &d == digest => Ok(Freshness::Same),
        Some((v, _)) if version == v => Err(AnchorError::Equivocation { version }),
        Some((v, _)) => Err(AnchorError::Rollback {
            offered: version,
            accepted: v,
        }),
    }
}

/// An RFC 3339 time in Unix seconds.
fn time_secs(t: &str) -> Option<i64> {
    model::Timestamp::parse_rfc3339(t.as_bytes())
        .ok()
        .map(|t| t.0.div_euclid(1000))
}

fn kid_bytes(kid: &str) -> Option<Vec<u8>> {
    unb64(kid).filter(|k| !k.is_empty())
}

impl SignedList {
    /// A list of `version` issued at `issued_at` (Unix seconds).
    pub fn new(
        version: u64,
        issued_at: i64,
        entries: Vec<TrustEntry>,
        revoked: Vec<RevokedKey>,
    ) -> SignedList {
        SignedList {
            format: FORMAT.to_string(),
            version,
            issued_at: rfc3339(issued_at),
            expires_at: None,
            entries,
            revoked,
        }
    }

    /// The same list, expiring at `at` (Unix seconds).
    pub fn expiring_at(mut self, at: i64) -> SignedList {
        self.expires_at = Some(rfc3339(at));
        self
    }

    /// When it was issued, Unix seconds (checked by `open`).
    pub fn issued_secs(&self) -> i64 {
        time_secs(&self.issued_at).unwrap_or(0)
    }

    /// When it expires, Unix seconds; `None` for a list without an expiry.
    pub fn expires_secs(&self) -> Option<i64> {
        self.expires_at.as_deref().and_then(time_secs)
    }

    /// Refuses a list whose expiry has passed at `now`.
    pub fn check_expiry(&self, now: i64) -> Result<(), AnchorError> {
        match (self.expires_secs(), &self.expires_at) {
            (Some(t), Some(text)) if now >= t => Err(AnchorError::Expired {
                version: self.version,
                expires_at: text.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The COSE_Sign1 bytes of this list signed by `key`.
    pub fn sign(&self, key: &AnchorKey) -> Vec<u8> {
        let payload = serde_json::to_vec(self).expect("serialisable");
        let kid = key.public().kid();
        let protected = coset::HeaderBuilder::new()
            .algorithm(coset::iana::Algorithm::EdDSA)
            .key_id(kid.to_vec())
            .build();
        use coset::TaggedCborSerializable;
        coset::CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(&[], |tbs| key.key.sign(tbs).to_bytes().to_vec())
            .build()
            .to_tagged_vec()
            .expect("encoding a COSE_Sign1 in memory")
    }

    /// Checks `bytes` against the anchor and reads the list: the signature first (nothing in
    /// an unsigned or foreign list is even parsed as a key), then the document, every entry
    /// and every revoked kid.
    pub fn open(bytes: &[u8], anchor: &AnchorPublic) -> Result<SignedList, AnchorError> {
        if bytes.len() as u64 > MAX_TRUST_BYTES {
            return Err(AnchorError::TooLarge {
                size: bytes.len(),
                max: MAX_TRUST_BYTES,
            });
        }
        let sign1 = Sign1::parse_fangyi(bytes).map_err(|e| AnchorError::Cose(e.to_string()))?;
        let kid = sign1
            .kid()
            .ok_or_else(|| AnchorError::Cose("no key id in the COSE headers".into()))?;
        if kid != anchor.kid {
            return Err(AnchorError::OtherSigner {
                kid: b64(kid),
                anchor: anchor.kid_b64(),
            });
        }
        if sign1.alg().map_err(|e| AnchorError::Cose(e.to_string()))? != Alg::EdDsa {
            return Err(AnchorError::Cose("the anchor signs with EdDSA only".into()));
        }
        let sig = <[u8; 64]>::try_from(sign1.signature()).map_err(|_| AnchorError::BadSignature)?;
        anchor
            .key
            .verify_strict(&sign1.tbs(), &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| AnchorError::BadSignature)?;

        let list: SignedList = serde_json::from_slice(sign1.payload())
            .map_err(|e| AnchorError::Document(e.to_string()))?;
        if list.format != FORMAT {
            return Err(AnchorError::Document(format!(
                "format {:?}, not {FORMAT:?}",
                crate::printable(&list.format, 40)
            )));
        }
        model::Timestamp::parse_rfc3339(list.issued_at.as_bytes())
            .map_err(|e| AnchorError::Document(format!("issued_at: {}", e.reason())))?;
        if let Some(exp) = &list.expires_at {
            model::Timestamp::parse_rfc3339(exp.as_bytes())
                .map_err(|e| AnchorError::Document(format!("expires_at: {}", e.reason())))?;
            if list.expires_secs() <= Some(list.issued_secs()) {
                return Err(AnchorError::Document(
                    "expires_at is not after issued_at".into(),
                ));
            }
        }
        for (index, e) in list.entries.iter().enumerate() {
            e.resolve()
                .map_err(|reason| AnchorError::Entry { index, reason })?;
        }
        for r in &list.revoked {
            if kid_bytes(&r.kid).is_none() {
                return Err(AnchorError::Document(format!(
                    "revoked kid {:?} is not base64",
                    crate::printable(&r.kid, 24)
                )));
            }
        }
        Ok(list)
    }

    /// The list's entries without any key it names as revoked (a publisher leaves them out
    /// anyway; a deployment does not rely on it).
    pub fn trusted_entries(&self) -> Vec<TrustEntry> {
        let revoked: Vec<Vec<u8>> = self
            .revoked
            .iter()
            .filter_map(|r| kid_bytes(&r.kid))
            .collect();
        self.entries
            .iter()
            .filter(|e| {
                let kid = e.kid_b64().and_then(|k| unb64(&k));
                !kid.is_some_and(|k| revoked.contains(&k))
            })
            .cloned()
            .collect()
    }

    /// Whether `entry`'s kid is one this list revokes.
    pub fn revokes(&self, entry: &TrustEntry) -> bool {
        let Some(kid) = entry.kid_b64().and_then(|k| unb64(&k)) else {
            return false;
        };
        self.revoked
            .iter()
            .filter_map(|r| kid_bytes(&r.kid))
            .any(|k| k == kid)
    }

    /// The keys a verifier trusts from this list.
    pub fn trust_list(&self) -> Result<TrustList, crate::CodesignError> {
        TrustList::from_entries(&self.trusted_entries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Claims, IssuerKey, RevocationList, Verifier, VerifyError};

    const T0: i64 = 1_580_515_200; // 2020-02-01T00:00:00Z

    fn anchor() -> AnchorKey {
        AnchorKey::from_seed(&[9; 32])
    }

    fn code(key: &IssuerKey, iss: &str, iat: i64) -> String {
        key.sign(&Claims {
            iss: iss.into(),
            iat,
            exp: iat + 86_400,
            cti: [1; 16],
            sub: [2; 16],
            color: model::Color::Green,
            valid_until: None,
            as_of: "2020-02-01".into(),
        })
    }

    fn verifier(list: &SignedList) -> Verifier {
        Verifier::new(list.trust_list().unwrap(), RevocationList::default())
    }

    #[test]
    fn a_signed_list_opens_with_its_anchor_and_its_keys_verify() {
        let a = IssuerKey::from_seed(&[1; 32]);
        let list = SignedList::new(1, T0, vec![a.trust_entry("330300", None)], vec![]);
        let bytes = list.sign(&anchor());
        let opened = SignedList::open(&bytes, &anchor().public()).unwrap();
        assert_eq!(opened, list);
        let o = verifier(&opened).verify(&code(&a, "330300", T0), T0 + 60);
        assert!(o.valid(), "{}", o.reason());
    }

    #[test]
    fn a_tampered_list_is_refused_wherever_it_was_changed() {
        let a = IssuerKey::from_seed(&[1; 32]);
        let bytes =
            SignedList::new(1, T0, vec![a.trust_entry("330300", None)], vec![]).sign(&anchor());
        // Every byte flipped in turn: refused, never opened as a list.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(
                SignedList::open(&b, &anchor().public()).is_err(),
                "byte {i}"
            );
        }
        // A key swapped into the document, the signature left as it was.
        let evil = IssuerKey::from_seed(&[66; 32]);
        let good = a.trust_entry("330300", None).public_key.unwrap();
        let bad = evil.trust_entry("330300", None).public_key.unwrap();
        let at = bytes
            .windows(good.len())
            .position(|w| w == good.as_bytes())
            .unwrap();
        let mut swapped = bytes.clone();
        swapped[at..at + bad.len()].copy_from_slice(bad.as_bytes());
        assert_eq!(
            SignedList::open(&swapped, &anchor().public()),
            Err(AnchorError::BadSignature)
        );
        // Cut short, empty, or followed by bytes.
        for b in [&bytes[..bytes.len() - 1], &[][..]] {
            assert!(matches!(
                SignedList::open(b, &anchor().public()),
                Err(AnchorError::Cose(_))
            ));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SignedList::open(&longer, &anchor().public()).is_err());
    }

    #[test]
    fn a_list_of_another_anchor_is_refused() {
        let other = AnchorKey::from_seed(&[7; 32]);
        let bytes = SignedList::new(1, T0, vec![], vec![]).sign(&other);
        let e = SignedList::open(&bytes, &anchor().public()).unwrap_err();
        assert!(matches!(e, AnchorError::OtherSigner { .. }), "{e}");
        // The other anchor's signature under our anchor's kid: the signature fails.
        let mut list = SignedList::new(1, T0, vec![], vec![]);
        list.version = 2;
        let payload = serde_json::to_vec(&list).unwrap();
        let forged = crate::cose::sign_ed25519(
            &SigningKey::from_bytes(&[7; 32]),
            &anchor().public().kid(),
            payload,
        )
        .unwrap();
        assert_eq!(
            SignedList::open(&forged, &anchor().public()),
            Err(AnchorError::BadSignature)
        );
    }

    #[test]
    fn a_lower_version_is_a_rollback_and_a_changed_list_under_a_known_version_is_refused() {
        let v2 = SignedList::new(2, T0, vec![], vec![]).sign(&anchor());
        let v1 = SignedList::new(1, T0, vec![], vec![]).sign(&anchor());
        let v2b = SignedList::new(2, T0 + 1, vec![], vec![]).sign(&anchor());
        let accepted = Some((2, digest(&v2)));
        assert_eq!(check_version(None, 1, &digest(&v1)), Ok(Freshness::Newer));
        assert_eq!(
            check_version(accepted, 1, &digest(&v1)),
            Err(AnchorError::Rollback {
                offered: 1,
                accepted: 2
            })
        );
        assert_eq!(
            check_version(accepted, 2, &digest(&v2)),
            Ok(Freshness::Same)
        );
        assert_eq!(
            check_version(accepted, 2, &digest(&v2b)),
            Err(AnchorError::Equivocation { version: 2 })
        );
        assert_eq!(
            check_version(accepted, 3, &digest(&v1)),
            Ok(Freshness::Newer)
        );
    }

    #[test]
    fn a_revoked_kid_stops_its_codes_verifying() {
        let a = IssuerKey::from_seed(&[1; 32]);
        let payload = code(&a, "330300", T0);
        let before = SignedList::new(1, T0, vec![a.trust_entry("330300", None)], vec![]);
        assert!(verifier(&before).verify(&payload, T0 + 60).valid());
        // Even if a publisher left the entry in, the revocation wins.
        let after = SignedList::new(
            2,
            T0,
            vec![a.trust_entry("330300", None)],
            vec![RevokedKey {
                kid: b64(&a.kid()),
                region: Some("330300".into()),
                revoked_at: rfc3339(T0),
                reason: Some("key compromised".into()),
            }],
        );
        let bytes = after.sign(&anchor());
        let opened = SignedList::open(&bytes, &anchor().public()).unwrap();
        assert!(opened.trusted_entries().is_empty());
        assert!(opened.revokes(&a.trust_entry("330300", None)));
        let o = verifier(&opened).verify(&payload, T0 + 60);
        assert!(
            matches!(o.error, Some(VerifyError::UnknownKid { .. })),
            "{}",
            o.reason()
        );
    }

    #[test]
    fn a_rotated_key_keeps_old_codes_valid_until_not_after_and_new_ones_verify() {
        let old = IssuerKey::from_seed(&[1; 32]);
        let new = IssuerKey::from_seed(&[2; 32]);
        let not_after = T0 + 7 * 86_400;
        let list = SignedList::new(
            3,
            T0,
            vec![
                old.trust_entry("330300", Some(not_after)),
                new.trust_entry("330300", None),
            ],
            vec![],
        );
        let opened = SignedList::open(&list.sign(&anchor()), &anchor().public()).unwrap();
        let v = verifier(&opened);
        let old_code = code(&old, "330300", T0);
        let new_code = code(&new, "330300", T0 + 3600);
        assert!(v.verify(&old_code, T0 + 60).valid());
        assert!(v.verify(&new_code, T0 + 3700).valid());
        // Past not_after the retired key is refused even for a code not yet expired.
        let late = code(&old, "330300", not_after + 10);
        let o = v.verify(&late, not_after + 20);
        assert!(
            matches!(o.error, Some(VerifyError::KeyRetired { .. })),
            "{}",
            o.reason()
        );
        // And a key of one region cannot sign another's codes.
        let o = v.verify(&code(&new, "430000", T0), T0 + 60);
        assert!(
            matches!(o.error, Some(VerifyError::IssuerMismatch { .. })),
            "{}",
            o.reason()
        );
    }

    #[test]
    fn a_bad_entry_or_document_is_refused_after_the_signature() {
        let mut list = SignedList::new(1, T0, vec![TrustEntry::default()], vec![]);
        let e = SignedList::open(&list.sign(&anchor()), &anchor().public()).unwrap_err();
        assert!(matches!(e, AnchorError::Entry { index: 0, .. }), "{e}");
        list.entries.clear();
        list.format = "something-else".into();
        let e = SignedList::open(&list.sign(&anchor()), &anchor().public()).unwrap_err();
        assert!(matches!(e, AnchorError::Document(_)), "{e}");
        list.format = FORMAT.into();
        list.issued_at = "yesterday".into();
        let e = SignedList::open(&list.sign(&anchor()), &anchor().public()).unwrap_err();
        assert!(matches!(e, AnchorError::Document(_)), "{e}");
    }

    #[test]
    fn an_expiry_is_signed_checked_and_refused_once_past() {
        let list = SignedList::new(4, T0, vec![], vec![]).expiring_at(T0 + 86_400);
        let bytes = list.sign(&anchor());
        let opened = SignedList::open(&bytes, &anchor().public()).unwrap();
        assert_eq!(
            (opened.issued_secs(), opened.expires_secs()),
            (T0, Some(T0 + 86_400))
        );
        assert!(opened.check_expiry(T0 + 86_399).is_ok());
        let e = opened.check_expiry(T0 + 86_400).unwrap_err();
        assert!(matches!(e, AnchorError::Expired { version: 4, .. }), "{e}");
        assert!(e.to_string().contains("serving an old list"), "{e}");
        // Without an expiry (lists of before), nothing expires.
        let plain = SignedList::new(1, T0, vec![], vec![]);
        let text = String::from_utf8(serde_json::to_vec(&plain).unwrap()).unwrap();
        assert!(!text.contains("expires_at"), "{text}");
        assert!(plain.check_expiry(i64::MAX).is_ok());
        // An expiry that is not a time, or not after the issue, is a malformed document.
        for bad in ["soon", "2020-02-01T00:00:00Z", "2019-01-01T00:00:00Z"] {
            let mut l = SignedList::new(1, T0, vec![], vec![]);
            l.expires_at = Some(bad.into());
            let e = SignedList::open(&l.sign(&anchor()), &anchor().public()).unwrap_err();
            assert!(matches!(e, AnchorError::Document(_)), "{bad}: {e}");
        }
        // The expiry is signed: changing it breaks the signature.
        let mut tampered = bytes.clone();
        let at = tampered
            .windows(4)
            .position(|w| w == b"2020")
            .map(|i| i + 3)
            .unwrap();
        tampered[at] = b'9';
        assert!(SignedList::open(&tampered, &anchor().public()).is_err());
    }

    #[test]
    fn anchor_public_keys_parse_strictly() {
        let p = anchor().public();
        assert_eq!(AnchorPublic::parse(&p.to_b64()).unwrap(), p);
        assert!(AnchorPublic::parse("not base64!").is_err());
        assert!(AnchorPublic::parse(&b64(&[0; 31])).is_err());
        // The identity point is small-order.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert!(AnchorPublic::parse(&b64(&id)).is_err());
    }

    #[test]
    fn an_oversized_list_is_refused_before_it_is_parsed() {
        let big = vec![0u8; MAX_TRUST_BYTES as usize + 1];
        assert!(matches!(
            SignedList::open(&big, &anchor().public()),
            Err(AnchorError::TooLarge { .. })
        ));
    }
}
