//! What the command line asks beyond the server's questions: answers written to files (every
//! case's contacts), with progress and a way to stop, through [`Engine::ask`] like every other
//! question; and, since the command line answers one question and exits, moving the audit
//! checkpoint outside the database to the head before it goes (a server's writer does that
//! within a second).

use std::path::{Path, PathBuf};
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

/// Told when work begins a stage: its name and how many steps it has.
pub type StageFn = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Told how far work has come: steps done of the stage's total.
pub type AdvanceFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// How work that writes a file reports its progress and hears it should stop.
#[derive(Clone)]
pub struct Progress {
    /// Called when the work begins a stage (its name and how many steps it has).
    pub stage: StageFn,
    /// Called with (done, total) as the work advances.
    pub advance: AdvanceFn,
    /// Set when the work should stop at its next safe point (the file is then not written).
    pub cancel: Arc<AtomicBool>,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            stage: Arc::new(|_, _| {}),
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
            let mut writer = trace::ContactsWriter::create(&out, ctx.zone())
                .map_err(|e| EngineError::BadRequest(format!("creating {}: {e}", out.display())))?;
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
                    return Err(not_written(&out));
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

/// How `trace --all` finds its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceVia {
    /// The trace index, case by case (milliseconds a case).
    #[default]
    Index,
    /// One SQL statement over the stored tables on the embedded DataFusion
    /// (`query::trace_all_sql`, the statement a cluster runs), the index's rows exactly.
    Sql,
}

impl Engine {
    /// [`Engine::trace_all_to`] answered as `via` says: the same rows, in the same order, to
    /// the same file either way; authorised and audited alike.
    pub async fn trace_all_via(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
        depth: u8,
        out: PathBuf,
        progress: Progress,
        via: TraceVia,
    ) -> Result<TraceAllReport, EngineError> {
        if via == TraceVia::Index {
            return self.trace_all_to(caller, as_of, depth, out, progress).await;
        }
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            if !(1..=2).contains(&depth) {
                return Err(EngineError::BadRequest("depth is 1 or 2".into()));
            }
            let zone = ctx.zone();
            let as_of = parse_as_of_instant(as_of.as_deref(), zone)?;
            if progress.cancel.load(Ordering::SeqCst) {
                return Err(not_written(&out));
            }
            let view = ctx.view()?;
            let rows = sql_trace_rows(ctx, as_of, depth, &progress.cancel)?;
            let Some((all_cases, rows)) = rows else {
                return Err(not_written(&out));
            };
            let reveal = |p: i64| view.id(p);
            // The rows come by case pseudonym; the file is by revealed case id, then contact id.
            let mut cases: Vec<(String, &[query::SqlContact])> = rows
                .chunk_by(|a, b| a.case == b.case)
                .filter(|c| view.in_scope(c[0].case))
                .map(|c| (reveal(c[0].case), c))
                .collect();
            cases.sort_by(|a, b| a.0.cmp(&b.0));
            let mut writer = trace::ContactsWriter::create(&out, zone)
                .map_err(|e| EngineError::BadRequest(format!("creating {}: {e}", out.display())))?;
            // Cases without contacts count as traced, as on the index path.
            let total = all_cases.iter().filter(|&&p| view.in_scope(p)).count() as u64;
            for (done, (case_id, contacts)) in cases.into_iter().enumerate() {
                if progress.cancel.load(Ordering::SeqCst) {
                    // The writer's temporary file goes with it: a result is whole or absent.
                    drop(writer);
                    let _ = std::fs::remove_file(out.with_file_name(format!(
                        ".{}.tmp",
                        out.file_name().unwrap_or_default().to_string_lossy()
                    )));
                    return Err(not_written(&out));
                }
                let mut recs: Vec<trace::ContactRecord> = contacts
                    .iter()
                    .map(|c| trace::ContactRecord {
                        case_id: case_id.clone(),
                        person_id: reveal(c.person),
                        degree: c.degree,
                        via: if c.via == c.case {
                            case_id.clone()
                        } else {
                            reveal(c.via)
                        },
                        is_case: c.is_case,
                        first: c.first_exposure,
                        last: c.last_exposure,
                        until: c.quarantine_until.days(),
                        evidence: c.evidence.clone(),
                    })
                    .collect();
                recs.sort_by(|a, b| a.person_id.cmp(&b.person_id));
                writer.write_records(recs)?;
                (progress.advance)((done as u64 + 1).min(total), total);
            }
            let rows = writer.finish()?;
            let report = TraceAllReport { cases: total, rows };
            Ok(Answer::new(report, rows as i64))
        });
        self.ask(caller, Action::Trace, work).await
    }
}

