//! Generates a synthetic province and prints the summary, rows per second and bytes on disk:
//! `cargo run --release -p fangyi-synth --example gen -- --persons N --days D --seed S --out DIR [--format csv] [--region 330000] [--bad-rows RATE] [--rates k=v,...]`

use std::sync::atomic::AtomicBool;

use fangyi_synth::{Config, Progress, generate};

fn main() {
    let mut config = Config::default();
    let mut out = std::path::PathBuf::from("synth-out");
    let mut quiet = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| -> &str {
            args.get(i + 1).map(String::as_str).unwrap_or_else(|| {
                eprintln!("{} needs a value", args[i]);
                std::process::exit(2)
            })
        };
        let fail = |what: &str, e: String| -> ! {
            eprintln!("bad {what}: {e}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--persons" => {
                config.persons = value(i)
                    .parse()
                    .unwrap_or_else(|e: std::num::ParseIntError| fail("--persons", e.to_string()))
            }
            "--days" => {
                config.days = value(i)
                    .parse()
                    .unwrap_or_else(|e: std::num::ParseIntError| fail("--days", e.to_string()))
            }
            "--seed" => {
                config.seed = value(i)
                    .parse()
                    .unwrap_or_else(|e: std::num::ParseIntError| fail("--seed", e.to_string()))
            }
            "--out" => out = value(i).into(),
            "--format" => config.format = value(i).parse().unwrap_or_else(|e| fail("--format", e)),
            "--region" => {
                config.region = value(i)
                    .parse()
                    .unwrap_or_else(|e: model::FieldError| fail("--region", e.to_string()))
            }
            "--start" => {
                config.start = value(i)
                    .parse()
                    .unwrap_or_else(|e: model::FieldError| fail("--start", e.to_string()))
            }
            "--bad-rows" => {
                config.bad_row_rate =
                    value(i)
                        .parse()
                        .unwrap_or_else(|e: std::num::ParseFloatError| {
                            fail("--bad-rows", e.to_string())
                        })
            }
            "--rates" => config.rates = value(i).parse().unwrap_or_else(|e| fail("--rates", e)),
            "--quiet" => {
                quiet = true;
                i += 1;
                continue;
            }
            other => fail("argument", other.to_string()),
        }
        i += 2;
    }
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        match p {
            Progress::Started { total_steps } => eprintln!("generating: {total_steps} steps"),
            Progress::Step { done, what } => eprintln!("[{done}] {what}"),
            Progress::Finished => eprintln!("done"),
        }
    };
    let cancel = AtomicBool::new(false);
    match generate(&config, &out, &progress, &cancel) {
        Ok(summary) => {
            let rows: u64 = summary.rows.values().sum();
            let secs = summary.elapsed.as_secs_f64();
            println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
            println!(
                "{rows} rows in {secs:.1} s = {:.0} rows/s; {} files, {:.1} MB on disk",
                rows as f64 / secs.max(1e-9),
                summary.files,
                summary.bytes as f64 / 1e6
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
