//! The EU DCC value sets: each coded field of a DCC (disease, vaccine type, product, maker,
//! test type, test device, result, country) must hold a code of its EU list, as the EU
//! validators' business rules require. The schema names these lists without enumerating them,
//! so this is a step of its own after the schema. The codes are in `data/dcc_value_sets.txt`
//! (source and date of each list there), parsed once.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;

use super::SchemaError;

const DATA: &str = include_str!("../../data/dcc_value_sets.txt");

/// One EU value set: its codes and the date of the list they come from.
#[derive(Debug, Default)]
pub struct ValueSet {
    pub date: String,
    pub codes: HashSet<String>,
}

/// Every value set by its EU id (`test-manf`, `country-2-codes`, …).
pub fn value_sets() -> &'static HashMap<String, ValueSet> {
    static SETS: OnceLock<HashMap<String, ValueSet>> = OnceLock::new();
    SETS.get_or_init(|| parse(DATA))
}

fn parse(text: &str) -> HashMap<String, ValueSet> {
    let mut sets: HashMap<String, ValueSet> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        if line.starts_with("set ") {
            words.next();
            let id = words.next().unwrap_or_default().to_string();
            let date = words.next().unwrap_or_default().to_string();
            sets.entry(id.clone()).or_default().date = date;
            current = Some(id);
        } else if let Some(id) = &current {
            let set = sets.get_mut(id).expect("entered above");
            set.codes.extend(words.map(str::to_string));
        }
    }
    sets
}

/// The value set a field of a certificate group must draw from, and what the field is, for
/// the message.
fn set_of(group: &str, key: &str) -> Option<(&'static str, &'static str)> {
    Some(match (group, key) {
        (_, "tg") => ("disease-agent-targeted", "a disease or agent targeted"),
        (_, "co") => ("country-2-codes", "a country (ISO 3166-1 alpha-2)"),
        ("v", "vp") => ("vaccine-prophylaxis", "a vaccine or prophylaxis type"),
        ("v", "mp") => ("vaccine-medicinal-product", "a vaccine medicinal product"),
        ("v", "ma") => (
            "vaccine-mah-manf",
            "a vaccine marketing-authorisation holder or manufacturer",
        ),
        ("t", "tt") => ("test-type", "a test type"),
        ("t", "ma") => ("test-manf", "a rapid antigen test device"),
        ("t", "tr") => ("test-result", "a test result"),
        _ => return None,
    })
}

/// Checks every coded field of a DCC payload against its EU value set; every code outside
/// its set is reported, path first (`v[0].ma`). Fields the schema judges (missing, not a
/// string) are left to it.
pub fn check_value_sets(dcc: &Value) -> Result<(), Vec<SchemaError>> {
    let sets = value_sets();
    let mut errors = Vec::new();
    let Value::Object(m) = dcc else {
        return Ok(());
    };
    for group in ["v", "t", "r"] {
        let Some(Value::Array(entries)) = m.get(group) else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let Value::Object(e) = entry else { continue };
            for (key, value) in e {
                let (Some((id, what)), Value::String(code)) = (set_of(group, key), value) else {
                    continue;
                };
                let set = &sets[id];
                if !set.codes.contains(code.as_str()) {
                    errors.push(SchemaError {
                        path: format!("{group}[{i}].{key}"),
                        reason: format!(
                            "is {}, not {what} in the EU value set {id} ({})",
                            shown(code),
                            set.date
                        ),
                        structural: false,
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A code as the message shows it: quoted, at most 40 characters, empty said so.
fn shown(code: &str) -> String {
    if code.is_empty() {
        "empty".into()
    } else {
        format!("\"{}\"", crate::printable(code, 40))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: &Value) -> Vec<String> {
        match check_value_sets(v) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.path).collect(),
        }
    }

    #[test]
    fn every_set_is_there_with_a_date_and_codes() {
        let sets = value_sets();
        for id in [
            "disease-agent-targeted",
            "vaccine-prophylaxis",
            "vaccine-medicinal-product",
            "vaccine-mah-manf",
            "test-type",
            "test-manf",
            "test-result",
            "country-2-codes",
        ] {
            let s = &sets[id];
            assert_eq!(s.date.len(), 10, "{id}");
            assert!(!s.codes.is_empty(), "{id}");
        }
        assert_eq!(sets.len(), 8);
        assert_eq!(sets["country-2-codes"].codes.len(), 249);
        assert!(sets["test-manf"].codes.contains("1232"));
        assert!(!sets["country-2-codes"].codes.contains("XY"));
    }

    #[test]
    fn codes_outside_their_sets_are_named_by_field() {
        let v = json!({"ver": "1.3.0", "v": [{"tg": "840539006", "vp": "J07BX03",
            "mp": "EU/1/21/1529", "ma": "ORG-99999999", "co": "PL"}]});
        assert_eq!(paths(&v), ["v[0].ma"]);
        let e = check_value_sets(&v).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "v[0].ma is \"ORG-99999999\", not a vaccine marketing-authorisation holder or \
             manufacturer in the EU value set vaccine-mah-manf (2022-01-26)"
        );
        let t = json!({"t": [{"tg": "840539006", "tt": "LP217198-3", "ma": "9999",
            "tr": "260415000", "co": "PL"}]});
        assert_eq!(paths(&t), ["t[0].ma"]);
        let r = json!({"r": [{"tg": "840539006", "co": "XY"}]});
        assert_eq!(paths(&r), ["r[0].co"]);
        // A code is exact: case, spaces and the empty string are not in any set.
        for bad in ["pl", " PL", "", "PL\u{0}"] {
            let r = json!({"r": [{"tg": "840539006", "co": bad}]});
            assert_eq!(paths(&r), ["r[0].co"], "{bad:?}");
        }
        // The test device field of a vaccination is its maker; a test's result is judged.
        let t = json!({"t": [{"tg": "1", "tt": "a test", "tr": ""}]});
        assert_eq!(paths(&t), ["t[0].tg", "t[0].tr", "t[0].tt"]);
    }

    #[test]
    fn hostile_payloads_are_judged_without_panic() {
        for v in [
            json!(null),
            json!({"v": "x"}),
            json!({"v": [null, 3, {"ma": 5}]}),
            json!({"t": [{"ma": "x".repeat(100_000)}]}),
        ] {
            let _ = check_value_sets(&v);
        }
        let long = json!({"t": [{"ma": "x".repeat(100_000)}]});
        let e = check_value_sets(&long).unwrap_err();
        assert!(e[0].reason.len() < 200, "{}", e[0]);
    }
}
