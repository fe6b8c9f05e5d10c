//! Daily inflow through the boundary (contract §7): the one place its parameters are read, its
//! risk levels looked up and its rows shaped as JSON, for the CLI and the API alike; rows are
//! counts of persons, never identities, so analysts may ask, narrowed to the caller's region
//! (and a community worker to their community). Each question can also be answered by one SQL
//! statement over the stored tables (`query::inflow_sql`; [`InflowVia::Sql`]), on the embedded
//! DataFusion or, with `EngineOptions::cluster`, on a Ballista cluster: the same rows, through
//! the same `ask`, narrowed to the same scope.

use std::future::Future;

pub use inflow::InflowRow;
use inflow::{INFLOW_KINDS, InflowLevel, InflowQuery, OriginRisk, Period};
use model::{Date, Level, Region, Zone};
use privacy::{Action, Denied, Scope};
use rules::{RiskAreas, RiskLevel};
use serde::Serialize;
use store::Store;

use crate::ask::{Answer, Asking, Async};
use crate::{Caller, Engine, EngineError};

/// How inflow and the exposed list are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InflowVia {
    /// The `inflow` crate: one scan a table, arrivals counted in Rust.
    #[default]
    Scan,
    /// One SQL statement over the stored tables (`query::inflow_sql`, `query::exposed_sql`),
    /// run on the cluster when the engine has one (`EngineOptions::cluster`), else in process.
    Sql,
}

/// The longest period one request may cover.
pub const MAX_DAYS: u32 = 366;

/// What an inflow request asks, as given: the query parameters of `GET /inflow` (and, with
/// its own default period, `/inflow/roads`), and what `fangyi inflow` and `roads` convert
/// their flags into — defined once here.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct InflowParams {
    /// The last day counted (YYYY-MM-DD, or a time whose date is taken; default today).
    pub as_of: Option<String>,
    /// `province`, `prefecture` (default), `county` or `community` (community workers: only
    /// `community`).
    pub level: Option<String>,
    /// How many days ending on `as_of` (default 14, at most 366).
    pub days: Option<u32>,
    /// Only destinations this code covers.
    pub region: Option<String>,
}

/// What a cached answer was computed from: the snapshot and the request.
pub(crate) type CacheKey = (crate::Stamp, InflowLevel, Date, Date, Option<Region>);

/// The parsed request.
#[derive(Clone, Copy, Debug)]
pub struct InflowRequest {
    pub query: InflowQuery,
    /// Only destinations this code covers.
    pub within: Option<Region>,
}

impl InflowParams {
    pub fn parse(&self, zone: Zone) -> Result<InflowRequest, EngineError> {
        let bad = EngineError::BadRequest;
        let last = crate::parse_as_of_date(self.as_of.as_deref(), zone)?;
        let level = match self.level.as_deref().map(str::trim) {
            None | Some("") => InflowLevel::Prefecture,
            Some(s) => InflowLevel::parse(s).ok_or_else(|| {
                bad(format!(
                    "level {s}: expected province, prefecture, county or community"
                ))
            })?,
        };
        let days = self.days.unwrap_or(14);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(bad(format!("days {days}: between 1 and {MAX_DAYS}")));
        }
        let first = last.add_days(1 - days as i32);
        let period = Period::new(first, last).map_err(|e| bad(e.to_string()))?;
        let within = match self.region.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                Region::parse(s.as_bytes())
                    .map_err(|e| bad(format!("region {s}: {}", e.reason())))?,
            ),
        };
        Ok(InflowRequest {
            query: InflowQuery {
                level,
                period,
                top: 10,
            },
            within,
        })
    }
}

/// The most severe published level covering `origin` on `date`.
pub fn origin_risk(areas: &RiskAreas, origin: Region, date: Date) -> OriginRisk {
    let code = origin.code();
    if areas.covers(RiskLevel::High, code, date) {
        OriginRisk::High
    } else if areas.covers(RiskLevel::Medium, code, date) {
        OriginRisk::Medium
    } else if areas.covers(RiskLevel::Low, code, date) {
        OriginRisk::Low
    } else {
        OriginRisk::None
    }
}

