//! `fangyi ingest`: validate sources into the data dir, with a progress bar and a summary
//! (text, or the contract's one-line JSON).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::Args;
use engine::Zone;
use engine::datadir::{IngestError, IngestOptions, IngestProgress, IngestSummary};

use crate::cli::SummaryFormat;
use crate::commands::{Globals, human_bytes, plural, thousands};
use crate::exit::usage;
use crate::progress;

pub fn ingest(
    g: &Globals,
    paths: &[PathBuf],
    opts: &IngestOptions,
    zone: Zone,
) -> anyhow::Result<IngestSummary> {
    let keys = g.keys()?;
    let cancel = progress::interrupt_flag();
    let bar = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
    let on_progress = |p: IngestProgress| {
        let mut b = bar.lock().expect("bar lock");
        match p {
            IngestProgress::Started { bytes, .. } => {
                *b = Some(progress::bytes_bar(bytes, "ingest"))
            }
            IngestProgress::Bytes(n) => {
                if let Some(b) = b.as_ref() {
                    b.inc(n);
                }
            }
            IngestProgress::Finished(r) => {
                if let Some(b) = b.as_ref() {
                    b.set_message(r.path.rsplit('/').next().unwrap_or("").to_string());
                }
            }
        }
    };
    let waiting = || {
        eprintln!(
            "waiting for another writer of {} to finish…",
            g.data().display()
        );
    };
    let result = engine::datadir::ingest_files(
        g.data(),
        &keys,
        zone,
        paths,
        opts,
        &on_progress,
        &cancel,
        waiting,
    );
    if let Some(b) = bar.lock().expect("bar lock").take() {
        b.finish_and_clear();
    }
    match result {
        Ok(s) => Ok(s),
        Err(IngestError::Input { path, reason }) => {
            Err(usage(format!("{}: {reason}", path.display())))
        }
        Err(e @ IngestError::Interrupted { .. }) if cancel.load(Ordering::SeqCst) => Err(e.into()),
        Err(e @ IngestError::Store(_)) => {
            Err(anyhow::Error::new(e).context(format!("opening {}", g.data().display())))
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_zone(zone: &str) -> anyhow::Result<Zone> {
    Zone::parse(zone).ok_or_else(|| usage(format!("--zone {zone}: not an offset like +08:00")))
}

/// `fangyi init`: an empty data dir (its manifest) with the zone and the key's fingerprint.
pub fn init(g: &Globals, a: InitArgs) -> anyhow::Result<()> {
    let zone = parse_zone(&a.zone)?;
    let keys = g.keys()?;
    let m = engine::datadir::init(g.data(), &keys, zone)
        .with_context(|| format!("opening {}", g.data().display()))?;
    if m.existed {
        if m.zone != zone {
            eprintln!(
                "warning: --zone {zone} ignored: the data dir's zone was fixed at {} when it was created",
                m.zone
            );
        }
        println!(
            "{} is a fangyi data dir already ({}, zone {})",
            g.data().display(),
            plural(m.sources as u64, "source", "sources"),
            m.zone
        );
    } else {
        println!(
            "created an empty data dir at {} (zone {zone}); `fangyi --data {} ingest FILES…` loads data",
            g.data().display(),
            g.data().display()
        );
    }
    Ok(())
}

pub fn run(g: &Globals, a: IngestArgs) -> anyhow::Result<()> {
    let kind = match &a.kind {
        None => None,
        Some(k) => Some(engine::Kind::parse(k).ok_or_else(|| {
            let known: Vec<_> = engine::Kind::ALL.iter().map(|k| k.name()).collect();
            usage(format!("--kind {k}: not a kind ({})", known.join(", ")))
        })?),
    };
    let zone = match &a.zone {
        None => Zone::CST,
        Some(z) => {
            let zone = parse_zone(z)?;
            let fixed = crate::context::zone_or(g.data(), zone)?;
            if fixed != zone {
                eprintln!(
                    "warning: --zone {zone} ignored: {} counts days in {fixed}, fixed when it was created",
                    g.data().display()
                );
            }
            zone
        }
    };
    let mut opts = IngestOptions {
        kind,
        ..IngestOptions::default()
    };
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    let s = ingest(g, &a.paths, &opts, zone)?;
    if !a.no_index && s.files > s.files_duplicate {
        let keys = g.keys()?;
        let store = crate::context::store(g.data(), &keys)?;
        super::trace_cmd::update_index(&store, a.format == SummaryFormat::Json)?;
    }
    match a.format {
        SummaryFormat::Json => {
            let line = serde_json::json!({
                "files": s.files,
                "rows_accepted": s.rows_accepted,
                "rows_rejected": s.rows_rejected,
                "rejects": s.rejects.display().to_string(),
            });
            println!("{line}");
        }
        SummaryFormat::Text => print_summary(&s),
    }
    Ok(())
}

pub fn print_summary(s: &IngestSummary) {
    let secs = s.elapsed_secs.max(1e-9);
    let rows = s.rows_accepted + s.rows_rejected;
    println!(
        "ingested {} ({} already present): {} accepted, {} rejected, {} read in {:.1} s ({} rows/s)",
        plural(s.files, "file", "files"),
        thousands(s.files_duplicate),
        plural(s.rows_accepted, "row", "rows"),
        thousands(s.rows_rejected),
        human_bytes(s.bytes),
        secs,
        thousands((rows as f64 / secs) as u64)
    );
    for (kind, c) in &s.by_kind {
        if c.rows_accepted + c.rows_rejected > 0 {
            println!(
                "  {:<14} {:>14} accepted {:>10} rejected",
                kind,
                thousands(c.rows_accepted),
                thousands(c.rows_rejected)
            );
        }
    }
    for r in s.sources.iter().filter(|r| !r.ignored_columns.is_empty()) {
        println!(
            "  note: {} has columns the contract does not know, ignored: {}",
            r.path,
            r.ignored_columns.join(", ")
        );
    }
    for r in &s.sources {
        if let Some(why) = &r.refused {
            println!("  refused {}: {why} (not recorded)", r.path);
        }
    }
    // One line per reason, not per file: a folder of notes is one remark.
    let mut skipped: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (p, why) in &s.not_input {
        skipped
            .entry(why.as_str())
            .or_default()
            .push(p.display().to_string());
    }
    for (why, paths) in skipped {
        let named = match paths.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} and {b}"),
            [a, b, ..] => format!(
                "{a}, {b} and {}",
                plural(paths.len() as u64 - 2, "other file", "other files")
            ),
            [] => continue,
        };
        println!("  skipped {named}: {why}");
    }
    println!("rejects: {}", s.rejects.display());
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Deployment zone the data dir counts calendar days in, fixed when it is created.
    #[arg(long, default_value = "+08:00")]
    pub zone: String,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Read every file as this kind instead of naming it by its file name.
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Deployment zone of a data dir created now (default +08:00); an existing one keeps its
    /// own.
    #[arg(long)]
    pub zone: Option<String>,
    /// Do not update the trace index afterwards (the next trace does it).
    #[arg(long)]
    pub no_index: bool,
}
