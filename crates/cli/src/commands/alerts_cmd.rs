//! `fangyi alerts`: the day's community alerts, computed by the engine's one path, stored with
//! their status in the operational database, as a table, JSON or CSV.

use std::collections::HashMap;
use std::io::Write;

use alerts::{Alert, AlertRules, DEFAULT_ALERT_RULES};
use ops::{AlertState, Ops};
use privacy::{Action, Purpose};
use rules::RiskAreas;
use serde::Serialize;

use crate::cli::{AlertsArgs, TableFormat};
use crate::commands::{
    Globals, csv_field, pad, print_or_broken_pipe, region_flag, runtime, table_format,
};
use crate::context;
use crate::exit::usage;

#[derive(Serialize)]
struct AlertOut<'a> {
    id: &'a str,
    rule: &'static str,
    severity: &'static str,
    date: String,
    region: String,
    region_name: Option<&'static str>,
    community: Option<&'a str>,
    detail: &'a str,
    task: &'static str,
    task_detail: &'a str,
    count: u32,
    persons: Vec<String>,
    venue: Option<&'a str>,
    /// How the person travelled (the operator sees it; the API shows it by role).
    #[serde(skip_serializing_if = "Option::is_none")]
    travel: Option<&'static str>,
    status: &'static str,
}

pub fn run(g: &Globals, a: AlertsArgs) -> anyhow::Result<()> {
    if a.show_rules {
        print!("{DEFAULT_ALERT_RULES}");
        return Ok(());
    }
    let rules =
        AlertRules::load_or_builtin(a.rules.as_deref()).map_err(|e| usage(e.to_string()))?;
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    context::warn_default_as_of(&store, a.as_of.as_deref());
    let day = engine::parse_as_of_date(a.as_of.as_deref(), store.zone())
        .map_err(|e| usage(e.to_string()))?;
    let within = region_flag("--region", a.region.as_deref())?;
    let words = format!(
        "fangyi alerts --as-of {day}{}{}",
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}")),
        a.community
            .as_deref()
            .map_or(String::new(), |c| format!(" --community {c}"))
    );
    let purpose = context::check(g, &keys, Action::Alerts, Purpose::CommunityService, &words)?;
    let index = super::trace_cmd::open_index(&store)?;
    let risk = RiskAreas::load(&store)?;
    let (found, states) = runtime()?.block_on(async {
        let all = engine::alerts_api::compute(&store, &index, &risk, &rules, day).await?;
        let found: Vec<Alert> = all
            .into_iter()
            .filter(|x| within.is_none_or(|w| w.covers(x.region)))
            .filter(|x| {
                a.community
                    .as_deref()
                    .is_none_or(|c| x.community.as_deref() == Some(c))
            })
            .collect();
        let records: Vec<_> = found.iter().map(engine::alerts_api::record).collect();
        let ops = Ops::open_for(g.data(), g.db.as_deref()).await?;
        let states = ops
            .sync_alerts(&records, model::Timestamp::now().millis())
            .await?;
        ops.close().await;
        Ok::<_, anyhow::Error>((found, states))
    })?;
    let persons: Vec<i64> = found.iter().flat_map(|x| x.persons.clone()).collect();
    context::record(
        g,
        &keys,
        Action::Alerts,
        purpose,
        words,
        persons,
        found.len() as i64,
    )?;
    let out: Vec<AlertOut<'_>> = found.iter().map(|x| view(&keys, x, &states)).collect();
    let format = table_format(a.format);
    print_or_broken_pipe(|w| match format {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&out)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &out),
        TableFormat::Table => write_table(w, day, &out),
    })
}

fn view<'a>(
    keys: &vault::Keys,
    x: &'a Alert,
    states: &HashMap<String, AlertState>,
) -> AlertOut<'a> {
    AlertOut {
        id: &x.id,
        rule: x.rule.as_str(),
        severity: x.severity.as_str(),
        date: x.date.to_string(),
        region: x.region.to_string(),
        region_name: x.region.place_name(),
        community: x.community.as_deref(),
        detail: &x.detail,
        task: x.task.as_str(),
        task_detail: &x.task_detail,
        count: x.count,
        persons: x
            .persons
            .iter()
            .map(|&p| context::reveal(keys, p))
            .collect(),
        venue: x.venue.as_deref(),
        travel: x.travel,
        status: states.get(&x.id).map_or("open", |s| s.status.as_str()),
    }
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

fn write_table(w: &mut dyn Write, day: model::Date, rows: &[AlertOut<'_>]) -> anyhow::Result<()> {
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
