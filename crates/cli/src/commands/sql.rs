//! `fangyi sql`: read-only SQL over the tables the operator's role may see, as a table, CSV or
//! JSON, asked of the engine like the API's `POST /sql` (same bounds, same audit), every row
//! streamed out.

use std::io::Write;
use std::sync::{Arc, Mutex};

use clap::Args;
use engine::sql::OutputFormat;

use crate::cli::TableFormat;
use crate::commands::Globals;
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The query.
    pub query: String,
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// MiB of memory the query may hold for joins, sorts and aggregates; past it, it fails.
    #[arg(long, env = "FANGYI_SQL_MEMORY_MIB", default_value_t = 1024)]
    pub memory_mib: u64,
    /// Run the query on the Ballista cluster whose scheduler is at HOST:PORT (see `fangyi
    /// cluster`); its nodes must see the data dir at the same path.
    #[arg(long, env = "FANGYI_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
}

pub fn output_format(f: TableFormat) -> OutputFormat {
    match f {
        TableFormat::Table => OutputFormat::Table,
        TableFormat::Csv => OutputFormat::Csv,
        TableFormat::Json => OutputFormat::Json,
    }
}

/// Output gathered in memory for a writer that is not `Send` (the demo's locked stdout).
#[derive(Clone, Default)]
struct Gathered(Arc<Mutex<Vec<u8>>>);

impl Write for Gathered {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("gathered").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Asks the engine to run `sql` (as `fangyi sql` does, audited) and writes the result to `out`;
/// for small answers (the demo's questions), which are gathered first.
pub fn query_to(
    g: &Globals,
    sql: &str,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let op = Operator::open(g)?;
    let caller = op.caller(engine::Purpose::Analysis, "fangyi sql");
    let gathered = Gathered::default();
    let rows = op.ask(
        op.engine()
            .sql_to(&caller, sql, format, Box::new(gathered.clone())),
    )?;
    out.write_all(&gathered.0.lock().expect("gathered"))?;
    Ok(rows)
}

pub fn run(g: &Globals, a: SqlArgs) -> anyhow::Result<()> {
    let memory_bytes = (a.memory_mib.max(1) << 20) as usize;
    let cluster = a.cluster.filter(|c| !c.trim().is_empty());
    let op = Operator::open_with(g, |o| {
        o.sql.memory_bytes = memory_bytes;
        o.cluster = cluster.clone();
        Ok(())
    })?;
    // The audit entry says where the query ran.
    let request = match &cluster {
        Some(c) => format!("fangyi sql --cluster {c}"),
        None => "fangyi sql".into(),
    };
    let caller = op.caller(engine::Purpose::Analysis, &request);
    let out = Box::new(std::io::BufWriter::new(std::io::stdout()));
    op.ask(
        op.engine()
            .sql_to(&caller, &a.query, output_format(a.format), out),
    )
    .map(drop)
}
