//! `fangyi roads` (checkpoint O/D and purposes per county) and `fangyi watch` (returnees from
//! high-risk areas within their days, per community), through the engine's shared paths.

use clap::Args;
use engine::Purpose;
use engine::alerts_api::WatchParams;
use engine::inflow_api::{CountView, InflowParams};

use crate::cli::TableFormat;
use crate::commands::{
    Globals, csv_field, pad, print_or_broken_pipe, region_flag, table_format, thousands,
};
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct RoadsArgs {
    /// The last day counted (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    /// How many days, ending on --as-of.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Only checkpoints in regions this code covers.
    #[arg(long)]
    pub region: Option<String>,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The day (YYYY-MM-DD; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    /// The length of the watch in days.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Only persons staying in regions this code covers.
    #[arg(long)]
    pub region: Option<String>,
    /// Only persons staying in this community.
    #[arg(long)]
    pub community: Option<String>,
    /// Print only the counts per community.
    #[arg(long)]
    pub summary: bool,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

fn counts(v: &[CountView], n: usize) -> String {
    v.iter()
        .take(n)
        .map(|c| match c.name {
            Some(name) => format!("{} {name} {}", c.key, c.persons),
            None => format!("{} {}", c.key, c.persons),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts_cell(v: &[CountView]) -> String {
    v.iter()
        .map(|c| format!("{}:{}", c.key, c.persons))
        .collect::<Vec<_>>()
        .join(";")
}

pub fn roads(g: &Globals, a: RoadsArgs) -> anyhow::Result<()> {
    super::inflow_cmd::warn_default_as_of(g, a.as_of.as_deref())?;
    let params = InflowParams {
        as_of: a.as_of.clone(),
        level: None,
        days: Some(a.days),
        region: a.region.clone(),
    };
    let words = format!(
        "fangyi roads{} --days {}{}",
        a.as_of
            .as_deref()
            .map_or(String::new(), |t| format!(" --as-of {}", t.trim())),
        a.days,
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}"))
    );
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::Analysis, &words);
    let (request, views) = op.ask(op.engine().roads_for(&caller, &params))?;
    print_or_broken_pipe(|w| match table_format(a.format) {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&views)?)?;
            Ok(())
        }
        TableFormat::Csv => {
            writeln!(
                w,
                "region,name,date,vehicles,persons,arriving,origins,destinations,purposes"
            )?;
            for r in &views {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{},{}",
                    r.region,
                    csv_field(r.name.unwrap_or("")),
                    r.date,
                    r.vehicles,
                    r.persons,
                    r.arriving,
                    counts_cell(&r.origins),
                    counts_cell(&r.destinations),
                    csv_field(&counts_cell(&r.purposes))
                )?;
            }
            Ok(())
        }
        TableFormat::Table => {
            writeln!(
                w,
                "Expressway checkpoints per county and day, {} to {}: {} rows",
                request.query.period.first(),
                request.query.period.last(),
                views.len()
            )?;
            for r in &views {
                let place = format!("{} {}", r.region, r.name.unwrap_or(""));
                writeln!(
                    w,
                    "\n{}  {}  {} vehicles, {} occupants ({} arriving)",
                    pad(&place, 22),
                    r.date,
                    thousands(u64::from(r.vehicles)),
                    thousands(u64::from(r.persons)),
                    thousands(u64::from(r.arriving))
                )?;
                writeln!(w, "    from     {}", counts(&r.origins, 5))?;
                writeln!(w, "    to       {}", counts(&r.destinations, 5))?;
                writeln!(w, "    purpose  {}", counts(&r.purposes, 5))?;
            }
            Ok(())
        }
    })
}

pub fn watch(g: &Globals, a: WatchArgs) -> anyhow::Result<()> {
    if !(1..=60).contains(&a.days) {
        return Err(crate::exit::usage(format!(
            "--days {}: between 1 and 60",
            a.days
        )));
    }
    super::inflow_cmd::warn_default_as_of(g, a.as_of.as_deref())?;
    region_flag("--region", a.region.as_deref())?;
    let params = WatchParams {
        as_of: a.as_of.clone(),
        days: Some(a.days),
        persons: Some(!a.summary),
        region: a.region.clone(),
        community: a.community.clone(),
    };
    let words = format!(
        "fangyi watch{} --days {}{}{}{}",
        a.as_of
            .as_deref()
            .map_or(String::new(), |t| format!(" --as-of {}", t.trim())),
        a.days,
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}")),
        a.community
            .as_deref()
            .map_or(String::new(), |c| format!(" --community {c}")),
        if a.summary { " --summary" } else { "" }
    );
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::OutbreakResponse, &words);
    let view = op.ask(op.engine().watch_for(&caller, &params))?;
    let day = view.as_of.clone();
    let counts = view.communities;
    let out = view.list.unwrap_or_default();
    print_or_broken_pipe(|w| match (table_format(a.format), a.summary) {
        (TableFormat::Json, true) => {
            writeln!(w, "{}", serde_json::to_string(&counts)?)?;
            Ok(())
        }
        (TableFormat::Json, false) => {
            writeln!(w, "{}", serde_json::to_string(&out)?)?;
            Ok(())
        }
        (TableFormat::Csv, true) => {
            writeln!(w, "region,region_name,community,persons,ending_soon")?;
            for c in &counts {
                writeln!(
                    w,
                    "{},{},{},{},{}",
                    c.region.as_deref().unwrap_or(""),
                    csv_field(c.region_name.unwrap_or("")),
                    csv_field(c.community.as_deref().unwrap_or("")),
                    c.persons,
                    c.ending_soon
                )?;
            }
            Ok(())
        }
        (TableFormat::Csv, false) => {
            writeln!(
                w,
                "person_id,arrived,origin,kind,until,stay_region,stay_community"
            )?;
            for p in &out {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{}",
                    p.person.person_id,
                    p.watch.arrived,
                    p.watch.origin,
                    p.watch.kind.unwrap_or(""),
                    p.watch.until,
                    p.watch.stay_region.as_deref().unwrap_or(""),
                    csv_field(p.watch.stay_community.as_deref().unwrap_or(""))
                )?;
            }
            Ok(())
        }
        (TableFormat::Table, summary) => {
            writeln!(
                w,
                "{} under watch on {day} (arrived from a high-risk area in the last {} days)",
                thousands(view.persons as u64),
                a.days
            )?;
            for c in &counts {
                let place = format!(
                    "{} {} / {}",
                    c.region.as_deref().unwrap_or("stay unknown"),
                    c.region_name.unwrap_or(""),
                    c.community.as_deref().unwrap_or("no community")
                );
                writeln!(
                    w,
                    "  {}  {:>6}  ({} ending within 3 days)",
                    pad(&place, 30),
                    thousands(u64::from(c.persons)),
                    c.ending_soon
                )?;
            }
            if !summary {
                writeln!(w)?;
                for p in &out {
                    writeln!(
                        w,
                        "  {}  until {}  arrived {} from {} {} by {}",
                        p.person.person_id,
                        p.watch.until,
                        p.watch.arrived,
                        p.watch.origin,
                        p.watch.origin_name.unwrap_or(""),
                        p.watch.kind.unwrap_or("?")
                    )?;
                }
            }
            Ok(())
        }
    })
}
