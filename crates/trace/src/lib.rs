//! Contact tracing (contract sections 2 and 3): case status from lab results, close contacts
//! of degree 1 and 2 with their evidence and quarantine end, every case at once, and the
//! public co-travel self-check — answered from an index beside the store, not by scanning.
//!
//! Works on pseudonyms only: revealing who a pseudonym is belongs to the caller, which holds
//! the key (and, with the engine crate, the privacy rules).

pub mod index;
mod output;
pub mod rules;
mod tracer;

use std::path::PathBuf;

pub use index::{
    Arrival, FEVER_FLOOR_C, FeverReport, Freshness, Index, MEMORY_ENV, MemoryBudget, PersonEvent,
    UpdateReport, freshness, pending_rows, update, update_within,
};
pub use output::{
    ContactRecord, ContactRow, ContactsWriter, EvidenceOut, TraceOut, contact_rows, evidence_kinds,
};
pub use rules::{Assessment, CaseInfo, LabRow, Status, Window};
pub use tracer::{
    CaseExposure, CaseSet, Contact, CotravelAnswer, CotravelQuery, Evidence, EvidenceParts, Trace,
    Tracer,
};

/// How a contact shared time with a case: the contract's `via` kinds of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Via {
    Rail,
    Flight,
    Coach,
    Ship,
    Vehicle,
    Venue,
    Household,
}

impl Via {
    pub const ALL: [Via; 7] = [
        Via::Rail,
        Via::Flight,
        Via::Coach,
        Via::Ship,
        Via::Vehicle,
        Via::Venue,
        Via::Household,
    ];

    /// [`Via::ALL`] in the alphabetical order of their names.
    pub const BY_NAME: [Via; 7] = [
        Via::Coach,
        Via::Flight,
        Via::Household,
        Via::Rail,
        Via::Ship,
        Via::Vehicle,
        Via::Venue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Rail => "rail",
            Via::Flight => "flight",
            Via::Coach => "coach",
            Via::Ship => "ship",
            Via::Vehicle => "vehicle",
            Via::Venue => "venue",
            Via::Household => "household",
        }
    }

    /// The travel modes, by their contract names.
    pub fn from_mode(mode: &str) -> Option<Via> {
        match mode {
            "rail" => Some(Via::Rail),
            "flight" => Some(Via::Flight),
            "coach" => Some(Via::Coach),
            "ship" => Some(Via::Ship),
            _ => None,
        }
    }

    /// Rides on a numbered service (the travel kinds).
    pub fn is_ride(self) -> bool {
        matches!(self, Via::Rail | Via::Flight | Via::Coach | Via::Ship)
    }

    #[cfg(test)]
    fn names_sorted() -> bool {
        Via::BY_NAME
            .windows(2)
            .all(|w| w[0].as_str() < w[1].as_str())
    }

    pub(crate) fn tag(self) -> u8 {
        self as u8 + 1
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Via> {
        Via::ALL.get(usize::from(tag).checked_sub(1)?).copied()
    }
}

/// Errors of tracing, each naming what went wrong in the words of the contract.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: damaged trace index or table file: {reason} (run `fangyi index --rebuild`)")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "not a case: the person's status as of then is {status} (a case is someone whose \
         status has been confirmed or asymptomatic)"
    )]
    NotACase { status: &'static str },
    #[error("{0}")]
    BadQuery(String),
    /// The trace index was built from records the store no longer has.
    #[error("the trace index is out of date with the store: {why}")]
    Outdated { why: &'static str },
    /// A stored file the index is built from could not be read.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl TraceError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TraceError {
        let path = path.into();
        move |cause| TraceError::Io { path, cause }
    }
}

#[cfg(test)]
mod tests {
    use super::Via;

    #[test]
    fn via_names_and_tags() {
        assert!(Via::names_sorted());
        for v in Via::ALL {
            assert_eq!(Via::from_tag(v.tag()), Some(v));
            assert!(Via::BY_NAME.contains(&v));
        }
        assert_eq!(Via::from_tag(0), None);
    }
}
