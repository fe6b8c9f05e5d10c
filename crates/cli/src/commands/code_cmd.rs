//! `fangyi code`, `codes` and `rules`: health codes for one person or everyone, and the rule set.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use model::{Date, PersonId, Timestamp, Zone};
use rules::saved::{self, RunKey, SavedCodes};
use rules::{CodeEngine, Color, RiskAreas, RuleSet, Summary, SweepProgress};
use store::Store;
use trace::Index;
use vault::Keys;

use crate::cli::{CodeArgs, CodesArgs, RulesDiffArgs, RulesShowArgs, SummaryFormat, TextFormat};
use crate::commands::trace_cmd::open_index;
use crate::commands::{Globals, plural, thousands};
use crate::context;
use crate::exit::usage;
use crate::operator::Operator;
use crate::progress;

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

/// What every code command opens: keys, store, index and risk areas.
struct Opened {
    keys: Keys,
    store: Store,
    index: Index,
    risk: RiskAreas,
}

impl Opened {
    fn open(g: &Globals) -> anyhow::Result<Opened> {
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        let index = open_index(&store)?;
        let risk = RiskAreas::load(&store)?;
        Ok(Opened {
            keys,
            store,
            index,
            risk,
        })
    }

    fn engine(&self) -> CodeEngine<'_> {
        CodeEngine::new(&self.index, self.risk.clone(), self.store.zone())
    }
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
        open_index(&store)?;
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

/// What `codes` wrote.
pub struct CodesReport {
    pub as_of: Date,
    pub persons: u64,
    /// Per color: green, yellow, red.
    pub counts: [u64; 3],
    pub examined: u64,
    pub cases_traced: u64,
    pub sweep_seconds: f64,
    pub seconds: f64,
    /// A person of each color, when there is one (for the demo's examples).
    pub examples: [Option<PersonId>; 3],
    /// Set when the run reused the last one: sources new since, and people recomputed.
    pub incremental: Option<(usize, u64)>,
}

