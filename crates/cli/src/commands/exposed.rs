//! `fangyi exposed`: everyone who arrived from a region in a period, with where they stay now,
//! grouped by stay county and community (or only the counts, with `--summary`).

use std::io::Write;

use clap::Args;
use engine::Purpose;
use engine::returnees::{InflowError, Period};
use engine::returnees::{ReturneeView, ReturneesParams, ReturneesSummary};
use engine::{Date, Region};
use serde::Serialize;

use crate::cli::TableFormat;
use crate::commands::inflow_cmd::ViaArgs;
use crate::commands::{Globals, csv_field, pad, print_or_broken_pipe, table_format, thousands};
use crate::exit::usage;

#[derive(Args, Debug)]
pub struct ExposedArgs {
    /// Where they came from: a county, prefecture (420100 Wuhan) or province code; it covers
    /// the regions under it.
    #[arg(long)]
    pub region: String,
    /// First day of the period (YYYY-MM-DD, deployment zone).
    #[arg(long)]
    pub from: String,
    /// Last day of the period, included.
    #[arg(long)]
    pub to: String,
    /// Print only the number of persons per stay county and community.
    #[arg(long)]
    pub summary: bool,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    #[command(flatten)]
    pub via: ViaArgs,
}

/// One person as printed: the id revealed, dates and codes as text.
#[derive(Serialize)]
struct PersonOut {
    person_id: String,
    first_arrival: String,
    last_arrival: String,
    kinds: Vec<&'static str>,
    origins: Vec<String>,
    stay_region: Option<String>,
    stay_region_name: Option<&'static str>,
    stay_community: Option<String>,
    stay_source: &'static str,
}

#[derive(Serialize)]
struct CommunityOut<'a> {
    stay_community: Option<&'a str>,
    persons: usize,
}

#[derive(Serialize)]
struct CountyOut<'a> {
    stay_region: Option<String>,
    stay_region_name: Option<&'static str>,
    persons: usize,
    communities: Vec<CommunityOut<'a>>,
}

fn parse_args(a: &ExposedArgs) -> anyhow::Result<(Region, Period)> {
    let region = a
        .region
        .parse::<Region>()
        .map_err(|e| usage(format!("--region {}: {}", a.region, e.reason())))?;
    let date = |flag: &str, s: &str| {
        s.parse::<Date>()
            .map_err(|e| usage(format!("{flag} {s}: {}", e.reason())))
    };
    let (from, to) = (date("--from", &a.from)?, date("--to", &a.to)?);
    let period = Period::new(from, to).map_err(|e| match e {
        InflowError::EmptyPeriod { .. } => usage(format!(
            "--from {from} is after --to {to}; the period would be empty"
        )),
        other => other.into(),
    })?;
    Ok((region, period))
}

/// Arrivals staying in one county (or nowhere known), by community.
struct StayCount {
    region: Option<Region>,
    persons: usize,
    communities: Vec<CommunityCount>,
}

struct CommunityCount {
    community: Option<String>,
    persons: usize,
}

fn person_out(p: ReturneeView) -> PersonOut {
    let stay_region = p
        .stay_region
        .as_deref()
        .and_then(|r| r.parse::<Region>().ok());
    PersonOut {
        person_id: p.person.person_id,
        first_arrival: p.first_arrival,
        last_arrival: p.last_arrival,
        kinds: p.kinds.unwrap_or_default(),
        origins: p.origins,
        stay_region: p.stay_region,
        stay_region_name: stay_region.and_then(Region::name),
        stay_community: p.stay_community,
        stay_source: p.stay_source,
    }
}

/// The order of places: counties by code, then communities by id, unknown ones last.
fn place_key(p: &PersonOut) -> (bool, Option<&str>, bool, Option<&str>) {
    (
        p.stay_region.is_none(),
        p.stay_region.as_deref(),
        p.stay_community.is_none(),
        p.stay_community.as_deref(),
    )
}

/// The persons' counts per place, in the persons' (place) order.
fn counts_of(persons: &[PersonOut]) -> Vec<StayCount> {
    let mut out: Vec<StayCount> = Vec::new();
    for p in persons {
        let region = p
            .stay_region
            .as_deref()
            .and_then(|r| r.parse::<Region>().ok());
        match out.last_mut() {
            Some(c) if c.region == region => {
                c.persons += 1;
                match c.communities.last_mut() {
                    Some(m) if m.community == p.stay_community => m.persons += 1,
                    _ => c.communities.push(CommunityCount {
                        community: p.stay_community.clone(),
                        persons: 1,
                    }),
                }
            }
            _ => out.push(StayCount {
                region,
                persons: 1,
                communities: vec![CommunityCount {
                    community: p.stay_community.clone(),
                    persons: 1,
                }],
            }),
        }
    }
    out
}

