//! `fangyi code`, `codes` and `rules`: health codes for one person or everyone, and the rule set.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::{Args, Subcommand};
use engine::datadir::{Color, RuleSet, SweepProgress};
use engine::{Date, PersonId, Timestamp, Zone};
use indicatif::ProgressBar;

use crate::cli::{SummaryFormat, TextFormat};
use crate::commands::signing::CodeAction;
use crate::commands::trace_cmd::ensure_index;
use crate::commands::{Globals, plural, thousands};
use crate::context;
use crate::exit::usage;
use crate::operator::Operator;
use crate::progress;

#[derive(Args, Debug)]
pub struct CodeArgs {
    /// The person's ID number.
    #[arg(required = true)]
    pub person: Option<String>,
    /// The end of this date (YYYY-MM-DD) in the deployment zone; default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Output (default: text on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
    /// A rule set file instead of the built-in one (`fangyi rules show` prints that).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    #[command(subcommand)]
    pub action: Option<CodeAction>,
}

#[derive(Args, Debug)]
pub struct CodesArgs {
    /// The end of this date (YYYY-MM-DD) in the deployment zone; default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// The file to write (.csv or .parquet).
    #[arg(long)]
    pub out: PathBuf,
    /// A rule set file instead of the built-in one.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Recompute everyone, ignoring the previous run.
    #[arg(long)]
    pub full: bool,
    /// Trace a full sweep's cases (every case's contacts, `trace --all`'s statement) on the
    /// Ballista cluster whose scheduler is at HOST:PORT (see `fangyi cluster`); the rest is
    /// lookups on the local index, and an incremental run stays local.
    #[arg(long, env = "FANGYI_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
    /// Print the summary as JSON.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

/// `--as-of` for codes: a date (the end of that day in the deployment zone), or a time whose
/// date is taken; absent, today.
pub fn parse_as_of_date(s: Option<&str>, zone: Zone) -> anyhow::Result<Date> {
    match s.map(str::trim) {
        Some(s) if Date::parse(s.as_bytes()).is_ok() => Ok(Date::parse(s.as_bytes())?),
        other => {
            let t = crate::commands::trace_cmd::parse_as_of(other, zone)?;
            Ok(Timestamp(t).date(zone))
        }
    }
}

fn load_rules(path: Option<&Path>) -> anyhow::Result<RuleSet> {
    RuleSet::load_or_builtin(path).map_err(|e| usage(e.to_string()))
}

pub fn run(g: &Globals, a: CodeArgs) -> anyhow::Result<()> {
    let person = a
        .person
        .as_deref()
        .ok_or_else(|| usage("name a person (an ID number)"))?;
    let format = a.format.unwrap_or(if std::io::stdout().is_terminal() {
        TextFormat::Text
    } else {
        TextFormat::Json
    });
    let code = person_code(g, person, a.as_of.as_deref(), a.rules.as_deref())?;
    crate::commands::print_or_broken_pipe(|w| {
        match format {
            TextFormat::Json => writeln!(w, "{}", serde_json::to_string(&code)?)?,
            TextFormat::Text => print_code(w, &code)?,
        }
        Ok(())
    })
}

/// One person's code from the engine, as the operator may see it (`--as-role`, `--purpose`),
/// under `rules` (default the built-in set); audited there. An error names the id as typed.
pub fn person_code(
    g: &Globals,
    person: &str,
    as_of: Option<&str>,
    rules: Option<&Path>,
) -> anyhow::Result<engine::codes::CodeView> {
    let set = load_rules(rules)?;
    {
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        context::warn_default_as_of(&store, as_of);
        ensure_index(&store)?;
    }
    let op = Operator::open_with(g, |o| {
        o.rules = set;
        Ok(())
    })?;
    let mut request = format!("fangyi code {}", person.trim());
    if let Some(t) = as_of {
        request.push_str(&format!(" --as-of {}", t.trim()));
    }
    let caller = op.caller(engine::Purpose::HealthCode, &request);
    op.ask_about(person, op.engine().person_code(&caller, person, as_of))
}

fn print_code(w: &mut dyn Write, code: &engine::codes::CodeView) -> anyhow::Result<()> {
    let until = code
        .valid_until
        .as_ref()
        .map_or_else(String::new, |d| format!(" until {d}"));
    writeln!(
        w,
        "{}: {}{until} (as of the end of {})",
        code.person_id,
        code.color.to_uppercase(),
        code.as_of
    )?;
    if code.registered == Some(false) {
        writeln!(
            w,
            "  not registered: no row in persons; the color comes from their records alone"
        )?;
    }
    if code.reasons.is_empty() {
        writeln!(w, "  no rule applies")?;
    }
    for r in &code.reasons {
        writeln!(w, "  {:<7} {:<20} {}", r.color, r.rule, r.detail)?;
    }
    Ok(())
}

/// What `codes` wrote: the engine's report (examples as the caller's view shows them).
pub use engine::local::CodesReport;

/// Progress shown on one bar, a stage at a time, and Ctrl-C asking the work to stop.
pub fn progress_bar(first: &str) -> (ProgressBar, engine::local::Progress) {
    let bar = progress::steps_bar(0, first);
    let (b1, b2) = (bar.clone(), bar.clone());
    let p = engine::local::Progress {
        stage: Arc::new(move |name, total| {
            b1.set_prefix(name.to_string());
            b1.set_length(total);
            b1.set_position(0);
        }),
        advance: Arc::new(move |done, total| {
            b2.set_length(total);
            b2.set_position(done);
        }),
        cancel: progress::interrupt_flag(),
    };
    (bar, p)
}

/// Shows a sweep's stages on one bar.
struct SweepBar(Mutex<Option<ProgressBar>>);

impl SweepProgress for SweepBar {
    fn stage(&self, name: &str, total: u64) {
        let mut b = self.0.lock().expect("bar");
        if let Some(old) = b.take() {
            old.finish_and_clear();
        }
        *b = Some(progress::steps_bar(total, name));
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &*self.0.lock().expect("bar") {
            b.inc(n);
        }
    }
}

impl SweepBar {
    fn new() -> SweepBar {
        SweepBar(Mutex::new(None))
    }

