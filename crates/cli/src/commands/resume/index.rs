//! `fangyi resume index`: the power index of resumption (contract §8.3) as JSON, CSV or a
//! table, computed by the engine's one path for it.

use std::io::Write;

use clap::{Args, ValueEnum};
use engine::Purpose;
use engine::resume_power::{ResumeIndexParams, ResumeIndexView};

use crate::cli::TableFormat;
use crate::commands::{Globals, print_or_broken_pipe, table_format, thousands};
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct IndexArgs {
    /// The first day (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// The last day (YYYY-MM-DD; at most 366 days after --from).
    #[arg(long)]
    pub to: String,
    /// The regions enterprises are counted in (by their `region`, as contract §7 rolls it up).
    #[arg(long, value_enum, default_value_t = LevelArg::Prefecture)]
    pub level: LevelArg,
    /// One row per industry instead of `all`.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    /// The share of its baseline an enterprise must use to count as resumed (0 to 1).
    #[arg(long, default_value = "0.3")]
    pub theta: String,
    /// The baseline period, D0..D1 (default: October 1 to December 31 of the year before
    /// --from's).
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
pub enum LevelArg {
    Province,
    Prefecture,
    County,
}

impl LevelArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LevelArg::Province => "province",
            LevelArg::Prefecture => "prefecture",
            LevelArg::County => "county",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByArg {
    Industry,
}

pub fn run(g: &Globals, a: IndexArgs) -> anyhow::Result<()> {
    let params = ResumeIndexParams {
        from: a.from.clone(),
        to: Some(a.to.clone()),
        level: Some(a.level.as_str().to_string()),
        by: a.by.map(|_| "industry".to_string()),
        theta: Some(a.theta.clone()),
        baseline: a.baseline.clone(),
        region: a.region.clone(),
    };
    let mut words = format!(
        "fangyi resume index --from {} --to {} --level {} --theta {}",
        a.from.trim(),
        a.to.trim(),
        a.level.as_str(),
        a.theta.trim()
    );
    if a.by.is_some() {
        words.push_str(" --by industry");
    }
    if let Some(b) = &a.baseline {
        words.push_str(&format!(" --baseline {}", b.trim()));
    }
    if let Some(r) = &a.region {
        words.push_str(&format!(" --region {}", r.trim()));
    }
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::Analysis, &words);
    let rows = op.ask(op.engine().resume_index(&caller, &params))?;
    print_or_broken_pipe(|w| match table_format(a.format) {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&rows)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &rows),
        TableFormat::Table => write_table(w, &rows),
    })
}

const COLUMNS: [&str; 8] = [
    "region",
    "industry",
    "date",
    "indexed",
    "resumed",
    "firms_share",
    "power_share",
    "index",
];

fn write_csv(w: &mut dyn Write, rows: &[ResumeIndexView]) -> anyhow::Result<()> {
    writeln!(w, "{}", COLUMNS.join(","))?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{}",
            r.region,
            crate::commands::csv_field(&r.industry),
            r.date,
            r.indexed,
            r.resumed,
            r.firms_share,
            r.power_share,
            r.index
        )?;
    }
    Ok(())
}

fn write_table(w: &mut dyn Write, rows: &[ResumeIndexView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "Power index of resumption: {} row{}",
        thousands(rows.len() as u64),
        if rows.len() == 1 { "" } else { "s" }
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| crate::commands::display_width(&r.industry))
        .max()
        .unwrap_or(0)
        .max(8);
    writeln!(
        w,
        "\n{:<6}  {}  {:<10}  {:>9}  {:>9}  {:>6}  {:>6}  {:>6}",
        "region",
        crate::commands::pad("industry", width),
        "date",
        "indexed",
        "resumed",
        "firms",
        "power",
        "index"
    )?;
    for r in rows {
        writeln!(
            w,
            "{:<6}  {}  {:<10}  {:>9}  {:>9}  {:>6.4}  {:>6.4}  {:>6.2}",
            r.region,
            crate::commands::pad(&r.industry, width),
            r.date,
            thousands(r.indexed),
            thousands(r.resumed),
            r.firms_share,
            r.power_share,
            r.index
        )?;
    }
    Ok(())
}
