//! Forecasts of the power index (contract §8.3): per series (a region and industry), the next N
//! days from the days up to the as-of day, with an interval, and the method's own backtest
//! error as MASE against "same as the last day".
//!
//! The methods are a few lines each, chosen by measurement on the generator's data (README,
//! "Work resumption"): `naive` (the last day's value), `festival` (the last value moved as last
//! year's index moved over the same lunar-calendar days: the Spring-Festival-aligned baseline),
//! `drift` (the last week's average daily change continued) and `weekly` (the same weekday a
//! week before plus the last week's change — the default: power use has a weekly rhythm once
//! enterprises work, and during a restart the level climbs week on week).

use std::collections::BTreeMap;

use model::{Date, Region};

use crate::power::{self, IndexQuery, PowerError, PowerSource};

/// Days between a day and its lunar-calendar twin a year before (2020's Spring Festival,
/// January 25, was 354 days after 2019's, February 5).
pub const LUNAR_YEAR: i32 = 354;

/// The forecasting methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Naive,
    Festival,
    Drift,
    Weekly,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Naive,
        Method::Festival,
        Method::Drift,
        Method::Weekly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Naive => "naive",
            Method::Festival => "festival",
            Method::Drift => "drift",
            Method::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s.trim())
    }
}

/// One series: the index on consecutive days ending on the as-of day, and (for `festival`) last
/// year's index on the lunar-calendar twins of the same days and of the days forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The first day of `values`.
    pub first: Date,
    /// The index per day (`None`: the series had no indexed enterprise that day).
    pub values: Vec<Option<f64>>,
    /// Last year's index on the twins of `first..` and on as many days after as forecast.
    pub last_year: Vec<Option<f64>>,
}

/// The forecast of `h` days after the last value of `y[..=t]` by `method`.
fn point(method: Method, s: &Series, t: usize, h: usize) -> Option<f64> {
    let y = |i: usize| s.values.get(i).copied().flatten();
    let now = y(t)?;
    match method {
        Method::Naive => Some(now),
        Method::Festival => {
            let ly = |i: usize| s.last_year.get(i).copied().flatten();
            Some(now + ly(t + h)? - ly(t)?)
        }
        Method::Drift => {
            let k = 7.min(t);
            if k == 0 {
                return Some(now);
            }
            Some(now + (now - y(t - k)?) / k as f64 * h as f64)
        }
        Method::Weekly => {
            if t < 7 {
                return Some(now);
            }
            // The same weekday in the last week we know, plus the last week's change.
            let back = (t + h - 7 * h.div_ceil(7)).min(t);
            let weeks = h.div_ceil(7) as f64;
            Some(y(back)? + weeks * (now - y(t - 7)?))
        }
    }
    .map(|v| v.max(0.0))
}

/// A method's backtest on a series: forecasts from every origin whose `days` following days
/// are known, each scored against what came.
#[derive(Clone, Debug, PartialEq)]
pub struct Backtest {
    pub method: Method,
    /// Origins scored.
    pub origins: usize,
    /// Mean absolute error of the method, and of "same as the last day", over the same points.
    pub mae: f64,
    pub naive_mae: f64,
    /// mae / naive_mae (`None` when the naive forecast made no error at all).
    pub mase: Option<f64>,
    /// Per horizon 1..=days: the 10th and 90th percentiles of actual − forecast.
    pub spread: Vec<(f64, f64)>,
}

