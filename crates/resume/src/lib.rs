//! Work resumption (contract §8): which employees an enterprise may bring back to the office
//! and when, which enterprises resume first, how far the economy has really resumed by its
//! power use (with forecasts), and which job seekers fill which openings.
//!
//! Each part is a module with one job; the engine asks them on behalf of a caller, so the
//! policy, masking and audit apply as to every other answer.

pub mod decide;
mod error;
pub mod forecast;
pub mod matching;
pub mod plan;
pub mod power;

pub use error::ResumeError;
