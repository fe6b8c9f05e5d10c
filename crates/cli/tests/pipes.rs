//! Output into a pipe whose reader has gone (`fangyi kinds | head -1`): the command ends
//! quietly with exit code 0, as Unix tools do, whichever way it writes — `println!`, a
//! buffered writer, the SQL result stream or clap's help.

mod common;

use std::process::Stdio;

use common::Env;

/// Runs `fangyi args…` with stdout a pipe whose reading end is already closed, so the first
/// write fails with EPIPE.
fn into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = env
        .cmd()
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn writing_into_a_closed_pipe_ends_quietly() {
    let env = Env::new();
    env.write(
        "p.csv",
        "person_id,home_region\n33030219800101006X,330302\n330302198005010112,330302\n",
    );
    env.ok(&[
        "ingest",
        "--kind",
        "persons",
        env.path("p.csv").to_str().unwrap(),
    ]);
    for args in [
        vec!["kinds"],
        vec!["--help"],
        vec!["gen", "--rates", "help"],
        vec!["stats"],
        vec!["sql", "SELECT * FROM persons"],
        vec!["sql", "--format", "csv", "SELECT * FROM persons"],
        vec!["sql", "--format", "json", "SELECT * FROM persons"],
        vec![
            "code",
            "33030219800101006X",
            "--as-of",
            "2020-01-25",
            "--format",
            "json",
        ],
        vec!["inflow", "--as-of", "2020-01-25", "--format", "json"],
    ] {
        let out = into_closed_pipe(&env, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} said: {err}");
    }
    // A real failure still says so, pipe or not.
    let out = into_closed_pipe(&env, &["sql", "SELEC nothing"]);
    assert_eq!(out.status.code(), Some(2));
}
