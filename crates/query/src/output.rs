//! Writing query results as an aligned table, CSV, or one JSON array of row objects, streaming
//! batch by batch for CSV and JSON so large results need no memory.

use std::io::Write;

use arrow::array::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures_util::StreamExt;

use crate::QueryError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            _ => Err(format!("unknown format {s:?} (table, csv or json)")),
        }
    }
}

fn out_err(e: impl std::fmt::Display) -> QueryError {
    QueryError::Output(e.to_string())
}

/// Drains `stream` into `out` in `format`; returns the number of rows.
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<u64, QueryError> {
    let mut rows = 0u64;
    match format {
        OutputFormat::Table => {
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(b) = stream.next().await {
                let b = b.map_err(crate::execution)?;
                rows += b.num_rows() as u64;
                batches.push(b);
            }
            if batches.is_empty() {
                batches.push(RecordBatch::new_empty(stream.schema()));
            }
            let text = arrow::util::pretty::pretty_format_batches(&batches).map_err(out_err)?;
            writeln!(out, "{text}").map_err(out_err)?;
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" }).map_err(out_err)?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            let mut wrote_any = false;
            while let Some(b) = stream.next().await {
                let b = b.map_err(crate::execution)?;
                rows += b.num_rows() as u64;
                w.write(&b).map_err(out_err)?;
                wrote_any = true;
            }
            if !wrote_any {
                w.write(&RecordBatch::new_empty(stream.schema()))
                    .map_err(out_err)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            while let Some(b) = stream.next().await {
                let b = b.map_err(crate::execution)?;
                rows += b.num_rows() as u64;
                w.write(&b).map_err(out_err)?;
            }
            // Arrow writes `[]` for no rows, so an empty result is still one JSON array.
            w.finish().map_err(out_err)?;
            writeln!(w.into_inner()).map_err(out_err)?;
        }
    }
    Ok(rows)
}
