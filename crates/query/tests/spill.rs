//! The crate's own bulk statements within a memory budget: on a generated city, `trace --all`
//! in a pool so small that a session for statements from outside (no disk) fails gives the
//! index's rows exactly when it may spill, inflow and the exposed list the rows of an unbounded
//! session, and the pool's high-water mark stays within the budget; the temporary folder is
//! never the data dir.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use fangyi_query::{Limits, Query, QueryError, SqlContact, SqlRunner, Tables};
use model::{Level, Region, Zone};

mod common;
use common::{by_index, ingest};

fn trace_on(
    runner: &SqlRunner,
    q: Query,
    as_of: i64,
    zone: Zone,
    depth: u8,
) -> Result<Vec<SqlContact>, QueryError> {
    let q = Arc::new(q);
    runner
        .run(async move { q.trace_all_rows(as_of, zone, depth).await })
        .unwrap()
}

/// Too small for the hash joins of the plan a session for statements from outside runs on this
/// city; enough for the bulk session's sort-merge joins, sorts and aggregates, spilling.
const BUDGET: usize = 16 << 20;

#[test]
fn trace_all_spills_within_a_budget_too_small_for_memory_and_answers_the_index_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let config = synth::Config {
        persons: 10_000,
        days: 20,
        ..synth::Config::default()
    };
    synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
    let store = ingest(&dir.path().join("data"), Zone::CST, &[input]);
    let zone = store.zone();
    let as_of = config
        .start
        .add_days(config.days as i32 - 1)
        .end_of_day(zone)
        .millis();
    let runner = SqlRunner::new(Limits {
        memory_bytes: BUDGET,
        ..Limits::default()
    })
    .unwrap();

    // A session for statements from outside has no disk: past the pool it fails, plainly.
    let outside = Query::open_for(&store, None, &Tables::Stored, &runner).unwrap();
    match trace_on(&runner, outside, as_of, zone, 2) {
        Err(QueryError::Resources(m)) => assert!(m.contains("more memory"), "{m}"),
        other => panic!(
            "a {BUDGET}-byte pool without disk should not hold trace --all: {:?}",
            other.map(|r| r.len())
        ),
    }

    for depth in [1, 2] {
        let bulk = Query::open_bulk(&store, &runner).unwrap();
        let rows = trace_on(&runner, bulk, as_of, zone, depth).unwrap();
        let mut sorted = rows.clone();
        sorted.sort();
        let index = by_index(&store, as_of, depth);
        assert!(index.len() > 20, "the city has contacts: {}", index.len());
        assert_eq!(sorted.len(), index.len(), "depth {depth}: as many rows");
        assert!(sorted == index, "depth {depth}: the index's rows");
    }
    // Inflow and the exposed list in the same budget: the rows of a session without a bound.
    let (first, last) = (config.start, config.start.add_days(config.days as i32 - 1));
    let plain = Arc::new(Query::open_pseudonymised(&store).unwrap());
    let bulk = Arc::new(Query::open_bulk(&store, &runner).unwrap());
    let inflow = |q: Arc<Query>| {
        runner
            .run(async move { q.inflow_rows(Level::County, first, last, zone, 10).await })
            .unwrap()
            .unwrap()
    };
    let expected = inflow(plain.clone());
    assert!(!expected.is_empty(), "the city has arrivals");
    assert_eq!(inflow(bulk.clone()), expected, "inflow within the budget");
    let wuhan = Region::new(420100).unwrap();
    let exposed = |q: Arc<Query>| {
        runner
            .run(async move { q.exposed_rows(wuhan, first, last, zone).await })
            .unwrap()
            .unwrap()
    };
    assert_eq!(exposed(bulk), exposed(plain), "exposed within the budget");

    let peak = runner.bulk_peak_bytes();
    assert!(peak > 0, "the pool saw the statement");
    assert!(peak <= BUDGET, "peak {peak} within the budget {BUDGET}");
}

#[test]
fn the_spill_folder_is_never_inside_the_data_dir() {
    let runner = SqlRunner::new(Limits::default()).unwrap();
    let tmp = std::env::temp_dir();
    let refused = runner.bulk_env(&tmp).unwrap_err().to_string();
    assert!(refused.contains("inside the data dir"), "{refused}");
    // A data dir elsewhere is fine.
    assert!(
        runner
            .bulk_env(Path::new("/nonexistent-fangyi-data"))
            .is_ok()
    );
}
