//! An alert: which rule raised it, where, how severe, and the task it gives.

use model::{Date, Region};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertRule {
    HighRiskArrivals,
    ArrivalJump,
    CaseTrail,
    UnregisteredReturnee,
}

impl AlertRule {
    pub const ALL: [AlertRule; 4] = [
        AlertRule::HighRiskArrivals,
        AlertRule::ArrivalJump,
        AlertRule::CaseTrail,
        AlertRule::UnregisteredReturnee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::HighRiskArrivals => "high_risk_arrivals",
            AlertRule::ArrivalJump => "arrival_jump",
            AlertRule::CaseTrail => "case_trail",
            AlertRule::UnregisteredReturnee => "unregistered_returnee",
        }
    }

    pub fn parse(s: &str) -> Option<AlertRule> {
        AlertRule::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What the community worker is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Task {
    /// Visit the persons named (or counted), register them, start home health monitoring.
    Visit,
    /// Register arrivals (at the entrances, or one person).
    Register,
    /// Check that a household keeps its home quarantine.
    HomeQuarantineCheck,
    /// Disinfect a venue (or a home and its shared areas).
    Disinfect,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Visit => "visit",
            Task::Register => "register",
            Task::HomeQuarantineCheck => "home_quarantine_check",
            Task::Disinfect => "disinfect",
        }
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Stable over recomputation: a hash of rule, date, place and subject.
    pub id: String,
    pub rule: AlertRule,
    pub severity: Severity,
    /// The day the alert is about (the arrivals' day, the case's report day, the returnee's
    /// registration deadline).
    pub date: Date,
    /// The county (or the code the records give).
    pub region: Region,
    /// `None`: persons staying in no known community of the county.
    pub community: Option<String>,
    /// What happened, in one sentence, naming no one.
    pub detail: String,
    pub task: Task,
    /// What to do, in one sentence.
    pub task_detail: String,
    /// How many persons the alert counts.
    pub count: u32,
    /// The persons the task is about (pseudonyms; shown as the viewer's role allows).
    pub persons: Vec<i64>,
    /// The venue, for a venue on a case's trail.
    pub venue: Option<String>,
    /// How the person the alert is about travelled (`rail`, `flight`, …), when it is about
    /// one arrival. Kept out of `detail`, so whoever shows the alert decides whether the
    /// viewer may see it (community workers may not).
    pub travel: Option<&'static str>,
}

/// A 64-bit FNV-1a hash as 16 hex digits: short, stable ids for alert keys.
pub(crate) fn alert_id(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(alert_id("a"), alert_id("a"));
        assert_ne!(alert_id("a|b"), alert_id("a|c"));
        assert_eq!(alert_id("").len(), 16);
        for r in AlertRule::ALL {
            assert_eq!(AlertRule::parse(r.as_str()), Some(r));
        }
        assert_eq!(Severity::parse("high"), Some(Severity::High));
    }
}
