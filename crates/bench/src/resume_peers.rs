//! `fangyi bench resume`: the power index of resumption (contract §8.3) by prefecture ×
//! industry per day over a synthetic economy (default 300,000 enterprises × 120 days of
//! readings, 36 M rows), fangyi's dense day-at-a-time scan against DuckDB computing the same
//! rows in one SQL query over the same Parquet files (`scripts/peers/resume.py`), in the same
//! run, with the answers compared.
//!
//! The economy is written here, not by `fangyi gen` (a province with 300,000 enterprises would
//! have 27 M residents): enterprises in every Zhejiang county, 14 industries, a December
//! baseline, the festival shutdown and a staggered restart, weekends, and a later delivery
//! correcting some readings (so both sides settle duplicates).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use model::{Date, EnterpriseId, Level, Region, RegionTable};
use resume::power::{IndexQuery, IndexRow, StoreSource, power_index};

use crate::duckdb_peer::Peer;
use crate::province::{BENCH_KEY, Run, ensure_peers, machine};
use crate::{BenchResumeArgs, thousands};

const PEER_SCRIPT: &str = include_str!("../../../scripts/peers/resume.py");

const INDUSTRIES: [&str; 14] = [
    "apparel",
    "electrical",
    "auto-parts",
    "chemicals",
    "food",
    "pharma",
    "retail",
    "catering",
    "construction",
    "logistics",
    "software",
    "utilities",
    "finance",
    "health",
];

