//! Contact tracing through the boundary: a case's contacts (contract §3 JSON, or CSV rows) for
//! those allowed to trace within their region, and the public co-travel self-check, which
//! answers with counts only.

use model::{Date, Timestamp};
use privacy::Action;
use serde::Serialize;
use trace::{CotravelQuery, TraceOut, Tracer, Via};

use crate::ask::{Answer, Blocking, Ctx};
use crate::codes::require_in_scope;
use crate::{Caller, Engine, EngineError, parse_as_of_instant, parse_person};

/// What the public self-check asks.
#[derive(Clone, Debug, Default)]
pub struct CotravelParams {
    pub mode: String,
    pub service: String,
    pub date: String,
    pub car: Option<String>,
    pub seat: Option<String>,
    pub as_of: Option<String>,
}

/// The self-check's answer: counts, never who or where they sat.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CotravelView {
    pub mode: &'static str,
    pub service_no: String,
    pub service_date: String,
    pub car: Option<String>,
    pub seat: Option<String>,
    pub as_of: String,
    pub case_aboard: bool,
    pub cases: u64,
    pub infectious: u64,
}

fn bad(e: impl std::fmt::Display) -> EngineError {
    EngineError::BadRequest(e.to_string())
}

/// Validates a self-check query the way the CLI does.
pub fn cotravel_query(p: &CotravelParams) -> Result<CotravelQuery, EngineError> {
    let via = Via::from_mode(&p.mode.trim().to_ascii_lowercase())
        .ok_or_else(|| bad(format!("mode {}: one of rail, flight, coach, ship", p.mode)))?;
    let service = model::field::token(model::field::trim(&p.service))
        .map_err(|e| bad(format!("service {}: {}", p.service, e.reason())))?
        .into_owned();
    let date = Date::parse(p.date.trim().as_bytes())
        .map_err(|e| bad(format!("date {}: {}", p.date, e.reason())))?;
    let car = match p.car.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) if via == Via::Rail => Some(
            model::field::car(model::field::trim(c))
                .map_err(|e| bad(format!("car {c}: {}", e.reason())))?
                .into_owned(),
        ),
        Some(_) => return Err(bad("car is for rail; give seat for a flight")),
        None => None,
    };
    let seat = match p.seat.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) if via == Via::Flight => Some(
            model::field::token(model::field::trim(s))
                .map_err(|e| bad(format!("seat {s}: {}", e.reason())))?
                .into_owned(),
        ),
        Some(_) => return Err(bad("seat is for flights; give car for a train")),
        None => None,
    };
    Ok(CotravelQuery {
        via,
        service,
        date,
        car,
        seat,
    })
}

impl Engine {
    /// Traces a case within the caller's scope and renders the answer with `render` (ids
    /// through the caller's view), returning it and its row count.
    async fn traced<T, R>(
        &self,
        caller: &Caller,
        case_id: &str,
        as_of: Option<&str>,
        depth: u8,
        render: R,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        R: FnOnce(&trace::Trace, &Tracer<'_>, &dyn Fn(i64) -> String) -> (T, i64) + Send + 'static,
    {
        let case_id = case_id.to_string();
        let as_of = as_of.map(str::to_string);
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let id = parse_person(&case_id)?;
            if !(1..=2).contains(&depth) {
                return Err(bad("depth is 1 or 2"));
            }
            let as_of = parse_as_of_instant(as_of.as_deref(), ctx.zone())?;
            let case = ctx.keys.pseudonyms.pseudonym(id);
            let view = ctx.view()?;
            require_in_scope(&view, case, "this person")?;
            let tracer = Tracer::new(&ctx.snap.index, ctx.zone());
            let t = tracer.trace(case, as_of, depth)?;
            let (value, rows) = render(&t, &tracer, &|p| view.id(p));
            Ok(Answer::new(value, rows))
        });
        self.ask(caller, Action::Trace, work).await
    }

    /// A case's close contacts, contract §3's JSON. The case must live within the caller's
    /// region; contacts outside it are shown masked.
    pub async fn contacts(
        &self,
        caller: &Caller,
        case_id: &str,
        as_of: Option<&str>,
        depth: u8,
    ) -> Result<TraceOut, EngineError> {
        self.traced(caller, case_id, as_of, depth, |t, tracer, show| {
            let out = TraceOut::new(t, tracer, show);
            let rows = out.contacts.len() as i64;
            (out, rows)
        })
        .await
    }

    /// The same contacts as CSV (`trace --all`'s columns), header first.
    pub async fn contacts_csv(
        &self,
        caller: &Caller,
        case_id: &str,
        as_of: Option<&str>,
        depth: u8,
    ) -> Result<String, EngineError> {
        self.traced(caller, case_id, as_of, depth, |t, tracer, show| {
            let rows = trace::contact_rows(t, tracer.zone(), show);
            let mut out = trace::ContactRow::HEADER.join(",");
            out.push('\n');
            for r in &rows {
                out.push_str(&r.csv_line());
                out.push('\n');
            }
            (out, rows.len() as i64)
        })
        .await
    }

    /// The public self-check: were cases aboard, and how many while infectious. No identity,
    /// no seat, nothing to audit.
    pub async fn cotravel(&self, p: CotravelParams) -> Result<CotravelView, EngineError> {
        let q = cotravel_query(&p)?;
        self.read(move |snap| {
            let zone = snap.zone();
            let as_of = parse_as_of_instant(p.as_of.as_deref(), zone)?;
            let tracer = Tracer::new(&snap.index, zone);
            let a = tracer.cotravel(&q, as_of);
            Ok(CotravelView {
                mode: q.via.as_str(),
                service_no: q.service.clone(),
                service_date: q.date.to_string(),
                car: q.car.clone(),
                seat: q.seat.clone(),
                as_of: Timestamp(as_of).to_rfc3339(zone),
                case_aboard: a.cases > 0,
                cases: a.cases,
                infectious: a.infectious,
            })
        })
        .await
    }
}