/// What a file-writing request interrupted by its caller answers (nothing of `out` is left).
fn not_written(out: &Path) -> EngineError {
    EngineError::Conflict(format!("interrupted; {} not written", out.display()))
}

/// Every case as of `as_of` (epoch ms) and their contacts to `depth`, by
/// `query::trace_all_sql` over every stored row, whatever the caller's scope (what is shown is
/// the caller's to decide): on the cluster when the engine has one (`--cluster`: distributed
/// joins, the session planned here), else on the embedded DataFusion within the SQL memory
/// budget, spilling past it (never into the data dir). `None` when `cancel` was set.
#[allow(clippy::type_complexity)]
pub(crate) fn sql_trace_rows(
    ctx: &Ctx<'_>,
    as_of: i64,
    depth: u8,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<(Vec<i64>, Vec<query::SqlContact>)>, EngineError> {
    let zone = ctx.zone();
    let runner = ctx.engine.sql_runner()?;
    let (cluster, store, r) = (
        ctx.engine.inner.sql.cluster.clone(),
        ctx.snap.store.clone(),
        runner.clone(),
    );
    let q = runner
        .run(async move { crate::sql::bulk_session(cluster.as_deref(), &store, &r).await })
        .map_err(EngineError::internal)??;
    let cancel = cancel.clone();
    runner
        .run(async move {
            use futures_util::StreamExt;
            let cases = q.trace_cases(as_of).await?;
            let mut stream = q.trace_all(as_of, zone, depth).await?;
            let mut rows = Vec::new();
            while let Some(b) = stream.next().await {
                if cancel.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                rows.extend(query::contacts_of(&b.map_err(query::execution)?)?);
            }
            Ok::<_, query::QueryError>(Some((cases, rows)))
        })
        .map_err(EngineError::internal)?
        .map_err(|e| EngineError::Unavailable(format!("trace --all in SQL: {e}")))
}

impl Engine {
    /// Every case's close contacts as of `as_of` (an RFC 3339 time or a date's end; default
    /// now), to depth 1, in memory: the demo's tour of a generated city. Cases living in the
    /// caller's scope, in the index's order; ids as the caller's view shows them. Authorised and
    /// audited as a trace (rows = contacts).
    pub async fn trace_every_case(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
    ) -> Result<Vec<trace::TraceOut>, EngineError> {
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let as_of = parse_as_of_instant(as_of.as_deref(), ctx.zone())?;
            let view = ctx.view()?;
            let tracer = Tracer::new(&ctx.snap.index, ctx.zone());
            let cases_all = tracer.cases(as_of);
            let all = trace::CaseSet::new(&cases_all);
            let mine: Vec<(i64, trace::CaseInfo)> = cases_all
                .iter()
                .filter(|(p, _)| view.in_scope(*p))
                .copied()
                .collect();
            let reveal = |p: i64| view.id(p);
            let outs: Vec<trace::TraceOut> = tracer
                .trace_many(&mine, &all, as_of, 1)
                .iter()
                .map(|t| trace::TraceOut::new(t, &tracer, &reveal))
                .collect();
            let rows = outs.iter().map(|o| o.contacts.len() as i64).sum();
            Ok(Answer::new(outs, rows))
        });
        self.ask(caller, Action::Trace, work).await
    }
}

/// What [`Engine::codes_to`] wrote.
#[derive(Clone, Debug)]
pub struct CodesReport {
    pub as_of: model::Date,
    pub persons: u64,
    /// Per color: green, yellow, red.
    pub counts: [u64; 3],
    pub examined: u64,
    pub cases_traced: u64,
    pub sweep_seconds: f64,
    pub seconds: f64,
    /// A person of each color, when there is one, as the caller's view shows them.
    pub examples: [Option<String>; 3],
    /// Set when the run reused the last one: sources new since, and people recomputed.
    pub incremental: Option<(usize, u64)>,
}

