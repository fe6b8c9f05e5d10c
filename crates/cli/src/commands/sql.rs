//! `fangyi sql`: read-only SQL over the data dir, as a table, CSV or JSON. Planned and run on
//! the SQL threads with the same bounds as the server's (statement size and nesting, memory).

use std::io::Write;

use query::{Limits, OutputFormat, Query, QueryError, SqlRunner, Tables};

use crate::cli::{SqlArgs, TableFormat};
use crate::commands::Globals;
use crate::context;
use crate::exit::usage;
use crate::operator::Operator;

pub fn output_format(f: TableFormat) -> OutputFormat {
    match f {
        TableFormat::Table => OutputFormat::Table,
        TableFormat::Csv => OutputFormat::Csv,
        TableFormat::Json => OutputFormat::Json,
    }
}

/// Runs `sql` with the default limits and writes the result to `out`.
pub fn query_to(
    g: &Globals,
    sql: &str,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    query_with(g, sql, format, Limits::default(), out)
}

fn query_with(
    g: &Globals,
    sql: &str,
    format: OutputFormat,
    limits: Limits,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    let runner = SqlRunner::new(limits)?;
    let q = Query::open_for(&store, Some(&keys), &Tables::Stored, &runner)?;
    let statement = sql.to_string();
    // Planned on the SQL threads (known stacks); drained here into `out`.
    let stream = runner
        .run(async move { q.stream(&statement).await })?
        .map_err(|e| match e {
            QueryError::Sql(m) | QueryError::Limit(m) => usage(format!("SQL: {m}")),
            other => other.into(),
        })?;
    Ok(runner.block_on(query::write_stream(stream, format, out))?)
}

pub fn run(g: &Globals, a: SqlArgs) -> anyhow::Result<()> {
    let memory_bytes = (a.memory_mib.max(1) << 20) as usize;
    let op = Operator::open_with(g, |o| {
        o.sql.memory_bytes = memory_bytes;
        Ok(())
    })?;
    let caller = op.caller(engine::Purpose::Analysis, "fangyi sql");
    let out = Box::new(std::io::BufWriter::new(std::io::stdout()));
    op.ask(
        op.engine()
            .sql_to(&caller, &a.query, output_format(a.format), out),
    )
    .map(drop)
}
