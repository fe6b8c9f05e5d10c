//! The EU DCC payload schema (versions 1.0.x to 1.3.x) as plain checks: the fields each
//! version requires, their types, patterns, lengths and ranges, and two consistency rules
//! between fields. Written from the published schema's facts; no JSON-schema engine.
//!
//! What differs by version: names, issuers, ids and testing centres may be 50 characters
//! before 1.2.0 and 80 from it; a date of birth may be empty from 1.2.0 (and carry a time in
//! 1.0.x); a dose number is at most 9 before 1.3.0; a test's centre `tc` is optional from
//! 1.3.1; from 1.3.2 either `fnt` or `gnt` will do where earlier versions require `fnt`. A version this verifier does not know (1.4 and
//! later) is read by the latest rules; another major version is refused.
//!
//! Value sets (vaccine products, test devices, countries, …) are not checked here: the schema
//! names them without listing them, and a country is checked for its shape only (the schema
//! says "ISO 3166 where possible"). `value_sets.rs` checks them, as a step of its own.

use serde_json::Value;

/// One way a payload breaks the schema: where (a JSON path such as `v[0].dn`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub path: String,
    pub reason: String,
    /// A missing field or one of the wrong JSON type: the object does not have the DCC's
    /// structure at all. Otherwise a value breaks a pattern, length, range or consistency
    /// rule.
    pub structural: bool,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{} {}", self.path, self.reason)
        }
    }
}

/// Checks a DCC payload (the JSON of `-260` → `1`) against the schema of the version it
/// names in `ver`. Every problem is reported, in the order of the fields.
pub fn validate_schema(dcc: &Value) -> Result<(), Vec<SchemaError>> {
    let mut c = Checker::default();
    c.payload(dcc);
    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(c.errors)
    }
}

/// Only the structural part of [`validate_schema`]: required fields present with the right
/// JSON types, one certificate group with one entry. A generator's "is this a DCC object"
/// check; values are not judged.
pub fn validate_structure(dcc: &Value) -> Result<(), Vec<SchemaError>> {
    match validate_schema(dcc) {
        Ok(()) => Ok(()),
        Err(all) => {
            let structural: Vec<SchemaError> = all.into_iter().filter(|e| e.structural).collect();
            if structural.is_empty() {
                Ok(())
            } else {
                Err(structural)
            }
        }
    }
}

/// A schema version, `major.minor.patch`.
type Version = (u64, u64, u64);

/// The newest version whose rules this module knows; later 1.x versions are read by them.
const LATEST: Version = (1, 3, 2);

fn parse_version(s: &str) -> Option<Version> {
    let mut parts = s.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let v = (next()?, next()?, next()?);
    parts.next().is_none().then_some(v)
}

#[derive(Default)]
struct Checker {
    errors: Vec<SchemaError>,
    version: Option<Version>,
}

impl Checker {
    fn version(&self) -> Version {
        self.version.unwrap_or(LATEST)
    }

    /// The longest name, issuer, certificate id or testing centre the version allows.
    fn max_len(&self) -> usize {
        if self.version() < (1, 2, 0) { 50 } else { 80 }
    }

    fn push(&mut self, path: &str, structural: bool, reason: impl Into<String>) {
        self.errors.push(SchemaError {
            path: path.to_string(),
            reason: reason.into(),
            structural,
        });
    }

