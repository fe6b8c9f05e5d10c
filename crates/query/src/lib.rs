//! SQL over a data dir with DataFusion: every kind is a table of its name over the committed
//! Parquet files, read-only, with a few domain functions (`pseudonym`, `covers`, `prefecture`,
//! `region_name`). Statements from outside are bounded before planning ([`Limits`]) and run on
//! threads with a known stack and one memory pool ([`SqlRunner`]); a session for a role that
//! may not see everything registers views instead of the stored files ([`Tables`]). Values an
//! expression makes beyond its inputs (`repeat`, `range`, `||`, …), which the memory pool does
//! not see, are bounded before they are made (`bounded.rs`).
//!
//! Invariant: only the stored tables are visible, never the vault. Person ids appear as their
//! pseudonyms; `pseudonym('…')` is how an operator holding the key finds a person's rows. Plans
//! name stored files relative to the data dir, never by their path on the server.

mod bounded;
mod deidentify;
mod functions;
mod inflow_sql;
mod limits;
mod output;
mod runner;
mod trace_sql;
mod views;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use model::Kind;
use store::Store;
use vault::Keys;

pub use deidentify::{Deidentified, persons_schema};
pub use inflow_sql::{
    SqlExposed, SqlInflowRow, SqlStaySource, exposed_rows_of, exposed_sql, inflow_rows_of,
    inflow_sql,
};
pub use limits::Limits;
pub use output::{OutputFormat, write_stream};
pub use runner::SqlRunner;
pub use trace_sql::{SqlContact, TRACE_COLUMNS, cases_sql, contacts_of, trace_all_sql};
pub use views::{PersonSet, Tables};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL itself is wrong: syntax, unknown table or column, types, or a write attempt.
    #[error("{0}")]
    Sql(String),
    /// The statement is past a [`Limits`] bound (length, nesting, size).
    #[error("{0}")]
    Limit(String),
    /// The query needed more memory than the pool allows.
    #[error("{0}")]
    Resources(String),
    /// Running a valid query failed (I/O, resources).
    #[error("{0}")]
    Execution(String),
    #[error("writing output: {0}")]
    Output(String),
}

fn planning(e: DataFusionError) -> QueryError {
    QueryError::Sql(e.to_string())
}

/// An error while running a query: running out of the memory pool is said plainly.
pub fn execution(e: DataFusionError) -> QueryError {
    if let DataFusionError::ResourcesExhausted(m) = e.find_root() {
        return QueryError::Resources(format!(
            "the query needs more memory than SQL may use ({m}); aggregate or filter more, or \
             add a LIMIT"
        ));
    }
    QueryError::Execution(e.to_string())
}

/// The URL stored files are read through: an object store rooted at the data dir, so a plan
/// (`EXPLAIN`) or an error names a file by its place in the data dir, not on the server.
const STORE_URL: &str = "fangyi-store://data";

/// A SQL session over one snapshot of a data dir.
pub struct Query {
    ctx: SessionContext,
    limits: Limits,
    /// The kinds of which nothing is stored (their tables have no rows): the crate's own
    /// statements leave them out ([`union_of_stored`]).
    unstored: Vec<Kind>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Query")
    }
}

/// Where a session reads the stored files from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePaths {
    /// Through an object store rooted at the data dir (`fangyi-store://data/tables/…`), so
    /// plans and errors name a file by its place in the data dir, never by its path on the
    /// server.
    DataDir,
    /// By absolute path (`file:///…`), for a cluster whose nodes all see the data dir at the
    /// same path (only the client registers the data dir; the nodes read what the plan
    /// names). A kind with no files is a view of no rows, which a plan can carry to another
    /// node (an in-memory table cannot be).
    Shared,
}

/// The crate's own statements' `UNION ALL` of `branches`, each reading the kind it names,
/// without those over kinds nothing is stored of (`unstored`); the first branch alone when
/// none is left. Their rows are none anyway, and on a cluster a branch of no files is shipped
/// as a filtered-out row (Ballista 55 drops an empty relation's columns; see
/// `fangyi_cluster`'s planner), a shape with which a job's tasks sometimes reported unequal
/// metrics to the scheduler, which then never finished the job (4 hangs in 6 runs of
/// `exposed --cluster` on a store without self-reports; none in 6 without the branch).
pub(crate) fn union_of_stored(branches: &[(Kind, String)], unstored: &[Kind]) -> String {
    let kept: Vec<&str> = branches
        .iter()
        .filter(|(k, _)| !unstored.contains(k))
        .map(|(_, sql)| sql.as_str())
        .collect();
    match kept.is_empty() {
        true => branches.first().map(|(_, s)| s.clone()).unwrap_or_default(),
        false => kept.join("\n        UNION ALL"),
    }
}

