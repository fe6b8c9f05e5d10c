//! fangyi's benchmarks, run by `fangyi bench …`: each generates (or reuses) data of its own
//! under a master key of its own and times the product's internals on it — ingest, the trace
//! index, the health-code sweep, code verification, daily inflow, the power index of resumption, the market scan and the HTTP API under load —
//! beside named peers (DuckDB, Polars) in the same run where there are some. A harness that
//! prints its figures, like a binary: it reports with `anyhow`, and marks what the user asked
//! wrongly as [`Usage`] so the command line can exit 2.

mod api;
mod args;
mod attest;
mod codes;
mod cpu;
mod duckdb_peer;
mod inflow_peers;
mod ingest_rate;
mod market;
mod peak;
mod province;
mod residents;
mod resume_peers;
mod resume_work;
mod scale;
mod trace_peers;
mod verify;

pub use args::{
    BenchApiArgs, BenchAttestArgs, BenchCodesArgs, BenchCommand, BenchInflowArgs, BenchIngestArgs,
    BenchMarketArgs, BenchResidentsArgs, BenchResumeArgs, BenchTraceArgs, BenchVerifyArgs,
};

/// An error caused by what the user asked for (a bad folder, a bad count): bad usage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Shorthand for a usage error.
pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// Runs one benchmark, printing its figures on standard output.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(a) => ingest_rate::run(a),
        BenchCommand::Trace(a) => trace_peers::run(a),
        BenchCommand::Verify(a) => verify::run(a),
        BenchCommand::Codes(a) => codes::run(a),
        BenchCommand::Api(a) => api::run(a),
        BenchCommand::Inflow(a) => inflow_peers::run(a),
        BenchCommand::Resume(a) => resume_peers::run(a),
        BenchCommand::Market(a) => market::run(a),
        BenchCommand::Residents(a) => residents::run(a),
        BenchCommand::Scale(a) => scale::run(a),
        BenchCommand::Attest(a) => attest::run(a),
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in a human unit.
pub(crate) fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A multi-threaded runtime.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_readably() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(17_234_122), "17,234,122");
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(3 << 20), "3.0 MiB");
    }
}
