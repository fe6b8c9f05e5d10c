//! Shared types of fangyi: ids with check characters, regions and the covers rule, times in the
//! deployment zone, the contract's vocabularies and the registry of input kinds.
//!
//! Invariant: no I/O and no heavy dependencies here (but [`files`], the one bounded reader of a
//! file a user names, std only); every other crate builds on these types, so a rule of the
//! contract is written once, in this crate.

pub mod arrival;
pub mod field;
pub mod files;
pub mod id;
pub mod kind;
pub mod region;
pub mod time;
pub mod value;

pub use arrival::{Arrival, ArrivalKind};
pub use field::{FieldError, Value};
pub use id::{EnterpriseId, PersonId};
pub use kind::{Column, FieldType, Kind, KindSpec, RowCheck, Storage};
pub use region::{Level, Region, RegionInfo, RegionTable};
pub use time::{Date, MS_PER_DAY, Timestamp, Zone};
pub use value::{
    Color, Diagnosis, Direction, LabResult, Mode, OccupantRole, Product, RiskLevel, Sex,
};

/// The file the generator leaves in its ground-truth folder (`truth/`): ingest, walking a
/// folder, skips a folder holding it without a word, since it is not input.
pub const GROUND_TRUTH_MARKER: &str = ".fangyi-ground-truth";
