//! What a signed-in resident does with their own data (contract §10): report their health or
//! register an arrival (validated as a row of the kind's file would be, then held in the inbox
//! until it reaches the store), see their own code with its signed payload, and see who looked
//! at their data. Every method answers for the account's one person only and is audited.

use std::collections::HashMap;
use std::sync::Mutex;

use model::{Kind, Timestamp};
use privacy::Action;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::codes::{CodeView, code_of, code_view};
use crate::{Caller, Engine, EngineError, parse_as_of_date};

/// The fields a resident may send with each kind of report (besides their own id, which the
/// session gives).
fn fields_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::SelfReports => &["time", "temperature_c", "symptoms", "visited_regions"],
        Kind::Registrations => &[
            "arrival_date",
            "from_region",
            "stay_region",
            "stay_community",
            "stay_address",
        ],
        _ => &[],
    }
}

/// What a report's `201` says.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ReportAck {
    /// `self_reports` or `registrations`.
    pub kind: &'static str,
    /// When it was received (RFC 3339): it counts towards the code once in the store, within
    /// the server's flush interval.
    pub received: String,
}

/// The resident's own code: contract §4's JSON, and the signed `FY1:` payload when the data
/// dir has an issuer key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ResidentCodeView {
    #[serde(flatten)]
    pub code: CodeView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// One read of the resident's data, as they are shown it: staff by role and region, never by
/// name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AccessView {
    /// RFC 3339, in the deployment's zone.
    pub at: String,
    /// `you`, or the role (`epidemiologist`, `community_worker`, `command_line`, …).
    pub who: String,
    /// The staff account's region, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub purpose: String,
    /// What was done (`person_code`, `trace`, …).
    pub action: String,
    /// `ok`, or `denied` when the request was refused.
    pub outcome: String,
}

/// Codes signed for residents lately, so a resident looking at their code again and again gets
/// the same payload (signed and recorded once) while the code says the same thing.
#[derive(Debug, Default)]
pub(crate) struct SignedCodes(Mutex<HashMap<SignedKey, (String, i64)>>);

/// What a signed code says: who, for which day, the verdict with its reasons, by which key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SignedKey {
    person: i64,
    as_of: model::Date,
    verdict: String,
    kid: String,
}

/// How long a signed payload is handed out again (it stays valid for its 24 hours).
const SIGNED_REUSE_SECS: i64 = 600;
/// Payloads remembered at most; past it the memory starts afresh.
const SIGNED_MAX: usize = 200_000;

impl SignedCodes {
    fn get(&self, key: &SignedKey, now: i64) -> Option<String> {
        let map = self.0.lock().expect("signed codes lock");
        map.get(key)
            .filter(|(_, at)| now - at < SIGNED_REUSE_SECS)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, key: SignedKey, payload: String, now: i64) {
        let mut map = self.0.lock().expect("signed codes lock");
        if map.len() >= SIGNED_MAX {
            map.clear();
        }
        map.insert(key, (payload, now));
    }

    /// Forgets every payload: after a revocation none of them may be handed out again.
    pub fn forget(&self) {
        self.0.lock().expect("signed codes lock").clear();
    }
}

/// The resident behind a caller.
fn own_person(caller: &Caller) -> Result<i64, EngineError> {
    caller.account.scope.person.ok_or_else(|| {
        privacy::Denied::OutOfScope {
            what: "a resident's own data".into(),
            scope: "account, which is not a resident's".into(),
        }
        .into()
    })
}

/// A payload signed now, or one signed lately for the same code.
enum Signing {
    Again(String),
    New(Box<crate::signing::Signed>, SignedKey, i64),
}

/// The at-most reads shown in the access log, newest first.
pub const ACCESS_LOG_LIMIT: usize = 500;

