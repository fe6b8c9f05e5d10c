//! Code overrides: an accepted correction sets one rule aside for one person until an end date
//! (`override`, a rule of its own beside the rule set). While the as-of day D is on or before
//! `until`, findings of that rule no longer count towards the color or `valid_until`, and the
//! reasons say the rule was set aside, by whom's decision and why. An override adds no color of
//! its own: it can only take rules away, never make anyone yellow or red.

use std::collections::HashMap;

use model::{Color, Date};

use crate::Reason;
use crate::evaluate::Finding;
use crate::ruleset::RuleSet;

/// The id `override` reasons carry, and the rule `fangyi rules show` lists beside a rule set.
pub const OVERRIDE: &str = "override";

/// What the `override` rule does, in one line (for `fangyi rules show`).
pub const OVERRIDE_DESCRIPTION: &str = "override (built in, beside every rule set): an accepted \
correction sets one named rule aside for one person until its end date (inclusive); it adds no \
color, so nobody becomes yellow or red by it";

/// One rule set aside for one person until the end of `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// The person's store pseudonym.
    pub person: i64,
    /// The rule id set aside (`close_contact`, …).
    pub rule: String,
    /// The last day (inclusive) the rule is set aside.
    pub until: Date,
    /// Why, as the decision said it.
    pub reason: String,
    /// The correction that made it, when there is one.
    pub correction: Option<i64>,
}

impl Override {
    /// Whether it is in force for a code as of the end of `as_of`.
    pub fn in_force(&self, as_of: Date) -> bool {
        as_of <= self.until
    }

    /// The reason's detail: what is set aside, until when, and why.
    pub fn detail(&self) -> String {
        format!(
            "{} set aside until {}: {}",
            self.rule, self.until, self.reason
        )
    }
}

/// Every override of a deployment, by person, with a fingerprint of them all (saved codes
/// compare it, so a decision makes the last whole-population run stale).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    by_person: HashMap<i64, Vec<Override>>,
    digest: String,
    len: usize,
}

impl<'a> From<&'a Overrides> for std::borrow::Cow<'a, Overrides> {
    fn from(o: &'a Overrides) -> Self {
        std::borrow::Cow::Borrowed(o)
    }
}

impl From<Overrides> for std::borrow::Cow<'_, Overrides> {
    fn from(o: Overrides) -> Self {
        std::borrow::Cow::Owned(o)
    }
}

impl Overrides {
    /// No overrides.
    pub fn none() -> Overrides {
        Overrides::default()
    }

