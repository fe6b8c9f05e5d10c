//! `FY1:` health codes: CWT claims signed with Ed25519 in a COSE_Sign1.
//!
//! Claims (a CBOR map): `1` iss (the issuer's 6-digit region), `6` iat and `4` exp (Unix
//! seconds; exp is the code's own expiry, issued + TTL, since a color is one day's judgment),
//! `7` cti (16 random bytes: the code's id, which revocation names), and the private claim
//! `-65537` → `{"sub": 16 bytes, "color": "green"|"yellow"|"red", "valid_until": date|null,
//! "as_of": date}`. `sub` is a keyed pseudonym made for codes only (not the store's), so a
//! verifier learns the color and its validity, not who.

use ciborium::Value;
use model::Color;

use crate::cose::{as_i64, map_get, to_json};
use crate::transport::Kind;
use crate::{VerifyError, hex, transport};

/// The private claim key holding fangyi's fields (below -65536: private use, RFC 8392).
pub const CLAIM_KEY: i64 = -65537;

/// The longest time a code may stay valid offline (`code issue --ttl` at most): 7 days. A
/// retired key stays trusted this long after rotation.
pub const MAX_TTL_SECS: i64 = 7 * 86_400;

/// What an `FY1:` code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The issuer's region code (6 digits).
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// The code's id.
    pub cti: [u8; 16],
    /// The person's code pseudonym.
    pub sub: [u8; 16],
    pub color: Color,
    /// The color's valid-until date (`YYYY-MM-DD`) from the rules, if any.
    pub valid_until: Option<String>,
    /// The date the color was judged for.
    pub as_of: String,
}

impl Claims {
    /// The CBOR encoding of the claims.
    pub fn to_cbor(&self) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.to_string());
        let private = Value::Map(vec![
            (text("sub"), Value::Bytes(self.sub.to_vec())),
            (text("color"), text(self.color.as_str())),
            (
                text("valid_until"),
                self.valid_until.as_deref().map_or(Value::Null, text),
            ),
            (text("as_of"), text(&self.as_of)),
        ]);
        let map = Value::Map(vec![
            (Value::from(1), text(&self.iss)),
            (Value::from(4), Value::from(self.exp)),
            (Value::from(6), Value::from(self.iat)),
            (Value::from(7), Value::Bytes(self.cti.to_vec())),
            (Value::from(CLAIM_KEY), private),
        ]);
        let mut out = Vec::with_capacity(128);
        ciborium::into_writer(&map, &mut out).expect("writing to memory");
        out
    }

    /// Decodes claims written by [`Claims::to_cbor`], and only those: bytes that decode to
    /// claims but are not exactly their encoding (another key order, a longer number, a key
    /// twice, an unknown claim, anything after the map) are refused, so one code has one form.
    pub fn from_cbor(bytes: &[u8]) -> Result<Claims, VerifyError> {
        let claims = Claims::read(bytes)?;
        if claims.to_cbor() != bytes {
            return Err(VerifyError::Claims(
                "they are not in the one encoding fangyi signs them in".into(),
            ));
        }
        Ok(claims)
    }

    fn read(bytes: &[u8]) -> Result<Claims, VerifyError> {
        let bad = |what: &str| VerifyError::Claims(what.to_string());
        let v = crate::cose::decode_exact(bytes, "claims").map_err(VerifyError::Claims)?;
        crate::cose::unique_keys(&v, "the claims").map_err(VerifyError::Claims)?;
        let Value::Map(m) = v else {
            return Err(bad("claims are not a CBOR map"));
        };
        let text = |v: Option<&Value>, name: &str| match v {
            Some(Value::Text(s)) => Ok(s.clone()),
            _ => Err(bad(&format!("{name} missing or not text"))),
        };
        let bytes16 = |v: Option<&Value>, name: &str| match v {
            Some(Value::Bytes(b)) => <[u8; 16]>::try_from(b.as_slice())
                .map_err(|_| bad(&format!("{name} is not 16 bytes"))),
            _ => Err(bad(&format!("{name} missing or not bytes"))),
        };
        let int = |k: i64, name: &str| {
            map_get(&m, k)
                .and_then(as_i64)
                .ok_or_else(|| bad(&format!("{name} missing or not an integer")))
        };
        let Some(Value::Map(p)) = map_get(&m, CLAIM_KEY) else {
            return Err(bad("no fangyi claim"));
        };
        let get = |name: &str| {
            p.iter()
                .find(|(k, _)| matches!(k, Value::Text(s) if s == name))
                .map(|(_, v)| v)
        };
        let color = text(get("color"), "color")?;
        Ok(Claims {
            iss: text(map_get(&m, 1), "iss")?,
            iat: int(6, "iat")?,
            exp: int(4, "exp")?,
            cti: bytes16(map_get(&m, 7), "cti")?,
            sub: bytes16(get("sub"), "sub")?,
            color: Color::parse(&color)
                .ok_or_else(|| bad("the color is not green, yellow or red"))?,
            valid_until: match get("valid_until") {
                None | Some(Value::Null) => None,
                Some(Value::Text(s)) => Some(s.clone()),
                Some(_) => return Err(bad("valid_until is not text or null")),
            },
            as_of: text(get("as_of"), "as_of")?,
        })
    }

    /// The claims as JSON for `verify --format json` (`sub` and `cti` in hex, times RFC 3339).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_shape()).expect("serialisable")
    }

    pub(crate) fn json_shape(&self) -> ClaimsJson<'_> {
        ClaimsJson {
            iss: &self.iss,
            iat: crate::rfc3339(self.iat),
            exp: crate::rfc3339(self.exp),
            cti: hex(&self.cti),
            sub: hex(&self.sub),
            color: self.color.as_str(),
            valid_until: self.valid_until.as_deref(),
            as_of: &self.as_of,
        }
    }

    /// Fresh random bytes for a code id.
    pub fn new_cti() -> [u8; 16] {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the operating system's random numbers");
        b
    }
}

