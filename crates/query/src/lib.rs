//! SQL over a data dir with DataFusion: every kind is a table of its name over the committed
//! Parquet files, read-only, with a few domain functions (`pseudonym`, `covers`, `prefecture`,
//! `region_name`).
//!
//! Invariant: only the stored tables are visible, never the vault. Person ids appear as their
//! pseudonyms; `pseudonym('…')` is how an operator holding the key finds a person's rows.

mod functions;
mod output;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use model::Kind;
use store::Store;
use vault::Keys;

pub use output::{OutputFormat, write_stream};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL itself is wrong: syntax, unknown table or column, types, or a write attempt.
    #[error("{0}")]
    Sql(String),
    /// Running a valid query failed (I/O, resources).
    #[error("{0}")]
    Execution(String),
    #[error("writing output: {0}")]
    Output(String),
}

fn planning(e: DataFusionError) -> QueryError {
    QueryError::Sql(e.to_string())
}

fn execution(e: DataFusionError) -> QueryError {
    QueryError::Execution(e.to_string())
}

/// A SQL session over one snapshot of a data dir.
pub struct Query {
    ctx: SessionContext,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Query")
    }
}

impl Query {
    /// Registers every kind as a table (an empty one when nothing of that kind is stored), and
    /// the functions, `pseudonym()` included (for the key holder).
    pub fn open(store: &Store, keys: &Keys) -> Result<Query, QueryError> {
        Query::open_with(store, Some(keys))
    }

    /// The tables and functions without `pseudonym()`: for analysts, who may count and join
    /// pseudonyms but must not turn an ID number they know into its pseudonym.
    pub fn open_pseudonymised(store: &Store) -> Result<Query, QueryError> {
        Query::open_with(store, None)
    }

    fn open_with(store: &Store, keys: Option<&Keys>) -> Result<Query, QueryError> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("fangyi", "public");
        let ctx = SessionContext::new_with_config(config);
        let zone = store.zone();
        for &kind in Kind::ALL {
            let schema = store::arrow_schema(kind, zone);
            let files = store.table_files(kind);
            let table: Arc<dyn datafusion::catalog::TableProvider> = if files.is_empty() {
                Arc::new(MemTable::try_new(schema, vec![vec![]]).map_err(execution)?)
            } else {
                let urls = files
                    .iter()
                    .map(|p| ListingTableUrl::parse(p.to_string_lossy()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(execution)?;
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(options)
                    .with_schema(schema);
                Arc::new(ListingTable::try_new(config).map_err(execution)?)
            };
            ctx.register_table(kind.name(), table).map_err(execution)?;
        }
        functions::register(&ctx, keys);
        Ok(Query { ctx })
    }

    fn options() -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
    }

    /// Plans `sql` and starts it; planning errors are [`QueryError::Sql`].
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        let df = self
            .ctx
            .sql_with_options(sql, Self::options())
            .await
            .map_err(planning)?;
        df.execute_stream().await.map_err(execution)
    }

    /// Runs `sql` to completion.
    pub async fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let df = self
            .ctx
            .sql_with_options(sql, Self::options())
            .await
            .map_err(planning)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(execution)?;
        Ok((schema, batches))
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}
