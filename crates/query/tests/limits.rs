//! The bounds on SQL from outside, tested with input just past each limit and far past it (the
//! process must survive and answer with an error), the largest accepted statement of each shape
//! run on a stack a sixteenth of the SQL threads' (so the limits sit well below what the stack
//! holds), the memory pool, and plans that name no server path.

use std::sync::atomic::AtomicBool;

use fangyi_query::{Limits, Query, QueryError, SqlRunner, Tables};
use model::Zone;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn store() -> (tempfile::TempDir, Store) {
    let keys = Keys::derive(&MasterKey::from_bytes([5; 32]));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("travel.csv");
    std::fs::write(
        &input,
        "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
         33030219800101006X,rail,G1234,2020-01-21,5,05F,汉口,420100,2020-01-21T08:00:00+08:00,温州南,330302,2020-01-21T14:30:00+08:00\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut w = Writer::open(&data, keys.key_id(), Zone::CST, || {}).unwrap();
    ingest::run(
        &mut w,
        &keys,
        &[input],
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    drop(w);
    let store = Store::open(&data, keys.key_id()).unwrap();
    (dir, store)
}

/// Plans and runs `sql` on the runner's threads; the rows as JSON lines, or the error.
fn run(runner: &SqlRunner, store: &Store, sql: &str) -> Result<String, QueryError> {
    let q = Query::open_for(store, None, &Tables::Stored, runner)?;
    let sql = sql.to_string();
    let (_, batches) = runner
        .run(async move { q.collect(&sql).await })
        .expect("the runner")?;
    let mut out = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut out);
        for b in &batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    Ok(String::from_utf8(out).unwrap())
}

/// Statements of one shape, nesting `n` deep.
struct Shape {
    name: &'static str,
    make: fn(usize) -> String,
}

fn repeat(s: &str, n: usize) -> String {
    s.repeat(n)
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "a long sum (1+1+…)",
        make: |n| format!("SELECT {} AS x", vec!["1"; n].join("+")),
    },
    Shape {
        name: "a chain of AND",
        make: |n| format!("SELECT 1 AS x WHERE {}", vec!["1 = 1"; n].join(" AND ")),
    },
    Shape {
        name: "a chain of OR",
        make: |n| {
            let terms: Vec<String> = (0..n).map(|i| format!("x = {i}")).collect();
            format!("SELECT x FROM (SELECT 1 AS x) WHERE {}", terms.join(" OR "))
        },
    },
    Shape {
        name: "string concatenation",
        make: |n| format!("SELECT {} AS x", vec!["'a'"; n].join(" || ")),
    },
    Shape {
        name: "nested parentheses",
        make: |n| format!("SELECT {}1{} AS x", repeat("(", n), repeat(")", n)),
    },
    Shape {
        name: "nested NOT",
        make: |n| format!("SELECT {}true AS x", repeat("NOT ", n)),
    },
    Shape {
        name: "nested functions",
        make: |n| format!("SELECT {}1{} AS x", repeat("abs(", n), repeat(")", n)),
    },
    Shape {
        name: "nested CASE",
        make: |n| {
            format!(
                "SELECT {}1{} AS x",
                repeat("CASE WHEN true THEN ", n),
                repeat(" END", n)
            )
        },
    },
    Shape {
        name: "nested scalar subqueries",
        make: |n| format!("SELECT {}1{} AS x", repeat("(SELECT ", n), repeat(")", n)),
    },
    Shape {
        name: "nested derived tables",
        make: |n| {
            format!(
                "SELECT x FROM {}(SELECT 1 AS x){}",
                repeat("(SELECT x FROM ", n),
                repeat(")", n)
            )
        },
    },
    Shape {
        name: "a chain of UNION ALL",
        make: |n| vec!["SELECT 1 AS x"; n].join(" UNION ALL "),
    },
    Shape {
        name: "a chain of JOIN",
        make: |n| {
            let mut s = "SELECT count(*) AS x FROM travel t0".to_string();
            for i in 1..n {
                s.push_str(&format!(" JOIN travel t{i} ON t{i}.car = t0.car"));
            }
            s
        },
    },
    Shape {
        name: "a list of tables in FROM",
        make: |n| {
            let tables: Vec<String> = (0..n).map(|i| format!("travel t{i}")).collect();
            format!("SELECT count(*) AS x FROM {}", tables.join(", "))
        },
    },
    Shape {
        name: "a chain of CTEs",
        make: |n| {
            let mut s = "WITH c0 AS (SELECT 1 AS x)".to_string();
            for i in 1..n {
                s.push_str(&format!(", c{i} AS (SELECT x FROM c{})", i - 1));
            }
            format!("{s} SELECT x FROM c{}", n - 1)
        },
    },
    Shape {
        name: "a chain of CTEs, each reading the one before twice",
        make: |n| {
            let mut s = "WITH c0 AS (SELECT 1 AS x)".to_string();
            for i in 1..n {
                s.push_str(&format!(
                    ", c{i} AS (SELECT x FROM c{p} UNION ALL SELECT x FROM c{p})",
                    p = i - 1
                ));
            }
            format!("{s} SELECT count(*) AS x FROM c{}", n - 1)
        },
    },
    Shape {
        name: "nested EXISTS",
        make: |n| {
            format!(
                "SELECT 1 AS x WHERE {}true{}",
                repeat("EXISTS (SELECT 1 WHERE ", n),
                repeat(")", n)
            )
        },
    },
    Shape {
        name: "nested arrays",
        make: |n| format!("SELECT {}1{} AS x", repeat("[", n), repeat("]", n)),
    },
    Shape {
        name: "a wide IN list",
        make: |n| {
            format!(
                "SELECT 1 AS x WHERE 1 IN ({})",
                vec!["1"; n * 100].join(",")
            )
        },
    },
];

