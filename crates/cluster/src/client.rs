//! The client side: a SQL session whose plans run on the cluster. It is a [`query::Query`]
//! like any other — the same tables, functions, bounds and read-only check — planned here and
//! sent to the scheduler for the physical plan and its stages.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::catalog::Session;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::SessionContext;
use query::{FilePaths, Query, SqlRunner, Tables};
use store::Store;
use vault::Keys;

use crate::{ClusterError, host_port};

/// The scheduler's URL as Ballista's client takes it, from `HOST:PORT`.
pub fn scheduler_url(address: &str) -> Result<String, ClusterError> {
    let (host, port) = host_port(address)?;
    Ok(if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    })
}

/// Whether jobs are planned by Ballista's adaptive planner: `FANGYI_CLUSTER_ADAPTIVE` set to
/// `1` or `true`.
fn adaptive_planner() -> bool {
    std::env::var("FANGYI_CLUSTER_ADAPTIVE").is_ok_and(|v| v == "1" || v == "true")
}

/// `config` with the settings `KEY=VALUE,KEY=VALUE` (DataFusion's and Ballista's options by
/// name, as `FANGYI_CLUSTER_SET` gives them, for tuning a cluster's jobs) applied over it.
fn with_settings(
    mut config: datafusion::prelude::SessionConfig,
    settings: Option<&str>,
) -> Result<datafusion::prelude::SessionConfig, ClusterError> {
    for setting in settings.unwrap_or("").split(',').map(str::trim) {
        if setting.is_empty() {
            continue;
        }
        let Some((key, value)) = setting.split_once('=') else {
            return Err(ClusterError::Config(format!(
                "FANGYI_CLUSTER_SET: {setting:?} is not KEY=VALUE"
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        let refused = |e: String| ClusterError::Config(format!("FANGYI_CLUSTER_SET: {key}: {e}"));
        check_ballista_value(key, value).map_err(refused)?;
        config
            .options_mut()
            .set(key, value)
            .map_err(|e| refused(e.to_string()))?;
    }
    Ok(config)
}

/// Ballista stores its own options' values unchecked and parses them where they are read,
/// panicking on one that does not parse (on the client or an executor, mid-job): each is
/// checked here against its type first. Keys of other prefixes are DataFusion's, which checks
/// them as it stores them.
fn check_ballista_value(key: &str, value: &str) -> Result<(), String> {
    use ballista_core::config::BallistaConfig;
    let Some(entry) = BallistaConfig::valid_entries().get(key) else {
        // Not Ballista's (or not an option at all, which `set` refuses by name).
        return Ok(());
    };
    // The parse Ballista's readers make of each type (integers as usize).
    BallistaConfig::parse_value(value, entry.data_type().clone())
        .map_err(|e| format!("{value:?} is not a {}: {e}", entry.data_type()))
}

/// How long the client waits for the scheduler to answer a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A session over `store` whose queries run on the cluster whose scheduler is at `address`
/// (`HOST:PORT`): the stored tables by absolute path, fangyi's functions (`pseudonym()` with
/// `keys`), the runner's bounds. Only a session of the stored tables runs on a cluster: the
/// views of a scoped or de-identified session are built in this process and do not travel.
pub async fn open(
    address: &str,
    store: &Store,
    keys: Option<&Keys>,
    tables: &Tables,
    runner: &SqlRunner,
) -> Result<Query, ClusterError> {
    let config = query::session_config(runner.limits())?;
    open_with(address, store, keys, tables, runner, config).await
}

/// [`open`] for the crate's own bulk statements over every stored row (`trace --all`, a full
/// code sweep's cases, inflow, exposed), planned as the embedded bulk session plans them
/// ([`query::bulk_session_config`]: sort-merge joins, no hash join holding a side whole), so
/// an executor's tasks keep to its memory pool and spill past it, where a hash join's build
/// side cannot: `trace --all` at 10 M residents grew an executor to 13.5 GiB until the kernel
/// killed it. Statements from outside keep [`open`]'s plans and, past the pool, fail.
///
/// Its stages are cut into [`bulk_partitions`] partitions rather than one per local core: with
/// two, each of `trace --all`'s stages at 10 M residents ran as one task on one executor, which
/// sorted all 237 M check-ins in two partitions and peaked at 10.6 GiB beside its 2 GiB pool;
/// with eight, the same answer, both executors under 1.7 GiB and 4 % faster
/// (docs/scale.md).
pub async fn open_bulk(
    address: &str,
    store: &Store,
    runner: &SqlRunner,
) -> Result<Query, ClusterError> {
    let mut config = query::bulk_session_config(runner.limits())?;
    let largest = store
        .manifest()
        .kind_stats()
        .values()
        .map(|k| k.bytes)
        .max()
        .unwrap_or(0);
    let partitions = bulk_partitions(
        largest,
        runner.limits().memory_bytes as u64,
        config.target_partitions(),
    );
    config.options_mut().execution.target_partitions = partitions;
    open_with(address, store, None, &Tables::Stored, runner, config).await
}

/// How many partitions a cluster's bulk statement is cut into: one per eighth of the memory
/// budget (`memory_bytes`, which each executor is given too) of the largest kind's stored
/// Parquet (about a quarter of its rows' size in memory, so a partition's rows are about half
/// a budget), at least `local` (the client's own choice) and at most 512.
pub fn bulk_partitions(largest_kind_bytes: u64, memory_bytes: u64, local: usize) -> usize {
    let per_partition = (memory_bytes / 8).max(1 << 20);
    let wanted = largest_kind_bytes.div_ceil(per_partition);
    usize::try_from(wanted)
        .unwrap_or(usize::MAX)
        .clamp(local.max(2), 512.max(local))
}

async fn open_with(
    address: &str,
    store: &Store,
    keys: Option<&Keys>,
    tables: &Tables,
    runner: &SqlRunner,
    config: datafusion::prelude::SessionConfig,
) -> Result<Query, ClusterError> {
    if !matches!(tables, Tables::Stored) {
        return Err(ClusterError::Config(
            "only a session of the stored tables runs on a cluster (an administrator's); this \
             role's SQL sees views of them, which run in process: leave out --cluster"
                .into(),
        ));
    }
    let url = scheduler_url(address)?;
    let (host, port) = host_port(address)?;
    // Ballista's client would only fail once the query runs, with a transport error; say it
    // plainly first.
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(ClusterError::Unreachable(format!(
                "no cluster scheduler at {address} ({e}); start one with `fangyi cluster \
                 scheduler --bind {address}`"
            )));
        }
        Err(_) => {
            return Err(ClusterError::Unreachable(format!(
                "the cluster scheduler at {address} did not answer in {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    }
    // Without Ballista's adaptive planner unless FANGYI_CLUSTER_ADAPTIVE=1: with it, a job
    // whose executor died mid-stage is rolled back and then never finishes (Ballista 55; the
    // scheduler's watchdog fails it after its stall limit), where the fixed plan runs the lost
    // tasks again.
    let config = config
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(adaptive_planner())
        // The client asks for the job's status (every 50 ms) rather than waiting for the
        // scheduler to push it: a job the scheduler's watchdog fails (`watchdog.rs`) changes
        // status without the event that would push it, and its error says why.
        .set_bool("ballista.client.pull", true);
    let config = with_settings(config, std::env::var("FANGYI_CLUSTER_SET").ok().as_deref())?;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runner.env())
        .build()
        .upgrade_for_ballista(url.clone())
        .map_err(|e| ClusterError::Config(format!("the cluster session: {e}")))?;
    let ballista = state.query_planner().clone();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(Planner {
            ballista,
            local: DefaultPhysicalPlanner::default(),
            scheduler: url,
        }))
        .build();
    let ctx = SessionContext::new_with_state(state);
    Ok(Query::open_on(
        ctx,
        store,
        keys,
        tables,
        runner.limits().clone(),
        FilePaths::Shared,
    )?)
}

/// Ballista's planner, except for a plan that is no more than a relation of no rows (a query
/// of a kind nothing is stored of, once optimised): Ballista answers that with no columns at
/// all, so it is planned here, keeping the columns the statement names. A relation of no rows
/// inside a larger plan is sent as one that keeps its columns ([`shippable_empties`]).
/// Every distributed plan it makes is recorded ([`crate::jobs`]), for progress and Ctrl-C.
struct Planner {
    ballista: Arc<dyn QueryPlanner + Send + Sync>,
    local: DefaultPhysicalPlanner,
    /// The scheduler's URL.
    scheduler: String,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fangyi cluster planner")
    }
}

// `QueryPlanner` is an `async_trait`; its method written out as the macro would, rather than
// a dependency on the macro for one method.
impl QueryPlanner for Planner {
    fn create_physical_plan<'a, 'b, 'c, 'f>(
        &'a self,
        plan: &'b LogicalPlan,
        state: &'c dyn Session,
    ) -> Pin<Box<dyn Future<Output = datafusion::error::Result<Arc<dyn ExecutionPlan>>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            if matches!(plan, LogicalPlan::EmptyRelation(_)) {
                return self.local.create_physical_plan(plan, state).await;
            }
            let plan = shippable_empties(plan.clone())?;
            let plan = self.ballista.create_physical_plan(&plan, state).await?;
            crate::jobs::record(&self.scheduler, &plan);
            Ok(plan)
        })
    }
}

/// `plan` with each relation of no rows inside it (what the optimiser leaves of a kind
/// nothing is stored of, or of a branch it proved empty) written as one row of typed NULLs
/// under the relation's qualified column names, filtered by `false`: the same no rows, in a
/// form whose columns survive the trip to the scheduler. Ballista 55 sends an empty relation
/// without its columns, so the nodes above it no longer planned there ("No field named
/// __unnest_placeholder(…)" for an unnest over one) or, worse, planned against the wrong
/// columns (a filter over a union left with one branch answered no rows).
fn shippable_empties(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    use datafusion::common::tree_node::Transformed;
    use datafusion::common::{DFSchema, ScalarValue};
    use datafusion::logical_expr::{EmptyRelation, Filter, Projection, lit};

    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::EmptyRelation(empty) = &node else {
            return Ok(Transformed::no(node));
        };
        if empty.produce_one_row {
            // No columns to lose.
            return Ok(Transformed::no(node));
        }
        let one_row = Arc::new(LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: true,
            schema: Arc::new(DFSchema::empty()),
        }));
        let nulls = empty
            .schema
            .iter()
            .map(|(qualifier, field)| {
                let null = lit(ScalarValue::try_from(field.data_type())?);
                Ok(null.alias_qualified(qualifier.cloned(), field.name()))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let row = LogicalPlan::Projection(Projection::try_new(nulls, one_row)?);
        let none = Filter::try_new(lit(false), Arc::new(row))?;
        Ok(Transformed::yes(LogicalPlan::Filter(none)))
    })
    .map(|t| t.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::{EmptyRelation, LogicalPlanBuilder, col};

    #[test]
    fn bulk_statements_are_cut_by_the_largest_kind_against_the_budget() {
        const GIB: u64 = 1 << 30;
        // 10 M residents: 2.5 GB of check-ins against 2 GiB.
        assert_eq!(bulk_partitions(2_500_000_000, 2 * GIB, 2), 10);
        // A small store keeps the client's own number.
        assert_eq!(bulk_partitions(40_000_000, 2 * GIB, 2), 2);
        assert_eq!(bulk_partitions(0, 2 * GIB, 8), 8);
        // A nation's table against a small budget stops at 512.
        assert_eq!(bulk_partitions(5_000 * GIB, GIB, 4), 512);
        // A tiny budget still cuts by at least a MiB.
        assert_eq!(bulk_partitions(10 << 20, 0, 1), 10);
    }

    #[test]
    fn settings_are_applied_by_name_and_bad_ones_refused() {
        use ballista_core::extension::SessionConfigExt;
        let base = datafusion::prelude::SessionConfig::new().upgrade_for_ballista();
        let config = with_settings(
            base.clone(),
            Some(" datafusion.execution.target_partitions=3, ballista.shuffle.max_concurrent_read_requests=8 ,"),
        )
        .unwrap();
        assert_eq!(config.target_partitions(), 3);
        assert_eq!(
            config
                .ballista_config()
                .shuffle_reader_maximum_concurrent_requests(),
            8
        );
        for bad in [
            "target_partitions",
            "datafusion.execution.no_such=1",
            "datafusion.execution.target_partitions=x",
            // Ballista's own would be stored as given and panic where read.
            "ballista.shuffle.max_concurrent_read_requests=-1",
            "ballista.client.pull=maybe",
            "ballista.no_such=1",
        ] {
            let err = with_settings(base.clone(), Some(bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains("FANGYI_CLUSTER_SET"), "{err}");
        }
    }

    #[test]
    fn an_empty_relation_inside_a_plan_keeps_its_columns_and_no_rows() {
        let schema = Schema::new(vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("venue_id", DataType::Utf8, true),
        ]);
        let empty = LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(DFSchema::try_from_qualified_schema("checkins", &schema).unwrap()),
        });
        let plan = LogicalPlanBuilder::from(empty)
            .project(vec![col("checkins.venue_id")])
            .unwrap()
            .build()
            .unwrap();
        let shipped = shippable_empties(plan.clone()).unwrap();
        assert_eq!(shipped.schema(), plan.schema());
        let text = shipped.display_indent().to_string();
        assert!(text.contains("Filter: Boolean(false)"), "{text}");
        assert!(!text.contains("EmptyRelation: rows=0"), "{text}");
        // The columns the projection reads are there, qualified as before.
        let LogicalPlan::Projection(p) = &shipped else {
            panic!("{text}")
        };
        assert_eq!(
            p.input.schema().field_names(),
            ["checkins.person_id", "checkins.venue_id"]
        );
    }
}
