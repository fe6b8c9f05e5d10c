//! Where SQL from outside runs: a tokio runtime of its own whose threads have a known, generous
//! stack ([`Limits::stack_bytes`]), so planning and executing a statement within the
//! [`Limits`] never comes near the end of a stack (a stack overflow aborts the whole process,
//! whatever thread it happens on); and one DataFusion memory pool for every query it runs, so
//! queries together hold at most [`Limits::memory_bytes`]. Nothing of a statement from outside
//! spills to disk: such a query past the pool fails with a message saying so, and none of its
//! rows land in a temp file.
//!
//! The crate's own bulk statements (`trace --all`, inflow, the exposed list: fixed text, not a
//! user's) share a second pool of the same size that spills instead ([`SqlRunner::bulk_env`]):
//! sorts, aggregates and sort-merge joins write runs to a temporary folder in the OS temp dir
//! (never the data dir), removed when the statement's session goes.

use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::execution::memory_pool::{
    MemoryLimit, MemoryPool, MemoryReservation, PeakRecordingPool, TrackConsumersPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::{Limits, QueryError};

/// The SQL threads and memory pool; dropping it stops the threads (queries still running are
/// cancelled).
pub struct SqlRunner {
    rt: Option<tokio::runtime::Runtime>,
    env: Arc<RuntimeEnv>,
    /// The bulk statements' pool ([`SpillPool`]), its high-water mark recorded.
    bulk_pool: Arc<PeakRecordingPool>,
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
        let fair = TrackConsumersPool::new(
            SpillPool::new(limits.memory_bytes),
            std::num::NonZeroUsize::new(5).expect("five"),
        );
        let bulk_pool = Arc::new(PeakRecordingPool::new(Arc::new(fair)));
        Ok(SqlRunner {
            rt: Some(rt),
            env,
            bulk_pool,
            limits,
        })
    }

    /// A runtime for one of the crate's own bulk statements: the bulk pool (shared by all of
    /// them, [`Limits::memory_bytes`]) and a disk manager of its own, whose temporary folder in
    /// the OS temp dir is made on the first spill and removed with the runtime (the session).
    /// `data_dir` is refused as the place for it: a writer there removes files it does not
    /// list, and the spilled rows are personal data.
    pub fn bulk_env(&self, data_dir: &std::path::Path) -> Result<Arc<RuntimeEnv>, QueryError> {
        let tmp = std::env::temp_dir();
        let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
        if real(&tmp).starts_with(real(data_dir)) {
            return Err(QueryError::Execution(format!(
                "the temp dir {} is inside the data dir; set TMPDIR to a folder outside it for \
                 SQL to spill to",
                tmp.display()
            )));
        }
        let pool: Arc<dyn MemoryPool> = self.bulk_pool.clone();
        RuntimeEnvBuilder::new()
            .with_memory_pool(pool)
            .with_disk_manager_builder(
                // Merging at most 4 runs at a time keeps a merge's buffers (a batch per run)
                // within the pool however many runs a sort spilled.
                DiskManagerBuilder::default()
                    .with_mode(DiskManagerMode::OsTmpDirectory)
                    .with_max_spill_merge_fan_in(4),
            )
            .build_arc()
            .map_err(|e| QueryError::Execution(e.to_string()))
    }

    /// The most the bulk statements have held of their pool at once since the runner started.
    pub fn bulk_peak_bytes(&self) -> usize {
        self.bulk_pool.peak_reserved()
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

/// First come, first served, except that an operator which can spill may not take the last
/// quarter of the pool once it holds more than a 64th of it: that quarter is for operators that
/// cannot spill (a merge of spilled runs, a join's buffered rows) and for the first batches of
/// sorts that start later. A plain greedy pool lets the first sorts hold everything, and the
/// next sort, holding nothing it could spill, fails; a fair one splits the pool among the
/// hundred-odd spilling operators of `trace --all`'s plan into shares smaller than a batch.
#[derive(Debug)]
struct SpillPool {
    size: usize,
    used: AtomicUsize,
}

impl SpillPool {
    fn new(size: usize) -> SpillPool {
        SpillPool {
            size,
            used: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Display for SpillPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "spill pool(used: {}, size: {})",
            self.used.load(Ordering::Relaxed),
            self.size
        )
    }
}

impl MemoryPool for SpillPool {
    fn name(&self) -> &str {
        "spill"
    }

    fn grow(&self, _: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, _: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> DfResult<()> {
        let spiller =
            reservation.consumer().can_spill() && reservation.size() + additional > self.size / 64;
        let limit = match spiller {
            true => self.size - self.size / 4,
            false => self.size,
        };
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + additional <= limit).then_some(used + additional)
            })
            .map(drop)
            .map_err(|used| {
                DataFusionError::ResourcesExhausted(format!(
                    "Failed to allocate additional {additional} bytes for {} with {} already \
                     allocated - {} remain available for the total memory pool",
                    reservation.consumer().name(),
                    reservation.size(),
                    limit.saturating_sub(used)
                ))
            })
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
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
