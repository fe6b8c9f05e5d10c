//! What a health code is: a color, the reasons behind it and how long it holds.

use model::Date;

/// Green, yellow or red, ordered by severity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    pub const ALL: [Color; 3] = [Color::Green, Color::Yellow, Color::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Color> {
        Color::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Color {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
