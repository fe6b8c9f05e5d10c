//! `fangyi bench scale`: how each bulk step grows with the province. Generated provinces of
//! several sizes; each step (generation, then in the memory budget ingest, the trace index —
//! and the index again in three quarters of the machine, today's in-memory build, for
//! comparison —, `trace --all` on the index and as SQL, the code sweep, inflow — and, with
//! `--cluster`, `trace --all`, the full code sweep and inflow on a Ballista cluster of a
//! scheduler and two executors on loopback) run as a child `fangyi` process, timed, its peak
//! RSS read from the kernel; then the growth between sizes fitted as an exponent (time ∝
//! size^b: 1 is linear, n·log n shows as a little over 1).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use trace::MemoryBudget;

use crate::args::BenchScaleArgs;
use crate::peak::{ChildRun, fangyi_in_child};
use crate::province::{START, machine};
use crate::{human_bytes, thousands, usage};

/// One step measured at one size.
#[derive(Clone, Debug)]
struct Measured {
    step: &'static str,
    persons: u64,
    secs: f64,
    peak_bytes: u64,
}

/// The steps, in the order they run.
const STEPS: [&str; 8] = [
    "generate",
    "ingest",
    "index",
    "index (in memory)",
    "trace --all (index)",
    "trace --all (SQL)",
    "codes",
    "inflow",
];
/// The steps run on the loopback cluster too, with `--cluster`.
const CLUSTER_STEPS: [&str; 3] = [
    "trace --all (cluster)",
    "codes (cluster)",
    "inflow (cluster)",
];

