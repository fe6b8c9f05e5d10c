//! End-to-end tests of the real `fangyi` binary on generated data: generate, ingest, query and
//! compare with the generator's own numbers; dedup on re-ingest; exit codes and messages.

mod common;

use common::Env;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn last_json_line(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.lines().last().expect("some output")).unwrap()
}

fn generate(env: &Env, extra: &[&str]) -> (PathBuf, serde_json::Value) {
    let input = env.path("input");
    let mut args = vec![
        "gen",
        "--persons",
        "4000",
        "--days",
        "6",
        "--seed",
        "11",
        "--bad-rows",
        "0.002",
        "--region",
        "330300",
        "--out",
    ];
    let input_s = input.to_str().unwrap().to_string();
    args.push(&input_s);
    args.extend_from_slice(extra);
    env.ok(&args);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input.join("truth/summary.json")).unwrap())
            .unwrap();
    (input, summary)
}

fn sql_count(env: &Env, sql: &str) -> u64 {
    let out = env.ok(&["sql", "--format", "json", sql]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows[0]["n"].as_u64().unwrap()
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn generated_data_lands_exactly_and_bad_rows_are_the_injected_ones() {
    let env = Env::new();
    let (input, truth) = generate(&env, &[]);
    let out = env.ok(&["ingest", "--format", "json", input.to_str().unwrap()]);
    let summary = last_json_line(&out);
    let keys: BTreeSet<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["files", "rows_accepted", "rows_rejected", "rejects"])
    );

    let good: u64 = truth["rows"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let bad: u64 = truth["bad_rows"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(bad > 0, "the generator injected bad rows");
    assert_eq!(summary["rows_accepted"].as_u64().unwrap(), good);
    assert_eq!(summary["rows_rejected"].as_u64().unwrap(), bad);
    assert_eq!(
        summary["files"].as_u64().unwrap(),
        truth["files"].as_u64().unwrap()
    );

    // Every reject is an injected bad row, at the same file, line and column.
    let rejects_path = summary["rejects"].as_str().unwrap();
    let mut rejected = BTreeSet::new();
    for r in csv::Reader::from_path(rejects_path).unwrap().records() {
        let r = r.unwrap();
        rejected.insert((
            file_name(&r[0]),
            r[1].parse::<u64>().unwrap(),
            r[2].to_string(),
        ));
    }
    let mut injected = BTreeSet::new();
    for r in csv::Reader::from_path(input.join("truth/bad_rows.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        injected.insert((
            file_name(&r[0]),
            r[1].parse::<u64>().unwrap(),
            r[2].to_string(),
        ));
    }
    assert_eq!(rejected, injected);

    // SQL sees exactly the generated rows of every kind.
    for (kind, n) in truth["rows"].as_object().unwrap() {
        assert_eq!(
            sql_count(&env, &format!("SELECT count(*) AS n FROM {kind}")),
            n.as_u64().unwrap(),
            "{kind}"
        );
    }
    // And stats agree without scanning.
    let stats: serde_json::Value =
        serde_json::from_str(&env.ok(&["stats", "--format", "json"])).unwrap();
    for (kind, n) in truth["rows"].as_object().unwrap() {
        assert_eq!(
            stats[kind]["rows"].as_u64().unwrap(),
            n.as_u64().unwrap(),
            "{kind}"
        );
    }
    assert_eq!(stats["travel"]["first_date"].as_str(), Some("2020-01-14"));

    // Ingesting the same folder again adds nothing.
    let again = last_json_line(&env.ok(&["ingest", "--format", "json", input.to_str().unwrap()]));
    assert_eq!(again["rows_accepted"].as_u64(), Some(0));
    assert_eq!(again["rows_rejected"].as_u64(), Some(0));
    assert_eq!(
        sql_count(&env, "SELECT count(*) AS n FROM persons"),
        truth["rows"]["persons"].as_u64().unwrap()
    );

    // Nothing readable of a person in the data dir: no id, name or phone from the input.
    let persons = std::fs::read_to_string(input.join("persons.csv")).unwrap();
    let mut needles = Vec::new();
    for line in persons.lines().skip(1).take(50) {
        let f: Vec<&str> = line.split(',').collect();
        needles.push(f[0].to_string());
        if !f[1].is_empty() {
            needles.push(f[1].to_string());
        }
        if !f[2].is_empty() {
            needles.push(f[2].to_string());
        }
    }
    for file in walk(&env.path("data")) {
        let bytes = std::fs::read(&file).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} readable in {}",
                file.display()
            );
        }
    }
}

