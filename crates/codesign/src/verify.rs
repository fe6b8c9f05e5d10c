//! Offline verification of `FY1:` and `HC1:` payloads: decode, signature (the key found by
//! kid in the trust list), expiry, key usage, then revocation; the first failure stops and
//! names its reason in a plain sentence. The result has the contract's JSON shape (§6).
//!
//! Decoding is strict (see `transport.rs` and `cose.rs`): an `FY1:` text that verifies carries
//! exactly the COSE bytes its issuer signed, so no two texts are the same code except by the
//! whitespace around them or their deflate encoding.

use crate::cose::{Alg, Sign1};
use crate::dcc::DccClaims;
use crate::fy1::Claims;
use crate::transport::{self, Kind};
use crate::trust::{PublicKey, TrustedKey};
use crate::{Check, MAX_TTL_SECS, RevocationList, TrustList, VerifyError, b64, rfc3339};

/// How far a verifier's clock may lag the issuer's before a fresh `FY1:` code counts as not
/// yet valid.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// The outcome of each check: `None` = not reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Checks {
    pub decode: bool,
    pub signature: Option<bool>,
    pub expiry: Option<bool>,
    pub key_usage: Option<bool>,
    /// DCC only: the payload against the DCC schema. Not in the JSON, which has exactly the
    /// contract's four checks: a payload failing it is not valid and the reason says why.
    #[serde(skip)]
    pub schema: Option<bool>,
    /// DCC only: the payload's codes against the EU value sets; like `schema`, not in the
    /// JSON.
    #[serde(skip)]
    pub value_sets: Option<bool>,
}

#[derive(serde::Serialize)]
struct OutcomeJson {
    valid: bool,
    kind: Option<&'static str>,
    checks: Checks,
    reason: String,
    claims: serde_json::Value,
}

/// What a payload's claims decoded to.
#[derive(Debug, Clone)]
pub enum DecodedClaims {
    Fangyi(Claims),
    Dcc(Box<DccClaims>),
}

/// The result of verifying one payload.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Option<Kind>,
    pub checks: Checks,
    /// The first failure; `None` when the payload is valid.
    pub error: Option<VerifyError>,
    pub claims: Option<DecodedClaims>,
}

impl Outcome {
    pub fn valid(&self) -> bool {
        self.error.is_none()
    }

    /// `valid` or the failure's message.
    pub fn reason(&self) -> String {
        match &self.error {
            None => "valid".to_string(),
            Some(e) => e.to_string(),
        }
    }

    /// The contract's JSON: `{"valid", "kind", "checks": {"decode", "signature", "expiry",
    /// "key_usage"}, "reason", "claims"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_shape()).expect("serialisable")
    }

    /// [`Outcome::to_json`] as text, keys in the contract's order.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.json_shape()).expect("serialisable")
    }

    fn json_shape(&self) -> OutcomeJson {
        OutcomeJson {
            valid: self.valid(),
            kind: self.kind.map(Kind::as_str),
            checks: self.checks,
            reason: self.reason(),
            claims: match &self.claims {
                Some(DecodedClaims::Fangyi(c)) => {
                    serde_json::to_value(c.json_shape()).expect("serialisable")
                }
                Some(DecodedClaims::Dcc(c)) => c.to_json(),
                None => serde_json::json!({}),
            },
        }
    }

    /// An outcome for a payload that could not even be read (an unreadable QR image).
    pub fn undecodable(error: VerifyError) -> Outcome {
        Outcome {
            kind: None,
            checks: Checks::default(),
            error: Some(error),
            claims: None,
        }
    }

    fn fail(mut self, e: VerifyError) -> Outcome {
        match e.check() {
            Check::Decode => self.checks.decode = false,
            Check::Signature => self.checks.signature = Some(false),
            Check::KeyUsage => self.checks.key_usage = Some(false),
            Check::Expiry => self.checks.expiry = Some(false),
            Check::Schema => self.checks.schema = Some(false),
            Check::ValueSet => self.checks.value_sets = Some(false),
            Check::Revocation => {}
        }
        self.error = Some(e);
        self
    }
}

