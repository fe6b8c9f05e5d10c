//! The one way in. [`Engine::ask`] is how every question about people is answered: it
//! authorises the caller's role and purpose for the action with the policy table (a refusal is
//! audited like any answer), runs the work — blocking ([`Blocking`]) or async ([`Async`]) — in a
//! task of its own, so a client that goes away cannot cut the audit entry off, collects whom the
//! answer showed (every [`View`] the work makes writes into the request's [`Shown`]), appends
//! the audit entry (persons shown, rows, outcome) and only then returns. Nothing else in the
//! crate calls `privacy::authorize`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use privacy::Action;
use rules::RuleSet;
use tokio::sync::{OnceCell, oneshot};
use vault::Keys;

use crate::{Caller, Engine, EngineError, Snapshot, View};

/// What a piece of work answers, and what its audit entry records beside the persons shown.
pub(crate) struct Answer<T> {
    pub value: T,
    /// How many rows (persons, contacts, codes …) the answer holds.
    pub rows: i64,
    /// The outcome when it is more than `ok` (`ok: open -> done`).
    outcome: Option<String>,
    entry: Entry,
    /// The signed codes the answer hands out, recorded in its entry's commit (so every code
    /// that leaves can be revoked), and what to do once they are.
    issued: Vec<ops::IssuedCode>,
    after_commit: Option<Box<dyn FnOnce() + Send>>,
}

/// When an answer's audit entry is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Now, and the answer is withheld if it cannot be.
    Now,
    /// Now, but the answer (which shows no one) still goes out if the entry cannot be written:
    /// a check that found the log broken.
    NowOrWithout,
    /// By what the answer hands out, which audits itself when it is used or dropped (an
    /// [`crate::ingest_api::Upload`]).
    Later,
}

impl<T> Answer<T> {
    pub fn new(value: T, rows: i64) -> Answer<T> {
        Answer {
            value,
            rows,
            outcome: None,
            entry: Entry::Now,
            issued: Vec::new(),
            after_commit: None,
        }
    }

    /// An answer handing out the signed code `issued`, recorded in its audit entry's commit:
    /// the answer is withheld if that cannot be committed.
    pub fn issuing(mut self, issued: ops::IssuedCode) -> Answer<T> {
        debug_assert_eq!(self.entry, Entry::Now, "a code leaves only with its entry");
        self.issued.push(issued);
        self
    }

    /// `then` runs once the answer's entry (and what it issued) is committed, and not at all
    /// if it is not.
    pub fn after_commit(mut self, then: impl FnOnce() + Send + 'static) -> Answer<T> {
        self.after_commit = Some(Box::new(then));
        self
    }

    /// The outcome text when plain `ok` says too little; it must begin with `ok`.
    pub fn outcome(mut self, outcome: String) -> Answer<T> {
        debug_assert!(outcome.starts_with("ok"), "{outcome}");
        self.outcome = Some(outcome);
        self
    }

    /// An answer that shows no one and is given even when its own entry cannot be appended.
    pub fn even_unaudited(mut self) -> Answer<T> {
        self.entry = Entry::NowOrWithout;
        self
    }

    /// An answer whose entry the value itself writes later.
    pub fn audited_later(mut self) -> Answer<T> {
        self.entry = Entry::Later;
        self
    }
}

/// The persons one request has shown (store pseudonyms), for its audit entry: every [`View`]
/// made for the request notes whom it showed here, so no work can forget to report them.
#[derive(Debug, Default)]
pub(crate) struct Shown(Mutex<Vec<i64>>);

impl Shown {
    pub fn note(&self, person: i64) {
        self.0.lock().expect("shown lock").push(person);
    }

    pub fn note_all(&self, persons: impl IntoIterator<Item = i64>) {
        self.0.lock().expect("shown lock").extend(persons);
    }