/// The inflow rows of `store` (pseudonymised: nothing here needs an identity).
pub async fn daily(
    store: &Store,
    risk: &RiskAreas,
    request: InflowRequest,
) -> Result<Vec<InflowRow>, EngineError> {
    let q = query::Query::open_pseudonymised(store).map_err(EngineError::internal)?;
    let lookup = |origin: Region, date: Date| origin_risk(risk, origin, date);
    let mut rows = inflow::daily_inflow(&q, store.zone(), &lookup, request.query)
        .await
        .map_err(EngineError::internal)?;
    if let Some(within) = request.within {
        rows.retain(|r| within.covers(r.region));
    }
    Ok(rows)
}

/// The SQL statements' session over `store`'s stored tables: on the engine's cluster when it
/// has one, else embedded; `work` runs on the SQL runner's threads (known stacks, one pool).
/// Counts and pseudonyms only, so no key travels and no role's views are needed: the caller
/// narrows what comes back to its scope, as on the scan path.
async fn on_sql<T, F, Fut>(asking: &Asking, work: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce(query::Query, Store) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, query::QueryError>> + Send,
{
    let snap = asking.snapshot().await?;
    let engine = asking.engine();
    let runner = engine.sql_runner()?;
    let cluster = engine.inner.sql.cluster.clone();
    let store = snap.store.clone();
    let r = runner.clone();
    runner
        .spawn(async move {
            let q = crate::sql::bulk_session(cluster.as_deref(), &store, &r).await?;
            work(q, store)
                .await
                .map_err(|e| EngineError::Unavailable(format!("answering in SQL: {e}")))
        })
        .await
        .map_err(EngineError::internal)?
}

/// [`daily`] by one SQL statement ([`InflowVia::Sql`]): the same rows. The community level
/// needs every arriving person's stay, which the statement does not compute: refused.
async fn daily_sql(asking: &Asking, request: InflowRequest) -> Result<Vec<InflowRow>, EngineError> {
    let q = request.query;
    let level = match q.level {
        InflowLevel::Province => Level::Province,
        InflowLevel::Prefecture => Level::Prefecture,
        InflowLevel::County => Level::County,
        InflowLevel::Community => {
            return Err(EngineError::BadRequest(
                "inflow at the community level is computed in process only: leave out --via \
                 sql and --cluster (and FANGYI_CLUSTER)"
                    .into(),
            ));
        }
    };
    let (first, last, top) = (q.period.first(), q.period.last(), q.top);
    let rows = on_sql(asking, move |query, store| async move {
        query
            .inflow_rows(level, first, last, store.zone(), top)
            .await
    })
    .await?;
    let mut rows: Vec<InflowRow> = rows
        .into_iter()
        .map(|r| InflowRow {
            region: r.region,
            community: None,
            date: r.date,
            arrivals: r.arrivals,
            from_high_risk: r.from_high_risk,
            by_kind: r.by_kind,
            by_origin_risk: r.by_origin_risk,
            top_origins: r
                .top_origins
                .into_iter()
                .map(|(region, persons)| inflow::OriginCount { region, persons })
                .collect(),
        })
        .collect();
    if let Some(within) = request.within {
        rows.retain(|r| within.covers(r.region));
    }
    Ok(rows)
}

/// Everyone who arrived from a region `origin` covers in `period`, by one SQL statement
/// ([`InflowVia::Sql`]): `inflow::exposed`'s persons in its order.
pub(crate) async fn exposed_sql(
    asking: &Asking,
    origin: Region,
    period: Period,
) -> Result<Vec<inflow::ExposedPerson>, EngineError> {
    let (first, last) = (period.first(), period.last());
    let rows = on_sql(asking, move |query, store| async move {
        query.exposed_rows(origin, first, last, store.zone()).await
    })
    .await?;
    let mut out: Vec<inflow::ExposedPerson> = rows
        .into_iter()
        .map(|r| inflow::ExposedPerson {
            person: r.person,
            first_arrival: r.first_arrival,
            last_arrival: r.last_arrival,
            kinds: r.kinds,
            origins: r.origins,
            stay: inflow::Stay {
                region: r.stay_region,
                community: r.stay_community,
                source: match r.stay_source {
                    query::SqlStaySource::Registration => inflow::StaySource::Registration,
                    query::SqlStaySource::Home => inflow::StaySource::Home,
                    query::SqlStaySource::Unknown => inflow::StaySource::Unknown,
                },
            },
        })
        .collect();
    out.sort_by(|a, b| a.stay.cmp_place(&b.stay).then(a.person.cmp(&b.person)));
    Ok(out)
}

/// Distinct persons per arrival kind (contract §7's `by_kind`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ByKind {
    pub rail: u32,
    pub flight: u32,
    pub coach: u32,
    pub ship: u32,
    pub road: u32,
    pub registration: u32,
}

