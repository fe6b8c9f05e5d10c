//! `fangyi bench resume`'s decisions (contract §8.1) and labour matching (§8.4), timed through
//! the engine's own paths (`Engine::resume_decide`, `Engine::resume_match`, as `fangyi resume
//! decide` and `fangyi resume match` ask them) on a generated province of the folder's own key,
//! against the bars (100,000 application rows in under 2 s, 100,000 seekers × 10,000
//! jobs in under 5 s).
//!
//! The province comes from the generator (every enterprise applying, `applications=1`); the
//! sizes the bars name are topped up beside it from the generated files: application rows made
//! from `employment` (start dates a week apart from February 10, 2020), job seekers from the
//! residents (twelve skills, any county of Zhejiang), jobs from the enterprises (1–8 openings).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use engine::resume_decide::DecideParams;
use engine::resume_match::MatchParams;
use engine::{Account, Caller, Engine, EngineOptions, Purpose};
use model::{Region, RegionTable};

use crate::province::{BENCH_KEY, Run, START, update_index};
use crate::{BenchResumeArgs, thousands};

const SEED: u64 = 2020;
const RATES: &str = "applications=1";
const SKILLS: [&str; 12] = [
    "welder",
    "electrician",
    "driver",
    "cook",
    "nurse",
    "cleaner",
    "assembler",
    "packer",
    "clerk",
    "mason",
    "programmer",
    "guard",
];
/// The day the openings are filled on.
const MATCH_DATE: &str = "2020-02-15";
/// The decisions' as-of instant: the end of this day.
const DECIDE_AS_OF: &str = "2020-03-31";

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// What one run measured.
#[derive(Debug)]
pub(crate) struct Figures {
    /// (rows decided, applications, best seconds).
    pub decide: Option<(usize, usize, f64)>,
    /// (seekers, jobs, openings filled, best seconds).
    pub matching: Option<(u64, u64, usize, f64)>,
}

