//! `fangyi alerts`: the day's community alerts, computed by the engine's one path, stored with
//! their status in the operational database, as a table, JSON or CSV.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use engine::Purpose;
use engine::alerts_api::{AlertParams, AlertView};
use engine::alerts_api::{AlertRules, DEFAULT_ALERT_RULES};
use serde::Serialize;

use crate::cli::TableFormat;
use crate::commands::{Globals, csv_field, pad, print_or_broken_pipe, region_flag, table_format};
use crate::exit::usage;
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// The day (YYYY-MM-DD, deployment zone; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    /// An alert rules file instead of the built-in thresholds.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Print the built-in alert rules and exit.
    #[arg(long)]
    pub show_rules: bool,
    /// Only alerts in regions this code covers.
    #[arg(long)]
    pub region: Option<String>,
    /// Only alerts of this community.
    #[arg(long)]
    pub community: Option<String>,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

/// An alert as the command line prints it: the engine's view, with the persons as their ids
/// (as the view shows them to this role).
#[derive(Serialize)]
struct AlertOut<'a> {
    id: &'a str,
    rule: &'static str,
    severity: &'static str,
    date: &'a str,
    region: &'a str,
    region_name: Option<&'static str>,
    community: Option<&'a str>,
    detail: &'a str,
    task: &'static str,
    task_detail: &'a str,
    count: u32,
    persons: Vec<&'a str>,
    venue: Option<&'a str>,
    /// How the person travelled (for roles that may see travel detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    travel: Option<&'static str>,
    status: &'static str,
}

impl<'a> AlertOut<'a> {
    fn of(x: &'a AlertView) -> AlertOut<'a> {
        AlertOut {
            id: &x.id,
            rule: x.rule,
            severity: x.severity,
            date: &x.date,
            region: &x.region,
            region_name: x.region_name,
            community: x.community.as_deref(),
            detail: &x.detail,
            task: x.task,
            task_detail: &x.task_detail,
            count: x.count,
            persons: x.persons.iter().map(|p| p.person_id.as_str()).collect(),
            venue: x.venue.as_deref(),
            travel: x.travel,
            status: x.status,
        }
    }
}

pub fn run(g: &Globals, a: AlertsArgs) -> anyhow::Result<()> {
    if a.show_rules {
        print!("{DEFAULT_ALERT_RULES}");
        return Ok(());
    }
    let rules =
        AlertRules::load_or_builtin(a.rules.as_deref()).map_err(|e| usage(e.to_string()))?;
    super::inflow_cmd::warn_default_as_of(g, a.as_of.as_deref())?;
    region_flag("--region", a.region.as_deref())?;
    let params = AlertParams {
        as_of: a.as_of.clone(),
        status: None,
        region: a.region.clone(),
        community: a.community.clone(),
    };
    let words = format!(
        "fangyi alerts{}{}{}",
        a.as_of
            .as_deref()
            .map_or(String::new(), |t| format!(" --as-of {}", t.trim())),
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}")),
        a.community
            .as_deref()
            .map_or(String::new(), |c| format!(" --community {c}"))
    );
    let op = Operator::open_with(g, |o| {
        o.alert_rules = rules;
        Ok(())
    })?;
    let caller = op.caller(Purpose::CommunityService, &words);
    let found = op.ask(op.engine().alerts(&caller, &params))?;
    let day = found
        .first()
        .map(|x| x.date.clone())
        .or_else(|| a.as_of.clone())
        .unwrap_or_else(|| "today".into());
    let out: Vec<AlertOut<'_>> = found.iter().map(AlertOut::of).collect();
    let format = table_format(a.format);
    print_or_broken_pipe(|w| match format {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&out)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &out),
        TableFormat::Table => write_table(w, &day, &out),
    })
}

fn write_csv(w: &mut dyn Write, rows: &[AlertOut<'_>]) -> anyhow::Result<()> {
    writeln!(
        w,
        "id,severity,rule,date,region,region_name,community,task,count,persons,venue,status,detail,task_detail"
    )?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            r.severity,
            r.rule,
            r.date,
            r.region,
            csv_field(r.region_name.unwrap_or("")),
            csv_field(r.community.unwrap_or("")),
            r.task,
            r.count,
            r.persons.join(";"),
            csv_field(r.venue.unwrap_or("")),
            r.status,
            csv_field(r.detail),
            csv_field(r.task_detail)
        )?;
    }
    Ok(())
}

fn write_table(w: &mut dyn Write, day: &str, rows: &[AlertOut<'_>]) -> anyhow::Result<()> {
    let open = rows.iter().filter(|r| r.status == "open").count();
    writeln!(
        w,
        "{} alert{} for {day} ({open} open)",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )?;
    for r in rows {
        let place = format!(
            "{} {} / {}",
            r.region,
            r.region_name.unwrap_or(""),
            r.community.unwrap_or("no community")
        );
        writeln!(
            w,
            "\n[{}] {}  {}  {}  ({}, {})",
            r.severity,
            pad(&place, 26),
            r.rule,
            r.date,
            r.status,
            r.id
        )?;
        match r.travel {
            Some(t) => writeln!(w, "    {} (by {t})", r.detail)?,
            None => writeln!(w, "    {}", r.detail)?,
        }
        writeln!(w, "    → {}: {}", r.task, r.task_detail)?;
        if !r.persons.is_empty() {
            writeln!(w, "    persons: {}", r.persons.join(", "))?;
        }
    }
    Ok(())
}