    fn done(&self) {
        if let Some(b) = self.0.lock().expect("bar").take() {
            b.finish_and_clear();
        }
    }
}

/// Asks the engine for everyone's code as of the end of `as_of` under `set`, written to `out`
/// (incremental unless `full`; a full sweep's cases traced on `cluster` if one is named), as
/// the operator for `--purpose` or outbreak response.
pub fn write_codes(
    g: &Globals,
    set: &RuleSet,
    as_of: Option<&str>,
    out: &Path,
    full: bool,
    cluster: Option<&str>,
) -> anyhow::Result<CodesReport> {
    let cluster = cluster.map(str::trim).filter(|c| !c.is_empty());
    {
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        context::warn_default_as_of(&store, as_of);
        ensure_index(&store)?;
    }
    let set = set.clone();
    let op = Operator::open_with(g, |o| {
        o.rules = set;
        o.cluster = cluster.map(str::to_string);
        Ok(())
    })?;
    let request = format!(
        "fangyi codes --as-of {} --out {}{}{}",
        as_of.unwrap_or("today"),
        out.display(),
        if full { " --full" } else { "" },
        cluster.map_or(String::new(), |c| format!(" --cluster {c}"))
    );
    let caller = op.caller(engine::Purpose::OutbreakResponse, &request);
    let (bar, progress) = progress_bar("sweep");
    let r = op.ask(
        op.engine()
            .codes_to(&caller, as_of, out.to_path_buf(), full, progress),
    );
    bar.finish_and_clear();
    r
}

/// The counts line of a codes report.
pub fn print_counts(r: &CodesReport, out: &Path) {
    println!(
        "{} as of the end of {}: {} green, {} yellow, {} red → {}",
        plural(r.persons, "person", "persons"),
        r.as_of,
        thousands(r.counts[0]),
        thousands(r.counts[1]),
        thousands(r.counts[2]),
        out.display()
    );
}

pub fn codes(g: &Globals, a: CodesArgs) -> anyhow::Result<()> {
    let set = load_rules(a.rules.as_deref())?;
    let r = write_codes(
        g,
        &set,
        a.as_of.as_deref(),
        &a.out,
        a.full,
        a.cluster.as_deref(),
    )?;
    // Said, so an operator who set FANGYI_CLUSTER does not take a local run for a cluster's.
    if r.incremental.is_some() && a.cluster.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        eprintln!(
            "--cluster not used: this run recomputed only the people new records touch, on the \
             local index (--full sweeps everyone, tracing the cases on the cluster)"
        );
    }
    if a.format == SummaryFormat::Json {
        println!(
            "{}",
            serde_json::json!({
                "as_of": r.as_of.to_string(),
                "rules": set.name,
                "persons": r.persons,
                "green": r.counts[0], "yellow": r.counts[1], "red": r.counts[2],
                "examined": r.examined,
                "incremental": r.incremental.is_some(),
                "new_sources": r.incremental.map(|i| i.0),
                "recomputed": r.incremental.map_or(r.examined, |i| i.1),
                "cases_traced": r.cases_traced,
                "out": a.out.display().to_string(),
                "seconds": r.seconds,
            })
        );
    } else {
        print_counts(&r, &a.out);
        if let Some((sources, people)) = r.incremental {
            println!(
                "incremental: {} ingested since the last run for this day and rules touch {} (with their contacts); recomputed them in {:.2} s, written in {:.2} s",
                plural(sources as u64, "source", "sources"),
                plural(people, "person", "people"),
                r.sweep_seconds,
                r.seconds - r.sweep_seconds
            );
            return Ok(());
        }
        println!(
            "examined {} a rule could touch (contacts of {}) in {:.2} s; written in {:.2} s",
            plural(r.examined, "person", "people"),
            plural(r.cases_traced, "case", "cases"),
            r.sweep_seconds,
            r.seconds - r.sweep_seconds
        );
    }
    Ok(())
}

