//! End-to-end tests of `fangyi trace`, `trace --all`, `cotravel` and `index` on a small
//! hand-made city where every rule of contract §3 has a person who meets it and one who just
//! misses it; the trace itself is a golden file.

mod common;

use common::{Env, golden};
use model::{Date, PersonId};

/// Person `n` of the test city, a valid resident identity number.
fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1980, 1, 1 + n).unwrap(), 100 + n)
        .unwrap()
        .to_string()
}

/// A: the case, confirmed on the 23rd with onset on the 21st, so infectious from
/// 2020-01-19T00:00+08:00 to 2020-01-23T10:00+08:00.
fn city(env: &Env) {
    let [a, b, c, d, e, f, g, h, i, j, k, l] = std::array::from_fn(|n| id(n as u32));
    env.write(
        "in/persons.csv",
        &format!(
            "person_id,name,home_region,community_id,household_id\n\
             {a},张三,330302,C1,H1\n{j},张四,330302,C1,H1\n{b},李四,330302,C2,H2\n"
        ),
    );
    let t = "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time";
    env.write(
        "in/travel.csv",
        &format!(
            "{t}\n\
             {a},rail,G1234,2020-01-21,5,05F,汉口,420100,2020-01-21T08:00:00+08:00,温州南,330300,2020-01-21T14:30:00+08:00\n\
             {b},rail,G1234,2020-01-21,05,01A,武昌,420100,2020-01-21T09:00:00+08:00,温州南,330300,2020-01-21T14:30:00+08:00\n\
             {c},rail,G1234,2020-01-21,6,01A,汉口,420100,2020-01-21T08:00:00+08:00,温州南,330300,2020-01-21T14:30:00+08:00\n\
             {d},rail,G1234,2020-01-21,,,汉口,420100,2020-01-21T08:00:00+08:00,杭州东,330100,2020-01-21T12:00:00+08:00\n\
             {a},flight,MU5321,2020-01-20,,12C,,420100,2020-01-20T18:00:00+08:00,,330300,2020-01-20T19:50:00+08:00\n\
             {e},flight,MU5321,2020-01-20,,15A,,420100,2020-01-20T18:00:00+08:00,,330300,2020-01-20T19:50:00+08:00\n\
             {f},flight,MU5321,2020-01-20,,16A,,420100,2020-01-20T18:00:00+08:00,,330300,2020-01-20T19:50:00+08:00\n\
             {a},coach,K88,2020-01-18,,,,330300,2020-01-18T09:00:00+08:00,,330302,2020-01-18T10:00:00+08:00\n\
             {l},coach,K88,2020-01-18,,,,330300,2020-01-18T09:00:00+08:00,,330302,2020-01-18T10:00:00+08:00\n"
        ),
    );
    env.write(
        "in/checkins.csv",
        &format!(
            "person_id,venue_id,time_in,time_out\n\
             {a},V1,2020-01-22T12:00:00+08:00,2020-01-22T12:40:00+08:00\n\
             {g},V1,2020-01-22T12:20:00+08:00,\n\
             {h},V1,2020-01-22T12:30:00+08:00,2020-01-22T13:00:00+08:00\n\
             {b},V2,2020-01-25T10:00:00+08:00,2020-01-25T11:00:00+08:00\n\
             {k},V2,2020-01-25T10:30:00+08:00,2020-01-25T11:30:00+08:00\n"
        ),
    );
    env.write(
        "in/checkpoint.csv",
        &format!(
            "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose\n\
             P1,浙C12345,{a},driver,K330302,330302,2020-01-22T20:00:00+08:00,420100,330302,返乡\n\
             P1,浙C12345,{i},passenger,K330302,330302,2020-01-22T20:00:00+08:00,420100,330302,返乡\n"
        ),
    );
    env.write(
        "in/lab_results.csv",
        &format!(
            "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
             {a},2020-01-22T09:00:00+08:00,positive,,,2020-01-22T20:00:00+08:00\n\
             {a},2020-01-23T08:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n\
             {g},2020-01-26T08:00:00+08:00,positive,asymptomatic,,2020-01-27T10:00:00+08:00\n\
             {c},2020-01-26T08:00:00+08:00,negative,,,2020-01-27T10:00:00+08:00\n"
        ),
    );
    let input = env.path("in");
    env.ok(&["ingest", input.to_str().unwrap()]);
}