/// A sweep's stages reported through a [`Progress`].
struct SweepStages<'a> {
    progress: &'a Progress,
    at: std::sync::Mutex<(u64, u64)>,
}

impl rules::SweepProgress for SweepStages<'_> {
    fn stage(&self, name: &str, total: u64) {
        *self.at.lock().expect("stage") = (0, total);
        (self.progress.stage)(name, total);
    }

    fn advance(&self, n: u64) {
        let (done, total) = {
            let mut at = self.at.lock().expect("stage");
            at.0 += n;
            *at
        };
        (self.progress.advance)(done, total);
    }
}

impl Engine {
    /// Everyone's health code in `persons` as of the end of `as_of` (default today) under the
    /// engine's rules, written to `out` (`.csv` or `.parquet`, whole or not at all) in id order,
    /// ids as the caller's view shows them. Incremental unless `full`: a second run for the same
    /// day and rules recomputes only the people that sources ingested since touch. Authorised
    /// and audited as the codes of many persons (rows = persons written).
    pub async fn codes_to(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
        out: PathBuf,
        full: bool,
        progress: Progress,
    ) -> Result<CodesReport, EngineError> {
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let r = write_codes(ctx, as_of.as_deref(), &out, full, &progress)?;
            let rows = r.persons as i64;
            Ok(Answer::new(r, rows))
        });
        self.ask(caller, Action::CommunityCodes, work).await
    }
}

