//! Exit codes (contract §6): 0 success, 1 failure, 2 bad usage or bad arguments — and the one
//! place errors are printed.

use std::fmt;

/// An error caused by what the user asked for (a bad path, bad SQL, a bad id): exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// Prints `e` and returns its exit code.
pub fn report(e: &anyhow::Error) -> i32 {
    eprintln!("error: {e:#}");
    if e.chain().any(|c| c.is::<Usage>()) {
        2
    } else {
        1
    }
}