/// Every stored file of `kind` as one table (an empty one when there are none).
fn stored_table(
    store: &Store,
    kind: Kind,
    paths: FilePaths,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, QueryError> {
    let schema = store::arrow_schema(kind, store.zone());
    let files: Vec<String> = store
        .manifest()
        .files(kind)
        .map(|f| f.path.replace('\\', "/"))
        .collect();
    if files.is_empty() {
        if paths == FilePaths::Shared {
            let empty = LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(
                    datafusion::common::DFSchema::try_from(schema.as_ref().clone())
                        .map_err(execution)?,
                ),
            });
            return Ok(Arc::new(datafusion::datasource::ViewTable::new(
                empty, None,
            )));
        }
        return Ok(Arc::new(
            MemTable::try_new(schema, vec![vec![]]).map_err(execution)?,
        ));
    }
    let urls = match paths {
        FilePaths::DataDir => files
            .iter()
            .map(|p| ListingTableUrl::parse(format!("{STORE_URL}/{p}")))
            .collect::<Result<Vec<_>, _>>(),
        FilePaths::Shared => {
            let root = std::path::absolute(store.root())
                .map_err(|e| QueryError::Execution(format!("the data dir: {e}")))?;
            files
                .iter()
                .map(|p| ListingTableUrl::parse(root.join(p).to_string_lossy()))
                .collect::<Result<Vec<_>, _>>()
        }
    }
    .map_err(execution)?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config).map_err(execution)?))
}

/// The settings of every session: the information schema, the catalog `fangyi.public`, and the
/// parser's recursion limit from `limits`.
pub fn session_config(limits: &Limits) -> Result<SessionConfig, QueryError> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("fangyi", "public");
    config.options_mut().sql_parser.recursion_limit =
        datafusion::common::config::ConfigNonZeroUsize::try_new(limits.parser_recursion.max(1))
            .map_err(execution)?;
    Ok(config)
}

/// [`session_config`] for the crate's own bulk statements in a bounded pool that spills: joins
/// by sort-merge (a hash join holds its whole build side and cannot spill; a sort can); batches
/// of at most one 16384th of the pool in rows (every spilling operator of the plan, about a hundred, must hold a
/// batch within its fair share to spill at all: 1024 rows of `trace --all` are about 80 KiB);
/// a sort's reservation for merging its runs a 128th of the pool (DataFusion's 10 MiB, taken
/// by each sort before its first row, would be the whole of a small budget); and a partition
/// per 64 MiB of the pool, up to the threads.
pub fn bulk_session_config(limits: &Limits) -> Result<SessionConfig, QueryError> {
    let mut config = session_config(limits)?;
    let options = config.options_mut();
    options.optimizer.prefer_hash_join = false;
    // Nor a hash join of a side the statistics think small: after the filters they guess wrong.
    options.optimizer.hash_join_single_partition_threshold = 0;
    options.optimizer.hash_join_single_partition_threshold_rows = 0;
    let exec = &mut options.execution;
    exec.sort_spill_reservation_bytes = exec
        .sort_spill_reservation_bytes
        .min(limits.memory_bytes / 1024);
    exec.batch_size = datafusion::common::config::ConfigNonZeroUsize::try_new(
        (limits.memory_bytes >> 14).clamp(128, 8192),
    )
    .map_err(execution)?;
    // DataFusion plans a sort-merge join only over two partitions or more.
    exec.target_partitions = exec.target_partitions.max(2);
    Ok(config)
}

impl Query {
    /// Registers every kind as a table (an empty one when nothing of that kind is stored), and
    /// the functions, `pseudonym()` included (for the key holder).
    pub fn open(store: &Store, keys: &Keys) -> Result<Query, QueryError> {
        Query::open_with(store, Some(keys), &Tables::Stored, None, Limits::default())
    }

    /// The tables and functions without `pseudonym()`: for analysts, who may count and join
    /// pseudonyms but must not turn an ID number they know into its pseudonym.
    pub fn open_pseudonymised(store: &Store) -> Result<Query, QueryError> {
        Query::open_with(store, None, &Tables::Stored, None, Limits::default())
    }

    /// A session for statements from outside: `tables` as the role may see them, without
    /// `pseudonym()` unless `keys` are given, bounded by the runner's limits and running in
    /// its memory pool.
    pub fn open_for(
        store: &Store,
        keys: Option<&Keys>,
        tables: &Tables,
        runner: &SqlRunner,
    ) -> Result<Query, QueryError> {
        Query::open_with(
            store,
            keys,
            tables,
            Some(runner.env()),
            runner.limits().clone(),
        )
    }

