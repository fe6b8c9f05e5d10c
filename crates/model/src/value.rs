//! The closed vocabularies of the contract (travel modes, lab results, risk levels, …) as
//! Rust enums whose names are the exact strings stored and accepted in input files.

use std::fmt;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The accepted spellings, in the contract's order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Exact, lowercase name.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// How a real-name ticket travels.
    Mode { Rail = "rail", Flight = "flight", Coach = "coach", Ship = "ship" }
}

vocabulary! {
    /// Through an ID-card gate into or out of a station.
    Direction { In = "in", Out = "out" }
}

vocabulary! {
    /// An occupant's role in a vehicle at a checkpoint.
    OccupantRole { Driver = "driver", Passenger = "passenger" }
}

vocabulary! {
    /// A laboratory test outcome.
    LabResult { Positive = "positive", Negative = "negative" }
}

vocabulary! {
    /// A clinical diagnosis attached to a lab report.
    Diagnosis { Confirmed = "confirmed", Suspected = "suspected", Asymptomatic = "asymptomatic", Recovered = "recovered" }
}

vocabulary! {
    /// A published risk level of an area.
    RiskLevel { High = "high", Medium = "medium", Low = "low" }
}

vocabulary! {
    /// A kind of mask sold online (contract §9), from the medical protective mask down to the
    /// everyday one.
    Product { MedicalProtective = "medical_protective", Surgical = "surgical", Medical = "medical", Respirator = "respirator", Daily = "daily" }
}

vocabulary! {
    /// Recorded sex, normalised from `M`/`F`, `male`/`female` or `男`/`女`.
    Sex { Male = "M", Female = "F" }
}

impl Sex {
    /// Accepts the common spellings, case-insensitively.
    pub fn parse_loose(s: &str) -> Option<Sex> {
        match s.trim().to_ascii_lowercase().as_str() {
            "m" | "male" | "男" => Some(Sex::Male),
            "f" | "female" | "女" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// A health code's color (contract §4), ordered by severity: green < yellow < red. The rules
/// give it, a signed `FY1:` code carries it, and both spell it as here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    /// Every color, least severe first.
    pub const ALL: [Color; 3] = [Color::Green, Color::Yellow, Color::Red];

    /// `green`, `yellow` or `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }

    /// Exact, lowercase name.
    pub fn parse(s: &str) -> Option<Color> {
        Color::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()), Some(*m));
        }
        assert_eq!(Mode::NAMES, &["rail", "flight", "coach", "ship"]);
        assert_eq!(
            Diagnosis::parse("asymptomatic"),
            Some(Diagnosis::Asymptomatic)
        );
        assert_eq!(Diagnosis::parse("Confirmed"), None);
        assert_eq!(Sex::parse_loose(" Female "), Some(Sex::Female));
        assert_eq!(Sex::parse_loose("男"), Some(Sex::Male));
        assert_eq!(Sex::parse_loose("x"), None);
    }

    #[test]
    fn colors_by_name_and_by_severity() {
        for c in Color::ALL {
            assert_eq!(Color::parse(c.as_str()), Some(c));
        }
        assert_eq!(Color::ALL.map(Color::as_str), ["green", "yellow", "red"]);
        assert!(Color::Green < Color::Yellow && Color::Yellow < Color::Red);
        assert_eq!(Color::parse("Red"), None);
    }
}
