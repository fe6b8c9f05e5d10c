//! Uploads through the boundary, in two steps. [`Engine::begin_upload`] checks the caller's
//! role and purpose, the kind and the format before a byte of the body is read, audits a
//! refusal, and hands out an [`Upload`] — the only way to the second step, and the only source
//! of the spool file's name (the kind's and format's own names, never the request's text).
//! [`Engine::ingest_file`] then ingests the spooled file with the CLI's validation and
//! rejects, brings the trace index up to date, and returns the summary with the rejected rows
//! (line, column, reason — never a personal value). An upload refused or abandoned after it
//! began is audited too.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use ingest::Options;
use model::Kind;
use privacy::Action;
use serde::Serialize;

use crate::ask::{Answer, Asking, Async, Blocking, Ctx};
use crate::{Caller, Engine, EngineError, quoted};

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
    /// The run's rejects file, relative to the data dir (`rejects/<stamp>-<n>.csv`); the
    /// rejected rows themselves are in `rejected`.
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
        _ => Err(EngineError::BadRequest(format!(
            "format {}: csv, jsonl or parquet",
            quoted(format, 40)
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

/// Leave to receive one upload: the caller may ingest, and the kind and format are known.
/// Made only by [`Engine::begin_upload`]; consumed by [`Engine::ingest_file`] or
/// [`Engine::upload_refused`]. Dropped without either (the client went away, the request
/// timed out), it still leaves an audit entry.
pub struct Upload {
    engine: Engine,
    caller: Caller,
    kind: Kind,
    ext: &'static str,
    settled: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upload({}.{})", self.kind.name(), self.ext)
    }
}

impl Upload {
    /// The name to spool the body under: the kind's registry name and the format's extension,
    /// both from fixed vocabularies.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.kind.name(), self.ext)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (engine, caller) = (self.engine.clone(), self.caller.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let outcome = "error: the upload was not received to its end".to_string();
                if let Err(e) = engine
                    .audit(&caller, Action::Ingest, Vec::new(), 0, outcome)
                    .await
                {
                    tracing::error!("auditing an abandoned upload: {e}");
                }
            });
        }
    }
}

impl Engine {
    /// Checks an upload before its body is read: the role and purpose (403), the kind (404),
    /// the format (400) — in that order, so a caller who may not upload learns nothing about
    /// kinds. A refusal is audited; leave to upload is audited when the [`Upload`] is settled.
    pub async fn begin_upload(
        &self,
        caller: &Caller,
        kind: &str,
        format: &str,
    ) -> Result<Upload, EngineError> {
        let (kind, format) = (kind.to_string(), format.to_string());
        let (engine, upload_caller) = (self.clone(), caller.clone());
        let work = Blocking(move |_: &Ctx<'_>| {
            let k = Kind::parse(kind.trim()).ok_or_else(|| {
                let known: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                EngineError::NotFound(format!(
                    "no kind {} ({})",
                    quoted(&kind, 40),
                    known.join(", ")
                ))
            })?;
            // An enterprise uploads its own applications and nothing else.
            let account = &upload_caller.account;
            if account.role == privacy::Role::Enterprise
                && (k != Kind::Applications || account.enterprise().is_none())
            {
                return Err(privacy::Denied::OutOfScope {
                    what: format!("uploading {k}"),
                    scope: "enterprise account (applications only)".into(),
                }
                .into());
            }
            let upload = Upload {
                engine,
                caller: upload_caller,
                kind: k,
                ext: extension(&format)?,
                settled: false,
            };
            Ok(Answer::new(upload, 0).audited_later())
        });
        self.ask(caller, Action::Ingest, work).await
    }

    /// Audits an upload refused while its body arrived (`reason`: too large, cut off, not
    /// spooled).
    pub async fn upload_refused(&self, mut upload: Upload, reason: &str) {
        upload.settled = true;
        let outcome = format!("error: {reason}");
        if let Err(e) = self
            .audit(&upload.caller, Action::Ingest, Vec::new(), 0, outcome)
            .await
        {
            tracing::error!("auditing a refused upload: {e}");
        }
    }

    /// Ingests the file the upload was spooled to. One ingest runs at a time; others wait.
    pub async fn ingest_file(
        &self,
        mut upload: Upload,
        file: PathBuf,
    ) -> Result<IngestView, EngineError> {
        upload.settled = true;
        let kind = upload.kind;
        let caller = upload.caller.clone();
        let work = Async(move |asking: Asking| async move {
            let _one_at_a_time = asking.engine().inner.writer.lock().await;
            asking
                .blocking(move |ctx: &Ctx<'_>| ingest_one(ctx, kind, file))
                .await
        });
        self.ask(&caller, Action::Ingest, work).await
    }
}