/// The largest `n` of `shape` the limits accept (0 when even 1 is refused), found by bisection;
/// `n + 1` must be refused by a limit, not fail otherwise.
fn boundary(runner: &SqlRunner, store: &Store, shape: &Shape) -> usize {
    let accepted = |n: usize| match run(runner, store, &(shape.make)(n)) {
        Ok(_) => true,
        Err(QueryError::Limit(_)) => false,
        // sqlparser's recursion limit inside a speculative parse surfaces as a syntax error.
        Err(QueryError::Sql(m)) if m.contains("ParserError") => false,
        Err(e) => panic!("{} at {n}: {e}", shape.name),
    };
    let (mut lo, mut hi) = (0usize, 1usize);
    while accepted(hi) {
        lo = hi;
        hi *= 2;
        assert!(hi <= 1 << 16, "{}: no limit stops it", shape.name);
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if accepted(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[test]
fn statements_past_a_limit_are_refused_and_the_largest_accepted_fit_a_sixteenth_of_the_stack() {
    let (_d, store) = store();
    let limits = Limits::default();
    let runner = SqlRunner::new(limits.clone()).unwrap();
    let small = SqlRunner::new(Limits {
        stack_bytes: limits.stack_bytes / 16,
        threads: 1,
        ..limits.clone()
    })
    .unwrap();
    for shape in SHAPES {
        let started = std::time::Instant::now();
        let n = boundary(&runner, &store, shape);
        eprintln!(
            "{}: up to {n} accepted ({:.1} s)",
            shape.name,
            started.elapsed().as_secs_f64()
        );
        assert!(n >= 1, "{}: nothing accepted", shape.name);
        // Just past the limit: refused with a message, not a crash.
        match run(&runner, &store, &(shape.make)(n + 1)) {
            Err(QueryError::Limit(m) | QueryError::Sql(m)) => assert!(!m.is_empty()),
            other => panic!("{} at {}: {other:?}", shape.name, n + 1),
        }
        // The largest accepted runs with a sixteenth of the stack the SQL threads have.
        run(&small, &store, &(shape.make)(n))
            .unwrap_or_else(|e| panic!("{} at {n} on the small stack: {e}", shape.name));
        // Far past it, within the text limit: refused before planning.
        let mut far = n + 1;
        while (shape.make)(far * 2).len() <= limits.max_sql_bytes && far < 1 << 20 {
            far *= 2;
        }
        let sql = (shape.make)(far);
        if sql.len() <= limits.max_sql_bytes {
            assert!(
                run(&runner, &store, &sql).is_err(),
                "{} at {far}",
                shape.name
            );
        }
    }
    // CTEs doubling forty times are refused before planning, which alone would take hours.
    let mut ctes = "WITH c0 AS (SELECT 1 AS x)".to_string();
    for i in 1..40 {
        ctes.push_str(&format!(
            ", c{i} AS (SELECT x FROM c{p} UNION ALL SELECT x FROM \"C{p}\")",
            p = i - 1
        ));
    }
    ctes.push_str(" SELECT count(*) FROM c39");
    assert!(matches!(
        run(&runner, &store, &ctes),
        Err(QueryError::Limit(m)) if m.contains("operators")
    ));
    // The finding: a sum of a few thousand terms (~6 KB).
    let finding = format!("SELECT {}", vec!["1"; 3000].join("+"));
    assert!(matches!(
        run(&runner, &store, &finding),
        Err(QueryError::Limit(m)) if m.contains("nests deeper")
    ));
    // Text past the length limit is refused before it is parsed, however it nests.
    let long = format!("SELECT 1{}", " ".repeat(limits.max_sql_bytes));
    assert!(matches!(
        run(&runner, &store, &long),
        Err(QueryError::Limit(m)) if m.contains("bytes")
    ));
    let huge = format!("SELECT {}", vec!["1"; 1 << 20].join("+"));
    assert!(matches!(
        run(&runner, &store, &huge),
        Err(QueryError::Limit(_))
    ));
    // The sum just under the limit is still right.
    let ok = format!("SELECT {} AS x", vec!["1"; 100].join("+"));
    assert_eq!(run(&runner, &store, &ok).unwrap(), "{\"x\":100}\n");
}

#[test]
fn only_reads_are_planned() {
    let (_d, store) = store();
    let runner = SqlRunner::new(Limits::default()).unwrap();
    for sql in [
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "RESET datafusion.execution.batch_size",
        "INSERT INTO travel SELECT * FROM travel",
        "SET datafusion.execution.batch_size = 1",
        "DROP TABLE travel",
    ] {
        assert!(
            matches!(run(&runner, &store, sql), Err(QueryError::Sql(_))),
            "{sql}"
        );
    }
    assert!(run(&runner, &store, "SHOW TABLES").is_ok());
}

#[test]
fn a_query_past_the_memory_pool_fails_and_says_so() {
    let (_d, store) = store();
    let runner = SqlRunner::new(Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    })
    .unwrap();
    for sql in [
        "SELECT array_agg(value) AS a FROM generate_series(1, 20000000)",
        "SELECT value FROM generate_series(1, 20000000) ORDER BY value DESC LIMIT 1000000 OFFSET 1",
    ] {
        match run(&runner, &store, sql) {
            Err(QueryError::Resources(m)) => assert!(m.contains("memory"), "{m}"),
            other => panic!("{sql}: {:?}", other.map(|s| s.len())),
        }
    }
    // The pool is free again for the next query.
    assert_eq!(
        run(&runner, &store, "SELECT count(*) AS n FROM travel").unwrap(),
        "{\"n\":1}\n"
    );
}

#[test]
fn plans_and_errors_name_files_within_the_data_dir() {
    let (dir, store) = store();
    let runner = SqlRunner::new(Limits::default()).unwrap();
    let root = dir.path().canonicalize().unwrap();
    for sql in [
        "EXPLAIN SELECT * FROM travel",
        "EXPLAIN VERBOSE SELECT count(*) FROM travel WHERE car = '05'",
        "EXPLAIN ANALYZE SELECT count(*) FROM travel WHERE car = '05'",
    ] {
        let text = run(&runner, &store, sql).unwrap();
        assert!(text.contains("tables/travel/"), "{sql}: {text}");
        for path in [root.to_string_lossy(), dir.path().to_string_lossy()] {
            assert!(!text.contains(path.as_ref()), "{sql}: {text}");
        }
    }
    // A damaged stored file is named by its place in the data dir too.
    let file = store.table_paths(model::Kind::Travel).remove(0);
    std::fs::write(&file, b"not parquet").unwrap();
    let err = run(&runner, &store, "SELECT * FROM travel").unwrap_err();
    assert!(
        !err.to_string().contains(root.to_string_lossy().as_ref()),
        "{err}"
    );
}
