//! Labour matching through the boundary (contract §8.4): every job's openings filled with
//! eligible seekers — available on the day, registered in `persons` and green as of the end of
//! the day before, from one sweep — for the CLI and the API alike; and seekers' consent. The
//! command centre sees every match in full; an enterprise its own openings only, each seeker
//! masked until they consent to that enterprise (a record in the operational database, itself
//! audited).

use std::collections::{HashMap, HashSet};

use model::{Date, Timestamp};
use privacy::Action;
use resume::matching::{self, Filled};
use resume::plan::{self, Plan};
use serde::{Deserialize, Serialize};

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::resume_decide::own_enterprise;
use crate::{Caller, Engine, EngineError, parse_person};

/// What a matching request asks: `fangyi resume match --date D`, `POST /resume/match`'s body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MatchParams {
    /// The day the openings are filled on (YYYY-MM-DD).
    pub date: String,
}

/// One job: contract §8.4's object.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MatchView {
    pub job_id: String,
    pub enterprise_id: String,
    pub openings: u32,
    pub filled: usize,
    /// Person ids in the order chosen (masked for an enterprise until the seeker consents).
    pub seekers: Vec<String>,
}

/// A seeker's consent to an enterprise seeing who they are: `POST /resume/consents`' body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Deserialize)]
pub struct ConsentParams {
    pub person_id: String,
    pub enterprise_id: String,
}

/// What recording a consent did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentView {
    pub person_id: String,
    pub enterprise_id: String,
    /// False when the same consent was recorded before (the first record stays).
    pub recorded: bool,
}

/// What withdrawing a consent did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WithdrawalView {
    pub person_id: String,
    pub enterprise_id: String,
    /// False when no consent was on record.
    pub withdrawn: bool,
}

/// The seeker (their id and store pseudonym, noted for the audit) and the enterprise a consent
/// names.
fn consent_parties(
    asking: &Asking,
    params: &ConsentParams,
) -> Result<(model::PersonId, i64, model::EnterpriseId), EngineError> {
    let id = parse_person(&params.person_id)?;
    let enterprise = model::EnterpriseId::parse(params.enterprise_id.trim().as_bytes())
        .map_err(|e| EngineError::BadRequest(format!("enterprise_id: {}", e.reason())))?;
    let person = asking.engine().keys().pseudonyms.pseudonym(id);
    asking.note(person);
    Ok((id, person, enterprise))
}

/// Every job filled on `date` (contract §8.4), enterprises ranked by the built-in whitelist.
pub(crate) fn filled(ctx: &Ctx<'_>, date: Date) -> Result<Vec<Filled>, EngineError> {
    let store = &ctx.snap.store;
    let zone = ctx.zone();
    let jobs = matching::jobs(store).map_err(EngineError::internal)?;
    let directory = ctx.snap.directory()?;
    let mut seekers = matching::seekers(store, date).map_err(EngineError::internal)?;
    seekers.retain(|s| directory.contains(s.person));
    let mut persons: Vec<i64> = seekers.iter().map(|s| s.person).collect();
    persons.sort_unstable();
    persons.dedup();
    // Green as of the end of D − 1, and nothing after now.
    let day = date.add_days(-1).min(Timestamp::now().date(zone));
    let codes = ctx.code_engine();
    let not_green: HashSet<i64> = codes
        .sweep_findings(ctx.rules, &persons, day)
        .into_keys()
        .collect();
    seekers.retain(|s| !not_green.contains(&s.person));
    let placed = plan::order(
        &Plan::built_in(),
        &plan::enterprises(store).map_err(EngineError::internal)?,
    );
    let rank: HashMap<&str, usize> = placed
        .iter()
        .map(|p| (p.enterprise.enterprise_id.as_str(), p.rank))
        .collect();
    let pseudonyms = &ctx.keys.pseudonyms;
    Ok(matching::fill(
        jobs,
        &seekers,
        &|e| rank.get(e).copied(),
        &|p| pseudonyms.reveal(p).map_or(u64::MAX, |id| id.number()),
    ))
}

impl Engine {
    /// Contract §8.4's matches on `params.date`: every job for the command centre, an
    /// enterprise's own jobs only, with seekers masked until they consent to it.
    pub async fn resume_match(
        &self,
        caller: &Caller,
        params: &MatchParams,
    ) -> Result<Vec<MatchView>, EngineError> {
        let date = params.date.clone();
        let work = Async(move |asking: Asking| async move {
            let date = Date::parse(date.trim().as_bytes()).map_err(|e| {
                EngineError::BadRequest(format!(
                    "date {}: {}",
                    crate::quoted(&date, 20),
                    e.reason()
                ))
            })?;
            let own = own_enterprise(&asking.caller().account)?;
            let consents = match &own {
                Some(e) => asking
                    .engine()
                    .ops()
                    .consents(e)
                    .await
                    .map_err(EngineError::internal)?,
                None => HashSet::new(),
            };
            asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let filled = filled(ctx, date)?;
                    let view = ctx.view()?;
                    let value: Vec<MatchView> = filled
                        .into_iter()
                        .filter(|f| own.as_deref().is_none_or(|e| f.job.enterprise_id == e))
                        .map(|f| MatchView {
                            seekers: f
                                .seekers
                                .iter()
                                .map(|&p| match &own {
                                    Some(_) => view.id_where(p, consents.contains(&p)),
                                    None => view.id(p),
                                })
                                .collect(),
                            filled: f.seekers.len(),
                            job_id: f.job.job_id,
                            enterprise_id: f.job.enterprise_id,
                            openings: f.job.openings,
                        })
                        .collect();
                    let n = value.len() as i64;
                    Ok(Answer::new(value, n))
                })
                .await
        });
        self.ask(caller, Action::ResumeMatch, work).await
    }

    /// Records that a seeker consents to an enterprise seeing who they are (audited, naming the
    /// person).
    pub async fn resume_consent(
        &self,
        caller: &Caller,
        params: &ConsentParams,
    ) -> Result<ConsentView, EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let (id, person, enterprise) = consent_parties(&asking, &params)?;
            let recorded = asking
                .engine()
                .ops()
                .add_consent(
                    person,
                    enterprise.as_str(),
                    &asking.caller().account.name,
                    Timestamp::now().millis(),
                )
                .await
                .map_err(EngineError::internal)?;
            Ok(Answer::new(
                ConsentView {
                    person_id: id.to_string(),
                    enterprise_id: enterprise.as_str().to_string(),
                    recorded,
                },
                1,
            ))
        });
        self.ask(caller, Action::ResumeConsent, work).await
    }

    /// Withdraws a seeker's consent to an enterprise: its matches show them masked again
    /// (audited, naming the person, like the consent).
    pub async fn resume_withdraw_consent(
        &self,
        caller: &Caller,
        params: &ConsentParams,
    ) -> Result<WithdrawalView, EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let (id, person, enterprise) = consent_parties(&asking, &params)?;
            let withdrawn = asking
                .engine()
                .ops()
                .withdraw_consent(person, enterprise.as_str())
                .await
                .map_err(EngineError::internal)?;
            Ok(Answer::new(
                WithdrawalView {
                    person_id: id.to_string(),
                    enterprise_id: enterprise.as_str().to_string(),
                    withdrawn,
                },
                1,
            ))
        });
        self.ask(caller, Action::ResumeConsent, work).await
    }
}
