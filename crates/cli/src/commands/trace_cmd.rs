//! `fangyi trace`, `fangyi cotravel` and `fangyi index`: close contacts of a case (or of every
//! case), the public co-travel self-check, and the trace index they are answered from.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use engine::datadir::{DataDir, Freshness, MemoryBudget};
use engine::{Date, EvidenceOut, Purpose, Timestamp, TraceOut, Zone};

use crate::cli::TableFormat;
use crate::commands::{Globals, human_bytes, plural, thousands};
use crate::context;
use crate::exit::usage;
use crate::operator::Operator;
use crate::progress;

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The case's person id.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub case: Option<String>,
    /// Trace every case, writing one row per (case, contact) to --out.
    #[arg(long, requires = "out")]
    pub all: bool,
    /// Answer as of this time (RFC 3339) or the end of this date (YYYY-MM-DD); default now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// 1: contacts of the case; 2: also the contacts of those contacts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub depth: u8,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// With --all: the file to write (.csv or .parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --all: answer from the trace index, or with one SQL statement over the stored
    /// tables on the embedded DataFusion (the same rows; the statement a cluster runs).
    #[arg(long, value_enum, default_value_t = TraceVia::Index, requires = "all")]
    pub via: TraceVia,
    /// With --all: run that SQL statement on the Ballista cluster whose scheduler is at
    /// HOST:PORT (see `fangyi cluster`; implies --via sql). One case is traced on the index.
    #[arg(long, env = "FANGYI_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
}

/// `--via`: how `trace --all` finds its answer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceVia {
    Index,
    Sql,
}

