//! Corrections of health codes (issue 17, contract §10): a person disputes one rule behind
//! their code — themselves (a resident session) or through a community worker at a service
//! desk —, an epidemiologist of their region or an admin sees the queue with the evidence
//! behind each disputed rule and accepts (the rule is set aside for that person through an end
//! date: a code override, applied to every code the engine computes) or rejects, and the person
//! sees the outcome. Every step goes through [`Engine::ask`]: authorised, scoped, audited.
//!
//! Reasons and outcomes are free text that may hold anything, so they reach the operational
//! database only sealed ([`vault::TextSealer`]). The overrides are the accepted corrections; the
//! engine keeps them in memory ([`OverrideCache`]), reloaded when another process decided one
//! (checked at most every [`OVERRIDES_TTL`]) and at once after a decision here, so the hot path
//! of a code lookup never queries the database.

use std::sync::Arc;
use std::time::Duration;

use model::{Date, Timestamp};
use ops::{CorrectionFilter, CorrectionRecord, CorrectionStatus, Decision, Filed, NewCorrection};
use privacy::{Action, Denied, Role};
use rules::evaluate::{Cause, Detail, detail_at};
use rules::{Override, Overrides};
use serde::Serialize;
use trace::{EvidenceOut, Tracer};

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::codes::require_in_scope;
use crate::disclose::PersonView;
use crate::{Caller, Engine, EngineError, parse_person};

/// How long the kept overrides are trusted before the database is asked whether another
/// process (a command line, another server) decided a correction since.
pub const OVERRIDES_TTL: Duration = Duration::from_secs(2);

/// The longest reason or outcome text, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The most corrections one list answers.
pub const MAX_LIST: i64 = 1000;

/// The longest an override may last, in days after the day of the code disputed: a rule is set
/// aside for a while, never for good.
pub const MAX_OVERRIDE_DAYS: i32 = 366;

const REASON_CONTEXT: &str = "correction reason";
const OUTCOME_CONTEXT: &str = "correction outcome";

/// The accepted corrections as overrides, checked against how many were accepted and the
/// largest id.
pub(crate) type OverrideCache = crate::checked::Checked<(i64, i64), Overrides>;

/// A correction as its caller may see it. A resident sees their own with status and outcome;
/// staff see the person (masked as their role may see them) and the evidence behind the
/// disputed rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CorrectionOut {
    pub id: i64,
    /// `open`, `accepted` or `rejected`.
    pub status: &'static str,
    /// The disputed rule (`close_contact`, …).
    pub rule: String,
    /// The day of the code disputed (the rule applied to it); the evidence is read for it.
    pub code_day: String,
    /// When it was filed (RFC 3339, deployment zone).
    pub filed: String,
    /// The role that filed it: `resident` (the person), `community_worker` (a service desk),
    /// `admin`.
    pub filed_role: String,
    /// The person's reason.
    pub reason: String,
    /// When it was decided.
    pub decided: Option<String>,
    /// The decision's reason.
    pub outcome: Option<String>,
    /// Accepted: the last day (inclusive) the rule is set aside.
    pub until: Option<String>,
    /// Staff only: who filed and who decided (account names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Staff only: the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonView>,
    /// Staff only: what the disputed rule rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<CorrectionEvidence>,
}

/// The records behind a disputed rule, as of the end of a day, from the rules alone (an
/// override does not hide the evidence it set aside).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CorrectionEvidence {
    /// The day the evidence is read for: the day of the code disputed.
    pub as_of: String,
    /// Whether the rule applies then (overrides ignored).
    pub applies: bool,
    /// The rule's reasons as a code shows them.
    pub reasons: Vec<String>,
    /// `close_contact` (and other contact rules): each case met, with what was shared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<ContactEvidence>,
    /// Arrival rules: the arrival records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<ArrivalEvidence>,
    /// `fever`: the self-reports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub self_reports: Vec<FeverEvidence>,
    /// `case`, `recovered` (and `fever`'s clearing test): the lab results.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lab_results: Vec<LabEvidence>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ContactEvidence {
    /// The case (masked id).
    pub case: String,
    pub degree: u8,
    pub last_exposure: String,
    pub quarantine_until: String,
    /// What they shared (the train and car, the flight and seat, the venue, the household);
    /// empty for a role that does not see how people travelled.
    pub shared: Vec<EvidenceOut>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ArrivalEvidence {
    /// `rail`, `flight`, `coach`, `ship`, `road`, `registration`, `self_report`.
    pub kind: &'static str,
    pub date: String,
    /// The origin region code.
    pub origin: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FeverEvidence {
    pub time: String,
    pub temperature_c: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabEvidence {
    pub sample_time: String,
    pub reported_time: String,
    /// `positive` or `negative`.
    pub result: &'static str,
    pub diagnosis: Option<&'static str>,
    pub onset_date: Option<String>,
}

/// Which corrections to list (`GET /corrections?status=&person_id=`).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CorrectionQuery {
    /// `open`, `accepted` or `rejected`; default all.
    pub status: Option<String>,
    /// One person's (staff only; a resident lists their own).
    pub person_id: Option<String>,
    /// At most this many, newest first (default and most: 1000).
    pub limit: Option<i64>,
}

/// A decision (`POST /corrections/{id}/decision`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionDecision {
    pub accept: bool,
    /// Why; shown to the person, and in their code while the override holds.
    pub reason: String,
    /// Accept: the last day (YYYY-MM-DD, inclusive) the rule is set aside.
    pub until: Option<String>,
}

