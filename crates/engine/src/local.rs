//! What the command line asks beyond the server's questions: answers written to files (every
//! case's contacts), with progress and a way to stop, through [`Engine::ask`] like every other
//! question; and, since the command line answers one question and exits, moving the audit
//! checkpoint outside the database to the head before it goes (a server's writer does that
//! within a second).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use privacy::Action;
use trace::Tracer;

use crate::ask::{Answer, Blocking, Ctx};
use crate::{Caller, Engine, EngineError, parse_as_of_instant};

impl Ctx<'_> {
    /// Whether `persons` has this person: from the directory when it is built (or the engine
    /// keeps it for later requests), else by reading the `persons` ids alone.
    pub(crate) fn registered(&self, person: i64) -> Result<bool, EngineError> {
        match self.snap.directory.get() {
            Some(Ok(d)) => Ok(d.contains(person)),
            _ if self.engine.inner.short_lived => {
                rules::registered(&self.snap.store, person).map_err(EngineError::internal)
            }
            _ => Ok(self.snap.directory()?.contains(person)),
        }
    }
}

impl Engine {
    /// Moves the checkpoint outside the database (`DIR/audit-checkpoint`) to the current head
    /// of the audit log now, for a process about to exit. Writes no entry.
    pub async fn checkpoint_audit_now(&self) -> Result<(), EngineError> {
        let file = ops::CheckpointFile::in_data_dir(self.data());
        self.ops()
            .checkpoint_audit(&self.keys().audit_key(), &file)
            .await?;
        Ok(())
    }
}

/// How long work that writes a file reports its progress and hears it should stop.
#[derive(Clone)]
pub struct Progress {
    /// Called with (done, total) as the work advances.
    pub advance: Arc<dyn Fn(u64, u64) + Send + Sync>,
    /// Set when the work should stop at its next safe point (the file is then not written).
    pub cancel: Arc<AtomicBool>,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            advance: Arc::new(|_, _| {}),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// What [`Engine::trace_all_to`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceAllReport {
    pub cases: u64,
    pub rows: u64,
}

impl Engine {
    /// Traces every case as of `as_of` (an RFC 3339 time or a date's end; default now) to
    /// depth 1 or 2 and writes one row per (case, contact) to `out` (`.csv` or `.parquet`,
    /// written whole or not at all), ids as the caller's view shows them; a scoped caller gets
    /// the cases living in their scope. Authorised and audited as a trace (rows = contact rows).
    pub async fn trace_all_to(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
        depth: u8,
        out: PathBuf,
        progress: Progress,
    ) -> Result<TraceAllReport, EngineError> {
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            if !(1..=2).contains(&depth) {
                return Err(EngineError::BadRequest("depth is 1 or 2".into()));
            }
            let as_of = parse_as_of_instant(as_of.as_deref(), ctx.zone())?;
            let view = ctx.view()?;
            let tracer = Tracer::new(&ctx.snap.index, ctx.zone());
            let reveal = |p: i64| view.id(p);
            let cases_all = tracer.cases(as_of);
            let all = trace::CaseSet::new(&cases_all);
            let mut cases: Vec<(String, i64, trace::CaseInfo)> = cases_all
                .into_iter()
                .filter(|(p, _)| view.in_scope(*p))
                .map(|(p, info)| (reveal(p), p, info))
                .collect();
            cases.sort_by(|a, b| a.0.cmp(&b.0));
            let mut writer = trace::ContactsWriter::create(&out, ctx.zone()).map_err(|e| {
                EngineError::BadRequest(format!("creating {}: {e}", out.display()))
            })?;
            let total = cases.len() as u64;
            let mut done = 0;
            // Chunks keep memory bounded and let a cancel stop between them; the writer's
            // temporary file goes with it, so a result is either whole or absent.
            for chunk in cases.chunks(256) {
                if progress.cancel.load(Ordering::SeqCst) {
                    drop(writer);
                    let _ = std::fs::remove_file(out.with_file_name(format!(
                        ".{}.tmp",
                        out.file_name().unwrap_or_default().to_string_lossy()
                    )));
                    return Err(EngineError::Conflict(format!(
                        "interrupted; {} not written",
                        out.display()
                    )));
                }
                let list: Vec<(i64, trace::CaseInfo)> = chunk.iter().map(|c| (c.1, c.2)).collect();
                for t in tracer.trace_many(&list, &all, as_of, depth) {
                    writer.write(&t, &reveal)?;
                }
                done += chunk.len() as u64;
                (progress.advance)(done, total);
            }
            let rows = writer.finish()?;
            let report = TraceAllReport { cases: total, rows };
            Ok(Answer::new(report, rows as i64))
        });
        self.ask(caller, Action::Trace, work).await
    }
}
