//! SQL through the engine on a generated province, per role: an analyst sees `persons` with
//! every combination of its columns shared by at least K persons and cannot single a person out
//! by joining quasi-identifiers to `lab_results`; an epidemiologist sees the rows of persons in
//! their region only; statements that fail, are refused, or are cut off are audited with the
//! statement; plans name no server paths.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use fangyi_engine as engine;

use engine::audit_api::AuditQuery;
use engine::{Account, Caller, Engine, EngineError, EngineOptions};
use privacy::{Purpose, Role, Scope};
use serde_json::Value;

const K: usize = privacy::sql::K;

fn keys() -> vault::Keys {
    vault::Keys::derive(&vault::MasterKey::from_bytes([11; 32]))
}

/// A province of 20,000 generated persons over twelve days, ingested once for all tests.
fn province() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input");
        let config = synth::Config {
            persons: 20_000,
            days: 12,
            ..synth::Config::default()
        };
        synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
        let data = dir.path().join("data");
        let keys = keys();
        let mut w = store::Writer::open(&data, keys.key_id(), model::Zone::CST, || {}).unwrap();
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
        // Open once so the trace index exists before tests open engines side by side.
        let warm = data.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let e = Engine::open(EngineOptions::new(&warm), keys.clone())
                    .await
                    .unwrap();
                e.warm().await.unwrap();
            });
        })
        .join()
        .unwrap();
        (dir, data)
    })
    .1
}

async fn engine() -> Engine {
    Engine::open(EngineOptions::new(province()), keys())
        .await
        .unwrap()
}

fn caller(name: &str, role: Role, region: Option<&str>) -> Caller {
    Caller::new(
        Account {
            name: name.into(),
            role,
            scope: Scope {
                region: region.map(|r| model::Region::parse(r.as_bytes()).unwrap()),
                community: None,
                person: None,
            },
        },
        Purpose::Analysis,
        "POST /api/v1/sql",
    )
}

async fn rows(e: &Engine, c: &Caller, sql: &str) -> Vec<Value> {
    match e.sql(c, sql).await {
        Ok(a) => {
            assert!(!a.truncated, "{sql}: cut at {} rows", a.rows.len());
            a.rows
        }
        Err(err) => panic!("{sql}: {err}"),
    }
}

fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} in {v} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_sees_no_combination_shared_by_fewer_than_k_persons() {
    let e = engine().await;
    let analyst = caller("analyst-k", Role::Analyst, None);
    let admin = caller("admin-k", Role::Admin, None);

    // The stored table singles almost everyone out (what the outside test found).
    let unique = rows(
        &e,
        &admin,
        "SELECT count(*) AS n FROM (SELECT birth_date, sex, home_region FROM persons \
         GROUP BY 1, 2, 3 HAVING count(*) = 1)",
    )
    .await;
    let persons = rows(
        &e,
        &admin,
        "SELECT count(DISTINCT person_id) AS n FROM persons",
    )
    .await;
    let (unique, persons) = (int(&unique[0], "n"), int(&persons[0], "n"));
    eprintln!("stored persons: {persons}, unique by birth date, sex and home region: {unique}");
    assert!(unique > persons / 2, "{unique} of {persons}");

    // The analyst's persons: one row per person, these columns and no others.
    let answer = e
        .sql(&analyst, "SELECT * FROM persons LIMIT 1")
        .await
        .unwrap();
    assert_eq!(
        answer.columns,
        [
            "person_id",
            "birth_decade",
            "sex",
            "home_region",
            "community_id"
        ]
    );
    let n = rows(
        &e,
        &analyst,
        "SELECT count(*) AS n, count(DISTINCT person_id) AS d FROM persons",
    )
    .await;
    assert_eq!(int(&n[0], "n"), persons);
    assert_eq!(int(&n[0], "d"), persons);

    // k: every combination of the columns an analyst sees, pseudonyms aside.
    let groups = rows(
        &e,
        &analyst,
        "SELECT birth_decade, sex, home_region, community_id, count(*) AS n FROM persons \
         GROUP BY 1, 2, 3, 4 ORDER BY n LIMIT 3",
    )
    .await;
    let smallest = int(&groups[0], "n");
    let shown = rows(
        &e,
        &analyst,
        "SELECT count(*) AS n FROM persons WHERE community_id IS NOT NULL AND birth_decade IS NOT NULL",
    )
    .await;
    eprintln!(
        "analyst: smallest combination {smallest} persons; {} of {persons} shown with decade, \
         sex, county and community",
        int(&shown[0], "n")
    );
    assert!(smallest >= K as i64, "{groups:?}");
    // Most people keep useful detail: the ladder is not a blanket suppression.
    assert!(int(&shown[0], "n") > persons * 9 / 10, "{shown:?}");

    // Columns that single out small groups are not there.
    for (sql, column) in [
        ("SELECT birth_date FROM persons", "birth_date"),
        ("SELECT household_id FROM persons", "household_id"),
        ("SELECT seat FROM travel", "seat"),
        ("SELECT pass_id FROM checkpoint", "pass_id"),
        ("SELECT stay_community FROM registrations", "stay_community"),
        ("SELECT _rid FROM lab_results", "_rid"),
    ] {
        let err = e.sql(&analyst, sql).await.unwrap_err();
        assert!(
            matches!(&err, EngineError::BadRequest(m) if m.contains(column)),
            "{sql}: {err}"
        );
    }
    // Instants are cut to the hour; rare free text and small employers are gone.
    let minutes = rows(
        &e,
        &analyst,
        "SELECT count(*) AS n FROM checkins WHERE date_trunc('hour', time_in) <> time_in",
    )
    .await;
    assert_eq!(int(&minutes[0], "n"), 0);
    for (table, column) in [
        ("checkins", "venue_id"),
        ("employment", "enterprise_id"),
        ("self_reports", "symptoms"),
        ("checkpoint", "purpose"),
    ] {
        let rare = rows(
            &e,
            &analyst,
            &format!(
                "SELECT count(*) AS n FROM (SELECT {column} FROM {table} WHERE {column} IS NOT NULL \
                 GROUP BY 1 HAVING count(DISTINCT person_id) < {K})"
            ),
        )
        .await;
        assert_eq!(int(&rare[0], "n"), 0, "{table}.{column}");
    }
    // A second question uses the tables built for the first (same snapshot and scope).
    let again = rows(&e, &analyst, "SELECT count(*) AS n FROM persons").await;
    assert_eq!(int(&again[0], "n"), persons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_with_a_region_sees_its_persons_generalised_among_themselves() {
    let e = engine().await;
    let admin = caller("admin-k-region", Role::Admin, None);
    let top = rows(
        &e,
        &admin,
        "SELECT home_region, count(*) AS n FROM persons GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
    )
    .await;
    let county = top[0]["home_region"].as_str().unwrap().to_string();
    let analyst = caller("analyst-k-region", Role::Analyst, Some(&county));
    let n = rows(&e, &analyst, "SELECT count(*) AS n FROM persons").await;
    assert_eq!(int(&n[0], "n"), int(&top[0], "n"));
    let groups = rows(
        &e,
        &analyst,
        "SELECT birth_decade, sex, home_region, community_id, count(*) AS n FROM persons \
         GROUP BY 1, 2, 3, 4 ORDER BY n LIMIT 1",
    )
    .await;
    assert!(int(&groups[0], "n") >= K as i64, "{groups:?}");
    // Their other tables hold their region's persons only.
    let outside = rows(
        &e,
        &analyst,
        "SELECT count(*) AS n FROM checkins c LEFT JOIN persons p USING (person_id) \
         WHERE p.person_id IS NULL",
    )
    .await;
    assert_eq!(int(&outside[0], "n"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_quasi_identifiers_to_lab_results_no_longer_singles_anyone_out() {
    let e = engine().await;
    let analyst = caller("analyst-attack", Role::Analyst, None);
    let admin = caller("admin-attack", Role::Admin, None);
    // What an attacker knows of a named case: birth date, sex, home and community (their ID
    // number and address tell them). As the admin: the stored rows.
    let cases = rows(
        &e,
        &admin,
        "SELECT DISTINCT p.person_id, p.birth_date, p.sex, p.home_region, p.community_id \
         FROM persons p JOIN lab_results l USING (person_id) WHERE l.result = 'positive' \
         ORDER BY p.person_id LIMIT 20",
    )
    .await;
    assert!(!cases.is_empty(), "the province has cases");
    let mut singled_out_before = 0;
    for case in &cases {
        let (birth, sex, home) = (
            case["birth_date"].as_str().unwrap(),
            case["sex"].as_str().unwrap(),
            case["home_region"].as_str().unwrap(),
        );
        // The attack on the stored table, as the finding ran it.
        let before = rows(
            &e,
            &admin,
            &format!(
                "SELECT count(DISTINCT p.person_id) AS n FROM persons p JOIN lab_results l \
                 USING (person_id) WHERE p.birth_date = DATE '{birth}' AND p.sex = '{sex}' \
                 AND p.home_region = '{home}'"
            ),
        )
        .await;
        if int(&before[0], "n") == 1 {
            singled_out_before += 1;
        }
        // The same attack as an analyst: the birth date is not a column any more.
        let err = e
            .sql(
                &analyst,
                &format!("SELECT person_id FROM persons WHERE birth_date = DATE '{birth}'"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::BadRequest(_)), "{err}");
        // The best it can do: every row consistent with what it knows, at any rung.
        let year: i32 = birth[..4].parse().unwrap();
        let decade = year / 10 * 10;
        let region = model::Region::parse(home.as_bytes()).unwrap();
        let regions = format!(
            "'{}', '{}', '{}'",
            region,
            region.prefecture(),
            region.province()
        );
        let community = match case["community_id"].as_str() {
            Some(c) => format!("(community_id = '{c}' OR community_id IS NULL)"),
            None => "community_id IS NULL".into(),
        };
        let candidates = rows(
            &e,
            &analyst,
            &format!(
                "SELECT count(DISTINCT p.person_id) AS n FROM persons p \
                 WHERE (birth_decade = {decade} OR birth_decade IS NULL) \
                 AND (sex = '{sex}' OR sex IS NULL) \
                 AND (home_region IN ({regions}) OR home_region IS NULL) AND {community}"
            ),
        )
        .await;
        assert!(
            int(&candidates[0], "n") >= K as i64,
            "case {}: {candidates:?}",
            case["person_id"]
        );
        // And each single combination it could pick holds at least K persons.
        let exact = rows(
            &e,
            &analyst,
            &format!(
                "SELECT birth_decade, sex, home_region, community_id, count(*) AS n FROM persons p \
                 WHERE (birth_decade = {decade} OR birth_decade IS NULL) \
                 AND (sex = '{sex}' OR sex IS NULL) \
                 AND (home_region IN ({regions}) OR home_region IS NULL) AND {community} \
                 GROUP BY 1, 2, 3, 4"
            ),
        )
        .await;
        for g in &exact {
            assert!(int(g, "n") >= K as i64, "{g}");
        }
    }
    eprintln!(
        "{singled_out_before} of {} cases singled out by the stored quasi-identifiers; none as \
         an analyst",
        cases.len()
    );
    assert!(singled_out_before > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epidemiologist_gets_only_the_rows_of_persons_in_their_region() {
    let e = engine().await;
    let admin = caller("admin-scope", Role::Admin, None);
    // The county with most residents.
    let top = rows(
        &e,
        &admin,
        "SELECT home_region, count(*) AS n FROM persons GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
    )
    .await;
    let county = top[0]["home_region"].as_str().unwrap().to_string();
    let epi = caller("epi-scope", Role::Epidemiologist, Some(&county));
    let residents: BTreeSet<i64> = rows(
        &e,
        &admin,
        &format!("SELECT DISTINCT person_id FROM persons WHERE covers('{county}', home_region)"),
    )
    .await
    .iter()
    .map(|r| int(r, "person_id"))
    .collect();
    let mut compared = HashMap::new();
    for kind in model::Kind::ALL {
        let table = kind.name();
        let personal = kind.spec().column("person_id").is_some();
        let epi_count = int(
            &rows(&e, &epi, &format!("SELECT count(*) AS n FROM {table}")).await[0],
            "n",
        );
        let expected = if personal {
            rows(
                &e,
                &admin,
                &format!(
                    "SELECT count(*) AS n FROM {table} t WHERE t.person_id IN \
                     (SELECT person_id FROM persons WHERE covers('{county}', home_region))"
                ),
            )
            .await
        } else {
            rows(&e, &admin, &format!("SELECT count(*) AS n FROM {table}")).await
        };
        assert_eq!(epi_count, int(&expected[0], "n"), "{table}");
        if personal {
            let seen = rows(
                &e,
                &epi,
                &format!(
                    "SELECT DISTINCT person_id FROM {table} ORDER BY 1 LIMIT {}",
                    engine::sql::MAX_ROWS
                ),
            )
            .await;
            for r in &seen {
                assert!(residents.contains(&int(r, "person_id")), "{table}: {r}");
            }
        }
        compared.insert(table, epi_count);
    }
    eprintln!("epidemiologist of {county}: {compared:?}");
    assert!(compared["travel"] > 0 && compared["persons"] as usize >= residents.len());
    // They see their own residents in full (birth date and all), like their other reads.
    let full = rows(&e, &epi, "SELECT birth_date FROM persons LIMIT 1").await;
    assert!(full[0]["birth_date"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_refused_and_cut_off_statements_are_audited_with_the_statement() {
    let e = engine().await;
    let analyst = caller("analyst-audit", Role::Analyst, None);
    let bad = "SELECT no_such_column FROM travel";
    assert!(e.sql(&analyst, bad).await.is_err());
    let deep = format!("SELECT {}", vec!["1"; 5_000].join("+"));
    assert!(matches!(
        e.sql(&analyst, &deep).await,
        Err(EngineError::BadRequest(_))
    ));
    let mut wrong_purpose = analyst.clone();
    wrong_purpose.purpose = Purpose::OutbreakResponse;
    assert!(matches!(
        e.sql(&wrong_purpose, "SELECT 1").await,
        Err(EngineError::Denied(_))
    ));
    // A request cut off while its query runs (the server's time limit drops the future).
    let endless = "SELECT sum(value) AS n FROM generate_series(1, 1000000000000)";
    tokio::select! {
        r = e.sql(&analyst, endless) => panic!("the endless query ended: {r:?}"),
        () = tokio::time::sleep(std::time::Duration::from_millis(300)) => {}
    }
    let admin = Caller::new(
        Account::local(),
        Purpose::Oversight,
        "test: read the audit log",
    );
    // The cut-off request's entry is written by its own task; wait for it.
    let mut waited = 0;
    let entries = loop {
        let entries = e
            .audit_entries(
                &admin,
                &AuditQuery {
                    actor: Some("analyst-audit".into()),
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        if entries.len() >= 4 {
            break entries;
        }
        waited += 1;
        assert!(
            waited < 1200,
            "the cut-off request was not audited: {entries:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let find = |needle: &str| {
        entries
            .iter()
            .find(|x| x.query.contains(needle))
            .unwrap_or_else(|| panic!("no entry with {needle}: {entries:#?}"))
    };
    let b = find(bad);
    assert!(b.outcome.starts_with("error: bad_request"), "{b:?}");
    assert_eq!(b.action, "sql");
    let d = find("SELECT 1+1+1");
    assert!(d.outcome.contains("nests deeper"), "{d:?}");
    let w = entries
        .iter()
        .find(|x| x.purpose == "outbreak_response")
        .unwrap();
    assert!(w.outcome.starts_with("denied"), "{w:?}");
    assert!(w.query.contains("SELECT 1"), "{w:?}");
    let c = find("generate_series");
    assert!(c.outcome.contains("cancelled"), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_files_by_their_place_in_the_data_dir() {
    let e = engine().await;
    let root = province().canonicalize().unwrap();
    for (c, sql) in [
        (
            caller("admin-explain", Role::Admin, None),
            "EXPLAIN SELECT * FROM travel",
        ),
        (
            caller("analyst-explain", Role::Analyst, None),
            "EXPLAIN VERBOSE SELECT count(*) FROM checkins",
        ),
        (
            caller("admin-explain", Role::Admin, None),
            "EXPLAIN ANALYZE SELECT count(*) FROM lab_results WHERE result = 'positive'",
        ),
    ] {
        let text = serde_json::to_string(&rows(&e, &c, sql).await).unwrap();
        assert!(text.contains("tables/"), "{sql}: {text}");
        for path in [root.to_string_lossy(), province().to_string_lossy()] {
            assert!(!text.contains(path.as_ref()), "{sql} shows {path}: {text}");
        }
    }
}
