//! `fangyi stats`: rows, rejects, files, bytes and date range per kind, from the manifest.

use clap::Args;

use crate::cli::TableFormat;
use crate::commands::{Globals, human_bytes, thousands};
use crate::context;

pub fn run(g: &Globals, a: StatsArgs) -> anyhow::Result<()> {
    let keys = g.keys()?;
    let store = context::store(g.data(), &keys)?;
    let stats = store.kind_stats();
    match a.format {
        TableFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = stats
                .iter()
                .map(|(k, s)| {
                    (
                        k.name().to_string(),
                        serde_json::to_value(s).expect("serialisable"),
                    )
                })
                .collect();
            println!("{}", serde_json::Value::Object(map));
        }
        TableFormat::Csv => {
            println!("kind,rows,rows_rejected,sources,files,bytes,first_date,last_date");
            for (k, s) in &stats {
                println!(
                    "{},{},{},{},{},{},{},{}",
                    k.name(),
                    s.rows,
                    s.rows_rejected,
                    s.sources,
                    s.files,
                    s.bytes,
                    s.first_date.as_deref().unwrap_or(""),
                    s.last_date.as_deref().unwrap_or("")
                );
            }
        }
        TableFormat::Table => {
            println!(
                "data dir {} (zone {}, key {})",
                g.data().display(),
                store.zone(),
                store.key_id()
            );
            println!(
                "{:<14} {:>14} {:>10} {:>8} {:>8} {:>10}  dates",
                "kind", "rows", "rejected", "sources", "files", "size"
            );
            let (mut rows, mut bytes) = (0, 0);
            for (k, s) in &stats {
                rows += s.rows;
                bytes += s.bytes;
                let dates = match (&s.first_date, &s.last_date) {
                    (Some(a), Some(b)) => format!("{a} .. {b}"),
                    _ => String::new(),
                };
                println!(
                    "{:<14} {:>14} {:>10} {:>8} {:>8} {:>10}  {}",
                    k.name(),
                    thousands(s.rows),
                    thousands(s.rows_rejected),
                    s.sources,
                    s.files,
                    human_bytes(s.bytes),
                    dates
                );
            }
            println!(
                "{:<14} {:>14} {:>10} {:>8} {:>8} {:>10}",
                "total",
                thousands(rows),
                "",
                "",
                "",
                human_bytes(bytes)
            );
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}
