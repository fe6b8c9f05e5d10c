//! What an analyst's first SQL request pays on a data dir, and what the next ones pay: the
//! de-identified tables built (`persons` generalised, the common values counted), then queries
//! through them, with the smallest group of `persons` shown.
//!
//! ```sh
//! fangyi gen --persons 1000000 --days 2 --out p1m && fangyi --data p1m-data ingest p1m
//! FANGYI_MASTER_KEY=… cargo run --release -p fangyi-query --example deidentify -- p1m-data
//! ```

use std::sync::Arc;
use std::time::Instant;

use fangyi_query::{Deidentified, Limits, Query, SqlRunner, Tables};

fn main() {
    let data = std::env::args().nth(1).expect("usage: deidentify DATA_DIR");
    let hex = std::env::var("FANGYI_MASTER_KEY").expect("FANGYI_MASTER_KEY");
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("64 hex digits"))
        .collect();
    let keys = vault::Keys::derive(&vault::MasterKey::from_bytes(
        bytes.try_into().expect("32 bytes"),
    ));
    let store = store::Store::open(std::path::Path::new(&data), keys.key_id()).expect("store");
    let runner = SqlRunner::new(Limits::default()).expect("runner");
    let s = Arc::new(store);
    let st = s.clone();
    let started = Instant::now();
    let d = runner
        .run(async move { Deidentified::build(&st, None).await })
        .expect("runner")
        .expect("build");
    println!(
        "de-identified tables built: {:.2} s ({} persons)",
        started.elapsed().as_secs_f64(),
        d.persons().num_rows()
    );
    let deidentified = Tables::Deidentified(Arc::new(d));
    for (tables, sql) in [
        (
            &deidentified,
            "SELECT min(n) AS smallest, count(*) AS combinations FROM (SELECT birth_decade, sex, \
         home_region, community_id, count(*) AS n FROM persons GROUP BY 1, 2, 3, 4)",
        ),
        (
            &deidentified,
            "SELECT count(*) AS shown_in_full FROM persons WHERE community_id IS NOT NULL",
        ),
        (
            &deidentified,
            "SELECT p.birth_decade, count(*) AS n FROM checkins c JOIN persons p \
         USING (person_id) GROUP BY 1 ORDER BY 1",
        ),
        (
            &deidentified,
            "SELECT count(*) AS n, count(DISTINCT venue_id) AS venues FROM checkins",
        ),
        // The same over the stored tables, for comparison.
        (
            &Tables::Stored,
            "SELECT count(*) AS n, count(DISTINCT venue_id) AS venues FROM checkins",
        ),
    ] {
        let q = Query::open_for(&s, None, tables, &runner).expect("session");
        let statement = sql.to_string();
        let started = Instant::now();
        let (_, batches) = runner
            .run(async move { q.collect(&statement).await })
            .expect("runner")
            .expect("query");
        let text = arrow::util::pretty::pretty_format_batches(&batches).expect("table");
        println!("{:.3} s  {sql}\n{text}", started.elapsed().as_secs_f64());
    }
}
