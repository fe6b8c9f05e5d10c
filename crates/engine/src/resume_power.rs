//! The power index of resumption and its forecasts through the boundary (contract §8.3): the
//! one place their parameters are read and their rows shaped, for the CLI and the API alike. Rows are counts and
//! shares of enterprises, never a person, so analysts may ask; each caller sees the regions
//! their scope covers.

use std::path::PathBuf;

use model::{Date, Kind, Level, Region, Zone};
use privacy::{Action, Denied};
use resume::forecast::{self, ForecastQuery, Method, SeriesForecast};
use resume::power::{self, IndexQuery, IndexRow, StoreSource, Theta};
use serde::Serialize;
use store::Store;

use crate::ask::{Answer, Blocking, Ctx};
use crate::recent::Recent;
use crate::{Caller, Engine, EngineError};

/// The files an answer of the power index was computed from (the power readings and the
/// enterprises, with their row counts), and the question.
type Key<Q> = (Vec<(PathBuf, u64)>, Q);

/// Recent answers of the power index and its forecasts. One answer at province scale reads
/// tens of millions of readings while the dashboard asks the same questions again and again;
/// the key is the list of files the index reads rather than the snapshot, so a flush of
/// residents' reports every few seconds does not make the dashboard's answers stale.
pub(crate) struct PowerAnswers {
    index: Recent<Key<IndexQuery>, Vec<IndexRow>>,
    forecast: Recent<Key<ForecastQuery>, Vec<SeriesForecast>>,
}

impl PowerAnswers {
    pub fn new() -> PowerAnswers {
        PowerAnswers {
            index: Recent::new(16),
            forecast: Recent::new(8),
        }
    }
}

fn power_files(store: &Store) -> Vec<(PathBuf, u64)> {
    [Kind::Power, Kind::Enterprises]
        .into_iter()
        .flat_map(|k| store.tables(k))
        .map(|f| (f.path().to_path_buf(), f.rows()))
        .collect()
}

fn power_error(e: power::PowerError) -> EngineError {
    match e {
        power::PowerError::Bad(m) => EngineError::BadRequest(m),
        e => EngineError::internal(e),
    }
}

impl Ctx<'_> {
    /// The power index's rows for `q` over this request's store, computed once per question
    /// while the power readings and enterprises stay the same files.
    fn power_index(&self, q: &IndexQuery) -> Result<std::sync::Arc<Vec<IndexRow>>, EngineError> {
        let key = (power_files(&self.snap.store), *q);
        self.engine.inner.power.index.get_or_compute(key, || {
            let source = StoreSource::new(&self.snap.store).map_err(EngineError::internal)?;
            power::power_index(&source, q).map_err(power_error)
        })
    }

    fn power_forecast(
        &self,
        q: &ForecastQuery,
    ) -> Result<std::sync::Arc<Vec<SeriesForecast>>, EngineError> {
        let key = (power_files(&self.snap.store), *q);
        self.engine.inner.power.forecast.get_or_compute(key, || {
            let source = StoreSource::new(&self.snap.store).map_err(EngineError::internal)?;
            forecast::power_forecast(&source, q).map_err(power_error)
        })
    }
}

/// What an index request asks, as given: the query parameters of `GET /resume/index`, and
/// what `fangyi resume index` converts its flags into.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ResumeIndexParams {
    /// The first day (YYYY-MM-DD).
    pub from: String,
    /// The last day (YYYY-MM-DD; default: `from`). At most 366 days.
    pub to: Option<String>,
    /// `province`, `prefecture` (default) or `county`.
    pub level: Option<String>,
    /// `industry` for one row per industry instead of `all`.
    pub by: Option<String>,
    /// The share of its baseline an enterprise must use to count as resumed (0–1, default 0.3).
    pub theta: Option<String>,
    /// The baseline period `D0..D1` (default: October 1 to December 31 of the year before
    /// `from`'s).
    pub baseline: Option<String>,
    /// Only regions this code covers.
    pub region: Option<String>,
}

/// The parsed request.
#[derive(Clone, Copy, Debug)]
pub struct ResumeIndexRequest {
    pub query: IndexQuery,
    pub within: Option<Region>,
}

