//! `fangyi bench codes`: the whole-population health-code recompute on a generated province,
//! timed end to end (sweep of the people a rule could touch, then every resident written),
//! asked of the engine as the command line's `fangyi codes` asks it.

use std::path::Path;
use std::time::Instant;

use engine::local::CodesReport;
use engine::{Account, Caller, Engine, EngineOptions, Purpose};

use crate::province::{Province, Run, START, machine, province, update_index};
use crate::{BenchCodesArgs, human_bytes, thousands};

pub fn run(a: BenchCodesArgs) -> anyhow::Result<()> {
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let keys = run.keys()?;
    let store = run.store(&keys)?;
    let started = Instant::now();
    update_index(&store)?;
    let indexed = started.elapsed().as_secs_f64();
    let start: model::Date = START.parse()?;
    let as_of = start.add_days(a.days as i32 - 1).to_string();
    let out = a.dir.join("codes.csv");

    println!("machine: {}", machine());
    println!("index up to date in {indexed:.1} s");
    let mut times = Vec::new();
    let mut last = None;
    for i in 0..a.repeat.max(1) {
        let r = write_codes(&run, &as_of, &out)?;
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
    println!(
        "{} {} as of the end of {}: {} green, {} yellow, {} red → {}",
        thousands(r.persons),
        if r.persons == 1 { "person" } else { "persons" },
        r.as_of,
        thousands(r.counts[0]),
        thousands(r.counts[1]),
        thousands(r.counts[2]),
        out.display()
    );
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

/// Everyone's code as of the end of `as_of` under the built-in rules, recomputed in full and
/// written to `out`, as the key holder asks it for outbreak response (audited like any ask).
fn write_codes(run: &Run, as_of: &str, out: &Path) -> anyhow::Result<CodesReport> {
    let rt = crate::runtime()?;
    let mut opts = EngineOptions::new(&run.data);
    opts.short_lived = true;
    let keys = run.keys()?;
    rt.block_on(async {
        let engine = Engine::open(opts, keys).await?;
        let caller = Caller::new(
            Account::local(),
            Purpose::OutbreakResponse,
            format!(
                "fangyi bench codes --as-of {as_of} --out {} --full",
                out.display()
            ),
        );
        let r = engine
            .codes_to(
                &caller,
                Some(as_of),
                out.to_path_buf(),
                true,
                Default::default(),
            )
            .await;
        engine.checkpoint_audit_now().await?;
        Ok(r?)
    })
}
