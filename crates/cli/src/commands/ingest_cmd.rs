//! `fangyi ingest`: validate sources into the data dir, with a progress bar and a summary
//! (text, or the contract's one-line JSON).

use std::sync::atomic::Ordering;

use anyhow::Context;
use ingest::{IngestError, Options, Progress, Summary};
use store::Writer;

use crate::cli::{IngestArgs, SummaryFormat};
use crate::commands::{Globals, human_bytes, thousands};
use crate::exit::usage;
use crate::progress;

pub fn ingest(
    g: &Globals,
    paths: &[std::path::PathBuf],
    opts: &Options,
    zone: model::Zone,
) -> anyhow::Result<Summary> {
    let keys = g.keys()?;
    let mut writer = Writer::open(g.data(), keys.key_id(), zone, || {
        eprintln!(
            "waiting for another writer of {} to finish…",
            g.data().display()
        );
    })
    .with_context(|| format!("opening {}", g.data().display()))?;
    let cancel = progress::interrupt_flag();
    let bar = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
    let on_progress = |p: Progress| {
        let mut b = bar.lock().expect("bar lock");
        match p {
            Progress::Started { bytes, .. } => *b = Some(progress::bytes_bar(bytes, "ingest")),
            Progress::Bytes(n) => {
                if let Some(b) = b.as_ref() {
                    b.inc(n);
                }
            }
            Progress::Finished(r) => {
                if let Some(b) = b.as_ref() {
                    b.set_message(r.path.rsplit('/').next().unwrap_or("").to_string());
                }
            }
        }
    };
    let result = ingest::run(&mut writer, &keys, paths, opts, &on_progress, &cancel);
    if let Some(b) = bar.lock().expect("bar lock").take() {
        b.finish_and_clear();
    }
    match result {
        Ok(s) => Ok(s),
        Err(IngestError::Input { path, reason }) => {
            Err(usage(format!("{}: {reason}", path.display())))
        }
        Err(e @ IngestError::Interrupted { .. }) if cancel.load(Ordering::SeqCst) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

pub fn run(g: &Globals, a: IngestArgs) -> anyhow::Result<()> {
    let kind = match &a.kind {
        None => None,
        Some(k) => Some(model::Kind::parse(k).ok_or_else(|| {
            let known: Vec<_> = model::Kind::ALL.iter().map(|k| k.name()).collect();
            usage(format!("--kind {k}: not a kind ({})", known.join(", ")))
        })?),
    };
    let zone = model::Zone::parse(&a.zone)
        .ok_or_else(|| usage(format!("--zone {}: not an offset like +08:00", a.zone)))?;
    let mut opts = Options {
        kind,
        ..Options::default()
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

pub fn print_summary(s: &Summary) {
    let secs = s.elapsed_secs.max(1e-9);
    let rows = s.rows_accepted + s.rows_rejected;
    println!(
        "ingested {} files ({} already present): {} rows accepted, {} rejected, {} read in {:.1} s ({} rows/s)",
        s.files,
        s.files_duplicate,
        thousands(s.rows_accepted),
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
    for (p, why) in &s.not_input {
        println!("  skipped {}: {why}", p.display());
    }
    println!("rejects: {}", s.rejects.display());
}