/// Prints one person's code as text (the demo shows examples).
pub fn show_code(g: &Globals, id: &PersonId, as_of: &str) -> anyhow::Result<()> {
    let code = person_code(g, &id.to_string(), Some(as_of), None)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    print_code(&mut w, &code)
}

pub fn rules_show(a: RulesShowArgs) -> anyhow::Result<()> {
    let set = load_rules(a.rules.as_deref())?;
    print!("{}", set.text);
    // The override and the peer attestation are no rules of the file but apply beside every
    // set; said as TOML comments, so the output still reads as a rule set.
    let sep = if set.text.ends_with('\n') { "" } else { "\n" };
    println!("{sep}\n# {}", engine::datadir::OVERRIDE_DESCRIPTION);
    println!("# {}", engine::datadir::PEER_ATTESTATION_DESCRIPTION);
    if a.rules.is_some() {
        eprintln!("{}: {} rules, valid", set.origin, set.rules.len());
    }
    Ok(())
}

pub fn rules_diff(g: &Globals, a: RulesDiffArgs) -> anyhow::Result<()> {
    let proposed = load_rules(Some(&a.file))?;
    let current = load_rules(a.against.as_deref())?;
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    ensure_index(&store)?;
    context::warn_default_as_of(&store, a.as_of.as_deref());
    let as_of = parse_as_of_date(a.as_of.as_deref(), store.zone())?;
    let bar = SweepBar::new();
    let diff = store.rules_diff(&current, &proposed, as_of, &bar);
    bar.done();
    let diff = diff?;
    let (moves, persons) = (diff.moves, diff.persons);
    let changed: u64 = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .map(|(i, j)| moves[i][j])
        .sum();
    let count = |c: usize, under: usize| -> u64 {
        if under == 0 {
            moves[c].iter().sum()
        } else {
            moves.iter().map(|row| row[c]).sum()
        }
    };
    if a.format == SummaryFormat::Json {
        let mut m = serde_json::Map::new();
        for f in Color::ALL {
            for t in Color::ALL {
                if f != t {
                    m.insert(format!("{f}_to_{t}"), moves[f as usize][t as usize].into());
                }
            }
        }
        println!(
            "{}",
            serde_json::json!({
                "as_of": as_of.to_string(),
                "current": current.origin,
                "proposed": proposed.origin,
                "persons": persons,
                "changed": changed,
                "moves": m,
                "current_counts": Color::ALL.map(|c| count(c as usize, 0)),
                "proposed_counts": Color::ALL.map(|c| count(c as usize, 1)),
            })
        );
        return Ok(());
    }
    println!(
        "as of the end of {as_of}, {} of {} would change color under {} (against {}):",
        thousands(changed),
        plural(persons, "person", "persons"),
        proposed.origin,
        current.origin
    );
    println!(
        "{:>10} {:>12} {:>12} {:>12}",
        "now \\ then", "green", "yellow", "red"
    );
    for f in Color::ALL {
        println!(
            "{:>10} {:>12} {:>12} {:>12}",
            f.as_str(),
            thousands(moves[f as usize][0]),
            thousands(moves[f as usize][1]),
            thousands(moves[f as usize][2])
        );
    }
    for (name, under) in [("now", 0), ("then", 1)] {
        println!(
            "{name:>10}: {} green, {} yellow, {} red",
            thousands(count(0, under)),
            thousands(count(1, under)),
            thousands(count(2, under))
        );
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Print a rule set (the built-in one unless --rules names a file).
    Show(RulesShowArgs),
    /// How many people would change color under FILE compared with the current rules.
    #[command(
        after_help = "Examples:\n  fangyi rules diff strict.toml --as-of 2020-02-01\n  fangyi rules diff strict.toml --against old.toml"
    )]
    Diff(RulesDiffArgs),
}

#[derive(Args, Debug)]
pub struct RulesShowArgs {
    /// A rule set file to check and print in full.
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RulesDiffArgs {
    /// The proposed rule set.
    pub file: PathBuf,
    /// The rule set to compare with (default: the built-in one).
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// The end of this date (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print the summary as JSON.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}