#[test]
fn trace_names_every_close_contact_with_evidence() {
    let env = Env::new();
    city(&env);
    let a = id(0);
    let json = env.ok(&[
        "trace",
        &a,
        "--as-of",
        "2020-02-01",
        "--depth",
        "2",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    golden("trace.json", &common::indent_json(&json));

    let ids: Vec<&str> = v["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person_id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "contacts are sorted by person id");
    let find = |v: &serde_json::Value, n: u32| -> Option<(u64, String)> {
        v["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["person_id"] == id(n).as_str())
            .map(|c| {
                (
                    c["degree"].as_u64().unwrap(),
                    c["via"].as_str().unwrap().to_string(),
                )
            })
    };
    let d1 = env.ok(&["trace", &a, "--as-of", "2020-02-01", "--format", "json"]);
    let d1: serde_json::Value = serde_json::from_str(&d1).unwrap();
    assert_eq!(d1["contacts"].as_array().unwrap().len(), 6);
    // b same car, d no car, e 3 rows away, g 20 minutes (no time_out), i same pass, j household.
    for n in [1, 3, 4, 6, 8, 9] {
        assert_eq!(
            find(&d1, n),
            Some((1, a.clone())),
            "person {n} is a close contact"
        );
        assert_eq!(
            find(&v, n),
            Some((1, a.clone())),
            "person {n} stays at degree 1"
        );
    }
    // c other car, f 4 rows away, h 10 minutes, l before the window.
    for n in [2, 5, 7, 11] {
        assert_eq!(
            find(&d1, n),
            None,
            "person {n} is not a contact of the case"
        );
    }
    // At depth 2: c shared d's carless ride, f sat a row from e, h overlapped g for half an
    // hour, k met b after b's exposure; l met no one.
    for (n, via) in [(2, 3), (5, 4), (7, 6), (10, 1)] {
        assert_eq!(find(&v, n), Some((2, id(via))), "person {n} at degree 2");
    }
    assert_eq!(find(&v, 11), None);

    let table = env.ok(&["trace", &a, "--as-of", "2020-02-01", "--format", "table"]);
    assert!(table.contains("6 close contacts"), "{table}");
    assert!(table.contains("rail G1234 2020-01-21 car 05"), "{table}");

    // Before the confirmation A is not a case yet: a clear error, exit 2.
    let err = env.fails(&["trace", &a, "--as-of", "2020-01-23T09:59:59+08:00"], 2);
    assert!(
        err.contains("not a case") && err.contains("suspected"),
        "{err}"
    );
    let err = env.fails(&["trace", &id(2), "--as-of", "2020-02-01"], 2);
    assert!(err.contains("not a case"), "{err}");
    let err = env.fails(&["trace", "330302198001010001"], 2);
    assert!(err.contains("not a person id"), "{err}");
    env.fails(&["trace", &a, "--depth", "3"], 2);
    env.fails(&["trace", &a, "--as-of", "2020-01-23T10:00:00"], 2);
}

#[test]
fn all_cases_at_once_as_csv_and_parquet() {
    let env = Env::new();
    city(&env);
    let out = env.path("contacts.csv");
    env.ok(&[
        "trace",
        "--all",
        "--as-of",
        "2020-02-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    golden("trace-all.csv", &text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "case_id,person_id,degree,via,is_case,first_exposure,last_exposure,quarantine_until,evidence"
    );
    // A's six contacts, g among them flagged as a case. g is a case too, but with its onset
    // taken from its positive sample on the 26th its window opens on the 24th, after the venue.
    assert_eq!(lines.len(), 1 + 6);
    let g_row = lines
        .iter()
        .find(|l| l.starts_with(&format!("{},{}", id(0), id(6))))
        .unwrap();
    assert!(g_row.contains(",true,"), "{g_row}");

    let pq = env.path("contacts.parquet");
    env.ok(&[
        "trace",
        "--all",
        "--as-of",
        "2020-02-01",
        "--out",
        pq.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&pq).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert!(!env.path(".contacts.parquet.tmp").exists());
    env.fails(&["trace", "--all"], 2);

    // The same files by SQL over the stored tables, at both depths.
    for (depth, name) in [("1", "contacts"), ("2", "deep")] {
        for ext in ["csv", "parquet"] {
            let by = |via: &str| {
                let out = env.path(&format!("{name}-{via}.{ext}"));
                let o = out.to_str().unwrap();
                env.ok(&[
                    "trace",
                    "--all",
                    "--as-of",
                    "2020-02-01",
                    "--depth",
                    depth,
                    "--via",
                    via,
                    "--out",
                    o,
                ]);
                std::fs::read(&out).unwrap()
            };
            assert_eq!(by("index"), by("sql"), "depth {depth}, {ext}");
        }
    }
    env.fails(&["trace", &id(0), "--via", "sql"], 2);
    env.fails(&["trace", "--all", "--via", "duckdb", "--out", "x.csv"], 2);
}

#[test]
fn cotravel_counts_cases_aboard_and_names_no_one() {
    let env = Env::new();
    city(&env);
    let ask = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["cotravel", "--as-of", "2020-02-01", "--format", "json"];
        all.extend_from_slice(args);
        let out = env.ok(&all);
        assert!(
            !out.contains(&id(0)),
            "no identity in a public answer: {out}"
        );
        serde_json::from_str(&out).unwrap()
    };
    let v = ask(&[
        "--mode",
        "rail",
        "--service",
        "g1234",
        "--date",
        "2020-01-21",
        "--car",
        "5",
    ]);
    assert_eq!(
        (v["cases"].as_u64(), v["infectious"].as_u64()),
        (Some(1), Some(1))
    );
    let v = ask(&[
        "--mode",
        "rail",
        "--service",
        "G1234",
        "--date",
        "2020-01-21",
        "--car",
        "6",
    ]);
    assert_eq!(v["cases"], 0);
    let v = ask(&[
        "--mode",
        "flight",
        "--service",
        "MU5321",
        "--date",
        "2020-01-20",
        "--seat",
        "9A",
    ]);
    assert_eq!(v["cases"], 1);
    let v = ask(&[
        "--mode",
        "flight",
        "--service",
        "MU5321",
        "--date",
        "2020-01-20",
        "--seat",
        "16A",
    ]);
    assert_eq!(v["cases"], 0);
    // The coach ride was before A's window: aboard, but not infectious then.
    let v = ask(&[
        "--mode",
        "coach",
        "--service",
        "K88",
        "--date",
        "2020-01-18",
    ]);
    assert_eq!(
        (v["cases"].as_u64(), v["infectious"].as_u64()),
        (Some(1), Some(0))
    );
    env.fails(
        &[
            "cotravel",
            "--mode",
            "bus",
            "--service",
            "1",
            "--date",
            "2020-01-18",
        ],
        2,
    );
    env.fails(
        &[
            "cotravel",
            "--mode",
            "rail",
            "--service",
            "G1",
            "--date",
            "2020-01-18",
            "--seat",
            "1A",
        ],
        2,
    );
}

#[test]
fn the_index_follows_new_files_and_rebuilds_on_request() {
    let env = Env::new();
    city(&env);
    let a = id(0);
    let count = |env: &Env| -> usize {
        let v: serde_json::Value = serde_json::from_str(&env.ok(&[
            "trace",
            &a,
            "--as-of",
            "2020-02-01",
            "--format",
            "json",
        ]))
        .unwrap();
        v["contacts"].as_array().unwrap().len()
    };
    assert_eq!(count(&env), 6);
    // A late file: one more passenger in A's car, ingested without updating the index; the
    // next trace indexes it first.
    let m = id(12);
    let late = env.write(
        "late/travel-late.csv",
        &format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
             {m},rail,G1234,2020-01-21,05,09C,汉口,420100,2020-01-21T08:00:00+08:00,温州南,330300,2020-01-21T14:30:00+08:00\n"
        ),
    );
    env.ok(&["ingest", "--no-index", late.to_str().unwrap()]);
    assert_eq!(count(&env), 7);
    let out = env.ok(&["index", "--rebuild"]);
    assert!(out.contains("1 segment"), "{out}");
    assert_eq!(count(&env), 7);
}

#[test]
fn a_small_generated_province_has_cases_to_trace() {
    // The README's small province: at the real rate it would have no case at all.
    let env = Env::new();
    let (generated, ingested) = env.generate_and_ingest(20_000, 21);
    assert!(!generated.contains("outbreak: 0 infections"), "{generated}");
    assert!(
        !ingested.contains("truth"),
        "ground truth mentioned: {ingested}"
    );
    let out = env.path("contacts.csv");
    env.ok(&[
        "trace",
        "--all",
        "--as-of",
        "2020-02-03",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = std::fs::read_to_string(&out).unwrap();
    let cases: std::collections::BTreeSet<&str> = rows
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(!cases.is_empty(), "no case has a contact: {rows}");
    // One of them traced alone, as a newcomer would.
    let case = cases.iter().next().unwrap();
    let one = env.ok(&["trace", case, "--as-of", "2020-02-03", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert!(!v["contacts"].as_array().unwrap().is_empty(), "{one}");
}
