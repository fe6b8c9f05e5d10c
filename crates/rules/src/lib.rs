//! Health codes (contract §4): a rule set loaded from data, evaluated per person into a
//! color with every reason and a `valid_until`, and recomputed for the whole population.

mod code;

pub use code::{Color, HealthCode, Reason};