#[derive(Args, Debug)]
pub struct CotravelArgs {
    /// rail, flight, coach or ship.
    #[arg(long)]
    pub mode: String,
    /// Train, flight or coach number (G1234, CA1234).
    #[arg(long)]
    pub service: String,
    /// The service date (YYYY-MM-DD).
    #[arg(long)]
    pub date: String,
    /// Rail: your car.
    #[arg(long)]
    pub car: Option<String>,
    /// Flight: your seat (cases within 3 rows count).
    #[arg(long)]
    pub seat: Option<String>,
    /// Answer as of this time or the end of this date; default now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Output (default: a sentence on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(Args, Debug)]
pub struct IndexArgs {
    /// Throw the index away and build it again from the store.
    #[arg(long)]
    pub rebuild: bool,
}

/// `--as-of`: an RFC 3339 time, or a date meaning the end of that day in the deployment zone;
/// absent, now.
pub fn parse_as_of(s: Option<&str>, zone: Zone) -> anyhow::Result<i64> {
    let Some(s) = s else {
        return Ok(Timestamp::now().millis());
    };
    let s = s.trim();
    if let Ok(d) = Date::parse(s.as_bytes()) {
        return Ok(d.end_of_day(zone).millis());
    }
    Timestamp::parse_rfc3339(s.as_bytes())
        .map(Timestamp::millis)
        .map_err(|e| {
            usage(format!(
                "--as-of {s}: {} (or a date, YYYY-MM-DD)",
                e.reason()
            ))
        })
}

/// Brings the trace index up to date with the store, showing progress, so the engine finds
/// it current.
pub fn ensure_index(store: &DataDir) -> anyhow::Result<()> {
    if store.index_freshness()? != Freshness::Current {
        update_index(store, false)?;
    }
    Ok(())
}

/// `--memory` (or `FANGYI_MEMORY`), as the command line gave it.
static MEMORY: OnceLock<MemoryBudget> = OnceLock::new();

/// Sets the trace index build's budget for this process (once, from the command line).
pub fn set_memory(budget: Option<MemoryBudget>) {
    if let Some(b) = budget {
        let _ = MEMORY.set(b);
    }
}

/// The budget of an index build: `--memory`, else the machine's default.
pub fn memory() -> MemoryBudget {
    MEMORY
        .get()
        .copied()
        .unwrap_or_else(MemoryBudget::machine_default)
}

/// Indexes what the store has and the index lacks; prints one line when it did anything.
pub fn update_index(store: &DataDir, quiet: bool) -> anyhow::Result<()> {
    let total = store.index_pending_rows()?;
    if total == 0 && store.index_freshness()? == Freshness::Current {
        return Ok(());
    }
    let started = Instant::now();
    let bar = (!quiet).then(|| progress::steps_bar(total, "index"));
    let budget = memory();
    let report = store
        .update_index(budget, &|n| {
            if let Some(b) = &bar {
                b.set_position(n);
            }
        })
        .context("updating the trace index")?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !quiet && report.sources_indexed > 0 {
        let spilled = if report.stats.runs > 0 {
            format!(
                ", {} sorted on disk (--memory {budget})",
                plural(report.stats.runs, "run", "runs")
            )
        } else {
            String::new()
        };
        eprintln!(
            "trace index: {}, {} → {} in {} ({}), {}{} in {:.1} s{spilled}",
            plural(report.sources_indexed as u64, "source", "sources"),
            plural(report.stats.rows, "row", "rows"),
            plural(report.stats.events, "event", "events"),
            plural(report.stats.groups, "group", "groups"),
            human_bytes(report.stats.bytes),
            plural(report.segments as u64, "segment", "segments"),
            if report.rebuilt { " (rebuilt)" } else { "" },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

pub fn run(g: &Globals, a: TraceArgs) -> anyhow::Result<()> {
    {
        // The index brought up to date here shows its progress; the engine then finds it current.
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        context::warn_default_as_of(&store, a.as_of.as_deref());
        ensure_index(&store)?;
    }
    // Only the bulk question goes to a cluster; one case is milliseconds on the index.
    let cluster = a.cluster.clone().filter(|c| a.all && !c.trim().is_empty());
    let op = Operator::open_with(g, |o| {
        o.cluster = cluster.clone();
        Ok(())
    })?;
    let as_of = a.as_of.as_deref();
    let at = as_of.map_or(String::new(), |t| format!(" --as-of {}", t.trim()));
    if a.all {
        let out = a
            .out
            .clone()
            .ok_or_else(|| usage("trace --all needs --out FILE.csv or FILE.parquet"))?;
        let via = match (&cluster, a.via) {
            (Some(c), _) => format!(" --cluster {c}"),
            (None, TraceVia::Index) => String::new(),
            (None, TraceVia::Sql) => " --via sql".into(),
        };
        let request = format!(
            "fangyi trace --all{at} --depth {}{via} --out {}",
            a.depth,
            out.display()
        );
        let caller = op.caller(Purpose::OutbreakResponse, &request);
        let started = Instant::now();
        // On a cluster the job's own line shows (progress::ClusterWatch), not this bar.
        let bar = match cluster {
            Some(_) => indicatif::ProgressBar::hidden(),
            None => progress::steps_bar(0, "trace"),
        };
        let b = bar.clone();
        let progress = engine::local::Progress {
            stage: std::sync::Arc::new(|_, _| {}),
            advance: std::sync::Arc::new(move |done, total| {
                b.set_length(total);
                b.set_position(done);
            }),
            cancel: progress::interrupt_flag(),
        };
        let r = op.ask(op.engine().trace_all_via(
            &caller,
            as_of,
            a.depth,
            out.clone(),
            progress,
            match a.via {
                _ if cluster.is_some() => engine::local::TraceVia::Sql,
                TraceVia::Index => engine::local::TraceVia::Index,
                TraceVia::Sql => engine::local::TraceVia::Sql,
            },
        ));
        bar.finish_and_clear();
        let r = r?;
        eprintln!(
            "{}, {} → {} in {:.2} s",
            plural(r.cases, "case", "cases"),
            plural(r.rows, "contact row", "contact rows"),
            out.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let id = a
        .case
        .as_deref()
        .ok_or_else(|| usage("name a case (a person id), or use --all --out FILE"))?;
    let request = format!("fangyi trace {}{at} --depth {}", id.trim(), a.depth);
    let caller = op.caller(Purpose::OutbreakResponse, &request);
    let format = crate::commands::table_format(a.format);
    if format == TableFormat::Csv {
        let csv = op.ask(op.engine().contacts_csv(&caller, id, as_of, a.depth))?;
        return crate::commands::print_or_broken_pipe(|w| Ok(w.write_all(csv.as_bytes())?));
    }
    let out = op.ask(op.engine().contacts(&caller, id, as_of, a.depth))?;
    crate::commands::print_or_broken_pipe(|w| {
        match format {
            TableFormat::Table => print_trace(w, &out)?,
            _ => writeln!(w, "{}", serde_json::to_string(&out)?)?,
        }
        Ok(())
    })
}

/// One line per piece of evidence, as an operator reads it.
pub fn evidence_text(e: &EvidenceOut) -> String {
    let span = if e.from == e.to {
        e.from.clone()
    } else {
        format!("{} – {}", e.from, e.to)
    };
    let what = match e.kind {
        "rail" => format!(
            "rail {} {} car {}",
            e.service_no.as_deref().unwrap_or(""),
            e.service_date.as_deref().unwrap_or(""),
            e.car.clone().flatten().unwrap_or_else(|| "?".into())
        ),
        "flight" => format!(
            "flight {} {} seat {}",
            e.service_no.as_deref().unwrap_or(""),
            e.service_date.as_deref().unwrap_or(""),
            e.seat.clone().flatten().unwrap_or_else(|| "?".into())
        ),
        "vehicle" => format!(
            "vehicle pass {} at {}",
            e.pass_id.as_deref().unwrap_or(""),
            e.checkpoint_id.as_deref().unwrap_or("?")
        ),
        "venue" => format!("venue {}", e.venue_id.as_deref().unwrap_or("")),
        "household" => format!("household {}", e.household_id.as_deref().unwrap_or("")),
        other => format!(
            "{other} {} {}",
            e.service_no.as_deref().unwrap_or(""),
            e.service_date.as_deref().unwrap_or("")
        ),
    };
    format!("{what}, {span}")
}

fn print_trace(w: &mut dyn Write, t: &TraceOut) -> anyhow::Result<()> {
    writeln!(
        w,
        "case {}: reported {}, onset {}, infectious {} to {}",
        t.case.person_id,
        t.case.report_time,
        t.case.onset_date,
        t.case.window.from,
        t.case.window.to
    )?;
    let d2 = t.contacts.iter().filter(|c| c.degree == 2).count();
    writeln!(
        w,
        "{} close contacts as of {}{}",
        t.contacts.len(),
        t.as_of,
        if d2 > 0 {
            format!(" ({} of degree 2)", d2)
        } else {
            String::new()
        }
    )?;
    if t.contacts.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "\n{:<18}  {:>3}  {:<18}  {:<4}  {:<25}  {:<25}  {:<10}  evidence",
        "person_id", "deg", "via", "case", "first_exposure", "last_exposure", "quarantine"
    )?;
    for c in &t.contacts {
        let mut evidence = c.evidence.iter().map(evidence_text);
        writeln!(
            w,
            "{:<18}  {:>3}  {:<18}  {:<4}  {:<25}  {:<25}  {:<10}  {}",
            c.person_id,
            c.degree,
            c.via,
            if c.is_case { "yes" } else { "" },
            c.first_exposure,
            c.last_exposure,
            c.quarantine_until,
            evidence.next().unwrap_or_default()
        )?;
        for more in evidence {
            writeln!(w, "{:>126}  {more}", "")?;
        }
    }
    Ok(())
}

pub fn cotravel(g: &Globals, a: CotravelArgs) -> anyhow::Result<()> {
    {
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        context::warn_default_as_of(&store, a.as_of.as_deref());
        parse_as_of(a.as_of.as_deref(), store.zone())?;
        ensure_index(&store)?;
    }
    // The API's self-check itself: the same validation, counts and view.
    let params = engine::tracing_api::CotravelParams {
        mode: a.mode.clone(),
        service: a.service.clone(),
        date: a.date.clone(),
        car: a.car.clone(),
        seat: a.seat.clone(),
        as_of: a.as_of.clone(),
    };
    let op = Operator::open(g)?;
    let q = op.ask(op.engine().cotravel(params)).map_err(|e| {
        if e.is::<crate::exit::Usage>() {
            usage(format!("--{e}"))
        } else {
            e
        }
    })?;
    let json = serde_json::to_string(&q)?;
    match crate::commands::table_format(a.format) {
        TableFormat::Json | TableFormat::Csv => println!("{json}"),
        TableFormat::Table => {
            let place = match (&q.car, &q.seat) {
                (Some(c), _) => format!(" car {c}"),
                (_, Some(s)) => format!(" near seat {s} (within 3 rows)"),
                _ => String::new(),
            };
            if q.cases == 0 {
                println!(
                    "no confirmed or asymptomatic case is known to have travelled on {} {} {}{place}",
                    q.mode, q.service_no, q.service_date
                );
            } else {
                println!(
                    "{} case{} travelled on {} {} {}{place}; {} of them while infectious. \
                     If you were aboard, report to your community and watch for symptoms for 14 days.",
                    q.cases,
                    if q.cases == 1 { "" } else { "s" },
                    q.mode,
                    q.service_no,
                    q.service_date,
                    q.infectious
                );
            }
        }
    }
    Ok(())
}

pub fn index(g: &Globals, a: IndexArgs) -> anyhow::Result<()> {
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    if a.rebuild {
        store.remove_index()?;
    }
    match store.index_freshness()? {
        Freshness::Current if !a.rebuild => {}
        _ => update_index(&store, false)?,
    }
    let index = store.index_summary()?;
    println!(
        "trace index: {} events in {} segment{}: {}",
        thousands(index.events),
        index.segments,
        if index.segments == 1 { "" } else { "s" },
        index
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
