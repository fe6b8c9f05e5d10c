//! Per-employee return decisions through the boundary (contract §8.1): which of an
//! application's employees may come to the office and when, for the CLI (`fangyi resume
//! decide`) and the API (`GET /resume/applications/{id}`) alike. The command centre sees the
//! reasons; an enterprise sees its own applications only, verdict and office date, with the ids
//! it submitted itself.

use model::{Date, Timestamp};
use privacy::Action;
use resume::decide::{self, Decided, Filter};
use serde::Serialize;

use crate::ask::{Answer, Blocking, Ctx};
use crate::{Caller, Engine, EngineError, parse_as_of_instant};

/// What a decision request asks: `fangyi resume decide`'s flags, the API's path and query.
#[derive(Clone, Debug, Default)]
pub struct DecideParams {
    /// One application only.
    pub application: Option<String>,
    /// Records after this instant are not used (a date means the end of that day; default
    /// now); applications submitted after it are left out.
    pub as_of: Option<String>,
}

/// One decided row: contract §8.1's object.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionView {
    pub application_id: String,
    pub enterprise_id: String,
    pub person_id: String,
    /// `not_registered`, `not_employee`, `not_allowed`, `office` or `quarantine`.
    pub verdict: &'static str,
    /// The first day the person may come to the office (YYYY-MM-DD), or null.
    pub office_date: Option<String>,
    /// For `quarantine` and `not_allowed`, the code's rule ids, sorted; always empty for an
    /// enterprise.
    pub reasons: Vec<String>,
}

/// One application's count of each verdict.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApplicationSummaryView {
    pub application_id: String,
    pub enterprise_id: String,
    pub rows: u64,
    pub not_registered: u64,
    pub not_employee: u64,
    pub not_allowed: u64,
    pub office: u64,
    pub quarantine: u64,
}

/// The decisions asked for: one summary per application and the rows, both sorted by
/// application (rows then by person).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecideAnswer {
    pub summary: Vec<ApplicationSummaryView>,
    pub rows: Vec<DecisionView>,
}

fn date_text(d: Option<Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// The enterprise whose own applications and openings are all an enterprise account may see;
/// `None` for the command centre's roles. An enterprise account naming none (a command line's
/// `--as-role enterprise`) sees nothing.
pub(crate) fn own_enterprise(account: &crate::Account) -> Result<Option<String>, EngineError> {
    match account.role {
        privacy::Role::Enterprise => match account.enterprise() {
            Some(e) => Ok(Some(e.to_string())),
            None => Err(privacy::Denied::OutOfScope {
                what: "any application or opening".into(),
                scope: "enterprise account (it names no enterprise)".into(),
            }
            .into()),
        },
        _ => Ok(None),
    }
}

/// Every decision the caller may see: all applications (or one) for the command centre, an
/// enterprise's own only.
pub(crate) fn decided(
    ctx: &Ctx<'_>,
    filter: Filter,
    as_of: Timestamp,
) -> Result<Vec<Decided>, EngineError> {
    let store = &ctx.snap.store;
    let zone = ctx.zone();
    let rows = decide::applications(store, as_of, &filter).map_err(EngineError::internal)?;
    let enterprises: std::collections::HashSet<&str> =
        rows.iter().map(|r| r.enterprise_id.as_str()).collect();
    let employment = decide::employment(store, &enterprises).map_err(EngineError::internal)?;
    let directory = ctx.snap.directory()?;
    let codes = ctx.code_engine();
    let rules = ctx.rules;
    Ok(decide::decide_rows(
        rows,
        &|p| directory.contains(p),
        &employment,
        as_of,
        zone,
        &|persons, day| decide::codes_on(&codes, rules, persons, day),
    ))
}

impl Engine {
    /// Contract §8.1's decisions for `params` (one application, or every one the caller may
    /// see), with a summary per application. Audited with every person shown.
    pub async fn resume_decide(
        &self,
        caller: &Caller,
        params: &DecideParams,
    ) -> Result<DecideAnswer, EngineError> {
        let params = params.clone();
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let as_of = Timestamp(parse_as_of_instant(params.as_of.as_deref(), ctx.zone())?);
            let enterprise = own_enterprise(&ctx.caller.account)?;
            let own = enterprise.is_some();
            let filter = Filter {
                application: params
                    .application
                    .as_deref()
                    .map(|a| a.trim().to_ascii_uppercase()),
                enterprise,
            };
            let one = filter.application.clone();
            let mut decided = decided(ctx, filter, as_of)?;
            let view = ctx.view()?;
            // An enterprise sees the verdict of its own employees only: anyone else it named
            // is `not_employee` to it, registered or not.
            let verdict = |d: &Decided| {
                if own {
                    d.verdict_for_enterprise()
                } else {
                    d.decision.verdict
                }
            };
            if !own {
                // A region's epidemiologist decides for the persons living there only: the
                // reasons are health facts.
                decided.retain(|d| view.in_scope(d.row.person));
            }
            if let Some(app) = one
                && decided.is_empty()
            {
                return Err(EngineError::NotFound(format!(
                    "no application {} (submitted by then{})",
                    crate::quoted(&app, 40),
                    if own { " by your enterprise" } else { "" }
                )));
            }
            let mut rows: Vec<DecisionView> = decided
                .iter()
                .map(|d| DecisionView {
                    application_id: d.row.application_id.clone(),
                    enterprise_id: d.row.enterprise_id.clone(),
                    // An enterprise named these persons itself: it sees them as it wrote them.
                    person_id: if own {
                        view.id_where(d.row.person, true)
                    } else {
                        view.id(d.row.person)
                    },
                    verdict: verdict(d).as_str(),
                    office_date: date_text(d.decision.office_date),
                    reasons: if own {
                        Vec::new()
                    } else {
                        d.decision.reasons.clone()
                    },
                })
                .collect();
            rows.sort_by(|a, b| {
                (&a.application_id, &a.person_id).cmp(&(&b.application_id, &b.person_id))
            });
            let summary = decide::summarise(decided.iter().map(|d| {
                (
                    d.row.application_id.as_str(),
                    d.row.enterprise_id.as_str(),
                    verdict(d),
                )
            }))
            .into_iter()
            .map(|s| ApplicationSummaryView {
                application_id: s.application_id,
                enterprise_id: s.enterprise_id,
                rows: s.rows,
                not_registered: s.not_registered,
                not_employee: s.not_employee,
                not_allowed: s.not_allowed,
                office: s.office,
                quarantine: s.quarantine,
            })
            .collect();
            let n = rows.len() as i64;
            Ok(Answer::new(DecideAnswer { summary, rows }, n))
        });
        self.ask(caller, Action::ResumeDecide, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_account_speaks_for_its_enterprise_in_the_stored_spelling() {
        let user = |community: &str| ops::User {
            name: "acme".into(),
            role: "enterprise".into(),
            region: None,
            community: Some(community.into()),
            created: 0,
            disabled: None,
            has_password: false,
        };
        for written in ["91330302ma0000001n", " 91330302MA0000001N "] {
            let account = crate::Account::from_user(&user(written)).unwrap();
            assert_eq!(
                own_enterprise(&account).unwrap().as_deref(),
                Some("91330302MA0000001N"),
                "{written:?}"
            );
        }
        assert!(crate::Account::from_user(&user("91330302MA0000001X")).is_err());
    }
}