impl Engine {
    /// Stores a resident's self-report or arrival registration: the body's fields (only those
    /// of [`fields_of`]), the resident's own id, and for a self-report `time` defaulting to now,
    /// checked as one line of the kind's JSON Lines file would be (`400` naming the field), then
    /// made durable in the inbox before the answer.
    pub async fn resident_report(
        &self,
        caller: &Caller,
        kind: Kind,
        body: Map<String, Value>,
    ) -> Result<ReportAck, EngineError> {
        let work = Async(move |asking: Asking| async move {
            let (record, received) = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let person = own_person(ctx.caller)?;
                    let allowed = fields_of(kind);
                    if allowed.is_empty() {
                        return Err(EngineError::BadRequest(format!(
                            "{kind}: residents report self_reports and registrations"
                        )));
                    }
                    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
                        return Err(EngineError::BadRequest(format!(
                            "{}: not a field of {kind} a resident sends (one of {})",
                            crate::quoted(k, 40),
                            allowed.join(", ")
                        )));
                    }
                    let id = ctx.keys.pseudonyms.reveal(person).ok_or_else(|| {
                        EngineError::Internal("a resident's pseudonym does not reveal".into())
                    })?;
                    let now = Timestamp::now();
                    let mut record = Map::new();
                    record.insert("person_id".into(), Value::String(id.to_string()));
                    for (k, v) in body {
                        record.insert(k, v);
                    }
                    if kind == Kind::SelfReports && record.get("time").is_none_or(Value::is_null) {
                        record.insert("time".into(), Value::String(now.to_rfc3339(ctx.zone())));
                    }
                    let line = serde_json::to_string(&record).map_err(EngineError::internal)?;
                    ingest::check_json_record(
                        kind,
                        ctx.zone(),
                        ctx.keys,
                        now.date(ctx.zone()),
                        line.as_bytes(),
                    )
                    .map_err(|e| {
                        EngineError::BadRequest(if e.column.is_empty() {
                            e.reason
                        } else {
                            format!("{}: {}", e.column, e.reason)
                        })
                    })?;
                    ctx.shown.note(person);
                    Ok((line, now.to_rfc3339(ctx.zone())))
                })
                .await?;
            asking.engine().inbox_add(kind, &record).await?;
            Ok(Answer::new(
                ReportAck {
                    kind: kind.name(),
                    received,
                },
                1,
            ))
        });
        self.ask(caller, Action::ResidentReport, work).await
    }

    /// The resident's own code as of the end of `as_of` (default today), with a freshly signed
    /// payload when the deployment has an issuer key and the resident is registered.
    pub async fn resident_code(
        &self,
        caller: &Caller,
        as_of: Option<&str>,
    ) -> Result<ResidentCodeView, EngineError> {
        let as_of = as_of.map(str::to_string);
        let work = Async(move |asking: Asking| async move {
            let (code, signed) = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let person = own_person(ctx.caller)?;
                    let as_of = parse_as_of_date(as_of.as_deref(), ctx.zone())?;
                    let view = ctx.view()?;
                    let code = code_of(ctx, person, as_of, &view);
                    let registered = ctx.registered(person)?;
                    let json = code_view(&view, person, &code, registered);
                    let signed = match (registered, ctx.engine.signer()) {
                        (true, Ok(signer)) => {
                            let now = Timestamp::now().secs();
                            let key = SignedKey {
                                person,
                                as_of,
                                verdict: serde_json::to_string(&json)
                                    .map_err(EngineError::internal)?,
                                kid: format!(
                                    "{}/{}",
                                    signer.issuer.region,
                                    signer.issuer.current().kid
                                ),
                            };
                            match ctx.engine.inner.signed_codes.get(&key, now) {
                                Some(payload) => Some(Signing::Again(payload)),
                                None => {
                                    let id =
                                        ctx.keys.pseudonyms.reveal(person).ok_or_else(|| {
                                            EngineError::Internal(
                                                "a resident's pseudonym does not reveal".into(),
                                            )
                                        })?;
                                    let s = crate::signing::sign_code(
                                        ctx.keys, &signer, &code, id, 24, now,
                                    )?;
                                    Some(Signing::New(Box::new(s), key, now))
                                }
                            }
                        }
                        (_, Err(EngineError::Unavailable(_))) | (false, _) => None,
                        (_, Err(e)) => return Err(e),
                    };
                    Ok((json, signed))
                })
                .await?;
            Ok(match signed {
                None => Answer::new(
                    ResidentCodeView {
                        code,
                        payload: None,
                    },
                    1,
                ),
                Some(Signing::Again(payload)) => Answer::new(
                    ResidentCodeView {
                        code,
                        payload: Some(payload),
                    },
                    1,
                ),
                Some(Signing::New(s, key, now)) => {
                    // Recorded with the request's entry, in one commit, before it leaves (so
                    // it can be revoked like any code handed out); kept for the next request
                    // only then.
                    let payload = s.payload.clone();
                    let engine = asking.engine().clone();
                    let value = ResidentCodeView {
                        code,
                        payload: Some(s.payload),
                    };
                    Answer::new(value, 1)
                        .issuing(s.record)
                        .after_commit(move || engine.inner.signed_codes.put(key, payload, now))
                }
            })
        });
        self.ask(caller, Action::PersonCode, work).await
    }

    /// Who read the resident's data, newest first (at most [`ACCESS_LOG_LIMIT`]).
    pub async fn access_log(&self, caller: &Caller) -> Result<Vec<AccessView>, EngineError> {
        let work = Async(move |asking: Asking| async move {
            let person = own_person(asking.caller())?;
            let me = asking.caller().account.name.clone();
            let ops = asking.engine().ops();
            // The newest only: a person many reads named (a case) would otherwise cost a scan
            // of all of them, and the log's page limit would keep the oldest.
            let filter = ops::AuditFilter {
                person: Some(person),
                limit: Some(ACCESS_LOG_LIMIT as i64),
                newest_first: true,
                ..ops::AuditFilter::default()
            };
            let records = ops.audit_records(&filter).await?;
            let regions: HashMap<String, Option<String>> = ops
                .users()
                .await?
                .into_iter()
                .map(|u| (u.name, u.region))
                .collect();
            let zone = asking.snapshot().await?.zone();
            let shown: Vec<AccessView> = records
                .iter()
                .map(|r| {
                    let e = &r.entry;
                    let who = if e.actor == me {
                        "you".to_string()
                    } else if e.actor.starts_with("cli:") {
                        "command_line".to_string()
                    } else if e.actor.starts_with("resident:") {
                        "resident".to_string()
                    } else {
                        e.role.clone()
                    };
                    AccessView {
                        at: Timestamp(e.at_ms).to_rfc3339(zone),
                        who,
                        region: regions.get(&e.actor).cloned().flatten(),
                        purpose: e.purpose.clone(),
                        action: e.action.clone(),
                        outcome: if e.outcome.starts_with("ok") {
                            "ok".into()
                        } else if e.outcome.starts_with("denied") {
                            "denied".into()
                        } else {
                            "error".into()
                        },
                    }
                })
                .collect();
            asking.note(person);
            let rows = shown.len() as i64;
            Ok(Answer::new(shown, rows))
        });
        self.ask(caller, Action::AccessLog, work).await
    }
}