fn date(what: &str, s: &str) -> Result<Date, EngineError> {
    Date::parse(s.trim().as_bytes())
        .map_err(|e| EngineError::BadRequest(format!("{what} {s}: {}", e.reason())))
}

impl ResumeIndexParams {
    pub fn parse(&self, _zone: Zone) -> Result<ResumeIndexRequest, EngineError> {
        let bad = EngineError::BadRequest;
        let from = date("from", &self.from)?;
        let to = match self.to.as_deref().map(str::trim) {
            None | Some("") => from,
            Some(s) => date("to", s)?,
        };
        let mut query = IndexQuery::new(from, to);
        if let Some(s) = self
            .level
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            query.level = Level::parse(s).ok_or_else(|| {
                bad(format!(
                    "level {s}: expected province, prefecture or county"
                ))
            })?;
        }
        match self.by.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("industry") => query.by_industry = true,
            Some(s) => return Err(bad(format!("by {s}: expected industry"))),
        }
        if let Some(s) = self.theta.as_deref().filter(|s| !s.trim().is_empty()) {
            query.theta = Theta::parse(s).map_err(bad)?;
        }
        if let Some(s) = self
            .baseline
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (a, b) = s
                .split_once("..")
                .ok_or_else(|| bad(format!("baseline {s}: expected D0..D1")))?;
            query.baseline = (date("baseline", a)?, date("baseline", b)?);
        }
        query
            .check()
            .map_err(|e| EngineError::BadRequest(e.to_string()))?;
        let within = match self.region.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                Region::parse(s.as_bytes())
                    .map_err(|e| bad(format!("region {s}: {}", e.reason())))?,
            ),
        };
        Ok(ResumeIndexRequest { query, within })
    }
}

/// One row: contract §8.3's shape.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResumeIndexView {
    pub region: String,
    /// The industry, or `all`.
    pub industry: String,
    pub date: String,
    /// Enterprises with a baseline above 0.
    pub indexed: u64,
    /// Those that used at least θ × their baseline that day.
    pub resumed: u64,
    /// resumed / indexed, rounded half up to 4 decimals.
    pub firms_share: f64,
    /// The resumed's kWh / the indexed's baselines, rounded half up to 4 decimals.
    pub power_share: f64,
    /// 100 × (½ power_share + ½ firms_share) from the unrounded shares, rounded half up to 2
    /// decimals.
    pub index: f64,
}

impl ResumeIndexView {
    pub fn new(r: &IndexRow) -> ResumeIndexView {
        ResumeIndexView {
            region: r.region.to_string(),
            industry: r.industry_name().to_string(),
            date: r.date.to_string(),
            indexed: r.indexed,
            resumed: r.resumed,
            firms_share: r.firms_share(),
            power_share: r.power_share(),
            index: r.index(),
        }
    }
}

impl Engine {
    /// The power index's rows for `params`, the regions the caller's scope covers only.
    pub async fn resume_index(
        &self,
        caller: &Caller,
        params: &ResumeIndexParams,
    ) -> Result<Vec<ResumeIndexView>, EngineError> {
        let params = params.clone();
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let scope = &ctx.caller.account.scope;
            if let Some(c) = &scope.community {
                return Err(Denied::OutOfScope {
                    what: "the power index per region".into(),
                    scope: format!("community {c}"),
                }
                .into());
            }
            let request = params.parse(ctx.zone())?;
            let rows = ctx.power_index(&request.query)?;
            let value: Vec<ResumeIndexView> = rows
                .iter()
                .filter(|r| {
                    scope.covers_region(r.region)
                        && request.within.is_none_or(|w| w.covers(r.region))
                })
                .map(ResumeIndexView::new)
                .collect();
            let n = value.len() as i64;
            Ok(Answer::new(value, n))
        });
        self.ask(caller, Action::ResumeIndex, work).await
    }
}

