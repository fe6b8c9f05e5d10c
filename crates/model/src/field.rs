//! Parsing one input field by its [`FieldType`]: the single place where the contract's field
//! rules (ids, regions, times, enums, numbers, phones) are applied and values normalised.

use std::borrow::Cow;
use std::fmt;

use crate::kind::FieldType;
use crate::time::DateMemo;
use crate::value::Sex;
use crate::{Date, EnterpriseId, PersonId, Region, Timestamp};

/// Why a field was refused, in words an operator can act on. Never carries a personal value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError(Cow<'static, str>);

impl FieldError {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> FieldError {
        FieldError(reason.into())
    }

    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FieldError {}

/// A parsed, normalised field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    PersonId(PersonId),
    EnterpriseId(EnterpriseId),
    Region(Region),
    RegionList(Vec<Region>),
    /// Text, tokens, cars and phones, normalised.
    Str(Cow<'a, str>),
    Sex(Sex),
    /// Index into the enum's names.
    Enum(u8),
    Timestamp(Timestamp),
    Date(Date),
    Float(f64),
    Int(i64),
    Bool(bool),
}

/// Parses a present field (the caller has already treated an empty, trimmed cell as absent).
pub fn parse(ty: FieldType, raw: &str) -> Result<Value<'_>, FieldError> {
    Parser::default().parse(ty, raw)
}

/// Parses fields one after another, remembering the last date seen (rows of a file share a
/// few dates), with exactly the results of [`parse`].
#[derive(Clone, Debug, Default)]
pub struct Parser {
    dates: DateMemo,
}

impl Parser {
    pub fn parse<'a>(&mut self, ty: FieldType, raw: &'a str) -> Result<Value<'a>, FieldError> {
        let s = trim(raw);
        Ok(match ty {
            FieldType::Timestamp => Value::Timestamp(Timestamp::parse_rfc3339_with(
                s.as_bytes(),
                &mut self.dates,
            )?),
            FieldType::Date => Value::Date(self.dates.date(s.as_bytes())?),
            _ => parse_stateless(ty, s)?,
        })
    }
}

fn parse_stateless(ty: FieldType, s: &str) -> Result<Value<'_>, FieldError> {
    Ok(match ty {
        FieldType::PersonId => Value::PersonId(PersonId::parse(s.as_bytes())?),
        FieldType::EnterpriseId => Value::EnterpriseId(EnterpriseId::parse(s.as_bytes())?),
        FieldType::Region => Value::Region(Region::parse(s.as_bytes())?),
        FieldType::RegionList => Value::RegionList(parse_region_list(s)?),
        FieldType::Text => Value::Str(Cow::Borrowed(s)),
        FieldType::Token => Value::Str(token(s)?),
        FieldType::Car => Value::Str(car(s)?),
        FieldType::Phone => Value::Str(Cow::Owned(phone(s)?)),
        FieldType::Sex => {
            Value::Sex(Sex::parse_loose(s).ok_or_else(|| FieldError::new("sex must be M or F"))?)
        }
        FieldType::Enum(names) => Value::Enum(enum_index(names, s)?),
        FieldType::Timestamp => Value::Timestamp(Timestamp::parse_rfc3339(s.as_bytes())?),
        FieldType::Date => Value::Date(Date::parse(s.as_bytes())?),
        FieldType::Float { min, max } => Value::Float(float(s, min, max)?),
        FieldType::Int { min, max } => Value::Int(int(s, min, max)?),
        FieldType::Bool => Value::Bool(boolean(s)?),
    })
}

/// Trims Unicode whitespace, quickly when there is none at either end (the usual case).
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&b)) if a > b' ' && a < 0x80 && b > b' ' && b < 0x80 => s,
        _ => s.trim(),
    }
}

pub fn parse_region_list(s: &str) -> Result<Vec<Region>, FieldError> {
    let mut out = Vec::new();
    for part in s.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        out.push(Region::parse(part.as_bytes())?);
    }
    Ok(out)
}

