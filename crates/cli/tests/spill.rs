//! `trace --all --via sql` within the global `--memory` budget: on a generated province, with a
//! budget of 32 MiB the SQL statement spills (sorts, aggregates, sort-merge joins to a temporary
//! folder outside the data dir) and writes exactly the index's file.

mod common;

use common::Env;

#[test]
fn trace_all_via_sql_within_32_mib_writes_the_index_file() {
    let env = Env::new();
    env.generate_and_ingest(20_000, 21);
    let out = |name: &str| env.path(name).to_str().unwrap().to_string();
    let (index, sql) = (out("index.csv"), out("sql.csv"));
    env.ok(&[
        "trace",
        "--all",
        "--as-of",
        "2020-02-03",
        "--depth",
        "2",
        "--out",
        &index,
    ]);
    // Spilled runs go to a folder of their own in TMPDIR, removed when the statement is done.
    let tmp = env.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let run = env
        .cmd()
        .env("TMPDIR", &tmp)
        .args([
            "--memory",
            "32MiB",
            "trace",
            "--all",
            "--as-of",
            "2020-02-03",
            "--depth",
            "2",
            "--via",
            "sql",
            "--out",
            &sql,
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "spill files left"
    );
    let (index, sql) = (
        std::fs::read_to_string(&index).unwrap(),
        std::fs::read_to_string(&sql).unwrap(),
    );
    assert!(index.lines().count() > 10, "contacts to compare: {index}");
    assert!(index == sql, "the SQL file differs from the index's");
}
