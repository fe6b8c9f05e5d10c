//! EU Digital COVID Certificate (`HC1:`) claims: the CWT (1 iss, 4 exp, 5 nbf, 6 iat, -260
//! hcert → 1 the DCC itself), its certificate type (vaccination, test, recovery), which types a
//! document signer's extended key usage allows, and the payload's schema (`schema.rs`).
//!
//! Times are CWT NumericDates (RFC 8392): an integer of any CBOR width or a floating-point
//! number (fractions allowed), optionally tagged 1; a negative, NaN or infinite time is refused.

pub mod schema;

use ciborium::Value;

pub use schema::{SchemaError, validate_schema, validate_structure};

use crate::VerifyError;
use crate::cose::{map_get, to_json};

/// What a DCC certifies: its payload has a `v`, `t` or `r` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertType {
    Test,
    Vaccination,
    Recovery,
}

impl CertType {
    pub fn name(self) -> &'static str {
        match self {
            CertType::Test => "test",
            CertType::Vaccination => "vaccination",
            CertType::Recovery => "recovery",
        }
    }

    /// Extended key usage OIDs for DCC signers (the eHealth Network's arc and its later
    /// alternative): `…1847.2021.1.1` test, `.1.2` vaccination, `.1.3` recovery.
    fn from_oid(oid: &str) -> Option<CertType> {
        let last = oid
            .strip_prefix("1.3.6.1.4.1.1847.2021.1.")
            .or_else(|| oid.strip_prefix("1.3.6.1.4.1.0.1847.2021.1."))?;
        match last {
            "1" => Some(CertType::Test),
            "2" => Some(CertType::Vaccination),
            "3" => Some(CertType::Recovery),
            _ => None,
        }
    }

    /// The types a certificate with these EKU OIDs may sign: `None` (all) when it names none
    /// of the DCC OIDs.
    pub fn allowed_by(oids: &[String]) -> Option<Vec<CertType>> {
        let mut types: Vec<CertType> = oids.iter().filter_map(|o| CertType::from_oid(o)).collect();
        types.dedup();
        (!types.is_empty()).then_some(types)
    }
}

/// The claims of a DCC's CWT.
#[derive(Debug, Clone)]
pub struct DccClaims {
    pub iss: Option<String>,
    pub iat: Option<i64>,
    pub exp: Option<i64>,
    /// Not before (claim 5): DCCs rarely carry it; when present it is checked like `iat`.
    pub nbf: Option<i64>,
    /// The DCC payload (`-260` → `1`): `ver`, `nam`, `dob` and one of `v`, `t`, `r`.
    pub hcert: Value,
}

impl DccClaims {
    /// Decodes the CWT claims of a COSE payload.
    pub fn decode(payload: &[u8]) -> Result<DccClaims, VerifyError> {
        let v = crate::cose::decode_exact(payload, "CWT claims").map_err(VerifyError::Claims)?;
        crate::cose::unique_keys(&v, "the CWT claims").map_err(VerifyError::Claims)?;
        let Value::Map(m) = v else {
            return Err(VerifyError::Claims("CWT claims are not a CBOR map".into()));
        };
        let hcert = match map_get(&m, -260) {
            Some(Value::Map(h)) => map_get(h, 1)
                .cloned()
                .ok_or_else(|| VerifyError::Claims("no DCC (-260 → 1) in the claims".into()))?,
            _ => return Err(VerifyError::Claims("no hcert claim (-260)".into())),
        };
        if !matches!(hcert, Value::Map(_)) {
            return Err(VerifyError::Claims(
                "the DCC (-260 → 1) is not a map".into(),
            ));
        }
        // A fractional expiry is cut down to the second and a fractional start rounded up, so
        // neither widens the time the certificate is valid.
        let time = |k: i64, name: &str, round_up: bool| -> Result<Option<i64>, VerifyError> {
            map_get(&m, k)
                .map(|v| numeric_date(v, round_up))
                .transpose()
                .map_err(|why| VerifyError::Claims(format!("claim {k} ({name}) {why}")))
        };
        Ok(DccClaims {
            iss: match map_get(&m, 1) {
                Some(Value::Text(s)) => Some(s.clone()),
                _ => None,
            },
            iat: time(6, "iat", true)?,
            exp: time(4, "exp", false)?,
            nbf: time(5, "nbf", true)?,
            hcert,
        })
    }

