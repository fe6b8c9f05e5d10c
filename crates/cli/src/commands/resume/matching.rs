//! `fangyi resume match`: contract §8.4's labour matching on a day, `--consent` to record that a
//! seeker lets an enterprise see who they are and `--withdraw-consent` to take it back; from the
//! engine's one path for all three.

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
    #[arg(long, required_unless_present_any = ["consent", "withdraw_consent"])]
    pub date: Option<String>,
    /// Instead of matching: record that this job seeker (an ID number) consents to
    /// --enterprise seeing who they are.
    #[arg(long, requires = "enterprise", conflicts_with = "withdraw_consent")]
    pub consent: Option<String>,
    /// Instead of matching: withdraw this job seeker's consent to --enterprise (its matches
    /// show them masked again).
    #[arg(long, requires = "enterprise")]
    pub withdraw_consent: Option<String>,
    /// The enterprise a consent is given to or withdrawn from (its enterprise_id).
    #[arg(long)]
    pub enterprise: Option<String>,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

pub fn run(g: &Globals, a: MatchArgs) -> anyhow::Result<()> {
    let op = Operator::open(g)?;
    if let Some(person) = &a.consent {
        let (caller, params) = consent_request(&op, "--consent", person, &a.enterprise);
        let done = op.ask(op.engine().resume_consent(&caller, &params))?;
        let again = if done.recorded {
            ""
        } else {
            " (recorded before)"
        };
        let line = format!(
            "{} consents to {} seeing who they are{again}",
            done.person_id, done.enterprise_id
        );
        return print_consent(a.format, &line, &done);
    }
    if let Some(person) = &a.withdraw_consent {
        let (caller, params) = consent_request(&op, "--withdraw-consent", person, &a.enterprise);
        let done = op.ask(op.engine().resume_withdraw_consent(&caller, &params))?;
        let line = if done.withdrawn {
            format!(
                "{} no longer consents to {} seeing who they are",
                done.person_id, done.enterprise_id
            )
        } else {
            format!(
                "{} had no consent to {} on record; nothing changed",
                done.person_id, done.enterprise_id
            )
        };
        return print_consent(a.format, &line, &done);
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

/// The caller and parameters of a consent given or withdrawn (`flag` names which, for the audit
/// log's words; the ID number masked there).
fn consent_request(
    op: &Operator,
    flag: &str,
    person: &str,
    enterprise: &Option<String>,
) -> (engine::Caller, ConsentParams) {
    let enterprise = enterprise.clone().unwrap_or_default();
    let words = format!(
        "fangyi resume match {flag} {} --enterprise {}",
        engine::mask_ids(person.trim()),
        enterprise.trim()
    );
    let caller = op.caller(Purpose::WorkResumption, &words);
    let params = ConsentParams {
        person_id: person.to_string(),
        enterprise_id: enterprise,
    };
    (caller, params)
}

fn print_consent(
    format: Option<TableFormat>,
    line: &str,
    done: &impl serde::Serialize,
) -> anyhow::Result<()> {
    print_or_broken_pipe(|w| {
        match table_format(format) {
            TableFormat::Table => writeln!(w, "{line}")?,
            _ => writeln!(w, "{}", serde_json::to_string(done)?)?,
        }
        Ok(())
    })
}
