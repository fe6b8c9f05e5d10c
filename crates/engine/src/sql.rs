//! Read-only SQL from outside: each role's session sees the tables [`privacy::sql_view`] gives it
//! — an admin the stored tables, an epidemiologist the rows of the persons in their region, an
//! analyst the de-identified tables (quasi-identifiers generalised until every combination is
//! shared by at least [`privacy::sql::K`] persons) — built once per snapshot and scope and
//! kept. Person ids are the store's keyed pseudonyms, sealed fields are not tables, and
//! `pseudonym()` (which would turn a known ID number into its pseudonym) is not available.
//!
//! Statements are bounded ([`query::Limits`]) and planned and run on the SQL threads
//! ([`query::SqlRunner`]: known stacks, one memory pool). Each runs as its own task: a request
//! cut off by the server's time limit or a client that went away cancels the query, and the
//! audit entry — with the statement — is written whatever happened.

use std::sync::{Arc, OnceLock};

use arrow::array::RecordBatch;
use futures_util::StreamExt;
use privacy::{Action, Scope, SqlView};
use query::{Deidentified, PersonSet, Query, QueryError, SqlRunner, Tables};
use serde::Serialize;

use crate::ask::{Answer, Asking, Async};
use crate::recent::Recent;
use crate::{Account, Caller, Engine, EngineError, Snapshot, Stamp};

/// At most this many rows are returned; the answer says when it was cut.
pub const MAX_ROWS: usize = 10_000;

/// The most memory the returned rows may hold before they become JSON.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// `POST /sql`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct SqlAnswer {
    pub columns: Vec<String>,
    /// Row objects, as `fangyi sql --format json` prints them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub rows: Vec<serde_json::Value>,
    /// True when more rows matched than [`MAX_ROWS`].
    pub truncated: bool,
}

/// The engine's SQL machinery: the runner (started on first use) and the tables of recent
/// snapshots and scopes.
pub(crate) struct SqlState {
    limits: query::Limits,
    runner: OnceLock<Result<Arc<SqlRunner>, String>>,
    tables: Recent<(Stamp, SqlView, Scope), Tables>,
    /// The cluster `sql_to` (and `trace --all` by SQL) runs statements on (`HOST:PORT` of its
    /// scheduler), if any.
    pub(crate) cluster: Option<String>,
}

impl SqlState {
    pub fn new(limits: query::Limits, cluster: Option<String>) -> SqlState {
        SqlState {
            cluster,
            limits,
            runner: OnceLock::new(),
            // An unscoped analyst's tables hold every person: keep few.
            tables: Recent::new(4),
        }
    }
}

fn to_json(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>, EngineError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b).map_err(EngineError::internal)?;
        }
        w.finish().map_err(EngineError::internal)?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(EngineError::internal)
}

/// The engine error of a query error: the statement's fault is a 400.
fn query_error(e: QueryError) -> EngineError {
    match e {
        QueryError::Sql(m) | QueryError::Limit(m) | QueryError::Resources(m) => {
            EngineError::BadRequest(m)
        }
        QueryError::Execution(m) => EngineError::BadRequest(m),
        e @ QueryError::Output(_) => EngineError::internal(e),
    }
}

/// The request as the audit log records it: what the caller said, and the statement.
fn audited_request(caller: &Caller, statement: &str) -> Caller {
    let mut c = caller.clone();
    c.request = format!("{} {}", caller.request, privacy::mask_ids(statement.trim()));
    c
}

