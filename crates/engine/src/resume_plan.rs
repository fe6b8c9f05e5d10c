//! The whitelist through the boundary (contract §8.2): every enterprise with its tier, rank,
//! resume date and how many of its employees could come to the office that day, and what a
//! second plan would change. Counts per enterprise, never a person; each caller sees the
//! enterprises its region covers (ranks stay those of the whole list).

use std::collections::HashSet;

use model::Timestamp;
use privacy::Action;
use resume::decide;
use resume::plan::{self, Move, Plan};
pub use resume::plan::{BUILT_IN as BUILT_IN_PLAN, Position};
use serde::Serialize;

use crate::ask::{Answer, Blocking, Ctx};
use crate::{Caller, Engine, EngineError, parse_as_of_instant};

/// What a plan request asks. Plans come as text with the name their errors give (a file the
/// CLI read); the built-in plan when absent.
#[derive(Clone, Debug, Default)]
pub struct PlanParams {
    /// `(name, TOML text)`.
    pub plan: Option<(String, String)>,
    /// Records after this instant are not used (a date means the end of that day; default now).
    pub as_of: Option<String>,
}

/// One enterprise on the whitelist: contract §8.2's fields.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanRowView {
    pub enterprise_id: String,
    pub name: String,
    pub tier: usize,
    pub tier_name: String,
    pub rank: usize,
    pub resume_date: String,
    pub employees: Option<i64>,
    pub local_worker_share: Option<f64>,
    pub annual_output_cny: Option<f64>,
    /// Employees (`employment`) whose §8.1 verdict for start date = the resume date is
    /// `office`.
    pub office_ready: u64,
}

/// A plan file as [`PlanParams::plan`] takes it: `(its path as given, its text)`. Only a regular
/// file of at most [`store::MAX_SETTINGS_BYTES`] is read (not a folder, device or pipe).
pub fn plan_file(path: &std::path::Path) -> Result<(String, String), EngineError> {
    let text = store::read_settings(path)
        .map_err(|e| EngineError::BadRequest(format!("{}: {e}", path.display())))?;
    Ok((path.display().to_string(), text))
}

fn read_plan(p: &Option<(String, String)>) -> Result<Plan, EngineError> {
    match p {
        None => Ok(Plan::built_in()),
        Some((origin, text)) => {
            Plan::parse(origin, text).map_err(|e| EngineError::BadRequest(e.to_string()))
        }
    }
}

impl Engine {
    /// The whitelist under `params`' plan (default the built-in one).
    pub async fn resume_plan(
        &self,
        caller: &Caller,
        params: &PlanParams,
    ) -> Result<Vec<PlanRowView>, EngineError> {
        let params = params.clone();
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let plan = read_plan(&params.plan)?;
            let zone = ctx.zone();
            let as_of = Timestamp(parse_as_of_instant(params.as_of.as_deref(), zone)?);
            let store = &ctx.snap.store;
            let scope = &ctx.caller.account.scope;
            let all = plan::enterprises(store).map_err(EngineError::internal)?;
            let placed = plan::order(&plan, &all);
            let ids: HashSet<&str> = placed
                .iter()
                .filter(|p| scope.covers_region(p.enterprise.region))
                .map(|p| p.enterprise.enterprise_id.as_str())
                .collect();
            let employment: Vec<(String, i64)> = decide::employment(store, &ids)
                .map_err(EngineError::internal)?
                .into_iter()
                .collect();
            let directory = ctx.snap.directory()?;
            let codes = ctx.code_engine();
            let rules = ctx.rules;
            let shown: Vec<plan::Placed> = placed
                .iter()
                .filter(|p| ids.contains(p.enterprise.enterprise_id.as_str()))
                .cloned()
                .collect();
            let ready = plan::office_ready(
                &shown,
                &employment,
                &|p| directory.contains(p),
                &|start| decide::code_day(start, as_of, zone),
                &|persons, day| decide::codes_on(&codes, rules, persons, day),
            );
            let value: Vec<PlanRowView> = shown
                .into_iter()
                .map(|p| PlanRowView {
                    office_ready: ready.get(&p.enterprise.enterprise_id).copied().unwrap_or(0),
                    tier_name: plan.tiers[p.tier - 1].name.clone(),
                    enterprise_id: p.enterprise.enterprise_id,
                    name: p.enterprise.name,
                    tier: p.tier,
                    rank: p.rank,
                    resume_date: p.resume_date.to_string(),
                    employees: p.enterprise.employees,
                    local_worker_share: p.enterprise.local_worker_share,
                    annual_output_cny: p.enterprise.annual_output_cny,
                })
                .collect();
            let n = value.len() as i64;
            Ok(Answer::new(value, n))
        });
        self.ask(caller, Action::ResumePlan, work).await
    }

    /// Which enterprises `other` places differently from `params`' plan, and why.
    pub async fn resume_plan_diff(
        &self,
        caller: &Caller,
        params: &PlanParams,
        other: (String, String),
    ) -> Result<Vec<Move>, EngineError> {
        let params = params.clone();
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let plan = read_plan(&params.plan)?;
            let other = read_plan(&Some(other))?;
            let scope = &ctx.caller.account.scope;
            let all = plan::enterprises(&ctx.snap.store).map_err(EngineError::internal)?;
            let moves: Vec<Move> = plan::diff(&plan, &other, &all)
                .into_iter()
                .filter(|m| {
                    all.iter()
                        .find(|e| e.enterprise_id == m.enterprise_id)
                        .is_some_and(|e| scope.covers_region(e.region))
                })
                .collect();
            let n = moves.len() as i64;
            Ok(Answer::new(moves, n))
        });
        self.ask(caller, Action::ResumePlan, work).await
    }
}