/// Makes (or reuses) the work-resumption province in `DIR/work` and times what was asked.
pub(crate) fn run(a: &BenchResumeArgs) -> anyhow::Result<Figures> {
    let run = Run::new(a.dir.join("work"), a.dir.join(BENCH_KEY));
    let stamp = a.dir.join("resume-work.json");
    let want = serde_json::json!({
        "persons": a.persons, "applications": a.applications, "seekers": a.seekers,
        "jobs": a.jobs, "seed": SEED, "rates": RATES,
    })
    .to_string();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        if run.data.exists() {
            // Only a province this benchmark wrote (its stamp beside it) is replaced.
            if !stamp.exists() {
                return Err(crate::usage(format!(
                    "{} holds data this benchmark did not write; choose another --dir",
                    run.data.display()
                )));
            }
            std::fs::remove_dir_all(&run.data)?;
        }
        std::fs::create_dir_all(&a.dir)?;
        std::fs::write(&stamp, "generating\n")?;
        let input = a.dir.join("work-input");
        if input.exists() {
            std::fs::remove_dir_all(&input)?;
        }
        let started = Instant::now();
        let mut paths = vec![generate(a.persons, &input)?];
        paths.extend(top_up(a, &input)?);
        println!(
            "generated {} residents, {} application rows, {} seekers, {} jobs in {:.1} s",
            thousands(a.persons),
            thousands(a.applications),
            thousands(a.seekers),
            thousands(a.jobs),
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
    update_index(&run.store(&keys)?)?;
    let mut opts = EngineOptions::new(&run.data);
    opts.short_lived = true;
    let repeat = a.repeat.max(1);
    crate::runtime()?.block_on(async {
        let engine = Engine::open(opts, keys).await?;
        let mut figures = Figures {
            decide: None,
            matching: None,
        };
        if !a.no_decide {
            let caller = Caller::new(
                Account::local(),
                Purpose::WorkResumption,
                format!("fangyi bench resume: decide --as-of {DECIDE_AS_OF}"),
            );
            let params = DecideParams {
                application: None,
                as_of: Some(DECIDE_AS_OF.into()),
            };
            let mut best = f64::INFINITY;
            let mut found = (0, 0);
            for _ in 0..repeat {
                let started = Instant::now();
                let answer = engine.resume_decide(&caller, &params).await?;
                best = best.min(started.elapsed().as_secs_f64());
                found = (answer.rows.len(), answer.summary.len());
            }
            figures.decide = Some((found.0, found.1, best));
        }
        if !a.no_match {
            let caller = Caller::new(
                Account::local(),
                Purpose::WorkResumption,
                format!("fangyi bench resume: match --date {MATCH_DATE}"),
            );
            let params = MatchParams {
                date: MATCH_DATE.into(),
            };
            let mut best = f64::INFINITY;
            let mut filled = 0;
            for _ in 0..repeat {
                let started = Instant::now();
                let answer = engine.resume_match(&caller, &params).await?;
                best = best.min(started.elapsed().as_secs_f64());
                filled = answer.iter().map(|j| j.filled).sum();
            }
            let store = run.store(engine.keys())?;
            let rows = |k| store.tables(k).iter().map(|f| f.rows()).sum::<u64>();
            figures.matching = Some((
                rows(model::Kind::JobSeekers),
                rows(model::Kind::Jobs),
                filled,
                best,
            ));
        }
        engine.checkpoint_audit_now().await?;
        Ok(figures)
    })
}

/// Prints the figures under their bars.
pub(crate) fn print(f: &Figures) {
    if let Some((rows, apps, secs)) = f.decide {
        println!(
            "\ndecisions (contract §8.1) through Engine::resume_decide, as of {DECIDE_AS_OF}: {} rows of {} applications in {secs:.3} s → {} rows/s; bar: 100,000 rows in < 2 s {}",
            thousands(rows as u64),
            thousands(apps as u64),
            thousands((rows as f64 / secs.max(1e-9)) as u64),
            bar(rows >= 100_000, secs < 2.0)
        );
        println!(
            "  no DuckDB peer: a decision needs each person's health code on the start date, which is fangyi's rule engine over its trace index; DuckDB has no such input"
        );
    }
    if let Some((seekers, jobs, filled, secs)) = f.matching {
        println!(
            "matching (contract §8.4) through Engine::resume_match on {MATCH_DATE}: {} seekers × {} jobs, {} openings filled in {secs:.3} s; bar: 100,000 × 10,000 in < 5 s {}",
            thousands(seekers),
            thousands(jobs),
            thousands(filled as u64),
            bar(seekers >= 100_000 && jobs >= 10_000, secs < 5.0)
        );
        println!(
            "  no DuckDB peer: the fill is sequential and greedy (each opening takes the best seeker still free, in rank order), which one SQL query does not express"
        );
    }
}

fn bar(sized: bool, met: bool) -> &'static str {
    match (sized, met) {
        (false, _) => "(smaller than the bar's size)",
        (true, true) => "met",
        (true, false) => "NOT met",
    }
}

/// Runs the generator (CSV, every enterprise applying) into `out`.
fn generate(persons: u64, out: &Path) -> anyhow::Result<PathBuf> {
    let config = synth::Config {
        persons,
        days: 35,
        start: START.parse()?,
        seed: SEED,
        region: "330000".parse()?,
        format: synth::Format::Csv,
        bad_row_rate: 0.0,
        rates: RATES.parse().map_err(|e| anyhow::anyhow!("rates: {e}"))?,
        zone: model::Zone::CST,
        power_baseline_days: 0,
        power_last_year: false,
    };
    synth::generate(&config, out, &|_| {}, &AtomicBool::new(false))?;
    Ok(out.to_path_buf())
}

/// The generated file `name`, wherever below `dir` the generator put it.
fn find(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            if let Ok(found) = find(&p, name) {
                return Ok(found);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Ok(p);
        }
    }
    anyhow::bail!("{name} not generated in {}", dir.display())
}