    /// The certificate types the payload holds (normally exactly one).
    pub fn cert_types(&self) -> Vec<CertType> {
        let Value::Map(m) = &self.hcert else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            let t = match k {
                Value::Text(s) if s == "v" => CertType::Vaccination,
                Value::Text(s) if s == "t" => CertType::Test,
                Value::Text(s) if s == "r" => CertType::Recovery,
                _ => continue,
            };
            if matches!(v, Value::Array(a) if !a.is_empty()) {
                out.push(t);
            }
        }
        out
    }

    /// Key usage: every type in the payload must be allowed (`allowed` `None` = all).
    pub fn check_key_usage(&self, allowed: Option<&[CertType]>) -> Result<(), VerifyError> {
        let Some(allowed) = allowed else {
            return Ok(());
        };
        for t in self.cert_types() {
            if !allowed.contains(&t) {
                return Err(VerifyError::KeyUsage {
                    cert_type: t.name().to_string(),
                    allowed: allowed
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }

    /// Expiry at `at`: refused after `exp` and before `iat` (or `nbf`).
    pub fn check_time(&self, at: i64) -> Result<(), VerifyError> {
        if let Some(exp) = self.exp
            && at > exp
        {
            return Err(VerifyError::Expired {
                exp: crate::rfc3339(exp),
            });
        }
        for start in [self.iat, self.nbf].into_iter().flatten() {
            if at < start {
                return Err(VerifyError::NotYetValid {
                    iat: crate::rfc3339(start),
                });
            }
        }
        Ok(())
    }

    /// The payload against the DCC schema of its version ([`validate_schema`]), and its date
    /// of birth not after the day it was issued. The first few problems make the reason.
    pub fn check_schema(&self) -> Result<(), VerifyError> {
        let mut errors = match byte_string_at(&self.hcert, String::new()) {
            Some(path) => vec![SchemaError {
                path,
                reason: "is a byte string where the schema has text, numbers, arrays and maps"
                    .into(),
                structural: true,
            }],
            None => validate_schema(&to_json(&self.hcert))
                .err()
                .unwrap_or_default(),
        };
        if let (Some(iat), Some(born)) = (self.iat, self.born_on_or_after())
            && born > model::Timestamp(iat.saturating_mul(1000)).date(model::Zone::UTC)
        {
            errors.push(SchemaError {
                path: "dob".into(),
                reason: "is after the day the certificate was issued".into(),
                structural: false,
            });
        }
        if errors.is_empty() {
            return Ok(());
        }
        const SHOWN: usize = 3;
        let mut text = errors
            .iter()
            .take(SHOWN)
            .map(|e| crate::printable(&e.to_string(), 160))
            .collect::<Vec<_>>()
            .join("; ");
        if errors.len() > SHOWN {
            text.push_str(&format!(" (and {} more)", errors.len() - SHOWN));
        }
        Err(VerifyError::Schema(text))
    }

    /// The earliest day the payload's date of birth (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`) can
    /// mean; `None` when it is empty or not such a date.
    fn born_on_or_after(&self) -> Option<model::Date> {
        let Value::Map(m) = &self.hcert else {
            return None;
        };
        let dob = m.iter().find_map(|(k, v)| match (k, v) {
            (Value::Text(k), Value::Text(v)) if k == "dob" => Some(v.as_str()),
            _ => None,
        })?;
        let b = dob.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
        };
        let y = num(0..4)? as i32;
        let m = if b.len() >= 7 { num(5..7)?.max(1) } else { 1 };
        let d = if b.len() >= 10 { num(8..10)?.max(1) } else { 1 };
        model::Date::from_ymd(
            y,
            m.min(12),
            d.min(model::time::days_in_month(y, m.min(12))),
        )
    }

    /// The claims as JSON: `iss`, `iat`, `exp` (RFC 3339), `type` and `dcc` (the payload).
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(serde::Serialize)]
        struct Shape {
            iss: Option<String>,
            iat: Option<String>,
            exp: Option<String>,
            #[serde(rename = "type")]
            kind: Option<&'static str>,
            dcc: serde_json::Value,
        }
        let shape = Shape {
            iss: self.iss.clone(),
            iat: self.iat.map(crate::rfc3339),
            exp: self.exp.map(crate::rfc3339),
            kind: self.cert_types().first().map(|t| t.name()),
            dcc: to_json(&self.hcert),
        };
        serde_json::to_value(shape).expect("serialisable")
    }
}