/// Computes everyone's code as of the end of `as_of` under `set` and writes them to `out`.
pub fn write_codes(
    g: &Globals,
    set: &RuleSet,
    as_of: Option<&str>,
    out: &Path,
    full: bool,
) -> anyhow::Result<CodesReport> {
    let started = Instant::now();
    let o = Opened::open(g)?;
    let zone = o.store.zone();
    context::warn_default_as_of(&o.store, as_of);
    let as_of = parse_as_of_date(as_of, zone)?;
    let engine = o.engine();
    let run = RunKey::new(&o.store, as_of, &set.digest);
    let saved = if full {
        None
    } else {
        SavedCodes::load(&o.store, &run)?
    };
    let mut incremental = None;
    let mut examined = 0;
    let mut cases_traced = 0;
    let codes = match saved {
        // Only what sources ingested since the last run touch, unless one changes everyone
        // (risk areas) or second-degree rules make the reach of a new record unbounded.
        Some(mut saved) => {
            let ch = saved::changes(&o.store, &saved)?;
            if ch.everyone || (set.contact_depth() == 2 && !ch.new_sources.is_empty()) {
                None
            } else {
                let affected = engine.affected(set, &ch.persons, as_of);
                for p in &affected {
                    saved.codes.remove(p);
                }
                for (p, s) in engine.recompute(set, &affected, as_of) {
                    if s.color != Color::Green {
                        saved.codes.insert(p, s);
                    }
                }
                incremental = Some((ch.new_sources.len(), affected.len() as u64));
                examined = affected.len() as u64;
                Some(saved.codes)
            }
        }
        None => None,
    };
    let codes = match codes {
        Some(c) => c,
        None => {
            let bar = SweepBar::new();
            let sweep = engine.sweep(&[set], as_of, &bar);
            bar.done();
            examined = sweep.examined;
            cases_traced = sweep.cases_traced;
            sweep
                .codes
                .into_iter()
                .map(|(p, mut v)| (p, v.swap_remove(0)))
                .collect()
        }
    };
    let state = SavedCodes {
        sources: saved::all_sources(&o.store),
        codes,
    };
    state.save(&o.store, &run)?;
    let swept = started.elapsed();

    // Everyone in `persons`, in id order.
    let mut people: Vec<(u64, i64)> = rules::persons(&o.store)?
        .into_iter()
        .map(|p| {
            let n = o
                .keys
                .pseudonyms
                .reveal(p)
                .map_or(u64::MAX, PersonId::number);
            (n, p)
        })
        .collect();
    people.sort_unstable();
    let cancel = progress::interrupt_flag();
    let bar = progress::steps_bar(people.len() as u64, "write");
    let mut writer =
        rules::CodesWriter::create(out).with_context(|| format!("creating {}", out.display()))?;
    let green = Summary::green();
    let mut counts = [0u64; 3];
    let mut examples = [None; 3];
    for (i, (n, p)) in people.iter().enumerate() {
        if i % 65_536 == 0 {
            bar.set_position(i as u64);
            if cancel.load(Ordering::SeqCst) {
                drop(writer);
                let name = out.file_name().unwrap_or_default().to_string_lossy();
                let _ = std::fs::remove_file(out.with_file_name(format!(".{name}.tmp")));
                anyhow::bail!("interrupted; {} not written", out.display());
            }
        }
        let s = state.codes.get(p).unwrap_or(&green);
        let c = s.color as usize;
        counts[c] += 1;
        let id = PersonId::from_number(*n);
        if examples[c].is_none() {
            examples[c] = id;
        }
        let id = id.map_or_else(|| format!("#{p}"), |id| id.to_string());
        writer.write(&id, s)?;
    }
    bar.finish_and_clear();
    let persons = writer.finish()?;
    Ok(CodesReport {
        as_of,
        persons,
        counts,
        examined,
        cases_traced,
        sweep_seconds: swept.as_secs_f64(),
        seconds: started.elapsed().as_secs_f64(),
        examples,
        incremental,
    })
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
    let keys = g.keys()?;
    let request = format!(
        "fangyi codes --as-of {} --out {}",
        a.as_of.as_deref().unwrap_or("today"),
        a.out.display()
    );
    // Checked before the file is written: a refused purpose gets nothing.
    let purpose = context::check(
        g,
        &keys,
        privacy::Action::CommunityCodes,
        privacy::Purpose::OutbreakResponse,
        &request,
    )?;
    let r = write_codes(g, &set, a.as_of.as_deref(), &a.out, a.full)?;
    context::record(
        g,
        &keys,
        privacy::Action::CommunityCodes,
        purpose,
        request,
        Vec::new(),
        r.persons as i64,
    )?;
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
    if a.rules.is_some() {
        eprintln!("{}: {} rules, valid", set.origin, set.rules.len());
    }
    Ok(())
}

pub fn rules_diff(g: &Globals, a: RulesDiffArgs) -> anyhow::Result<()> {
    let proposed = load_rules(Some(&a.file))?;
    let current = load_rules(a.against.as_deref())?;
    let o = Opened::open(g)?;
    context::warn_default_as_of(&o.store, a.as_of.as_deref());
    let as_of = parse_as_of_date(a.as_of.as_deref(), o.store.zone())?;
    let engine = o.engine();
    let bar = SweepBar::new();
    let sweep = engine.sweep(&[&current, &proposed], as_of, &bar);
    bar.done();
    let population = rules::persons(&o.store)?;
    // moves[from][to], over people in `persons`; everyone not swept is green under both.
    let mut moves = [[0u64; 3]; 3];
    for p in &population {
        let (from, to) = sweep
            .codes
            .get(p)
            .map_or((Color::Green, Color::Green), |v| (v[0].color, v[1].color));
        moves[from as usize][to as usize] += 1;
    }
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
                "persons": population.len(),
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
        plural(population.len() as u64, "person", "persons"),
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