    /// A session for the crate's own bulk statements ([`Query::trace_all`],
    /// [`Query::inflow_rows`], [`Query::exposed_rows`]) over every stored row, without
    /// `pseudonym()`: within the runner's memory budget, spilling to a temporary folder past it
    /// ([`SqlRunner::bulk_env`], [`bulk_session_config`]). Statements from outside belong in
    /// [`Query::open_for`], which never spills.
    pub fn open_bulk(store: &Store, runner: &SqlRunner) -> Result<Query, QueryError> {
        let limits = runner.limits().clone();
        let ctx = SessionContext::new_with_config_rt(
            bulk_session_config(&limits)?,
            runner.bulk_env(store.root())?,
        );
        Query::open_on(
            ctx,
            store,
            None,
            &Tables::Stored,
            limits,
            FilePaths::DataDir,
        )
    }

    pub(crate) fn open_with(
        store: &Store,
        keys: Option<&Keys>,
        tables: &Tables,
        env: Option<Arc<RuntimeEnv>>,
        limits: Limits,
    ) -> Result<Query, QueryError> {
        let config = session_config(&limits)?;
        let ctx = match env {
            Some(env) => SessionContext::new_with_config_rt(config, env),
            None => SessionContext::new_with_config(config),
        };
        Query::open_on(ctx, store, keys, tables, limits, FilePaths::DataDir)
    }

    /// The tables, functions and bounds of a session on a context someone else built (a
    /// cluster's client, from [`session_config`]): everything [`Query::open_for`] registers,
    /// the files read as `paths` says.
    pub fn open_on(
        ctx: SessionContext,
        store: &Store,
        keys: Option<&Keys>,
        tables: &Tables,
        limits: Limits,
        paths: FilePaths,
    ) -> Result<Query, QueryError> {
        if paths == FilePaths::DataDir && store.root().is_dir() {
            let root =
                datafusion::object_store::local::LocalFileSystem::new_with_prefix(store.root())
                    .map_err(|e| QueryError::Execution(format!("the data dir: {e}")))?;
            let url = ObjectStoreUrl::parse(STORE_URL).map_err(execution)?;
            ctx.register_object_store(url.as_ref(), Arc::new(root));
        }
        for &kind in Kind::ALL {
            let stored = stored_table(store, kind, paths)?;
            let table = match tables {
                Tables::Stored => stored,
                Tables::InScope(set) => {
                    views::in_scope_view(&ctx, kind, stored, set).map_err(execution)?
                }
                Tables::Deidentified(d) if kind == Kind::Persons => Arc::new(
                    MemTable::try_new(persons_schema(), vec![vec![d.persons().clone()]])
                        .map_err(execution)?,
                ),
                Tables::Deidentified(d) => {
                    views::deidentified_view(&ctx, kind, stored, d).map_err(execution)?
                }
            };
            ctx.register_table(kind.name(), table).map_err(execution)?;
        }
        functions::register(&ctx, keys);
        ctx.add_analyzer_rule(Arc::new(bounded::BoundValues::new(limits.max_value_bytes)));
        let unstored = Kind::ALL
            .iter()
            .copied()
            .filter(|&k| store.manifest().files(k).next().is_none())
            .collect();
        Ok(Query {
            ctx,
            limits,
            unstored,
        })
    }

    /// The functions a cluster node needs to run the plans of sessions of this crate, by the
    /// names plans give them: the domain functions (`pseudonym` refusing to run without
    /// `keys`) and the bounded versions of the functions that make values larger than their
    /// inputs (and `||`), under `limits`' bound.
    pub fn node_functions(
        keys: Option<&Keys>,
        limits: &Limits,
    ) -> Vec<Arc<datafusion::logical_expr::ScalarUDF>> {
        functions::region_functions()
            .into_iter()
            .chain([functions::pseudonym(keys)])
            .chain(bounded::bounded_defaults(limits.max_value_bytes))
            .map(Arc::new)
            .collect()
    }

    fn options() -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
    }

    /// Checks `sql` against the limits, plans it and refuses anything but a read. Planning
    /// recurses over the statement: call it on a thread of a [`SqlRunner`] for statements
    /// from outside.
    pub async fn plan(&self, sql: &str) -> Result<DataFrame, QueryError> {
        let statement = self.limits.parse(sql)?;
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement).await.map_err(planning)?;
        self.limits.check_plan(&plan)?;
        Self::options().verify_plan(&plan).map_err(planning)?;
        self.ctx.execute_logical_plan(plan).await.map_err(planning)
    }

    /// Plans `sql` and starts it; planning errors are [`QueryError::Sql`] (or
    /// [`QueryError::Limit`]).
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        self.plan(sql)
            .await?
            .execute_stream()
            .await
            .map_err(execution)
    }

    /// Runs `sql` to completion.
    pub async fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let df = self.plan(sql).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(execution)?;
        Ok((schema, batches))
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}
