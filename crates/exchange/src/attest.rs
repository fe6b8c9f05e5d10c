//! Health attestations between deployments (issue 19, item 1): province B, where migrant
//! workers arrive, asks their home province A for their current codes; A answers with only a
//! color, the rule groups behind it and a `valid_until` per person.
//!
//! Both messages are strict COSE_Sign1 (the signed codes' encoding) over a JSON document, each
//! signed by its deployment's current issuer key, so deployment-to-deployment authentication
//! rides on the keys the trust hub already distributes — no shared secrets, no person's token:
//!
//! - the **request** (B → A) `{"format", "from", "to", "purpose", "request_id", "issued_at",
//!   "persons"}`: A accepts it only when its signer is a key of region `from` in A's trust list
//!   (anchored by the hub), `to` is A, it is fresh (five minutes) and carries at most
//!   [`MAX_BATCH`] persons. The ID numbers travel here, from B which registered the workers, to
//!   A which holds their records: nothing of A's leaves with them.
//! - the **answer** (A → B) `{"format", "iss", "request", "iat", "exp", "items"}`: `request` is
//!   the SHA-256 of the request's bytes (so an answer cannot be replayed against another
//!   request, or items moved between persons), `items` one per person in the request's order:
//!   `{"color", "groups", "valid_until"}` or `null` (not known at A). Nothing else: no id, no
//!   pseudonym, no name, no record, no reason text. B checks the signer is a key of region
//!   `iss` = the region it asked, and that `request` is its own request's digest.

use codesign::cose::{Alg, Sign1};
use codesign::trust::TrustedKey;
use codesign::{IssuerKey, TrustList};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ExchangeError;

pub const REQUEST_FORMAT: &str = "fangyi-attestation-request/1";
pub const ANSWER_FORMAT: &str = "fangyi-attestation/1";

/// The most persons one request may name (a registration batch).
pub const MAX_BATCH: usize = 10_000;

/// How long a request stays acceptable, and how far ahead of A's clock it may be dated.
pub const REQUEST_TTL_SECS: i64 = 300;

/// How long an answer may be kept and folded in (a color is one day's judgment).
pub const ANSWER_TTL_SECS: i64 = 86_400;

/// The purposes a request may name.
pub const PURPOSES: [&str; 2] = ["arrival_registration", "health_code"];

/// What B asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub format: String,
    /// The asking deployment's region.
    pub from: String,
    /// The home deployment's region.
    pub to: String,
    pub purpose: String,
    /// 16 random bytes, base64: A refuses one it has seen.
    pub request_id: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// ID numbers, as B registered them.
    pub persons: Vec<String>,
    /// The day the codes are asked for (`YYYY-MM-DD`), when not A's today: A answers for no
    /// day after its own today. (Replaying a past day, as the tests and the demo do.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// What A says of one person: all that leaves A.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attested {
    /// `green`, `yellow` or `red`.
    pub color: String,
    /// The rule groups behind it (`case`, `contact`, `fever`, `arrival`), never the records.
    pub groups: Vec<String>,
    /// `YYYY-MM-DD`, or null (open-ended, or green).
    pub valid_until: Option<String>,
}

/// A's signed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub format: String,
    /// A's region.
    pub iss: String,
    /// Base64 SHA-256 of the request's bytes.
    pub request: String,
    pub iat: i64,
    pub exp: i64,
    pub items: Vec<Option<Attested>>,
}

fn digest_b64(bytes: &[u8]) -> String {
    codesign::b64(&Sha256::digest(bytes))
}

/// Checks a signed message against `trust`: the signer must be a key of `region`, not past its
/// `not_after` at `now`. Returns the payload.
fn open_signed<'a>(
    sign1: &'a Sign1,
    trust: &TrustList,
    region: &str,
    now: i64,
) -> Result<&'a [u8], ExchangeError> {
    let refused = |why: String| ExchangeError::Refused(why);
    let kid = sign1
        .kid()
        .ok_or_else(|| refused("the message names no key".into()))?;
    if sign1.alg().ok() != Some(Alg::EdDsa) {
        return Err(refused("deployments sign with EdDSA".into()));
    }
    let usable = |k: &&TrustedKey| {
        k.region.as_deref() == Some(region) && k.not_after.is_none_or(|t| now <= t)
    };
    let good = trust.get(kid).iter().filter(usable).any(|k| {
        k.key
            .verify(Alg::EdDsa, &sign1.tbs(), sign1.signature(), "")
            .is_ok()
    });
    if !good {
        return Err(refused(format!(
            "not signed by a trusted key of region {region} (key {})",
            codesign::b64(kid)
        )));
    }
    Ok(sign1.payload())
}

