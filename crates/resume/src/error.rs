//! What can go wrong deciding applications, ordering the whitelist or matching jobs.

/// An error of the decisions, the plan or the matching.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A plan file that does not read: the file, the line and what is wrong.
    #[error("{0}")]
    Plan(String),
}
