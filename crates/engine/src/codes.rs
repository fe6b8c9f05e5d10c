//! Health codes through the boundary: one person's code (contract §4 JSON) and the codes of a
//! community's residents, with names and phones as the role may see them.

use model::Date;
use privacy::{Action, Denied, Role};
use rules::HealthCode;
use rules::evaluate::Detail;
use serde::Serialize;

use crate::ask::{Answer, Blocking, Ctx};
use crate::disclose::PersonView;
use crate::{Caller, Engine, EngineError, parse_as_of_date, parse_person};

/// Contract §4's JSON for one code, fields in the contract's order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CodeView {
    pub person_id: String,
    pub as_of: String,
    pub color: &'static str,
    pub reasons: Vec<ReasonView>,
    pub valid_until: Option<String>,
    /// `false` for someone with no row in `persons` (contract §8's `not_registered`), whose
    /// color comes from their records alone; absent for everyone registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReasonView {
    pub rule: String,
    pub detail: String,
    /// The color this reason gives (not in contract §4's JSON; the CLI's text shows it).
    #[serde(skip)]
    pub color: &'static str,
}

/// One resident's code in a community list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ResidentCode {
    #[serde(flatten)]
    pub person: PersonView,
    pub color: &'static str,
    /// Rule ids, sorted.
    pub rules: Vec<String>,
    pub valid_until: Option<String>,
}

/// `GET /communities/{id}/codes`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CommunityCodes {
    pub community: String,
    pub as_of: String,
    pub counts: ColorCounts,
    pub residents: Vec<ResidentCode>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ColorCounts {
    pub green: u64,
    pub yellow: u64,
    pub red: u64,
}

/// Roles without travel detail (community workers) see that someone met a case, not who or
/// where.
fn detail_level(role: Role) -> Detail {
    if privacy::sees_travel(role) {
        Detail::Full
    } else {
        Detail::Local
    }
}

pub(crate) fn code_of(
    ctx: &Ctx<'_>,
    person: i64,
    as_of: Date,
    view: &crate::View<'_>,
) -> HealthCode {
    // The overrides in force are applied (and listed as `override` reasons).
    ctx.code_engine().code_at(
        ctx.rules,
        person,
        as_of,
        &|p| view.masked_id(p),
        detail_level(ctx.caller.account.role),
    )
}

/// The answer for someone with no row in `persons` whom no record makes red or yellow: not
/// green, since nothing vouches for a person the store does not know (a mistyped number).
pub(crate) fn not_registered(view: &crate::View<'_>, person: i64) -> EngineError {
    EngineError::NotFound(format!(
        "{} is not registered (no row in persons: not_registered) and no record makes their code red or yellow; no code is given to an unknown person",
        view.masked_id(person)
    ))
}

/// Contract §4's JSON of `code`, the person shown as `view` may show them.
pub(crate) fn code_view(
    view: &crate::View<'_>,
    person: i64,
    code: &HealthCode,
    registered: bool,
) -> CodeView {
    CodeView {
        person_id: view.id(person),
        as_of: code.as_of.to_string(),
        color: code.color.as_str(),
        reasons: code
            .reasons
            .iter()
            .map(|r| ReasonView {
                rule: r.rule.clone(),
                detail: r.detail.clone(),
                color: r.color.as_str(),
            })
            .collect(),
        valid_until: code.valid_until.map(|d| d.to_string()),
        registered: (!registered).then_some(false),
    }
}

/// Refuses a person outside the caller's scope.
pub(crate) fn require_in_scope(
    view: &crate::View<'_>,
    person: i64,
    what: &str,
) -> Result<(), EngineError> {
    if view.in_scope(person) {
        Ok(())
    } else {
        Err(Denied::OutOfScope {
            what: what.to_string(),
            scope: view.scope_description(),
        }
        .into())
    }
}

impl Engine {
    /// One person's code as of the end of `as_of` (default today).
    pub async fn person_code(
        &self,
        caller: &Caller,
        person_id: &str,
        as_of: Option<&str>,
    ) -> Result<CodeView, EngineError> {
        let person_id = person_id.to_string();
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let id = parse_person(&person_id)?;
            let as_of = parse_as_of_date(as_of.as_deref(), ctx.zone())?;
            let p = ctx.keys.pseudonyms.pseudonym(id);
            let view = ctx.view()?;
            require_in_scope(&view, p, "this person")?;
            let code = code_of(ctx, p, as_of, &view);
            let registered = ctx.registered(p)?;
            if !registered && code.color == rules::Color::Green {
                return Err(not_registered(&view, p));
            }
            Ok(Answer::new(code_view(&view, p, &code, registered), 1))
        });
        self.ask(caller, Action::PersonCode, work).await
    }

    /// The codes of everyone living in a community, sorted by (shown) id.
    pub async fn community_codes(
        &self,
        caller: &Caller,
        community: &str,
        as_of: Option<&str>,
    ) -> Result<CommunityCodes, EngineError> {
        let community = community.trim().to_string();
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            if community.is_empty() || community.len() > 64 {
                return Err(EngineError::BadRequest("name a community id".into()));
            }
            let as_of = parse_as_of_date(as_of.as_deref(), ctx.zone())?;
            let view = ctx.view()?;
            let scope = &ctx.caller.account.scope;
            // A scoped account gets one refusal for a community outside its scope and for one
            // nobody lives in: which communities exist elsewhere is not its to learn.
            let refused = || -> EngineError {
                Denied::OutOfScope {
                    what: format!("community {}", crate::quoted(&community, 64)),
                    scope: view.scope_description(),
                }
                .into()
            };
            if let Some(c) = &scope.community
                && *c != community
            {
                return Err(refused());
            }
            let residents = view.directory()?.residents(&community);
            if residents.is_empty() {
                if !scope.is_everyone() {
                    return Err(refused());
                }
                return Err(EngineError::NotFound(format!(
                    "no resident of community {} is known",
                    crate::quoted(&community, 64)
                )));
            }
            // A region-scoped account sees a community within its region only.
            if residents.iter().any(|&p| !view.in_scope(p)) {
                return Err(refused());
            }
            let people = view.persons(&residents)?;
            let mut counts = ColorCounts::default();
            let mut out: Vec<ResidentCode> = residents
                .iter()
                .zip(people)
                .map(|(&p, person)| {
                    let code = code_of(ctx, p, as_of, &view);
                    match code.color {
                        rules::Color::Green => counts.green += 1,
                        rules::Color::Yellow => counts.yellow += 1,
                        rules::Color::Red => counts.red += 1,
                    }
                    let mut ids: Vec<String> =
                        code.reasons.iter().map(|r| r.rule.clone()).collect();
                    ids.sort();
                    ids.dedup();
                    ResidentCode {
                        person,
                        color: code.color.as_str(),
                        rules: ids,
                        valid_until: code.valid_until.map(|d| d.to_string()),
                    }
                })
                .collect();
            out.sort_by(|a, b| a.person.person_id.cmp(&b.person.person_id));
            let rows = out.len() as i64;
            let value = CommunityCodes {
                community,
                as_of: as_of.to_string(),
                counts,
                residents: out,
            };
            Ok(Answer::new(value, rows))
        });
        self.ask(caller, Action::CommunityCodes, work).await
    }
}
