//! EU Digital COVID Certificate (`HC1:`) claims: the CWT (1 iss, 4 exp, 5 nbf, 6 iat, -260
//! hcert → 1 the DCC itself), its certificate type (vaccination, test, recovery), which types a
//! document signer's extended key usage allows, and the payload's schema (`schema.rs`).
//!
//! Times are CWT NumericDates (RFC 8392): an integer of any CBOR width or a floating-point
//! number (fractions allowed), optionally tagged 1; a negative, NaN or infinite time is refused.

pub mod schema;
pub mod value_sets;

use ciborium::Value;

pub use schema::{SchemaError, validate_schema, validate_structure};
pub use value_sets::check_value_sets;

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
        Err(VerifyError::Schema(shown_errors(&errors)))
    }

    /// The payload's coded fields against the EU value sets (`value_sets.rs`); run after the
    /// schema, so the fields are there with the right types.
    pub fn check_value_sets(&self) -> Result<(), VerifyError> {
        let errors = match check_value_sets(&to_json(&self.hcert)) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        Err(VerifyError::ValueSet(shown_errors(&errors)))
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

/// The first three problems, each at most 160 characters, and how many more there are.
fn shown_errors(errors: &[SchemaError]) -> String {
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
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(entries: Vec<(i64, Value)>) -> Vec<u8> {
        let mut m: Vec<(Value, Value)> = entries
            .into_iter()
            .map(|(k, v)| (Value::Integer(k.into()), v))
            .collect();
        let dcc = Value::Map(vec![(
            Value::Text("ver".into()),
            Value::Text("1.3.0".into()),
        )]);
        m.push((
            Value::Integer((-260).into()),
            Value::Map(vec![(Value::Integer(1.into()), dcc)]),
        ));
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(m), &mut out).unwrap();
        out
    }

    #[test]
    fn numeric_dates_may_be_floats_and_integers_of_any_width() {
        let c = DccClaims::decode(&claims(vec![
            (4, Value::Float(1_620_000_000.75)),
            (6, Value::Float(1_610_000_000.25)),
            (
                5,
                Value::Tag(1, Box::new(Value::Integer(1_600_000_000.into()))),
            ),
        ]))
        .unwrap();
        // The expiry rounds down and the start up: neither lengthens validity.
        assert_eq!(
            (c.exp, c.iat, c.nbf),
            (
                Some(1_620_000_000),
                Some(1_610_000_001),
                Some(1_600_000_000)
            )
        );
        assert!(c.check_time(1_620_000_000).is_ok());
        assert!(c.check_time(1_620_000_001).is_err());
        assert!(c.check_time(1_610_000_000).is_err());

        // An 8-byte integer where one of 4 would do, and a half-precision float.
        let mut bytes = claims(vec![(4, Value::Integer(1.into()))]);
        let at = bytes.windows(2).position(|w| w == [0x04, 0x01]).unwrap();
        bytes.splice(at + 1..at + 2, [0x1b, 0, 0, 0, 0, 0x60, 0x8f, 0x3d, 0x00]);
        assert_eq!(DccClaims::decode(&bytes).unwrap().exp, Some(1_620_000_000));
        let mut half = claims(vec![(4, Value::Integer(1.into()))]);
        let at = half.windows(2).position(|w| w == [0x04, 0x01]).unwrap();
        half.splice(at + 1..at + 2, [0xf9, 0x3c, 0x00]); // 1.0 as f16
        assert_eq!(DccClaims::decode(&half).unwrap().exp, Some(1));

        for (bad, why) in [
            (Value::Float(f64::NAN), "NaN"),
            (Value::Float(f64::INFINITY), "infinite"),
            (Value::Float(-1.5), "negative"),
            (Value::Integer((-5).into()), "negative"),
            (Value::Integer(u64::MAX.into()), "9999"),
            (Value::Float(1e300), "9999"),
            (Value::Text("1620000000".into()), "not a time"),
        ] {
            let e = DccClaims::decode(&claims(vec![(4, bad)])).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            assert!(e.to_string().contains("claim 4 (exp)"), "{e}");
        }
    }

    #[test]
    fn validation_clocks_in_every_written_form() {
        let t = 1_620_064_800; // 2021-05-03T18:00:00Z
        for s in [
            "2021-05-03T18:00:00",
            "2021-05-03T18:00:00Z",
            "2021-05-03t18:00:00z",
            "2021-05-03T18:00:00+00:00",
            "2021-05-03T18:00:00+0000",
            "2021-05-03T18:00:00+00",
            "2021-05-03T18:00:00.822623",
            "2021-05-03T20:00:00+02:00",
            "2021-05-03T20:00:00+0200",
            "2021-05-03T16:00:00.5-0200",
            " 2021-05-03 18:00:00Z ",
        ] {
            assert_eq!(parse_validation_clock(s), Ok(t), "{s}");
        }
        assert_eq!(parse_clock("2021-05-03T18:00:00"), Some((t, false)));
        assert_eq!(parse_clock("2021-05-03T18:00:00+0000"), Some((t, true)));
        for bad in [
            "",
            "2021-05-03",
            "2021-05-03T18:00",
            "2021-05-03T18:00:00+2",
            "2021-05-03T18:00:00+02:0",
            "2021-05-03T18:00:00 UTC",
            "2021-13-03T18:00:00Z",
            "2021-05-03T18:00:00Zé",
            "２０２１-05-03T18:00:00Z",
        ] {
            let e = parse_validation_clock(bad).unwrap_err();
            assert!(e.contains("not a time"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_date_of_birth_after_issue_and_byte_strings_fail_the_schema() {
        let mut dcc = serde_json::json!({
            "ver": "1.3.0", "nam": {"fnt": "A"}, "dob": "2021-06",
            "r": [{"tg": "840539006", "fr": "2021-01-01", "co": "AT", "is": "X",
                   "df": "2021-01-10", "du": "2021-06-30", "ci": "U"}]
        });
        let c = |dcc: &serde_json::Value, iat: i64| DccClaims {
            iss: None,
            iat: Some(iat),
            exp: None,
            nbf: None,
            hcert: Value::serialized(dcc).unwrap(),
        };
        // 2021-05-31T23:59:59Z: a birth in June 2021 is after it; on 2021-06-01 it is not.
        let e = c(&dcc, 1_622_505_599).check_schema().unwrap_err();
        assert!(e.to_string().contains("dob is after the day"), "{e}");
        assert!(c(&dcc, 1_622_505_600).check_schema().is_ok());
        dcc["dob"] = "".into();
        assert!(c(&dcc, 0).check_schema().is_ok());

        let mut with_bytes = c(&dcc, 0);
        if let Value::Map(m) = &mut with_bytes.hcert {
            m.push((Value::Text("ci".into()), Value::Bytes(vec![1, 2])));
        }
        let e = with_bytes.check_schema().unwrap_err();
        assert!(e.to_string().contains("ci is a byte string"), "{e}");
        assert_eq!(e.check(), crate::Check::Schema);
    }
}