impl Engine {
    /// Runs one read-only statement and returns up to [`MAX_ROWS`] rows of the tables the
    /// caller's role may see. A request cut off (the server's time limit, a client gone)
    /// cancels the query; its entry, with the statement, is written either way.
    pub async fn sql(&self, caller: &Caller, statement: &str) -> Result<SqlAnswer, EngineError> {
        let caller = audited_request(caller, statement);
        let statement = statement.to_string();
        let work = Async(move |mut asking: Asking| async move {
            let gone = asking.cut_off();
            let engine = asking.engine();
            let answer = tokio::select! {
                r = engine.sql_rows(&asking, &statement) => r?,
                _ = gone => return Err(EngineError::Unavailable(
                    "the request was cut off (time limit, or the client went away); the query was \
                     cancelled".into(),
                )),
            };
            let rows = answer.rows.len() as i64;
            Ok(Answer::new(answer, rows))
        });
        self.ask(&caller, Action::Sql, work).await
    }

    /// The SQL threads, started on first use.
    pub(crate) fn sql_runner(&self) -> Result<Arc<SqlRunner>, EngineError> {
        let state = &self.inner.sql;
        state
            .runner
            .get_or_init(|| {
                SqlRunner::new(state.limits.clone())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError::Internal)
    }

    /// Checks `statement` against the bounds, then gives the runner, the snapshot and the
    /// caller's tables to run it on. A refused statement is refused before anything is built
    /// for it (on the SQL threads: dropping a refused statement's tree recurses as deep as it
    /// nests); `refused` maps the refusal as the caller answers errors.
    async fn checked_session(
        &self,
        asking: &Asking,
        statement: &str,
        refused: fn(QueryError) -> EngineError,
    ) -> Result<(Arc<SqlRunner>, Arc<Snapshot>, Arc<Tables>), EngineError> {
        let runner = self.sql_runner()?;
        let snap = asking.snapshot().await?;
        let limits = runner.limits().clone();
        let text = statement.to_string();
        runner
            .spawn(async move { limits.parse(&text).map(drop) })
            .await
            .map_err(EngineError::internal)?
            .map_err(refused)?;
        let tables = self
            .sql_tables(&asking.caller().account, &snap, &runner)
            .await?;
        Ok((runner, snap, tables))
    }

    /// The tables `account` sees in the current snapshot: built once per snapshot, view and
    /// scope, then kept.
    async fn sql_tables(
        &self,
        account: &Account,
        snap: &Arc<Snapshot>,
        runner: &Arc<SqlRunner>,
    ) -> Result<Arc<Tables>, EngineError> {
        let view = privacy::sql_view(account.role);
        let scope = account.scope.clone();
        if view == SqlView::Stored || (view == SqlView::InScope && scope.is_everyone()) {
            return Ok(Arc::new(Tables::Stored));
        }
        let key = (snap.stamp, view, scope.clone());
        self.inner
            .sql
            .tables
            .get_or_try(key, async || {
                let persons = if scope.is_everyone() {
                    None
                } else {
                    let snap = snap.clone();
                    let persons = tokio::task::spawn_blocking(move || {
                        Ok::<_, EngineError>(snap.directory()?.persons_in(&scope))
                    })
                    .await
                    .map_err(EngineError::internal)??;
                    Some(PersonSet::new(persons))
                };
                match (view, persons) {
                    (SqlView::InScope, Some(set)) => Ok(Tables::InScope(set)),
                    (_, persons) => {
                        let snap = snap.clone();
                        let d = runner
                            .spawn(async move { Deidentified::build(&snap.store, persons).await })
                            .await
                            .map_err(EngineError::internal)?
                            .map_err(EngineError::internal)?;
                        Ok(Tables::Deidentified(Arc::new(d)))
                    }
                }
            })
            .await
    }

    async fn sql_rows(&self, asking: &Asking, statement: &str) -> Result<SqlAnswer, EngineError> {
        let (runner, snap, tables) = self.checked_session(asking, statement, query_error).await?;
        let statement = statement.to_string();
        let r = runner.clone();
        let work = runner.spawn(async move {
            let q = Query::open_for(&snap.store, None, &tables, &r).map_err(query_error)?;
            let mut stream = q.stream(&statement).await.map_err(query_error)?;
            let schema = stream.schema();
            let mut batches = Vec::new();
            let (mut n, mut bytes) = (0usize, 0usize);
            let mut truncated = false;
            while let Some(b) = stream.next().await {
                let b = b.map_err(|e| query_error(query::execution(e)))?;
                bytes += b.get_array_memory_size();
                if bytes > MAX_ANSWER_BYTES {
                    return Err(EngineError::BadRequest(format!(
                        "the answer is larger than {} MiB; select fewer columns or rows",
                        MAX_ANSWER_BYTES >> 20
                    )));
                }
                if n + b.num_rows() > MAX_ROWS {
                    batches.push(b.slice(0, MAX_ROWS - n));
                    truncated = true;
                    break;
                }
                n += b.num_rows();
                batches.push(b);
            }
            Ok(SqlAnswer {
                columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
                rows: to_json(&batches)?,
                truncated,
            })
        });
        // Dropping this future (the request cut off) aborts the query on the SQL threads.
        let abort = work.abort_handle();
        let _cancel = CancelOnDrop(abort);
        work.await.map_err(EngineError::internal)?
    }
}

/// How `fangyi sql` writes its rows (a table, CSV or one JSON array).
pub use query::OutputFormat;

/// A query error as the command line reports it: what the statement asked beyond the bounds or
/// the memory pool is a failure (exit 1, as before the CLI asked the engine), a bad statement
/// bad usage; a write that failed says so (a reader that went away ends quietly).
fn written_query_error(e: QueryError) -> EngineError {
    match e {
        QueryError::Resources(m) => EngineError::Unavailable(m),
        e @ QueryError::Output(_) => EngineError::Unavailable(format!("writing the answer: {e}")),
        e => query_error(e),
    }
}

impl Engine {
    /// `fangyi sql`: one read-only statement over the tables the caller's role may see, every
    /// row written to `out` in `format` as the query streams them (no row cap: the memory pool
    /// bounds what the query holds). The engine the key holder opened on the command line
    /// (`EngineOptions::short_lived`) gives an admin's session `pseudonym()` too — they can
    /// compute pseudonyms anyway; the server's never does. Audited with the statement and the
    /// rows written, a failure (a write included) with its reason.
    pub async fn sql_to(
        &self,
        caller: &Caller,
        statement: &str,
        format: OutputFormat,
        out: Box<dyn std::io::Write + Send>,
    ) -> Result<u64, EngineError> {
        let caller = audited_request(caller, statement);
        let statement = statement.to_string();
        let work = Async(move |asking: Asking| async move {
            let engine = asking.engine().clone();
            let rows = engine.sql_write(&asking, &statement, format, out).await?;
            Ok(Answer::new(rows, rows as i64))
        });
        self.ask(&caller, Action::Sql, work).await
    }