/// Verifies payloads against a trust list and a revocation list.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    pub trust: TrustList,
    pub revoked: RevocationList,
}

impl Verifier {
    pub fn new(trust: TrustList, revoked: RevocationList) -> Verifier {
        Verifier { trust, revoked }
    }

    /// Verifies `payload` as of `at` (Unix seconds).
    pub fn verify(&self, payload: &str, at: i64) -> Outcome {
        let (out, sign1) = match decode(payload) {
            Ok(x) => x,
            Err(o) => return *o,
        };
        match self.check_signature(&sign1) {
            Ok(key) => self.finish(out, key, at),
            Err(e) => out.fail(e),
        }
    }

    /// Verifies many payloads, with the same outcomes as [`Verifier::verify`] one by one, but
    /// the Ed25519 signatures checked in batches of 64 (a server verifying codes in bulk; about
    /// twice the throughput). A batch that fails is re-checked one signature at a time, so
    /// each payload still gets its own reason.
    pub fn verify_many<S: AsRef<str>>(&self, payloads: &[S], at: i64) -> Vec<Outcome> {
        const BATCH: usize = 64;
        let mut results: Vec<Option<Outcome>> = Vec::with_capacity(payloads.len());
        // (index, outcome so far, signed bytes, signature, key)
        let mut batch: Vec<(
            usize,
            Outcome,
            Vec<u8>,
            ed25519_dalek::Signature,
            &TrustedKey,
        )> = Vec::with_capacity(BATCH);
        for (i, p) in payloads.iter().enumerate() {
            results.push(None);
            let (out, sign1) = match decode(p.as_ref()) {
                Ok(x) => x,
                Err(o) => {
                    results[i] = Some(*o);
                    continue;
                }
            };
            match self.batchable(&sign1) {
                Some((sig, key)) => batch.push((i, out, sign1.tbs(), sig, key)),
                None => {
                    results[i] = Some(match self.check_signature(&sign1) {
                        Ok(key) => self.finish(out, key, at),
                        Err(e) => out.fail(e),
                    });
                }
            }
            if batch.len() == BATCH {
                self.flush(&mut batch, &mut results, at);
            }
        }
        self.flush(&mut batch, &mut results, at);
        results
            .into_iter()
            .map(|o| o.expect("every payload has an outcome"))
            .collect()
    }

    /// An EdDSA signature whose kid names exactly one trusted Ed25519 key.
    fn batchable(&self, sign1: &Sign1) -> Option<(ed25519_dalek::Signature, &TrustedKey)> {
        let [key] = self.trust.get(sign1.kid()?) else {
            return None;
        };
        let PublicKey::Ed25519(_) = key.key else {
            return None;
        };
        if sign1.alg().ok()? != Alg::EdDsa {
            return None;
        }
        let sig = <[u8; 64]>::try_from(sign1.signature()).ok()?;
        Some((ed25519_dalek::Signature::from_bytes(&sig), key))
    }