    pub fn new(list: impl IntoIterator<Item = Override>) -> Overrides {
        let mut all: Vec<Override> = list.into_iter().collect();
        all.sort_by(|a, b| {
            (a.person, &a.rule, a.until, &a.reason, a.correction).cmp(&(
                b.person,
                &b.rule,
                b.until,
                &b.reason,
                b.correction,
            ))
        });
        all.dedup();
        let mut h = blake3::Hasher::new();
        for o in &all {
            h.update(&o.person.to_le_bytes());
            h.update(&(o.rule.len() as u64).to_le_bytes());
            h.update(o.rule.as_bytes());
            h.update(&o.until.0.to_le_bytes());
            h.update(&(o.reason.len() as u64).to_le_bytes());
            h.update(o.reason.as_bytes());
            h.update(&o.correction.unwrap_or(-1).to_le_bytes());
        }
        // Empty when there are none, so a deployment that never overrode keeps its saved runs.
        let digest = if all.is_empty() {
            String::new()
        } else {
            h.finalize().to_hex()[..16].to_string()
        };
        let len = all.len();
        let mut by_person: HashMap<i64, Vec<Override>> = HashMap::new();
        for o in all {
            by_person.entry(o.person).or_default().push(o);
        }
        Overrides {
            by_person,
            digest,
            len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// A fingerprint of every override ("" when there is none).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The person's overrides in force as of the end of `as_of`, by rule then end date.
    pub fn in_force(&self, person: i64, as_of: Date) -> impl Iterator<Item = &Override> {
        self.by_person
            .get(&person)
            .into_iter()
            .flatten()
            .filter(move |o| o.in_force(as_of))
    }

    /// Whether `rule` is set aside for `person` as of `as_of`.
    pub fn sets_aside(&self, person: i64, rule: &str, as_of: Date) -> bool {
        self.in_force(person, as_of).any(|o| o.rule == rule)
    }

    /// Everyone with an override in force as of `as_of`, sorted.
    pub fn persons_in_force(&self, as_of: Date) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .by_person
            .iter()
            .filter(|(_, list)| list.iter().any(|o| o.in_force(as_of)))
            .map(|(&p, _)| p)
            .collect();
        v.sort_unstable();
        v
    }

    /// Drops the findings of rules set aside for `person` as of `as_of`; whether any override
    /// is in force for them (their code then lists `override`).
    pub fn set_aside(
        &self,
        rules: &RuleSet,
        person: i64,
        as_of: Date,
        findings: &mut Vec<Finding>,
    ) -> bool {
        let Some(list) = self.by_person.get(&person) else {
            return false;
        };
        if !list.iter().any(|o| o.in_force(as_of)) {
            return false;
        }
        findings.retain(|f| !self.sets_aside(person, &rules.rules[f.rule].id, as_of));
        true
    }

    /// The `override` reasons of `person` as of `as_of`: green, so they weigh on neither the
    /// color nor `valid_until`; sorted by detail.
    pub fn reasons(&self, person: i64, as_of: Date) -> Vec<Reason> {
        let mut v: Vec<Reason> = self
            .in_force(person, as_of)
            .map(|o| Reason {
                rule: OVERRIDE.to_string(),
                detail: o.detail(),
                valid_until: None,
                color: Color::Green,
            })
            .collect();
        v.sort_by(|a, b| a.detail.cmp(&b.detail));
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::Cause;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn ov(person: i64, rule: &str, until: &str) -> Override {
        Override {
            person,
            rule: rule.into(),
            until: day(until),
            reason: "wrong seat".into(),
            correction: Some(1),
        }
    }

    fn finding(rules: &RuleSet, id: &str) -> Finding {
        Finding {
            rule: rules.rules.iter().position(|r| r.id == id).unwrap(),
            color: Color::Red,
            valid_until: None,
            cause: Cause::Recovered {
                since: day("2020-01-01"),
            },
        }
    }

    #[test]
    fn a_rule_is_set_aside_through_its_end_date_only() {
        let rules = RuleSet::builtin();
        let o = Overrides::new([ov(7, "close_contact", "2020-02-10")]);
        let all = || {
            vec![
                finding(&rules, "close_contact"),
                finding(&rules, "high_risk_arrival"),
            ]
        };
        let mut f = all();
        assert!(o.set_aside(&rules, 7, day("2020-02-10"), &mut f));
        assert_eq!(f.len(), 1);
        assert_eq!(rules.rules[f[0].rule].id, "high_risk_arrival");
        let r = o.reasons(7, day("2020-02-10"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rule, "override");
        assert_eq!(r[0].color, Color::Green);
        assert_eq!(
            r[0].detail,
            "close_contact set aside until 2020-02-10: wrong seat"
        );
        // The day after: back in force, no override reason.
        let mut f = all();
        assert!(!o.set_aside(&rules, 7, day("2020-02-11"), &mut f));
        assert_eq!(f.len(), 2);
        assert!(o.reasons(7, day("2020-02-11")).is_empty());
        // Someone else's rules are untouched.
        let mut f = all();
        assert!(!o.set_aside(&rules, 8, day("2020-02-01"), &mut f));
        assert_eq!(f.len(), 2);
        assert_eq!(o.persons_in_force(day("2020-02-10")), [7]);
        assert!(o.persons_in_force(day("2020-02-11")).is_empty());
    }

    #[test]
    fn the_fingerprint_follows_the_overrides_not_their_order() {
        let a = ov(7, "fever", "2020-02-10");
        let b = ov(8, "case", "2020-02-12");
        assert_eq!(Overrides::none().digest(), "");
        let one = Overrides::new([a.clone(), b.clone()]);
        let two = Overrides::new([b.clone(), a.clone(), a.clone()]);
        assert_eq!(one.digest(), two.digest());
        assert_eq!(two.len(), 2);
        let mut later = b.clone();
        later.until = day("2020-02-13");
        assert_ne!(Overrides::new([a, later]).digest(), one.digest());
    }
}
