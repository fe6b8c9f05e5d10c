//! Contract §4 as a pure function: a person's facts and a rule set in, the rules that apply
//! (with why and until when) out. The single-person and whole-population paths both call it.

use model::{Date, Timestamp, Zone};
use trace::{Arrival, FeverReport, LabRow, Status};

use crate::risk::RiskAreas;
use crate::ruleset::{Condition, RuleSet};
use crate::{Color, HealthCode, Reason};

/// A case a person is a contact of (from tracing), as the contact rules need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactFact {
    pub case: i64,
    pub degree: u8,
    /// Who they were exposed to: the case, or (degree 2) a contact of it.
    pub via: i64,
    pub last_exposure: i64,
    /// What they shared (`rail G1234 2020-01-21`), when asked for.
    pub evidence: Option<String>,
}

/// Everything about one person the rules look at.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub labs: Vec<LabRow>,
    pub arrivals: Vec<Arrival>,
    pub fevers: Vec<FeverReport>,
    pub contacts: Vec<ContactFact>,
}

/// Why a rule applies.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    Status {
        status: Status,
        since: Option<Date>,
    },
    Contact {
        case: i64,
        degree: u8,
        via: i64,
        until: Date,
        evidence: Option<String>,
    },
    Arrival {
        date: Date,
        origin: u32,
    },
    Fever {
        date: Date,
        temperature_c: f64,
    },
    Recovered {
        since: Date,
    },
}

/// One rule that applies to a person.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Position of the rule in its set.
    pub rule: usize,
    pub color: Color,
    pub valid_until: Option<Date>,
    pub cause: Cause,
}

/// Every rule of `rules` that applies to a person with `facts` as of the end of `as_of`.
/// `facts.labs` is reordered.
pub fn evaluate(
    rules: &RuleSet,
    facts: &mut Facts,
    risk: &RiskAreas,
    as_of: Date,
    zone: Zone,
) -> Vec<Finding> {
    let end = as_of.end_of_day(zone).millis();
    let a = trace::rules::assess(&mut facts.labs, end, zone);
    let day = |ms: i64| Timestamp(ms).date(zone);
    let mut out = Vec::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        let mut add = |valid_until: Option<Date>, cause: Cause| {
            out.push(Finding {
                rule: i,
                color: rule.color,
                valid_until,
                cause,
            })
        };
        // A rule starting on `start` holds on days start <= D < start + days.
        let holds = |start: Date, days: i32| start <= as_of && as_of < start.add_days(days);
        match &rule.when {
            Condition::Case { statuses } => {
                if statuses.contains(&a.status) {
                    add(
                        None,
                        Cause::Status {
                            status: a.status,
                            since: a.status_since.map(day),
                        },
                    );
                }
            }
            Condition::Contact { degree, days } => {
                for c in facts.contacts.iter().filter(|c| c.degree == *degree) {
                    let until = day(c.last_exposure).add_days(*days);
                    if as_of < until {
                        add(
                            Some(until),
                            Cause::Contact {
                                case: c.case,
                                degree: c.degree,
                                via: c.via,
                                until,
                                evidence: c.evidence.clone(),
                            },
                        );
                    }
                }
            }
            Condition::Arrival { level, days, kinds } => {
                for ar in &facts.arrivals {
                    if kinds.contains(&ar.kind)
                        && ar.time <= end
                        && holds(ar.date, *days)
                        && risk.covers(*level, ar.origin, ar.date)
                    {
                        add(
                            Some(ar.date.add_days(*days)),
                            Cause::Arrival {
                                date: ar.date,
                                origin: ar.origin,
                            },
                        );
                    }
                }
            }
            Condition::Fever {
                min_temperature_c,
                days,
                cleared_by_negative,
            } => {
                for f in &facts.fevers {
                    let date = day(f.time);
                    let cleared = *cleared_by_negative
                        && facts
                            .labs
                            .iter()
                            .any(|l| !l.positive && l.sample > f.time && l.reported <= end);
                    if f.temperature_c >= *min_temperature_c
                        && f.time <= end
                        && holds(date, *days)
                        && !cleared
                    {
                        add(
                            Some(date.add_days(*days)),
                            Cause::Fever {
                                date,
                                temperature_c: f.temperature_c,
                            },
                        );
                    }
                }
            }
            Condition::Recovered { days } => {
                if a.status == Status::Recovered
                    && let Some(since) = a.status_since.map(day)
                    && holds(since, *days)
                {
                    add(Some(since.add_days(*days)), Cause::Recovered { since });
                }
            }
        }
    }
    out
}

