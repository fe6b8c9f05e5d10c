//! The alert rules as data: thresholds in a TOML file (the built-in one ships in the binary),
//! every field optional over the built-in values, errors naming the file and line.

use std::path::Path;

use serde::Deserialize;

use crate::{AlertError, Severity};

/// The built-in alert rules, as shipped.
pub const DEFAULT_ALERT_RULES: &str = include_str!("../default.toml");

#[derive(Clone, Debug, PartialEq)]
pub struct HighRiskArrivals {
    pub enabled: bool,
    pub min_persons: u32,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalJump {
    pub enabled: bool,
    pub factor: f64,
    pub baseline_days: u32,
    pub min_arrivals: u32,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CaseTrail {
    pub enabled: bool,
    pub days: u32,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnregisteredReturnee {
    pub enabled: bool,
    pub hours: u32,
    pub lookback_days: u32,
    pub severity: Severity,
}

/// Every rule's thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    pub high_risk_arrivals: HighRiskArrivals,
    pub arrival_jump: ArrivalJump,
    pub case_trail: CaseTrail,
    pub unregistered_returnee: UnregisteredReturnee,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    high_risk_arrivals: Option<RawRule>,
    arrival_jump: Option<RawRule>,
    case_trail: Option<RawRule>,
    unregistered_returnee: Option<RawRule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRule {
    enabled: Option<bool>,
    severity: Option<String>,
    min_persons: Option<u32>,
    factor: Option<f64>,
    baseline_days: Option<u32>,
    min_arrivals: Option<u32>,
    days: Option<u32>,
    hours: Option<u32>,
    lookback_days: Option<u32>,
}

impl AlertRules {
    /// The built-in rules.
    pub fn builtin() -> AlertRules {
        AlertRules::parse_over(DEFAULT_ALERT_RULES, "built-in alert rules", None)
            .expect("the built-in alert rules are valid")
    }

    /// Rules from `text` (named `origin` in errors), each value left out taken from the
    /// built-in rules.
    pub fn parse(text: &str, origin: &str) -> Result<AlertRules, AlertError> {
        AlertRules::parse_over(text, origin, Some(AlertRules::builtin()))
    }

    /// The built-in rules, or the file at `path`.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<AlertRules, AlertError> {
        match path {
            None => Ok(AlertRules::builtin()),
            Some(p) => {
                let text = store::read_settings(p).map_err(|e| AlertError::Rules {
                    origin: p.display().to_string(),
                    line: 0,
                    message: e.to_string(),
                })?;
                AlertRules::parse(&text, &p.display().to_string())
            }
        }
    }

    fn parse_over(
        text: &str,
        origin: &str,
        base: Option<AlertRules>,
    ) -> Result<AlertRules, AlertError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: RawFile = toml::from_str(text).map_err(|e| AlertError::Rules {
            origin: origin.to_string(),
            line: e.span().map_or(1, |s| line_of(s.start)),
            message: e.message().trim().to_string(),
        })?;
        let bad = |rule: &str, message: String| {
            let line = text.find(&format!("[{rule}]")).map_or(1, line_of);
            AlertError::Rules {
                origin: origin.to_string(),
                line,
                message: format!("[{rule}]: {message}"),
            }
        };
        let need = |rule: &str, v: Option<u32>, base: Option<u32>, what: &str| {
            v.or(base)
                .ok_or_else(|| bad(rule, format!("{what} is missing")))
        };
        let severity = |rule: &str, v: &Option<String>, base: Option<Severity>| match v {
            Some(s) => Severity::parse(s).ok_or_else(|| {
                bad(
                    rule,
                    format!("severity {s:?}: expected high, medium or low"),
                )
            }),
            None => base.ok_or_else(|| bad(rule, "severity is missing".into())),
        };
        let refuse = |rule: &str, r: &RawRule, allowed: &[&str]| {
            let given = [
                ("min_persons", r.min_persons.is_some()),
                ("factor", r.factor.is_some()),
                ("baseline_days", r.baseline_days.is_some()),
                ("min_arrivals", r.min_arrivals.is_some()),
                ("days", r.days.is_some()),
                ("hours", r.hours.is_some()),
                ("lookback_days", r.lookback_days.is_some()),
            ];
            match given.iter().find(|(n, set)| *set && !allowed.contains(n)) {
                Some((n, _)) => Err(bad(rule, format!("{n} is not a setting of this rule"))),
                None => Ok(()),
            }
        };
        let empty = RawRule::default();

        let r = raw.high_risk_arrivals.as_ref().unwrap_or(&empty);
        let b = base.as_ref().map(|b| &b.high_risk_arrivals);
        refuse("high_risk_arrivals", r, &["min_persons"])?;
        let high_risk_arrivals = HighRiskArrivals {
            enabled: r.enabled.or(b.map(|b| b.enabled)).unwrap_or(true),
            min_persons: need(
                "high_risk_arrivals",
                r.min_persons,
                b.map(|b| b.min_persons),
                "min_persons",
            )?
            .max(1),
            severity: severity("high_risk_arrivals", &r.severity, b.map(|b| b.severity))?,
        };

        let r = raw.arrival_jump.as_ref().unwrap_or(&empty);
        let b = base.as_ref().map(|b| &b.arrival_jump);
        refuse(
            "arrival_jump",
            r,
            &["factor", "baseline_days", "min_arrivals"],
        )?;
        let factor = r
            .factor
            .or(b.map(|b| b.factor))
            .ok_or_else(|| bad("arrival_jump", "factor is missing".into()))?;
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(bad("arrival_jump", format!("factor {factor}: at least 1")));
        }
        let baseline_days = need(
            "arrival_jump",
            r.baseline_days,
            b.map(|b| b.baseline_days),
            "baseline_days",
        )?;
        if !(1..=60).contains(&baseline_days) {
            return Err(bad(
                "arrival_jump",
                format!("baseline_days {baseline_days}: between 1 and 60"),
            ));
        }
        let arrival_jump = ArrivalJump {
            enabled: r.enabled.or(b.map(|b| b.enabled)).unwrap_or(true),
            factor,
            baseline_days,
            min_arrivals: need(
                "arrival_jump",
                r.min_arrivals,
                b.map(|b| b.min_arrivals),
                "min_arrivals",
            )?,
            severity: severity("arrival_jump", &r.severity, b.map(|b| b.severity))?,
        };

        let r = raw.case_trail.as_ref().unwrap_or(&empty);
        let b = base.as_ref().map(|b| &b.case_trail);
        refuse("case_trail", r, &["days"])?;
        let days = need("case_trail", r.days, b.map(|b| b.days), "days")?;
        if !(1..=60).contains(&days) {
            return Err(bad("case_trail", format!("days {days}: between 1 and 60")));
        }
        let case_trail = CaseTrail {
            enabled: r.enabled.or(b.map(|b| b.enabled)).unwrap_or(true),
            days,
            severity: severity("case_trail", &r.severity, b.map(|b| b.severity))?,
        };

        let r = raw.unregistered_returnee.as_ref().unwrap_or(&empty);
        let b = base.as_ref().map(|b| &b.unregistered_returnee);
        refuse("unregistered_returnee", r, &["hours", "lookback_days"])?;
        let hours = need(
            "unregistered_returnee",
            r.hours,
            b.map(|b| b.hours),
            "hours",
        )?;
        let lookback_days = need(
            "unregistered_returnee",
            r.lookback_days,
            b.map(|b| b.lookback_days),
            "lookback_days",
        )?;
        if !(1..=24 * 30).contains(&hours) || !(1..=60).contains(&lookback_days) {
            return Err(bad(
                "unregistered_returnee",
                format!(
                    "hours {hours} (1 to 720) or lookback_days {lookback_days} (1 to 60) out of range"
                ),
            ));
        }
        let unregistered_returnee = UnregisteredReturnee {
            enabled: r.enabled.or(b.map(|b| b.enabled)).unwrap_or(true),
            hours,
            lookback_days,
            severity: severity("unregistered_returnee", &r.severity, b.map(|b| b.severity))?,
        };
        Ok(AlertRules {
            high_risk_arrivals,
            arrival_jump,
            case_trail,
            unregistered_returnee,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_are_the_documented_ones() {
        let r = AlertRules::builtin();
        assert_eq!(r.high_risk_arrivals.min_persons, 1);
        assert_eq!(r.arrival_jump.factor, 2.0);
        assert_eq!(r.arrival_jump.baseline_days, 7);
        assert_eq!(r.case_trail.severity, Severity::High);
        assert_eq!(r.unregistered_returnee.hours, 24);
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let r = AlertRules::parse(
            "[arrival_jump]\nfactor = 3.0\n\n[case_trail]\nenabled = false\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(r.arrival_jump.factor, 3.0);
        assert_eq!(r.arrival_jump.min_arrivals, 10);
        assert!(!r.case_trail.enabled);
        assert!(r.high_risk_arrivals.enabled);
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let cases = [
            ("[arrival_jump]\nfactor = \"two\"\n", 2, "invalid type"),
            ("\n\n[case_trail]\ndays = 0\n", 3, "days 0"),
            (
                "[case_trail]\nseverity = \"urgent\"\n",
                1,
                "severity \"urgent\"",
            ),
            ("[case_trail]\nfactor = 2.0\n", 1, "factor is not a setting"),
            ("[nonsense]\n", 1, "unknown field"),
        ];
        for (text, line, words) in cases {
            let e = AlertRules::parse(text, "mine.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("mine.toml, line {line}")), "{e}");
            assert!(e.contains(words), "{e}");
        }
    }
}
