//! `fangyi gen`: the synthetic province generator with a progress bar and a summary.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::commands::{human_bytes, plural, thousands};
use crate::exit::usage;
use crate::progress;

pub fn config(a: &GenArgs) -> anyhow::Result<synth::Config> {
    let region: engine::Region = a
        .region
        .parse()
        .map_err(|e| usage(format!("--region {}: {e}", a.region)))?;
    let start: engine::Date = a
        .start
        .parse()
        .map_err(|e| usage(format!("--start {}: {e}", a.start)))?;
    let mut rates = synth::Rates::default();
    if let Some(r) = &a.rates {
        rates = r
            .parse()
            .map_err(|e| usage(format!("--rates: {e} (see --rates help)")))?;
    }
    Ok(synth::Config {
        persons: a.persons,
        days: a.days,
        start,
        seed: a.seed,
        region,
        format: match a.format {
            GenFormat::Csv => synth::Format::Csv,
            GenFormat::Jsonl => synth::Format::Jsonl,
            GenFormat::Parquet => synth::Format::Parquet,
        },
        bad_row_rate: a.bad_rows,
        rates,
        zone: engine::Zone::CST,
        power_baseline_days: a.power_baseline_days,
        power_last_year: true,
    })
}

/// Runs the generator with a progress bar.
pub fn generate(config: &synth::Config, out: &std::path::Path) -> anyhow::Result<synth::Summary> {
    let cancel = progress::interrupt_flag();
    let bar = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
    let on_progress = |p: synth::Progress| {
        let mut b = bar.lock().expect("bar lock");
        match p {
            synth::Progress::Started { total_steps } => {
                *b = Some(progress::steps_bar(total_steps, "generate"))
            }
            synth::Progress::Step { done, what } => {
                if let Some(b) = b.as_ref() {
                    b.set_position(done);
                    b.set_message(what);
                }
            }
            synth::Progress::Finished => {
                if let Some(b) = b.take() {
                    b.finish_and_clear();
                }
            }
        }
    };
    let result = synth::generate(config, out, &on_progress, &cancel);
    if let Some(b) = bar.lock().expect("bar lock").take() {
        b.finish_and_clear();
    }
    if cancel.load(Ordering::SeqCst) {
        anyhow::bail!(
            "interrupted: {} holds the files finished so far (no half-written file)",
            out.display()
        );
    }
    result.map_err(|e| match e {
        synth::Error::Config(m) => usage(m),
        other => anyhow::Error::new(other),
    })
}

/// The rate keys with their defaults, ranges and meanings.
fn rates_help() -> String {
    let defaults = synth::Rates::default();
    let mut text = String::from(
        "Rates for --rates KEY=VALUE,KEY=VALUE (key, default, allowed range, meaning):\n",
    );
    for (key, lo, hi, doc) in synth::Rates::KEYS {
        let default = defaults.get(key).expect("every key has a default");
        // The doc comment's lines, joined into one.
        let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let range = format!("{lo}..{hi}");
        text.push_str(&format!("  {key:<22} {default:<8} {range:<14} {doc}\n"));
    }
    text
}

pub fn run(a: GenArgs) -> anyhow::Result<()> {
    if a.rates.as_deref() == Some("help") {
        print!("{}", rates_help());
        return Ok(());
    }
    let config = config(&a)?;
    let out = a
        .out
        .clone()
        .ok_or_else(|| usage("--out DIR is required"))?;
    clear_previous(&out)?;
    let s =
        generate(&config, &out).with_context(|| format!("generating into {}", out.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    print_summary(&s, &out);
    Ok(())
}

/// Makes `out` ready for a new province: a new or empty folder as it is; an earlier province
/// (its `truth/` marked) loses the files that run listed, so no file of another size or span
/// is left to be ingested with the new ones; any other folder is refused — the generator would
/// overwrite files of the same names there.
pub fn clear_previous(out: &std::path::Path) -> anyhow::Result<()> {
    if !out.exists() || std::fs::read_dir(out)?.next().is_none() {
        return Ok(());
    }
    let truth = out.join("truth");
    if !truth.join(engine::datadir::GROUND_TRUTH_MARKER).exists() {
        return Err(usage(format!(
            "{} is not empty and is not a province fangyi gen wrote; pick a new or empty --out",
            out.display()
        )));
    }
    let listed = std::fs::read_to_string(truth.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let names: Vec<String> = match listed {
        Some(listed) => listed["files_detail"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["file"].as_str().map(str::to_string))
            .collect(),
        // An interrupted run wrote no summary: its files are those named after a kind.
        None => std::fs::read_dir(out)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| engine::Kind::from_file_name(n).is_some())
            .collect(),
    };
    for name in names.iter().filter(|n| !n.contains(['/', '\\'])) {
        let _ = std::fs::remove_file(out.join(name));
    }
    std::fs::remove_dir_all(&truth).with_context(|| format!("clearing {}", truth.display()))?;
    Ok(())
}

pub fn print_summary(s: &synth::Summary, out: &std::path::Path) {
    let rows: u64 = s.rows.values().sum();
    let bad: u64 = s.bad_rows.values().sum();
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    println!(
        "generated {}, {} ({} bad on purpose) in {}, {} on disk, in {:.1} s ({} rows/s)",
        plural(s.residents, "resident", "residents"),
        plural(rows, "row", "rows"),
        thousands(bad),
        plural(s.files, "file", "files"),
        human_bytes(s.bytes),
        secs,
        thousands((rows as f64 / secs) as u64)
    );
    for (kind, n) in &s.rows {
        let b = s.bad_rows.get(kind).copied().unwrap_or(0);
        println!(
            "  {:<14} {:>14}{}",
            kind.name(),
            thousands(*n),
            if b > 0 {
                format!("  (+{} bad)", thousands(b))
            } else {
                String::new()
            }
        );
    }
    println!(
        "outbreak: {}, {}; ground truth in {}",
        plural(s.infections, "infection", "infections"),
        plural(s.cases, "case", "cases"),
        out.join("truth").display()
    );
    if s.cases == 0 {
        println!(
            "  no case was reported in these days, so there is nothing to trace: tests began on 2020-01-19 and a report takes days after onset; generate three weeks or more from --start 2020-01-14 (--days 21)"
        );
    }
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Residents.
    #[arg(long, default_value_t = 100_000)]
    pub persons: u64,
    /// Days simulated from --start.
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Output folder.
    #[arg(long, required_unless_present = "rates")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = GenFormat::Csv)]
    pub format: GenFormat,
    /// Home area: a province (330000) or prefecture (330300) code.
    #[arg(long, default_value = "330000")]
    pub region: String,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2020-01-14")]
    pub start: String,
    /// Share of extra, deliberately bad rows to inject (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub bad_rows: f64,
    /// Override rates, e.g. `checkins=2.0,transmission=2` (`--rates help` lists them).
    #[arg(long)]
    pub rates: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Days of power readings up to December 31 of the year before --start (the power index's
    /// baseline; default October 1 to December 31; 0: none).
    #[arg(long, default_value_t = 92)]
    pub power_baseline_days: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GenFormat {
    Csv,
    Jsonl,
    Parquet,
}
