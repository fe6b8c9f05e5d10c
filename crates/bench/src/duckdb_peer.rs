//! Running a DuckDB peer script beside one of our answers: the script computes the same rows
//! over the same Parquet files, prints its best time, and its CSV is compared with ours byte
//! for byte. Shared by the benchmarks whose answers are whole tables (inflow, resume).

use std::path::Path;
use std::process::Command;

use anyhow::Context;

const REGIONS: &str = include_str!("../../model/data/regions.csv");

/// One comparison: which script, over which data, with which arguments of its own.
pub(crate) struct Peer<'a> {
    /// Short name for the files in `peers/` (`inflow` → `inflow.py`, `duckdb-inflow.csv`).
    pub name: &'a str,
    /// The script's text (it takes `--data`, `--regions`, `--out`, `--repeat` and its own).
    pub script: &'a str,
    pub data: &'a Path,
    pub args: Vec<String>,
    pub repeat: u32,
}

impl Peer<'_> {
    /// Writes our rows as `fangyi-NAME.csv`, runs the script into `duckdb-NAME.csv`, prints
    /// DuckDB's line under ours (`best` seconds, `rows` rows) and whether the answers agree.
    /// A script that fails is reported, not an error: the benchmark's own figures stand.
    pub fn compare(
        &self,
        dir: &Path,
        ours_csv: &str,
        rows: usize,
        best: f64,
    ) -> anyhow::Result<()> {
        let peers = dir.join("peers");
        std::fs::create_dir_all(&peers)?;
        let script = peers.join(format!("{}.py", self.name));
        std::fs::write(&script, self.script)?;
        let regions = peers.join("regions.csv");
        std::fs::write(&regions, REGIONS)?;
        let ours = peers.join(format!("fangyi-{}.csv", self.name));
        std::fs::write(&ours, ours_csv)?;
        let theirs = peers.join(format!("duckdb-{}.csv", self.name));
        let out = Command::new("python3")
            .arg(&script)
            .arg("--data")
            .arg(self.data)
            .arg("--regions")
            .arg(&regions)
            .args(&self.args)
            .arg("--out")
            .arg(&theirs)
            .args(["--repeat", &self.repeat.max(1).to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("running python3")?;
        let Some(secs) = best_seconds(&String::from_utf8_lossy(&out.stdout)) else {
            println!("duckdb failed (exit {:?})", out.status.code());
            return Ok(());
        };
        let lines = std::fs::read_to_string(&theirs)?.lines().count();
        println!(
            "{:<8} {:>10.3} {:>8}",
            "duckdb",
            secs,
            lines.saturating_sub(1)
        );
        println!("\nfangyi is {:.1}× faster than duckdb", secs / best);
        if std::fs::read(&ours)? == std::fs::read(&theirs)? {
            println!("results: duckdb computed exactly the same {rows} rows");
        } else {
            println!(
                "results: duckdb DIFFERS (compare {} and {})",
                ours.display(),
                theirs.display()
            );
        }
        Ok(())
    }
}

/// The seconds in the script's `duckdb <name> <seconds> <rows>` line, if it printed one.
fn best_seconds(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|l| {
        let p: Vec<&str> = l.split_whitespace().collect();
        (p.len() == 4 && p[0] == "duckdb")
            .then(|| p[2].parse::<f64>().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::best_seconds;

    #[test]
    fn the_timing_line_is_found_among_others() {
        assert_eq!(
            best_seconds("loading\nduckdb inflow 0.2500 120\n"),
            Some(0.25)
        );
        assert_eq!(best_seconds("duckdb failed\n"), None);
        assert_eq!(best_seconds("duckdb inflow fast 120\n"), None);
    }
}
