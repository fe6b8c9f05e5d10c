//! Where SQL from outside runs: a tokio runtime of its own whose threads have a known, generous
//! stack ([`Limits::stack_bytes`]), so planning and executing a statement within the
//! [`Limits`] never comes near the end of a stack (a stack overflow aborts the whole process,
//! whatever thread it happens on); and one DataFusion memory pool for every query it runs, so
//! queries together hold at most [`Limits::memory_bytes`]. Nothing spills to disk: a query past
//! the pool fails with a message saying so, and no query's rows land in a temp file.

use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::{Limits, QueryError};

/// The SQL threads and memory pool; dropping it stops the threads (queries still running are
/// cancelled).
pub struct SqlRunner {
    rt: Option<tokio::runtime::Runtime>,
    env: Arc<RuntimeEnv>,
    limits: Limits,
}

impl std::fmt::Debug for SqlRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlRunner({:?})", self.limits)
    }
}

impl SqlRunner {
    pub fn new(limits: Limits) -> Result<SqlRunner, QueryError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.threads.max(1))
            .max_blocking_threads(limits.threads.max(1) * 2)
            .thread_stack_size(limits.stack_bytes)
            .thread_name("fangyi-sql")
            .enable_all()
            .build()
            .map_err(|e| QueryError::Execution(format!("starting the SQL threads: {e}")))?;
        let env = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory_bytes, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(|e| QueryError::Execution(e.to_string()))?;
        Ok(SqlRunner {
            rt: Some(rt),
            env,
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The memory pool and settings sessions for this runner execute with.
    pub fn env(&self) -> Arc<RuntimeEnv> {
        self.env.clone()
    }

    /// Runs `work` on the SQL threads; the handle's `abort` cancels it (dropping a DataFusion
    /// stream stops its tasks).
    pub fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.as_ref().expect("running").spawn(work)
    }

    /// Runs `work` on the SQL threads and waits for it, from a thread outside any runtime (the
    /// command line).
    pub fn run<F>(&self, work: F) -> Result<F::Output, QueryError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self.rt.as_ref().expect("running");
        rt.block_on(rt.spawn(work))
            .map_err(|e| QueryError::Execution(format!("the query stopped: {e}")))
    }

    /// Runs `work` on the calling thread within the runner's runtime: for draining a stream
    /// planned by [`SqlRunner::run`] into a writer the thread owns.
    pub fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.rt.as_ref().expect("running").block_on(work)
    }
}

impl Drop for SqlRunner {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which may not happen inside another
        // runtime (an engine dropped in an async test or at shutdown).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