/// Upper-cases a code; refuses inner whitespace and control characters.
pub fn token(s: &str) -> Result<Cow<'_, str>, FieldError> {
    let spaced = if s.is_ascii() {
        s.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if spaced {
        return Err(FieldError::new("code must not contain spaces"));
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Ok(Cow::Owned(s.to_ascii_uppercase()))
    } else {
        Ok(Cow::Borrowed(s))
    }
}

/// Car numbers compare as numbers: `5`, `05` and `005` are all car `05`.
pub fn car(s: &str) -> Result<Cow<'_, str>, FieldError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let digits = s.trim_start_matches('0');
        if digits.len() > 4 {
            return Err(FieldError::new("car number too large"));
        }
        let canonical = s.len() == 2 || (s.len() > 2 && !s.starts_with('0'));
        if canonical {
            return Ok(Cow::Borrowed(s));
        }
        let n: u32 = if digits.is_empty() {
            0
        } else {
            digits.parse().expect("digits")
        };
        return Ok(Cow::Owned(format!("{n:02}")));
    }
    token(s)
}

/// Normalises a phone number to its digits (a `+86`/`0086` country prefix dropped).
pub fn phone(s: &str) -> Result<String, FieldError> {
    let mut digits = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            '+' if i == 0 => {}
            _ => {
                return Err(FieldError::new(
                    "phone may hold only digits, spaces, dashes and a leading +",
                ));
            }
        }
    }
    let d = if s.starts_with('+') {
        digits
            .strip_prefix("86")
            .map(str::to_string)
            .unwrap_or(digits)
    } else if let Some(rest) = digits.strip_prefix("0086") {
        rest.to_string()
    } else {
        digits
    };
    if !(7..=15).contains(&d.len()) {
        return Err(FieldError::new(format!(
            "phone must have 7 to 15 digits, found {}",
            d.len()
        )));
    }
    Ok(d)
}

pub fn enum_index(names: &[&str], s: &str) -> Result<u8, FieldError> {
    if let Some(i) = names.iter().position(|n| *n == s) {
        return Ok(i as u8);
    }
    let lower = s.to_ascii_lowercase();
    names
        .iter()
        .position(|n| *n == lower)
        .map(|i| i as u8)
        .ok_or_else(|| FieldError::new(format!("must be one of {}", names.join(", "))))
}

pub fn float(s: &str, min: f64, max: f64) -> Result<f64, FieldError> {
    let v: f64 = s.parse().map_err(|_| FieldError::new("not a number"))?;
    if !v.is_finite() {
        return Err(FieldError::new("not a finite number"));
    }
    if v < min || v > max {
        // The value is not quoted: a temperature or an age is personal.
        return Err(FieldError::new(format!("is outside {min}..{max}")));
    }
    Ok(v)
}

pub fn int(s: &str, min: i64, max: i64) -> Result<i64, FieldError> {
    let v: i64 = s
        .parse()
        .map_err(|_| FieldError::new("not a whole number"))?;
    if v < min || v > max {
        // The value is not quoted: a temperature or an age is personal.
        return Err(FieldError::new(format!("is outside {min}..{max}")));
    }
    Ok(v)
}

