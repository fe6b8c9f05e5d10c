//! `fangyi bench trace`: contact tracing on a generated province, fangyi's index against DuckDB
//! and Polars running the same rules over the same Parquet files, in the same run.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use model::{Date, Kind};
use trace::Tracer;

use crate::peak;
use crate::province::{Province, START, ensure_peers, machine, province};
use crate::{BenchTraceArgs, thousands};

const PEER_SCRIPT: &str = include_str!("../../../scripts/peers/trace.py");

/// A peer's single-case (p50 ms, p99 ms, cases) and all-cases (s) timings.
#[derive(Default)]
struct PeerTimes(Option<(f64, f64, usize)>, Option<f64>);

/// A small deterministic generator for picking cases.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn run(a: BenchTraceArgs) -> anyhow::Result<()> {
    println!("machine: {}", machine());
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let data = run.data.clone();
    let keys = run.keys()?;
    let store = run.store(&keys)?;
    let zone = store.zone();
    let stats = store.manifest().kind_stats();
    let records: u64 = [Kind::Travel, Kind::Checkins, Kind::Checkpoint]
        .iter()
        .filter_map(|k| stats.get(k))
        .map(|s| s.rows)
        .sum();
    println!(
        "records: {} travel + check-in + checkpoint rows ({} persons rows, {} lab results)",
        thousands(records),
        thousands(stats.get(&Kind::Persons).map_or(0, |s| s.rows)),
        thousands(stats.get(&Kind::LabResults).map_or(0, |s| s.rows)),
    );

    // The index: built once per store (incrementally as files arrive), here whole by a child
    // process so its time and peak memory are the build's own; timed when built.
    let budget = a
        .memory
        .unwrap_or_else(trace::MemoryBudget::machine_default);
    let built = if a.rebuild_index || trace::freshness(&store)? != trace::Freshness::Current {
        Some(peak::index_in_child(&run.data, &run.key, budget)?)
    } else {
        None
    };
    let index = trace::Index::open(&store)?;
    if let Some(b) = built {
        println!(
            "index build: {:.1} s, peak RSS {:.0} MiB (budget {budget}), {} events",
            b.secs,
            b.peak as f64 / (1u64 << 20) as f64,
            thousands(index.events() as u64)
        );
    }
    let tracer = Tracer::new(&index, zone);
    let start: Date = START.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let as_of = start.add_days(a.days as i32 - 1).end_of_day(zone).millis();

    // Bulk: every case's contacts, in chunks so memory stays bounded; only tracing is timed,
    // the digest of the answer (to compare with the peers') is taken outside the clock.
    let started = Instant::now();
    let cases = tracer.cases(as_of);
    anyhow::ensure!(!cases.is_empty(), "the province has no cases to trace");
    let set = trace::CaseSet::new(&cases);
    let mut bulk = started.elapsed().as_secs_f64();
    let mut ours = Digest::default();
    for chunk in cases.chunks(2048) {
        let t = Instant::now();
        let traces = tracer.trace_many(chunk, &set, as_of, 1);
        bulk += t.elapsed().as_secs_f64();
        for t in &traces {
            for c in &t.contacts {
                ours.add(&peer_row(t, c));
            }
        }
    }
    let bulk_rows = ours.rows;

    // Single cases, one at a time, from a deterministic random sample.
    let mut rng = SplitMix(7);
    let sample: Vec<i64> = (0..a.cases.max(1))
        .map(|_| cases[(rng.next() % cases.len() as u64) as usize].0)
        .collect();
    let mut lat = Vec::with_capacity(sample.len());
    for &c in &sample {
        let t = Instant::now();
        let r = tracer.trace(c, as_of, 1)?;
        std::hint::black_box(&r);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    println!(
        "\n{} cases as of {}; {} (case, contact) rows\n",
        thousands(cases.len() as u64),
        model::Timestamp(as_of).to_rfc3339(zone),
        thousands(bulk_rows)
    );
    println!(
        "{:<8} {:>14} {:>14} {:>16}",
        "engine", "single p50 ms", "single p99 ms", "all cases s"
    );
    println!(
        "{:<8} {:>14.3} {:>14.3} {:>16.3}   ({} single cases)",
        "fangyi",
        p50,
        p99,
        bulk,
        sample.len()
    );

    // The same question as one SQL statement on the embedded DataFusion (the statement a
    // cluster runs), timed from planning to the last row decoded, its rows held to the index's.
    let (sql_secs, sql_digest) = sql_bulk(&store, as_of, zone)?;
    println!(
        "{:<8} {:>14} {:>14} {:>16.3}   (SQL, all cases only)",
        "df-sql", "-", "-", sql_secs
    );
    if sql_digest == ours {
        println!(
            "results:     DataFusion SQL found exactly the index's {} contact rows",
            thousands(ours.rows)
        );
    } else {
        println!(
            "results:     DataFusion SQL DIFFERS: {} rows vs the index's {}",
            thousands(sql_digest.rows),
            thousands(ours.rows)
        );
    }

    let peers_dir = a.dir.join("peers");
    std::fs::create_dir_all(&peers_dir)?;
    if a.no_peers {
        return Ok(());
    }
    if !ensure_peers()? {
        return Ok(());
    }
    let script = a.dir.join("trace.py");
    std::fs::write(&script, PEER_SCRIPT)?;
    let cases_file = peers_dir.join("cases.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&cases_file)?);
    for c in sample.iter().take(a.peer_cases) {
        writeln!(f, "{c}")?;
    }
    f.flush()?;
    drop(f);
    let out = Command::new("python3")
        .arg(&script)
        .arg("--data")
        .arg(&data)
        .arg("--as-of-ms")
        .arg(as_of.to_string())
        .arg("--cases")
        .arg(&cases_file)
        .arg("--single")
        .arg(a.peer_cases.to_string())
        .arg("--out")
        .arg(&peers_dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running python3")?;
    if !out.status.success() {
        println!("peers failed (exit {:?})", out.status.code());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut peers: std::collections::BTreeMap<String, PeerTimes> = Default::default();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [name, "bulk", secs, _rows] => {
                peers.entry(name.to_string()).or_default().1 = secs.parse().ok();
            }
            [name, "single", p50, p99, n] => {
                if let (Ok(a), Ok(b), Ok(n)) = (p50.parse(), p99.parse(), n.parse()) {
                    peers.entry(name.to_string()).or_default().0 = Some((a, b, n));
                }
            }
            _ => {}
        }
    }
    for (name, PeerTimes(single, bulk_secs)) in &peers {
        let (sp50, sp99, n) = single.unwrap_or((f64::NAN, f64::NAN, 0));
        println!(
            "{:<8} {:>14.3} {:>14.3} {:>16.3}   ({n} single cases)",
            name,
            sp50,
            sp99,
            bulk_secs.unwrap_or(f64::NAN)
        );
    }
    println!();
    for (name, PeerTimes(single, bulk_secs)) in &peers {
        if let Some((sp50, sp99, _)) = single {
            println!(
                "single case: fangyi is {:.0}× faster than {name} at p50, {:.0}× at p99",
                sp50 / p50,
                sp99 / p99
            );
        }
        if let Some(b) = bulk_secs {
            println!("all cases:   fangyi is {:.1}× faster than {name}", b / bulk);
            println!(
                "all cases:   DataFusion SQL takes {:.2}× {name}'s time (issue 18's bar: 3× DuckDB's)",
                sql_secs / b
            );
        }
        let theirs = peers_dir.join(format!("{name}-bulk.csv"));
        match Digest::of_csv(&theirs) {
            Ok(d) if d == ours => println!(
                "results:     {name} found exactly the same {} contact rows",
                thousands(d.rows)
            ),
            Ok(d) => println!(
                "results:     {name} DIFFERS: {} rows vs fangyi's {} (see {})",
                thousands(d.rows),
                thousands(ours.rows),
                theirs.display()
            ),
            Err(e) => println!("results:     {name}: could not compare: {e:#}"),
        }
    }
    Ok(())
}

/// Every case's contacts by `query`'s SQL statement on the embedded DataFusion (depth 1):
/// seconds from planning to the last row, and the digest of the rows as the peers write them.
fn sql_bulk(store: &store::Store, as_of: i64, zone: model::Zone) -> anyhow::Result<(f64, Digest)> {
    // Planning recurses over the statement: threads with the SQL runner's stack.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()?;
    let q = query::Query::open_pseudonymised(store)?;
    let started = Instant::now();
    let rows = rt.block_on(q.trace_all_rows(as_of, zone, 1))?;
    let secs = started.elapsed().as_secs_f64();
    let mut d = Digest::default();
    for r in &rows {
        d.add(&format!(
            "{},{},{},{},{},{},{}",
            r.case,
            r.person,
            r.is_case,
            r.first_exposure,
            r.last_exposure,
            r.quarantine_until,
            r.evidence
        ));
    }
    Ok((secs, d))
}

/// One (case, contact) as the peer script writes it: pseudonyms, epoch milliseconds.
fn peer_row(t: &trace::Trace, c: &trace::Contact) -> String {
    format!(
        "{},{},{},{},{},{},{}",
        t.case,
        c.person,
        c.is_case,
        c.first_exposure,
        c.last_exposure,
        c.quarantine_until,
        trace::evidence_kinds(c)
    )
}

/// An order-free digest of a set of rows (their count and the sum of their hashes), so
/// answers of tens of millions of rows compare without holding or sorting them.
#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
struct Digest {
    rows: u64,
    sum: u64,
}

impl Digest {
    fn add(&mut self, row: &str) {
        let h = blake3::hash(row.trim().to_ascii_lowercase().as_bytes());
        let h = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"));
        self.sum = self.sum.wrapping_add(h);
        self.rows += 1;
    }

    /// The digest of a CSV file's rows (its header skipped), streamed.
    fn of_csv(path: &Path) -> anyhow::Result<Digest> {
        use std::io::BufRead;
        let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
        let mut d = Digest::default();
        for line in std::io::BufReader::with_capacity(1 << 20, f)
            .lines()
            .skip(1)
        {
            d.add(&line?);
        }
        Ok(d)
    }
}