pub fn run(a: BenchScaleArgs) -> anyhow::Result<()> {
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(usage(
            "--sizes: one or more resident counts, e.g. 1000000,5000000",
        ));
    }
    if a.days == 0 {
        return Err(usage("--days: at least 1"));
    }
    let budget: MemoryBudget = match a.memory {
        Some(b) => b,
        None => "2GiB".parse().expect("a valid size"),
    };
    let marker = a.dir.join("scale.json");
    if a.dir.exists() && !marker.exists() && std::fs::read_dir(&a.dir)?.next().is_some() {
        return Err(usage(format!(
            "{} exists and is not a bench scale folder (no scale.json); pick another --dir",
            a.dir.display()
        )));
    }
    std::fs::create_dir_all(&a.dir)?;
    std::fs::write(&marker, "{}\n")?;
    println!(
        "bench scale: {} residents × {} days, index budget {budget}, on {}",
        sizes
            .iter()
            .map(|n| thousands(*n))
            .collect::<Vec<_>>()
            .join(" / "),
        a.days,
        machine()
    );
    let start: model::Date = START.parse()?;
    let as_of = start.add_days(a.days as i32 - 1).to_string();
    // One master key for every size (and the cluster's executors, which compute pseudonym()).
    let key = a.dir.join("bench.key");
    // The master key first: the executors are given it when they start.
    crate::province::Run::new(
        a.dir.join(format!("n{}", sizes[0])).join("data"),
        key.clone(),
    )
    .keys()?;
    let cluster = if a.cluster {
        Some(Cluster::start(&a.dir, &key, budget)?)
    } else {
        None
    };
    let mut all: Vec<Measured> = Vec::new();
    for &n in &sizes {
        let dir = a.dir.join(format!("n{n}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        let (data, input) = (dir.join("data"), dir.join("input"));
        crate::province::Run::new(data.clone(), key.clone()).keys()?;
        let persons = n.to_string();
        let days = a.days.to_string();
        let budget_text = budget.to_string();
        // Today's in-memory build, for the bar's comparison: three quarters of the machine
        // (where the events do not fit, its line says how many runs went to disk).
        let whole_text = MemoryBudget::bytes(MemoryBudget::machine_default().get() * 3).to_string();
        // The sweep on the cluster writes its own file, held to the local sweep's after.
        let codes_outs = ["", "-cluster"].map(|w| dir.join(format!("codes{w}.jsonl")));
        let input_text = input.to_string_lossy().into_owned();
        let [codes_text, codes_cluster_text] =
            codes_outs.clone().map(|p| p.to_string_lossy().into_owned());
        // Each way of tracing everyone writes its own file, held to the index's after.
        let trace_outs =
            ["index", "sql", "cluster"].map(|w| dir.join(format!("trace-all-{w}.csv")));
        let [trace_text, sql_text, cluster_text] =
            trace_outs.clone().map(|p| p.to_string_lossy().into_owned());
        let mut steps: Vec<(&'static str, Vec<&str>)> = vec![
            (
                STEPS[0],
                vec![
                    "gen",
                    "--persons",
                    &persons,
                    "--days",
                    &days,
                    "--start",
                    START,
                    "--format",
                    "parquet",
                    "--power-baseline-days",
                    "0",
                    "--out",
                    &input_text,
                ],
            ),
            (STEPS[1], vec!["ingest", &input_text]),
            (
                STEPS[2],
                vec!["index", "--rebuild", "--memory", &budget_text],
            ),
            (
                STEPS[3],
                vec!["index", "--rebuild", "--memory", &whole_text],
            ),
            (
                STEPS[4],
                vec!["trace", "--all", "--as-of", &as_of, "--out", &trace_text],
            ),
            (
                STEPS[5],
                vec![
                    "trace", "--all", "--via", "sql", "--as-of", &as_of, "--out", &sql_text,
                ],
            ),
            (
                STEPS[6],
                vec!["codes", "--as-of", &as_of, "--out", &codes_text],
            ),
            (
                STEPS[7],
                vec!["inflow", "--as-of", &as_of, "--format", "json"],
            ),
        ];
        let cluster_args;
        if let Some(c) = &cluster {
            cluster_args = c.scheduler.clone();
            steps.push((
                CLUSTER_STEPS[0],
                vec![
                    "trace",
                    "--all",
                    "--cluster",
                    &cluster_args,
                    "--as-of",
                    &as_of,
                    "--out",
                    &cluster_text,
                ],
            ));
            // `--full`: the local sweep's saved run would otherwise make this one incremental.
            steps.push((
                CLUSTER_STEPS[1],
                vec![
                    "codes",
                    "--full",
                    "--cluster",
                    &cluster_args,
                    "--as-of",
                    &as_of,
                    "--out",
                    &codes_cluster_text,
                ],
            ));
            steps.push((
                CLUSTER_STEPS[2],
                vec![
                    "inflow",
                    "--cluster",
                    &cluster_args,
                    "--as-of",
                    &as_of,
                    "--format",
                    "json",
                ],
            ));
        }
        println!("\n{} residents × {} days:", thousands(n), a.days);
        for (step, mut args) in steps {
            // Every step after generation in the budget (the global flag; the index steps give
            // their own).
            if step != STEPS[0] && !args.contains(&"--memory") {
                args.splice(0..0, ["--memory", budget_text.as_str()]);
            }
            let ChildRun { secs, peak } = fangyi_in_child(&data, &key, &args, &[])
                .with_context(|| format!("{step} at {} residents", thousands(n)))?;
            println!(
                "  {step:<24} {secs:>9.1} s   peak RSS {:>10}",
                human_bytes(peak)
            );
            if step == STEPS[1] && !a.keep_input {
                std::fs::remove_dir_all(&input).ok();
            }
            all.push(Measured {
                step,
                persons: n,
                secs,
                peak_bytes: peak,
            });
        }
        if codes_outs[1].exists() {
            anyhow::ensure!(
                std::fs::read(&codes_outs[0])? == std::fs::read(&codes_outs[1])?,
                "codes on the cluster DIFFER from the local sweep's (both kept: {}, {})",
                codes_outs[1].display(),
                codes_outs[0].display()
            );
            println!("  codes on the cluster gave exactly the local sweep's file");
        }
        for out in &codes_outs {
            std::fs::remove_file(out).ok();
        }
        let index_rows = sorted_rows(&trace_outs[0])?;
        for (way, out) in ["as SQL", "on the cluster"].iter().zip(&trace_outs[1..]) {
            if !out.exists() {
                continue;
            }
            let rows = sorted_rows(out)?;
            anyhow::ensure!(
                rows == index_rows,
                "trace --all {way} DIFFERS from the index: {} rows against {} (both kept: {}, {})",
                thousands(rows.len() as u64),
                thousands(index_rows.len() as u64),
                out.display(),
                trace_outs[0].display()
            );
            println!(
                "  trace --all {way} gave exactly the index's {} rows",
                thousands(rows.len() as u64)
            );
        }
        for out in &trace_outs {
            std::fs::remove_file(out).ok();
        }
        std::fs::write(
            &marker,
            serde_json::to_string_pretty(&as_json(&all))? + "\n",
        )?;
    }
    if let Some(c) = cluster {
        c.stop(budget);
    }
    print_growth(&sizes, &all);
    if let Some(out) = &a.json {
        std::fs::write(out, serde_json::to_string_pretty(&as_json(&all))? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
        println!("\nwrote {}", out.display());
    }
    Ok(())
}

/// A `trace --all` file's data rows, sorted: the same rows in any order compare equal.
fn sorted_rows(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    rows.sort_unstable();
    Ok(rows)
}

fn as_json(all: &[Measured]) -> serde_json::Value {
    all.iter()
        .map(|m| {
            serde_json::json!({
                "step": m.step, "persons": m.persons, "secs": m.secs, "peak_bytes": m.peak_bytes,
            })
        })
        .collect()
}

/// Time ∝ size^b between consecutive sizes, per step; b well above 1 flags a super-linear step.
fn print_growth(sizes: &[u64], all: &[Measured]) {
    if sizes.len() < 2 {
        return;
    }
    println!("\ngrowth exponent b (time ∝ residents^b; 1 = linear), and peak RSS per resident:");
    let mut steps: Vec<&str> = STEPS.to_vec();
    for step in CLUSTER_STEPS {
        if all.iter().any(|m| m.step == step) {
            steps.push(step);
        }
    }
    for step in steps {
        let rows: Vec<&Measured> = all.iter().filter(|m| m.step == step).collect();
        let exponents: Vec<String> = rows
            .windows(2)
            .map(|w| format!("{:.2}", exponent(w[0], w[1])))
            .collect();
        let per_person: Vec<String> = rows
            .iter()
            .map(|m| format!("{:.0} B", m.peak_bytes as f64 / m.persons as f64))
            .collect();
        println!(
            "  {step:<24} b {:<16} RSS/resident {}",
            exponents.join(", "),
            per_person.join(", ")
        );
    }
}

/// The fitted exponent between two sizes.
fn exponent(small: &Measured, large: &Measured) -> f64 {
    (large.secs / small.secs.max(1e-9)).ln() / (large.persons as f64 / small.persons as f64).ln()
}

/// A scheduler and two executors on loopback, each a `fangyi cluster …` child.
struct Cluster {
    scheduler: String,
    children: Vec<Child>,
}

impl Cluster {
    /// Each executor's tasks share `budget` (the steps' own), spilling past it.
    fn start(dir: &Path, key: &Path, budget: MemoryBudget) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe().context("finding the fangyi binary")?;
        let port = free_port()?;
        let scheduler = format!("127.0.0.1:{port}");
        let mut cluster = Cluster {
            scheduler: scheduler.clone(),
            children: Vec::new(),
        };
        // Each node's messages go to DIR/NAME.log, where a node that fails to start says why.
        let spawn = |name: &str, args: &[&str]| -> anyhow::Result<Child> {
            let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
            Command::new(&exe)
                .args(args)
                .env_remove("FANGYI_MASTER_KEY")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting the cluster's {name}"))
        };
        cluster.children.push(spawn(
            "scheduler",
            &["cluster", "scheduler", "--bind", &scheduler],
        )?);
        wait_for_port(port, dir)?;
        for name in ["executor-1", "executor-2"] {
            let (flight, grpc) = (free_port()?, free_port()?);
            let work: PathBuf = dir.join(name);
            std::fs::create_dir_all(&work)?;
            let bind = format!("127.0.0.1:{flight}");
            let grpc = grpc.to_string();
            let key_text = key.to_string_lossy().into_owned();
            let work_text = work.to_string_lossy().into_owned();
            let budget_text = budget.to_string();
            cluster.children.push(spawn(
                name,
                &[
                    "--key-file",
                    &key_text,
                    "--memory",
                    &budget_text,
                    "cluster",
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--bind",
                    &bind,
                    "--grpc-port",
                    &grpc,
                    "--work-dir",
                    &work_text,
                    "--keys",
                ],
            )?);
            wait_for_port(flight, dir)?;
        }
        println!("cluster: scheduler {scheduler}, two executors");
        Ok(cluster)
    }

    /// Says each executor's peak resident memory (over every size run, so the largest's),
    /// against the pool it was given, then stops the nodes.
    fn stop(mut self, budget: MemoryBudget) {
        let peaks: Vec<String> = self.children[1..]
            .iter()
            .map(|c| vm_hwm(c.id()).map_or_else(|| "unknown".to_string(), human_bytes))
            .collect();
        println!(
            "cluster: executors' peak RSS {} (each given --memory {budget})",
            peaks.join(" and ")
        );
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
    }
}

/// The peak resident memory of the running process `pid` (Linux's `VmHWM`), in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!(
        "a cluster node did not listen on port {port} within 60 s (its log is in {})",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(persons: u64, secs: f64) -> Measured {
        Measured {
            step: "x",
            persons,
            secs,
            peak_bytes: 0,
        }
    }

    #[test]
    fn a_running_process_has_a_peak() {
        let own = vm_hwm(std::process::id());
        if cfg!(target_os = "linux") {
            assert!(own.is_some_and(|b| b > 1 << 20), "{own:?}");
        }
        assert_eq!(vm_hwm(u32::MAX), None);
    }

    #[test]
    fn the_exponent_of_linear_and_quadratic_growth() {
        assert!((exponent(&m(1_000, 2.0), &m(10_000, 20.0)) - 1.0).abs() < 1e-9);
        assert!((exponent(&m(1_000, 2.0), &m(10_000, 200.0)) - 2.0).abs() < 1e-9);
        // n log n over a decade at a million: a little over one.
        let nlogn = |n: f64| n * n.ln();
        let b = exponent(&m(1_000_000, nlogn(1e6)), &m(10_000_000, nlogn(1e7)));
        assert!(b > 1.0 && b < 1.1, "{b}");
    }
}
