//! `fangyi bench inflow`: contract §7's daily inflow of a generated province, fangyi's
//! day-at-a-time scan against DuckDB computing the same rows in one SQL query over the same
//! Parquet files (`scripts/peers/inflow.py`), in the same run, with the answers compared; and
//! fangyi's own statement (`query::inflow_sql`, `--via sql`) on the embedded DataFusion.

use std::fmt::Write as _;
use std::time::Instant;

use engine::inflow_api::{self, InflowParams};
use inflow::InflowRow;
use model::{Date, Level};

use crate::duckdb_peer::Peer;
use crate::province::{Province, START, ensure_peers, machine, province};
use crate::{BenchInflowArgs, thousands};

const PEER_SCRIPT: &str = include_str!("../../../scripts/peers/inflow.py");

/// The rows as the peer script writes them.
fn peer_csv(rows: &[InflowRow]) -> String {
    let mut out = String::from(
        "region,date,arrivals,from_high_risk,rail,flight,coach,ship,road,registration,top_origins\n",
    );
    for r in rows {
        let k = r.by_kind;
        let top: Vec<String> = r
            .top_origins
            .iter()
            .map(|o| format!("{}:{}", o.region, o.persons))
            .collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.region,
            r.date,
            r.arrivals,
            r.from_high_risk,
            k[0],
            k[1],
            k[2],
            k[3],
            k[4],
            k[5],
            top.join(";")
        );
    }
    out
}

pub fn run(a: BenchInflowArgs) -> anyhow::Result<()> {
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let data = run.data.clone();
    let keys = run.keys()?;
    let store = run.store(&keys)?;
    let risk = rules::RiskAreas::load(&store)?;
    let start: Date = START.parse().expect("a date");
    let last = start.add_days(a.days as i32 - 1);
    let window = a.window.clamp(1, a.days);
    let params = |level: &str| InflowParams {
        as_of: Some(last.to_string()),
        level: Some(level.into()),
        days: Some(window),
        region: None,
    };
    let rt = crate::runtime()?;
    println!(
        "\ninflow (contract §7), {window} days to {last}, on {}",
        machine()
    );
    let mut best = f64::INFINITY;
    let mut rows = Vec::new();
    for _ in 0..a.repeat.max(1) {
        let request = params("prefecture").parse(store.zone())?;
        let started = Instant::now();
        rows = rt.block_on(inflow_api::daily(&store, &risk, request))?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    let arrivals: u64 = rows.iter().map(|r| u64::from(r.arrivals)).sum();
    println!(
        "{:<8} {:>10} {:>8}   prefecture level, {} person-days of arrivals",
        "engine",
        "seconds",
        "rows",
        thousands(arrivals)
    );
    println!("{:<8} {:>10.3} {:>8}", "fangyi", best, rows.len());
    // The same rows by one SQL statement on the embedded DataFusion: what `--via sql` runs and
    // a cluster runs distributed.
    let first = last.add_days(1 - window as i32);
    let q = query::Query::open_pseudonymised(&store)?;
    let mut sql_best = f64::INFINITY;
    let mut sql_rows = Vec::new();
    for _ in 0..a.repeat.max(1) {
        let started = Instant::now();
        sql_rows = rt.block_on(q.inflow_rows(Level::Prefecture, first, last, store.zone(), 10))?;
        sql_best = sql_best.min(started.elapsed().as_secs_f64());
    }
    let same = sql_rows.len() == rows.len()
        && sql_rows.iter().zip(&rows).all(|(s, r)| {
            (s.region, s.date, s.arrivals, s.from_high_risk)
                == (r.region, r.date, r.arrivals, r.from_high_risk)
                && (s.by_kind, s.by_origin_risk) == (r.by_kind, r.by_origin_risk)
                && s.top_origins.len() == r.top_origins.len()
                && s.top_origins
                    .iter()
                    .zip(&r.top_origins)
                    .all(|(a, b)| (a.0, a.1) == (b.region, b.persons))
        });
    println!(
        "{:<8} {:>10.3} {:>8}   {}",
        "df-sql",
        sql_best,
        sql_rows.len(),
        if same {
            "the same rows"
        } else {
            "DIFFERENT rows"
        }
    );
    for level in ["county", "community"] {
        let request = params(level).parse(store.zone())?;
        let started = Instant::now();
        let n = rt
            .block_on(inflow_api::daily(&store, &risk, request))?
            .len();
        println!(
            "         {:>10.3} {:>8}   fangyi at the {level} level",
            started.elapsed().as_secs_f64(),
            n
        );
    }
    if a.no_peers {
        return Ok(());
    }
    if !ensure_peers()? {
        return Ok(());
    }
    Peer {
        name: "inflow",
        script: PEER_SCRIPT,
        data: &data,
        args: vec![
            "--first".into(),
            first.to_string(),
            "--last".into(),
            last.to_string(),
            "--zone".into(),
            store.zone().to_string(),
        ],
        repeat: a.repeat,
    }
    .compare(&a.dir, &peer_csv(&rows), rows.len(), best)
}
