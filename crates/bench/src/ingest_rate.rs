//! `fangyi bench ingest`: throughput of validated ingest on `travel` CSV, on one core and on
//! all, optionally beside DuckDB turning the same CSV into Parquet (no validation there).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::BenchIngestArgs;
use crate::province::{BENCH_KEY, Run};
use crate::{human_bytes, thousands};

const PEER_SCRIPT: &str = include_str!("../../../scripts/peers/csv_to_parquet.py");

pub fn run(a: BenchIngestArgs) -> anyhow::Result<()> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempdir()?;
            tmp.clone()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("travel-bench.csv");
    let t = Instant::now();
    write_travel_csv(&csv, a.rows, a.dates.max(1))?;
    let bytes = std::fs::metadata(&csv)?.len();
    println!(
        "travel CSV: {} rows over {} service date(s), {} (written in {:.1} s)",
        thousands(a.rows),
        a.dates.max(1),
        human_bytes(bytes),
        t.elapsed().as_secs_f64()
    );

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let repeat = a.repeat.max(1);
    println!(
        "each configuration runs {repeat} times on a fresh data dir; best (median) shown, rows/s from the best"
    );
    let mut results = Vec::new();
    for threads in [1, cores] {
        let mut secs = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let data = dir.join(format!("data-{threads}"));
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
            let run = Run::new(data.clone(), dir.join(BENCH_KEY));
            let opts = ingest::Options {
                threads,
                ..ingest::Options::default()
            };
            let s = run.ingest(std::slice::from_ref(&csv), &opts)?;
            anyhow::ensure!(
                s.rows_accepted == a.rows,
                "expected {} rows accepted, got {}",
                a.rows,
                s.rows_accepted
            );
            secs.push(s.elapsed_secs);
            std::fs::remove_dir_all(&data).ok();
        }
        secs.sort_by(f64::total_cmp);
        let (best, median) = (secs[0], secs[secs.len() / 2]);
        let rate = a.rows as f64 / best;
        println!(
            "fangyi ingest, {threads} thread{}: {best:>6.2} s ({median:.2}) {:>12} rows/s  {:>12} rows/s per core  {:>10}/s",
            if threads == 1 { " " } else { "s" },
            thousands(rate as u64),
            thousands((rate / threads as f64) as u64),
            human_bytes((bytes as f64 / best) as u64)
        );
        results.push((threads, best));
        if cores == 1 {
            break;
        }
    }
    if a.peers {
        let script = dir.join("csv_to_parquet.py");
        std::fs::write(&script, PEER_SCRIPT)?;
        let out = Command::new("python3")
            .arg(&script)
            .arg(&csv)
            .arg(dir.join("peer-out"))
            .arg(repeat.to_string())
            .output()
            .context("running python3")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            println!(
                "peers unavailable: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        for line in text.lines() {
            // Lines: "<peer> <seconds>"
            let mut parts = line.split_whitespace();
            if let (Some(name), Some(secs)) = (
                parts.next(),
                parts.next().and_then(|s| s.parse::<f64>().ok()),
            ) {
                let ours = results.last().map(|r| r.1).unwrap_or(f64::NAN);
                println!(
                    "{name:<28} {secs:>6.2} s  {:>12} rows/s   fangyi is {:.2}x its speed (fangyi also validates, pseudonymises and partitions)",
                    thousands((a.rows as f64 / secs) as u64),
                    secs / ours
                );
            }
        }
    }
    if a.dir.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!("fangyi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

/// Writes `rows` valid travel rows (deterministic) shaped like real tickets.
fn write_travel_csv(path: &Path, rows: u64, dates: u64) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time"
    )?;
    let regions = [
        (420100, "汉口站"),
        (330300, "温州南站"),
        (330100, "杭州东站"),
        (310000, "上海虹桥站"),
        (110000, "北京南站"),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = model::Date::from_ymd(2020, 1, 10).expect("valid date");
    for _ in 0..rows {
        let r = next();
        let birth = model::Date(-3000 + (r % 20_000) as i32); // 1961-10 .. 2016-08
        let id = model::PersonId::from_parts(
            330302 + (r >> 20) as u32 % 20,
            birth,
            (r >> 40) as u32 % 1000,
        )
        .expect("valid parts");
        let (from, from_name) = regions[(r >> 8) as usize % regions.len()];
        let (to, to_name) = regions[((r >> 12) as usize + 1) % regions.len()];
        let day = start.add_days(((r >> 16) % dates) as i32);
        let dep_min = 360 + (r >> 24) % 900;
        let dur = 60 + (r >> 34) % 400;
        let arr_min = dep_min + dur;
        let (dh, dm) = (dep_min / 60, dep_min % 60);
        let (ad, ah, am) = (arr_min / 1440, arr_min % 1440 / 60, arr_min % 60);
        writeln!(
            out,
            "{id},rail,G{},{day},{:02},{:02}{},{from_name},{from},{day}T{dh:02}:{dm:02}:00+08:00,{to_name},{to},{}T{ah:02}:{am:02}:00+08:00",
            1000 + (r >> 44) % 9000,
            1 + (r >> 50) % 16,
            1 + (r >> 54) % 18,
            ["A", "B", "C", "D", "F"][(r >> 58) as usize % 5],
            day.add_days(ad as i32)
        )?;
    }
    out.flush()?;
    Ok(())
}
