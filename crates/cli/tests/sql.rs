//! `fangyi sql` with the server's bounds: a statement that once overflowed a stack is refused
//! (exit 2, naming the bound) and the refusal is in the audit log with the statement; a query
//! past `--memory-mib` fails saying so; `EXPLAIN` names no path on the machine.

mod common;

use common::Env;

fn env_with_persons() -> Env {
    let env = Env::new();
    let p = env.write(
        "p.csv",
        "person_id,home_region\n33030219800101006X,330302\n330302198005010112,330302\n",
    );
    env.ok(&["ingest", "--kind", "persons", p.to_str().unwrap()]);
    env
}

#[test]
fn hostile_statements_exit_2_and_are_audited_with_the_statement() {
    let env = env_with_persons();
    let deep = format!("SELECT {} AS x", vec!["1"; 3000].join("+"));
    let err = env.fails(&["sql", &deep], 2);
    assert!(err.contains("nests deeper"), "{err}");
    let long = format!("SELECT 1{}", " ".repeat(70_000));
    let err = env.fails(&["sql", &long], 2);
    assert!(err.contains("bytes"), "{err}");
    let err = env.fails(
        &[
            "sql",
            "--memory-mib",
            "8",
            "SELECT array_agg(value) AS a FROM generate_series(1, 20000000)",
        ],
        1,
    );
    assert!(err.contains("more memory than SQL may use"), "{err}");
    // An ordinary query still answers.
    let out = env.ok(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM persons",
    ]);
    assert_eq!(out, "n\n2\n");
    let shown = env.ok(&["audit", "show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let sql: Vec<&serde_json::Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sql")
        .collect();
    assert_eq!(sql.len(), 4, "{shown}");
    assert!(sql[0]["query"].as_str().unwrap().contains("SELECT 1+1+1"));
    assert!(sql[0]["outcome"].as_str().unwrap().starts_with("error"));
    assert!(sql[2]["query"].as_str().unwrap().contains("array_agg"));
    assert!(sql[2]["outcome"].as_str().unwrap().contains("memory"));
    assert_eq!(sql[3]["outcome"], "ok");
}

#[test]
fn explain_names_stored_files_within_the_data_dir() {
    let env = env_with_persons();
    let out = env.ok(&["sql", "--format", "csv", "EXPLAIN SELECT * FROM persons"]);
    assert!(out.contains("tables/persons/"), "{out}");
    let root = env.path("data");
    for path in [
        root.to_string_lossy(),
        root.canonicalize().unwrap().to_string_lossy(),
    ] {
        assert!(!out.contains(path.as_ref()), "{out}");
    }
}