/// Persons from one origin prefecture.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct OriginView {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    pub persons: u32,
    /// persons / arrivals, rounded half up to 3 decimals.
    pub share: f64,
}

/// Each person once, at the most severe risk level of their origins that day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct ByRisk {
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub none: u32,
}

/// One inflow row: contract §7's shape, plus (with detail) the community, the region's name and
/// the origin-risk split.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct InflowView {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    /// At the community level: the community the persons stay in (absent: none known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    pub date: String,
    pub arrivals: u32,
    pub from_high_risk: u32,
    pub by_kind: ByKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_origin_risk: Option<ByRisk>,
    pub top_origins: Vec<OriginView>,
}

impl InflowView {
    /// The contract's shape (`detail: false`), or with names and the risk split.
    pub fn new(r: &InflowRow, detail: bool) -> InflowView {
        debug_assert_eq!(INFLOW_KINDS.len(), r.by_kind.len());
        let [rail, flight, coach, ship, road, registration] = r.by_kind;
        let [high, medium, low, none] = r.by_origin_risk;
        InflowView {
            region: r.region.to_string(),
            name: detail.then(|| r.region.place_name()).flatten(),
            community: r.community.clone(),
            date: r.date.to_string(),
            arrivals: r.arrivals,
            from_high_risk: r.from_high_risk,
            by_kind: ByKind {
                rail,
                flight,
                coach,
                ship,
                road,
                registration,
            },
            by_origin_risk: detail.then_some(ByRisk {
                high,
                medium,
                low,
                none,
            }),
            top_origins: r
                .top_origins
                .iter()
                .map(|o| OriginView {
                    region: o.region.to_string(),
                    name: detail.then(|| o.region.place_name()).flatten(),
                    persons: o.persons,
                    share: f64::from(r.share_millis(o.persons)) / 1000.0,
                })
                .collect(),
        }
    }
}

/// The part of the rows a scope may see: destinations within its region; a community scope
/// sees only the community level, and there only its own community.
fn within_scope<'r>(
    scope: &Scope,
    level: InflowLevel,
    rows: &'r [InflowRow],
) -> Result<Vec<&'r InflowRow>, Denied> {
    if let Some(c) = &scope.community
        && level != InflowLevel::Community
    {
        return Err(Denied::OutOfScope {
            what: format!("inflow at the {} level", level.as_str()),
            scope: format!("community {c} (ask for level=community)"),
        });
    }
    Ok(rows
        .iter()
        .filter(|r| {
            scope
                .community
                .as_deref()
                .is_none_or(|c| r.community.as_deref() == Some(c))
                && scope.covers_region(r.region)
        })
        .collect())
}

