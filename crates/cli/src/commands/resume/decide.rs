//! `fangyi resume decide`: contract §8.1's per-employee decisions (or, with `--summary`, one
//! count of each verdict per application) as JSON, CSV or a table, from the engine's one path
//! for them.

use std::io::Write;

use clap::Args;
use engine::Purpose;
use engine::resume_decide::{ApplicationSummaryView, DecideParams, DecisionView};

use crate::cli::TableFormat;
use crate::commands::{Globals, csv_field, print_or_broken_pipe, table_format, thousands};
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct DecideArgs {
    /// One application only.
    #[arg(long)]
    pub application: Option<String>,
    /// Records after this instant are not used, nor applications submitted after it (a date
    /// means the end of that day; default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// One object per application with the count of each verdict instead of the rows.
    #[arg(long)]
    pub summary: bool,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

pub fn run(g: &Globals, a: DecideArgs) -> anyhow::Result<()> {
    let params = DecideParams {
        application: a.application.clone(),
        as_of: a.as_of.clone(),
    };
    let mut words = "fangyi resume decide".to_string();
    if let Some(x) = &a.application {
        words.push_str(&format!(" --application {}", x.trim()));
    }
    if let Some(x) = &a.as_of {
        words.push_str(&format!(" --as-of {}", x.trim()));
    }
    if a.summary {
        words.push_str(" --summary");
    }
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::WorkResumption, &words);
    let answer = op.ask(op.engine().resume_decide(&caller, &params))?;
    print_or_broken_pipe(|w| match (table_format(a.format), a.summary) {
        (TableFormat::Json, false) => {
            writeln!(w, "{}", serde_json::to_string(&answer.rows)?)?;
            Ok(())
        }
        (TableFormat::Json, true) => {
            writeln!(w, "{}", serde_json::to_string(&answer.summary)?)?;
            Ok(())
        }
        (TableFormat::Csv, false) => rows_csv(w, &answer.rows),
        (TableFormat::Csv, true) => summary_csv(w, &answer.summary),
        (TableFormat::Table, false) => rows_table(w, &answer.rows),
        (TableFormat::Table, true) => summary_table(w, &answer.summary),
    })
}

fn rows_csv(w: &mut dyn Write, rows: &[DecisionView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "application_id,enterprise_id,person_id,verdict,office_date,reasons"
    )?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{}",
            csv_field(&r.application_id),
            r.enterprise_id,
            r.person_id,
            r.verdict,
            r.office_date.as_deref().unwrap_or(""),
            r.reasons.join(";")
        )?;
    }
    Ok(())
}

fn summary_csv(w: &mut dyn Write, rows: &[ApplicationSummaryView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "application_id,enterprise_id,rows,not_registered,not_employee,not_allowed,office,quarantine"
    )?;
    for s in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{}",
            csv_field(&s.application_id),
            s.enterprise_id,
            s.rows,
            s.not_registered,
            s.not_employee,
            s.not_allowed,
            s.office,
            s.quarantine
        )?;
    }
    Ok(())
}

fn rows_table(w: &mut dyn Write, rows: &[DecisionView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "Decisions: {} row{}",
        thousands(rows.len() as u64),
        plural(rows.len())
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let app = rows
        .iter()
        .map(|r| r.application_id.len())
        .max()
        .unwrap_or(0)
        .max(11);
    writeln!(
        w,
        "\n{:<app$}  {:<18}  {:<18}  {:<14}  {:<10}  reasons",
        "application", "enterprise", "person", "verdict", "office"
    )?;
    for r in rows {
        writeln!(
            w,
            "{:<app$}  {:<18}  {:<18}  {:<14}  {:<10}  {}",
            r.application_id,
            r.enterprise_id,
            r.person_id,
            r.verdict,
            r.office_date.as_deref().unwrap_or("-"),
            r.reasons.join(", ")
        )?;
    }
    Ok(())
}

fn summary_table(w: &mut dyn Write, rows: &[ApplicationSummaryView]) -> anyhow::Result<()> {
    writeln!(w, "Applications: {}", thousands(rows.len() as u64))?;
    for s in rows {
        writeln!(
            w,
            "{} ({}): applied {} → office {}, quarantine {}, not allowed {}, not an employee {}, not registered {}",
            s.application_id,
            s.enterprise_id,
            thousands(s.rows),
            thousands(s.office),
            thousands(s.quarantine),
            thousands(s.not_allowed),
            thousands(s.not_employee),
            thousands(s.not_registered)
        )?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