/// The first day of readings: December 1, 2019 (the baseline month).
fn first_day() -> Date {
    Date::from_ymd(2019, 12, 1).expect("a day")
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn unit(x: u64) -> f64 {
    (mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

/// Enterprise `i`'s id.
fn id(i: u64, county: Region) -> String {
    let mut body = [b'0'; 17];
    body[0] = b'9';
    body[1] = b'1';
    body[2..8].copy_from_slice(&county.digits());
    body[8] = b'M';
    body[9] = b'A';
    let charset = EnterpriseId::charset();
    let mut v = i;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[(v % 31) as usize];
        v /= 31;
    }
    EnterpriseId::from_body(&body)
        .expect("charset body")
        .to_string()
}

/// One day's kWh of enterprise `i` (a tenth of a kWh), `None` for no reading.
fn kwh(i: u64, day: Date) -> Option<f64> {
    let base = 20.0 + 2_000.0 * unit(i * 7 + 1).powi(3);
    let (y, m, _) = day.ymd();
    // One in a hundred has no December readings (not indexed).
    if (y, m) == (2019, 12) && mix(i * 7 + 2).is_multiple_of(100) {
        return None;
    }
    let shutdown = Date::from_ymd(2020, 1, 24).expect("a day");
    let restart = Date::from_ymd(2020, 2, 10)
        .expect("a day")
        .add_days((unit(i * 7 + 3) * 30.0) as i32);
    let mut a = if day < shutdown {
        1.0
    } else if day < restart {
        0.12
    } else {
        (0.12 + 0.88 * f64::from(day.days() - restart.days() + 1) / 14.0).min(1.0)
    };
    if (day.days() + 3).rem_euclid(7) >= 5 {
        a *= 0.6;
    }
    let noise = 0.9 + 0.2 * unit(i.wrapping_mul(1_000_003) ^ day.days() as u64);
    Some((base * a * noise * 10.0).round() / 10.0)
}

/// Writes the economy's input files into `dir`: enterprises, a file of readings per day, and a
/// later correction of one reading in a thousand of February 10.
fn write_input(dir: &Path, enterprises: u64, days: u32) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let counties: Vec<Region> = RegionTable::get()
        .counties_under(Region::new(330000).expect("Zhejiang"))
        .iter()
        .map(|r| r.region)
        .collect();
    let county = |i: u64| counties[(mix(i * 7 + 4) % counties.len() as u64) as usize];
    let mut paths = Vec::new();
    let path = dir.join("enterprises.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "enterprise_id,name,industry,region")?;
    for i in 0..enterprises {
        let c = county(i);
        let industry = INDUSTRIES[(mix(i * 7 + 5) % INDUSTRIES.len() as u64) as usize];
        writeln!(w, "{},E{i},{industry},{c}", id(i, c))?;
    }
    w.flush()?;
    paths.push(path);
    let ids: Vec<String> = (0..enterprises).map(|i| id(i, county(i))).collect();
    let mut line = String::new();
    for d in 0..days {
        let day = first_day().add_days(d as i32);
        let path = dir.join(format!("power-{day}.csv"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(w, "enterprise_id,date,kwh")?;
        for (i, e) in ids.iter().enumerate() {
            if let Some(k) = kwh(i as u64, day) {
                line.clear();
                let _ = writeln!(line, "{e},{day},{k}");
                w.write_all(line.as_bytes())?;
            }
        }
        w.flush()?;
        paths.push(path);
    }
    let feb10 = Date::from_ymd(2020, 2, 10).expect("a day");
    if feb10 < first_day().add_days(days as i32) {
        let path = dir.join("power-correction.csv");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(w, "enterprise_id,date,kwh")?;
        for (i, e) in ids.iter().enumerate().step_by(1000) {
            let k = kwh(i as u64, feb10).unwrap_or(0.0) * 3.0 + 1.0;
            writeln!(w, "{e},{feb10},{k:.1}")?;
        }
        w.flush()?;
        paths.push(path);
    }
    Ok(paths)
}

/// The rows as the peer script writes them.
fn peer_csv(rows: &[IndexRow]) -> String {
    let mut out = String::from("region,industry,date,indexed,resumed,firms_e4,power_e4,index_e2\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            r.region,
            r.industry_name(),
            r.date,
            r.indexed,
            r.resumed,
            r.shares.firms_e4,
            r.shares.power_e4,
            r.shares.index_e2
        );
    }
    out
}

/// The parts asked for: the power index beside DuckDB, then the decisions and the matching.
pub fn run(a: BenchResumeArgs) -> anyhow::Result<()> {
    if !a.no_power {
        power(&a)?;
    }
    if !(a.no_decide && a.no_match) {
        let figures = crate::resume_work::run(&a)?;
        crate::resume_work::print(&figures);
    }
    Ok(())
}

/// The power index by prefecture × industry, fangyi's and DuckDB's, compared.
fn power(a: &BenchResumeArgs) -> anyhow::Result<()> {
    if a.days < 32 {
        return Err(crate::usage(
            "--days: at least 32 (December is the baseline)",
        ));
    }
    let data = a.dir.join("data");
    let run = Run::new(data.clone(), a.dir.join(BENCH_KEY));
    let stamp = a.dir.join("resume-economy.json");
    let want = format!("{{\"enterprises\":{},\"days\":{}}}", a.enterprises, a.days);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        if data.exists() {
            // Only an economy this benchmark wrote (its stamp beside it) is replaced.
            if !stamp.exists() {
                return Err(crate::usage(format!(
                    "{} holds data this benchmark did not write; choose another --dir",
                    a.dir.display()
                )));
            }
            std::fs::remove_dir_all(&data)?;
        }
        let input = a.dir.join("input");
        let started = Instant::now();
        let paths = write_input(&input, a.enterprises, a.days)?;
        println!(
            "wrote {} enterprises × {} days in {:.1} s",
            thousands(a.enterprises),
            a.days,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let s = run.ingest(&paths, &ingest::Options::default())?;
        println!(
            "ingested {} rows in {:.1} s",
            thousands(s.rows_accepted),
            started.elapsed().as_secs_f64()
        );
        std::fs::remove_dir_all(&input)?;
        std::fs::write(&stamp, &want)?;
    }
    let keys = run.keys()?;
    let store = run.store(&keys)?;
    let from = Date::from_ymd(2020, 1, 1).expect("a day");
    let to = first_day().add_days(a.days as i32 - 1);
    let mut q = IndexQuery::new(from, to);
    q.level = Level::Prefecture;
    q.by_industry = true;
    println!(
        "\npower index (contract §8.3) by prefecture × industry, {from} to {to}, baseline {}..{}, on {}",
        q.baseline.0,
        q.baseline.1,
        machine()
    );
    let mut best = f64::INFINITY;
    let mut rows = Vec::new();
    for _ in 0..a.repeat.max(1) {
        let started = Instant::now();
        let source = StoreSource::new(&store)?;
        rows = power_index(&source, &q)?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    let readings: u64 = store
        .tables(model::Kind::Power)
        .iter()
        .map(|f| f.rows())
        .sum();
    println!(
        "{:<8} {:>10} {:>8}   over {} stored readings",
        "engine",
        "seconds",
        "rows",
        thousands(readings)
    );
    println!("{:<8} {:>10.3} {:>8}", "fangyi", best, rows.len());
    if a.no_peers || !ensure_peers()? {
        return Ok(());
    }
    Peer {
        name: "resume",
        script: PEER_SCRIPT,
        data: &data,
        args: vec![
            "--from".into(),
            from.to_string(),
            "--to".into(),
            to.to_string(),
            "--baseline".into(),
            format!("{}..{}", q.baseline.0, q.baseline.1),
            "--theta-micros".into(),
            q.theta.micros().to_string(),
        ],
        repeat: a.repeat,
    }
    .compare(&a.dir, &peer_csv(&rows), rows.len(), best)
}
