//! Uploads through the boundary: a file of one kind, already spooled by the caller, ingested
//! with the CLI's validation and rejects, the trace index brought up to date, and the summary
//! returned with the rejected rows (file, line, column, reason — never a personal value).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use ingest::Options;
use model::Kind;
use privacy::Action;
use serde::Serialize;
use store::Writer;

use crate::{Answer, Caller, Engine, EngineError};

/// At most this many rejected rows are listed in an answer (all are in the rejects file).
pub const MAX_REJECTS_SHOWN: usize = 1_000;

/// One rejected row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RejectView {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// The contract's ingest summary, plus the rejected rows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct IngestView {
    pub files: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejects: String,
    /// True when the same content was ingested before (nothing was added).
    pub duplicate: bool,
    pub rejected: Vec<RejectView>,
    /// Columns the file had that its kind does not know.
    pub ignored_columns: Vec<String>,
}

/// A file format an upload may be in.
pub fn extension(format: &str) -> Result<&'static str, EngineError> {
    match format.trim().to_ascii_lowercase().as_str() {
        "csv" | "text/csv" => Ok("csv"),
        "jsonl" | "ndjson" | "json" | "application/x-ndjson" | "application/jsonl" => Ok("jsonl"),
        "parquet" | "application/vnd.apache.parquet" | "application/x-parquet" => Ok("parquet"),
        other => Err(EngineError::BadRequest(format!(
            "format {other}: csv, jsonl or parquet"
        ))),
    }
}

/// The rejects of `source` listed in a rejects file.
fn rejects_of(rejects: &Path, source: &str) -> Vec<RejectView> {
    let Ok(mut rdr) = csv::Reader::from_path(rejects) else {
        return Vec::new();
    };
    rdr.records()
        .filter_map(Result::ok)
        .filter(|r| r.get(0) == Some(source))
        .take(MAX_REJECTS_SHOWN)
        .map(|r| RejectView {
            line: r.get(1).and_then(|l| l.parse().ok()).unwrap_or(0),
            column: r.get(2).unwrap_or("").to_string(),
            reason: r.get(3).unwrap_or("").to_string(),
        })
        .collect()
}

impl Engine {
    /// Ingests one spooled file as `kind`. One ingest runs at a time; others wait.
    pub async fn ingest_file(
        &self,
        caller: &Caller,
        kind: &str,
        file: PathBuf,
    ) -> Result<IngestView, EngineError> {
        let kind = Kind::parse(kind.trim()).ok_or_else(|| {
            let known: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
            EngineError::NotFound(format!("no kind {kind} ({})", known.join(", ")))
        })?;
        let _one_at_a_time = self.inner.writer.lock().await;
        let engine = self.clone();
        let view = self
            .run(caller, Action::Ingest, move |ctx| {
                let mut writer = Writer::open(ctx.data, ctx.keys.key_id(), ctx.zone(), || {})
                    .map_err(EngineError::internal)?;
                let opts = Options {
                    kind: Some(kind),
                    ..Options::default()
                };
                let cancel = AtomicBool::new(false);
                let s = ingest::run(
                    &mut writer,
                    ctx.keys,
                    std::slice::from_ref(&file),
                    &opts,
                    &|_| {},
                    &cancel,
                )
                .map_err(|e| match e {
                    ingest::IngestError::Input { reason, .. } => EngineError::BadRequest(reason),
                    e => EngineError::Internal(e.to_string()),
                })?;
                drop(writer);
                let source = file.display().to_string();
                let report = s.sources.first();
                let value = IngestView {
                    files: s.files,
                    rows_accepted: s.rows_accepted,
                    rows_rejected: s.rows_rejected,
                    rejects: s.rejects.display().to_string(),
                    duplicate: report.is_some_and(|r| r.duplicate),
                    rejected: if s.rows_rejected > 0 {
                        rejects_of(&s.rejects, &source)
                    } else {
                        Vec::new()
                    },
                    ignored_columns: report
                        .map(|r| r.ignored_columns.clone())
                        .unwrap_or_default(),
                };
                // The index and every derived view follow the new sources at once.
                let store = store::Store::open(ctx.data, ctx.keys.key_id())
                    .map_err(EngineError::internal)?;
                trace::update(&store, &|_| {})?;
                engine.refresh()?;
                let rows = (s.rows_accepted + s.rows_rejected) as i64;
                Ok(Answer {
                    value,
                    persons: Vec::new(),
                    rows,
                })
            })
            .await?;
        Ok(view)
    }
}
