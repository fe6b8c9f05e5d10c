//! fangyi's SQL on an Apache Ballista 55 cluster: the scheduler and the executors as fangyi
//! runs them (`fangyi cluster scheduler`, `fangyi cluster executor`), with fangyi's functions
//! compiled in and registered on every node, and the client session a query of `fangyi sql
//! --cluster` is planned in ([`open`]).
//!
//! A plan names its functions; every node resolves them from its own registry, so each node
//! registers what [`query::Query::node_functions`] lists: the domain functions (`covers`,
//! `prefecture`, `region_name`, `arrives`, and `pseudonym`, which runs only on an executor
//! given the master key the way every command finds it — a key never travels in a plan) and
//! the bounded versions of the functions that make values larger than their inputs, so a
//! statement is held to the same bounds on the cluster as in process.
//!
//! The stored files are named in plans by absolute path: every node must see the data dir at
//! the same path (a shared file system). The client decides what a session sees (only the
//! stored tables, for the roles whose SQL sees them); the nodes read what the plan names.

mod client;
pub mod jobs;
mod node;
mod watchdog;

pub use client::{open, open_bulk, scheduler_url};
pub use node::{ExecutorOptions, SchedulerOptions, run_executor, run_scheduler};

/// Why the cluster could not be used or a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An address or option that cannot work.
    #[error("{0}")]
    Config(String),
    /// The scheduler is not there or refused.
    #[error("{0}")]
    Unreachable(String),
    /// A node (scheduler or executor) stopped with an error.
    #[error("{0}")]
    Node(String),
    #[error(transparent)]
    Query(#[from] query::QueryError),
}

/// `HOST:PORT` (or `df://HOST:PORT`) split into its host and port; a missing port is refused
/// rather than guessed.
pub fn host_port(address: &str) -> Result<(String, u16), ClusterError> {
    let a = address.trim();
    let a = a
        .strip_prefix("df://")
        .or_else(|| a.strip_prefix("http://"))
        .unwrap_or(a)
        .trim_end_matches('/');
    let bad = || {
        ClusterError::Config(format!(
            "{address:?} is not HOST:PORT (for example 127.0.0.1:50050)"
        ))
    };
    let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', ' ', '@', '?', '#']) {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(
            host_port("127.0.0.1:50050").unwrap(),
            ("127.0.0.1".into(), 50050)
        );
        assert_eq!(
            host_port("df://node-1:7000").unwrap(),
            ("node-1".into(), 7000)
        );
        assert_eq!(host_port("[::1]:50050").unwrap(), ("::1".into(), 50050));
        for bad in [
            "",
            "localhost",
            ":50050",
            "host:0",
            "host:70000",
            "host:port",
            "a/b:1",
            "user@host:1",
            "host:1?x",
        ] {
            assert!(host_port(bad).is_err(), "{bad:?} accepted");
        }
    }
}