    fn payload(&mut self, dcc: &Value) {
        let Value::Object(m) = dcc else {
            self.push("", true, "the DCC payload is not an object");
            return;
        };
        match m.get("ver") {
            None => self.push("ver", true, "is missing (the schema version)"),
            Some(Value::String(s)) => match parse_version(s) {
                Some(v) if v.0 == 1 => self.version = Some(v),
                Some(_) => self.push("ver", false, "names a schema version other than 1.x"),
                None => self.push("ver", false, "is not a version of the form 1.3.0"),
            },
            Some(_) => self.push("ver", true, "is not a string"),
        }
        match m.get("nam") {
            None => self.push("nam", true, "is missing (the name)"),
            Some(nam) => self.name(nam),
        }
        match m.get("dob") {
            None => self.push("dob", true, "is missing (the date of birth)"),
            Some(Value::String(s)) => self.date_of_birth(s),
            Some(_) => self.push("dob", true, "is not a string"),
        }
        let groups: Vec<&str> = ["v", "t", "r"]
            .into_iter()
            .filter(|g| m.contains_key(*g))
            .collect();
        match groups.len() {
            0 => self.push(
                "",
                true,
                "the payload holds no certificate: it needs one of v (vaccination), t (test) or r (recovery)",
            ),
            1 => {}
            _ => self.push(
                "",
                true,
                format!(
                    "the payload holds {} certificate groups ({}) where the schema allows exactly one",
                    groups.len(),
                    groups.join(", ")
                ),
            ),
        }
        for g in groups {
            match &m[g] {
                Value::Array(entries) => {
                    if entries.len() != 1 {
                        self.push(
                            g,
                            true,
                            format!(
                                "holds {} entries where the schema allows exactly one",
                                entries.len()
                            ),
                        );
                    }
                    for (i, e) in entries.iter().enumerate() {
                        self.entry(g, &format!("{g}[{i}]"), e);
                    }
                }
                _ => self.push(g, true, "is not an array"),
            }
        }
    }

