//! A province's submission of its signer keys to the hub: the JSON body `{"signatures":
//! [<base64 COSE_Sign1>, …]}`, every signature over the same document `{"format", "region",
//! "submitted_at", "entries"}`, one by each key generation the province still has trusted (its
//! current key and a retired one not yet past `not_after`). The hub accepts it when one of them
//! is by a key it already holds for that region, not revoked and not past its `not_after` — so
//! after a rotation the retired key vouches for the new one — and when `submitted_at` is newer
//! than the last submission it accepted (a replayed old submission would bring back a key the
//! province dropped).

use codesign::cose::{Alg, Sign1};
use codesign::trust::TrustEntry;
use codesign::{IssuerKey, TrustList};
use serde::{Deserialize, Serialize};

use crate::hub::{Hub, Province, one_region};
use crate::{ExchangeError, secs};

/// The `format` of a submission's document.
pub const FORMAT: &str = "fangyi-key-submission/1";

/// The most a submission may hold (a province has a handful of keys).
pub const MAX_SUBMISSION_BYTES: usize = 256 * 1024;

/// How far a submission's time may be ahead of the hub's clock.
const CLOCK_SKEW_SECS: i64 = 300;

/// The signed document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub region: String,
    /// Unix milliseconds (a province may well submit twice in one second).
    pub submitted_at: i64,
    pub entries: Vec<TrustEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    signatures: Vec<String>,
}

/// The body of a submission of `entries` for `region` at `now_ms` (Unix milliseconds), signed
/// by each of `keys`.
pub fn sign(region: &str, entries: &[TrustEntry], keys: &[IssuerKey], now_ms: i64) -> Vec<u8> {
    let doc = Document {
        format: FORMAT.into(),
        region: region.into(),
        submitted_at: now_ms,
        entries: entries.to_vec(),
    };
    let payload = serde_json::to_vec(&doc).expect("serialisable");
    let signatures = keys
        .iter()
        .map(|k| codesign::b64(&k.sign_document(payload.clone())))
        .collect();
    serde_json::to_vec(&Body { signatures }).expect("serialisable")
}

