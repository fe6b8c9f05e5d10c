//! `fangyi import`: public datasets (Baidu migration shares, DXY case counts) converted to the
//! store's public kinds and ingested through the ordinary path, so they are validated,
//! deduplicated (importing twice adds nothing) and queryable like any input.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::Zone;
use engine::import_api::{self, ImportFile, OpenDataError, RiskRule};

use crate::commands::ingest_cmd::{ingest, print_summary};
use crate::commands::{Globals, plural, thousands};
use crate::exit::usage;

pub fn run(g: &Globals, c: ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::BaiduMigration(a) => baidu(g, &a.dir),
        ImportCommand::DxyCases(a) => dxy(g, &a),
    }
}

fn read_error(e: OpenDataError) -> anyhow::Error {
    usage(e.to_string())
}

/// Writes `files` to a fresh folder outside the data dir and ingests each as its kind. A file
/// name stands for one dataset derived one way (`risk_areas-dxy.csv`: risk areas derived from
/// DXY counts), so an earlier import under that name with other content — an updated dataset,
/// or other thresholds — is replaced, not stacked beside the new one.
fn stage_and_ingest(g: &Globals, files: &[ImportFile]) -> anyhow::Result<()> {
    let staged = import_api::stage(files)?;
    let zone = crate::context::zone_or(g.data(), Zone::CST)?;
    for (file, path) in files.iter().zip(&staged.paths) {
        let kind = file.kind;
        let opts = engine::datadir::IngestOptions {
            kind: Some(kind),
            ..Default::default()
        };
        let s = ingest(g, std::slice::from_ref(path), &opts, zone)?;
        if s.files_duplicate > 0 {
            println!("{kind}: already loaded, nothing added");
        } else {
            print_summary(&s);
        }
        let keys = g.keys()?;
        let replaced = import_api::replace_earlier(g.data(), &keys, zone, file)
            .with_context(|| format!("opening {}", g.data().display()))?;
        if replaced > 0 {
            println!(
                "{kind}: the earlier {} import replaced ({} removed)",
                file.name,
                plural(replaced, "row", "rows")
            );
        }
    }
    Ok(())
}

fn baidu(g: &Globals, dir: &Path) -> anyhow::Result<()> {
    let m = import_api::read_baidu(dir).map_err(read_error)?;
    let Some((first, last)) = m.dates else {
        return Err(usage(format!("{}: no shares to load", dir.display())));
    };
    println!(
        "Baidu Qianxi: {} shares from {first} to {last} ({} rows read; {} without a region code and {} repeated, left out)",
        thousands(m.shares),
        thousands(m.rows_read),
        thousands(m.unmapped),
        thousands(m.duplicates),
    );
    stage_and_ingest(g, &m.files)
}

fn dxy(g: &Globals, a: &ImportDxyArgs) -> anyhow::Result<()> {
    if a.window_days == 0 {
        return Err(usage("--window-days must be at least 1"));
    }
    let rule = RiskRule {
        high_cumulative: a.high_cumulative,
        window_days: a.window_days,
    };
    let c =
        import_api::read_dxy(&a.path, (!a.no_risk_areas).then_some(rule)).map_err(read_error)?;
    let Some((first, last)) = c.dates else {
        return Err(usage(format!("{}: no counts to load", a.path.display())));
    };
    println!(
        "DXY: {} daily counts of {} regions from {first} to {last} ({} rows read; {} without a region code left out, {} merged into another name of the same code)",
        thousands(c.counts),
        c.regions,
        thousands(c.rows_read),
        thousands(c.unmapped),
        thousands(c.merged),
    );
    if let Some(r) = c.risk {
        println!(
            "risk areas (high: ≥ {} cases and new cases in {} days; medium: new cases; low: none): {} high, {} medium, {} low periods",
            rule.high_cumulative, rule.window_days, r.high, r.medium, r.low,
        );
    }
    stage_and_ingest(g, &c.files)
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Baidu Qianxi migration shares (a `baidu_migration` folder) as the `migration` table.
    #[command(
        after_help = "Examples:\n  fangyi import baidu-migration ../shared/data/baidu_migration\n  fangyi sql \"SELECT date, destination_region, share_pct FROM migration WHERE direction = 'out' AND origin_region = '420100' ORDER BY date, share_pct DESC\"\n\nReads outflow_wuhan_hubei.csv, inflow_major_cities.csv and inflow_share_from_hubei.csv.\nShares, not volumes: out = % of the origin's departures, in = % of the destination's arrivals."
    )]
    BaiduMigration(ImportBaiduArgs),
    /// DXY cumulative case counts per city (`dxy_city_daily.csv`) as the `city_cases` table,
    /// and risk areas derived from them.
    #[command(
        after_help = "Examples:\n  fangyi import dxy-cases ../shared/data/dxy_cases\n  fangyi import dxy-cases ../shared/data/dxy_cases --high-cumulative 100 --window-days 14\n  fangyi import dxy-cases ../shared/data/dxy_cases --no-risk-areas\n\nDerived risk (per city and day): high = at least --high-cumulative cases and new cases in the\nlast --window-days days; medium = new cases in the window; low = none. Runs of days of one\nlevel become risk_areas rows valid from their first to their last day."
    )]
    DxyCases(ImportDxyArgs),
}

#[derive(Args, Debug)]
pub struct ImportBaiduArgs {
    /// The folder with the three Baidu files.
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ImportDxyArgs {
    /// The folder with dxy_city_daily.csv (or the file).
    pub path: PathBuf,
    /// Cumulative cases from which a city with new cases is high risk.
    #[arg(long, default_value_t = 50)]
    pub high_cumulative: u64,
    /// The days in which new cases make a city medium or high risk.
    #[arg(long, default_value_t = 14)]
    pub window_days: u32,
    /// Load the counts only; derive no risk areas.
    #[arg(long)]
    pub no_risk_areas: bool,
}
