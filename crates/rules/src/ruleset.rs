//! The rule set as data: a TOML file (the built-in one ships in the binary), checked into
//! typed rules with errors that name the file, line and rule.

use std::path::Path;

use model::ArrivalKind;
use serde::Deserialize;
use toml::Spanned;
use trace::{FEVER_FLOOR_C, Status};

use crate::Color;

/// The built-in rule set (contract §4), as shipped.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// What can be wrong with a rule set.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("reading rules {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{origin}, line {line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
}

/// A risk level of `risk_areas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn parse(s: &str) -> Option<RiskLevel> {
        match s {
            "high" => Some(RiskLevel::High),
            "medium" => Some(RiskLevel::Medium),
            "low" => Some(RiskLevel::Low),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::High => "high",
            RiskLevel::Medium => "medium",
            RiskLevel::Low => "low",
        }
    }
}

/// When a rule applies.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The person's status is one of these.
    Case { statuses: Vec<Status> },
    /// A contact of a case at this degree, until the last exposure's day + `days`.
    Contact { degree: u8, days: i32 },
    /// An arrival of one of `kinds` from an area of `level` risk on the arrival day.
    Arrival {
        level: RiskLevel,
        days: i32,
        kinds: Vec<ArrivalKind>,
    },
    /// A self-reported temperature of at least `min_temperature_c`.
    Fever {
        min_temperature_c: f64,
        days: i32,
        cleared_by_negative: bool,
    },
    /// Recovered, for `days` after the report.
    Recovered { days: i32 },
}

/// One rule: its id (the reason shown), the color it gives and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub color: Color,
    pub when: Condition,
}

/// A checked rule set.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSet {
    pub name: String,
    pub rules: Vec<Rule>,
    /// Where it came from (a path, or "built-in rules").
    pub origin: String,
    /// The file's text, as shown by `fangyi rules show`.
    pub text: String,
    /// A fingerprint of the text, so saved results know which rules made them.
    pub digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    name: Option<String>,
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    color: String,
    kind: String,
    statuses: Option<Vec<String>>,
    degree: Option<i64>,
    days: Option<i64>,
    level: Option<String>,
    arrivals: Option<Vec<String>>,
    min_temperature_c: Option<f64>,
    cleared_by_negative: Option<bool>,
}

impl RawRule {
    /// The optional fields that are set, by name.
    fn set_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |on: bool, name| {
            if on {
                v.push(name)
            }
        };
        add(self.statuses.is_some(), "statuses");
        add(self.degree.is_some(), "degree");
        add(self.days.is_some(), "days");
        add(self.level.is_some(), "level");
        add(self.arrivals.is_some(), "arrivals");
        add(self.min_temperature_c.is_some(), "min_temperature_c");
        add(self.cleared_by_negative.is_some(), "cleared_by_negative");
        v
    }
}

impl RuleSet {
    /// The built-in rules.
    pub fn builtin() -> RuleSet {
        RuleSet::parse(DEFAULT_RULES, "built-in rules").expect("the built-in rules are valid")
    }

