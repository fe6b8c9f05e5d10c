//! `fangyi sql`: read-only SQL over the data dir, as a table, CSV or JSON.

use std::io::Write;

use query::{OutputFormat, Query, QueryError};

use crate::cli::{SqlArgs, TableFormat};
use crate::commands::{Globals, runtime};
use crate::context;
use crate::exit::usage;

pub fn output_format(f: TableFormat) -> OutputFormat {
    match f {
        TableFormat::Table => OutputFormat::Table,
        TableFormat::Csv => OutputFormat::Csv,
        TableFormat::Json => OutputFormat::Json,
    }
}

/// Runs `sql` and writes the result to `out`.
pub fn query_to(
    g: &Globals,
    sql: &str,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    let q = Query::open(&store, &keys)?;
    let rt = runtime()?;
    rt.block_on(async {
        let stream = q.stream(sql).await.map_err(|e| match e {
            QueryError::Sql(m) => usage(format!("SQL: {m}")),
            other => other.into(),
        })?;
        Ok(query::write_stream(stream, format, out).await?)
    })
}

pub fn run(g: &Globals, a: SqlArgs) -> anyhow::Result<()> {
    let keys = g.keys()?;
    let request = context::request(&["fangyi sql", &a.query]);
    let purpose = context::check(
        g,
        &keys,
        privacy::Action::Sql,
        privacy::Purpose::Analysis,
        &request,
    )?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let rows = query_to(g, &a.query, output_format(a.format), &mut out)?;
    out.flush()?;
    // Pseudonymised rows: the statement and the count are what the log needs.
    context::record(
        g,
        &keys,
        privacy::Action::Sql,
        purpose,
        request,
        Vec::new(),
        rows as i64,
    )
}