/// A correction filed at a service desk (`POST /corrections`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCorrectionRequest {
    pub person_id: String,
    pub rule: String,
    pub reason: String,
    /// The day of the code disputed (YYYY-MM-DD; default today): the rule must apply then.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// A reason or outcome as given: trimmed, 1 to 500 characters, no control characters.
fn check_text(text: &str, what: &str) -> Result<String, EngineError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(EngineError::BadRequest(format!("give a {what}")));
    }
    let n = t.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(EngineError::BadRequest(format!(
            "the {what} is {n} characters long; at most {MAX_TEXT_CHARS}"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(EngineError::BadRequest(format!(
            "the {what} holds control characters (line breaks, tabs, …); write it on one line"
        )));
    }
    Ok(t.to_string())
}

/// A rule id as given: the shape of one, else a refusal that does not echo it.
fn check_rule_id(rule: &str) -> Result<String, EngineError> {
    let r = rule.trim();
    if r.is_empty()
        || r.len() > 64
        || !r
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(EngineError::BadRequest(format!(
            "rule {} is not a rule id",
            crate::quoted(rule, 64)
        )));
    }
    Ok(r.to_string())
}

fn not_found(id: i64) -> EngineError {
    EngineError::NotFound(format!("no correction {id} within your reach"))
}

fn status_of(s: Option<&str>) -> Result<Option<CorrectionStatus>, EngineError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => CorrectionStatus::parse(s).map(Some).ok_or_else(|| {
            EngineError::BadRequest(format!(
                "status {} is not open, accepted or rejected",
                crate::quoted(s, 32)
            ))
        }),
    }
}

/// The person a resident account names, or a refusal.
fn own_person(caller: &Caller) -> Result<i64, EngineError> {
    caller.account.scope.person.ok_or_else(|| {
        Denied::OutOfScope {
            what: "anyone's corrections".into(),
            scope: "resident account, which names no person".into(),
        }
        .into()
    })
}

impl Engine {
    /// The overrides in force now: kept, and reloaded when another process may have decided
    /// a correction (checked every [`OVERRIDES_TTL`] at most) or after a decision here.
    pub(crate) async fn overrides(&self) -> Result<Arc<Overrides>, EngineError> {
        let ops = self.ops();
        self.inner
            .overrides
            .get(
                async || Ok(ops.accepted_stamp().await?),
                async || self.load_overrides().await,
            )
            .await
    }

    /// Every accepted correction as an override, its outcome opened as the override's reason.
    async fn load_overrides(&self) -> Result<Overrides, EngineError> {
        let sealer = self.keys().text_sealer();
        let mut list = Vec::new();
        for c in self.ops().accepted_corrections().await? {
            let Some(until) = c.until.as_deref().and_then(|u| u.parse::<Date>().ok()) else {
                return Err(EngineError::Internal(format!(
                    "accepted correction {} has no valid end date",
                    c.id
                )));
            };
            let reason = match &c.outcome {
                Some(o) => sealer
                    .open(OUTCOME_CONTEXT, c.person, o)
                    .map_err(|e| EngineError::Internal(format!("correction {}: {e}", c.id)))?,
                None => String::new(),
            };
            list.push(Override {
                person: c.person,
                rule: c.rule,
                until,
                reason,
                correction: Some(c.id),
            });
        }
        Ok(Overrides::new(list))
    }

    /// Files a correction of `rule` for a person: a resident for themselves (`person_id` none
    /// or their own), a community worker at a service desk for a person of their community, an
    /// admin for anyone. The rule must apply to the person's code today; the reason is 1 to 500
    /// characters on one line; one correction per person and rule may be open at a time.
    ///
    /// The resident's `POST /resident/corrections` `{"rule", "reason"}` answers with this
    /// ([`CorrectionOut`]: `id`, `status: "open"`, …).
    pub async fn file_correction(
        &self,
        caller: &Caller,
        person_id: Option<&str>,
        rule: &str,
        reason: &str,
    ) -> Result<CorrectionOut, EngineError> {
        self.file_correction_as_of(caller, person_id, rule, reason, None)
            .await
    }