fn summary_counts(s: ReturneesSummary) -> Vec<StayCount> {
    s.counties
        .into_iter()
        .map(|c| StayCount {
            region: c.region.as_deref().and_then(|r| r.parse::<Region>().ok()),
            persons: c.persons,
            communities: c
                .communities
                .into_iter()
                .map(|m| CommunityCount {
                    community: m.community,
                    persons: m.persons,
                })
                .collect(),
        })
        .collect()
}

fn region_label(r: Option<Region>) -> String {
    match r {
        Some(r) => match r.name() {
            Some(name) => format!("{r} {name}"),
            None => r.to_string(),
        },
        None => "stay unknown".to_string(),
    }
}

fn community_label(c: Option<&str>) -> String {
    c.map_or_else(|| "no community".to_string(), |c| format!("community {c}"))
}

fn persons_label(n: usize) -> String {
    format!(
        "{} person{}",
        thousands(n as u64),
        if n == 1 { "" } else { "s" }
    )
}

pub fn run(g: &Globals, a: ExposedArgs) -> anyhow::Result<()> {
    let (region, period) = parse_args(&a)?;
    let params = ReturneesParams {
        region: region.to_string(),
        from: period.first().to_string(),
        to: period.last().to_string(),
        summary: Some(a.summary),
    };
    let op = a.via.operator(g)?;
    let words = format!(
        "fangyi exposed --region {region} --from {} --to {}{}{}",
        period.first(),
        period.last(),
        if a.summary { " --summary" } else { "" },
        a.via.words()
    );
    let caller = op.caller(Purpose::OutbreakResponse, &words);
    let via = a.via.engine_via();
    let (counts, persons) = if a.summary {
        let s = op.ask(op.engine().returnees_summary_via(&caller, &params, via))?;
        (summary_counts(s), Vec::new())
    } else {
        let found = op.ask(op.engine().returnees_via(&caller, &params, via))?;
        // Shown ids order the persons within a place (pseudonyms order them arbitrarily).
        let mut persons: Vec<PersonOut> = found.into_iter().map(person_out).collect();
        persons.sort_by(|a, b| {
            place_key(a)
                .cmp(&place_key(b))
                .then_with(|| a.person_id.cmp(&b.person_id))
        });
        (counts_of(&persons), persons)
    };
    let format = table_format(a.format);
    print_or_broken_pipe(|w| write(w, format, a.summary, region, period, &counts, &persons))
}

fn write(
    w: &mut dyn Write,
    format: TableFormat,
    summary: bool,
    region: Region,
    period: Period,
    counts: &[StayCount],
    persons: &[PersonOut],
) -> anyhow::Result<()> {
    match (format, summary) {
        (TableFormat::Json, false) => {
            writeln!(w, "{}", serde_json::to_string(persons)?)?;
        }
        (TableFormat::Json, true) => {
            writeln!(w, "{}", serde_json::to_string(&counts_out(counts))?)?;
        }
        (TableFormat::Csv, false) => write_csv(w, persons)?,
        (TableFormat::Csv, true) => {
            writeln!(w, "stay_region,stay_region_name,stay_community,persons")?;
            for c in counts {
                for m in &c.communities {
                    writeln!(
                        w,
                        "{},{},{},{}",
                        c.region.map(|r| r.to_string()).unwrap_or_default(),
                        csv_field(c.region.and_then(Region::name).unwrap_or("")),
                        csv_field(m.community.as_deref().unwrap_or("")),
                        m.persons
                    )?;
                }
            }
        }
        (TableFormat::Table, summary) => {
            print_table(w, region, period, counts, persons, summary)?;
        }
    }
    Ok(())
}

fn counts_out(counts: &[StayCount]) -> Vec<CountyOut<'_>> {
    counts
        .iter()
        .map(|c| CountyOut {
            stay_region: c.region.map(|r| r.to_string()),
            stay_region_name: c.region.and_then(Region::name),
            persons: c.persons,
            communities: c
                .communities
                .iter()
                .map(|m| CommunityOut {
                    stay_community: m.community.as_deref(),
                    persons: m.persons,
                })
                .collect(),
        })
        .collect()
}

