//! `fangyi bench codes`: the whole-population health-code recompute on a generated province,
//! timed end to end (sweep of the people a rule could touch, then every resident written).

use std::time::Instant;

use crate::cli::BenchCodesArgs;
use crate::commands::bench_trace::{Province, START, machine, province};
use crate::commands::code_cmd::{print_counts, write_codes};
use crate::commands::trace_cmd::update_index;
use crate::commands::{human_bytes, thousands};
use crate::context;

pub fn run(a: BenchCodesArgs) -> anyhow::Result<()> {
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let data = run.data.clone();
    let keys = run.keys()?;
    let store = context::store(&data, &keys)?;
    let started = Instant::now();
    update_index(&store, false)?;
    let indexed = started.elapsed().as_secs_f64();
    let start: model::Date = START.parse()?;
    let as_of = start.add_days(a.days as i32 - 1).to_string();
    let set = rules::RuleSet::builtin();
    let out = a.dir.join("codes.csv");

    println!("machine: {}", machine());
    println!("index up to date in {indexed:.1} s");
    let mut times = Vec::new();
    let mut last = None;
    for i in 0..a.repeat.max(1) {
        let r = write_codes(&run, &set, Some(&as_of), &out, true)?;
        println!(
            "  run {}: {:.2} s (sweep {:.2} s: {} examined, contacts of {} cases; writing {:.2} s)",
            i + 1,
            r.seconds,
            r.sweep_seconds,
            thousands(r.examined),
            thousands(r.cases_traced),
            r.seconds - r.sweep_seconds
        );
        times.push(r.seconds);
        last = Some(r);
    }
    let r = last.expect("one run");
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    print_counts(&r, &out);
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "whole population recomputed: best {best:.2} s, median {median:.2} s → {} persons/s ({}); {}",
        thousands((r.persons as f64 / best) as u64),
        human_bytes(size),
        if r.persons >= 10_000_000 && best < 60.0 {
            "target (10 M in under a minute) met"
        } else if r.persons >= 10_000_000 {
            "target (10 M in under a minute) NOT met"
        } else {
            "below 10 M persons: scale with --persons 10000000"
        }
    );
    Ok(())
}
