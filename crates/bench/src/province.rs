//! A benchmark's own data: a generated province ingested into `DIR/data` under the folder's own
//! master key `DIR/bench.key` (the operator's key is neither read nor created), reused while its
//! parameters stay the same; and what the benchmarks share about it — opening it, its trace
//! index, its issuer, the machine it runs on.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use store::Store;
use vault::{KeyLocation, KeySource, Keys};

use crate::{human_bytes, thousands, usage};

/// More check-ins than the default and the demo's larger outbreak, so a province of a few
/// million people has 100 M+ records and enough cases to time.
const BENCH_RATES: &str = "checkins=4,wuhan_hazard=0.002,transmission=2";
pub const START: &str = "2020-01-14";
const SEED: u64 = 2020;
/// A bench folder's own master key, beside its data dir.
pub const BENCH_KEY: &str = "bench.key";

/// The CPU, its cores and the memory, for the first line of a benchmark's output.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| format!(", {}", human_bytes(kb * 1024)));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores{mem}")
}

/// A data dir a benchmark made, with its own key file beside it.
#[derive(Clone, Debug)]
pub struct Run {
    pub data: PathBuf,
    pub key: PathBuf,
}

impl Run {
    pub fn new(data: PathBuf, key: PathBuf) -> Run {
        Run { data, key }
    }

    /// The keys of the folder's own master key (created on first use); `vault` refuses a key
    /// file inside the data dir or with a second name.
    pub fn keys(&self) -> anyhow::Result<Keys> {
        let loaded = KeyLocation::Own(self.key.clone())
            .load(&self.data)
            .map_err(|e| match e {
                e @ (vault::VaultError::KeyInDataDir { .. }
                | vault::VaultError::KeyLinked { .. }) => usage(e.to_string()),
                e => anyhow::Error::new(e).context("loading the master key"),
            })?;
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        if let KeySource::Created(p) = &loaded.source {
            eprintln!(
                "created {}, the master key of {} alone (your own key is neither read nor created)",
                p.display(),
                self.data.display()
            );
        }
        Ok(Keys::derive(&loaded.key))
    }

    /// The store, opened for reading.
    pub fn store(&self, keys: &Keys) -> anyhow::Result<Store> {
        Store::open(&self.data, keys.key_id())
            .with_context(|| format!("opening {}", self.data.display()))
    }

