//! Who may see what, and why: roles, purposes, the access policy, region scopes, masking of
//! identities, and the hash chain that makes the audit log tamper-evident.
//!
//! Invariant: pure — no I/O, no keys of its own (the audit chain key is handed in). The
//! `engine` crate is the one place these rules are applied to data leaving the system.

pub mod audit;
pub mod mask;
pub mod policy;
pub mod scope;
pub mod sql;

pub use audit::{AuditEntry, ChainBreak, ChainChecker, GENESIS, chain_hash};
pub use mask::{mask_id, mask_ids, mask_name, mask_person_id, mask_personal, mask_phone};
pub use policy::{
    Action, Denied, Disclosure, Purpose, Role, authorize, disclosure, purposes, sees_travel,
};
pub use scope::{Residence, Scope};
pub use sql::{ColumnRule, SqlView, analyst_column, sql_view};
