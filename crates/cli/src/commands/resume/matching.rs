//! `fangyi resume match`: contract §8.4's labour matching on a day, and `--consent` to record
//! that a seeker lets an enterprise see who they are; from the engine's one path for both.

use std::io::Write;

use clap::Args;
use engine::Purpose;
use engine::resume_match::{ConsentParams, MatchParams, MatchView};

use crate::cli::TableFormat;
use crate::commands::{Globals, print_or_broken_pipe, table_format, thousands};
use crate::exit::usage;
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// The day openings are filled on (YYYY-MM-DD).
    #[arg(long, required_unless_present = "consent")]
    pub date: Option<String>,
    /// Instead of matching: record that this job seeker (an ID number) consents to
    /// --enterprise seeing who they are.
    #[arg(long, requires = "enterprise")]
    pub consent: Option<String>,
    /// The enterprise a consent is given to (its enterprise_id).
    #[arg(long)]
    pub enterprise: Option<String>,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

pub fn run(g: &Globals, a: MatchArgs) -> anyhow::Result<()> {
    let op = Operator::open(g)?;
    if let Some(person) = &a.consent {
        let enterprise = a.enterprise.clone().unwrap_or_default();
        let words = format!(
            "fangyi resume match --consent {} --enterprise {}",
            engine::mask_ids(person.trim()),
            enterprise.trim()
        );
        let caller = op.caller(Purpose::WorkResumption, &words);
        let params = ConsentParams {
            person_id: person.clone(),
            enterprise_id: enterprise,
        };
        let done = op.ask(op.engine().resume_consent(&caller, &params))?;
        return print_or_broken_pipe(|w| {
            match table_format(a.format) {
                TableFormat::Table => writeln!(
                    w,
                    "{} consents to {} seeing who they are{}",
                    done.person_id,
                    done.enterprise_id,
                    if done.recorded {
                        ""
                    } else {
                        " (recorded before)"
                    }
                )?,
                _ => writeln!(w, "{}", serde_json::to_string(&done)?)?,
            }
            Ok(())
        });
    }
    let date = a
        .date
        .clone()
        .ok_or_else(|| usage("--date D is required"))?;
    let caller = op.caller(
        Purpose::WorkResumption,
        &format!("fangyi resume match --date {}", date.trim()),
    );
    let rows = op.ask(op.engine().resume_match(&caller, &MatchParams { date }))?;
    print_or_broken_pipe(|w| match table_format(a.format) {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&rows)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &rows),
        TableFormat::Table => write_table(w, &rows),
    })
}

fn write_csv(w: &mut dyn Write, rows: &[MatchView]) -> anyhow::Result<()> {
    writeln!(w, "job_id,enterprise_id,openings,filled,seekers")?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{}",
            crate::commands::csv_field(&r.job_id),
            r.enterprise_id,
            r.openings,
            r.filled,
            r.seekers.join(";")
        )?;
    }
    Ok(())
}

fn write_table(w: &mut dyn Write, rows: &[MatchView]) -> anyhow::Result<()> {
    let openings: u64 = rows.iter().map(|r| u64::from(r.openings)).sum();
    let filled: u64 = rows.iter().map(|r| r.filled as u64).sum();
    writeln!(
        w,
        "Jobs: {}, openings {}, filled {}",
        thousands(rows.len() as u64),
        thousands(openings),
        thousands(filled)
    )?;
    for r in rows {
        writeln!(
            w,
            "{} ({}): {}/{}  {}",
            r.job_id,
            r.enterprise_id,
            r.filled,
            r.openings,
            r.seekers.join(" ")
        )?;
    }
    Ok(())
}