/// The region a submission's body says it is for, unverified: for a hub's per-region rate
/// limit, looked up before the signatures are checked. `None` when the body does not parse
/// that far (`accept` then says why).
pub fn claimed_region(body: &[u8]) -> Option<String> {
    if body.len() > MAX_SUBMISSION_BYTES {
        return None;
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let cose = codesign::unb64(body.signatures.first()?)?;
    let m = Sign1::parse_fangyi(&cose).ok()?;
    let doc: Document = serde_json::from_slice(m.payload()).ok()?;
    Some(doc.region)
}

/// Checks a submission's body against what the hub holds and records it; returns the
/// province as it now stands.
pub fn accept(hub: &Hub, body: &[u8], now: i64) -> Result<Province, ExchangeError> {
    let bad = |why: String| ExchangeError::Bad(why);
    if body.len() > MAX_SUBMISSION_BYTES {
        return Err(bad(format!(
            "a submission of {} bytes is over the {MAX_SUBMISSION_BYTES} allowed",
            body.len()
        )));
    }
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "not a key submission ({{\"signatures\": […]}}): {e}"
        ))
    })?;
    if body.signatures.is_empty() || body.signatures.len() > 16 {
        return Err(bad("a submission carries 1 to 16 signatures".into()));
    }
    let mut messages = Vec::new();
    for (i, s) in body.signatures.iter().enumerate() {
        let cose = codesign::unb64(s).ok_or_else(|| bad(format!("signature {i} is not base64")))?;
        let m = Sign1::parse_fangyi(&cose).map_err(|e| bad(format!("signature {i}: {e}")))?;
        messages.push(m);
    }
    let payload = messages[0].payload().to_vec();
    if messages.iter().any(|m| m.payload() != payload.as_slice()) {
        return Err(bad("the signatures are over different documents".into()));
    }
    let doc: Document = serde_json::from_slice(&payload)
        .map_err(|e| bad(format!("the signed document is malformed: {e}")))?;
    if doc.format != FORMAT {
        return Err(bad(format!("the signed document is not a {FORMAT}")));
    }
    let Some(province) = hub.province(&doc.region)? else {
        return Err(ExchangeError::Refused(format!(
            "region {} is not enrolled at this hub: its operator adds the province's key file first (fangyi hub add)",
            doc.region
        )));
    };

    // Signed by a key the hub holds for this very region, usable now.
    let mut usable = Vec::new();
    for e in &province.entries {
        let retired = e
            .not_after
            .as_deref()
            .and_then(secs)
            .is_some_and(|t| t < now);
        if !retired && !hub.is_revoked(e)? {
            usable.push(e.clone());
        }
    }
    let trust = TrustList::from_entries(&usable)?;
    let vouched = messages.iter().any(|m| {
        let Some(kid) = m.kid() else { return false };
        m.alg().ok() == Some(Alg::EdDsa)
            && trust.get(kid).iter().any(|k| {
                k.region.as_deref() == Some(doc.region.as_str())
                    && k.key
                        .verify(Alg::EdDsa, &m.tbs(), m.signature(), "")
                        .is_ok()
            })
    });
    if !vouched {
        return Err(ExchangeError::Refused(format!(
            "no signature is by a key this hub holds for region {} (current, or retired and not past not_after, and not revoked): a forged or stale submission, or a province that rotated twice since — its operator re-adds the key file",
            doc.region
        )));
    }

    // What it says.
    if let Some(last) = province.submitted_at
        && doc.submitted_at <= last
    {
        return Err(ExchangeError::Conflict(format!(
            "a submission of {} is not newer than the one accepted ({}): a replay, refused",
            codesign::rfc3339(doc.submitted_at.div_euclid(1000)),
            codesign::rfc3339(last.div_euclid(1000))
        )));
    }
    if doc.submitted_at.div_euclid(1000) > now + CLOCK_SKEW_SECS {
        return Err(bad("the submission is dated in the future".into()));
    }
    let region = one_region(&doc.entries)?;
    if region != doc.region {
        return Err(ExchangeError::Refused(format!(
            "a submission for region {} may not carry keys of region {region}",
            doc.region
        )));
    }
    let mut updated = hub.enrol(&doc.entries, now)?;
    updated.via = "submission".into();
    updated.submitted_at = Some(doc.submitted_at);
    hub.save_province(&updated)?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_580_515_200;

    fn key(n: u8) -> IssuerKey {
        IssuerKey::from_seed(&[n; 32])
    }

    fn hub_with(a: &IssuerKey) -> (tempfile::TempDir, Hub) {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        hub.enrol(&[a.trust_entry("330300", None)], T0).unwrap();
        (dir, hub)
    }

    #[test]
    fn a_rotation_vouched_for_by_the_old_key_is_accepted_once() {
        let old = IssuerKey::from_seed(&[1; 32]);
        let new = IssuerKey::from_seed(&[2; 32]);
        let (_d, hub) = hub_with(&old);
        let entries = [
            old.trust_entry("330300", Some(T0 + 7 * 86_400)),
            new.trust_entry("330300", None),
        ];
        let body = sign("330300", &entries, &[key(2), key(1)], (T0 + 10) * 1000);
        let p = accept(&hub, &body, T0 + 20).unwrap();
        assert_eq!((p.entries.len(), p.via.as_str()), (2, "submission"));
        // The same body again: a replay.
        assert!(matches!(
            accept(&hub, &body, T0 + 30),
            Err(ExchangeError::Conflict(_))
        ));
        // Now the new key alone vouches.
        let body = sign("330300", &entries[1..], &[key(2)], (T0 + 40) * 1000);
        assert_eq!(accept(&hub, &body, T0 + 50).unwrap().entries.len(), 1);
    }

    #[test]
    fn the_claimed_region_is_read_without_checking_and_garbage_has_none() {
        let a = key(1);
        let body = sign(
            "330300",
            &[a.trust_entry("330300", None)],
            &[key(1)],
            T0 * 1000,
        );
        assert_eq!(claimed_region(&body).as_deref(), Some("330300"));
        // Forged by another key: still the region it claims (the hub's limiter decides
        // nothing from it but whether to look further).
        let body = sign("440300", &[], &[key(66)], T0 * 1000);
        assert_eq!(claimed_region(&body).as_deref(), Some("440300"));
        for bad in [
            &b""[..],
            b"{}",
            b"{\"signatures\": []}",
            b"{\"signatures\": [\"!!\"]}",
            b"\x00\xff",
        ] {
            assert_eq!(claimed_region(bad), None);
        }
        assert_eq!(claimed_region(&vec![b' '; MAX_SUBMISSION_BYTES + 1]), None);
    }

    #[test]
    fn forged_foreign_or_malformed_submissions_are_refused() {
        let a = IssuerKey::from_seed(&[1; 32]);
        let (_d, hub) = hub_with(&a);
        let evil = IssuerKey::from_seed(&[66; 32]);
        // Signed by a key the hub does not hold.
        let body = sign(
            "330300",
            &[evil.trust_entry("330300", None)],
            &[key(66)],
            T0 * 1000,
        );
        assert!(matches!(
            accept(&hub, &body, T0),
            Err(ExchangeError::Refused(_))
        ));
        // A's key vouching for keys of another region.
        let body = sign(
            "330300",
            &[evil.trust_entry("510100", None)],
            &[key(1)],
            T0 * 1000,
        );
        assert!(matches!(
            accept(&hub, &body, T0),
            Err(ExchangeError::Refused(_))
        ));
        // A region not enrolled.
        let body = sign(
            "510100",
            &[evil.trust_entry("510100", None)],
            &[key(66)],
            T0 * 1000,
        );
        assert!(matches!(
            accept(&hub, &body, T0),
            Err(ExchangeError::Refused(_))
        ));
        // A good signature, then the document changed.
        let body = sign(
            "330300",
            &[a.trust_entry("330300", None)],
            &[key(1)],
            T0 * 1000,
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut cose = codesign::unb64(v["signatures"][0].as_str().unwrap()).unwrap();
        let at = cose.windows(6).position(|w| w == b"330300").unwrap();
        cose[at..at + 6].copy_from_slice(b"510100");
        let tampered = serde_json::json!({"signatures": [codesign::b64(&cose)]});
        assert!(accept(&hub, tampered.to_string().as_bytes(), T0).is_err());
        // Dated in the future.
        let body = sign(
            "330300",
            &[a.trust_entry("330300", None)],
            &[key(1)],
            (T0 + 3600) * 1000,
        );
        assert!(matches!(
            accept(&hub, &body, T0),
            Err(ExchangeError::Bad(_))
        ));
        // Garbage, oversized, no signatures.
        for body in [
            b"".to_vec(),
            b"{}".to_vec(),
            b"{\"signatures\": []}".to_vec(),
            b"{\"signatures\": [\"%%\"]}".to_vec(),
            vec![b' '; MAX_SUBMISSION_BYTES + 1],
        ] {
            assert!(matches!(
                accept(&hub, &body, T0),
                Err(ExchangeError::Bad(_))
            ));
        }
        // A revoked key vouches for nothing.
        hub.revoke(&codesign::b64(&a.kid()), "stolen", T0).unwrap();
        let body = sign(
            "330300",
            &[a.trust_entry("330300", None)],
            &[key(1)],
            (T0 + 1) * 1000,
        );
        assert!(matches!(
            accept(&hub, &body, T0 + 2),
            Err(ExchangeError::Refused(_))
        ));
        assert_eq!(hub.province("330300").unwrap().unwrap().via, "file");
    }
}