/// The day's inflow rows for `params` (kept per snapshot and request), narrowed to the caller's
/// scope.
async fn scoped_rows(
    asking: &Asking,
    params: &InflowParams,
    via: InflowVia,
) -> Result<(InflowRequest, Vec<InflowRow>), EngineError> {
    let snap = asking.snapshot().await?;
    let request = params.parse(snap.zone())?;
    let q = request.query;
    if via == InflowVia::Sql {
        // Not kept: a statement's answer is asked for to be computed (a check, a cluster).
        let all = daily_sql(asking, request).await?;
        let rows = within_scope(&asking.caller().account.scope, q.level, &all)?;
        return Ok((request, rows.into_iter().cloned().collect()));
    }
    let key = (
        snap.stamp,
        q.level,
        q.period.first(),
        q.period.last(),
        request.within,
    );
    let all = asking
        .engine()
        .inner
        .inflow_rows
        .get_or_try(key, async || daily(&snap.store, &snap.risk, request).await)
        .await?;
    let rows = within_scope(&asking.caller().account.scope, q.level, &all)?;
    Ok((request, rows.into_iter().cloned().collect()))
}

/// A count under a label, as shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CountView {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    pub persons: u32,
}

/// Expressway passes at one county's checkpoints on one day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct RoadView {
    pub region: String,
    pub name: Option<&'static str>,
    pub date: String,
    pub vehicles: u32,
    pub persons: u32,
    /// Occupants arriving (an origin the county does not cover, or none).
    pub arriving: u32,
    /// Origin prefectures.
    pub origins: Vec<CountView>,
    /// Destination counties.
    pub destinations: Vec<CountView>,
    /// Declared purposes.
    pub purposes: Vec<CountView>,
}

impl RoadView {
    pub fn new(r: &inflow::RoadRow) -> RoadView {
        let regions = |v: &[inflow::Counted<Region>]| -> Vec<CountView> {
            v.iter()
                .map(|c| CountView {
                    key: c.key.to_string(),
                    name: c.key.place_name(),
                    persons: c.persons,
                })
                .collect()
        };
        RoadView {
            region: r.region.to_string(),
            name: r.region.place_name(),
            date: r.date.to_string(),
            vehicles: r.vehicles,
            persons: r.persons,
            arriving: r.arriving,
            origins: regions(&r.origins),
            destinations: regions(&r.destinations),
            purposes: r
                .purposes
                .iter()
                .map(|c| CountView {
                    key: c.key.clone(),
                    name: None,
                    persons: c.persons,
                })
                .collect(),
        }
    }
}

/// The road rows of `store` for the request's period (its level is not used: rows are per
/// checkpoint county), narrowed to `within`.
pub async fn roads(
    store: &Store,
    request: InflowRequest,
) -> Result<Vec<inflow::RoadRow>, EngineError> {
    let q = query::Query::open_pseudonymised(store).map_err(EngineError::internal)?;
    let mut rows = inflow::road_flows(&q, store.zone(), request.query.period, 10)
        .await
        .map_err(EngineError::internal)?;
    if let Some(within) = request.within {
        rows.retain(|r| within.covers(r.region));
    }
    Ok(rows)
}

