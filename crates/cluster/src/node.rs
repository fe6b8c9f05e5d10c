//! The scheduler and the executor as fangyi runs them: Ballista's own processes, each with
//! fangyi's functions in the registry it reads plans with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use query::{Limits, Query};
use vault::Keys;

use crate::ClusterError;

/// How `fangyi cluster scheduler` runs.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Where clients and executors reach it.
    pub bind: SocketAddr,
    /// The host name executors and clients know it by, when not the bound address.
    pub external_host: Option<String>,
    /// How long a running job may sit unchanged on an idle cluster with live executors
    /// before it is failed ([`crate::watchdog`]).
    pub stall_limit: Duration,
}

/// How `fangyi cluster executor` runs.
#[derive(Clone)]
pub struct ExecutorOptions {
    /// The scheduler's `HOST:PORT`.
    pub scheduler: String,
    /// Where the executor's Arrow Flight service (other executors and clients fetch results
    /// there) listens.
    pub bind: SocketAddr,
    /// The port of its gRPC service (the scheduler's calls); default the Flight port + 1.
    pub grpc_port: Option<u16>,
    /// The host name others reach it by, when not the bound address.
    pub external_host: Option<String>,
    /// Tasks it runs at once; 0: one per core.
    pub concurrency: usize,
    /// Where it keeps shuffle files; default a temporary folder.
    pub work_dir: Option<PathBuf>,
    /// The keys `pseudonym()` needs; without them it refuses to run here.
    pub keys: Option<Keys>,
    /// The memory its tasks share, in bytes: each task's pool is its share of it (by the
    /// cores it uses), spilling sorts and sort-merge joins to `work_dir` past it. Ballista's
    /// own default (70 % of the host, per executor) overcommits a machine running two.
    pub memory_bytes: u64,
    /// The bounds values made by one expression are held to (the same as the client's).
    pub limits: Limits,
}

impl std::fmt::Debug for ExecutorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorOptions")
            .field("scheduler", &self.scheduler)
            .field("bind", &self.bind)
            .field("grpc_port", &self.grpc_port)
            .field("concurrency", &self.concurrency)
            .field("memory_bytes", &self.memory_bytes)
            .field("keys", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

fn host_of(addr: &SocketAddr) -> String {
    addr.ip().to_string()
}

/// Runs Ballista's scheduler until the process is stopped. It plans what clients send with
/// fangyi's functions (`pseudonym` refusing to run: the scheduler never holds a key; a
/// client has already computed `pseudonym('…')` of a literal before sending its plan).
pub async fn run_scheduler(opts: SchedulerOptions, limits: &Limits) -> Result<(), ClusterError> {
    if opts.bind.port() == 0 {
        return Err(ClusterError::Config(
            "the scheduler needs a fixed port (--bind HOST:PORT)".into(),
        ));
    }
    let functions = Query::node_functions(None, limits);
    let builder: SessionBuilder = Arc::new(move |config: SessionConfig| {
        let mut state = default_session_builder(config)?;
        for f in &functions {
            state.register_udf(f.clone())?;
        }
        Ok(state)
    });
    let mut config = SchedulerConfig::default().with_override_session_builder(builder);
    config.bind_host = host_of(&opts.bind);
    config.bind_port = opts.bind.port();
    config.external_host = opts.external_host.unwrap_or_else(|| host_of(&opts.bind));
    // An executor that sent no heartbeat (every 5 s, `run_executor`) for 30 s is gone: its
    // tasks are run again elsewhere within seconds rather than Ballista's default 3 minutes.
    config.executor_timeout_seconds = 30;
    config.no_executors_grace_period_seconds = 30;
    let executor_timeout = Duration::from_secs(config.executor_timeout_seconds);
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| ClusterError::Node(format!("the scheduler: {e}")))?;
    let config = Arc::new(config);
    config
        .validate()
        .map_err(|e| ClusterError::Config(format!("the scheduler: {e}")))?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(|e| ClusterError::Node(format!("the scheduler: {e}")))?;
    tokio::spawn(crate::watchdog::watch(
        scheduler.clone(),
        executor_timeout,
        opts.stall_limit,
    ));
    start_grpc_service(opts.bind, scheduler)
        .await
        .map_err(|e| ClusterError::Node(format!("the scheduler on {}: {e}", opts.bind)))
}

/// Runs a Ballista executor until the process is stopped (or the scheduler tells it to
/// stop), registered with the scheduler and running its tasks with fangyi's functions.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    let (scheduler_host, scheduler_port) = crate::host_port(&opts.scheduler)?;
    if opts.bind.port() == 0 {
        return Err(ClusterError::Config(
            "an executor needs a fixed port (--bind HOST:PORT): it tells the scheduler where \
             it is"
                .into(),
        ));
    }
    let grpc_port = match opts.grpc_port {
        Some(p) => p,
        None => opts.bind.port().checked_add(1).ok_or_else(|| {
            ClusterError::Config("--bind's port is the last one; give --grpc-port".into())
        })?,
    };
    if grpc_port == opts.bind.port() || grpc_port == 0 {
        return Err(ClusterError::Config(format!(
            "the gRPC port {grpc_port} must differ from the Flight port and not be 0"
        )));
    }
    let mut registry = BallistaFunctionRegistry::default();
    // Ballista's registry lacks DataFusion's array functions (`array_element`, …), which a
    // client's session has (`trace --all`'s plan uses them): every default function, then
    // fangyi's over them.
    for f in datafusion::execution::SessionStateDefaults::default_scalar_functions() {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    for f in Query::node_functions(opts.keys.as_ref(), &opts.limits) {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    let config = ExecutorProcessConfig {
        bind_host: host_of(&opts.bind),
        external_host: opts.external_host.clone(),
        port: opts.bind.port(),
        grpc_port,
        scheduler_host,
        scheduler_port,
        // Executors are often started beside their scheduler: wait for it a while.
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.concurrency,
        work_dir: opts
            .work_dir
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        // A heartbeat every few seconds, so a dead executor is noticed in seconds, not a minute.
        executor_heartbeat_interval_seconds: 5,
        override_function_registry: Some(Arc::new(registry)),
        memory_pool_size: Some(opts.memory_bytes),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Node(format!("the executor on {}: {e}", opts.bind)))
}
