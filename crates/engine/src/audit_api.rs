//! The audit log through the boundary: who looked at whose data, when and why (`?person=ID`
//! answers "who looked at my data"), and the check of the whole chain, its head and the
//! checkpoint kept outside the database. Reading and checking the log are audited accesses.

use codesign::hex;
use model::Timestamp;
use ops::AuditFilter;
use privacy::Action;
use serde::Serialize;

use crate::ask::{Answer, Asking, Async};
use crate::{Caller, Engine, EngineError, parse_person};

/// One entry as listed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub purpose: String,
    pub action: String,
    pub query: String,
    /// How many persons the answer showed.
    pub persons: usize,
    pub rows: i64,
    pub outcome: String,
    /// The entry's chain hash (hex), for anchoring elsewhere.
    pub hash: String,
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub person: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// The result of checking the chain.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditCheck {
    pub valid: bool,
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The entry the checkpoint outside the database (`DIR/audit-checkpoint`) vouches for: the
    /// log must reach it unchanged. `null` before anything was checkpointed.
    pub checkpoint_seq: Option<i64>,
    pub problem: Option<String>,
}

impl Engine {
    /// Entries matching `q`, oldest first. Asked about one person, the entry of this read names
    /// them (so the person can see who looked them up).
    pub async fn audit_entries(
        &self,
        caller: &Caller,
        q: &AuditQuery,
    ) -> Result<Vec<AuditEntryView>, EngineError> {
        let q = q.clone();
        let work = Async(move |asking: Asking| async move {
            let engine = asking.engine();
            let person = match q.person.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(s) => Some(engine.keys().pseudonyms.pseudonym(parse_person(s)?)),
                None => None,
            };
            if let Some(a) = q.action.as_deref()
                && Action::parse(a).is_none()
            {
                return Err(EngineError::BadRequest(format!(
                    "action {a}: one of {}",
                    Action::names()
                )));
            }
            let filter = AuditFilter {
                person,
                actor: q.actor.clone(),
                action: q.action.clone(),
                after_seq: q.after,
                limit: q.limit,
                ..Default::default()
            };
            let zone = model::Zone::CST;
            let records = engine.ops().audit_records(&filter).await?;
            let out: Vec<AuditEntryView> = records
                .into_iter()
                .map(|r| AuditEntryView {
                    seq: r.seq,
                    at: Timestamp(r.entry.at_ms).to_rfc3339(zone),
                    actor: r.entry.actor,
                    role: r.entry.role,
                    purpose: r.entry.purpose,
                    action: r.entry.action,
                    query: r.entry.query,
                    persons: r.entry.persons.len(),
                    rows: r.entry.rows,
                    outcome: r.entry.outcome,
                    hash: hex(&r.hash),
                })
                .collect();
            if let Some(p) = person {
                asking.note(p);
            }
            let rows = out.len() as i64;
            Ok(Answer::new(out, rows))
        });
        self.ask(caller, Action::AuditRead, work).await
    }

    /// Checks the whole chain with this deployment's audit key: every entry, the head's MAC,
    /// and the checkpoint outside the database (`DIR/audit-checkpoint`). The check is itself
    /// audited (action `audit_read`, rows = entries checked), a refusal included. A check that
    /// finds the log broken is answered even when its own entry cannot be appended (a head that
    /// fails authentication takes no more entries): the answer shows no person.
    pub async fn audit_check(&self, caller: &Caller) -> Result<AuditCheck, EngineError> {
        let work = Async(move |asking: Asking| async move {
            let engine = asking.engine();
            let file = ops::CheckpointFile::in_data_dir(engine.data());
            let r = engine
                .ops()
                .verify_audit_anchored(&engine.keys().audit_key(), Some(&file))
                .await?;
            let check = AuditCheck {
                valid: r.broken.is_none(),
                entries: r.entries,
                head_seq: r.head.0,
                head_hash: hex(&r.head.1),
                checkpoint_seq: r.checkpoint,
                problem: r.broken.map(|b| b.to_string()),
            };
            let answer = Answer::new(check.clone(), check.entries);
            Ok(if check.valid {
                answer
            } else {
                answer.even_unaudited()
            })
        });
        self.ask(caller, Action::AuditRead, work).await
    }
}