#[test]
fn the_three_formats_give_the_same_store() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("master.key");
    let mut counts = Vec::new();
    for format in ["csv", "jsonl", "parquet"] {
        let env = Env::with_key(&key);
        let input = env.path("input");
        env.ok(&[
            "gen",
            "--persons",
            "1500",
            "--days",
            "3",
            "--seed",
            "5",
            "--format",
            format,
            "--out",
            input.to_str().unwrap(),
        ]);
        let s = last_json_line(&env.ok(&["ingest", "--format", "json", input.to_str().unwrap()]));
        assert_eq!(s["rows_rejected"].as_u64(), Some(0), "{format}");
        let by_kind: BTreeMap<String, u64> = model::Kind::ALL
            .iter()
            .map(|k| {
                (
                    k.name().to_string(),
                    sql_count(&env, &format!("SELECT count(*) AS n FROM {}", k.name())),
                )
            })
            .collect();
        // Same key, same input content: the same pseudonyms and values.
        let digest = env.ok(&[
            "sql",
            "--format",
            "csv",
            "SELECT sum(person_id % 1000003) AS a, count(DISTINCT service_no) AS b, min(depart_time) AS c, max(arrive_time) AS d FROM travel",
        ]);
        counts.push((by_kind, digest));
    }
    assert_eq!(counts[0], counts[1]);
    assert_eq!(counts[0], counts[2]);
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let env = Env::new();
    // Nothing ingested yet: no data dir to read (see tests/datadir.rs).
    let out = env.run(&["sql", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    let out = env.run(&["ingest", env.path("missing.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(env.path("notes.csv"), "a,b\n1,2\n").unwrap();
    let out = env.run(&["ingest", env.path("notes.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell the kind"));

    let out = env.run(&[
        "ingest",
        "--kind",
        "tickets",
        env.path("notes.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));

    let out = env.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(
        env.path("p.csv"),
        "person_id,home_region\n33030219800101006X,330302\n",
    )
    .unwrap();
    env.ok(&[
        "ingest",
        "--kind",
        "persons",
        env.path("p.csv").to_str().unwrap(),
    ]);
    let out = env.run(&["sql", "SELEC nothing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SQL"));

    // A key file inside the data dir is refused.
    let out = env
        .cmd()
        .env("FANGYI_KEY_FILE", env.path("data/master.key"))
        .args(["stats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the data dir"));

    // Another key cannot read a data dir.
    let out = env
        .cmd()
        .env("FANGYI_KEY_FILE", env.path("keys/other.key"))
        .args(["stats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another master key"));
}

#[test]
fn help_shows_examples_everywhere() {
    let env = Env::new();
    for cmd in [
        vec!["--help"],
        vec!["gen", "--help"],
        vec!["ingest", "--help"],
        vec!["sql", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = env.ok(&cmd);
        assert!(out.contains("Example"), "{cmd:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn generating_again_replaces_the_earlier_province_and_other_folders_are_refused() {
    let env = Env::new();
    let out = env.path("province");
    let gen_into = |days: &str| {
        env.ok(&[
            "gen",
            "--persons",
            "1000",
            "--days",
            days,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    gen_into("3");
    assert!(
        out.join("travel-2020-01-16.csv").exists() || out.join("checkins-2020-01-16.csv").exists()
    );
    // Fewer days into the same folder: no file of the third day is left to be ingested.
    gen_into("2");
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.contains("2020-01-16")), "{names:?}");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("truth/summary.json")).unwrap())
            .unwrap();
    let listed = truth["files_detail"].as_array().unwrap().len();
    assert_eq!(
        names.iter().filter(|n| *n != "truth").count(),
        listed,
        "{names:?}"
    );

    // A folder with other files: refused, untouched.
    let mine = env.write("mine/persons.csv", "person_id,home_region\n");
    let err = env.fails(
        &[
            "gen",
            "--persons",
            "1000",
            "--out",
            mine.parent().unwrap().to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("not a province fangyi gen wrote"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "person_id,home_region\n"
    );
    // Likewise a bench, which clears input/ and data/ below its --dir.
    std::fs::create_dir_all(env.path("mine/data")).unwrap();
    let err = env.fails(
        &[
            "bench",
            "trace",
            "--dir",
            env.path("mine").to_str().unwrap(),
            "--no-peers",
        ],
        2,
    );
    assert!(err.contains("not a bench folder"), "{err}");
    assert!(env.path("mine/data").exists() && mine.exists());
    // bench scale too (its --memory once clashed with the global one: a panic, not exit 2).
    for memory in [None, Some("512MiB")] {
        let dir = env.path("mine").to_str().unwrap().to_string();
        let mut args = vec!["bench", "scale", "--dir", &dir, "--sizes", "1000"];
        args.extend(memory.iter().flat_map(|m| ["--memory", *m]));
        let err = env.fails(&args, 2);
        assert!(err.contains("not a bench scale folder"), "{err}");
    }
    assert!(env.path("mine/data").exists() && mine.exists());
}

/// `bench scale` end to end at a tiny size: every step runs as a child `fangyi` in the budget
/// (the global `--memory` ahead of each step's own arguments; the index steps give their own),
/// and the figures and the growth table come out for two sizes.
#[test]
fn bench_scale_runs_every_step_at_two_sizes() {
    let env = Env::new();
    let dir = env.path("scale");
    let json = env.path("scale.json");
    let out = env.ok(&[
        "bench",
        "scale",
        "--dir",
        dir.to_str().unwrap(),
        "--sizes",
        "1000,2000",
        "--days",
        "3",
        "--memory",
        "64MiB",
        "--json",
        json.to_str().unwrap(),
    ]);
    for step in [
        "generate",
        "ingest",
        "index (in memory)",
        "trace --all (index)",
        "trace --all (SQL)",
        "codes",
        "inflow",
    ] {
        assert_eq!(out.matches(step).count(), 3, "{step} in:\n{out}");
    }
    // Each size's SQL answer is held to the index's file, row for row.
    assert_eq!(
        out.matches("trace --all as SQL gave exactly the index's")
            .count(),
        2,
        "{out}"
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        figures.to_string().contains("index (in memory)"),
        "{figures}"
    );
}