fn parse(bytes: &[u8]) -> Result<Sign1, ExchangeError> {
    Sign1::parse_fangyi(bytes).map_err(|e| ExchangeError::Bad(format!("not a signed message: {e}")))
}

/// The signed request of `from` (signed by `key`) to `to` about `persons`, for A's today.
pub fn request(
    from: &str,
    to: &str,
    purpose: &str,
    persons: &[String],
    key: &IssuerKey,
    now: i64,
) -> Result<Vec<u8>, ExchangeError> {
    request_as_of(from, to, purpose, persons, None, key, now)
}

/// [`request`] for the day `as_of` (`YYYY-MM-DD`).
pub fn request_as_of(
    from: &str,
    to: &str,
    purpose: &str,
    persons: &[String],
    as_of: Option<&str>,
    key: &IssuerKey,
    now: i64,
) -> Result<Vec<u8>, ExchangeError> {
    if persons.len() > MAX_BATCH {
        return Err(ExchangeError::Bad(format!(
            "{} persons in one request; at most {MAX_BATCH}",
            persons.len()
        )));
    }
    // Random like a code's id (the same source).
    let id = codesign::Claims::new_cti();
    let r = Request {
        format: REQUEST_FORMAT.into(),
        from: from.into(),
        to: to.into(),
        purpose: purpose.into(),
        request_id: codesign::b64(&id),
        issued_at: now,
        persons: persons.to_vec(),
        as_of: as_of.map(str::to_string),
    };
    Ok(key.sign_document(serde_json::to_vec(&r).expect("serialisable")))
}

/// The document of a request this deployment made itself (no signature check: B reading its
/// own request back, for the request id it records).
pub fn read_request(bytes: &[u8]) -> Result<Request, ExchangeError> {
    serde_json::from_slice(parse(bytes)?.payload())
        .map_err(|e| ExchangeError::Bad(format!("the request is malformed: {e}")))
}

/// A checks a request's bytes: signed by a trusted key of the region it says it is from,
/// addressed to `own_region`, fresh, a known purpose, at most [`MAX_BATCH`] persons. (That the
/// request id was not seen before is the caller's check: it keeps the ids.)
pub fn open_request(
    bytes: &[u8],
    trust: &TrustList,
    own_region: &str,
    now: i64,
) -> Result<Request, ExchangeError> {
    let bad = |why: String| ExchangeError::Bad(why);
    let sign1 = parse(bytes)?;
    // The document names the region whose key must have signed it; read it, then check.
    let r: Request = serde_json::from_slice(sign1.payload())
        .map_err(|e| bad(format!("the request is malformed: {e}")))?;
    open_signed(&sign1, trust, &r.from, now)?;
    if r.format != REQUEST_FORMAT {
        return Err(bad(format!("not a {REQUEST_FORMAT}")));
    }
    if r.to != own_region {
        return Err(ExchangeError::Refused(format!(
            "the request is addressed to region {}, not to this deployment ({own_region})",
            r.to
        )));
    }
    if r.issued_at + REQUEST_TTL_SECS < now || r.issued_at > now + REQUEST_TTL_SECS {
        return Err(ExchangeError::Conflict(
            "the request is stale or dated ahead: a replay, or a clock to set".into(),
        ));
    }
    if !PURPOSES.contains(&r.purpose.as_str()) {
        return Err(bad(format!(
            "purpose {:?} is not one of {}",
            r.purpose,
            PURPOSES.join(", ")
        )));
    }
    if r.persons.len() > MAX_BATCH {
        return Err(bad(format!("more than {MAX_BATCH} persons")));
    }
    if let Some(d) = &r.as_of
        && model::Date::parse(d.as_bytes()).is_err()
    {
        return Err(bad(format!(
            "as_of {:?} is not a date (YYYY-MM-DD)",
            crate::short(d)
        )));
    }
    Ok(r)
}

