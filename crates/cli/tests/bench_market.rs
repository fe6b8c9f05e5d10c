//! `fangyi bench market` end to end: a small market written, ingested and scanned (every rule
//! fires), reused on a second run, refused sizes and folders; with DuckDB when python3 has it,
//! the peer's answer identical to the scan's.

mod common;

use common::Env;

/// The count printed for `rule` on the "flagged by rule:" line.
fn flagged(out: &str, rule: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.contains("flagged by rule:"))
        .unwrap_or_else(|| panic!("no rule counts in {out}"));
    let after = line
        .split(&format!("{rule} "))
        .nth(1)
        .unwrap_or_else(|| panic!("{rule} in {line}"));
    let n: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    n.parse().unwrap()
}

#[test]
fn a_small_market_is_written_scanned_and_reused() {
    let env = Env::new();
    let dir = env.path("bench");
    let dir = dir.to_str().unwrap();
    let args = [
        "bench",
        "market",
        "--captures",
        "5000",
        "--repeat",
        "1",
        "--no-peers",
        "--dir",
        dir,
    ];
    let out = env.ok(&args);
    assert!(out.contains("wrote 5,000 listing captures"), "{out}");
    assert!(out.contains("5,000 stored rows, 4,975 captures"), "{out}");
    for rule in [
        "efficacy_claim",
        "no_standard",
        "price_outlier",
        "price_rise",
        "standard_mismatch",
        "unknown_seller",
        "unregistered",
    ] {
        assert!(flagged(&out, rule) > 0, "{rule}: {out}");
    }
    let timing = out
        .lines()
        .find(|l| l.starts_with("fangyi "))
        .unwrap_or_else(|| panic!("{out}"));
    // The same size again: the market is reused, the same captures flagged.
    let again = env.ok(&args);
    assert!(!again.contains("wrote"), "{again}");
    let flagged_of = |t: &str| t.split_whitespace().nth(2).unwrap().to_string();
    let timing_again = again.lines().find(|l| l.starts_with("fangyi ")).unwrap();
    assert_eq!(flagged_of(timing), flagged_of(timing_again));
    // The operator's own key was neither read nor made: the bench keeps its own.
    assert!(env.path("bench/bench.key").exists());
    assert!(!env.path("keys/master.key").exists());
}

#[test]
fn bad_sizes_and_folders_it_did_not_make_are_refused() {
    let env = Env::new();
    let dir = env.path("bench");
    let dir = dir.to_str().unwrap();
    let err = env.fails(
        &[
            "bench",
            "market",
            "--captures",
            "10",
            "--no-peers",
            "--dir",
            dir,
        ],
        2,
    );
    assert!(err.contains("--captures"), "{err}");
    for bad in ["--captures=-5", "--captures=100000001", "--captures=many"] {
        let err = env.fails(&["bench", "market", bad, "--no-peers", "--dir", dir], 2);
        assert!(err.contains("--captures"), "{bad}: {err}");
    }
    assert!(!env.path("bench").exists());
    // A folder with a data dir this bench did not write: refused, left alone.
    let mine = env.write("mine/data/notes.txt", "mine");
    let err = env.fails(
        &[
            "bench",
            "market",
            "--captures",
            "1000",
            "--no-peers",
            "--dir",
            env.path("mine").to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("not a bench folder"), "{err}");
    assert_eq!(std::fs::read_to_string(mine).unwrap(), "mine");
}

/// DuckDB computes the same flagged captures from the same Parquet files (only where python3
/// already has the peers' packages: the bench would otherwise install them with pip).
#[test]
fn duckdb_computes_the_same_answer() {
    let present = std::process::Command::new("python3")
        .args(["-c", "import duckdb, polars, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("skipped: python3 cannot import duckdb, polars and pyarrow");
        return;
    }
    let env = Env::new();
    let dir = env.path("bench");
    let out = env.ok(&[
        "bench",
        "market",
        "--captures",
        "5000",
        "--repeat",
        "1",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.contains("results: duckdb computed exactly the same"),
        "{out}"
    );
    assert!(out.contains("faster than duckdb"), "{out}");
    let ours = std::fs::read_to_string(env.path("bench/peers/fangyi-market.csv")).unwrap();
    assert!(ours.starts_with("platform,listing_id,shop_id,captured_ms,unit_price_micro,rules\n"));
    assert!(ours.lines().count() > 1_000, "{ours}");
}
