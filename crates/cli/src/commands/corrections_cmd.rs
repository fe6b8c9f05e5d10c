//! `fangyi corrections`: the queue of disputed health-code rules with their evidence, and
//! decisions on them (accept with an end date — an `override` of the rule for that person —, or
//! reject), and a correction filed for someone at a service desk. A shell over the engine's
//! corrections methods; its usual purpose is `health_code`.

use std::io::Write;

use clap::{Args, Subcommand};
use engine::Purpose;
use engine::corrections::{CorrectionDecision, CorrectionOut, CorrectionQuery};

use crate::cli::TextFormat;
use crate::commands::{Globals, pad, print_or_broken_pipe};
use crate::operator::Operator;

#[derive(Subcommand, Debug)]
pub enum CorrectionsCommand {
    /// Corrections of persons in your reach, newest first (`--status open`: the queue).
    List(ListArgs),
    /// One correction with the evidence behind the disputed rule.
    Show(ShowArgs),
    /// Accept: set the rule aside for the person through --until (an `override` in their code).
    Accept(AcceptArgs),
    /// Reject, with a reason the person sees.
    Reject(RejectArgs),
    /// File a correction for a person (a service desk, for someone without a phone).
    File(FileArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// open, accepted or rejected (default: all).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this person's (an ID number).
    #[arg(long)]
    pub person: Option<String>,
    /// Output (default: text on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The correction's id.
    pub id: i64,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct AcceptArgs {
    /// The correction's id.
    pub id: i64,
    /// The last day (YYYY-MM-DD, inclusive) the rule is set aside.
    #[arg(long)]
    pub until: String,
    /// Why (shown to the person, and in their code while the override holds).
    #[arg(long)]
    pub reason: String,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct RejectArgs {
    /// The correction's id.
    pub id: i64,
    /// Why (shown to the person).
    #[arg(long)]
    pub reason: String,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct FileArgs {
    /// The person's ID number.
    pub person: String,
    /// The disputed rule (one that applies to their code today: close_contact, fever, …).
    #[arg(long)]
    pub rule: String,
    /// The person's reason (one line, at most 500 characters).
    #[arg(long)]
    pub reason: String,
    /// The day of the code disputed (YYYY-MM-DD; default today): the rule must apply then.
    #[arg(long)]
    pub as_of: Option<String>,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

fn format_of(f: Option<TextFormat>) -> TextFormat {
    use std::io::IsTerminal;
    f.unwrap_or(if std::io::stdout().is_terminal() {
        TextFormat::Text
    } else {
        TextFormat::Json
    })
}

pub fn run(g: &Globals, c: CorrectionsCommand) -> anyhow::Result<()> {
    let op = Operator::open(g)?;
    let engine = op.engine();
    match c {
        CorrectionsCommand::List(a) => {
            let mut request = "fangyi corrections list".to_string();
            if let Some(s) = &a.status {
                request.push_str(&format!(" --status {}", s.trim()));
            }
            if let Some(p) = &a.person {
                request.push_str(&format!(" --person {}", p.trim()));
            }
            let caller = op.caller(Purpose::HealthCode, &request);
            let q = CorrectionQuery {
                status: a.status,
                person_id: a.person,
                limit: None,
            };
            let list = op.ask(engine.corrections(&caller, &q))?;
            print_or_broken_pipe(|w| match format_of(a.format) {
                TextFormat::Json => Ok(writeln!(w, "{}", serde_json::to_string(&list)?)?),
                TextFormat::Text => print_list(w, &list),
            })
        }
        CorrectionsCommand::Show(a) => {
            let caller = op.caller(
                Purpose::HealthCode,
                &format!("fangyi corrections show {}", a.id),
            );
            let c = op.ask(engine.correction(&caller, a.id))?;
            print_one(&c, a.format)
        }
        CorrectionsCommand::Accept(a) => {
            let caller = op.caller(
                Purpose::HealthCode,
                &format!(
                    "fangyi corrections accept {} --until {}",
                    a.id,
                    a.until.trim()
                ),
            );
            let d = CorrectionDecision {
                accept: true,
                reason: a.reason,
                until: Some(a.until),
            };
            let c = op.ask(engine.decide_correction(&caller, a.id, &d))?;
            print_one(&c, a.format)
        }
        CorrectionsCommand::Reject(a) => {
            let caller = op.caller(
                Purpose::HealthCode,
                &format!("fangyi corrections reject {}", a.id),
            );
            let d = CorrectionDecision {
                accept: false,
                reason: a.reason,
                until: None,
            };
            let c = op.ask(engine.decide_correction(&caller, a.id, &d))?;
            print_one(&c, a.format)
        }
        CorrectionsCommand::File(a) => {
            let caller = op.caller(
                Purpose::HealthCode,
                &format!(
                    "fangyi corrections file {} --rule {}",
                    a.person.trim(),
                    a.rule.trim()
                ),
            );
            let c = op.ask_about(
                &a.person,
                engine.file_correction_as_of(
                    &caller,
                    Some(&a.person),
                    &a.rule,
                    &a.reason,
                    a.as_of.as_deref(),
                ),
            )?;
            print_one(&c, a.format)
        }
    }
}

fn print_one(c: &CorrectionOut, format: Option<TextFormat>) -> anyhow::Result<()> {
    print_or_broken_pipe(|w| match format_of(format) {
        TextFormat::Json => Ok(writeln!(w, "{}", serde_json::to_string(c)?)?),
        TextFormat::Text => print_detail(w, c),
    })
}

fn person_of(c: &CorrectionOut) -> &str {
    c.person.as_ref().map_or("-", |p| p.person_id.as_str())
}

fn print_list(w: &mut dyn Write, list: &[CorrectionOut]) -> anyhow::Result<()> {
    if list.is_empty() {
        writeln!(w, "no corrections")?;
        return Ok(());
    }
    writeln!(
        w,
        "{} {} {} {} {} reason",
        pad("id", 6),
        pad("status", 9),
        pad("rule", 20),
        pad("person", 19),
        pad("filed", 29)
    )?;
    for c in list {
        writeln!(
            w,
            "{} {} {} {} {} {}",
            pad(&c.id.to_string(), 6),
            pad(c.status, 9),
            pad(&c.rule, 20),
            pad(person_of(c), 19),
            pad(&c.filed, 29),
            c.reason
        )?;
    }
    Ok(())
}

fn print_detail(w: &mut dyn Write, c: &CorrectionOut) -> anyhow::Result<()> {
    writeln!(
        w,
        "correction {}: {} of the code as of {} ({})",
        c.id, c.rule, c.code_day, c.status
    )?;
    if let Some(p) = &c.person {
        let name = p.name.as_deref().unwrap_or("");
        writeln!(w, "  person   {} {name}", p.person_id)?;
    }
    let by = c
        .filed_by
        .as_deref()
        .map_or(String::new(), |b| format!(" by {b}"));
    writeln!(w, "  filed    {} ({}{by})", c.filed, c.filed_role)?;
    writeln!(w, "  reason   {}", c.reason)?;
    if let Some(d) = &c.decided {
        let by = c
            .decided_by
            .as_deref()
            .map_or(String::new(), |b| format!(" by {b}"));
        writeln!(w, "  decided  {d}{by}")?;
    }
    if let Some(o) = &c.outcome {
        writeln!(w, "  outcome  {o}")?;
    }
    if let Some(u) = &c.until {
        writeln!(w, "  override {} set aside through {u}", c.rule)?;
    }
    if let Some(e) = &c.evidence {
        let applies = if e.applies {
            "applies"
        } else {
            "does not apply"
        };
        writeln!(w, "  evidence as of {} (the rule {applies} then):", e.as_of)?;
        for r in &e.reasons {
            writeln!(w, "    {r}")?;
        }
        for x in &e.contacts {
            writeln!(
                w,
                "    case {} (degree {}), last exposure {}, quarantine until {}",
                x.case, x.degree, x.last_exposure, x.quarantine_until
            )?;
            for s in &x.shared {
                writeln!(w, "      {}", serde_json::to_string(s)?)?;
            }
        }
        for a in &e.arrivals {
            writeln!(w, "    arrived {} from {} by {}", a.date, a.origin, a.kind)?;
        }
        for f in &e.self_reports {
            writeln!(w, "    self-report {}: {:.1} °C", f.time, f.temperature_c)?;
        }
        for l in &e.lab_results {
            writeln!(
                w,
                "    lab result sampled {}, reported {}: {}{}",
                l.sample_time,
                l.reported_time,
                l.result,
                l.diagnosis.map_or(String::new(), |d| format!(" ({d})"))
            )?;
        }
    }
    Ok(())
}