/// A's answer to the request `request_bytes`: `items` in the request's order, signed by `key`.
pub fn answer(
    iss: &str,
    request_bytes: &[u8],
    items: Vec<Option<Attested>>,
    key: &IssuerKey,
    now: i64,
) -> Vec<u8> {
    let a = Answer {
        format: ANSWER_FORMAT.into(),
        iss: iss.into(),
        request: digest_b64(request_bytes),
        iat: now,
        exp: now + ANSWER_TTL_SECS,
        items,
    };
    key.sign_document(serde_json::to_vec(&a).expect("serialisable"))
}

/// B checks A's answer to its own request `request_bytes`: signed by a trusted key of
/// `home_region`, about that very request, one item per person asked, not expired.
pub fn open_answer(
    bytes: &[u8],
    request_bytes: &[u8],
    persons: usize,
    trust: &TrustList,
    home_region: &str,
    now: i64,
) -> Result<Answer, ExchangeError> {
    let bad = |why: String| ExchangeError::Bad(why);
    let sign1 = parse(bytes)?;
    let payload = open_signed(&sign1, trust, home_region, now)?;
    let a: Answer = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the answer is malformed: {e}")))?;
    if a.format != ANSWER_FORMAT || a.iss != home_region {
        return Err(bad(format!(
            "not an attestation of region {home_region} ({ANSWER_FORMAT})"
        )));
    }
    if a.request != digest_b64(request_bytes) {
        return Err(ExchangeError::Refused(
            "the answer is to another request".into(),
        ));
    }
    if a.items.len() != persons {
        return Err(bad(format!(
            "{} items for {persons} persons asked",
            a.items.len()
        )));
    }
    if now > a.exp || a.iat > now + REQUEST_TTL_SECS {
        return Err(ExchangeError::Conflict("the answer has expired".into()));
    }
    for it in a.items.iter().flatten() {
        if model::Color::parse(&it.color).is_none() {
            return Err(bad(format!("color {:?}", it.color)));
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_580_515_200;

    fn trust(keys: &[(&IssuerKey, &str)]) -> TrustList {
        let entries: Vec<_> = keys.iter().map(|(k, r)| k.trust_entry(r, None)).collect();
        TrustList::from_entries(&entries).unwrap()
    }

    fn persons() -> Vec<String> {
        vec!["330302198503012006".into(), "330302198503020014".into()]
    }

    #[test]
    fn a_request_and_its_answer_round_trip_between_two_provinces() {
        let (a, b) = (
            IssuerKey::from_seed(&[1; 32]),
            IssuerKey::from_seed(&[2; 32]),
        );
        let both = trust(&[(&a, "330300"), (&b, "510100")]);
        let req = request(
            "510100",
            "330300",
            "arrival_registration",
            &persons(),
            &b,
            T0,
        )
        .unwrap();
        let r = open_request(&req, &both, "330300", T0 + 10).unwrap();
        assert_eq!(r.persons, persons());
        let items = vec![
            Some(Attested {
                color: "yellow".into(),
                groups: vec!["fever".into()],
                valid_until: Some("2020-02-13".into()),
            }),
            None,
        ];
        let ans = answer("330300", &req, items.clone(), &a, T0 + 20);
        let got = open_answer(&ans, &req, 2, &both, "330300", T0 + 30).unwrap();
        assert_eq!(got.items, items);
    }

    /// The bar: nothing beyond color, rule groups, validity and the issuer (with the times and
    /// the request's digest) leaves the home deployment.
    #[test]
    fn the_answer_bytes_carry_nothing_but_color_groups_validity_and_issuer() {
        let (a, b) = (
            IssuerKey::from_seed(&[1; 32]),
            IssuerKey::from_seed(&[2; 32]),
        );
        let req = request(
            "510100",
            "330300",
            "arrival_registration",
            &persons(),
            &b,
            T0,
        )
        .unwrap();
        let items = vec![
            Some(Attested {
                color: "red".into(),
                groups: vec!["case".into(), "contact".into()],
                valid_until: None,
            }),
            Some(Attested {
                color: "green".into(),
                groups: vec![],
                valid_until: None,
            }),
        ];
        let bytes = answer("330300", &req, items, &a, T0);
        // The COSE envelope: protected header (alg, kid), no unprotected header, the payload,
        // the signature — nothing else.
        let v: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
        let ciborium::Value::Tag(18, inner) = v else {
            panic!("not COSE_Sign1")
        };
        let ciborium::Value::Array(parts) = *inner else {
            panic!()
        };
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[1], ciborium::Value::Map(vec![]));
        let ciborium::Value::Bytes(protected) = &parts[0] else {
            panic!()
        };
        let h: ciborium::Value = ciborium::from_reader(protected.as_slice()).unwrap();
        let ciborium::Value::Map(h) = h else { panic!() };
        assert_eq!(h.len(), 2, "alg and kid only");
        let ciborium::Value::Bytes(payload) = &parts[2] else {
            panic!()
        };
        let doc: serde_json::Value = serde_json::from_slice(payload).unwrap();
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, ["exp", "format", "iat", "iss", "items", "request"]);
        for item in doc["items"].as_array().unwrap() {
            let mut k: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            k.sort_unstable();
            assert_eq!(k, ["color", "groups", "valid_until"]);
        }
        // No ID number, nor any part of one, nor the request's persons in any form.
        let text = String::from_utf8_lossy(&bytes);
        for p in persons() {
            assert!(!text.contains(&p) && !text.contains(&p[6..14]), "{p}");
        }
        assert_eq!(doc["request"], digest_b64(&req));
    }

    #[test]
    fn forged_misaddressed_stale_or_swapped_messages_are_refused() {
        let (a, b) = (
            IssuerKey::from_seed(&[1; 32]),
            IssuerKey::from_seed(&[2; 32]),
        );
        let evil = IssuerKey::from_seed(&[66; 32]);
        let both = trust(&[(&a, "330300"), (&b, "510100")]);
        // A request signed by an unknown key, or by A's key pretending to be B.
        let forged = request("510100", "330300", "health_code", &persons(), &evil, T0).unwrap();
        assert!(matches!(
            open_request(&forged, &both, "330300", T0),
            Err(ExchangeError::Refused(_))
        ));
        let posing = request("510100", "330300", "health_code", &persons(), &a, T0).unwrap();
        assert!(matches!(
            open_request(&posing, &both, "330300", T0),
            Err(ExchangeError::Refused(_))
        ));
        // Addressed elsewhere, stale, an unknown purpose, too many persons.
        let req = request("510100", "420100", "health_code", &persons(), &b, T0).unwrap();
        assert!(open_request(&req, &both, "330300", T0).is_err());
        let req = request("510100", "330300", "health_code", &persons(), &b, T0).unwrap();
        assert!(matches!(
            open_request(&req, &both, "330300", T0 + REQUEST_TTL_SECS + 1),
            Err(ExchangeError::Conflict(_))
        ));
        let odd = request("510100", "330300", "curiosity", &persons(), &b, T0).unwrap();
        assert!(open_request(&odd, &both, "330300", T0).is_err());
        let many = vec!["x".to_string(); MAX_BATCH + 1];
        assert!(request("510100", "330300", "health_code", &many, &b, T0).is_err());
        // A changed byte anywhere.
        let mut tampered = req.clone();
        let n = tampered.len();
        tampered[n / 2] ^= 1;
        assert!(open_request(&tampered, &both, "330300", T0).is_err());

        // An answer to another request, from another region, by an unknown key, too short,
        // expired.
        let other = request("510100", "330300", "health_code", &persons(), &b, T0).unwrap();
        let items = vec![None, None];
        let ans = answer("330300", &other, items.clone(), &a, T0);
        assert!(matches!(
            open_answer(&ans, &req, 2, &both, "330300", T0),
            Err(ExchangeError::Refused(_))
        ));
        let ans = answer("330300", &req, items.clone(), &a, T0);
        assert!(open_answer(&ans, &req, 2, &both, "510100", T0).is_err());
        assert!(open_answer(&ans, &req, 3, &both, "330300", T0).is_err());
        assert!(open_answer(&ans, &req, 2, &both, "330300", T0 + ANSWER_TTL_SECS + 1).is_err());
        let ans = answer("330300", &req, items, &evil, T0);
        assert!(open_answer(&ans, &req, 2, &both, "330300", T0).is_err());
        assert!(open_answer(b"junk", &req, 2, &both, "330300", T0).is_err());
    }
}
