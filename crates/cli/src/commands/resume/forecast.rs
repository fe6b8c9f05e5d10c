//! `fangyi resume forecast`: the power index for the next days per region (and industry), with
//! an interval and the method's backtest error, computed by the engine's one path for it.

use std::io::Write;

use clap::{Args, ValueEnum};
use engine::Purpose;
use engine::resume_power::{ResumeForecastParams, ResumeForecastView};

use crate::cli::TableFormat;
use crate::commands::resume::index::{ByArg, LevelArg};
use crate::commands::{Globals, print_or_broken_pipe, table_format};
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct ForecastArgs {
    /// The last day whose data is used (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: String,
    /// Days forecast after --as-of (at most 60).
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// The regions of the series.
    #[arg(long, value_enum, default_value_t = LevelArg::Province)]
    pub level: LevelArg,
    /// One series per industry instead of `all`.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    /// Days of index up to --as-of the forecast reads and backtests.
    #[arg(long, default_value_t = 60)]
    pub history: u32,
    /// The method (weekly: the same weekday a week before plus the last week's change; drift:
    /// the last week's daily change continued; festival: last year's moves over the same
    /// lunar-calendar days; naive: the last day).
    #[arg(long, value_enum, default_value_t = MethodArg::Weekly)]
    pub method: MethodArg,
    /// θ of the index.
    #[arg(long, default_value = "0.3")]
    pub theta: String,
    /// The index's baseline period, D0..D1 (default: October 1 to December 31 of the year
    /// before --as-of's).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Only regions this code covers.
    #[arg(long)]
    pub region: Option<String>,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    Weekly,
    Drift,
    Festival,
    Naive,
}

impl MethodArg {
    fn as_str(self) -> &'static str {
        match self {
            MethodArg::Weekly => "weekly",
            MethodArg::Drift => "drift",
            MethodArg::Festival => "festival",
            MethodArg::Naive => "naive",
        }
    }
}

pub fn run(g: &Globals, a: ForecastArgs) -> anyhow::Result<()> {
    let params = ResumeForecastParams {
        as_of: a.as_of.clone(),
        days: Some(a.days),
        level: Some(a.level.as_str().to_string()),
        by: a.by.map(|_| "industry".to_string()),
        theta: Some(a.theta.clone()),
        baseline: a.baseline.clone(),
        history: Some(a.history),
        method: Some(a.method.as_str().to_string()),
        region: a.region.clone(),
    };
    let mut words = format!(
        "fangyi resume forecast --as-of {} --days {} --level {} --history {} --method {}",
        a.as_of.trim(),
        a.days,
        a.level.as_str(),
        a.history,
        a.method.as_str()
    );
    if a.by.is_some() {
        words.push_str(" --by industry");
    }
    if let Some(r) = &a.region {
        words.push_str(&format!(" --region {}", r.trim()));
    }
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::Analysis, &words);
    let series = op.ask(op.engine().resume_forecast(&caller, &params))?;
    print_or_broken_pipe(|w| match table_format(a.format) {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&series)?)?;
            Ok(())
        }
        TableFormat::Csv => {
            writeln!(w, "region,industry,as_of,method,mase,date,index,low,high")?;
            for s in &series {
                for p in &s.forecast {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{}",
                        s.region,
                        crate::commands::csv_field(&s.industry),
                        s.as_of,
                        s.method,
                        s.backtest.mase.map_or(String::new(), |m| m.to_string()),
                        p.date,
                        p.index,
                        p.low,
                        p.high
                    )?;
                }
            }
            Ok(())
        }
        TableFormat::Table => write_table(w, &series),
    })
}

fn write_table(w: &mut dyn Write, series: &[ResumeForecastView]) -> anyhow::Result<()> {
    for s in series {
        writeln!(
            w,
            "{} {}: {} forecast from {}, backtest MASE {} over {} origins",
            s.region,
            s.industry,
            s.method,
            s.as_of,
            s.backtest
                .mase
                .map_or("-".to_string(), |m| format!("{m:.3}")),
            s.backtest.origins
        )?;
        for p in &s.forecast {
            writeln!(
                w,
                "  {}  {:>6.2}  [{:>6.2}, {:>6.2}]",
                p.date, p.index, p.low, p.high
            )?;
        }
    }
    Ok(())
}