/// [`Claims`] as JSON, keys in this order.
#[derive(serde::Serialize)]
pub(crate) struct ClaimsJson<'a> {
    iss: &'a str,
    iat: String,
    exp: String,
    cti: String,
    sub: String,
    color: &'static str,
    valid_until: Option<&'a str>,
    as_of: &'a str,
}

/// An issuer's signing key of one generation: an Ed25519 key derived from a 32-byte seed.
pub struct IssuerKey {
    key: ed25519_dalek::SigningKey,
    kid: [u8; 8],
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerKey {{ kid: {} }}", crate::b64(&self.kid))
    }
}

impl IssuerKey {
    pub fn from_seed(seed: &[u8; 32]) -> IssuerKey {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let kid = crate::kid_of(key.verifying_key().as_bytes());
        IssuerKey { key, kid }
    }

    /// A key from fresh random bytes (benchmarks and tests).
    pub fn random() -> IssuerKey {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random numbers");
        IssuerKey::from_seed(&seed)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key id: the first 8 bytes of the SHA-256 of the raw public key.
    pub fn kid(&self) -> [u8; 8] {
        self.kid
    }

    /// Signs `claims` into an `FY1:` payload.
    pub fn sign(&self, claims: &Claims) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signs `claims` naming key id `kid` in the header (tests build forgeries with it).
    pub fn sign_as(&self, kid: &[u8], claims: &Claims) -> String {
        let cose = crate::cose::sign_ed25519(&self.key, kid, claims.to_cbor())
            .expect("encoding a COSE_Sign1 in memory");
        transport::encode(Kind::Fangyi, &cose)
    }

    /// Signs `payload` as a COSE_Sign1 under this key's kid: a document the province vouches
    /// for with its key (its key submission to a trust hub), not a code.
    pub fn sign_document(&self, payload: Vec<u8>) -> Vec<u8> {
        crate::cose::sign_ed25519(&self.key, &self.kid, payload)
            .expect("encoding a COSE_Sign1 in memory")
    }

    /// A trust entry for this key: kid, public key and region, and `not_after` if retired.
    pub fn trust_entry(&self, region: &str, not_after: Option<i64>) -> crate::TrustEntry {
        crate::TrustEntry {
            kid: Some(crate::b64(&self.kid)),
            public_key: Some(crate::b64(&self.public_key())),
            region: Some(region.to_string()),
            issuer: Some(format!("fangyi {region}")),
            not_after: not_after.map(crate::rfc3339),
            ..Default::default()
        }
    }
}

/// CBOR claims of any CWT as JSON (for a payload whose fangyi claim is unreadable).
pub fn raw_claims_json(bytes: &[u8]) -> Option<serde_json::Value> {
    ciborium::from_reader::<Value, _>(bytes)
        .ok()
        .map(|v| to_json(&v))
}