/// Backtests `method` on `s` over the origins of its last `window` days that have `days` known
/// days after them.
pub fn backtest(method: Method, s: &Series, days: usize, window: usize) -> Backtest {
    let n = s.values.len();
    let last_origin = n.saturating_sub(days + 1);
    let first_origin = n.saturating_sub(window + days).min(last_origin);
    let (mut err, mut naive, mut points) = (0.0, 0.0, 0usize);
    let mut by_h: Vec<Vec<f64>> = vec![Vec::new(); days];
    let mut origins = 0;
    if n > days {
        for t in first_origin..=last_origin {
            let mut scored = false;
            for h in 1..=days {
                let (Some(actual), Some(f), Some(nf)) = (
                    s.values[t + h],
                    point(method, s, t, h),
                    point(Method::Naive, s, t, h),
                ) else {
                    continue;
                };
                err += (actual - f).abs();
                naive += (actual - nf).abs();
                points += 1;
                by_h[h - 1].push(actual - f);
                scored = true;
            }
            origins += usize::from(scored);
        }
    }
    let mae = if points > 0 { err / points as f64 } else { 0.0 };
    let naive_mae = if points > 0 {
        naive / points as f64
    } else {
        0.0
    };
    let spread = by_h
        .into_iter()
        .map(|mut e| {
            if e.is_empty() {
                return (0.0, 0.0);
            }
            e.sort_by(f64::total_cmp);
            (quantile(&e, 0.1), quantile(&e, 0.9))
        })
        .collect();
    Backtest {
        method,
        origins,
        mae,
        naive_mae,
        mase: (naive_mae > 0.0).then(|| mae / naive_mae),
        spread,
    }
}

/// The `q` quantile of sorted values, by linear interpolation.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// One forecast day.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub date: Date,
    pub index: f64,
    /// An 80 % interval: the forecast moved by the backtest's 10th and 90th percentile errors at
    /// that horizon, never below 0.
    pub low: f64,
    pub high: f64,
}

/// The next `days` days of `s` by `method`, with the method's backtest over the last `window`
/// days.
pub fn forecast(method: Method, s: &Series, days: usize, window: usize) -> (Vec<Point>, Backtest) {
    let bt = backtest(method, s, days, window);
    let mut out = Vec::new();
    let t = s.values.len().saturating_sub(1);
    for h in 1..=days {
        let Some(f) = point(method, s, t, h) else {
            continue;
        };
        let (lo, hi) = bt.spread.get(h - 1).copied().unwrap_or((0.0, 0.0));
        let round = |v: f64| (v.max(0.0) * 100.0).round() / 100.0;
        out.push(Point {
            date: s.first.add_days((t + h) as i32),
            index: round(f),
            low: round((f + lo).min(f)),
            high: round((f + hi).max(f)),
        });
    }
    (out, bt)
}

/// What a forecast is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForecastQuery {
    /// The last day whose data is used.
    pub as_of: Date,
    /// Days forecast after it.
    pub days: usize,
    /// Days of index up to `as_of` the methods read and the backtest scores (at most 366).
    pub history: usize,
    /// The series: region level, by industry or not, θ, and the baseline period (its default
    /// is the one of `as_of`'s year, for last year's twins too).
    pub index: IndexQuery,
    pub method: Method,
}

impl ForecastQuery {
    /// The defaults for `as_of`: 7 days ahead, 60 days of history, province level, `weekly`.
    pub fn new(as_of: Date) -> ForecastQuery {
        let mut index = IndexQuery::new(as_of, as_of);
        index.level = model::Level::Province;
        ForecastQuery {
            as_of,
            days: 7,
            history: 60,
            index,
            method: Method::Weekly,
        }
    }
}

/// One series' forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesForecast {
    pub region: Region,
    /// `None`: all industries.
    pub industry: Option<String>,
    pub points: Vec<Point>,
    pub backtest: Backtest,
}

