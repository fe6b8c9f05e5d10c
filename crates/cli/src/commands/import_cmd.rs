//! `fangyi import`: public datasets (Baidu migration shares, DXY case counts) converted to the
//! store's public kinds and ingested through the ordinary path, so they are validated,
//! deduplicated (importing twice adds nothing) and queryable like any input.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use model::Kind;
use opendata::risk::{self, RiskRule};

use crate::commands::ingest_cmd::{ingest, print_summary};
use crate::commands::{Globals, plural, thousands};
use crate::exit::usage;

pub fn run(g: &Globals, c: ImportCommand) -> anyhow::Result<()> {
    match c {
        ImportCommand::BaiduMigration(a) => baidu(g, &a.dir),
        ImportCommand::DxyCases(a) => dxy(g, &a),
    }
}

fn read_error(e: opendata::OpenDataError) -> anyhow::Error {
    usage(e.to_string())
}

/// Writes `files` (name, CSV text) to a fresh folder outside the data dir and ingests each as
/// its kind. A file name stands for one dataset derived one way (`risk_areas-dxy.csv`: risk
/// areas derived from DXY counts), so an earlier import under that name with other content —
/// an updated dataset, or other thresholds — is replaced, not stacked beside the new one.
fn stage_and_ingest(g: &Globals, files: &[(&str, Kind, String)]) -> anyhow::Result<()> {
    let staging = tempfile::Builder::new().prefix("fangyi-import").tempdir()?;
    let zone = crate::context::zone_or(g.data(), model::Zone::CST)?;
    for (name, kind, text) in files {
        let path: PathBuf = staging.path().join(name);
        std::fs::write(&path, text)?;
        let opts = ingest::Options {
            kind: Some(*kind),
            ..ingest::Options::default()
        };
        let s = ingest(g, &[path], &opts, zone)?;
        if s.files_duplicate > 0 {
            println!("{kind}: already loaded, nothing added");
        } else {
            print_summary(&s);
        }
        let replaced = replace_earlier(g, *kind, name, text)?;
        if replaced.rows > 0 {
            println!(
                "{kind}: the earlier {name} import replaced ({} removed)",
                plural(replaced.rows, "row", "rows")
            );
        }
    }
    Ok(())
}

/// Removes the sources of `kind` imported under `name` whose content is not `text`.
fn replace_earlier(
    g: &Globals,
    kind: Kind,
    name: &str,
    text: &str,
) -> anyhow::Result<store::Removed> {
    let keys = g.keys()?;
    let zone = crate::context::zone_or(g.data(), model::Zone::CST)?;
    let hash = blake3::hash(text.as_bytes()).to_hex().to_string();
    let mut writer = store::Writer::open(g.data(), keys.key_id(), zone, || {})
        .with_context(|| format!("opening {}", g.data().display()))?;
    Ok(writer.remove_sources(|s| {
        s.kind() == Some(kind)
            && s.blake3 != hash
            && std::path::Path::new(&s.name).file_name() == Some(name.as_ref())
    })?)
}

fn baidu(g: &Globals, dir: &std::path::Path) -> anyhow::Result<()> {
    let m = opendata::baidu::read(dir).map_err(read_error)?;
    let (Some(first), Some(last)) = (m.first_date(), m.last_date()) else {
        return Err(usage(format!("{}: no shares to load", dir.display())));
    };
    println!(
        "Baidu Qianxi: {} shares from {first} to {last} ({} rows read; {} without a region code and {} repeated, left out)",
        thousands(m.shares.len() as u64),
        thousands(m.rows_read.iter().sum()),
        thousands(m.unmapped),
        thousands(m.duplicates),
    );
    stage_and_ingest(g, &[("migration-baidu.csv", Kind::Migration, m.to_csv())])
}

fn dxy(g: &Globals, a: &ImportDxyArgs) -> anyhow::Result<()> {
    if a.window_days == 0 {
        return Err(usage("--window-days must be at least 1"));
    }
    let c = opendata::dxy::read(&a.path).map_err(read_error)?;
    let (Some(first), Some(last)) = (c.first_date(), c.last_date()) else {
        return Err(usage(format!("{}: no counts to load", a.path.display())));
    };
    println!(
        "DXY: {} daily counts of {} regions from {first} to {last} ({} rows read; {} without a region code left out, {} merged into another name of the same code)",
        thousands(c.counts.len() as u64),
        c.regions(),
        thousands(c.rows_read),
        thousands(c.unmapped),
        thousands(c.merged),
    );
    let mut files = vec![("city_cases-dxy.csv", Kind::CityCases, c.to_csv())];
    if !a.no_risk_areas {
        let rule = RiskRule {
            high_cumulative: a.high_cumulative,
            window_days: a.window_days,
        };
        let areas = risk::derive(&c.counts, rule);
        let count = |l: risk::Level| areas.iter().filter(|x| x.level == l).count();
        println!(
            "risk areas (high: ≥ {} cases and new cases in {} days; medium: new cases; low: none): {} high, {} medium, {} low periods",
            rule.high_cumulative,
            rule.window_days,
            count(risk::Level::High),
            count(risk::Level::Medium),
            count(risk::Level::Low),
        );
        files.push(("risk_areas-dxy.csv", Kind::RiskAreas, risk::to_csv(&areas)));
    }
    stage_and_ingest(g, &files)
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