    /// Everyone noted so far, sorted, each once.
    pub fn sorted(&self) -> Vec<i64> {
        let mut all = self.0.lock().expect("shown lock").clone();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Everyone noted, sorted, each once.
    pub fn take(&self) -> Vec<i64> {
        let mut all = std::mem::take(&mut *self.0.lock().expect("shown lock"));
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// What a blocking piece of work sees.
pub(crate) struct Ctx<'a> {
    pub engine: &'a Engine,
    pub snap: &'a Snapshot,
    pub keys: &'a Keys,
    pub rules: &'a RuleSet,
    pub caller: &'a Caller,
    pub data: &'a Path,
    pub(crate) shown: &'a Shown,
    /// The code overrides (accepted corrections) as the engine keeps them: every code computed
    /// for this request applies them ([`Ctx::code_engine`]).
    pub overrides: &'a rules::Overrides,
    /// Home provinces' attestations received (`peer_attestation`), folded into every code
    /// computed for this request the same way.
    pub peers: &'a rules::PeerAttestations,
}

impl Ctx<'_> {
    /// The view that shows identities to this caller (and notes them for the audit entry).
    pub fn view(&self) -> Result<View<'_>, EngineError> {
        View::new(self.snap, self.keys, &self.caller.account, self.shown)
    }

    pub fn zone(&self) -> model::Zone {
        self.snap.zone()
    }

    /// The health-code engine over the request's snapshot, with the overrides in force and
    /// the home provinces' attestations folded in: the one way the engine's questions compute
    /// codes.
    pub fn code_engine(&self) -> rules::CodeEngine<'_> {
        self.own_code_engine().with_peer_attestations(self.peers)
    }

    /// [`Ctx::code_engine`] on this deployment's own records and overrides alone: what a home
    /// province attests to another (an attestation received is not passed on, so two
    /// provinces never echo each other's colors back).
    pub fn own_code_engine(&self) -> rules::CodeEngine<'_> {
        rules::CodeEngine::new(&self.snap.index, &self.snap.risk, self.zone())
            .with_overrides(self.overrides)
    }
}

/// What async work sees: the engine, the caller, the request's snapshot (taken on first use and
/// kept, so every part of one answer reads the same store) and blocking steps on it.
pub(crate) struct Asking {
    engine: Engine,
    caller: Caller,
    shown: Arc<Shown>,
    snap: OnceCell<Arc<Snapshot>>,
    gone: Option<oneshot::Receiver<()>>,
}

impl Asking {
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Notes a person the answer is about without showing who they are (a case's public trail,
    /// the audit entries of one person): the audit entry still names them.
    pub fn note(&self, person: i64) {
        self.shown.note(person);
    }

    /// The request's snapshot.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, EngineError> {
        self.snap
            .get_or_try_init(|| async {
                let engine = self.engine.clone();
                tokio::task::spawn_blocking(move || engine.snapshot())
                    .await
                    .map_err(EngineError::internal)?
            })
            .await
            .cloned()
    }

    /// Runs `work` on a blocking thread with the request's snapshot.
    pub async fn blocking<R, F>(&self, work: F) -> Result<R, EngineError>
    where
        R: Send + 'static,
        F: FnOnce(&Ctx<'_>) -> Result<R, EngineError> + Send + 'static,
    {
        let engine = self.engine.clone();
        let caller = self.caller.clone();
        let shown = self.shown.clone();
        let known = self.snap.get().cloned();
        // Kept by the engine and reloaded at most every few seconds: no query per request.
        let overrides = self.engine.overrides().await?;
        let peers = self.engine.peer_attestations().await?;
        let (snap, result) = tokio::task::spawn_blocking(move || {
            let snap = match known {
                Some(s) => s,
                None => engine.snapshot()?,
            };
            let ctx = Ctx {
                engine: &engine,
                snap: &snap,
                keys: &engine.inner.keys,
                rules: &engine.inner.rules,
                caller: &caller,
                data: &engine.inner.data,
                shown: &shown,
                overrides: &overrides,
                peers: &peers,
            };
            let result = work(&ctx);
            Ok::<_, EngineError>((snap, result))
        })
        .await
        .map_err(EngineError::internal)??;
        let _ = self.snap.set(snap);
        result
    }

    /// A future that completes when the caller went away (the server's time limit, a client
    /// gone) before the answer was ready; for work that should stop then (a query). Work that
    /// changes state runs to its end instead, so its entry tells what happened.
    pub fn cut_off(&mut self) -> impl Future<Output = ()> + Send + 'static {
        let gone = self.gone.take();
        async move {
            match gone {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => std::future::pending().await,
            }
        }
    }
}

/// A resident account reaches only its own person; one that names none (the command line's
/// `--as-role resident`) may take only what anyone may (the public self-checks).
fn resident_names_a_person(caller: &Caller, action: Action) -> Result<(), privacy::Denied> {
    let account = &caller.account;
    let public = !privacy::purposes(privacy::Role::Public, action).is_empty();
    if account.role == privacy::Role::Resident && account.scope.person.is_none() && !public {
        return Err(privacy::Denied::OutOfScope {
            what: "anyone's data".into(),
            scope: "resident account, which names no person".into(),
        });
    }
    Ok(())
}