impl Engine {
    /// Daily inflow rows within the caller's scope (detail shape).
    pub async fn inflow(
        &self,
        caller: &Caller,
        params: &InflowParams,
    ) -> Result<Vec<InflowView>, EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let (_, rows) = scoped_rows(&asking, &params, InflowVia::Scan).await?;
            let value: Vec<InflowView> = rows.iter().map(|r| InflowView::new(r, true)).collect();
            let n = value.len() as i64;
            Ok(Answer::new(value, n))
        });
        self.ask(caller, Action::Inflow, work).await
    }

    /// The same rows as [`Engine::inflow`], as computed, with the request they answer (the
    /// command line prints them as a table or CSV).
    pub async fn inflow_rows(
        &self,
        caller: &Caller,
        params: &InflowParams,
    ) -> Result<(InflowRequest, Vec<InflowRow>), EngineError> {
        self.inflow_rows_via(caller, params, InflowVia::Scan).await
    }

    /// [`Engine::inflow_rows`] computed as `via` says (`fangyi inflow --via sql`, `--cluster`):
    /// the same rows, authorised, scoped and audited alike.
    pub async fn inflow_rows_via(
        &self,
        caller: &Caller,
        params: &InflowParams,
        via: InflowVia,
    ) -> Result<(InflowRequest, Vec<InflowRow>), EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let answer = scoped_rows(&asking, &params, via).await?;
            let n = answer.1.len() as i64;
            Ok(Answer::new(answer, n))
        });
        self.ask(caller, Action::Inflow, work).await
    }

    /// Checkpoint passes per county and day within the caller's region (counts only; a
    /// community worker's scope is a community, which road counts do not have).
    pub async fn roads(
        &self,
        caller: &Caller,
        params: &InflowParams,
    ) -> Result<Vec<RoadView>, EngineError> {
        Ok(self.roads_for(caller, params).await?.1)
    }

    /// [`Engine::roads`] with the request the rows answer (its period, for the command line's
    /// heading).
    pub async fn roads_for(
        &self,
        caller: &Caller,
        params: &InflowParams,
    ) -> Result<(InflowRequest, Vec<RoadView>), EngineError> {
        let params = params.clone();
        let work = Async(move |asking: Asking| async move {
            let scope = &asking.caller().account.scope;
            if let Some(c) = &scope.community {
                return Err(Denied::OutOfScope {
                    what: "road counts per county".into(),
                    scope: format!("community {c}"),
                }
                .into());
            }
            let snap = asking.snapshot().await?;
            let request = params.parse(snap.zone())?;
            let mut rows = roads(&snap.store, request).await?;
            rows.retain(|r| scope.covers_region(r.region));
            let value: Vec<RoadView> = rows.iter().map(RoadView::new).collect();
            let n = value.len() as i64;
            Ok(Answer::new((request, value), n))
        });
        self.ask(caller, Action::Inflow, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::returnees::ReturneesParams;
    use crate::test_city::{ingest_files, keys, person};
    use crate::{Account, EngineOptions};
    use privacy::{Purpose, Role};

    fn caller(
        role: Role,
        region: Option<u32>,
        community: Option<&str>,
        purpose: Purpose,
    ) -> Caller {
        let account = Account {
            name: format!("{role}-test"),
            role,
            scope: Scope {
                region: region.and_then(Region::new),
                community: community.map(str::to_string),
                person: None,
            },
        };
        Caller::new(account, purpose, "test")
    }

    /// Arrivals into Wenzhou (330302, two staying in community C1) and Hangzhou (330102) from
    /// Wuhan, a high-risk area, on 2020-01-22.
    fn city(dir: &std::path::Path) -> std::path::PathBuf {
        let (data, input) = (dir.join("data"), dir.join("in"));
        std::fs::create_dir_all(&input).unwrap();
        let header = "person_id,mode,service_no,service_date,car,seat,from_station,from_region,\
                      depart_time,to_station,to_region,arrive_time\n";
        let mut travel = header.to_string();
        for (i, to) in [(1, "330302"), (2, "330302"), (3, "330102"), (4, "330102")] {
            travel += &format!(
                "{},rail,G1,2020-01-22,,,,420106,2020-01-22T08:00:00+08:00,,{to},\
                 2020-01-22T12:00:00+08:00\n",
                person(330302, i)
            );
        }
        let registrations = format!(
            "person_id,arrival_date,from_region,stay_region,stay_community\n\
             {},2020-01-22,420100,330302,C1\n{},2020-01-22,420100,330302,C1\n",
            person(330302, 1),
            person(330302, 2)
        );
        let risk = "region,level,valid_from,valid_to\n420100,high,2020-01-20,\n";
        let files = [
            ("travel.csv", travel),
            ("registrations.csv", registrations),
            ("risk_areas.csv", risk.to_string()),
        ];
        let paths: Vec<_> = files
            .iter()
            .map(|(name, text)| {
                let p = input.join(name);
                std::fs::write(&p, text).unwrap();
                p
            })
            .collect();
        ingest_files(&data, &paths);
        data
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sql_path_gives_the_scan_rows_within_the_same_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let data = city(dir.path());
        let e = Engine::open(EngineOptions::new(&data), keys())
            .await
            .unwrap();
        let admin = caller(Role::Admin, None, None, Purpose::Analysis);
        let wenzhou = caller(Role::Epidemiologist, Some(330300), None, Purpose::Analysis);
        let worker = caller(
            Role::CommunityWorker,
            Some(330302),
            Some("C1"),
            Purpose::CommunityService,
        );
        for level in ["province", "prefecture", "county"] {
            let p = InflowParams {
                level: Some(level.into()),
                ..params("2020-01-23", None, Some(3))
            };
            for who in [&admin, &wenzhou] {
                let (_, scan) = e.inflow_rows_via(who, &p, InflowVia::Scan).await.unwrap();
                let (_, sql) = e.inflow_rows_via(who, &p, InflowVia::Sql).await.unwrap();
                assert_eq!(scan, sql, "{level} for {}", who.account.name);
                if who.account.scope.region.is_none() {
                    assert!(!sql.is_empty(), "{level}");
                }
            }
            // A community worker sees only its community's level, by either path.
            for via in [InflowVia::Scan, InflowVia::Sql] {
                let r = e.inflow_rows_via(&worker, &p, via).await;
                assert!(matches!(r, Err(EngineError::Denied(_))), "{r:?}");
            }
        }
        let (_, mine) = e
            .inflow_rows_via(
                &wenzhou,
                &params("2020-01-23", Some("county"), Some(3)),
                InflowVia::Sql,
            )
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].region.code(), mine[0].arrivals), (330302, 2));
        assert_eq!(mine[0].from_high_risk, 2);
        // The community level is the scan's alone: refused on the SQL path, plainly.
        let community = params("2020-01-23", Some("community"), Some(3));
        for who in [&admin, &worker] {
            let r = e.inflow_rows_via(who, &community, InflowVia::Sql).await;
            assert!(matches!(r, Err(EngineError::BadRequest(_))), "{r:?}");
        }
        assert_eq!(
            e.inflow_rows_via(&worker, &community, InflowVia::Scan)
                .await
                .unwrap()
                .1
                .len(),
            1
        );

        // The exposed list: the same persons either way, narrowed by where they stay.
        let exposed = ReturneesParams {
            region: "420100".into(),
            from: "2020-01-20".into(),
            to: "2020-01-23".into(),
            summary: None,
        };
        let responder = caller(Role::Epidemiologist, None, None, Purpose::OutbreakResponse);
        let worker = Caller {
            purpose: Purpose::CommunityService,
            ..worker.clone()
        };
        for who in [&responder, &worker] {
            let ids = |v: Vec<crate::returnees::ReturneeView>| {
                v.into_iter()
                    .map(|r| (r.person.person_id, r.stay_region, r.stay_community))
                    .collect::<Vec<_>>()
            };
            let scan = ids(e
                .returnees_via(who, &exposed, InflowVia::Scan)
                .await
                .unwrap());
            let sql = ids(e
                .returnees_via(who, &exposed, InflowVia::Sql)
                .await
                .unwrap());
            assert_eq!(scan, sql, "{}", who.account.name);
            let summary = |s: crate::returnees::ReturneesSummary| s.persons;
            assert_eq!(
                summary(
                    e.returnees_summary_via(who, &exposed, InflowVia::Scan)
                        .await
                        .unwrap()
                ),
                summary(
                    e.returnees_summary_via(who, &exposed, InflowVia::Sql)
                        .await
                        .unwrap()
                )
            );
        }
        let mine = e
            .returnees_via(&worker, &exposed, InflowVia::Sql)
            .await
            .unwrap();
        assert_eq!(mine.len(), 2);
    }

    fn params(as_of: &str, level: Option<&str>, days: Option<u32>) -> InflowParams {
        InflowParams {
            as_of: Some(as_of.into()),
            level: level.map(str::to_string),
            days,
            region: None,
        }
    }

    #[test]
    fn the_period_is_the_days_ending_on_as_of() {
        let r = params("2020-01-23", None, None).parse(Zone::CST).unwrap();
        assert_eq!(r.query.level, InflowLevel::Prefecture);
        assert_eq!(r.query.period.first().to_string(), "2020-01-10");
        assert_eq!(r.query.period.last().to_string(), "2020-01-23");
        let r = params("2020-01-23T20:00:00Z", Some("county"), Some(1))
            .parse(Zone::CST)
            .unwrap();
        assert_eq!(r.query.period.first().to_string(), "2020-01-24");
        assert_eq!(r.query.level, InflowLevel::County);
        for bad in [
            params("2020-01-23", Some("city"), None),
            params("2020-01-23", None, Some(0)),
            params("2020-01-23", None, Some(400)),
            params("2020-13-23", None, None),
            InflowParams {
                region: Some("33".into()),
                ..params("2020-01-23", None, None)
            },
        ] {
            assert!(matches!(
                bad.parse(Zone::CST),
                Err(EngineError::BadRequest(_))
            ));
        }
    }

    fn row(region: u32, community: Option<&str>) -> InflowRow {
        InflowRow {
            region: Region::new(region).unwrap(),
            community: community.map(str::to_string),
            date: "2020-01-22".parse().unwrap(),
            arrivals: 3,
            from_high_risk: 1,
            by_kind: [3, 0, 0, 0, 1, 0],
            by_origin_risk: [1, 0, 0, 2],
            top_origins: vec![inflow::OriginCount {
                region: Region::new(420100).unwrap(),
                persons: 1,
            }],
        }
    }

    #[test]
    fn the_contract_shape_has_no_extra_fields() {
        let v = serde_json::to_value(InflowView::new(&row(330100, None), false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"region": "330100", "date": "2020-01-22", "arrivals": 3,
                "from_high_risk": 1,
                "by_kind": {"rail": 3, "flight": 0, "coach": 0, "ship": 0, "road": 1, "registration": 0},
                "top_origins": [{"region": "420100", "persons": 1, "share": 0.333}]})
        );
        let v = serde_json::to_value(InflowView::new(&row(330100, None), true)).unwrap();
        assert_eq!(v["name"], "杭州市");
        assert_eq!(v["top_origins"][0]["name"], "武汉市");
        assert_eq!(v["by_origin_risk"]["none"], 2);
    }

    #[test]
    fn scopes_narrow_rows_to_their_region_and_community() {
        let all = || {
            vec![
                row(330300, None),
                row(330302, Some("C1")),
                row(330302, Some("C2")),
                row(330302, None),
                row(110105, Some("C1")),
            ]
        };
        let wenzhou = Scope {
            region: Some(Region::new(330300).unwrap()),
            community: None,
            person: None,
        };
        let rows = all();
        assert_eq!(
            within_scope(&wenzhou, InflowLevel::Community, &rows)
                .unwrap()
                .len(),
            4
        );
        let c1 = Scope {
            region: Some(Region::new(330302).unwrap()),
            community: Some("C1".into()),
            person: None,
        };
        let mine = within_scope(&c1, InflowLevel::Community, &rows).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].community.as_deref(), Some("C1"));
        assert!(matches!(
            within_scope(&c1, InflowLevel::County, &rows),
            Err(Denied::OutOfScope { .. })
        ));
        assert_eq!(
            within_scope(&Scope::default(), InflowLevel::County, &rows)
                .unwrap()
                .len(),
            5
        );
    }
}
