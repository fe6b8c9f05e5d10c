//! `fangyi cluster scheduler` and `fangyi cluster executor`: a Ballista cluster's nodes with
//! fangyi's SQL functions, for `fangyi sql --cluster HOST:PORT`. Thin: flags in, the engine's
//! cluster nodes run until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use engine::cluster_mode::{self, ExecutorOptions, SchedulerOptions};

use crate::commands::Globals;

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Run the cluster's scheduler: clients send it queries, executors ask it for work.
    #[command(
        after_help = "Examples:\n  fangyi cluster scheduler                            on 127.0.0.1:50050\n  fangyi cluster scheduler --bind 0.0.0.0:50050 --external-host sched.example\n\nThen start executors (fangyi cluster executor --scheduler HOST:PORT) and run\nfangyi sql --cluster HOST:PORT \"…\". Ctrl-C stops it."
    )]
    Scheduler(SchedulerArgs),
    /// Run an executor: it registers with the scheduler and runs the tasks of queries,
    /// reading the data dir's files at the path the client names (the same on every node).
    #[command(
        after_help = "Examples:\n  fangyi cluster executor --scheduler 127.0.0.1:50050\n  fangyi cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50061 --concurrency 2\n  fangyi --key-file /etc/fangyi/master.key cluster executor --scheduler sched:50050 --keys\n\nWith --keys it computes pseudonym() of a column, with the operator's master key found as\nevery command finds it (FANGYI_MASTER_KEY, --key-file, ~/.config/fangyi/master.key);\nwithout, it refuses to. Its tasks share the global --memory (default a quarter of the\nmachine), spilling to --work-dir past it: give each executor its share of the node. Ctrl-C stops it."
    )]
    Executor(ExecutorArgs),
}

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub bind: SocketAddr,
    /// The host name clients and executors reach it by, when not the bound address.
    #[arg(long)]
    pub external_host: Option<String>,
    /// Seconds a running job may sit with nothing of it running while the cluster is idle
    /// and has live executors before the scheduler fails it (Ballista 55 can lose track of
    /// a job after an executor dies; its client would wait for ever).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_limit: u64,
}

#[derive(Args, Debug)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long, env = "FANGYI_CLUSTER")]
    pub scheduler: String,
    /// Address of its Arrow Flight service (results and shuffles are fetched there).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: SocketAddr,
    /// Port of its gRPC service (the scheduler's calls); default --bind's port + 1.
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// The host name others reach it by, when not the bound address.
    #[arg(long)]
    pub external_host: Option<String>,
    /// Tasks it runs at once (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub concurrency: usize,
    /// Folder for shuffle files (default: a temporary folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Load the operator's master key, so pseudonym() of a column runs here.
    #[arg(long)]
    pub keys: bool,
}

/// The nodes' threads: large stacks, as Ballista's own binaries have, since decoding and
/// planning a deep plan (`trace --all`'s) recurses as deep as it nests.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()?)
}

pub fn run(g: &Globals, c: ClusterCommand) -> anyhow::Result<()> {
    let limits = engine::SqlLimits::default();
    match c {
        ClusterCommand::Scheduler(a) => {
            eprintln!("fangyi cluster scheduler on {}", a.bind);
            runtime()?.block_on(cluster_mode::run_scheduler(
                SchedulerOptions {
                    bind: a.bind,
                    external_host: a.external_host,
                    stall_limit: std::time::Duration::from_secs(a.stall_limit),
                },
                &limits,
            ))?;
        }
        ClusterCommand::Executor(a) => {
            // The scheduler's address is checked before anything starts.
            cluster_mode::host_port(&a.scheduler)?;
            let keys = if a.keys {
                let key_file = match &g.key {
                    engine::datadir::KeyLocation::Operator(f) => f.clone(),
                    engine::datadir::KeyLocation::Own(f) => Some(f.clone()),
                };
                let (keys, warnings) = cluster_mode::executor_keys(key_file.as_deref(), g.data())?;
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                Some(keys)
            } else {
                None
            };
            eprintln!(
                "fangyi cluster executor on {}, scheduler {}{}",
                a.bind,
                a.scheduler,
                if keys.is_some() {
                    ", with the master key"
                } else {
                    ""
                }
            );
            runtime()?.block_on(cluster_mode::run_executor(ExecutorOptions {
                scheduler: a.scheduler,
                bind: a.bind,
                grpc_port: a.grpc_port,
                external_host: a.external_host,
                concurrency: a.concurrency,
                work_dir: a.work_dir,
                keys,
                limits,
                memory_bytes: crate::commands::trace_cmd::memory().get(),
            }))?;
        }
    }
    Ok(())
}