    async fn sql_write(
        &self,
        asking: &Asking,
        statement: &str,
        format: OutputFormat,
        mut out: Box<dyn std::io::Write + Send>,
    ) -> Result<u64, EngineError> {
        let account = &asking.caller().account;
        let view = privacy::sql_view(account.role);
        if self.inner.sql.cluster.is_some()
            && view != SqlView::Stored
            && !(view == SqlView::InScope && account.scope.is_everyone())
        {
            // Refused before the role's views are built for nothing: they are built in this
            // process and cannot travel to the cluster's nodes.
            return Err(EngineError::BadRequest(
                "only a session of the stored tables runs on a cluster (an administrator's); \
                 this role's SQL sees views of them, which run in process: leave out --cluster"
                    .into(),
            ));
        }
        let (runner, snap, tables) = self
            .checked_session(asking, statement, written_query_error)
            .await?;
        let keys = (self.inner.short_lived && privacy::sql_view(account.role) == SqlView::Stored)
            .then(|| self.inner.keys.clone());
        let statement = statement.to_string();
        let r = runner.clone();
        let cluster = self.inner.sql.cluster.clone();
        let stream = runner
            .spawn(async move {
                // The same session on either executor: in process, or planned here and run on
                // the cluster's nodes.
                let q = match cluster {
                    None => Query::open_for(&snap.store, keys.as_ref(), &tables, &r)
                        .map_err(written_query_error)?,
                    Some(address) => {
                        on_cluster(&address, &snap.store, keys.as_ref(), &tables, &r).await?
                    }
                };
                q.stream(&statement).await.map_err(written_query_error)
            })
            .await
            .map_err(EngineError::internal)??;
        // Drained on a blocking thread, through the SQL threads' runtime, into `out`.
        tokio::task::spawn_blocking(move || {
            let rows = runner
                .block_on(query::write_stream(stream, format, &mut out))
                .map_err(written_query_error)?;
            out.flush()
                .map_err(|e| EngineError::Unavailable(format!("writing the answer: {e}")))?;
            Ok(rows)
        })
        .await
        .map_err(EngineError::internal)?
    }
}

/// A session over `store` whose statements run on the cluster at `address`.
#[cfg(feature = "cluster")]
pub(crate) async fn on_cluster(
    address: &str,
    store: &store::Store,
    keys: Option<&vault::Keys>,
    tables: &Tables,
    runner: &SqlRunner,
) -> Result<Query, EngineError> {
    cluster::open(address, store, keys, tables, runner)
        .await
        .map_err(cluster_error)
}

/// The session for the engine's own bulk statements over every stored row of `store`
/// (`trace --all`, a full sweep's cases, inflow, exposed): on the cluster at `cluster` when
/// the engine has one ([`bulk_on_cluster`]), else embedded within the SQL memory budget,
/// spilling past it (never into the data dir).
pub(crate) async fn bulk_session(
    cluster: Option<&str>,
    store: &store::Store,
    runner: &SqlRunner,
) -> Result<Query, EngineError> {
    match cluster {
        None => Query::open_bulk(store, runner).map_err(EngineError::internal),
        Some(address) => bulk_on_cluster(address, store, runner).await,
    }
}

/// A session over every stored row of `store` for the engine's own bulk statements on the
/// cluster at `address`, planned to keep to the executors' memory ([`cluster::open_bulk`]).
#[cfg(feature = "cluster")]
async fn bulk_on_cluster(
    address: &str,
    store: &store::Store,
    runner: &SqlRunner,
) -> Result<Query, EngineError> {
    cluster::open_bulk(address, store, runner)
        .await
        .map_err(cluster_error)
}

#[cfg(feature = "cluster")]
fn cluster_error(e: cluster::ClusterError) -> EngineError {
    match e {
        cluster::ClusterError::Query(e) => written_query_error(e),
        e @ cluster::ClusterError::Config(_) => EngineError::BadRequest(e.to_string()),
        e => EngineError::Unavailable(e.to_string()),
    }
}

#[cfg(not(feature = "cluster"))]
async fn bulk_on_cluster(
    _address: &str,
    _store: &store::Store,
    _runner: &SqlRunner,
) -> Result<Query, EngineError> {
    Err(EngineError::Unavailable(WITHOUT_CLUSTER.into()))
}

/// What a binary built without cluster mode answers when asked to use a cluster.
pub const WITHOUT_CLUSTER: &str = "this fangyi was built without cluster mode: build it with \
     `cargo build --release --features cluster` (README, \"Cluster mode\")";

#[cfg(not(feature = "cluster"))]
pub(crate) async fn on_cluster(
    _address: &str,
    _store: &store::Store,
    _keys: Option<&vault::Keys>,
    _tables: &Tables,
    _runner: &SqlRunner,
) -> Result<Query, EngineError> {
    Err(EngineError::Unavailable(WITHOUT_CLUSTER.into()))
}

/// Aborts a task when dropped before it finished.
struct CancelOnDrop(tokio::task::AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
