//! Market supervision of masks (contract §9): online listing captures checked against the
//! enterprises, the medical device registrations and the shops' pre-emergency prices, by seven
//! rules whose thresholds and word lists are data ([`MarketRules`]), and the leads the flagged
//! captures make for the county market supervisors.
//!
//! Layout: [`scan`] reads the store (the reference tables hashed once, `listings` a day at a
//! time, days in parallel); [`check`] is the rules over captures in memory; [`money`] keeps
//! prices exact; [`leads`] groups and ranks; [`output`] is the contract's JSON; [`prices`] is
//! the daily median unit price and share flagged per prefecture and product, in the scan's pass.

pub mod check;
pub mod leads;
pub mod money;
pub mod output;
pub mod prices;
pub mod rules;
pub mod scan;

pub use check::{Evidence, Flagged, Rule};
pub use leads::{Lead, Subject, leads};
pub use output::{FlaggedView, LeadView};
pub use prices::{PriceDay, PriceReport, prices};
pub use rules::{DEFAULT_RULES, MarketRules};
pub use scan::{ScanReport, scan, scan_many};

/// The hash of the scan's in-memory maps: keys are listing text from the web, so the seed is
/// random per process (no chosen-key flooding), and the function is several times cheaper than
/// the standard library's SipHash, which was a sixteenth of a scan.
pub(crate) type Hasher = foldhash::fast::RandomState;
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, Hasher>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, Hasher>;

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A rules file that cannot be used (the message names the key).
    #[error("market rules {0}")]
    Rules(String),
}