fn write_codes(
    ctx: &Ctx<'_>,
    as_of: Option<&str>,
    out: &Path,
    full: bool,
    progress: &Progress,
) -> Result<CodesReport, EngineError> {
    use rules::Summary;
    use rules::saved::{self, RunKey, SavedCodes};

    let started = std::time::Instant::now();
    let store = &ctx.snap.store;
    let set = ctx.rules;
    let as_of = crate::parse_as_of_date(as_of, ctx.zone())?;
    let view = ctx.view()?;
    let internal = EngineError::internal;
    let engine = ctx.code_engine();
    // A decision on a correction, or a home province's new answer, since the last run makes it
    // stale: the overrides' and the attestations' fingerprints are part of the run's key.
    let run = RunKey::new(store, as_of, &set.digest)
        .with_overrides(ctx.overrides.digest())
        .with_peer_attestations(ctx.peers.digest());
    let saved = if full {
        None
    } else {
        SavedCodes::load(store, &run).map_err(internal)?
    };
    let (mut incremental, mut examined, mut cases_traced) = (None, 0, 0);
    let codes = match saved {
        // Only what sources ingested since the last run touch, unless one changes everyone
        // (risk areas) or second-degree rules make the reach of a new record unbounded.
        Some(mut saved) => {
            let ch = saved::changes(store, &saved).map_err(internal)?;
            if ch.everyone || (set.contact_depth() == 2 && !ch.new_sources.is_empty()) {
                None
            } else {
                let affected = engine.affected(set, &ch.persons, as_of);
                for p in &affected {
                    saved.codes.remove(p);
                }
                for (p, s) in engine.recompute(set, &affected, as_of) {
                    if !s.is_plain_green() {
                        saved.codes.insert(p, s);
                    }
                }
                incremental = Some((ch.new_sources.len(), affected.len() as u64));
                examined = affected.len() as u64;
                Some(saved.codes)
            }
        }
        None => None,
    };
    let codes = match codes {
        Some(c) => c,
        None => {
            let stages = SweepStages {
                progress,
                at: std::sync::Mutex::new((0, 0)),
            };
            // With a cluster, every case's contacts are traced there (`trace --all`'s
            // distributed joins); the rest of the sweep is lookups on the index.
            let sweep = match ctx.engine.inner.sql.cluster.is_some() {
                false => engine.sweep(&[set], as_of, &stages),
                true => {
                    let depth = rules::CodeEngine::sweep_depth(&[set]);
                    let traced = match depth {
                        0 => rules::Traced::default(),
                        _ => {
                            (progress.stage)("tracing cases on the cluster", 0);
                            let end = as_of.end_of_day(ctx.zone()).millis();
                            let Some((cases, rows)) =
                                sql_trace_rows(ctx, end, depth, &progress.cancel)?
                            else {
                                return Err(not_written(out));
                            };
                            rules::Traced {
                                cases: cases.len() as u64,
                                contacts: rows
                                    .into_iter()
                                    .map(|c| rules::TracedContact {
                                        case: c.case,
                                        person: c.person,
                                        degree: c.degree,
                                        via: c.via,
                                        last_exposure: c.last_exposure,
                                    })
                                    .collect(),
                            }
                        }
                    };
                    engine.sweep_traced(&[set], as_of, &traced, &stages)
                }
            };
            examined = sweep.examined;
            cases_traced = sweep.cases_traced;
            sweep
                .codes
                .into_iter()
                .map(|(p, mut v)| (p, v.swap_remove(0)))
                .collect()
        }
    };
    let state = SavedCodes {
        sources: saved::all_sources(store),
        codes,
    };
    state.save(store, &run).map_err(internal)?;
    let swept = started.elapsed();

    // Everyone in `persons` within the caller's scope, in id order.
    let mut people: Vec<(u64, i64)> = rules::persons(store)
        .map_err(internal)?
        .into_iter()
        .filter(|&p| view.in_scope(p))
        .map(|p| {
            let n = ctx
                .keys
                .pseudonyms
                .reveal(p)
                .map_or(u64::MAX, model::PersonId::number);
            (n, p)
        })
        .collect();
    people.sort_unstable();
    let total = people.len() as u64;
    (progress.stage)("write", total);
    let mut writer = rules::CodesWriter::create(out)
        .map_err(|e| EngineError::BadRequest(format!("creating {}: {e}", out.display())))?;
    let green = Summary::green();
    let mut counts = [0u64; 3];
    let mut examples: [Option<String>; 3] = [None, None, None];
    for (i, (_, p)) in people.iter().enumerate() {
        if i % 65_536 == 0 {
            (progress.advance)(i as u64, total);
            if progress.cancel.load(Ordering::SeqCst) {
                drop(writer);
                let name = out.file_name().unwrap_or_default().to_string_lossy();
                let _ = std::fs::remove_file(out.with_file_name(format!(".{name}.tmp")));
                return Err(not_written(out));
            }
        }
        let s = state.codes.get(p).unwrap_or(&green);
        let c = s.color as usize;
        counts[c] += 1;
        let id = view.id(*p);
        if examples[c].is_none() {
            examples[c] = Some(id.clone());
        }
        writer.write(&id, s).map_err(internal)?;
    }
    let persons = writer.finish().map_err(internal)?;
    Ok(CodesReport {
        as_of,
        persons,
        counts,
        examined,
        cases_traced,
        sweep_seconds: swept.as_secs_f64(),
        seconds: started.elapsed().as_secs_f64(),
        examples,
        incremental,
    })
}

#[cfg(test)]
mod tests {
    use privacy::{Purpose, Role, Scope};

    use super::*;
    use crate::{Account, EngineOptions};

    use crate::test_city::{keys, person, two_households};