/// The color (most severe), and `valid_until`: the latest among the findings of that color,
/// `None` when any of them is open-ended (and for green).
pub fn verdict(findings: &[Finding]) -> (Color, Option<Date>) {
    let color = findings
        .iter()
        .map(|f| f.color)
        .max()
        .unwrap_or(Color::Green);
    if color == Color::Green {
        return (color, None);
    }
    let mut until = Some(Date(i32::MIN));
    for f in findings.iter().filter(|f| f.color == color) {
        until = match (until, f.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    (color, until)
}

/// The ids of the rules that apply, sorted, each once.
pub fn rule_ids<'r>(rules: &'r RuleSet, findings: &[Finding]) -> Vec<&'r str> {
    let mut ids: Vec<&str> = findings
        .iter()
        .map(|f| rules.rules[f.rule].id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// How much a reason's detail may say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything: the case's (masked) id and what was shared with them.
    Full,
    /// For someone who serves the person locally (a community worker): that they met a case
    /// and until when, but not who or where — no travel detail.
    Local,
}

/// The human detail of a finding; `name` shows a case's pseudonym (masked id, say).
pub fn detail(f: &Finding, name: &dyn Fn(i64) -> String) -> String {
    detail_at(f, name, Detail::Full)
}

/// The detail of a finding at a level of [`Detail`].
pub fn detail_at(f: &Finding, name: &dyn Fn(i64) -> String, level: Detail) -> String {
    if level == Detail::Local
        && let Cause::Contact { degree, until, .. } = &f.cause
    {
        return if *degree == 1 {
            format!("close contact of a case, quarantine until {until}")
        } else {
            format!("contact of a close contact of a case, until {until}")
        };
    }
    match &f.cause {
        Cause::Status { status, since } => match since {
            Some(d) => format!("{} since {d}", status.as_str()),
            None => status.as_str().to_string(),
        },
        Cause::Contact {
            case,
            degree,
            via,
            until,
            evidence,
        } => {
            let shared = evidence
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            if *degree == 1 {
                format!(
                    "close contact of case {}{shared}, quarantine until {until}",
                    name(*case)
                )
            } else {
                format!(
                    "contact of {}{shared}, a close contact of case {}, until {until}",
                    name(*via),
                    name(*case)
                )
            }
        }
        Cause::Arrival { date, origin } => format!("arrived {date} from {origin:06}"),
        Cause::Fever {
            date,
            temperature_c,
        } => format!("{temperature_c:.1} °C reported {date}"),
        Cause::Recovered { since } => format!("recovered since {since}"),
    }
}

/// The code as the contract shows it: every reason once, most severe first, then in rule
/// order, then by detail.
pub fn health_code(
    rules: &RuleSet,
    person: i64,
    as_of: Date,
    findings: &[Finding],
    name: &dyn Fn(i64) -> String,
) -> HealthCode {
    health_code_at(rules, person, as_of, findings, name, Detail::Full)
}

/// [`health_code`] with reasons' details at `level`.
pub fn health_code_at(
    rules: &RuleSet,
    person: i64,
    as_of: Date,
    findings: &[Finding],
    name: &dyn Fn(i64) -> String,
    level: Detail,
) -> HealthCode {
    let (color, valid_until) = verdict(findings);
    let mut keyed: Vec<(std::cmp::Reverse<Color>, usize, Reason)> = findings
        .iter()
        .map(|f| {
            (
                std::cmp::Reverse(f.color),
                f.rule,
                Reason {
                    rule: rules.rules[f.rule].id.clone(),
                    detail: detail_at(f, name, level),
                    valid_until: f.valid_until,
                    color: f.color,
                },
            )
        })
        .collect();
    // Within a rule, the reason that lasts longest last; open-ended ones first.
    keyed.sort_by(|a, b| {
        (a.0, a.1, a.2.valid_until, &a.2.detail).cmp(&(b.0, b.1, b.2.valid_until, &b.2.detail))
    });
    keyed.dedup_by(|a, b| a.1 == b.1 && a.2.detail == b.2.detail);
    HealthCode {
        person,
        as_of,
        color,
        reasons: keyed.into_iter().map(|k| k.2).collect(),
        valid_until,
    }
}