fn write_csv(w: &mut dyn Write, persons: &[PersonOut]) -> anyhow::Result<()> {
    writeln!(
        w,
        "person_id,first_arrival,last_arrival,kinds,origins,stay_region,stay_region_name,stay_community,stay_source"
    )?;
    for p in persons {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            p.person_id,
            p.first_arrival,
            p.last_arrival,
            p.kinds.join(";"),
            p.origins.join(";"),
            p.stay_region.as_deref().unwrap_or(""),
            csv_field(p.stay_region_name.unwrap_or("")),
            csv_field(p.stay_community.as_deref().unwrap_or("")),
            p.stay_source
        )?;
    }
    Ok(())
}

fn print_table(
    w: &mut dyn Write,
    origin: Region,
    period: Period,
    counts: &[StayCount],
    persons: &[PersonOut],
    summary: bool,
) -> anyhow::Result<()> {
    let total: usize = counts.iter().map(|c| c.persons).sum();
    let counties = counts.iter().filter(|c| c.region.is_some()).count();
    writeln!(
        w,
        "{} arrived from {} between {} and {}, staying in {} region{}",
        persons_label(total),
        region_label(Some(origin)),
        period.first(),
        period.last(),
        counties,
        if counties == 1 { "" } else { "s" },
    )?;
    if summary {
        for c in counts {
            writeln!(
                w,
                "{}  {:>9}",
                pad(&region_label(c.region), 28),
                thousands(c.persons as u64)
            )?;
            for m in &c.communities {
                writeln!(
                    w,
                    "  {}  {:>9}",
                    pad(&community_label(m.community.as_deref()), 26),
                    thousands(m.persons as u64)
                )?;
            }
        }
        return Ok(());
    }
    if persons.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "\n    {:<18}  {:<10}  {:<10}  {:<24}  {:<20}  stay from",
        "person_id", "first", "last", "kinds", "origins"
    )?;
    let mut rest = persons;
    for c in counts {
        writeln!(
            w,
            "\n{}: {}",
            region_label(c.region),
            persons_label(c.persons)
        )?;
        for m in &c.communities {
            writeln!(
                w,
                "  {}: {}",
                community_label(m.community.as_deref()),
                thousands(m.persons as u64)
            )?;
            let (here, after) = rest.split_at(m.persons.min(rest.len()));
            for p in here {
                writeln!(
                    w,
                    "    {:<18}  {:<10}  {:<10}  {:<24}  {:<20}  {}",
                    p.person_id,
                    p.first_arrival,
                    p.last_arrival,
                    p.kinds.join(";"),
                    p.origins.join(";"),
                    p.stay_source
                )?;
            }
            rest = after;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(region: &str, from: &str, to: &str) -> ExposedArgs {
        ExposedArgs {
            region: region.into(),
            from: from.into(),
            to: to.into(),
            summary: false,
            format: None,
            via: ViaArgs {
                via: crate::commands::inflow_cmd::Via::Scan,
                cluster: None,
            },
        }
    }

    fn usage_message(a: ExposedArgs) -> String {
        let e = parse_args(&a).unwrap_err();
        assert!(e.is::<crate::exit::Usage>(), "{e}");
        e.to_string()
    }

    #[test]
    fn labels_say_persons() {
        assert_eq!(persons_label(1), "1 person");
        assert_eq!(persons_label(1200), "1,200 persons");
    }

    #[test]
    fn arguments_are_checked() {
        let (r, p) = parse_args(&args("420100", "2020-01-10", "2020-01-23")).unwrap();
        assert_eq!((r.to_string(), p.days()), ("420100".to_string(), 14));
        assert!(
            usage_message(args("4201", "2020-01-10", "2020-01-23")).starts_with("--region 4201")
        );
        assert!(usage_message(args("420100", "2020-1-10", "2020-01-23")).starts_with("--from"));
        assert!(usage_message(args("420100", "2020-01-10", "2020-02-30")).starts_with("--to"));
        assert_eq!(
            usage_message(args("420100", "2020-01-23", "2020-01-10")),
            "--from 2020-01-23 is after --to 2020-01-10; the period would be empty"
        );
    }
}