    fn caller(role: Role, region: Option<u32>) -> Caller {
        let account = Account {
            name: format!("{role}-test"),
            role,
            scope: Scope {
                region: region.map(|r| model::Region::parse(r.to_string().as_bytes()).unwrap()),
                community: None,
                person: None,
            },
        };
        Caller::new(account, Purpose::OutbreakResponse, "test")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_of_everyone_hold_only_the_callers_scope() {
        // Regression: `fangyi trace --all` and `fangyi codes` traced and wrote every case and
        // resident whatever the caller's scope, and checked the policy only after the work.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        two_households(&data, &dir.path().join("in"));
        let e = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let as_of = Some("2020-01-25");
        let wenzhou = caller(Role::Epidemiologist, Some(330300));
        let admin = caller(Role::Admin, None);
        let out = |name: &str| dir.path().join(name);

        let mine = e
            .trace_all_to(&wenzhou, as_of, 1, out("w.csv"), Progress::default())
            .await
            .unwrap();
        let all = e
            .trace_all_to(&admin, as_of, 1, out("a.csv"), Progress::default())
            .await
            .unwrap();
        assert_eq!((mine.cases, all.cases), (1, 2));
        let text = std::fs::read_to_string(out("w.csv")).unwrap();
        assert!(text.contains(&person(330302, 1).to_string()), "{text}");
        assert!(!text.contains(&person(330102, 3).to_string()), "{text}");

        let mine = e
            .codes_to(
                &wenzhou,
                as_of,
                out("w-codes.csv"),
                true,
                Progress::default(),
            )
            .await
            .unwrap();
        let all = e
            .codes_to(&admin, as_of, out("a-codes.csv"), true, Progress::default())
            .await
            .unwrap();
        assert_eq!((mine.persons, all.persons), (2, 4));
        assert_eq!(
            mine.counts,
            [0, 0, 2],
            "the case and their household contact"
        );

        // A role the policy does not allow writes nothing.
        let analyst = caller(Role::Analyst, None);
        let r = e
            .trace_all_to(&analyst, as_of, 1, out("x.csv"), Progress::default())
            .await;
        assert!(matches!(r, Err(EngineError::Denied(_))), "{r:?}");
        assert!(!out("x.csv").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trace_all_by_sql_writes_the_index_files_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        two_households(&data, &dir.path().join("in"));
        let e = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let out = |name: &str| dir.path().join(name);
        let wenzhou = caller(Role::Epidemiologist, Some(330300));
        let admin = caller(Role::Admin, None);
        for (who, c) in [("a", &admin), ("w", &wenzhou)] {
            for depth in [1, 2] {
                for ext in ["csv", "parquet"] {
                    // Before the reports (no case), on the day, and long after.
                    for as_of in ["2020-01-22", "2020-01-23T10:00:00+08:00", "2020-03-01"] {
                        let name = |via: &str| format!("{who}-{depth}-{via}.{ext}");
                        let by_index = e
                            .trace_all_via(
                                c,
                                Some(as_of),
                                depth,
                                out(&name("index")),
                                Progress::default(),
                                TraceVia::Index,
                            )
                            .await
                            .unwrap();
                        let by_sql = e
                            .trace_all_via(
                                c,
                                Some(as_of),
                                depth,
                                out(&name("sql")),
                                Progress::default(),
                                TraceVia::Sql,
                            )
                            .await
                            .unwrap();
                        assert_eq!(by_index, by_sql, "{who} {depth} {ext} {as_of}");
                        let read = |via: &str| std::fs::read(out(&name(via))).unwrap();
                        assert_eq!(read("index"), read("sql"), "{who} {depth} {ext} {as_of}");
                    }
                }
            }
        }
        let text = std::fs::read_to_string(out("w-1-sql.csv")).unwrap();
        assert_eq!(
            text.lines().count(),
            2,
            "the header and Wenzhou's contact: {text}"
        );

        // The same refusals: a role the policy does not allow, a depth past 2, an interruption.
        let analyst = caller(Role::Analyst, None);
        let r = e
            .trace_all_via(
                &analyst,
                None,
                1,
                out("x.csv"),
                Progress::default(),
                TraceVia::Sql,
            )
            .await;
        assert!(matches!(r, Err(EngineError::Denied(_))), "{r:?}");
        let r = e
            .trace_all_via(
                &admin,
                None,
                3,
                out("x.csv"),
                Progress::default(),
                TraceVia::Sql,
            )
            .await;
        assert!(matches!(r, Err(EngineError::BadRequest(_))), "{r:?}");
        let stop = Progress::default();
        stop.cancel.store(true, Ordering::SeqCst);
        let r = e
            .trace_all_via(
                &admin,
                Some("2020-03-01"),
                1,
                out("x.csv"),
                stop,
                TraceVia::Sql,
            )
            .await;
        assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
        assert!(!out("x.csv").exists());
        assert!(!out(".x.csv.tmp").exists());
    }
}