/// Ingests one spooled file of `kind` and brings the index and the snapshot up to date.
fn ingest_one(ctx: &Ctx<'_>, kind: Kind, file: PathBuf) -> Result<Answer<IngestView>, EngineError> {
    // Recorded as what it is (`upload:travel.csv`), never by the server's spool path.
    let spooled = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let source = format!("upload:{}", spooled.unwrap_or_default());
    let opts = Options {
        kind: Some(kind),
        source_name: Some(source.clone()),
        // An enterprise's rows must name that enterprise; any other is rejected.
        only_enterprise: ctx.caller.account.enterprise().map(str::to_string),
        ..Options::default()
    };
    let cancel = AtomicBool::new(false);
    let s = crate::datadir::ingest_files(
        ctx.data,
        ctx.keys,
        ctx.zone(),
        std::slice::from_ref(&file),
        &opts,
        &|_| {},
        &cancel,
        || {},
    )
    .map_err(|e| match e {
        ingest::IngestError::Input { reason, .. } => EngineError::BadRequest(reason),
        e => EngineError::Internal(e.to_string()),
    })?;
    let report = s.sources.first();
    // A file that cannot be read at all (not UTF-8 text, not Parquet) is bad input, not an
    // empty success; it was not recorded.
    if let Some(why) = report.and_then(|r| r.refused.clone()) {
        return Err(EngineError::BadRequest(why));
    }
    let value = IngestView {
        files: s.files,
        rows_accepted: s.rows_accepted,
        rows_rejected: s.rows_rejected,
        rejects: relative_to(&s.rejects, ctx.data),
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
    ctx.engine.follow_new_sources()?;
    let rows = (s.rows_accepted + s.rows_rejected) as i64;
    Ok(Answer::new(value, rows))
}

impl Engine {
    /// After this process ingested: the trace index and every derived view follow the new
    /// sources at once (an upload, residents' reports moved in). Blocking.
    pub(crate) fn follow_new_sources(&self) -> Result<(), EngineError> {
        let store =
            store::Store::open(self.data(), self.keys().key_id()).map_err(EngineError::internal)?;
        trace::update(&store, &|_| {})?;
        self.refresh()
    }
}

/// `path` as seen from `root` (`rejects/….csv`), so an answer never shows where the server
/// keeps its files; just the file name if it lies elsewhere.
fn relative_to(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_show_paths_relative_to_the_data_dir() {
        let root = Path::new("/srv/fangyi/data");
        assert_eq!(
            relative_to(&root.join("rejects/20200101T000000Z-0.csv"), root),
            "rejects/20200101T000000Z-0.csv"
        );
        assert_eq!(relative_to(Path::new("/elsewhere/r.csv"), root), "r.csv");
    }

    #[test]
    fn formats_are_a_fixed_vocabulary_and_errors_quote_input_safely() {
        assert_eq!(extension("text/csv").unwrap(), "csv");
        assert_eq!(extension(" NDJSON ").unwrap(), "jsonl");
        let long = format!("..\0/{}", "x".repeat(500));
        let e = extension(&long).unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
        assert!(!e.contains('\0') && e.contains("\\0"), "{e}");
    }
}