    fn name(&mut self, nam: &Value) {
        let Value::Object(n) = nam else {
            self.push("nam", true, "is not an object");
            return;
        };
        let max = self.max_len();
        for key in ["fn", "fnt", "gn", "gnt"] {
            let path = format!("nam.{key}");
            match n.get(key) {
                None => {}
                Some(Value::String(s)) => {
                    if s.chars().count() > max {
                        self.push(&path, false, format!("is longer than {max} characters"));
                    }
                    if key.ends_with('t') && !s.bytes().all(|b| b.is_ascii_uppercase() || b == b'<')
                    {
                        self.push(
                            &path,
                            false,
                            "may hold only the letters A to Z and < (the ICAO 9303 transliteration)",
                        );
                    }
                }
                Some(_) => self.push(&path, true, "is not a string"),
            }
        }
        if self.version() >= (1, 3, 2) {
            if !n.contains_key("fnt") && !n.contains_key("gnt") {
                self.push(
                    "nam",
                    true,
                    "has neither fnt nor gnt (a transliterated surname or forename)",
                );
            }
        } else if !n.contains_key("fnt") {
            self.push("nam.fnt", true, "is missing (the transliterated surname)");
        }
        // A name given with an empty transliteration: the transliteration cannot be checked
        // against a travel document, and ICAO 9303 never maps letters to nothing.
        for (name, translit) in [("fn", "fnt"), ("gn", "gnt")] {
            let given = n
                .get(name)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty());
            if given && n.get(translit).and_then(Value::as_str) == Some("") {
                self.push(
                    &format!("nam.{translit}"),
                    false,
                    format!("is empty although {name} is given"),
                );
            }
        }
    }

    fn date_of_birth(&mut self, s: &str) {
        let v = self.version();
        if s.is_empty() {
            if v < (1, 2, 0) {
                self.push(
                    "dob",
                    false,
                    "is empty, which schema versions before 1.2.0 do not allow",
                );
            }
            return;
        }
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (s, None),
        };
        let time_ok = match time {
            None => true,
            // 1.0.x wrote some dates of birth as a date with a time of day.
            Some(t) => v < (1, 1, 0) && date.len() == 10 && is_time(t),
        };
        if !(partial_date_shape(date) && time_ok) {
            self.push(
                "dob",
                false,
                "is not a date of birth of the form YYYY, YYYY-MM or YYYY-MM-DD between 1900 and 2099",
            );
        }
    }

    fn entry(&mut self, group: &str, path: &str, e: &Value) {
        let Value::Object(m) = e else {
            self.push(path, true, "is not an object");
            return;
        };
        let v = self.version();
        let required: &[&str] = match group {
            "v" => &["tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"],
            // The testing centre became optional in 1.3.1.
            "t" if v < (1, 3, 1) => &["tg", "tt", "sc", "tr", "tc", "co", "is", "ci"],
            "t" => &["tg", "tt", "sc", "tr", "co", "is", "ci"],
            _ => &["tg", "fr", "co", "is", "df", "du", "ci"],
        };
        for key in required {
            if !m.contains_key(*key) {
                self.push(&format!("{path}.{key}"), true, "is missing");
            }
        }
        let max = self.max_len();
        for (key, value) in m {
            let at = format!("{path}.{key}");
            match (group, key.as_str()) {
                ("v", "dn" | "sd") => self.dose(&at, value),
                ("v", "dt") | ("r", "fr" | "df" | "du") => {
                    self.string(&at, value, |s| {
                        // A full date; some issuers wrote a date-time, which earlier versions
                        // allowed and verifiers accept.
                        (is_full_date(s) || is_date_time(s))
                            .then_some(())
                            .ok_or_else(|| "is not a date of the form YYYY-MM-DD".to_string())
                    });
                }
                ("t", "sc" | "dr") => self.string(&at, value, |s| {
                    is_date_time(s).then_some(()).ok_or_else(|| {
                        "is not a date and time of the form 2021-05-24T15:20:00Z (RFC 3339)"
                            .to_string()
                    })
                }),
                (_, "co") => self.string(&at, value, |s| {
                    (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_uppercase()))
                        .then_some(())
                        .ok_or_else(|| {
                            "is not a country code of 1 to 10 letters A to Z".to_string()
                        })
                }),
                (_, "is" | "ci") | ("t", "tc") => self.string(&at, value, |s| {
                    (s.chars().count() <= max)
                        .then_some(())
                        .ok_or_else(|| format!("is longer than {max} characters"))
                }),
                ("t", "nm") if v >= (1, 3, 0) => self.string(&at, value, |s| {
                    (s.chars().count() <= 80)
                        .then_some(())
                        .ok_or_else(|| "is longer than 80 characters".to_string())
                }),
                (_, "tg" | "ma") | ("v", "vp" | "mp") | ("t", "tt" | "tr" | "nm") => {
                    self.string(&at, value, |_| Ok(()))
                }
                // Fields the schema does not name are allowed (it does not close its objects).
                _ => {}
            }
        }
    }

    /// A string field whose value `rule` judges.
    fn string(&mut self, path: &str, value: &Value, rule: impl FnOnce(&str) -> Result<(), String>) {
        match value {
            Value::String(s) => {
                if let Err(reason) = rule(s) {
                    self.push(path, false, reason);
                }
            }
            _ => self.push(path, true, "is not a string"),
        }
    }

    /// A dose number or series length: a positive integer, at most 9 before 1.3.0.
    fn dose(&mut self, path: &str, value: &Value) {
        // JSON schema counts 2.0 as an integer; a CBOR float with no fraction decodes so.
        let n = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        });
        let Some(n) = n else {
            self.push(path, true, "is not an integer");
            return;
        };
        let max = (self.version() < (1, 3, 0)).then_some(9);
        if n < 1 || max.is_some_and(|m| n > m) {
            self.push(
                path,
                false,
                match max {
                    Some(m) => format!("is {n}, outside 1 to {m}"),
                    None => format!("is {n}, not a positive integer"),
                },
            );
        }
    }
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` with a year from 1900 to 2099 (the schema's pattern: two
/// digits each for month and day, their values not judged).
fn partial_date_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let year = b.len() >= 4 && (b.starts_with(b"19") || b.starts_with(b"20")) && digits(0..4);
    year && match b.len() {
        4 => true,
        7 => b[4] == b'-' && digits(5..7),
        10 => b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10),
        _ => false,
    }
}

/// A calendar date `YYYY-MM-DD`.
pub(crate) fn is_full_date(s: &str) -> bool {
    s.len() == 10 && model::Date::parse(s.as_bytes()).is_ok()
}

/// `HH:MM:SS`, optionally with a fraction and an offset.
fn is_time(t: &str) -> bool {
    is_date_time(&format!("2000-01-01T{t}")) || {
        let b = t.as_bytes();
        b.len() == 8
            && b[2] == b':'
            && b[5] == b':'
            && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
    }
}

/// An RFC 3339 date-time with an offset (`Z`, `+02:00`; also `+0200`).
fn is_date_time(s: &str) -> bool {
    crate::dcc::parse_clock(s).is_some_and(|(_, offset)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vaccination(ver: &str) -> Value {
        json!({
            "ver": ver,
            "nam": {"fn": "Muster", "fnt": "MUSTER", "gn": "Anna", "gnt": "ANNA"},
            "dob": "1980-04-14",
            "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
                   "ma": "ORG-100030215", "dn": 2, "sd": 2, "dt": "2021-05-01",
                   "co": "AT", "is": "Ministry of Health", "ci": "URN:UVCI:01:AT:1234#X"}]
        })
    }

    fn test_entry(ver: &str) -> Value {
        json!({
            "ver": ver,
            "nam": {"fnt": "MUSTER"},
            "dob": "1980",
            "t": [{"tg": "840539006", "tt": "LP6464-4", "nm": "PCR", "sc": "2021-05-01T10:00:00Z",
                   "tr": "260415000", "tc": "Centre", "co": "DE", "is": "RKI", "ci": "URN:UVCI:01:DE:X"}]
        })
    }

    fn paths(v: &Value) -> Vec<String> {
        match validate_schema(v) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.path).collect(),
        }
    }

    fn with(mut v: Value, path: &[&str], new: Value) -> Value {
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        let last = path[path.len() - 1];
        if new.is_null() {
            at.as_object_mut().unwrap().remove(last);
        } else {
            at[last] = new;
        }
        v
    }

    #[test]
    fn good_payloads_of_every_version_pass() {
        for ver in [
            "1.0.0", "1.0.1", "1.1.0", "1.2.1", "1.3.0", "1.3.2", "1.4.0",
        ] {
            assert_eq!(paths(&vaccination(ver)), Vec::<String>::new(), "{ver}");
            assert_eq!(paths(&test_entry(ver)), Vec::<String>::new(), "{ver}");
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let v = vaccination("1.3.0");
        assert_eq!(
            paths(&with(v.clone(), &["nam", "fnt"], Value::Null)),
            ["nam.fnt"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["nam", "fnt"], json!("Muster"))),
            ["nam.fnt"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["nam", "gnt"], json!(""))),
            ["nam.gnt"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "dn"], json!(0))),
            ["v[0].dn"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "dn"], json!(-1))),
            ["v[0].dn"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "dn"], json!("2"))),
            ["v[0].dn"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "dn"], json!(2.5))),
            ["v[0].dn"]
        );
        assert!(paths(&with(v.clone(), &["v", "0", "dn"], json!(2.0))).is_empty());
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "ci"], json!("x".repeat(81)))),
            ["v[0].ci"]
        );
        assert!(paths(&with(v.clone(), &["v", "0", "ci"], json!("x".repeat(80)))).is_empty());
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "co"], json!("at"))),
            ["v[0].co"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "co"], json!(""))),
            ["v[0].co"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "dt"], json!("2021-02-30"))),
            ["v[0].dt"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "mp"], Value::Null)),
            ["v[0].mp"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["v", "0", "tg"], json!(840539006))),
            ["v[0].tg"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["dob"], json!("1899-12-31"))),
            ["dob"]
        );
        assert_eq!(
            paths(&with(v.clone(), &["dob"], json!("80-04-14"))),
            ["dob"]
        );
        assert_eq!(paths(&with(v.clone(), &["ver"], json!("one"))), ["ver"]);
        assert_eq!(paths(&with(v.clone(), &["ver"], json!("2.0.0"))), ["ver"]);
        assert_eq!(paths(&with(v.clone(), &["ver"], Value::Null)), ["ver"]);
        assert_eq!(paths(&json!([])), [""]);
        let e = validate_schema(&with(v, &["v", "0", "dn"], json!(0))).unwrap_err();
        assert_eq!(e[0].to_string(), "v[0].dn is 0, not a positive integer");
    }

    #[test]
    fn exactly_one_certificate_with_one_entry() {
        let v = vaccination("1.3.0");
        let entry = v["v"][0].clone();
        let two = with(v.clone(), &["v"], json!([entry.clone(), entry]));
        assert_eq!(paths(&two), ["v"]);
        let none = with(v.clone(), &["v"], Value::Null);
        assert_eq!(paths(&none), [""]);
        let empty = with(v.clone(), &["v"], json!([]));
        assert_eq!(paths(&empty), ["v"]);
        let both = with(v, &["t"], test_entry("1.3.0")["t"].clone());
        assert_eq!(paths(&both), [""]);
        let e = validate_schema(&both).unwrap_err();
        assert!(e[0].reason.contains("v, t"), "{}", e[0]);
    }

    #[test]
    fn a_test_without_its_sample_time_fails() {
        let t = test_entry("1.3.0");
        // The testing centre: required until 1.3.1.
        assert_eq!(
            paths(&with(t.clone(), &["t", "0", "tc"], Value::Null)),
            ["t[0].tc"]
        );
        assert!(paths(&with(test_entry("1.3.1"), &["t", "0", "tc"], Value::Null)).is_empty());
        assert_eq!(
            paths(&with(t.clone(), &["t", "0", "sc"], Value::Null)),
            ["t[0].sc"]
        );
        assert_eq!(
            paths(&with(t.clone(), &["t", "0", "sc"], json!("2021-05-01"))),
            ["t[0].sc"]
        );
        for ok in [
            "2021-05-01T10:00:00+02:00",
            "2021-05-01T10:00:00.5Z",
            "2021-05-01T10:00:00+0200",
        ] {
            assert!(
                paths(&with(t.clone(), &["t", "0", "sc"], json!(ok))).is_empty(),
                "{ok}"
            );
        }
    }

    #[test]
    fn rules_that_changed_between_versions() {
        // Lengths: 50 before 1.2.0, 80 from it.
        let long = json!("A".repeat(60));
        assert_eq!(
            paths(&with(vaccination("1.0.0"), &["nam", "fnt"], long.clone())),
            ["nam.fnt"]
        );
        assert!(paths(&with(vaccination("1.3.0"), &["nam", "fnt"], long)).is_empty());
        // Dose 10: beyond 9 before 1.3.0, allowed from it.
        assert_eq!(
            paths(&with(vaccination("1.2.1"), &["v", "0", "dn"], json!(10))),
            ["v[0].dn"]
        );
        assert!(paths(&with(vaccination("1.3.0"), &["v", "0", "sd"], json!(10))).is_empty());
        // An empty date of birth: from 1.2.0. Partial dates: always.
        assert_eq!(
            paths(&with(vaccination("1.0.0"), &["dob"], json!(""))),
            ["dob"]
        );
        assert!(paths(&with(vaccination("1.3.0"), &["dob"], json!(""))).is_empty());
        for dob in ["1964", "1964-01", "1963-00"] {
            assert!(
                paths(&with(vaccination("1.0.0"), &["dob"], json!(dob))).is_empty(),
                "{dob}"
            );
        }
        // A date of birth with a time: 1.0.x only.
        let timed = json!("1979-04-14T00:00:00");
        assert!(paths(&with(vaccination("1.0.0"), &["dob"], timed.clone())).is_empty());
        assert_eq!(paths(&with(vaccination("1.3.0"), &["dob"], timed)), ["dob"]);
        // Without fnt: refused before 1.3.2, allowed with gnt from it.
        let only_gnt = json!({"gn": "Anna", "gnt": "ANNA"});
        assert_eq!(
            paths(&with(vaccination("1.3.0"), &["nam"], only_gnt.clone())),
            ["nam.fnt"]
        );
        assert!(paths(&with(vaccination("1.3.2"), &["nam"], only_gnt)).is_empty());
        assert_eq!(
            paths(&with(vaccination("1.3.2"), &["nam"], json!({"fn": "X"}))),
            ["nam"]
        );
    }

    #[test]
    fn structure_alone_ignores_values() {
        let v = with(vaccination("1.0.0"), &["dob"], json!("1815-08-24"));
        assert!(validate_schema(&v).is_err());
        assert!(validate_structure(&v).is_ok());
        let v = with(vaccination("1.0.0"), &["v", "0", "dn"], json!("one"));
        assert!(validate_structure(&v).is_err());
    }

    #[test]
    fn hostile_payloads_are_judged_without_panic() {
        let deep = (0..200).fold(json!(1), |acc, _| json!([acc]));
        for v in [
            json!(null),
            json!("HC1"),
            json!({"ver": "1.3.0", "nam": [], "dob": 5, "v": {}}),
            json!({"ver": "99999999999999999999.0.0"}),
            json!({"ver": "1.3", "v": [deep]}),
            json!({"ver": "1.3.0", "nam": {"fnt": "É"}, "dob": "19é0", "r": [null, 3]}),
        ] {
            assert!(validate_schema(&v).is_err(), "{v}");
        }
        let many: Vec<Value> = (0..10_000).map(|_| json!({})).collect();
        let e = validate_schema(&json!({"ver": "1.3.0", "t": many})).unwrap_err();
        assert!(e.len() > 10_000);
    }
}
