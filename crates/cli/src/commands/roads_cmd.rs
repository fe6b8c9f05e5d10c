//! `fangyi roads` (checkpoint O/D and purposes per county) and `fangyi watch` (returnees from
//! high-risk areas within their days, per community), through the engine's shared paths.

use engine::alerts_api::{WatchCountView, WatchFields, watch_count_views, watch_list};
use engine::inflow_api::{self, CountView, InflowParams, RoadView};
use privacy::{Action, Purpose};
use rules::RiskAreas;
use serde::Serialize;

use crate::cli::{RoadsArgs, TableFormat, WatchArgs};
use crate::commands::{
    Globals, csv_field, pad, print_or_broken_pipe, region_flag, runtime, table_format, thousands,
};
use crate::context;
use crate::exit::usage;

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
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    context::warn_default_as_of(&store, a.as_of.as_deref());
    let params = InflowParams {
        as_of: a.as_of.clone(),
        level: None,
        days: Some(a.days),
        region: a.region.clone(),
    };
    let request = params
        .parse(store.zone())
        .map_err(|e| usage(e.to_string()))?;
    let words = format!(
        "fangyi roads --as-of {} --days {}{}",
        request.query.period.last(),
        a.days,
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}"))
    );
    let purpose = context::check(g, &keys, Action::Inflow, Purpose::Analysis, &words)?;
    let rows = runtime()?.block_on(inflow_api::roads(&store, request))?;
    context::record(
        g,
        &keys,
        Action::Inflow,
        purpose,
        words,
        Vec::new(),
        rows.len() as i64,
    )?;
    let views: Vec<RoadView> = rows.iter().map(RoadView::new).collect();
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

#[derive(Serialize)]
struct WatchedOut {
    person_id: String,
    #[serde(flatten)]
    watch: WatchFields,
}

pub fn watch(g: &Globals, a: WatchArgs) -> anyhow::Result<()> {
    if !(1..=60).contains(&a.days) {
        return Err(usage(format!("--days {}: between 1 and 60", a.days)));
    }
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    context::warn_default_as_of(&store, a.as_of.as_deref());
    let day = engine::parse_as_of_date(a.as_of.as_deref(), store.zone())
        .map_err(|e| usage(e.to_string()))?;
    let within = region_flag("--region", a.region.as_deref())?;
    let action = if a.summary {
        Action::ReturneesSummary
    } else {
        Action::Returnees
    };
    let words = format!(
        "fangyi watch --as-of {day} --days {}{}{}{}",
        a.days,
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}")),
        a.community
            .as_deref()
            .map_or(String::new(), |c| format!(" --community {c}")),
        if a.summary { " --summary" } else { "" }
    );
    let purpose = context::check(g, &keys, action, Purpose::OutbreakResponse, &words)?;
    let index = super::trace_cmd::open_index(&store)?;
    let risk = RiskAreas::load(&store)?;
    let list: Vec<alerts::Watched> = runtime()?
        .block_on(watch_list(&store, &index, &risk, day, a.days))?
        .into_iter()
        .filter(|w| within.is_none_or(|r| w.stay.region.is_some_and(|s| r.covers(s))))
        .filter(|w| {
            a.community
                .as_deref()
                .is_none_or(|c| w.stay.community.as_deref() == Some(c))
        })
        .collect();
    let persons = if a.summary {
        Vec::new()
    } else {
        list.iter().map(|w| w.person).collect()
    };
    context::record(g, &keys, action, purpose, words, persons, list.len() as i64)?;
    let counts: Vec<WatchCountView> = watch_count_views(&list, day);
    let out: Vec<WatchedOut> = list
        .iter()
        .map(|w| WatchedOut {
            person_id: context::reveal(&keys, w.person),
            watch: WatchFields::of(w, engine::Account::local().role),
        })
        .collect();
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
                    p.person_id,
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
                thousands(out.len() as u64),
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
                        p.person_id,
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