/// The forecasts of every series (region at the level, industry or all) that has an index on
/// the as-of day, sorted by region and industry.
pub fn power_forecast(
    source: &impl PowerSource,
    q: &ForecastQuery,
) -> Result<Vec<SeriesForecast>, PowerError> {
    if !(1..=60).contains(&q.days) {
        return Err(PowerError::Bad(format!(
            "days {}: between 1 and 60",
            q.days
        )));
    }
    if q.history < 2 || q.history + q.days > power::MAX_DAYS as usize {
        return Err(PowerError::Bad(format!(
            "history {}: between 2 and {} days with the days forecast",
            q.history,
            power::MAX_DAYS as usize - q.days
        )));
    }
    let first = q.as_of.add_days(1 - q.history as i32);
    let mut this = q.index;
    (this.from, this.to) = (first, q.as_of);
    let mut last = q.index;
    (last.from, last.to) = (
        first.add_days(-LUNAR_YEAR),
        q.as_of.add_days(q.days as i32 - LUNAR_YEAR),
    );
    let by_series = |rows: Vec<power::IndexRow>, start: Date, len: usize| {
        let mut m: BTreeMap<(Region, Option<String>), Vec<Option<f64>>> = BTreeMap::new();
        for r in rows {
            let at = (r.date.days() - start.days()) as usize;
            let v = m
                .entry((r.region, r.industry.clone()))
                .or_insert_with(|| vec![None; len]);
            v[at] = Some(r.index());
        }
        m
    };
    let now = by_series(power::power_index(source, &this)?, this.from, q.history);
    let mut before = by_series(
        power::power_index(source, &last)?,
        last.from,
        q.history + q.days,
    );
    let mut out = Vec::new();
    for ((region, industry), values) in now {
        if values.last().copied().flatten().is_none() {
            continue;
        }
        let last_year = before
            .remove(&(region, industry.clone()))
            .unwrap_or_default();
        let s = Series {
            first,
            values,
            last_year,
        };
        let (points, backtest) = forecast(q.method, &s, q.days, q.history);
        out.push(SeriesForecast {
            region,
            industry,
            points,
            backtest,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Series {
        Series {
            first: Date::from_ymd(2020, 2, 1).unwrap(),
            values: values.iter().map(|v| Some(*v)).collect(),
            last_year: Vec::new(),
        }
    }

    #[test]
    fn naive_scores_one_and_a_line_is_drift() {
        let line: Vec<f64> = (0..30).map(|i| 10.0 + 2.0 * i as f64).collect();
        let s = series(&line);
        let naive = backtest(Method::Naive, &s, 7, 14);
        assert_eq!(naive.mase, Some(1.0));
        let drift = backtest(Method::Drift, &s, 7, 14);
        assert!(drift.mae < 1e-9, "{drift:?}");
        assert_eq!(drift.mase, Some(0.0));
        let (points, _) = forecast(Method::Drift, &s, 3, 14);
        assert_eq!(
            points.iter().map(|p| p.index).collect::<Vec<_>>(),
            [70.0, 72.0, 74.0]
        );
        assert_eq!(points[0].date.to_string(), "2020-03-02");
    }

    #[test]
    fn weekly_repeats_a_week_and_adds_its_change() {
        // A weekly pattern (weekends at 60 %) on a level rising 7 a week.
        let y: Vec<f64> = (0..35)
            .map(|i| {
                let level = 20.0 + i as f64;
                if i % 7 >= 5 { level * 0.6 } else { level }
            })
            .collect();
        let s = series(&y);
        let weekly = backtest(Method::Weekly, &s, 7, 14);
        let naive = backtest(Method::Naive, &s, 7, 14);
        assert!(weekly.mae < naive.mae, "{weekly:?} {naive:?}");
        assert!(weekly.mase.unwrap() < 1.0);
    }

    #[test]
    fn festival_follows_last_years_moves() {
        let mut s = series(&[10.0, 10.0, 10.0]);
        s.last_year = vec![Some(50.0), Some(50.0), Some(50.0), Some(60.0), Some(80.0)];
        let (points, _) = forecast(Method::Festival, &s, 2, 7);
        assert_eq!(
            points.iter().map(|p| p.index).collect::<Vec<_>>(),
            [20.0, 40.0]
        );
        assert_eq!(Method::parse("festival"), Some(Method::Festival));
    }
}