/// A CWT NumericDate as Unix seconds: an integer (any CBOR width) or a finite floating-point
/// number, rounded down (`round_up` false) or up; refused when negative, not finite or beyond
/// the year 9999.
pub fn numeric_date(v: &Value, round_up: bool) -> Result<i64, String> {
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let secs = match v {
        Value::Tag(1, inner) => return numeric_date(inner, round_up),
        Value::Integer(i) => {
            let i = i128::from(*i);
            if i < 0 {
                return Err("is a negative time".into());
            }
            i64::try_from(i).unwrap_or(i64::MAX)
        }
        Value::Float(f) if f.is_nan() => return Err("is not a number (NaN)".into()),
        Value::Float(f) if f.is_infinite() => return Err("is an infinite time".into()),
        Value::Float(f) if *f < 0.0 => return Err("is a negative time".into()),
        Value::Float(f) => {
            let r = if round_up { f.ceil() } else { f.floor() };
            if r > MAX as f64 { i64::MAX } else { r as i64 }
        }
        _ => return Err("is not a time (an integer or floating-point number of seconds)".into()),
    };
    if secs > MAX {
        return Err("is after the year 9999".into());
    }
    Ok(secs)
}

/// Parses a validation clock: RFC 3339 with the offset written `Z`, `+00:00`, `+0000` or
/// `+00`, or with none at all (then UTC); a fraction of a second is allowed. Returns Unix
/// seconds (rounded down) and whether an offset was written.
pub fn parse_clock(s: &str) -> Option<(i64, bool)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return None;
    }
    let mut end = 19;
    if b.get(end) == Some(&b'.') {
        end += 1;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    let (body, tail) = s.split_at(end);
    let offset = match tail.as_bytes() {
        [] => None,
        [b'Z' | b'z'] => Some("+00:00".to_string()),
        [sign @ (b'+' | b'-'), h1, h2, rest @ ..] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
            let minutes = match rest {
                [] => "00".to_string(),
                [b':', m1, m2] | [m1, m2] if m1.is_ascii_digit() && m2.is_ascii_digit() => {
                    format!("{}{}", *m1 as char, *m2 as char)
                }
                _ => return None,
            };
            Some(format!(
                "{}{}{}:{minutes}",
                *sign as char, *h1 as char, *h2 as char
            ))
        }
        _ => return None,
    };
    let text = format!("{body}{}", offset.as_deref().unwrap_or("+00:00"));
    let t = model::Timestamp::parse_rfc3339(text.as_bytes()).ok()?;
    Some((t.millis().div_euclid(1000), offset.is_some()))
}

/// A validation clock as Unix seconds ([`parse_clock`]): a time without an offset is UTC.
pub fn parse_validation_clock(s: &str) -> Result<i64, String> {
    parse_clock(s).map(|(t, _)| t).ok_or_else(|| {
        format!(
            "{} is not a time of the form 2021-05-03T18:00:00Z (the offset may also be +00:00, +0000 or left out for UTC)",
            crate::printable(s, 40)
        )
    })
}

/// The path of the first byte string in `v`, if any (JSON has none, so the schema would see
/// it only as the base64 text it is shown as).
fn byte_string_at(v: &Value, path: String) -> Option<String> {
    match v {
        Value::Bytes(_) => Some(if path.is_empty() {
            "(the payload)".into()
        } else {
            path
        }),
        Value::Tag(_, inner) => byte_string_at(inner, path),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| byte_string_at(x, format!("{path}[{i}]"))),
        Value::Map(m) => m.iter().find_map(|(k, x)| {
            let key = match k {
                Value::Text(t) => crate::printable(t, 20),
                _ => "?".into(),
            };
            let p = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            byte_string_at(k, p.clone()).or_else(|| byte_string_at(x, p))
        }),
        _ => None,
    }
}
