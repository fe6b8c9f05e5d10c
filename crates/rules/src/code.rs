//! What a health code is: a color, the reasons behind it and how long it holds.

use model::{Color, Date};

/// One rule that applies, with a human detail naming the region, service or case behind it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    pub rule: String,
    pub detail: String,
    /// When this reason stops applying (`None`: open-ended, e.g. while a case).
    #[serde(skip)]
    pub valid_until: Option<Date>,
    #[serde(skip)]
    pub color: Color,
}

/// A person's health code as of the end of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCode {
    /// The person's pseudonym in the store.
    pub person: i64,
    pub as_of: Date,
    pub color: Color,
    /// Every rule that applies, most severe first, then by rule id and detail.
    pub reasons: Vec<Reason>,
    /// The latest `valid_until` among the reasons of `color`; `None` when any has none, or green.
    pub valid_until: Option<Date>,
}
