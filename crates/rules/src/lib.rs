//! Health codes (contract §4): a rule set loaded from data, evaluated per person into a
//! color with every reason and a `valid_until`, and recomputed for the whole population.

mod code;
mod engine;
pub mod evaluate;
mod output;
pub mod overrides;
pub mod peer;
mod population;
pub mod risk;
mod ruleset;
pub mod saved;

pub use code::{HealthCode, Reason};
pub use engine::{CodeEngine, Summary, Sweep, SweepProgress, Traced, TracedContact};
/// A code's color: the one defined in `model`, which signed codes carry too.
pub use model::Color;
pub use output::{CodeJson, CodesWriter, code_json};
pub use overrides::{OVERRIDE, OVERRIDE_DESCRIPTION, Override, Overrides};
pub use peer::{
    PEER_ATTESTATION, PEER_ATTESTATION_DESCRIPTION, PeerAttestation, PeerAttestations,
    PeerUnavailable,
};
pub use population::{persons, registered};
pub use risk::{RiskArea, RiskAreas};
pub use ruleset::{Condition, DEFAULT_RULES, RiskLevel, Rule, RuleSet, RulesError};

/// What can go wrong computing codes.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("writing {path}: {cause}")]
    Write { path: String, cause: std::io::Error },
    #[error(transparent)]
    Rules(#[from] RulesError),
}