    /// Reads and checks a rule set file.
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        let text = store::read_settings(path).map_err(|cause| RulesError::Io {
            path: path.display().to_string(),
            cause,
        })?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    /// The rule set in `path`, or the built-in one.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<RuleSet, RulesError> {
        path.map_or_else(|| Ok(RuleSet::builtin()), RuleSet::load)
    }

    /// Checks `text` (TOML); `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<RuleSet, RulesError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: RawSet = toml::from_str(text).map_err(|e| RulesError::Invalid {
            origin: origin.to_string(),
            line: e.span().map_or(1, |s| line_of(s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rule.len());
        for spanned in &raw.rule {
            let line = line_of(spanned.span().start);
            let bad = |message: String| RulesError::Invalid {
                origin: origin.to_string(),
                line,
                message,
            };
            let r = spanned.get_ref();
            let rule = check_rule(r).map_err(|m| bad(format!("rule `{}`: {m}", r.id)))?;
            if rules.iter().any(|o| o.id == rule.id) {
                return Err(bad(format!("rule id `{}` is used twice", rule.id)));
            }
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(RulesError::Invalid {
                origin: origin.to_string(),
                line: 1,
                message: "no [[rule]] entries".into(),
            });
        }
        Ok(RuleSet {
            name: raw.name.unwrap_or_else(|| origin.to_string()),
            rules,
            origin: origin.to_string(),
            text: text.to_string(),
            digest: blake3::hash(text.as_bytes()).to_hex()[..16].to_string(),
        })
    }

    /// The largest degree any contact rule asks for (0: none).
    pub fn contact_depth(&self) -> u8 {
        self.rules
            .iter()
            .filter_map(|r| match r.when {
                Condition::Contact { degree, .. } => Some(degree),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

fn check_rule(r: &RawRule) -> Result<Rule, String> {
    if r.id.is_empty()
        || !r
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("the id must be lowercase letters, digits and `_`".into());
    }
    let color = Color::parse(&r.color)
        .ok_or_else(|| format!("color `{}` is not green, yellow or red", r.color))?;
    let allowed: &[&str] = match r.kind.as_str() {
        "case" => &["statuses"],
        "contact" => &["degree", "days"],
        "arrival" => &["level", "days", "arrivals"],
        "fever" => &["min_temperature_c", "days", "cleared_by_negative"],
        "recovered" => &["days"],
        other => {
            return Err(format!(
                "kind `{other}` is not one of case, contact, arrival, fever, recovered"
            ));
        }
    };
    if let Some(f) = r.set_fields().into_iter().find(|f| !allowed.contains(f)) {
        return Err(format!("`{f}` does not apply to kind `{}`", r.kind));
    }
    let days = |default: Option<i64>| -> Result<i32, String> {
        let d = r
            .days
            .or(default)
            .ok_or_else(|| format!("kind `{}` needs `days`", r.kind))?;
        if !(1..=366).contains(&d) {
            return Err(format!("days = {d} is not between 1 and 366"));
        }
        Ok(d as i32)
    };
    let when = match r.kind.as_str() {
        "case" => {
            let names = r.statuses.clone().unwrap_or_else(|| {
                vec![
                    "confirmed".into(),
                    "asymptomatic".into(),
                    "suspected".into(),
                ]
            });
            let statuses = names
                .iter()
                .map(|s| match s.as_str() {
                    "confirmed" => Ok(Status::Confirmed),
                    "asymptomatic" => Ok(Status::Asymptomatic),
                    "suspected" => Ok(Status::Suspected),
                    "recovered" => Ok(Status::Recovered),
                    _ => Err(format!(
                        "status `{s}` is not confirmed, asymptomatic, suspected or recovered"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if statuses.is_empty() {
                return Err("`statuses` is empty".into());
            }
            Condition::Case { statuses }
        }
        "contact" => {
            let degree = r.degree.unwrap_or(1);
            if !(1..=2).contains(&degree) {
                return Err(format!("degree = {degree} is not 1 or 2"));
            }
            Condition::Contact {
                degree: degree as u8,
                days: days(Some(14))?,
            }
        }
        "arrival" => {
            let level = r.level.as_deref().ok_or("kind `arrival` needs `level`")?;
            let level = RiskLevel::parse(level)
                .ok_or_else(|| format!("level `{level}` is not high, medium or low"))?;
            let kinds = match &r.arrivals {
                None => ArrivalKind::ALL.to_vec(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        ArrivalKind::parse(n).ok_or_else(|| {
                            format!(
                                "arrival kind `{n}` is not one of rail, flight, coach, ship, road, registration, self_report"
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            if kinds.is_empty() {
                return Err("`arrivals` is empty".into());
            }
            Condition::Arrival {
                level,
                days: days(None)?,
                kinds,
            }
        }
        "fever" => {
            let t = r
                .min_temperature_c
                .ok_or("kind `fever` needs `min_temperature_c`")?;
            if !(FEVER_FLOOR_C..=45.0).contains(&t) {
                return Err(format!(
                    "min_temperature_c = {t} is not between {FEVER_FLOOR_C} and 45 (reports below {FEVER_FLOOR_C} °C are not kept)"
                ));
            }
            Condition::Fever {
                min_temperature_c: t,
                days: days(None)?,
                cleared_by_negative: r.cleared_by_negative.unwrap_or(true),
            }
        }
        _ => Condition::Recovered { days: days(None)? },
    };
    Ok(Rule {
        id: r.id.clone(),
        color,
        when,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_are_the_contracts() {
        let r = RuleSet::builtin();
        let ids: Vec<&str> = r.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "case",
                "close_contact",
                "high_risk_arrival",
                "medium_risk_arrival",
                "fever",
                "recovered"
            ]
        );
        assert_eq!(r.contact_depth(), 1);
        assert_eq!(
            r.rules[4].when,
            Condition::Fever {
                min_temperature_c: 37.3,
                days: 14,
                cleared_by_negative: true
            }
        );
    }

    fn err(text: &str) -> String {
        RuleSet::parse(text, "r.toml").unwrap_err().to_string()
    }

    #[test]
    fn mistakes_name_the_line_and_rule() {
        let e = err("[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"fever\"\ndays = 3\n");
        assert_eq!(
            e,
            "r.toml, line 1: rule `a`: kind `fever` needs `min_temperature_c`"
        );
        let e = err(
            "name = \"x\"\n\n[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"case\"\n\n[[rule]]\nid = \"b\"\ncolor = \"blue\"\nkind = \"case\"\n",
        );
        assert_eq!(
            e,
            "r.toml, line 8: rule `b`: color `blue` is not green, yellow or red"
        );
        let e = err("[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"case\"\ndays = 3\n");
        assert!(e.contains("`days` does not apply to kind `case`"), "{e}");
        let e = err("[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"case\"\nstatus = []\n");
        assert!(
            e.starts_with("r.toml, line 5: unknown field `status`"),
            "{e}"
        );
        let e = err(
            "[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"case\"\n[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"case\"\n",
        );
        assert!(e.contains("line 5: rule id `a` is used twice"), "{e}");
        let e = err(
            "[[rule]]\nid = \"a\"\ncolor = \"red\"\nkind = \"fever\"\nmin_temperature_c = 36.5\ndays = 3\n",
        );
        assert!(e.contains("not between 37"), "{e}");
        let e = err("[[rule]\n");
        assert!(e.starts_with("r.toml, line 1:"), "{e}");
        let e = err("name = \"x\"\n");
        assert!(e.contains("missing field `rule`"), "{e}");
    }

    #[test]
    fn extra_rules_load() {
        let r = RuleSet::parse(
            "[[rule]]\nid = \"second_degree\"\ncolor = \"yellow\"\nkind = \"contact\"\ndegree = 2\ndays = 7\n\n[[rule]]\nid = \"low_risk_rail\"\ncolor = \"yellow\"\nkind = \"arrival\"\nlevel = \"low\"\ndays = 3\narrivals = [\"rail\"]\n",
            "x",
        )
        .unwrap();
        assert_eq!(r.contact_depth(), 2);
        assert_eq!(
            r.rules[1].when,
            Condition::Arrival {
                level: RiskLevel::Low,
                days: 3,
                kinds: vec![ArrivalKind::Rail]
            }
        );
    }
}
