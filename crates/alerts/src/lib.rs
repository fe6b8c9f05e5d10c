//! Community alerts: what a community worker should do today, and why.
//!
//! From the inflow figures (contract §7 at the community level), the cases and their trails
//! (the trace index) and the returnee registrations, four configurable rules
//! ([`AlertRules`], a TOML file; the built-in one is `default.toml`) raise alerts, each with a
//! severity and a task:
//!
//! | rule | when (as-of date D) | task |
//! |---|---|---|
//! | `high_risk_arrivals` | a community received ≥ `min_persons` persons from high-risk areas on D | visit |
//! | `arrival_jump` | its arrivals on D ≥ `min_arrivals` and > `factor` × its average of the `baseline_days` days before | register |
//! | `case_trail` | a case reported in the last `days` days visited a venue of the community in its public trail, or stays there | disinfect / home-quarantine check |
//! | `unregistered_returnee` | a person arrived from a high-risk area (ticket or checkpoint) in the last `lookback_days` days and has no registration within `hours` h | register |
//!
//! An alert's id is a hash of what it is about (rule, date, place, subject), so computing the
//! alerts again gives the same ids and a stored status (open, acknowledged, done) stays with
//! its alert. Arrivals whose person stays in no known community give alerts for the county
//! with no community, which the county's staff see and community workers do not.
//!
//! [`under_watch`] lists who arrived from a high-risk area within the last 14 days (contract §4's
//! arrivals) with where they stay, and [`watch_counts`] counts them per community.
//!
//! The public trail of a case ([`public_trail`]) is what may be published about a case: its
//! rides and venue visits from the day before onset until it was reported (the platform knows
//! of no earlier isolation), with no identity.
//!
//! Works on pseudonyms only; the caller reveals the persons an alert names.

mod alert;
mod compute;
mod config;
mod trail;
mod watch;

pub use alert::{Alert, AlertRule, Severity, Task};
pub use compute::{Sources, compute};
pub use config::{AlertRules, DEFAULT_ALERT_RULES};
pub use trail::{TrailStop, public_trail, trail_window};
pub use watch::{WatchCount, Watched, under_watch, watch_counts};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{origin}, line {line}: {message}")]
    Rules {
        origin: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Inflow(#[from] inflow::InflowError),
}