    #[allow(clippy::type_complexity)]
    fn flush<'a>(
        &'a self,
        batch: &mut Vec<(
            usize,
            Outcome,
            Vec<u8>,
            ed25519_dalek::Signature,
            &'a TrustedKey,
        )>,
        results: &mut [Option<Outcome>],
        at: i64,
    ) {
        if batch.is_empty() {
            return;
        }
        let msgs: Vec<&[u8]> = batch.iter().map(|b| b.2.as_slice()).collect();
        let sigs: Vec<ed25519_dalek::Signature> = batch.iter().map(|b| b.3).collect();
        let keys: Vec<ed25519_dalek::VerifyingKey> = batch
            .iter()
            .map(|b| match &b.4.key {
                PublicKey::Ed25519(k) => *k,
                _ => unreachable!("only Ed25519 keys are batched"),
            })
            .collect();
        let all_good = ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok();
        for (i, out, tbs, sig, key) in batch.drain(..) {
            let good = all_good
                || key
                    .key
                    .verify(Alg::EdDsa, &tbs, &sig.to_bytes(), "")
                    .is_ok();
            results[i] = Some(if good {
                self.finish(out, key, at)
            } else {
                out.fail(VerifyError::BadSignature)
            });
        }
    }

    /// The checks after a good signature by `key`: a DCC's schema and value sets, expiry, key
    /// usage, revocation.
    fn finish(&self, mut out: Outcome, key: &TrustedKey, at: i64) -> Outcome {
        out.checks.signature = Some(true);

        if let Some(DecodedClaims::Dcc(c)) = &out.claims {
            if let Err(e) = c.check_schema() {
                return out.fail(e);
            }
            out.checks.schema = Some(true);
            if let Err(e) = c.check_value_sets() {
                return out.fail(e);
            }
            out.checks.value_sets = Some(true);
        }

        let time = match out.claims.as_ref().expect("decoded") {
            DecodedClaims::Fangyi(c) => check_fangyi_time(c, at),
            DecodedClaims::Dcc(c) => c.check_time(at),
        };
        if let Err(e) = time {
            return out.fail(e);
        }
        out.checks.expiry = Some(true);

        let usage = match out.claims.as_ref().expect("decoded") {
            DecodedClaims::Fangyi(c) => check_fangyi_key(key, c, at),
            DecodedClaims::Dcc(c) => {
                check_retired(key, at).and_then(|()| c.check_key_usage(key.allowed.as_deref()))
            }
        };
        if let Err(e) = usage {
            return out.fail(e);
        }
        out.checks.key_usage = Some(true);

        if let Some(DecodedClaims::Fangyi(c)) = &out.claims
            && let Some(when) = self.revoked.get(&c.cti)
        {
            return out.fail(VerifyError::Revoked { at: rfc3339(when) });
        }
        out
    }

    /// Finds the signer by kid and checks the signature; returns the key that verified it.
    pub fn check_signature(&self, sign1: &Sign1) -> Result<&TrustedKey, VerifyError> {
        let kid = sign1.kid().ok_or(VerifyError::NoKid)?;
        let candidates = self.trust.get(kid);
        if candidates.is_empty() {
            return Err(VerifyError::UnknownKid { kid: b64(kid) });
        }
        let alg = sign1.alg()?;
        let tbs = sign1.tbs();
        let kid_text = b64(kid);
        let mut last = VerifyError::BadSignature;
        for k in candidates {
            match k.key.verify(alg, &tbs, sign1.signature(), &kid_text) {
                Ok(()) => return Ok(k),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Decodes a payload up to its claims: the outcome so far (decode passed) and the COSE message,
/// or the finished outcome of a payload that does not decode.
fn decode(payload: &str) -> Result<(Outcome, Sign1), Box<Outcome>> {
    let mut out = Outcome {
        kind: None,
        checks: Checks::default(),
        error: None,
        claims: None,
    };
    let (kind, cose) = match transport::strip_prefix(payload).and_then(|(kind, text)| {
        let compressed = transport::base45_decode(text)?;
        Ok((kind, transport::inflate(&compressed)?))
    }) {
        Ok(x) => x,
        Err(e) => {
            if let Ok((kind, _)) = transport::strip_prefix(payload) {
                out.kind = Some(kind);
            }
            return Err(Box::new(out.fail(e)));
        }
    };
    out.kind = Some(kind);
    let parsed = match kind {
        Kind::Fangyi => Sign1::parse_fangyi(&cose),
        Kind::Dcc => Sign1::parse(&cose),
    };
    let sign1 = match parsed {
        Ok(s) => s,
        Err(e) => return Err(Box::new(out.fail(e))),
    };
    let claims = match kind {
        Kind::Fangyi => Claims::from_cbor(sign1.payload()).map(DecodedClaims::Fangyi),
        Kind::Dcc => DccClaims::decode(sign1.payload()).map(|c| DecodedClaims::Dcc(Box::new(c))),
    };
    match claims {
        Ok(c) => out.claims = Some(c),
        Err(e) => return Err(Box::new(out.fail(e))),
    }
    out.checks.decode = true;
    Ok((out, sign1))
}

fn check_retired(key: &TrustedKey, at: i64) -> Result<(), VerifyError> {
    match key.not_after {
        Some(na) if at > na => Err(VerifyError::KeyRetired {
            kid: b64(&key.kid),
            not_after: rfc3339(na),
        }),
        _ => Ok(()),
    }
}

/// A fangyi key may sign for its own region only, and a retired one (`not_after` = retirement
/// + the longest TTL) only codes issued before it was retired.
fn check_fangyi_key(key: &TrustedKey, c: &Claims, at: i64) -> Result<(), VerifyError> {
    if let Some(region) = &key.region
        && *region != c.iss
    {
        return Err(VerifyError::IssuerMismatch {
            kid: b64(&key.kid),
            region: region.clone(),
            iss: c.iss.clone(),
        });
    }
    if let Some(na) = key.not_after
        && c.iat > na - MAX_TTL_SECS
    {
        return Err(VerifyError::KeyRetired {
            kid: b64(&key.kid),
            not_after: rfc3339(na),
        });
    }
    check_retired(key, at)
}

fn check_fangyi_time(c: &Claims, at: i64) -> Result<(), VerifyError> {
    if at > c.exp {
        return Err(VerifyError::Expired {
            exp: rfc3339(c.exp),
        });
    }
    if at + CLOCK_SKEW_SECS < c.iat {
        return Err(VerifyError::NotYetValid {
            iat: rfc3339(c.iat),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fy1::IssuerKey;
    use crate::transport;
    use model::Color;

    const T0: i64 = 1_580_515_200; // 2020-02-01T00:00:00Z

    fn claims(iss: &str) -> Claims {
        Claims {
            iss: iss.into(),
            iat: T0,
            exp: T0 + 86_400,
            cti: [7; 16],
            sub: [9; 16],
            color: Color::Yellow,
            valid_until: Some("2020-02-05".into()),
            as_of: "2020-02-01".into(),
        }
    }

    fn verifier(keys: &[(&IssuerKey, Option<i64>)]) -> Verifier {
        let entries: Vec<_> = keys
            .iter()
            .map(|(k, not_after)| k.trust_entry("330300", *not_after))
            .collect();
        Verifier::new(
            TrustList::from_entries(&entries).unwrap(),
            RevocationList::default(),
        )
    }

    /// Re-encodes a payload after changing its COSE bytes.
    fn with_cose(payload: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
        let (kind, mut cose) = transport::decode(payload).unwrap();
        f(&mut cose);
        transport::encode(kind, &cose)
    }

    fn err(o: &Outcome) -> &VerifyError {
        o.error.as_ref().expect("should fail")
    }

    #[test]
    fn a_signed_code_verifies_and_shows_its_claims() {
        let key = IssuerKey::from_seed(&[1; 32]);
        let p = key.sign(&claims("330300"));
        assert!(p.starts_with("FY1:"), "{p}");
        let o = verifier(&[(&key, None)]).verify(&p, T0 + 60);
        assert!(o.valid(), "{}", o.reason());
        let j = o.to_json();
        assert_eq!(j["kind"], "fangyi");
        assert_eq!(
            j["checks"],
            serde_json::json!({"decode": true, "signature": true, "expiry": true, "key_usage": true})
        );
        assert_eq!(j["claims"]["color"], "yellow");
        assert_eq!(j["claims"]["valid_until"], "2020-02-05");
        assert_eq!(j["claims"]["sub"], "09".repeat(16));
        assert_eq!(j["claims"]["exp"], "2020-02-02T00:00:00Z");
        assert_eq!(j["reason"], "valid");
        let Some(DecodedClaims::Fangyi(c)) = o.claims else {
            panic!()
        };
        assert_eq!(c, claims("330300"));
    }

    #[test]
    fn each_failure_has_its_own_reason() {
        let key = IssuerKey::from_seed(&[1; 32]);
        let other = IssuerKey::from_seed(&[2; 32]);
        let v = verifier(&[(&key, None)]);
        let p = key.sign(&claims("330300"));
        let at = T0 + 60;

        let o = v.verify(&p.replacen("FY1:", "FY9:", 1), at);
        assert!(matches!(err(&o), VerifyError::BadPrefix { .. }));
        assert!(!o.checks.decode && o.checks.signature.is_none());

        let o = v.verify(&format!("{p}a"), at);
        assert!(matches!(err(&o), VerifyError::Base45(_)), "{:?}", o.error);

        let cut = &p[..4 + (p.len() - 4) / 3 * 3 - 30];
        let o = v.verify(cut, at);
        assert!(matches!(err(&o), VerifyError::Zlib(_)), "{:?}", o.error);
        assert!(err(&o).to_string().contains("truncated"));

        let o = v.verify(&with_cose(&p, |c| c.truncate(c.len() - 10)), at);
        assert!(matches!(err(&o), VerifyError::Cose(_)), "{:?}", o.error);

        // A flipped bit in the signature.
        let o = v.verify(&with_cose(&p, |c| *c.last_mut().unwrap() ^= 1), at);
        assert_eq!(err(&o), &VerifyError::BadSignature);
        assert_eq!(o.checks.signature, Some(false));
        assert!(o.checks.decode && o.checks.expiry.is_none());

        // A changed byte in the signed claims (the code id).
        let o = v.verify(
            &with_cose(&p, |c| {
                let at = c.windows(16).position(|w| w == [7; 16]).unwrap();
                c[at] = 8;
            }),
            at,
        );
        assert_eq!(err(&o), &VerifyError::BadSignature);

        // Signed with another key but naming the trusted kid.
        let forged = other.sign_as(&key.kid(), &claims("330300"));
        assert_eq!(err(&v.verify(&forged, at)), &VerifyError::BadSignature);

        // Another issuer's key, not in the trust list.
        let o = v.verify(&other.sign(&claims("330300")), at);
        assert!(matches!(err(&o), VerifyError::UnknownKid { .. }));
        assert!(err(&o).to_string().starts_with("unknown key id"));

        let o = v.verify(&p, T0 + 86_401);
        assert_eq!(
            err(&o),
            &VerifyError::Expired {
                exp: "2020-02-02T00:00:00Z".into()
            }
        );
        assert_eq!(o.checks.expiry, Some(false));
        assert_eq!(o.checks.key_usage, None);
        let o = v.verify(&p, T0 - CLOCK_SKEW_SECS - 1);
        assert!(matches!(err(&o), VerifyError::NotYetValid { .. }));
        assert!(v.verify(&p, T0 - CLOCK_SKEW_SECS).valid());

        let mut revoked = v.clone();
        revoked.revoked.insert([7; 16], T0 + 30);
        let o = revoked.verify(&p, at);
        assert!(matches!(err(&o), VerifyError::Revoked { .. }));
        assert!(o.checks.expiry == Some(true) && !o.valid());

        // Retired at T0: trusted until T0 + the longest TTL for codes issued by then.
        let retired = verifier(&[(&key, Some(T0 + MAX_TTL_SECS))]);
        assert!(retired.verify(&p, at).valid());
        let long = Claims {
            exp: T0 + 30 * 86_400,
            ..claims("330300")
        };
        let o = retired.verify(&key.sign(&long), T0 + MAX_TTL_SECS + 1);
        assert!(
            matches!(err(&o), VerifyError::KeyRetired { .. }),
            "{:?}",
            o.error
        );
        assert_eq!(o.checks.key_usage, Some(false));
        assert_eq!(o.checks.expiry, Some(true));
        // Signed after retirement (a leaked old key): refused at once.
        let late = Claims {
            iat: T0 + 10,
            ..claims("330300")
        };
        let o = retired.verify(&key.sign(&late), T0 + 20);
        assert!(
            matches!(err(&o), VerifyError::KeyRetired { .. }),
            "{:?}",
            o.error
        );

        let o = v.verify(&key.sign(&claims("420100")), at);
        assert!(matches!(err(&o), VerifyError::IssuerMismatch { .. }));
    }

    #[test]
    fn verifying_many_gives_the_same_outcomes_as_one_by_one() {
        let key = IssuerKey::from_seed(&[1; 32]);
        let other = IssuerKey::from_seed(&[2; 32]);
        let mut v = verifier(&[(&key, None)]);
        v.revoked.insert([5; 16], T0);
        let good = key.sign(&claims("330300"));
        let forged = other.sign_as(&key.kid(), &claims("330300"));
        let revoked = key.sign(&Claims {
            cti: [5; 16],
            ..claims("330300")
        });
        let mut payloads: Vec<String> = Vec::new();
        for i in 0..150 {
            payloads.push(match i % 10 {
                3 => forged.clone(),
                5 => revoked.clone(),
                7 => "FY1:???".to_string(),
                8 => other.sign(&claims("330300")),
                _ => good.clone(),
            });
        }
        let many = v.verify_many(&payloads, T0 + 60);
        assert_eq!(many.len(), payloads.len());
        for (p, o) in payloads.iter().zip(&many) {
            let one = v.verify(p, T0 + 60);
            assert_eq!(
                (o.error.as_ref(), o.checks),
                (one.error.as_ref(), one.checks)
            );
        }
        assert_eq!(many.iter().filter(|o| o.valid()).count(), 90);
        // All good: one batch passes.
        let all: Vec<&str> = vec![good.as_str(); 130];
        assert!(v.verify_many(&all, T0 + 60).iter().all(Outcome::valid));
    }

    #[test]
    fn messages_are_distinct() {
        let all = [
            VerifyError::BadPrefix { found: "X".into() },
            VerifyError::Base45("x".into()),
            VerifyError::Zlib("x".into()),
            VerifyError::Cose("x".into()),
            VerifyError::Claims("x".into()),
            VerifyError::UnknownKid { kid: "k".into() },
            VerifyError::BadSignature,
            VerifyError::Expired { exp: "t".into() },
            VerifyError::NotYetValid { iat: "t".into() },
            VerifyError::Revoked { at: "t".into() },
            VerifyError::KeyRetired {
                kid: "k".into(),
                not_after: "t".into(),
            },
            VerifyError::KeyUsage {
                cert_type: "test".into(),
                allowed: "vaccination".into(),
            },
        ];
        let texts: std::collections::HashSet<_> = all.iter().map(|e| e.to_string()).collect();
        assert_eq!(texts.len(), all.len());
    }
    /// A code's COSE bytes re-encoded as another `FY1:` text.
    fn fy1(cose: &[u8]) -> String {
        transport::encode(Kind::Fangyi, cose)
    }

    /// A COSE_Sign1 signed by key seed [1; 32] over any payload bytes.
    fn signed(payload: Vec<u8>) -> Vec<u8> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let kid = crate::kid_of(key.verifying_key().as_bytes());
        crate::cose::sign_ed25519(&key, &kid, payload).unwrap()
    }

    #[test]
    fn bytes_the_signature_does_not_cover_cannot_vary() {
        let key = IssuerKey::from_seed(&[1; 32]);
        let v = verifier(&[(&key, None)]);
        let at = T0 + 60;
        let p = key.sign(&claims("330300"));
        let (_, cose) = transport::decode(&p).unwrap();
        assert_eq!(cose[..2], [0xd2, 0x84], "tag 18, an array of four");
        assert!(v.verify(&fy1(&cose), at).valid());
        let decode_fails = |text: &str| {
            let o = v.verify(text, at);
            assert!(!o.valid() && !o.checks.decode, "{text}: {}", o.reason());
            o.reason()
        };

        // Each of these verified before, as the same code.
        decode_fails(&fy1(&cose[1..])); // untagged
        decode_fails(&fy1(&[&[0xd8, 0x3d][..], &cose].concat())); // wrapped in the CWT tag
        decode_fails(&fy1(&[&[0xd2][..], &cose].concat())); // tagged twice
        let r = decode_fails(&fy1(&[&cose[..], &[0]].concat())); // a byte after the item
        assert!(r.contains("1 byte follows"), "{r}");
        // The signature's length written in two bytes instead of one.
        let sig_at = cose.len() - 66;
        assert_eq!(cose[sig_at..sig_at + 2], [0x58, 0x40]);
        let long = [&cose[..sig_at], &[0x59, 0x00, 0x40], &cose[sig_at + 2..]].concat();
        decode_fails(&fy1(&long));
        // The array of four written with an indefinite length.
        let indefinite = [&[0xd2, 0x9f][..], &cose[2..], &[0xff]].concat();
        decode_fails(&fy1(&indefinite));
        // A kid added to the unprotected header, which the signature does not cover.
        let mut m = Sign1::parse(&cose).unwrap().inner;
        m.unprotected.key_id = key.kid().to_vec();
        use coset::TaggedCborSerializable;
        let r = decode_fails(&fy1(&m.to_tagged_vec().unwrap()));
        assert!(r.contains("unprotected"), "{r}");
        // Bytes after the zlib stream.
        let mut z = transport::deflate(&cose);
        z.push(0);
        let text = format!("FY1:{}", transport::base45_encode(&z));
        let r = decode_fails(&text);
        assert!(r.contains("the end of the zlib stream"), "{r}");
        // A final Base45 pair worth more than a byte, which wrapped onto the last byte.
        let (odd, last) = (0u8..=255)
            .map(|b| {
                let c = key.sign(&Claims {
                    cti: [b; 16],
                    ..claims("330300")
                });
                let z = transport::base45_decode(&c[4..]).unwrap();
                (c, *z.last().unwrap(), z.len())
            })
            .find(|(_, _, n)| n % 2 == 1)
            .map(|(c, last, _)| (c, last))
            .expect("some code whose zlib stream has an odd length");
        assert!(v.verify(&odd, at).valid());
        let wrapped = last as u32 + 256;
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        let pair = [
            alphabet[(wrapped % 45) as usize] as char,
            alphabet[(wrapped / 45) as usize] as char,
        ];
        let forged = format!("{}{}{}", &odd[..odd.len() - 2], pair[0], pair[1]);
        assert_ne!(forged, odd);
        decode_fails(&forged);

        // Inside the signed claims (only the signer can vary them, but one code has one form):
        // a key twice, and the same claims in another order.
        let good = claims("330300").to_cbor();
        let mut twice = good.clone();
        twice[0] += 1; // a map of six
        twice.extend_from_slice(&[0x01, 0x66]);
        twice.extend_from_slice(b"420100");
        let r = decode_fails(&fy1(&signed(twice)));
        assert!(r.contains("key twice"), "{r}");
        let mut extra = good.clone();
        extra.push(0);
        decode_fails(&fy1(&signed(extra)));
        let reordered = {
            let ciborium::Value::Map(mut m) =
                ciborium::from_reader::<ciborium::Value, _>(good.as_slice()).unwrap()
            else {
                panic!()
            };
            m.reverse();
            let mut out = Vec::new();
            ciborium::into_writer(&ciborium::Value::Map(m), &mut out).unwrap();
            out
        };
        decode_fails(&fy1(&signed(reordered)));
        assert!(v.verify(&fy1(&signed(good)), at).valid());

        // What the DCC allows stays allowed for HC1: the CWT tag, no tag, the kid unprotected;
        // not a tag twice, nor a byte after the message.
        let tagged = Sign1::parse(&[&[0xd8, 0x3d][..], &cose].concat());
        assert!(tagged.is_ok());
        assert!(Sign1::parse(&cose[1..]).is_ok());
        assert!(Sign1::parse(&[&[0xd2][..], &cose].concat()).is_err());
        assert!(Sign1::parse(&[&cose[..], &[0]].concat()).is_err());
    }

    proptest::proptest! {
        /// Any change to a valid `FY1:` text — a character replaced, inserted or deleted, text
        /// appended — either fails or carries exactly the signed COSE bytes of the original.
        #[test]
        fn a_changed_text_fails_or_is_the_same_code(
            edits in proptest::collection::vec((0u8..4, proptest::num::usize::ANY, 0usize..50), 1..4),
            cti in proptest::array::uniform16(proptest::num::u8::ANY),
        ) {
            let key = IssuerKey::from_seed(&[1; 32]);
            let v = verifier(&[(&key, None)]);
            let original = key.sign(&Claims { cti, ..claims("330300") });
            let (_, cose) = transport::decode(&original).unwrap();
            // Base45 digits, and a few characters outside the alphabet.
            let chars: Vec<char> =
                "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a~\n".chars().collect();
            let mut text: Vec<char> = original.chars().collect();
            for (op, at, c) in edits {
                let c = chars[c % chars.len()];
                let at = at % (text.len() + 1);
                match op {
                    0 if at < text.len() => text[at] = c,
                    1 => text.insert(at, c),
                    2 if at < text.len() => { text.remove(at); }
                    _ => text.extend(std::iter::repeat_n(c, at % 4 + 1)),
                }
            }
            let text: String = text.into_iter().collect();
            let o = v.verify(&text, T0 + 60);
            if o.valid() {
                proptest::prop_assert_eq!(transport::decode(&text).unwrap().1, cose, "{}", text);
            }
        }
    }

    #[test]
    fn every_reason_is_a_plain_sentence() {
        let key = IssuerKey::from_seed(&[1; 32]);
        let v = verifier(&[(&key, None)]);
        let p = key.sign(&claims("330300"));
        let (_, cose) = transport::decode(&p).unwrap();
        let z = transport::deflate(&cose);
        let b45 = |bytes: &[u8]| format!("FY1:{}", transport::base45_encode(bytes));
        let cbor = |v: &ciborium::Value| {
            let mut out = Vec::new();
            ciborium::into_writer(v, &mut out).unwrap();
            out
        };
        let mut es384 = Sign1::parse(&cose).unwrap().inner;
        es384.protected = coset::ProtectedHeader {
            original_data: None,
            header: coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES384)
                .key_id(key.kid().to_vec())
                .build(),
        };
        use coset::TaggedCborSerializable;
        let payloads: Vec<String> = vec![
            String::new(),
            "FY9:ABC".into(),
            "\u{7}\u{1b}[0m".into(),
            "FY1:abc".into(),
            "FY1:ABCD".into(),
            "FY1:GGW".into(),
            "FY1:::".into(),
            b45(&z[..z.len() / 2]),
            b45(&[&z[..], &[1, 2]].concat()),
            b45(&[0x78, 0xbb, 0, 0, 0, 1, 3, 0]),
            b45(&[0x78, 0x9c, 0xff, 0xff]),
            fy1(&[0xff]),
            fy1(&[0x1c]),
            fy1(&cose[..cose.len() - 5]),
            fy1(&[&cose[..], &[0, 0]].concat()),
            fy1(&[0xd8, 0x40, 0x80]),
            fy1(&cbor(&ciborium::Value::Array(vec![]))),
            fy1(&[0x81; 100]),
            fy1(&es384.to_tagged_vec().unwrap()),
            fy1(&signed(vec![0xa1, 0x01, 0x01, 0x01, 0x02])),
            fy1(&signed(cbor(&ciborium::Value::Text("x".into())))),
            fy1(&signed(vec![0x5f])),
        ];
        let mut reasons = std::collections::BTreeSet::new();
        for p in &payloads {
            let o = v.verify(p, T0 + 60);
            assert!(!o.valid(), "{p}");
            reasons.insert(o.reason());
        }
        // An image that is no PNG, and a PNG without a readable code.
        reasons.insert(crate::qr::from_png(b"GIF89a").unwrap_err().to_string());
        let blank = crate::qr::to_png(&p[..10]).unwrap();
        let mut smudged = blank.clone();
        smudged.truncate(blank.len() / 2);
        reasons.insert(crate::qr::from_png(&smudged).unwrap_err().to_string());
        for r in &reasons {
            for debug in [
                "{",
                "}",
                "\"",
                "\\",
                "Some(",
                "None",
                "Syntax(",
                "Semantic(",
                "Io(",
                "Error",
                "::",
                "Ecc(",
            ] {
                assert!(!r.contains(debug), "{r:?} shows {debug:?}");
            }
            assert!(r.chars().all(|c| !c.is_control()), "{r:?}");
            assert!(r.chars().next().is_some_and(char::is_lowercase), "{r:?}");
        }
        assert!(reasons.len() >= 18, "{reasons:#?}");
    }
}