    /// [`Engine::file_correction`] disputing the code as of the end of `as_of` (default today).
    pub async fn file_correction_as_of(
        &self,
        caller: &Caller,
        person_id: Option<&str>,
        rule: &str,
        reason: &str,
        as_of: Option<&str>,
    ) -> Result<CorrectionOut, EngineError> {
        let person_id = person_id.map(str::to_string);
        let rule = rule.to_string();
        let reason = reason.to_string();
        let as_of = as_of.map(str::to_string);
        let work = Async(move |asking: Asking| async move {
            let rule = check_rule_id(&rule)?;
            let reason = check_text(&reason, "reason")?;
            // A resident may dispute their code of any day they can see it for (`GET
            // /resident/code?as_of=`): it is their own.
            let role = asking.caller().account.role;
            let own = if role == Role::Resident {
                Some(own_person(asking.caller())?)
            } else {
                None
            };
            let rule_q = rule.clone();
            let (person, day) = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let p = match (own, person_id.as_deref().map(str::trim)) {
                        (Some(me), None | Some("")) => me,
                        (Some(me), Some(id)) => {
                            let p = ctx.keys.pseudonyms.pseudonym(parse_person(id)?);
                            if p != me {
                                return Err(Denied::OutOfScope {
                                    what: "another person's code".into(),
                                    scope: "own data".into(),
                                }
                                .into());
                            }
                            p
                        }
                        (None, Some(id)) if !id.is_empty() => {
                            ctx.keys.pseudonyms.pseudonym(parse_person(id)?)
                        }
                        (None, _) => {
                            return Err(EngineError::BadRequest(
                                "name the person (person_id) the correction is for".into(),
                            ));
                        }
                    };
                    require_in_scope(&view, p, "this person")?;
                    let day = crate::parse_as_of_date(as_of.as_deref(), ctx.zone())?;
                    let code = crate::codes::code_of(ctx, p, day, &view);
                    let mut applying: Vec<String> = code
                        .reasons
                        .iter()
                        .filter(|r| r.rule != rules::OVERRIDE)
                        .map(|r| r.rule.clone())
                        .collect();
                    applying.sort();
                    applying.dedup();
                    if !applying.contains(&rule_q) {
                        let now = if applying.is_empty() {
                            format!("no rule applies to this code as of {day}")
                        } else {
                            format!("the rules that apply as of {day}: {}", applying.join(", "))
                        };
                        return Err(EngineError::BadRequest(format!(
                            "rule {rule_q} does not apply to this person's code as of {day}; {now}"
                        )));
                    }
                    view.id(p);
                    Ok((p, day))
                })
                .await?;
            let code_day = day.to_string();
            let engine = asking.engine();
            let sealed = engine
                .keys()
                .text_sealer()
                .seal(REASON_CONTEXT, person, &reason)
                .map_err(EngineError::internal)?;
            let account = &asking.caller().account;
            let now = Timestamp::now();
            let filed = engine
                .ops()
                .file_correction(&NewCorrection {
                    person,
                    rule: &rule,
                    code_day: &code_day,
                    reason: &sealed,
                    filed_by: &account.name,
                    filed_role: role.as_str(),
                    filed_at_ms: now.millis(),
                })
                .await?;
            let id = match filed {
                Filed::New(id) => id,
                Filed::AlreadyOpen(id) => {
                    return Err(EngineError::Conflict(format!(
                        "correction {id} of rule {rule} for this person is open already; it is \
                         decided before another is filed"
                    )));
                }
            };
            let record = engine
                .ops()
                .correction(id)
                .await?
                .ok_or_else(|| EngineError::Internal(format!("correction {id} vanished")))?;
            let out = asking
                .blocking(move |ctx: &Ctx<'_>| show(ctx, &record, false))
                .await?;
            Ok(Answer::new(out, 1).outcome(format!("ok: correction {id} filed")))
        });
        self.ask(caller, Action::FileCorrection, work).await
    }

    /// Corrections within the caller's reach, newest first: a resident's own (status and
    /// outcome; the resident's `GET /resident/corrections` answers with this), or for staff
    /// those of persons in their scope, each with the person and the evidence behind the
    /// disputed rule.
    pub async fn corrections(
        &self,
        caller: &Caller,
        query: &CorrectionQuery,
    ) -> Result<Vec<CorrectionOut>, EngineError> {
        let query = query.clone();
        let work = Async(move |asking: Asking| async move {
            let status = status_of(query.status.as_deref())?;
            let limit = match query.limit {
                None => MAX_LIST,
                Some(n) if (1..=MAX_LIST).contains(&n) => n,
                Some(n) => {
                    return Err(EngineError::BadRequest(format!(
                        "limit {n} is not between 1 and {MAX_LIST}"
                    )));
                }
            };
            let resident = asking.caller().account.role == Role::Resident;
            let person = if resident {
                if query
                    .person_id
                    .as_deref()
                    .is_some_and(|s| !s.trim().is_empty())
                {
                    return Err(EngineError::BadRequest(
                        "a resident lists their own corrections; leave out person_id".into(),
                    ));
                }
                Some(own_person(asking.caller())?)
            } else {
                match query.person_id.as_deref().map(str::trim) {
                    Some(id) if !id.is_empty() => {
                        let id = id.to_string();
                        Some(
                            asking
                                .blocking(move |ctx: &Ctx<'_>| {
                                    let p = ctx.keys.pseudonyms.pseudonym(parse_person(&id)?);
                                    require_in_scope(&ctx.view()?, p, "this person")?;
                                    Ok(p)
                                })
                                .await?,
                        )
                    }
                    _ => None,
                }
            };
            // A region's or community's list is filtered after reading, so it reads them all;
            // one person's, or everyone's (an admin), reads no more than the limit.
            let unscoped = asking.caller().account.scope.is_everyone();
            let records = asking
                .engine()
                .ops()
                .corrections(&CorrectionFilter {
                    status,
                    person,
                    limit: if person.is_some() || unscoped {
                        limit
                    } else {
                        0
                    },
                })
                .await?;
            let out = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let view = ctx.view()?;
                    let mut out = Vec::new();
                    for r in records.iter().filter(|r| view.in_scope(r.person)) {
                        if out.len() as i64 >= limit {
                            break;
                        }
                        out.push(show(ctx, r, !resident)?);
                    }
                    Ok(out)
                })
                .await?;
            let rows = out.len() as i64;
            Ok(Answer::new(out, rows))
        });
        self.ask(caller, Action::ReadCorrections, work).await
    }

    /// One correction within the caller's reach (as [`Engine::corrections`] shows it); a
    /// correction outside it is not found, like one that does not exist.
    pub async fn correction(&self, caller: &Caller, id: i64) -> Result<CorrectionOut, EngineError> {
        let work = Async(move |asking: Asking| async move {
            let record = reachable(&asking, id).await?;
            let staff = asking.caller().account.role != Role::Resident;
            let out = asking
                .blocking(move |ctx: &Ctx<'_>| show(ctx, &record, staff))
                .await?;
            Ok(Answer::new(out, 1))
        });
        self.ask(caller, Action::ReadCorrections, work).await
    }

    /// Decides an open correction: an epidemiologist of the person's region or an admin.
    /// Accepting needs `until` (the last day the rule is set aside) and a reason; the override
    /// applies to every code from then on, and the person's signed codes issued before are
    /// revoked (their color may have changed), so the next one is signed anew. Rejecting needs
    /// a reason. A correction decided already is a conflict.
    pub async fn decide_correction(
        &self,
        caller: &Caller,
        id: i64,
        decision: &CorrectionDecision,
    ) -> Result<CorrectionOut, EngineError> {
        let decision = decision.clone();
        let work = Async(move |asking: Asking| async move {
            let reason = check_text(&decision.reason, "reason")?;
            let until = match (decision.accept, decision.until.as_deref().map(str::trim)) {
                (true, None | Some("")) => {
                    return Err(EngineError::BadRequest(
                        "accepting needs until: the last day (YYYY-MM-DD) the rule is set aside"
                            .into(),
                    ));
                }
                (true, Some(u)) => Some(u.parse::<Date>().map_err(|e| {
                    EngineError::BadRequest(format!("until {}: {e}", crate::quoted(u, 16)))
                })?),
                (false, None | Some("")) => None,
                (false, Some(_)) => {
                    return Err(EngineError::BadRequest(
                        "a rejection sets nothing aside; leave out until".into(),
                    ));
                }
            };
            let record = reachable(&asking, id).await?;
            if record.status != CorrectionStatus::Open {
                return Err(EngineError::Conflict(format!(
                    "correction {id} was {} already",
                    record.status.as_str()
                )));
            }
            // The override covers the code disputed, and lasts a bounded while.
            if let (Some(u), Ok(day)) = (until, record.code_day.parse::<Date>()) {
                let last = day.add_days(MAX_OVERRIDE_DAYS);
                if u < day || u > last {
                    return Err(EngineError::BadRequest(format!(
                        "until {u} is not between {day}, the day of the code disputed, and {last} \
                         ({MAX_OVERRIDE_DAYS} days after it)"
                    )));
                }
            }
            let engine = asking.engine().clone();
            let sealed = engine
                .keys()
                .text_sealer()
                .seal(OUTCOME_CONTEXT, record.person, &reason)
                .map_err(EngineError::internal)?;
            let until_text = until.map(|u| u.to_string());
            let account = &asking.caller().account;
            let decided = engine
                .ops()
                .decide_correction(&Decision {
                    id,
                    accept: decision.accept,
                    decided_by: &account.name,
                    decided_role: account.role.as_str(),
                    decided_at_ms: Timestamp::now().millis(),
                    outcome: &sealed,
                    until: until_text.as_deref(),
                })
                .await?;
            if !decided {
                return Err(EngineError::Conflict(format!(
                    "correction {id} was decided by someone else just now"
                )));
            }
            let mut revoked = 0;
            if decision.accept {
                // Every code from now on applies the override; codes signed before carry the
                // old color, so they are revoked and the next one is signed anew.
                engine.inner.overrides.forget();
                if let Some(pid) = engine.keys().pseudonyms.reveal(record.person) {
                    let subject = engine.keys().code_subject(pid);
                    revoked = engine
                        .ops()
                        .revoke_subject(
                            &subject,
                            Timestamp::now().secs(),
                            &format!("code override from correction {id}"),
                        )
                        .await?
                        .len();
                    engine.inner.signed_codes.forget();
                    engine.inner.verifiers.clear();
                }
            }
            let record = engine
                .ops()
                .correction(id)
                .await?
                .ok_or_else(|| EngineError::Internal(format!("correction {id} vanished")))?;
            let out = asking
                .blocking(move |ctx: &Ctx<'_>| show(ctx, &record, true))
                .await?;
            let what = if decision.accept {
                format!(
                    "ok: correction {id} accepted until {}; {revoked} signed code(s) revoked",
                    out.until.as_deref().unwrap_or("?")
                )
            } else {
                format!("ok: correction {id} rejected")
            };
            Ok(Answer::new(out, 1).outcome(what))
        });
        self.ask(caller, Action::DecideCorrection, work).await
    }
}

/// The correction `id` if the caller may reach it (their own, or a person in their scope);
/// not found otherwise.
async fn reachable(asking: &Asking, id: i64) -> Result<CorrectionRecord, EngineError> {
    let account = &asking.caller().account;
    if account.role == Role::Resident {
        own_person(asking.caller())?;
    }
    let record = asking
        .engine()
        .ops()
        .correction(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let person = record.person;
    let reach = asking
        .blocking(move |ctx: &Ctx<'_>| Ok(ctx.view()?.in_scope(person)))
        .await?;
    if !reach {
        return Err(not_found(id));
    }
    asking.note(person);
    Ok(record)
}

/// A stored correction as the caller may see it; `staff` adds the person and the evidence.
fn show(ctx: &Ctx<'_>, r: &CorrectionRecord, staff: bool) -> Result<CorrectionOut, EngineError> {
    let sealer = ctx.keys.text_sealer();
    let open = |context: &str, sealed: &[u8]| {
        sealer
            .open(context, r.person, sealed)
            .map_err(|e| EngineError::Internal(format!("correction {}: {e}", r.id)))
    };
    let zone = ctx.zone();
    let at = |ms: i64| Timestamp(ms).to_rfc3339(zone);
    let view = ctx.view()?;
    let (person, evidence) = if staff {
        let person = view.persons(&[r.person])?.into_iter().next();
        let day = r.code_day.parse::<Date>().map_err(|_| {
            EngineError::Internal(format!("correction {} has a malformed code day", r.id))
        })?;
        (person, Some(evidence(ctx, r.person, &r.rule, day)?))
    } else {
        view.id(r.person);
        (None, None)
    };
    Ok(CorrectionOut {
        id: r.id,
        status: r.status.as_str(),
        rule: r.rule.clone(),
        code_day: r.code_day.clone(),
        filed: at(r.filed_at_ms),
        filed_role: r.filed_role.clone(),
        reason: open(REASON_CONTEXT, &r.reason)?,
        decided: r.decided_at_ms.map(at),
        outcome: r
            .outcome
            .as_deref()
            .map(|o| open(OUTCOME_CONTEXT, o))
            .transpose()?,
        until: r.until.clone(),
        filed_by: staff.then(|| r.filed_by.clone()),
        decided_by: if staff { r.decided_by.clone() } else { None },
        person,
        evidence,
    })
}

/// What `rule` rests on for `person` as of the end of `as_of`, from the rules alone: its
/// reasons, and the records of its kind (contacts with what was shared, arrivals, self-reports,
/// lab results). A role that does not see how people travelled gets contacts without what was
/// shared, as in its codes.
fn evidence(
    ctx: &Ctx<'_>,
    person: i64,
    rule: &str,
    as_of: Date,
) -> Result<CorrectionEvidence, EngineError> {
    let view = ctx.view()?;
    let zone = ctx.zone();
    let at = |ms: i64| Timestamp(ms).to_rfc3339(zone);
    let travel = privacy::sees_travel(ctx.caller.account.role);
    let level = if travel { Detail::Full } else { Detail::Local };
    let codes = ctx.code_engine();
    let findings: Vec<_> = codes
        .findings_without_overrides(ctx.rules, person, as_of)
        .into_iter()
        .filter(|f| ctx.rules.rules[f.rule].id == rule)
        .collect();
    let mut out = CorrectionEvidence {
        as_of: as_of.to_string(),
        applies: !findings.is_empty(),
        reasons: findings
            .iter()
            .map(|f| detail_at(f, &|c| view.masked_id(c), level))
            .collect(),
        ..CorrectionEvidence::default()
    };
    let Some(kind) = ctx.rules.rules.iter().find(|r| r.id == rule) else {
        return Ok(out);
    };
    let facts = codes.facts(person, as_of, 0, false);
    let end = as_of.end_of_day(zone).millis();
    match &kind.when {
        rules::Condition::Contact { degree, .. } => {
            let tracer = Tracer::new(&ctx.snap.index, zone);
            for x in tracer
                .exposures_to_cases(person, end, *degree)
                .into_iter()
                .filter(|x| x.degree == *degree)
            {
                out.contacts.push(ContactEvidence {
                    case: view.masked_id(x.case),
                    degree: x.degree,
                    last_exposure: at(x.last_exposure),
                    quarantine_until: x.quarantine_until.to_string(),
                    shared: if travel {
                        x.evidence
                            .iter()
                            .map(|e| EvidenceOut::new(e, &tracer))
                            .collect()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
        rules::Condition::Arrival { kinds, .. } => {
            // The arrivals the findings name, with how the person came.
            for f in &findings {
                if let Cause::Arrival { date, origin } = f.cause {
                    for a in facts.arrivals.iter().filter(|a| {
                        a.date == date
                            && a.origin == origin
                            && kinds.contains(&a.kind)
                            && a.time <= end
                    }) {
                        let e = ArrivalEvidence {
                            kind: a.kind.as_str(),
                            date: a.date.to_string(),
                            origin: format!("{:06}", a.origin),
                        };
                        if !out.arrivals.contains(&e) {
                            out.arrivals.push(e);
                        }
                    }
                }
            }
        }
        rules::Condition::Fever { .. } => {
            for f in facts.fevers.iter().filter(|f| f.time <= end) {
                out.self_reports.push(FeverEvidence {
                    time: at(f.time),
                    temperature_c: f.temperature_c,
                });
            }
            out.lab_results = labs(&facts.labs, end, &at);
        }
        rules::Condition::Case { .. } | rules::Condition::Recovered { .. } => {
            out.lab_results = labs(&facts.labs, end, &at);
        }
    }
    Ok(out)
}

fn labs(rows: &[trace::LabRow], end: i64, at: &dyn Fn(i64) -> String) -> Vec<LabEvidence> {
    let mut rows: Vec<&trace::LabRow> = rows.iter().filter(|l| l.reported <= end).collect();
    rows.sort_by_key(|l| (l.reported, l.rid));
    rows.into_iter()
        .map(|l| LabEvidence {
            sample_time: at(l.sample),
            reported_time: at(l.reported),
            result: if l.positive { "positive" } else { "negative" },
            diagnosis: l.diagnosis.map(|d| d.as_str()),
            onset_date: l.onset.map(|d| d.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use model::{PersonId, Region};
    use ops::AuditFilter;
    use privacy::{Purpose, Scope};

    use super::*;
    use crate::local::Progress;
    use crate::{Account, EngineOptions};

    use crate::test_city::{keys, person, two_households};

    fn caller(name: &str, role: Role, scope: Scope, purpose: Purpose) -> Caller {
        let account = Account {
            name: name.into(),
            role,
            scope,
        };
        Caller::new(account, purpose, format!("request of {name}"))
    }

    fn region(code: &str) -> Option<Region> {
        Some(Region::parse(code.as_bytes()).unwrap())
    }

    fn resident(name: &str, id: PersonId) -> Caller {
        let scope = Scope {
            person: Some(keys().pseudonyms.pseudonym(id)),
            ..Scope::default()
        };
        caller(name, Role::Resident, scope, Purpose::SelfCheck)
    }

    async fn entries(e: &Engine, actor: &str) -> usize {
        let filter = AuditFilter {
            actor: Some(actor.into()),
            ..AuditFilter::default()
        };
        e.ops().audit_records(&filter).await.unwrap().len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_correction_is_filed_seen_with_its_evidence_decided_and_applied() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        two_households(&data, &dir.path().join("in"));
        let e = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let day = Some("2020-01-25");
        let (a, b, d) = (person(330302, 1), person(330302, 2), person(330102, 4));
        let (a_id, b_id, d_id) = (a.to_string(), b.to_string(), d.to_string());
        let desk = caller(
            "cw-c1",
            Role::CommunityWorker,
            Scope {
                region: region("330302"),
                community: Some("C1".into()),
                person: None,
            },
            Purpose::CommunityService,
        );
        let wenzhou = caller(
            "epi-wz",
            Role::Epidemiologist,
            Scope {
                region: region("330300"),
                ..Scope::default()
            },
            Purpose::HealthCode,
        );
        let hangzhou = caller(
            "epi-hz",
            Role::Epidemiologist,
            Scope {
                region: region("330100"),
                ..Scope::default()
            },
            Purpose::HealthCode,
        );
        let admin = caller("admin", Role::Admin, Scope::default(), Purpose::HealthCode);
        let sweep = caller(
            "admin-sweep",
            Role::Admin,
            Scope::default(),
            Purpose::OutbreakResponse,
        );
        let reason = "I live elsewhere since January; the household record is old";

        // B is red as the case's household contact on the 25th, and holds a signed code.
        let before = e.person_code(&wenzhou, &b_id, day).await.unwrap();
        assert_eq!(before.color, "red");
        crate::issuer_api::init_issuer(&data, &keys(), Region::parse(b"330300").unwrap()).unwrap();
        let signed = e.issue_code(&admin, &b_id, day, None).await.unwrap();
        let checker = caller(
            "gate",
            Role::Checkpoint,
            Scope::default(),
            Purpose::Verification,
        );
        let valid =
            |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["valid"].clone();
        let v = e.verify_code(&checker, &signed.payload).await.unwrap();
        assert_eq!(valid(&v), true, "{v}");
        e.codes_to(
            &sweep,
            day,
            dir.path().join("c1.csv"),
            false,
            Progress::default(),
        )
        .await
        .unwrap();

        // Filed at C1's desk; the same rule again is a conflict; a rule that does not apply is
        // refused naming the ones that do; someone of another community is out of reach.
        let filed = e
            .file_correction_as_of(&desk, Some(&b_id), "close_contact", reason, day)
            .await
            .unwrap();
        assert_eq!((filed.id, filed.status), (1, "open"));
        assert_eq!(filed.code_day, "2020-01-25");
        let again = e
            .file_correction_as_of(&desk, Some(&b_id), "close_contact", "again", day)
            .await;
        assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
        let fever = e
            .file_correction_as_of(&desk, Some(&b_id), "fever", reason, day)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            fever.contains("fever") && fever.contains("close_contact"),
            "{fever}"
        );
        let other = e
            .file_correction_as_of(&desk, Some(&d_id), "close_contact", reason, day)
            .await;
        assert!(matches!(other, Err(EngineError::Denied(_))), "{other:?}");
        let control = e
            .file_correction_as_of(&desk, Some(&b_id), "case", "a\u{7}b", day)
            .await;
        assert!(
            matches!(control, Err(EngineError::BadRequest(_))),
            "{control:?}"
        );

        // The reason is sealed in the operational database.
        let stored = e.ops().correction(1).await.unwrap().unwrap();
        assert!(!stored.reason.windows(9).any(|w| w == b"household"));

        // B sees their own, with no evidence or staff names; A (the case) does not see it.
        let mine = e
            .corrections(&resident("res-b", b), &CorrectionQuery::default())
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].reason, reason);
        assert!(mine[0].evidence.is_none() && mine[0].person.is_none());
        assert!(mine[0].filed_by.is_none());
        let theirs = e
            .corrections(&resident("res-a", a), &CorrectionQuery::default())
            .await
            .unwrap();
        assert!(theirs.is_empty());
        let r = e.correction(&resident("res-a", a), 1).await;
        assert!(matches!(r, Err(EngineError::NotFound(_))), "{r:?}");

        // Hangzhou's epidemiologist has no such correction in reach; Wenzhou's sees the queue
        // with the household behind the rule.
        let open = CorrectionQuery {
            status: Some("open".into()),
            ..CorrectionQuery::default()
        };
        assert!(e.corrections(&hangzhou, &open).await.unwrap().is_empty());
        let accept = CorrectionDecision {
            accept: true,
            reason: "moved out in December, confirmed by the landlord".into(),
            until: Some("2020-02-10".into()),
        };
        let r = e.decide_correction(&hangzhou, 1, &accept).await;
        assert!(matches!(r, Err(EngineError::NotFound(_))), "{r:?}");
        let queue = e.corrections(&wenzhou, &open).await.unwrap();
        assert_eq!(queue.len(), 1);
        let ev = queue[0].evidence.as_ref().unwrap();
        assert!(ev.applies, "{ev:?}");
        assert_eq!(ev.contacts.len(), 1, "{ev:?}");
        assert_eq!(ev.contacts[0].shared[0].kind, "household", "{ev:?}");
        assert_eq!(queue[0].person.as_ref().unwrap().person_id, b_id);

        // The desk may not decide; accepting needs an end date.
        let r = e.decide_correction(&desk, 1, &accept).await;
        assert!(matches!(r, Err(EngineError::Denied(_))), "{r:?}");
        let no_until = CorrectionDecision {
            until: None,
            ..accept.clone()
        };
        let r = e.decide_correction(&wenzhou, 1, &no_until).await;
        assert!(matches!(r, Err(EngineError::BadRequest(_))), "{r:?}");
        // An override covers the code disputed (2020-01-25) and lasts at most 366 days.
        for bad in ["2020-01-24", "2021-01-26", "9999-12-31", "2020-02-30"] {
            let until = CorrectionDecision {
                until: Some(bad.into()),
                ..accept.clone()
            };
            let r = e.decide_correction(&wenzhou, 1, &until).await;
            assert!(matches!(r, Err(EngineError::BadRequest(_))), "{bad}: {r:?}");
        }
        let done = e.decide_correction(&wenzhou, 1, &accept).await.unwrap();
        assert_eq!(
            (done.status, done.until.as_deref()),
            ("accepted", Some("2020-02-10"))
        );
        let r = e.decide_correction(&wenzhou, 1, &accept).await;
        assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
        // The code signed red before is revoked.
        let v = e.verify_code(&checker, &signed.payload).await.unwrap();
        assert_eq!(valid(&v), false, "{v}");
        assert!(v.contains("revoked"), "{v}");

        // B is green with the override named, through the end date only.
        let after = e.person_code(&wenzhou, &b_id, day).await.unwrap();
        assert_eq!(after.color, "green", "{after:?}");
        assert_eq!(after.reasons.len(), 1, "{after:?}");
        assert_eq!(after.reasons[0].rule, "override");
        assert!(
            after.reasons[0]
                .detail
                .starts_with("close_contact set aside until 2020-02-10: moved out"),
            "{after:?}"
        );
        // The saved whole-population run of before is not reused: B is green there too.
        let codes = e
            .codes_to(
                &sweep,
                day,
                dir.path().join("c2.csv"),
                false,
                Progress::default(),
            )
            .await
            .unwrap();
        assert_eq!(codes.counts, [1, 0, 3], "{codes:?}");
        let text = std::fs::read_to_string(dir.path().join("c2.csv")).unwrap();
        assert!(text.contains(&format!("{b_id},green,override,")), "{text}");

        // A rejection: the case disputes being a case; the outcome reaches them.
        let filed = e
            .file_correction(
                &resident("res-a", a),
                None,
                "case",
                "I tested negative since",
            )
            .await;
        // Today (not 2020) the case is still a case: their status never changed.
        let filed = filed.unwrap();
        let reject = CorrectionDecision {
            accept: false,
            reason: "the positive result stands".into(),
            until: None,
        };
        let with_until = CorrectionDecision {
            until: Some("2020-02-01".into()),
            ..reject.clone()
        };
        let r = e.decide_correction(&admin, filed.id, &with_until).await;
        assert!(matches!(r, Err(EngineError::BadRequest(_))), "{r:?}");
        let rejected = e
            .decide_correction(&admin, filed.id, &reject)
            .await
            .unwrap();
        assert_eq!(rejected.status, "rejected");
        let seen = e.correction(&resident("res-a", a), filed.id).await.unwrap();
        assert_eq!(seen.outcome.as_deref(), Some("the positive result stands"));
        assert!(seen.decided_by.is_none());
        let a_code = e.person_code(&admin, &a_id, day).await.unwrap();
        assert_eq!(a_code.color, "red");

        // Lists are bounded: the newest first, at most `limit`, which must make sense.
        let one = CorrectionQuery {
            limit: Some(1),
            ..CorrectionQuery::default()
        };
        let newest = e.corrections(&admin, &one).await.unwrap();
        assert_eq!(newest.len(), 1);
        assert_eq!(newest[0].id, filed.id);
        for bad in [0, -1, MAX_LIST + 1] {
            let q = CorrectionQuery {
                limit: Some(bad),
                ..CorrectionQuery::default()
            };
            let r = e.corrections(&admin, &q).await;
            assert!(matches!(r, Err(EngineError::BadRequest(_))), "{r:?}");
        }

        // Every step, refused or not, is one entry.
        assert_eq!(entries(&e, "cw-c1").await, 6);
        assert_eq!(entries(&e, "res-b").await, 1);
        assert_eq!(entries(&e, "epi-hz").await, 2);
        assert_eq!(entries(&e, "res-a").await, 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_decision_in_another_process_reaches_a_running_engine() {
        // Two engines on one data dir and database, as a server and `fangyi corrections
        // accept` are: the server keeps its overrides, and learns of the decision within
        // OVERRIDES_TTL without a query per code.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        two_households(&data, &dir.path().join("in"));
        let server = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let cli = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let admin = caller("admin", Role::Admin, Scope::default(), Purpose::HealthCode);
        let b = person(330302, 2).to_string();
        let day = Some("2020-01-25");
        assert_eq!(
            server.person_code(&admin, &b, day).await.unwrap().color,
            "red"
        );
        let filed = cli
            .file_correction_as_of(&admin, Some(&b), "close_contact", "not at home", day)
            .await
            .unwrap();
        let accept = CorrectionDecision {
            accept: true,
            reason: "moved".into(),
            until: Some("2020-02-10".into()),
        };
        cli.decide_correction(&admin, filed.id, &accept)
            .await
            .unwrap();
        assert_eq!(
            cli.person_code(&admin, &b, day).await.unwrap().color,
            "green"
        );
        tokio::time::sleep(OVERRIDES_TTL + Duration::from_millis(200)).await;
        assert_eq!(
            server.person_code(&admin, &b, day).await.unwrap().color,
            "green"
        );
    }

    #[test]
    fn texts_are_bounded_and_on_one_line() {
        assert_eq!(check_text("  wrong car  ", "reason").unwrap(), "wrong car");
        assert!(check_text("   ", "reason").is_err());
        assert!(check_text(&"x".repeat(501), "reason").is_err());
        assert!(check_text(&"字".repeat(500), "reason").is_ok());
        assert!(check_text("a\nb", "reason").is_err());
        assert!(check_text("a\u{0}b", "reason").is_err());
        assert!(check_rule_id("close_contact").is_ok());
        let e = check_rule_id("Close Contact\n").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(check_rule_id(&"a".repeat(65)).is_err());
        assert_eq!(
            status_of(Some("open")).unwrap(),
            Some(CorrectionStatus::Open)
        );
        assert_eq!(status_of(Some("")).unwrap(), None);
        assert!(status_of(Some("closed")).is_err());
    }
}