/// What a forecast request asks: the query parameters of `GET /resume/forecast`, and what
/// `fangyi resume forecast` converts its flags into.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ResumeForecastParams {
    /// The last day whose data is used (YYYY-MM-DD).
    pub as_of: String,
    /// Days forecast after it (default 7, at most 60).
    pub days: Option<u32>,
    /// `province` (default), `prefecture` or `county`.
    pub level: Option<String>,
    /// `industry` for one series per industry instead of `all`.
    pub by: Option<String>,
    /// θ of the index (default 0.3).
    pub theta: Option<String>,
    /// The index's baseline period `D0..D1` (default: October 1 to December 31 of the year
    /// before `as_of`'s).
    pub baseline: Option<String>,
    /// Days of index up to `as_of` the forecast reads and backtests (default 60).
    pub history: Option<u32>,
    /// `weekly` (default), `drift`, `festival` or `naive`.
    pub method: Option<String>,
    /// Only regions this code covers.
    pub region: Option<String>,
}

impl ResumeForecastParams {
    pub fn parse(&self, zone: Zone) -> Result<(ForecastQuery, Option<Region>), EngineError> {
        let bad = EngineError::BadRequest;
        let as_of = date("as_of", &self.as_of)?;
        let index = ResumeIndexParams {
            from: self.as_of.clone(),
            to: None,
            level: Some(self.level.clone().unwrap_or_else(|| "province".into())),
            by: self.by.clone(),
            theta: self.theta.clone(),
            baseline: self.baseline.clone(),
            region: self.region.clone(),
        }
        .parse(zone)?;
        let mut q = ForecastQuery::new(as_of);
        q.index = index.query;
        q.days = self.days.unwrap_or(7) as usize;
        q.history = self.history.unwrap_or(60) as usize;
        if let Some(m) = self.method.as_deref().filter(|m| !m.trim().is_empty()) {
            q.method = Method::parse(m).ok_or_else(|| {
                bad(format!(
                    "method {m}: expected weekly, drift, festival or naive"
                ))
            })?;
        }
        Ok((q, index.within))
    }
}

/// A method's backtest on the series' own history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestView {
    /// Forecast origins scored (each with its following days known).
    pub origins: usize,
    /// Mean absolute error of the method, and of "same as the last day", on the same points.
    pub mae: f64,
    pub naive_mae: f64,
    /// Mean absolute scaled error: mae / naive_mae (below 1 beats the last day; absent when
    /// the last day made no error).
    pub mase: Option<f64>,
}

/// One forecast day with its 80 % interval.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForecastPointView {
    pub date: String,
    pub index: f64,
    pub low: f64,
    pub high: f64,
}

/// One series' forecast.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResumeForecastView {
    pub region: String,
    /// The industry, or `all`.
    pub industry: String,
    pub as_of: String,
    pub method: &'static str,
    pub backtest: BacktestView,
    pub forecast: Vec<ForecastPointView>,
}

fn round(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

impl Engine {
    /// Forecasts of the power index per region (and industry) the caller's scope covers.
    pub async fn resume_forecast(
        &self,
        caller: &Caller,
        params: &ResumeForecastParams,
    ) -> Result<Vec<ResumeForecastView>, EngineError> {
        let params = params.clone();
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let scope = &ctx.caller.account.scope;
            if let Some(c) = &scope.community {
                return Err(Denied::OutOfScope {
                    what: "the power index per region".into(),
                    scope: format!("community {c}"),
                }
                .into());
            }
            let (q, within) = params.parse(ctx.zone())?;
            let series = ctx.power_forecast(&q)?;
            let value: Vec<ResumeForecastView> = series
                .iter()
                .filter(|s| {
                    scope.covers_region(s.region) && within.is_none_or(|w| w.covers(s.region))
                })
                .map(|s| ResumeForecastView {
                    region: s.region.to_string(),
                    industry: s.industry.clone().unwrap_or_else(|| "all".into()),
                    as_of: q.as_of.to_string(),
                    method: q.method.as_str(),
                    backtest: BacktestView {
                        origins: s.backtest.origins,
                        mae: round(s.backtest.mae, 3),
                        naive_mae: round(s.backtest.naive_mae, 3),
                        mase: s.backtest.mase.map(|m| round(m, 3)),
                    },
                    forecast: s
                        .points
                        .iter()
                        .map(|p| ForecastPointView {
                            date: p.date.to_string(),
                            index: p.index,
                            low: p.low,
                            high: p.high,
                        })
                        .collect(),
                })
                .collect();
            let n = value.len() as i64;
            Ok(Answer::new(value, n))
        });
        self.ask(caller, Action::ResumeIndex, work).await
    }
}