/// A request's work: how it runs given an [`Asking`].
pub(crate) trait Work<T>: Send + 'static {
    fn run(self, asking: Asking) -> impl Future<Output = Result<Answer<T>, EngineError>> + Send;
}

/// Work on a blocking thread with the current snapshot.
pub(crate) struct Blocking<F>(pub F);

impl<T, F> Work<T> for Blocking<F>
where
    T: Send + 'static,
    F: FnOnce(&Ctx<'_>) -> Result<Answer<T>, EngineError> + Send + 'static,
{
    async fn run(self, asking: Asking) -> Result<Answer<T>, EngineError> {
        asking.blocking(self.0).await
    }
}

/// Async work: a function of the [`Asking`] returning a future that owns it.
pub(crate) struct Async<F>(pub F);

impl<T, F, Fut> Work<T> for Async<F>
where
    T: Send + 'static,
    F: FnOnce(Asking) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Answer<T>, EngineError>> + Send + 'static,
{
    async fn run(self, asking: Asking) -> Result<Answer<T>, EngineError> {
        (self.0)(asking).await
    }
}

impl Engine {
    /// Answers `caller`'s request for `action`: authorised by the policy table, `work` run in a
    /// task of its own, audited (a refusal too) before the answer is returned.
    pub(crate) async fn ask<T, W>(
        &self,
        caller: &Caller,
        action: Action,
        work: W,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        W: Work<T>,
    {
        let engine = self.clone();
        let caller = caller.clone();
        // Dropped when this future is (the client went away): work that asked to be told
        // ([`Asking::cut_off`]) stops, and the entry is written either way.
        let (_here, gone) = oneshot::channel::<()>();
        tokio::spawn(async move { engine.answer(caller, action, work, gone).await })
            .await
            .map_err(EngineError::internal)?
    }

    async fn answer<T, W>(
        self,
        caller: Caller,
        action: Action,
        work: W,
        gone: oneshot::Receiver<()>,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        W: Work<T>,
    {
        let authorized = privacy::authorize(caller.account.role, action, caller.purpose)
            .and_then(|()| resident_names_a_person(&caller, action));
        if let Err(denied) = authorized {
            let e = EngineError::Denied(denied);
            self.audit(&caller, action, Vec::new(), 0, e.outcome())
                .await?;
            return Err(e);
        }
        let shown = Arc::new(Shown::default());
        let asking = Asking {
            engine: self.clone(),
            caller: caller.clone(),
            shown: shown.clone(),
            snap: OnceCell::new(),
            gone: Some(gone),
        };
        let result = match AssertUnwindSafe(work.run(asking)).catch_unwind().await {
            Ok(r) => r,
            Err(_) => Err(EngineError::Internal("the work panicked".into())),
        };
        match result {
            Ok(a) => {
                let outcome = a.outcome.unwrap_or_else(|| "ok".into());
                match a.entry {
                    Entry::Later => {}
                    Entry::Now => {
                        let persons = shown.take();
                        self.audit_issuing(&caller, action, persons, a.rows, outcome, a.issued)
                            .await?;
                        if let Some(then) = a.after_commit {
                            then();
                        }
                    }
                    Entry::NowOrWithout => {
                        let persons = shown.take();
                        debug_assert!(persons.is_empty(), "an answer given unaudited shows no one");
                        if let Err(e) = self.audit(&caller, action, persons, a.rows, outcome).await
                        {
                            tracing::error!(
                                "{} {}: answered without its audit entry: {e}",
                                action.as_str(),
                                caller.request
                            );
                        }
                    }
                }
                Ok(a.value)
            }
            Err(e) => {
                if let EngineError::Internal(m) = &e {
                    tracing::error!("{} {}: {m}", action.as_str(), caller.request);
                }
                self.audit(&caller, action, Vec::new(), 0, e.outcome())
                    .await?;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ops::{AuditFilter, AuditRecord};
    use privacy::{Purpose, Role, Scope};

    use super::*;
    use crate::audit_api::AuditQuery;
    use crate::{Account, EngineOptions};

    fn keys() -> Keys {
        Keys::derive(&vault::MasterKey::from_bytes([21; 32]))
    }

    async fn engine(dir: &tempfile::TempDir) -> Engine {
        Engine::open(EngineOptions::new(dir.path().join("data")), keys())
            .await
            .unwrap()
    }

    fn caller(name: &str, role: Role, purpose: Purpose) -> Caller {
        let account = Account {
            name: name.into(),
            role,
            scope: Scope::default(),
        };
        Caller::new(account, purpose, format!("request of {name}"))
    }

    async fn entries_of(e: &Engine, actor: &str) -> Vec<AuditRecord> {
        let filter = AuditFilter {
            actor: Some(actor.into()),
            ..AuditFilter::default()
        };
        e.ops().audit_records(&filter).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_and_bad_requests_are_audited_in_every_kind_of_method() {
        // Regression: these answered without an entry — a bad parameter found after (or
        // before) the policy check, a signed code asked for where no issuer key exists, an
        // oversized payload — because each method wrote its own sequence.
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir).await;
        let admin = caller("admin-a", Role::Admin, Purpose::Oversight);
        let q = AuditQuery {
            action: Some("frobnicate".into()),
            ..AuditQuery::default()
        };
        assert!(matches!(
            e.audit_entries(&admin, &q).await,
            Err(EngineError::BadRequest(_))
        ));
        let epi = caller("epi-a", Role::Epidemiologist, Purpose::OutbreakResponse);
        assert!(matches!(
            e.person_code(&epi, "not an id", None).await,
            Err(EngineError::BadRequest(_))
        ));
        let analyst = caller("analyst-a", Role::Analyst, Purpose::Analysis);
        assert!(matches!(
            e.issue_code(&analyst, "not an id", None, None).await,
            Err(EngineError::Denied(_))
        ));
        let checker = caller("checker-a", Role::Checkpoint, Purpose::Verification);
        assert!(matches!(
            e.verify_code(&checker, &"x".repeat(9000)).await,
            Err(EngineError::BadRequest(_))
        ));
        for (actor, outcome) in [
            ("admin-a", "error: bad_request: action frobnicate"),
            ("epi-a", "error: bad_request: not a person id"),
            ("analyst-a", "denied: "),
            ("checker-a", "error: bad_request: the payload"),
        ] {
            let log = entries_of(&e, actor).await;
            assert_eq!(log.len(), 1, "{actor}: {log:?}");
            assert!(log[0].entry.outcome.starts_with(outcome), "{log:?}");
            assert_eq!(log[0].entry.query, format!("request of {actor}"));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_midway_is_still_audited() {
        // Regression: async questions ran on the caller's task, so a client that went away
        // after the policy check left no entry.
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir).await;
        let admin = caller("admin-d", Role::Admin, Purpose::Oversight);
        // Polled once (the policy check and the first await), then dropped.
        tokio::select! {
            biased;
            _ = e.audit_check(&admin) => {}
            _ = std::future::ready(()) => {}
        }
        let mut waited = 0;
        while entries_of(&e, "admin-d").await.is_empty() {
            waited += 1;
            assert!(waited < 3000, "no entry for the dropped request");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let log = entries_of(&e, "admin-d").await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].entry.action, "audit_read");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_entry_names_whom_the_views_showed_and_a_panic_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir).await;
        let admin = caller("admin-v", Role::Admin, Purpose::OutbreakResponse);
        // The work reports no one; its views do.
        let shown = e
            .ask(
                &admin,
                Action::Trace,
                Blocking(|ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let ids = [view.id(17), view.masked_id(5), view.id(17)];
                    Ok(Answer::new(ids.len(), 2))
                }),
            )
            .await
            .unwrap();
        assert_eq!(shown, 3);
        let log = entries_of(&e, "admin-v").await;
        assert_eq!(log[0].entry.persons, vec![5, 17]);
        assert_eq!(
            (log[0].entry.rows, log[0].entry.outcome.as_str()),
            (2, "ok")
        );

        let r: Result<(), _> = e
            .ask(
                &admin,
                Action::Trace,
                Async(|_: Asking| async { panic!("work that fails badly") }),
            )
            .await;
        assert!(matches!(r, Err(EngineError::Internal(_))), "{r:?}");
        let log = entries_of(&e, "admin-v").await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].entry.outcome, "error: internal");
        assert!(log[1].entry.persons.is_empty());
    }
}