/// One column of a generated CSV file.
fn column(path: &Path, name: &str) -> anyhow::Result<Vec<String>> {
    let mut r = csv::Reader::from_path(path).with_context(|| path.display().to_string())?;
    let i = r
        .headers()?
        .iter()
        .position(|h| h == name)
        .with_context(|| format!("{}: no column {name}", path.display()))?;
    let mut out = Vec::new();
    for rec in r.records() {
        out.push(rec?[i].to_string());
    }
    Ok(out)
}

/// Writes the application rows, seekers and jobs the bars name into `out/bench/`.
fn top_up(a: &BenchResumeArgs, input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let employment = find(input, "employment.csv")?;
    let employers = column(&employment, "enterprise_id")?;
    let employees = column(&employment, "person_id")?;
    let residents = column(&find(input, "persons.csv")?, "person_id")?;
    let enterprises = column(&find(input, "enterprises.csv")?, "enterprise_id")?;
    anyhow::ensure!(
        !employees.is_empty() && !residents.is_empty() && !enterprises.is_empty(),
        "the generated province has no employment, residents or enterprises: raise --persons"
    );
    let counties: Vec<Region> = RegionTable::get()
        .counties_under(Region::new(330000).expect("Zhejiang"))
        .iter()
        .map(|r| r.region)
        .collect();
    let dir = input.join("bench");
    std::fs::create_dir_all(&dir)?;
    let mut paths = Vec::new();

    let path = dir.join("applications-bench.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "application_id,enterprise_id,person_id,start_date")?;
    let first = model::Date::from_ymd(2020, 2, 10).expect("a day");
    for n in 0..a.applications {
        let round = n / employees.len() as u64;
        let i = (n % employees.len() as u64) as usize;
        let start = first.add_days(7 * round as i32);
        let e = &employers[i];
        writeln!(w, "B{round}-{e},{e},{},{start}", employees[i])?;
    }
    w.flush()?;
    paths.push(path);

    let path = dir.join("job_seekers-bench.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "person_id,skill,region,available_from")?;
    for n in 0..a.seekers {
        let h = mix(n * 3 + 1);
        let person = &residents[(n % residents.len() as u64) as usize];
        let skill = SKILLS[(h % 12) as usize];
        let county = counties[((h >> 8) % counties.len() as u64) as usize];
        let from = match (h >> 20) % 3 {
            0 => String::new(),
            k => first.add_days(-(k as i32) * 3).to_string(),
        };
        writeln!(w, "{person},{skill},{county},{from}")?;
    }
    w.flush()?;
    paths.push(path);

    let path = dir.join("jobs-bench.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "job_id,enterprise_id,skill,openings,region")?;
    for n in 0..a.jobs {
        let h = mix(n * 3 + 2);
        let e = &enterprises[(h % enterprises.len() as u64) as usize];
        let skill = SKILLS[((h >> 8) % 12) as usize];
        let openings = 1 + (h >> 16) % 8;
        let county = counties[((h >> 24) % counties.len() as u64) as usize];
        writeln!(w, "BJ{n:06},{e},{skill},{openings},{county}")?;
    }
    w.flush()?;
    paths.push(path);
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_province_is_decided_and_matched_through_the_engine() {
        let tmp = tempfile::tempdir().unwrap();
        let a = BenchResumeArgs {
            enterprises: 0,
            days: 32,
            dir: tmp.path().join("b"),
            repeat: 1,
            no_peers: true,
            no_power: true,
            no_decide: false,
            no_match: false,
            persons: 2_000,
            applications: 1_500,
            seekers: 1_000,
            jobs: 100,
        };
        let f = run(&a).unwrap();
        let (rows, apps, _) = f.decide.unwrap();
        // Every topped-up row is decided (the generator's own applications besides).
        assert!(rows >= 1_500, "{rows}");
        assert!(apps > 0);
        let (seekers, jobs, filled, _) = f.matching.unwrap();
        assert!(seekers >= 1_000 && jobs >= 100, "{seekers} {jobs}");
        assert!(filled > 0);
        // A second run reuses the province (its stamp) and measures the same.
        let g = run(&a).unwrap();
        assert_eq!(g.decide.unwrap().0, rows);
        assert_eq!(g.matching.unwrap().2, filled);
    }
}
