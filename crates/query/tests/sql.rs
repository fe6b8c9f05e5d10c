//! SQL over a real data dir made by ingest: tables per kind, pseudonym lookups, region
//! functions, read-only enforcement, and each output format.

use std::sync::atomic::AtomicBool;

use fangyi_query::{OutputFormat, Query, QueryError, write_stream};
use model::Zone;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

const P1: &str = "33030219800101006X";
const P2: &str = "42010619900101001X";

fn setup() -> (tempfile::TempDir, Query) {
    let keys = Keys::derive(&MasterKey::from_bytes([3; 32]));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("travel.csv");
    std::fs::write(
        &input,
        format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
             {P1},rail,G1234,2020-01-21,5,05F,汉口,420100,2020-01-21T08:00:00+08:00,温州南,330302,2020-01-21T14:30:00+08:00\n\
             {P2},rail,G1234,2020-01-21,5,06A,汉口,420106,2020-01-21T08:00:00+08:00,杭州东,330106,2020-01-21T12:30:00+08:00\n\
             {P2},flight,MU5321,2020-01-22,,23C,,330100,2020-01-22T08:00:00+08:00,,110000,2020-01-22T10:10:00+08:00\n"
        ),
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
    let q = Query::open(&store, &keys).unwrap();
    (dir, q)
}

async fn text(q: &Query, sql: &str, format: OutputFormat) -> String {
    let stream = q.stream(sql).await.unwrap();
    let mut out = Vec::new();
    write_stream(stream, format, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_kind_is_a_table_and_counts_match() {
    let (_d, q) = setup();
    let csv = text(
        &q,
        "SELECT mode, count(*) AS n FROM travel GROUP BY mode ORDER BY mode",
        OutputFormat::Csv,
    )
    .await;
    assert_eq!(csv, "mode,n\nflight,1\nrail,2\n");
    for kind in model::Kind::ALL {
        let sql = format!("SELECT count(*) AS n FROM {}", kind.name());
        let (_, b) = q.collect(&sql).await.unwrap();
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "{kind}");
    }
}

#[tokio::test]
async fn pseudonym_finds_a_persons_rows_and_regions_roll_up() {
    let (_d, q) = setup();
    let sql = format!(
        "SELECT service_no, car FROM travel WHERE person_id = pseudonym('{P2}') ORDER BY service_no"
    );
    assert_eq!(
        text(&q, &sql, OutputFormat::Csv).await,
        "service_no,car\nG1234,05\nMU5321,\n"
    );
    let sql = "SELECT count(*) AS n FROM travel WHERE covers('420100', from_region)";
    assert_eq!(text(&q, sql, OutputFormat::Csv).await, "n\n2\n");
    let sql = "SELECT DISTINCT prefecture(to_region) AS p, region_name(prefecture(to_region)) AS name FROM travel ORDER BY p";
    assert_eq!(
        text(&q, sql, OutputFormat::Csv).await,
        "p,name\n110000,北京市\n330100,杭州市\n330300,温州市\n"
    );
    // §7's arrival test: a move within Wuhan arrives in a district, not in Wuhan.
    let sql = "SELECT arrives('420106', '420111', 'county') AS a, \
               arrives('420106', '420111', 'prefecture') AS b, \
               arrives('330302', NULL, 'province') AS c, arrives('330302', '', 'county') AS d";
    assert_eq!(
        text(&q, sql, OutputFormat::Csv).await,
        "a,b,c,d\ntrue,false,true,true\n"
    );
    let e = q
        .collect("SELECT arrives('330302', '420100', 'city')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("level \"city\""), "{e}");
    let e = q
        .collect("SELECT pseudonym('123') FROM travel")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a valid person id"), "{e}");
}

#[tokio::test]
async fn times_print_in_the_deployment_zone() {
    let (_d, q) = setup();
    let json = text(
        &q,
        "SELECT depart_time, service_date FROM travel WHERE mode = 'flight'",
        OutputFormat::Json,
    )
    .await;
    assert_eq!(
        json.trim(),
        r#"[{"depart_time":"2020-01-22T08:00:00+08:00","service_date":"2020-01-22"}]"#
    );
    let table = text(
        &q,
        "SELECT depart_time FROM travel WHERE mode = 'flight'",
        OutputFormat::Table,
    )
    .await;
    assert!(table.contains("2020-01-22T08:00:00+08:00"), "{table}");
    assert!(table.ends_with("1 row\n"));
}

#[tokio::test]
async fn empty_results_are_still_well_formed() {
    let (_d, q) = setup();
    let sql = "SELECT service_no FROM travel WHERE mode = 'ship'";
    assert_eq!(text(&q, sql, OutputFormat::Json).await.trim(), "[]");
    assert_eq!(text(&q, sql, OutputFormat::Csv).await, "service_no\n");
    assert!(
        text(&q, sql, OutputFormat::Table)
            .await
            .ends_with("0 rows\n")
    );
}

#[tokio::test]
async fn bad_sql_and_writes_are_planning_errors() {
    let (_d, q) = setup();
    for sql in [
        "SELEC 1",
        "SELECT nope FROM travel",
        "SELECT * FROM nowhere",
        "DROP TABLE travel",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO travel SELECT * FROM travel",
    ] {
        match q.collect(sql).await {
            Err(QueryError::Sql(_)) => {}
            other => panic!("{sql}: {other:?}"),
        }
    }
    assert!(
        q.collect("SELECT * FROM vault").await.is_err(),
        "the vault is not a table"
    );
}

/// A cluster-shaped session (files by absolute path, kinds without files as views of no rows)
/// answers a statement of the user's that reads a kind of no files inside a larger plan as the
/// in-process session does. It once refused them (Ballista 55 sent an empty relation without
/// its columns); the cluster's planner now ships such a relation as a row of typed NULLs
/// filtered out, tested on a real cluster in `crates/cli/tests/cluster.rs`.
#[tokio::test]
async fn a_cluster_session_answers_a_statement_reading_a_kind_of_no_files() {
    let (d, _) = setup();
    let keys = Keys::derive(&MasterKey::from_bytes([3; 32]));
    let store = Store::open(&d.path().join("data"), keys.key_id()).unwrap();
    let limits = fangyi_query::Limits::default();
    let ctx = datafusion::prelude::SessionContext::new_with_config(
        fangyi_query::session_config(&limits).unwrap(),
    );
    let q = Query::open_on(
        ctx,
        &store,
        Some(&keys),
        &fangyi_query::Tables::Stored,
        limits,
        fangyi_query::FilePaths::Shared,
    )
    .unwrap();
    let union = "SELECT person_id FROM travel UNION ALL SELECT person_id FROM checkpoint";
    let (_, b) = q.collect(union).await.unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let (_, b) = q.collect("SELECT * FROM checkpoint").await.unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    let (_, b) = q.collect("SELECT * FROM travel").await.unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
}