    /// Ingests `paths` into the data dir with `opts`, showing progress.
    pub fn ingest(
        &self,
        paths: &[PathBuf],
        opts: &ingest::Options,
    ) -> anyhow::Result<ingest::Summary> {
        let keys = self.keys()?;
        let mut writer = store::Writer::open(&self.data, keys.key_id(), model::Zone::CST, || {
            eprintln!(
                "waiting for another writer of {} to finish…",
                self.data.display()
            );
        })
        .with_context(|| format!("opening {}", self.data.display()))?;
        let bar = Mutex::new(None::<ProgressBar>);
        let on_progress = |p: ingest::Progress| {
            let mut b = bar.lock().expect("bar lock");
            match p {
                ingest::Progress::Started { bytes, .. } => *b = Some(bytes_bar(bytes, "ingest")),
                ingest::Progress::Bytes(n) => {
                    if let Some(b) = b.as_ref() {
                        b.inc(n);
                    }
                }
                ingest::Progress::Finished(_) => {}
            }
        };
        let result = ingest::run(
            &mut writer,
            &keys,
            paths,
            opts,
            &on_progress,
            &AtomicBool::new(false),
        );
        if let Some(b) = bar.lock().expect("bar lock").take() {
            b.finish_and_clear();
        }
        match result {
            Ok(s) => Ok(s),
            Err(ingest::IngestError::Input { path, reason }) => {
                Err(usage(format!("{}: {reason}", path.display())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the data dir's issuer for `region` (key generation 1) unless it has one.
    pub fn ensure_issuer(&self, region: &str) -> anyhow::Result<()> {
        if codesign::Issuer::load(&self.data)?.is_some() {
            return Ok(());
        }
        let keys = self.keys()?;
        let key = codesign::IssuerKey::from_seed(&keys.issuer_seed(1));
        let issuer = codesign::Issuer::new(region, &key, model::Timestamp::now().secs());
        issuer.save(&self.data)?;
        issuer.sync_trust(&self.data)?;
        Ok(())
    }
}

/// Brings the trace index up to date with the store (showing progress); whether it had to.
pub fn update_index(store: &Store) -> anyhow::Result<bool> {
    let total = trace::pending_rows(store)?;
    if total == 0 && trace::freshness(store)? == trace::Freshness::Current {
        return Ok(false);
    }
    let bar = steps_bar(total, "index");
    trace::update(store, &|n| bar.set_position(n)).context("updating the trace index")?;
    bar.finish_and_clear();
    Ok(true)
}

/// A pseudonym shown as the person id it stands for (`#n` if it is not one of this key's).
pub fn reveal(keys: &Keys, pseudonym: i64) -> String {
    keys.pseudonyms
        .reveal(pseudonym)
        .map_or_else(|| format!("#{pseudonym}"), |id| id.to_string())
}

/// A generated province for a benchmark: its size and folder.
pub struct Province<'a> {
    pub persons: u64,
    pub days: u32,
    pub dir: &'a Path,
}

/// Generates and ingests the province into `DIR/data` unless the folder already holds this
/// one; returns that data dir with its own key, `DIR/bench.key`.
pub fn province(a: &Province<'_>) -> anyhow::Result<Run> {
    let marker = a.dir.join("province.json");
    // It clears input/ and data/ below --dir: never in a folder a bench did not make.
    if a.dir.exists() && !marker.exists() && std::fs::read_dir(a.dir)?.next().is_some() {
        return Err(usage(format!(
            "{} exists and is not a bench folder (no province.json); pick another --dir",
            a.dir.display()
        )));
    }
    std::fs::create_dir_all(a.dir)?;
    let data = a.dir.join("data");
    let key = a.dir.join(BENCH_KEY);
    let run = Run::new(data.clone(), key.clone());
    let params = serde_json::json!({
        "persons": a.persons, "days": a.days, "seed": SEED, "start": START, "rates": BENCH_RATES,
    })
    .to_string();
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(params.as_str())
        && data.join("manifest.json").exists()
        && key.exists()
    {
        println!("reusing the province in {}", a.dir.display());
        return Ok(run);
    }
    // Still a bench folder if this run is cut short; the parameters are written at the end.
    std::fs::write(&marker, "generating\n")?;
    for sub in ["input", "data"] {
        let p = a.dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
        }
    }
    let input = a.dir.join("input");
    println!(
        "generating {} residents × {} days (Parquet) into {}",
        thousands(a.persons),
        a.days,
        input.display()
    );
    let started = Instant::now();
    let config = synth::Config {
        persons: a.persons,
        days: a.days,
        start: START.parse()?,
        seed: SEED,
        region: "330000".parse()?,
        format: synth::Format::Parquet,
        bad_row_rate: 0.0,
        rates: BENCH_RATES
            .parse()
            .map_err(|e| anyhow::anyhow!("rates: {e}"))?,
        zone: model::Zone::CST,
        // The benchmarks' provinces as before the power baseline came: no readings before the
        // simulated days.
        power_baseline_days: 0,
        power_last_year: false,
    };
    let generated = generate(&config, &input)?;
    let rows: u64 = generated.rows.values().sum();
    println!(
        "  {} rows in {:.0} s",
        thousands(rows),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let s = run.ingest(std::slice::from_ref(&input), &ingest::Options::default())?;
    println!(
        "  ingested {} rows in {:.0} s",
        thousands(s.rows_accepted),
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&input).ok();
    std::fs::write(&marker, params)?;
    Ok(run)
}

/// Runs the generator with a progress bar.
fn generate(config: &synth::Config, out: &Path) -> anyhow::Result<synth::Summary> {
    let bar = Mutex::new(None::<ProgressBar>);
    let on_progress = |p: synth::Progress| {
        let mut b = bar.lock().expect("bar lock");
        match p {
            synth::Progress::Started { total_steps } => {
                *b = Some(steps_bar(total_steps, "generate"));
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
    let summary = synth::generate(config, out, &on_progress, &AtomicBool::new(false));
    if let Some(b) = bar.lock().expect("bar lock").take() {
        b.finish_and_clear();
    }
    Ok(summary?)
}

/// A byte-counting bar on a terminal (hidden otherwise).
fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    bar(
        total,
        what,
        "{prefix:>10} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    )
}

/// A step-counting bar on a terminal (hidden otherwise).
fn steps_bar(total: u64, what: &str) -> ProgressBar {
    bar(
        total,
        what,
        "{prefix:>10} [{bar:40}] {pos}/{len} eta {eta} {msg}",
    )
}

fn bar(total: u64, what: &str, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Whether DuckDB, Polars and PyArrow can be imported, installing them with pip when not;
/// says so when they cannot be had.
pub fn ensure_peers() -> anyhow::Result<bool> {
    use std::process::Command;
    let present = Command::new("python3")
        .args(["-c", "import duckdb, polars, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(true);
    }
    println!("installing duckdb, polars and pyarrow with pip…");
    let installed = Command::new("python3")
        .args([
            "-m", "pip", "install", "--quiet", "duckdb", "polars", "pyarrow",
        ])
        .status()
        .context("running pip")?
        .success();
    if !installed {
        println!("peers unavailable: pip install failed");
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_no_bench_made_is_refused_as_bad_usage_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp.path().join("mine");
        std::fs::create_dir_all(mine.join("data")).unwrap();
        let err = province(&Province {
            persons: 100,
            days: 1,
            dir: &mine,
        })
        .unwrap_err();
        assert!(err.is::<crate::Usage>(), "{err:#}");
        assert!(err.to_string().contains("not a bench folder"), "{err}");
        assert!(mine.join("data").exists());
    }
}