pub fn boolean(s: &str) -> Result<bool, FieldError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(FieldError::new("must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::FieldType as T;

    fn ok(ty: T, s: &str) -> Value<'_> {
        parse(ty, s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }
    fn err(ty: T, s: &str) -> String {
        match parse(ty, s) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{s:?} accepted as {v:?}"),
        }
    }

    #[test]
    fn tokens_and_cars_normalise() {
        assert_eq!(ok(T::Token, " g1234 "), Value::Str("G1234".into()));
        assert_eq!(ok(T::Car, "5"), Value::Str("05".into()));
        assert_eq!(ok(T::Car, "05"), Value::Str("05".into()));
        assert_eq!(ok(T::Car, "005"), Value::Str("05".into()));
        assert_eq!(ok(T::Car, "16"), Value::Str("16".into()));
        assert_eq!(ok(T::Car, "116"), Value::Str("116".into()));
        assert_eq!(ok(T::Car, "b"), Value::Str("B".into()));
        assert!(err(T::Token, "G 12").contains("spaces"));
    }

    #[test]
    fn enums_are_closed_sets() {
        assert_eq!(ok(T::MODE, "flight"), Value::Enum(1));
        assert_eq!(ok(T::MODE, "RAIL"), Value::Enum(0));
        assert!(err(T::MODE, "bus").contains("rail, flight, coach, ship"));
        assert!(err(T::DIAGNOSIS, "dead").contains("confirmed"));
    }

    #[test]
    fn numbers_have_bounds() {
        assert_eq!(
            ok(
                T::Float {
                    min: 30.0,
                    max: 45.0
                },
                "37.3"
            ),
            Value::Float(37.3)
        );
        assert!(
            err(
                T::Float {
                    min: 30.0,
                    max: 45.0
                },
                "98.6"
            )
            .contains("outside")
        );
        assert!(err(T::Float { min: 0.0, max: 1.0 }, "NaN").contains("finite"));
        assert!(err(T::Float { min: 0.0, max: 1.0 }, "abc").contains("not a number"));
        assert_eq!(ok(T::Int { min: 0, max: 10 }, "7"), Value::Int(7));
        assert!(err(T::Int { min: 0, max: 10 }, "7.5").contains("whole"));
        assert!(err(T::Int { min: 0, max: 10 }, "-1").contains("outside"));
        assert_eq!(ok(T::Bool, "TRUE"), Value::Bool(true));
        assert_eq!(ok(T::Bool, "0"), Value::Bool(false));
        assert!(err(T::Bool, "maybe").contains("true or false"));
    }

    #[test]
    fn phones_keep_their_digits() {
        assert_eq!(
            ok(T::Phone, "138 1234 5678"),
            Value::Str("13812345678".into())
        );
        assert_eq!(
            ok(T::Phone, "+86 138-1234-5678"),
            Value::Str("13812345678".into())
        );
        assert_eq!(
            ok(T::Phone, "0086 13812345678"),
            Value::Str("13812345678".into())
        );
        assert_eq!(
            ok(T::Phone, "(0577) 8888-1234"),
            Value::Str("057788881234".into())
        );
        assert!(err(T::Phone, "12345").contains("7 to 15"));
        assert!(err(T::Phone, "138abc45678").contains("digits"));
    }

    #[test]
    fn region_lists_split_on_semicolons() {
        assert_eq!(
            ok(T::RegionList, "420100; 420500;"),
            Value::RegionList(vec![
                Region::new(420100).unwrap(),
                Region::new(420500).unwrap()
            ])
        );
        assert!(err(T::RegionList, "420100;4205").contains("6-digit"));
    }

    #[test]
    fn ids_times_and_dates_go_through_their_types() {
        assert!(matches!(
            ok(T::PersonId, "11010519491231002X"),
            Value::PersonId(_)
        ));
        assert!(err(T::PersonId, "110105194912310021").contains("check character"));
        assert!(matches!(
            ok(T::Timestamp, "2020-01-23T08:15:00+08:00"),
            Value::Timestamp(_)
        ));
        assert!(err(T::Timestamp, "2020-01-23T08:15:00").contains("offset"));
        assert!(err(T::Date, "2020-02-30").contains("calendar"));
        assert_eq!(ok(T::Sex, "女"), Value::Sex(Sex::Female));
    }

    #[test]
    fn range_errors_do_not_quote_the_value() {
        // A temperature or an age is personal; the reason names the limits only.
        let e = float("45.3", 30.0, 45.0).unwrap_err().to_string();
        assert!(!e.contains("45.3") && e.contains("30..45"), "{e}");
        let e = int("131", 0, 130).unwrap_err().to_string();
        assert!(!e.contains("131") && e.contains("0..130"), "{e}");
    }
}
